//! Honest by construction: every case passes against the real server and
//! the real client of every dialect. A case that fails here is wrong
//! about the spec (or pollchat is), and the mutants (tests/mutants.rs)
//! show that the cases fail when a rule is broken.

mod common;
use common::*;

fn all_pass(role: &str, dialect: &str, cmd: &str) {
    let run = check(&[role, dialect, "--spawn", cmd]);
    assert!(run.failed().is_empty(), "{}", run.explain());
    assert_eq!(run.code, Some(0), "{}", run.explain());
    let statuses = run.statuses();
    assert!(!statuses.is_empty());
    // Nothing skipped either: with --spawn every case can run.
    assert!(statuses.values().all(|s| s == "pass"), "{statuses:?}");
}

#[test]
fn the_mesg_server_passes_every_case() {
    all_pass("server", "mesg", &server_cmd("mesg"));
}

#[test]
fn the_hello_server_passes_every_case() {
    all_pass("server", "hello", &server_cmd("hello"));
}

#[test]
fn the_channels_server_passes_every_case() {
    all_pass("server", "channels", &server_cmd("channels"));
}

#[test]
fn the_sendto_server_passes_every_case() {
    all_pass("server", "sendto", &server_cmd("sendto"));
}
