//! Input that cannot leak (issue 19): a paste of 100,000 characters goes into a note whole;
//! a paste still arriving when the app locks or exits is read and dropped, never left for
//! the shell that started kluis.

use std::time::{Duration, Instant};

use super::Tmux;
use crate::{PASS, TestVault};

fn kluis_bin() -> String {
    assert_cmd::cargo::cargo_bin("kluis").display().to_string()
}

/// 100,000 characters over many lines, the canary at its start and end.
fn long_text(canary: &str) -> String {
    let words = [
        "huur", "schuld", "kinderen", "school", "werk", "gesprek", "brief",
    ];
    let (head, tail) = (format!("{canary} begin\n"), format!(" eind {canary}"));
    let mut filler = String::new();
    let mut i = 0;
    while filler.len() < 100_000 {
        filler.push_str(words[i % words.len()]);
        filler.push(if i % 17 == 16 { '\n' } else { ' ' });
        i += 1;
    }
    // ASCII: bytes are characters.
    filler.truncate(100_000 - head.len() - tail.len());
    format!("{head}{filler}{tail}")
}

#[test]
fn a_paste_of_100000_characters_is_saved_whole() {
    let v = TestVault::created();
    let id = v.add_client("Plakker");
    let t = Tmux::start(&format!(
        "{} --vault {} --lock-after 10m; echo KLUIS-UIT; sleep 60",
        kluis_bin(),
        v.path.display()
    ));
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Plakker");
    t.keys(&["Enter"]);
    t.wait_for("Overview");
    t.keys(&["n"]);
    t.wait_for("New note");
    let canary = "PLAK-KANARIE-71c3";
    let text = long_text(canary);
    assert_eq!(text.chars().count(), 100_000);
    let started = Instant::now();
    t.paste(&text, true);
    t.wait_for(&format!("eind {canary}"));
    let took = started.elapsed();
    t.keys(&["C-s"]);
    t.wait_for("note saved");
    t.keys(&["C-q"]);
    t.wait_for("KLUIS-UIT");
    let notes = v.json(&["note", "list", &id, "--json"]);
    let saved = notes[0]["body"].as_str().unwrap();
    assert!(
        saved == text,
        "the paste was not saved intact ({} characters)",
        saved.chars().count()
    );
    eprintln!("100,000 characters pasted and on screen in {took:.2?}");
}

/// The shell kluis runs in keeps a history file; a paste still arriving when kluis locks
/// (Ctrl-L, and SIGTSTP: the idle lock's path) or quits must end up in neither the
/// history nor the shell.
#[test]
fn a_paste_pending_at_a_lock_or_exit_never_reaches_the_shell() {
    let v = TestVault::created();
    v.add_client("Schelp");
    let history = v.dir.path().join("bash_history");
    let t = Tmux::start(&format!(
        "env HISTFILE={} PROMPT_COMMAND='history -a' PS1='klaar$ ' bash --norc --noprofile -i",
        history.display()
    ));
    t.wait_for("klaar$");
    let start = format!(
        "{} --vault {} --lock-after 10m",
        kluis_bin(),
        v.path.display()
    );
    t.keys(&["-l", &start]);
    t.keys(&["Enter"]);
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Schelp");
    let leak = "LEK-KANARIE-5d2a";
    // Lines a shell would run: their output would show the canary twice.
    let commands: String = (0..3000).map(|i| format!("echo {leak}-{i}\n")).collect();

    // Locked with a paste on its heels.
    t.keys(&["Enter"]);
    t.wait_for("Overview");
    t.keys(&["n"]);
    t.wait_for("New note");
    t.keys(&["C-l"]);
    t.paste(&commands, false);
    t.wait_for("kluis is locked");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        !t.screen().contains(leak),
        "the paste went into the lock screen"
    );
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Overview");

    // SIGTSTP locks by the same path, with a paste right behind it.
    let pid = t.kluis_pid();
    super::signal(pid, "TSTP");
    t.paste(&commands, false);
    t.wait_for("kluis is locked");
    t.keys(&[PASS, "Enter"]);
    t.wait_for("Overview");

    // Quit with a paste on its heels.
    t.keys(&["C-q"]);
    t.paste(&commands, false);
    t.wait_for("klaar$");
    std::thread::sleep(Duration::from_millis(800));
    // Something typed now reaches the shell: the history works, and nothing came before it.
    t.keys(&["-l", "echo na-afloop"]);
    t.keys(&["Enter"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let h = std::fs::read_to_string(&history).unwrap_or_default();
        if h.contains("echo na-afloop") {
            assert!(
                !h.contains(leak),
                "the paste reached the shell's history:\n{h}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the shell never wrote its history"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let all = t.everything();
    assert!(!all.contains(leak), "the shell ran the paste:\n{all}");
}
