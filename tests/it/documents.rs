//! The documents for residents are checked the way a resident gets them: printed. Each is
//! rendered to PDF by headless Chromium, read back with pdftotext, and its text asserted.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sync::Team;
use crate::{TestVault, require, stderr, stdout};

/// Prints an HTML file to PDF with headless Chromium and returns the PDF's text and its page
/// size line (`pdfinfo`).
pub fn print(html: &Path) -> (String, String) {
    let chromium = require("chromium");
    let profile = tempfile::tempdir().unwrap();
    let pdf = html.with_extension("pdf");
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-pdf-header-footer",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium failed: {status}");
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium did not print {} within two minutes",
                html.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = Command::new(require("pdftotext"))
        .args(["-layout"])
        .arg(&pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(text.status.success(), "{}", stderr(&text));
    let info = Command::new(require("pdfinfo")).arg(&pdf).output().unwrap();
    let size = stdout(&info)
        .lines()
        .find(|l| l.starts_with("Page size:"))
        .unwrap_or("")
        .to_owned();
    // Layout spreads words over columns: one space between words is enough to assert on.
    let text = stdout(&text)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    (text, size)
}

fn config(v: &TestVault, text: &str) -> std::path::PathBuf {
    let path = v.dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_consent_form_prints_on_a4_with_everything_the_resident_signs() {
    let v = TestVault::created();
    let c = v.add_client("Fatima el Amrani");
    let cfg = config(
        &v,
        "privacy_officer = \"Functionaris gegevensbescherming, privacy@voorbeeld.nl\"\n",
    );
    let html = v.dir.path().join("toestemming.html");
    let out = v
        .cmd()
        .arg("--config")
        .arg(&cfg)
        .args(["consent", "form", &c, "--org", "GGD Hollands Noorden"])
        .args(["--purpose", "Jeugdgezondheidszorg voor de kinderen"])
        .args([
            "--scope",
            "all",
            "--until",
            "2027-06-30",
            "--doc-lang",
            "nl",
            "--out",
        ])
        .arg(&html)
        .assert()
        .success();
    assert_eq!(stdout(out.get_output()).trim(), html.display().to_string());
    let (text, size) = print(&html);
    assert!(size.contains("(A4)"), "{size}");
    for must in [
        "Toestemming om gegevens te delen",
        // who asks, with whom, what for
        "Wie vraagt dit?",
        "Alleen met GGD Hollands Noorden. Niet met anderen.",
        "Jeugdgezondheidszorg voor de kinderen",
        // which information, in words
        "Uw naam, burgerservicenummer (BSN), geboortedatum, adres en telefoonnummer, en de verslagen van onze gesprekken met u.",
        "Gevoelige informatie, bijvoorbeeld over uw gezondheid, delen wij niet.",
        // until when, how to withdraw
        "Tot en met 30 juni 2027.",
        "U mag uw toestemming altijd intrekken.",
        "U hoeft geen toestemming te geven.",
        // rights, contact
        "Uw rechten",
        "Autoriteit Persoonsgegevens",
        "privacy@voorbeeld.nl",
        // signature and date lines for both
        "Naam inwoner Fatima el Amrani",
        "Naam medewerker",
        "Handtekening",
        "Datum",
    ] {
        assert!(text.contains(must), "missing {must:?} in:\n{text}");
    }
    assert_eq!(text.matches("Datum Handtekening").count(), 2, "{text}");
    // Made for this client: logged.
    let log = v.json(&["audit", "--client", &c, "--json"]);
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "view" && e["detail"] == "consent form"),
        "{log}"
    );

    // English, special categories, no end date.
    let html = v.dir.path().join("consent.html");
    v.cmd()
        .args([
            "consent",
            "form",
            &c,
            "--org",
            "GP practice",
            "--purpose",
            "care",
        ])
        .args(["--special", "--doc-lang", "en", "--out"])
        .arg(&html)
        .assert()
        .success();
    let (text, _) = print(&html);
    for must in [
        "Consent to share information",
        "Sensitive information may be shared too, such as about your health.",
        "Until you withdraw it.",
        "Name of the resident Fatima el Amrani",
        "You may withdraw your permission at any time.",
    ] {
        assert!(text.contains(must), "missing {must:?} in:\n{text}");
    }

    // Never over an existing file; a bad value names its flag.
    let before = std::fs::read(&html).unwrap();
    v.cmd()
        .args([
            "consent",
            "form",
            &c,
            "--org",
            "X",
            "--purpose",
            "y",
            "--out",
        ])
        .arg(&html)
        .assert()
        .code(1);
    assert_eq!(std::fs::read(&html).unwrap(), before);
    let out = v
        .cmd()
        .args(["consent", "form", &c, "--org", "X", "--purpose", "y"])
        .args(["--scope", "everything", "--out"])
        .arg(v.dir.path().join("x.html"))
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("--scope"));
}

