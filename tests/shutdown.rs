//! SIGTERM, SIGINT, SIGHUP and SIGQUIT stop the server cleanly; SIGUSR1
//! and SIGUSR2 do not stop it.

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
fn sigusr1_and_sigusr2_are_logged_and_the_server_goes_on() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    for (signal, name) in [(libc::SIGUSR1, "10"), (libc::SIGUSR2, "12")] {
        server.signal(signal);
        server.wait_log(&format!("Received signal {name}: nothing to do; ignored"));
        sync(&mut alice);
    }
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
