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
