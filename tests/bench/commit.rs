//! The commit a benchmark ran on, printed first, so every figure can be traced to its code.

/// The short hash of HEAD, with "-dirty" when tracked files differ from it.
pub fn describe() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(env!("CARGO_MANIFEST_DIR"))
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let Some(hash) = git(&["rev-parse", "--short", "HEAD"]) else {
        return "unknown (no git checkout)".to_owned();
    };
    match git(&["status", "--porcelain", "--untracked-files=no"]) {
        Some(changes) if changes.is_empty() => hash,
        _ => format!("{hash}-dirty"),
    }
}

/// The first line of a benchmark's output.
pub fn print(bench: &str) {
    println!("kluis {bench} benchmark on commit {}", describe());
}
