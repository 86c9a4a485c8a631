//! The server's command line: usage, bad arguments, a port in use.

mod common;
use common::*;
use std::process::{Command, Stdio};

fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(server_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pollchat-server");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[test]
fn no_port_prints_the_usage_line_and_exits_2() {
    let (code, stdout, stderr) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.lines().next(),
        Some("usage: pollchat-server <svr_port>")
    );
}

#[test]
fn help_lists_every_option() {
    let (code, stdout, _) = run(&["--help"]);
    assert_eq!(code, Some(0));
    for option in [
        "--address",
        "--port",
        "--protocol",
        "--max-users",
        "--max-queue",
        "--log-level",
    ] {
        assert!(stdout.contains(option), "--help lacks {option}");
    }
}

#[test]
fn bad_arguments_are_one_clear_line_and_exit_2() {
    for args in [
        &["70000"][..],
        &["--port", "abc"],
        &["--protocol", "irc", "1"],
        &["--max-users", "0", "1"],
        &["--bogus", "1"],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, Some(2), "{args:?}");
        assert!(stdout.is_empty());
        assert!(
            stderr.starts_with("pollchat-server: "),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_port_in_use_is_an_error_not_a_panic() {
    let server = Server::start(&[]);
    let port = server.addr().port().to_string();
    let (code, stdout, stderr) = run(&["--address", "127.0.0.1", "--port", &port]);
    assert_eq!(code, Some(1));
    assert!(stdout.is_empty(), "must not claim to be on: {stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn a_bad_address_is_an_error_not_a_panic() {
    for address in ["256.1.1.1", "not an address", "192.0.2.1"] {
        let (code, stdout, stderr) = run(&["--address", address, "--port", "0"]);
        assert_eq!(code, Some(1), "{address}: {stderr}");
        assert!(stdout.is_empty());
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with("pollchat-server: "), "{stderr}");
    }
}

#[test]
fn a_positional_port_serves_mesg_on_every_interface() {
    // Port 0: any free port; the address defaults to 0.0.0.0.
    let server = Server::start_raw(&["0"]);
    assert!(server.addr().ip().is_unspecified());
    let mut c = joined(([127, 0, 0, 1], server.addr().port()).into(), "any");
    sync(&mut c);
}

#[test]
fn the_readme_shows_the_options_as_help_prints_them() {
    let out = Command::new(server_bin()).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let options = help
        .split("options:\n")
        .nth(1)
        .and_then(|rest| rest.split("\n\nStatus lines").next())
        .expect("an options section");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(options),
        "README.md's Options block differs from --help; paste:\n{options}"
    );
}
