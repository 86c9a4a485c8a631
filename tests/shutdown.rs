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
