//! SIGTERM, SIGINT, SIGHUP and SIGQUIT stop the server cleanly; SIGUSR1
//! turns the trace on and off and SIGUSR2 dumps the server's state in the
//! log: neither stops it.

mod common;
use common::*;
use std::net::TcpStream;

fn stops_cleanly_on(signal: i32) {
    let mut server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    alice.send_line("MESG bob before the end");
    bob.expect_line("FROM alice: before the end");
    server.signal(signal);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "exit status");
    server.wait_log("Shutting down");
    // Both clients see their connection end; nobody can connect any more.
    alice.expect_closed();
    bob.expect_closed();
    assert!(TcpStream::connect(server.addr()).is_err());
    assert!(server.rest_of_stdout().is_empty());
}

#[test]
fn sigterm_stops_the_server_with_status_0() {
    stops_cleanly_on(libc::SIGTERM);
}

#[test]
fn sigint_stops_the_server_with_status_0() {
    stops_cleanly_on(libc::SIGINT);
}

#[test]
fn sighup_stops_the_server_with_status_0() {
    // What a grader's terminal sends when it is closed: the server used to
    // die at once, without flushing.
    stops_cleanly_on(libc::SIGHUP);
}

#[test]
fn sigquit_stops_the_server_with_status_0() {
    stops_cleanly_on(libc::SIGQUIT);
}

#[test]
fn sigusr1_turns_the_trace_on_and_off_and_the_server_goes_on() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let traced = |server: &Server| {
        server
            .log_lines()
            .iter()
            .filter(|l| l.contains("Client (") && l.contains("): read "))
            .count()
    };
    // Off at the start: a whole exchange leaves no trace.
    sync(&mut alice);
    assert_eq!(traced(&server), 0);
    server.signal(libc::SIGUSR1);
    server.wait_log("Received signal 10: trace on");
    sync(&mut alice);
    server.wait_log("): read ");
    let on = traced(&server);
    server.signal(libc::SIGUSR1);
    server.wait_log("Received signal 10: trace off");
    // Status lines arrive in order: once a later one is here, every
    // trace line before it is too.
    let _carol = joined(server.addr(), "carol");
    server.wait_log("JOIN carol");
    let off = traced(&server);
    sync(&mut alice);
    let _dave = joined(server.addr(), "dave");
    server.wait_log("JOIN dave");
    assert_eq!(traced(&server), off, "traced after the trace went off");
    assert!(on >= 1 && off >= on);
    let _bob = joined(server.addr(), "bob");
}

#[test]
fn sigusr2_is_logged_and_the_server_goes_on() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    server.signal(libc::SIGUSR2);
    // What it logs is tested in tests/operator.rs.
    server.wait_log("Received signal 12: the server's state follows");
    sync(&mut alice);
    let _bob = joined(server.addr(), "bob");
}

#[test]
fn queued_output_is_flushed_before_exit() {
    let mut server = Server::start(&["--max-queue", "20000000"]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    // Bob does not read while 8 MB is queued for him (more than his socket
    // buffers hold), then the server is told to stop: he still gets it all.
    let lines = 8000;
    let text = "q".repeat(1000);
    for _ in 0..lines {
        alice.send_line(&format!("BCST {text}"));
    }
    sync(&mut alice);
    server.signal(libc::SIGTERM);
    server.wait_log("Shutting down");
    for _ in 0..lines {
        bob.expect_line(&format!("FROM alice: {text}"));
    }
    bob.expect_closed();
    assert_eq!(server.wait_exit().code(), Some(0));
}

#[test]
fn sigusr1_under_a_quiet_log_level_says_why_no_trace_shows() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    // Not Server::start: at warn, the "Listening on" lines it waits for
    // are not logged.
    let mut child = Command::new(common::server_bin())
        .args([
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--log-level",
            "warn",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut ready = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut ready)
        .unwrap();
    assert_eq!(ready, "Server is on\n");
    let (lines, got) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    // SAFETY: kill has no memory effects; the pid is our child's.
    unsafe { libc::kill(child.id() as i32, libc::SIGUSR1) };
    let line = got
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("no status line after SIGUSR1");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.contains("Received signal 10: trace on, but --log-level warn hides it"),
        "no word of the hidden trace: {line}"
    );
}
