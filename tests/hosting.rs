//! Hosting a class for a term (issue 16): the server under systemd, or
//! anything like it. Stderr a socket nobody reads (journald stalled), the
//! two systemd protocols (`$NOTIFY_SOCKET` and socket activation) spoken
//! directly, without systemd, and a dual-stack IPv6 listener.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::os::unix::process::CommandExt;
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

// ----- systemd: $NOTIFY_SOCKET ---------------------------------------------

/// The next datagram on `socket`, as text, waiting at most [`TIMEOUT`].
fn next_notification(socket: &UnixDatagram) -> String {
    socket.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut buf = [0u8; 4096];
    let n = socket
        .recv(&mut buf)
        .expect("no notification from the server");
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

/// systemd's side of `Type=notify`, with `socket` as the notify socket
/// named `name` in `$NOTIFY_SOCKET`: READY=1 once the server listens (and
/// it does serve then), STOPPING=1 when a signal stops it.
fn notifies_ready_then_stopping(socket: UnixDatagram, name: &str) {
    let mut server = Server::start_with(&["--address", "127.0.0.1", "--port", "0"], |c| {
        c.env("NOTIFY_SOCKET", name);
    });
    let ready = next_notification(&socket);
    assert!(ready.lines().any(|l| l == "READY=1"), "{ready:?}");
    let status = format!("STATUS=Listening on {} (mesg)", server.addr());
    assert!(ready.lines().any(|l| l == status), "{ready:?}");
    let mut ann = joined(server.addr(), "ann");
    sync(&mut ann);
    server.signal(libc::SIGTERM);
    let stopping = next_notification(&socket);
    assert!(stopping.lines().any(|l| l == "STOPPING=1"), "{stopping:?}");
    assert_eq!(server.wait_exit().code(), Some(0));
    ann.expect_closed();
}

#[test]
fn ready_and_stopping_go_to_a_notify_socket_named_by_its_path() {
    let path = std::env::temp_dir().join(format!("pollchat-notify-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let socket = UnixDatagram::bind(&path).unwrap();
    notifies_ready_then_stopping(socket, path.to_str().unwrap());
    let _ = std::fs::remove_file(&path);
}

#[test]
fn ready_and_stopping_go_to_an_abstract_notify_socket() {
    // What systemd itself uses: "@name", a socket with no file.
    let name = format!("pollchat-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    notifies_ready_then_stopping(socket, &format!("@{name}"));
}

// ----- systemd: socket activation ------------------------------------------

/// The server started as systemd starts it for a socket unit: `sockets`
/// as descriptors 3, 4, ..., `LISTEN_FDS` their count and `LISTEN_PID` the
/// server's own pid. Only the child knows its pid, so a shell sets it and
/// execs the server, which keeps the pid.
fn activated(sockets: &[RawFd], args: &[&str]) -> Command {
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(r#"export LISTEN_PID=$$; exec "$0" "$@""#)
        .arg(server_bin())
        .args(args)
        .env("LISTEN_FDS", sockets.len().to_string());
    // Copies above every descriptor the child will have at 3, 4, ..., so
    // moving one down never overwrites one not moved yet; close-on-exec,
    // so no other test's child inherits them. The closure owns them, and
    // they are closed with the command, once it has started the server.
    let copies: Vec<OwnedFd> = sockets
        .iter()
        .map(|&fd| {
            let copy = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 100) };
            assert!(copy >= 0, "dup: {}", std::io::Error::last_os_error());
            unsafe { OwnedFd::from_raw_fd(copy) }
        })
        .collect();
    unsafe {
        command.pre_exec(move || {
            for (target, copy) in (3..).zip(&copies) {
                // dup2 leaves the new descriptor open across exec.
                if libc::dup2(copy.as_raw_fd(), target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command
}

fn listener() -> std::net::TcpListener {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap()
}

#[test]
fn a_listening_socket_passed_as_fd_3_is_served_with_no_port_given() {
    let socket = listener();
    let addr = socket.local_addr().unwrap();
    // No port, no --listen: the one socket speaks mesg, the default.
    let server = Server::launch(activated(&[socket.as_raw_fd()], &[]), 1);
    drop(socket);
    assert_eq!(
        server.addr(),
        addr,
        "it must serve our socket, not one of its own"
    );
    let mut ann = joined(addr, "ann");
    let mut bob = joined(addr, "bob");
    ann.send_line("MESG bob hi");
    bob.expect_line("FROM ann: hi");
    sync(&mut bob);
}

#[test]
fn one_socket_speaks_the_dialect_of_protocol() {
    let socket = listener();
    let addr = socket.local_addr().unwrap();
    let server = Server::launch(
        activated(&[socket.as_raw_fd()], &["--protocol", "hello"]),
        1,
    );
    assert_eq!(server.addr_of("hello"), addr);
    let mut c = Client::connect(addr);
    c.send(b"HELLO-FROM ann\n");
    assert_eq!(c.read_line_with(b"\n"), "HELLO ann");
}

#[test]
fn two_passed_sockets_serve_the_two_listen_options_in_order() {
    let (first, second) = (listener(), listener());
    let (mesg, hello) = (first.local_addr().unwrap(), second.local_addr().unwrap());
    let args = [
        format!("--listen=mesg={mesg}"),
        format!("--listen=hello={hello}"),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let fds = [first.as_raw_fd(), second.as_raw_fd()];
    let server = Server::launch(activated(&fds, &args), 2);
    assert_eq!(
        (server.addr_of("mesg"), server.addr_of("hello")),
        (mesg, hello)
    );
    let mut ann = joined(mesg, "ann");
    let mut bob = Client::connect(hello);
    bob.send(b"HELLO-FROM bob\n");
    assert_eq!(bob.read_line_with(b"\n"), "HELLO bob");
    ann.send_line("MESG bob hi from mesg");
    assert_eq!(bob.read_line_with(b"\n"), "DELIVERY ann hi from mesg");
    bob.send(b"SEND ann hi from hello\n");
    assert_eq!(bob.read_line_with(b"\n"), "SEND-OK");
    ann.expect_line("FROM bob: hi from hello");
    // Ports in the other order than the sockets': served as the options
    // say, with a warning that the order looks wrong.
    let swapped = [
        format!("--listen=mesg={hello}"),
        format!("--listen=hello={mesg}"),
    ];
    let swapped: Vec<&str> = swapped.iter().map(String::as_str).collect();
    let server = Server::launch(activated(&fds, &swapped), 2);
    server.wait_log(&format!(
        "is bound to {mesg}, not {hello} as the command line says"
    ));
}

/// Runs `command` to its end: exit status, stdout, stderr.
fn run(mut command: Command) -> (Option<i32>, String, String) {
    let out = command
        .stdin(Stdio::null())
        .output()
        .expect("run the server");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[test]
fn a_socket_count_that_does_not_match_the_listeners_is_a_clear_error() {
    let (first, second) = (listener(), listener());
    let fds = [first.as_raw_fd(), second.as_raw_fd()];
    for args in [&[][..], &["--listen", "mesg=:9000"]] {
        let (code, stdout, stderr) = run(activated(&fds, args));
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "must not claim to be on: {stdout}");
        assert!(
            stderr.starts_with("pollchat-server: systemd passed 2 listening sockets (LISTEN_FDS)"),
            "{stderr}"
        );
    }
}

#[test]
fn a_passed_descriptor_that_is_not_a_listening_tcp_socket_is_a_clear_error() {
    let file = std::fs::File::open("/dev/null").unwrap();
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for (fd, why) in [
        (file.as_raw_fd(), "is not a socket"),
        (udp.as_raw_fd(), "is not a TCP socket"),
    ] {
        let (code, stdout, stderr) = run(activated(&[fd], &[]));
        assert_eq!(code, Some(1), "{stderr}");
        assert!(stdout.is_empty(), "must not claim to be on: {stdout}");
        assert!(
            stderr.contains(&format!("descriptor 3 from systemd (LISTEN_FDS) {why}")),
            "{stderr}"
        );
    }
}

#[test]
fn listen_fds_meant_for_another_process_change_nothing() {
    // LISTEN_PID names someone else (a parent that left it set): no
    // socket is ours, and no port is the usage error graders look for.
    let mut command = Command::new(server_bin());
    command.env("LISTEN_FDS", "1").env("LISTEN_PID", "1");
    let (code, stdout, stderr) = run(command);
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert_eq!(
        stderr.lines().next(),
        Some("usage: pollchat-server <svr_port>")
    );
}

#[test]
fn help_says_what_colons_mean_and_how_systemd_is_served() {
    let out = Command::new(server_bin()).arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in [
        ":: is every IPv6 and IPv4 address",
        "LISTEN_FDS",
        "needs no port",
        "READY=1 and STOPPING=1 to $NOTIFY_SOCKET",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}
