//! What the load tool's tests need from outside their package.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `pollchat-server` binary, current with the sources.
///
/// It belongs to another package of the workspace, and Cargo gives tests
/// the binaries of their own package only (`CARGO_BIN_EXE_*`). So the first
/// test to need it asks Cargo (the one running these tests, `$CARGO`) to
/// build it, in the profile these tests were built in, and takes its path
/// from Cargo's own report. When `cargo test` at the root has just built it
/// for the library's tests, this is a no-op of a fraction of a second.
pub fn server_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--package", "pollchat", "--bin", "pollchat-server"])
            .args(["--profile", &own_profile(), "--message-format", "json"])
            .output()
            .expect("run cargo build for pollchat-server");
        assert!(
            out.status.success(),
            "cargo build --bin pollchat-server failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
            .filter(|l| l.contains(r#""name":"pollchat-server""#))
            .find_map(executable)
            .expect("cargo reported no pollchat-server executable")
    })
}

/// The Cargo profile this test binary was built in, from its place in the
/// target directory (`<profile dir>/deps/bench-<hash>`): `debug` is the
/// `dev` profile's directory, every other profile's is its name.
fn own_profile() -> String {
    let me = std::env::current_exe().expect("the test's own path");
    let dir = me
        .parent()
        .filter(|d| d.ends_with("deps"))
        .and_then(Path::parent)
        .and_then(Path::file_name)
        .and_then(|name| name.to_str());
    match dir {
        Some("debug") | None => "dev".to_string(),
        Some(profile) => profile.to_string(),
    }
}

/// The `"executable"` path of one line of `cargo --message-format json`.
/// Of JSON's escapes only `\\` and `\"` are undone: a path with control
/// characters in it would come out wrong, and then fail to start, loudly.
fn executable(line: &str) -> Option<PathBuf> {
    let (_, rest) = line.split_once(r#""executable":""#)?;
    let mut path = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(PathBuf::from(path)),
            '\\' => path.push(chars.next()?),
            c => path.push(c),
        }
    }
    None
}
