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

#[test]
fn the_miniserv_server_passes_every_case() {
    all_pass("server", "miniserv", &server_cmd("miniserv"));
    // And in the subject's own form, which prints nothing when ready.
    let subject = format!("{} {{port}}", miniserv_bin().display());
    all_pass("server", "miniserv", &subject);
}

#[test]
fn the_mesg_client_passes_every_case() {
    all_pass("client", "mesg", &client_cmd("mesg"));
}

#[test]
fn the_hello_client_passes_every_case() {
    all_pass("client", "hello", &client_cmd("hello"));
}

#[test]
fn the_channels_client_passes_every_case() {
    all_pass("client", "channels", &client_cmd("channels"));
}

#[test]
fn the_sendto_client_passes_every_case() {
    all_pass("client", "sendto", &client_cmd("sendto"));
}

#[test]
fn the_miniserv_client_passes_every_case() {
    all_pass("client", "miniserv", &client_cmd("miniserv"));
}

/// The same clients on a pseudo-terminal (`--pty`), as a student's client
/// that insists on one is checked: every case passes but those a
/// terminal cannot carry (a line of 65536 bytes, a CR typed), skipped.
#[test]
fn every_client_passes_on_a_terminal_too() {
    for dialect in ["mesg", "hello", "channels", "sendto", "miniserv"] {
        let run = check(&["client", dialect, "--pty", "--spawn", &client_cmd(dialect)]);
        assert!(run.failed().is_empty(), "{dialect}: {}", run.explain());
        assert_eq!(run.code, Some(0), "{dialect}");
        let skipped: Vec<String> = run
            .statuses()
            .into_iter()
            .filter(|(_, s)| s == "skip")
            .map(|(id, _)| id)
            .collect();
        let want: &[&str] = match dialect {
            "sendto" => &["sendto.client.bad_message"],
            // A terminal turns a typed CR into LF.
            "miniserv" => &["miniserv.client.cr_kept"],
            _ => &[],
        };
        assert_eq!(skipped, want, "{dialect}");
    }
}
