//! What the checker's tests need from outside their package: the real
//! server and client, and a way to run the checker and read its JSON.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub const CHECK: &str = env!("CARGO_BIN_EXE_pollchat-check");

/// `pollchat-server`, `pollchat-client` and `pollchat-miniserv`, current
/// with the sources.
///
/// They belong to another package of the workspace, and Cargo gives tests
/// the binaries of their own package only (`CARGO_BIN_EXE_*`). So the first
/// test to need them asks Cargo (the one running these tests, `$CARGO`) to
/// build them, in the profile these tests were built in, and takes their
/// paths from Cargo's own report (as bench/tests/common/mod.rs does). When
/// `cargo test` at the root has just built them, this is a no-op.
fn binaries() -> &'static BTreeMap<String, PathBuf> {
    static BINS: OnceLock<BTreeMap<String, PathBuf>> = OnceLock::new();
    BINS.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--package", "pollchat"])
            .args(["--bin", "pollchat-server", "--bin", "pollchat-client"])
            .args(["--bin", "pollchat-miniserv"])
            .args(["--profile", &own_profile(), "--message-format", "json"])
            .output()
            .expect("run cargo build for pollchat");
        assert!(
            out.status.success(),
            "cargo build -p pollchat failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut bins = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if !line.contains(r#""reason":"compiler-artifact""#) {
                continue;
            }
            for name in ["pollchat-server", "pollchat-client", "pollchat-miniserv"] {
                if line.contains(&format!(r#""name":"{name}""#)) {
                    if let Some(path) = executable(line) {
                        bins.insert(name.to_string(), path);
                    }
                }
            }
        }
        assert_eq!(bins.len(), 3, "cargo reported {bins:?}");
        bins
    })
}

pub fn server_bin() -> &'static Path {
    &binaries()["pollchat-server"]
}

pub fn client_bin() -> &'static Path {
    &binaries()["pollchat-client"]
}

/// The 42 subject's form of the miniserv server: `pollchat-miniserv <port>`.
pub fn miniserv_bin() -> &'static Path {
    &binaries()["pollchat-miniserv"]
}

/// The `--spawn` command for the real server speaking `dialect`.
pub fn server_cmd(dialect: &str) -> String {
    format!(
        "{} --protocol {dialect} --address 127.0.0.1 --port {{port}}",
        server_bin().display()
    )
}

/// The `--spawn` command for the real client of `dialect`.
pub fn client_cmd(dialect: &str) -> String {
    let bin = client_bin().display();
    match dialect {
        "mesg" => format!("{bin} {{host}} {{port}}"),
        "hello" => format!("{bin} hello --address {{host}} --port {{port}}"),
        "channels" => format!("{bin} channels {{name}} {{host}} {{port}}"),
        "sendto" => format!("{bin} sendto {{host}} {{port}}"),
        "miniserv" => format!("{bin} miniserv {{host}} {{port}}"),
        other => panic!("no dialect {other}"),
    }
}

/// The Cargo profile this test binary was built in, from its place in the
/// target directory (`<profile dir>/deps/<test>-<hash>`).
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

/// What one run of the checker said.
pub struct Run {
    pub code: Option<i32>,
    pub json: serde_json::Value,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Run {
    /// Case id -> status word (`pass`, `fail`, `skip`, `error`).
    pub fn statuses(&self) -> BTreeMap<String, String> {
        self.json["cases"]
            .as_array()
            .map(|cases| {
                cases
                    .iter()
                    .map(|c| {
                        (
                            c["id"].as_str().unwrap_or("").to_string(),
                            c["status"].as_str().unwrap_or("").to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The ids of the cases that did not pass (skips aside).
    pub fn failed(&self) -> Vec<String> {
        self.statuses()
            .into_iter()
            .filter(|(_, s)| s == "fail" || s == "error")
            .map(|(id, _)| id)
            .collect()
    }

    /// Every failure, readable, for an assertion message.
    pub fn explain(&self) -> String {
        let mut out = String::new();
        for c in self.json["cases"].as_array().into_iter().flatten() {
            if c["status"] == "pass" || c["status"] == "skip" {
                continue;
            }
            out.push_str(&format!(
                "{} {}: {}\n  expected {}\n  got {}\n",
                c["status"], c["id"], c["why"], c["expected"], c["got"]
            ));
            for e in c["transcript"].as_array().into_iter().flatten().take(60) {
                out.push_str(&format!("    {e}\n"));
            }
        }
        out.push_str(&self.stderr);
        out
    }
}

/// Runs `pollchat-check <args> --format json` and parses what it printed.
pub fn check(args: &[&str]) -> Run {
    let started = Instant::now();
    let out = Command::new(CHECK)
        .args(args)
        .args(["--format", "json"])
        .output()
        .expect("run pollchat-check");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "pollchat-check printed no JSON ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    Run {
        code: out.status.code(),
        json,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}