#[test]
fn a_signed_form_is_a_consents_evidence_and_the_dossier_shows_which_have_one() {
    let v = TestVault::created();
    let c = v.add_client("Jan de Boer");
    let other = v.add_client("Els Visser");
    let scan = v.dir.path().join("scan.pdf");
    std::fs::write(&scan, b"%PDF-1.4 signed form").unwrap();
    let attach = |client: &str| {
        let out = v
            .cmd()
            .args(["attach", "add", client])
            .arg(&scan)
            .args(["--title", "Getekend toestemmingsformulier GGD"])
            .assert()
            .success();
        stdout(out.get_output()).trim().to_owned()
    };
    let form = attach(&c);
    let add = |evidence: Option<&str>, org: &str| {
        let mut cmd = v.cmd();
        cmd.args(["consent", "add", &c, "--org", org, "--purpose", "zorg"]);
        if let Some(e) = evidence {
            cmd.args(["--evidence", e]);
        }
        let out = cmd.assert().success();
        stdout(out.get_output()).trim().to_owned()
    };
    let signed = add(Some(&form[..form.len() - 4]), "GGD");
    let paper = add(Some("formulier in de papieren map"), "School");
    let unsigned = add(None, "Huisarts");
    let list = v.json(&["consent", "list", &c, "--json"]);
    let form_of = |id: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()["signed_form"]
            .clone()
    };
    assert_eq!(form_of(&signed), form.as_str());
    assert_eq!(form_of(&paper), serde_json::Value::Null);
    assert_eq!(form_of(&unsigned), serde_json::Value::Null);
    let out = v.cmd().args(["consent", "list", &c]).assert().success();
    let text = stdout(out.get_output());
    assert_eq!(text.matches("no signed form").count(), 2, "{text}");
    assert_eq!(
        text.matches(&format!("signed form {}", &form[..8])).count(),
        1,
        "{text}"
    );

    // Linked later; a file of another dossier is refused.
    v.cmd()
        .args(["consent", "evidence", &unsigned, &form])
        .assert()
        .success();
    let list = v.json(&["consent", "list", &c, "--json"]);
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|k| k["id"] == unsigned.as_str() && k["signed_form"] == form.as_str())
    );
    let elsewhere = attach(&other);
    let out = v
        .cmd()
        .args(["consent", "evidence", &paper, &elsewhere])
        .assert()
        .code(2);
    assert!(stderr(out.get_output()).contains("another dossier"));

    // The client's report names the signed form.
    let report = v.dir.path().join("inzage.md");
    v.cmd()
        .args(["report", &c, "--format", "md", "--out"])
        .arg(&report)
        .assert()
        .success();
    let text = std::fs::read_to_string(&report).unwrap();
    assert!(
        text.contains("signed form: Getekend toestemmingsformulier GGD"),
        "{text}"
    );
}

#[test]
fn the_leaflet_says_what_this_vaults_settings_say() {
    let v = TestVault::created();
    v.add_client("Piet Jansen");
    let cfg = config(
        &v,
        "privacy_officer = \"Team Privacy, 0800-1234\"\n[retention]\nwmo = 12\n",
    );
    let leaflet = |name: &str, lang: &str| {
        let html = v.dir.path().join(name);
        v.cmd()
            .arg("--config")
            .arg(&cfg)
            .args(["leaflet", "--doc-lang", lang, "--out"])
            .arg(&html)
            .assert()
            .success();
        html
    };
    let (text, size) = print(&leaflet("folder.html", "nl"));
    assert!(size.contains("(A4)"), "{size}");
    for must in [
        "Uw gegevens: wat wij bewaren en wat u mag vragen",
        "Wat bewaren wij?",
        "Alleen uw eigen medewerker.",
        "Niemand anders kan het openen, ook de afdeling IT niet.",
        "Hulp voor jongeren en gezinnen (Jeugdwet) 20 jaar na het einde",
        "Zorg en ondersteuning thuis (Wmo) 12 jaar na het einde",
        "Hulp bij schulden 7 jaar na het einde",
        "U mag zien wat wij over u bewaren.",
        "Team Privacy, 0800-1234",
    ] {
        assert!(text.contains(must), "missing {must:?} in:\n{text}");
    }
    // No client data in it.
    assert!(!text.contains("Piet"), "{text}");

    // The vault's own policy wins over the config: the leaflet follows.
    v.cmd()
        .args(["retention", "policy", "--domain", "wmo", "--years", "16"])
        .assert()
        .success();
    let (text, _) = print(&leaflet("folder2.html", "nl"));
    assert!(
        text.contains("Zorg en ondersteuning thuis (Wmo) 16 jaar na het einde"),
        "{text}"
    );
    assert!(!text.contains("12 jaar"), "{text}");
    let (text, _) = print(&leaflet("leaflet.html", "en"));
    assert!(
        text.contains("Care and support at home (Wmo) 16 years after the end"),
        "{text}"
    );
}

#[test]
fn in_a_team_the_leaflet_names_the_organisation_and_its_recovery() {
    let team = Team::new(&["w001"]);
    let v = team.v("w001");
    let html = v.dir.path().join("folder.html");
    v.cmd()
        .args(["leaflet", "--doc-lang", "nl", "--out"])
        .arg(&html)
        .assert()
        .success();
    let (text, _) = print(&html);
    for must in [
        "U krijgt hulp van Gemeente Test.",
        "Alleen de medewerkers die u helpen en aan uw dossier gekoppeld zijn.",
        "De afdeling IT van Gemeente Test kan het dossier alleen openen als uw medewerker het wachtwoord kwijt is.",
    ] {
        assert!(text.contains(must), "missing {must:?} in:\n{text}");
    }
}
