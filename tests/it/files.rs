//! Files kept in dossiers live beside the vault (`VAULT.files/ID`), each a standard age file
//! to a key of its own that only the vault holds (issue 18: a 120 MB vault was decrypted and
//! rewritten whole for every command because the scans were inside it). Through the real
//! binary and stock `age`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{CANARY, PASS, TestVault, contains, require, stderr, stdout, with_suffix};

/// A scan of about 300 KB that does not compress, with the canary at its start.
fn scan(dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let mut bytes = format!("%PDF-1.4 {CANARY} getekend\n").into_bytes();
    let mut x: u32 = 0x9e37_79b9;
    bytes.extend((0..300_000).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

fn attach(v: &TestVault, client: &str, file: &Path) -> String {
    let out = v
        .cmd()
        .args(["attach", "add", client])
        .arg(file)
        .assert()
        .success();
    stdout(out.get_output()).trim().to_owned()
}

fn files_dir(v: &TestVault) -> PathBuf {
    with_suffix(&v.path, ".files")
}

/// The decrypted image of the vault file (journal folded in first) and the key of one file.
fn image_and_key(v: &TestVault, id: &str) -> (Vec<u8>, Option<String>) {
    v.compact();
    image_as_is(v, id)
}

/// The same, without folding anything in (`compact` is an edit: it moves old files out).
fn image_as_is(v: &TestVault, id: &str) -> (Vec<u8>, Option<String>) {
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let mut opened = kluis::internals::read(&v.path, Some(&pass), None).unwrap();
    let key = kluis::internals::connection(&opened.store)
        .query_row(
            "SELECT identity FROM attachment_key WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .ok();
    let image = kluis::internals::image(&mut opened.store).unwrap();
    (image, key)
}

fn export(v: &TestVault, id: &str, out: &Path) -> std::process::Output {
    v.cmd()
        .args(["attach", "export", id, "--out"])
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn a_file_lives_beside_the_vault_sealed_to_a_key_only_the_vault_holds() {
    let v = TestVault::created();
    let c = v.add_client("Bijlage Buiten");
    let (before, _) = image_and_key(&v, &c);
    let (file, bytes) = scan(v.dir.path(), "beschikking.pdf");
    let id = attach(&v, &c, &file);
    let kept = files_dir(&v).join(&id);
    let sealed = std::fs::read(&kept).unwrap();
    assert!(sealed.starts_with(b"age-encryption.org/v1\n"));
    assert!(!contains(&sealed, CANARY.as_bytes()));
    assert_eq!(
        std::fs::metadata(&kept).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(files_dir(&v))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    // The image holds the key, not the bytes: it stays small, and a command reads the file
    // only when it is opened or sent.
    let (image, key) = image_and_key(&v, &id);
    let key = key.expect("the key is kept in the vault");
    assert!(!contains(&image, CANARY.as_bytes()));
    assert!(contains(&image, key.as_bytes()));
    assert!(
        image.len() < before.len() + 20_000,
        "image of {} bytes, was {}",
        image.len(),
        before.len()
    );
    // Stock age opens the file with that key: what IT's recovery gives back is complete.
    let identity = v.dir.path().join("file.key");
    std::fs::write(&identity, format!("{key}\n")).unwrap();
    let out = Command::new(require("age"))
        .arg("-d")
        .arg("-i")
        .arg(&identity)
        .arg(&kept)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(out.stdout, bytes);
    // And kluis writes it out as it came in.
    let plain = v.dir.path().join("uit.pdf");
    assert!(export(&v, &id, &plain).status.success());
    assert_eq!(std::fs::read(&plain).unwrap(), bytes);
    v.cmd().arg("check").assert().success();
}

#[test]
fn check_finds_a_file_changed_or_gone_and_kluis_never_hands_out_a_changed_one() {
    let v = TestVault::created();
    let c = v.add_client("Bijlage Kapot");
    let (file, _) = scan(v.dir.path(), "a.pdf");
    let changed = attach(&v, &c, &file);
    let gone = attach(&v, &c, &file);
    v.cmd().arg("check").assert().success();
    // One byte of the payload flipped: age's tag no longer holds.
    let path = files_dir(&v).join(&changed);
    let mut sealed = std::fs::read(&path).unwrap();
    let n = sealed.len();
    sealed[n - 100] ^= 1;
    std::fs::write(&path, &sealed).unwrap();
    std::fs::remove_file(files_dir(&v).join(&gone)).unwrap();
    let out = v.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stdout(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains(&changed), "{said}");
    assert!(said.contains(&gone), "{said}");
    let plain = v.dir.path().join("uit.pdf");
    let out = export(&v, &changed, &plain);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(!plain.exists(), "nothing written from a changed file");
    let out = export(&v, &gone, &plain);
    assert!(!out.status.success());
    assert!(!plain.exists());
}

#[test]
fn an_erased_dossier_takes_its_files_along_and_no_one_elses() {
    let v = TestVault::created();
    let out = v
        .cmd()
        .args([
            "client",
            "add",
            "--name",
            "Weg Gegaan",
            "--opened-on",
            "2000-01-01",
        ])
        .assert()
        .success();
    let gone = stdout(out.get_output()).trim().to_owned();
    let stays = v.add_client("Blijft Hier");
    let (file, bytes) = scan(v.dir.path(), "a.pdf");
    let erased_file = attach(&v, &gone, &file);
    let kept_file = attach(&v, &stays, &file);
    // Someone else's file in the folder is not kluis's to remove.
    std::fs::write(files_dir(&v).join("notitie.txt"), "van iemand").unwrap();
    std::fs::write(files_dir(&v).join(".DS_Store"), "van iemand").unwrap();
    v.cmd()
        .args(["client", "close", &gone, "--at", "2001-01-01"])
        .assert()
        .success();
    v.cmd()
        .args(["retention", "purge", "--yes"])
        .assert()
        .success();
    assert!(!files_dir(&v).join(&erased_file).exists());
    assert!(files_dir(&v).join(&kept_file).exists());
    assert!(files_dir(&v).join("notitie.txt").exists());
    assert!(files_dir(&v).join(".DS_Store").exists());
    let plain = v.dir.path().join("uit.pdf");
    assert!(export(&v, &kept_file, &plain).status.success());
    assert_eq!(std::fs::read(&plain).unwrap(), bytes);
    // Neither the vault nor its previous generation keeps a key to the erased file.
    let (image, key) = image_and_key(&v, &erased_file);
    assert!(key.is_none());
    let keys = |image: &[u8]| {
        image
            .windows(b"AGE-SECRET-KEY-1".len())
            .filter(|w| w == b"AGE-SECRET-KEY-1")
            .count()
    };
    assert_eq!(keys(&image), 1, "the other dossier's key, and no more");
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let mut prev = kluis::internals::read(&v.prev(), Some(&pass), None).unwrap();
    assert!(keys(&kluis::internals::image(&mut prev.store).unwrap()) <= 1);
    v.cmd().arg("check").assert().success();
}

#[test]
fn a_vault_that_kept_files_in_its_image_moves_them_out_at_its_first_edit() {
    let v = TestVault::created();
    let c = v.add_client("Oude Bijlage");
    v.compact();
    let (_, bytes) = scan(v.dir.path(), "a.pdf");
    // As kluis before schema v10 wrote it: the bytes in the image.
    let pass = kluis::secret::SecretString::from(PASS.to_owned());
    let mut opened = kluis::internals::read(&v.path, Some(&pass), None).unwrap();
    let id = opened
        .store
        .add_attachment(&c, "Oude brief", "oud.pdf", &bytes)
        .unwrap();
    kluis::internals::write(
        &v.path,
        &mut opened.store,
        &opened.key,
        &[],
        kluis::vault::Place::Replace(opened.stamp),
    )
    .unwrap();
    drop(opened);
    let (image, _) = image_as_is(&v, &id);
    assert!(
        contains(&image, CANARY.as_bytes()),
        "the scan sees it in the image"
    );
    // The first command after the upgrade (here one that writes the file out) moves them
    // out, in a new generation without them, once.
    let plain = v.dir.path().join("uit.pdf");
    assert!(export(&v, &id, &plain).status.success());
    assert_eq!(std::fs::read(&plain).unwrap(), bytes);
    assert!(files_dir(&v).join(&id).exists());
    let (image, _) = image_as_is(&v, &id);
    assert!(!contains(&image, CANARY.as_bytes()));
    let generation = std::fs::metadata(&v.path).unwrap().modified().unwrap();
    v.add_note(&c, "eerste bewerking");
    assert_eq!(
        std::fs::metadata(&v.path).unwrap().modified().unwrap(),
        generation,
        "after that, edits go to the journal again"
    );
    let (image, key) = image_and_key(&v, &id);
    assert!(key.is_some());
    assert!(!contains(&image, CANARY.as_bytes()));
    std::fs::remove_file(&plain).unwrap();
    assert!(export(&v, &id, &plain).status.success());
    assert_eq!(std::fs::read(&plain).unwrap(), bytes);
    v.cmd().arg("check").assert().success();
}

#[test]
fn a_backup_holds_the_files_and_restores_by_copying_both_back() {
    let v = TestVault::created();
    let c = v.add_client("Bijlage Reserve");
    let (file, bytes) = scan(v.dir.path(), "a.pdf");
    let id = attach(&v, &c, &file);
    let dest = v.dir.path().join("reserve.kluis");
    v.cmd().arg("backup").arg(&dest).assert().success();
    assert!(with_suffix(&dest, ".files").join(&id).is_file());
    // A backup is never written over an existing one, files folder included.
    std::fs::remove_file(&dest).unwrap();
    let out = v.cmd().arg("backup").arg(&dest).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!dest.exists());
    std::fs::remove_dir_all(with_suffix(&dest, ".files")).unwrap();
    v.cmd().arg("backup").arg(&dest).assert().success();
    // The laptop is lost: the backup and its files folder, copied back, are the dossier.
    let restored = TestVault::empty();
    std::fs::copy(&dest, &restored.path).unwrap();
    let to = files_dir(&restored);
    std::fs::create_dir(&to).unwrap();
    for e in std::fs::read_dir(with_suffix(&dest, ".files")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
    let plain = restored.dir.path().join("uit.pdf");
    assert!(export(&restored, &id, &plain).status.success());
    assert_eq!(std::fs::read(&plain).unwrap(), bytes);
    restored.cmd().arg("check").assert().success();
}
