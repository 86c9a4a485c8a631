//! Hosting a class for a term (issue 16): the server under systemd, or
//! anything like it. Stderr a socket nobody reads (journald stalled), the
//! two systemd protocols (`$NOTIFY_SOCKET` and socket activation) spoken
//! directly, without systemd, and a dual-stack IPv6 listener.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A port that was free a moment ago, for a test that cannot read the
/// server's `Listening on` line.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_stderr_socket_nobody_reads_never_blocks_the_server() {
    // journald's stream socket, stalled: the server's stderr is one end of
    // a socket pair whose other end is not read until the very end.
    let (mut ours, theirs) = UnixStream::pair().unwrap();
    let shared = theirs.try_clone().unwrap();
    let port = free_port();
    let mut child = Command::new(server_bin())
        .args(["--address", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(OwnedFd::from(theirs)))
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "Server is on\n");
    let addr = ([127, 0, 0, 1], port).into();
    // Every PING logs a status line of about 70 bytes: 10,000 of them are
    // far more than the socket holds (about 200 KiB). A server that blocked
    // on its log would stop answering, and a read here would time out.
    let mut c = joined(addr, "chatty");
    for _ in 0..10_000 {
        sync(&mut c);
    }
    let mut fresh = joined(addr, "fresh");
    sync(&mut fresh);
    // The socket we share with the server is as blocking as it was: the
    // server's sends were non-blocking one by one, not by changing it.
    let flags = unsafe { libc::fcntl(shared.as_raw_fd(), libc::F_GETFL) };
    assert_eq!(flags & libc::O_NONBLOCK, 0, "the server changed its stderr");
    // Now read stderr: once it drains, the server says what it dropped
    // (which shows the socket was full).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 65536];
        while let Ok(n) = ours.read(&mut chunk) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
            if String::from_utf8_lossy(&all).contains("log lines dropped") {
                let _ = tx.send(String::from_utf8_lossy(&all).into_owned());
                all.clear();
            }
        }
    });
    // A few more status lines, so the count is written once there is room.
    let mut waited = 0;
    let text = loop {
        sync(&mut c);
        match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(text) => break text,
            Err(_) => {
                waited += 1;
                assert!(waited < 100, "no dropped-lines count");
            }
        }
    };
    assert!(text.contains("WARN  [pollchat::logger]"), "{text}");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Whether this machine has an IPv6 loopback to test on.
fn ipv6_loopback() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

fn on_v4(port: u16) -> std::net::SocketAddr {
    (std::net::Ipv4Addr::LOCALHOST, port).into()
}

fn on_v6(port: u16) -> std::net::SocketAddr {
    (std::net::Ipv6Addr::LOCALHOST, port).into()
}

#[test]
fn address_colons_serves_ipv6_and_ipv4_clients_on_one_listener() {
    if !ipv6_loopback() {
        eprintln!("skipped: this machine has no IPv6 loopback (cannot bind [::1])");
        return;
    }
    let server = Server::start_raw(&["--address", "::", "--port", "0", "--log-level", "debug"]);
    assert_eq!(
        server.addr().to_string(),
        format!("[::]:{}", server.addr().port())
    );
    let port = server.addr().port();
    let mut six = joined(on_v6(port), "six");
    let mut four = joined(on_v4(port), "four");
    six.send_line("MESG four hello over IPv6");
    four.expect_line("FROM six: hello over IPv6");
    four.send_line("MESG six hello over IPv4");
    six.expect_line("FROM four: hello over IPv4");
    // The IPv4 client is 127.0.0.1 in the status lines, not the mapped
    // address the dual-stack socket reports.
    server.wait_log("from 127.0.0.1:");
    server.wait_log("from [::1]:");
    let mapped: Vec<_> = server
        .log_lines()
        .into_iter()
        .filter(|l| l.contains("::ffff:"))
        .collect();
    assert!(mapped.is_empty(), "{mapped:?}");
}

#[test]
fn the_per_address_limit_sees_an_ipv4_client_of_a_dual_stack_listener_as_ipv4() {
    if !ipv6_loopback() {
        eprintln!("skipped: this machine has no IPv6 loopback (cannot bind [::1])");
        return;
    }
    let server = Server::start_raw(&["--address", "::", "--port", "0", "--max-per-ip", "1"]);
    let port = server.addr().port();
    let mut first = joined(on_v4(port), "first");
    let mut second = Client::connect(on_v4(port));
    second.expect_closed();
    server.wait_log("Connection from 127.0.0.1 refused");
    // ::1 is an address of its own, with its own one connection.
    let mut six = joined(on_v6(port), "six");
    sync(&mut six);
    sync(&mut first);
}
