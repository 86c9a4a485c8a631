//! The teaching example, `examples/pollserver.rs`, over real TCP: it must
//! speak `mesg` exactly (docs/PROTOCOLS.md section 1), and each pitfall of
//! the classic poll servers it fixes has a test here, so a student who
//! changes the example (docs/WALKTHROUGH.md, "Exercises") learns from
//! `cargo test --test example` whether it still holds.
//!
//! Nothing sleeps to synchronise: every wait is a read with a timeout, and
//! a PING answered on another connection is the barrier that says the
//! example has read what was sent before it.

mod common;
use common::{Client, RULE, TIMEOUT};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::Instant;

/// The example's executable, current with the sources: Cargo hands tests
/// only the package's binaries (`CARGO_BIN_EXE_*`), not its examples, so
/// the first test asks the Cargo running it (`$CARGO`) to build it, in this
/// test's profile, and takes the path from Cargo's own report (as
/// `bench/tests/common/mod.rs` does for `pollchat-server`). `cargo test`
/// has built the example already, so this is a no-op.
fn example_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--package", "pollchat", "--example", "pollserver"])
            .args(["--profile", &own_profile(), "--message-format", "json"])
            .output()
            .expect("run cargo build --example pollserver");
        assert!(
            out.status.success(),
            "cargo build --example pollserver failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(r#""reason":"compiler-artifact""#))
            .filter(|l| l.contains(r#""name":"pollserver""#))
            .find_map(executable)
            .expect("cargo reported no pollserver executable")
    })
}

/// This test binary's profile, from its place in the target directory
/// (`<profile dir>/deps/example-<hash>`; `debug` is the `dev` profile's).
fn own_profile() -> String {
    let me = std::env::current_exe().expect("the test's own path");
    let dir = me.parent().filter(|d| d.ends_with("deps"));
    match dir.and_then(Path::parent).and_then(Path::file_name) {
        Some(name) if name != "debug" => name.to_string_lossy().into_owned(),
        _ => "dev".to_string(),
    }
}

/// The `"executable"` of one line of `cargo --message-format json`; of
/// JSON's escapes only `\\` and `\"` are undone.
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

/// The example, running on 127.0.0.1 on a port of its choosing; its
/// stderr is read by a thread so it never blocks on a full pipe.
struct Example {
    child: Child,
    _stdout: BufReader<ChildStdout>,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    addr: SocketAddr,
}

impl Example {
    fn start() -> Example {
        Example::start_with(|_| {})
    }

    fn start_with(configure: impl FnOnce(&mut Command)) -> Example {
        let mut command = Command::new(example_bin());
        configure(&mut command);
        let mut child = command
            .args(["0", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the example");
        let log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let (sink, stderr) = (log.clone(), child.stderr.take().unwrap());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.0.lock().unwrap().push(line);
                sink.1.notify_all();
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout
            .read_line(&mut first)
            .expect("read the example's stdout");
        assert_eq!(first, "Server is on\n");
        let mut example = Example {
            child,
            _stdout: stdout,
            log,
            addr: "0.0.0.0:0".parse().unwrap(),
        };
        // Printed on stderr before "Server is on".
        let line = example.wait_log("Listening on ");
        example.addr = line["Listening on ".len()..].parse().expect("an address");
        example
    }

    /// Waits for a status line containing `needle`, and returns it.
    fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = self.log.0.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no status line {needle:?} in {lines:?}");
            lines = self.log.1.wait_timeout(lines, left).unwrap().0;
        }
    }

    fn has_log(&self, needle: &str) -> bool {
        self.log
            .0
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    fn connect(&self) -> Client {
        Client::connect(self.addr)
    }

    fn joined(&self, name: &str) -> Client {
        common::joined(self.addr, name)
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `LIST` as the example answers it: the names, in registration order.
fn names(c: &mut Client) -> Vec<String> {
    common::list(c).into_iter().map(|(name, _)| name).collect()
}

/// Data segments this socket has received, from the kernel's TCP_INFO.
fn segments_in(c: &Client) -> u32 {
    // SAFETY: tcp_info is plain data; the kernel fills at most `len` bytes.
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    let rc = unsafe {
        libc::getsockopt(
            c.stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            &mut info as *mut libc::tcp_info as *mut libc::c_void,
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO");
    info.tcpi_data_segs_in
}

/// A client whose socket takes little at a time: a 4 KB receive buffer,
/// and segments of 536 bytes, which keep the example's own socket buffer
/// for it small too (on loopback the kernel otherwise holds megabytes for
/// a reader that does not read). Both set before connecting.
fn slow_reader(addr: SocketAddr) -> Client {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    for (level, option, value) in [
        (libc::SOL_SOCKET, libc::SO_RCVBUF, 4096),
        (libc::IPPROTO_TCP, libc::TCP_MAXSEG, 536),
    ] {
        let value: libc::c_int = value;
        // SAFETY: a plain socket option on a socket we own.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_raw_fd(),
                level,
                option,
                &value as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0, "setsockopt {option}");
    }
    socket.connect(&addr.into()).expect("connect");
    Client::from_stream(socket.into())
}

// ----- it speaks mesg -------------------------------------------------------

#[test]
fn a_join_list_mesg_bcst_quit_session_gets_the_exact_replies() {
    let example = Example::start();
    let mut alice = example.connect();
    alice.send_line("LIST");
    alice.expect_line("Unregistered User. Use \"JOIN <username>\" to Register.");
    alice.send_line("JOIN alice");
    alice.expect_line("JOIN alice Request Accepted");
    let mut bob = example.joined("bob");
    let fds = common::list(&mut alice);
    let (a, b) = (&fds[0].1, &fds[1].1);
    alice.send_line("JOIN bob");
    alice.expect_line(&format!(
        "User Already Registered: Username (alice), FD ({a})"
    ));
    bob.send_line("LIST");
    let (alice_row, bob_row) = (format!("alice\t{a}"), format!("bob\t{b}"));
    bob.expect_lines(&["USERNAME\tFD", RULE, &alice_row, &bob_row, RULE]);
    bob.send_line("MESG alice hi alice");
    alice.expect_line("FROM bob: hi alice");
    bob.send_line("MESG carol hi?");
    bob.expect_line("Unknown Recipient (carol). MESG Discarded.");
    bob.send_line("MESG alice");
    bob.expect_line("Invalid MESG. Use \"MESG <username> <message>\".");
    alice.send_line("BCST hello all");
    bob.expect_line("FROM alice: hello all");
    alice.send_line("BCST");
    alice.expect_line("Unknown Message. Discarding UNKNOWN Message.");
    // The sender of a BCST is not among its recipients: PONG comes next.
    common::sync(&mut alice);
    alice.send_line("QUIT");
    alice.expect_closed();
    example.wait_log(&format!("Client ({a}): Disconnecting User."));
    assert_eq!(names(&mut bob), ["bob"], "alice's name is free again");
    let mut again = example.joined("alice");
    assert_eq!(names(&mut again), ["bob", "alice"]);
}

#[test]
fn a_command_split_over_writes_and_two_in_one_write_are_answered_exactly() {
    let example = Example::start();
    let mut alice = example.connect();
    let mut barrier = example.connect();
    // "JOIN alice" in three writes; the barrier's PONG says the example has
    // read each piece (and answered nothing) before the next is sent.
    for piece in ["JO", "IN al", "ice\r\n"] {
        alice.send(piece.as_bytes());
        common::sync(&mut barrier);
    }
    alice.expect_line("JOIN alice Request Accepted");
    let fd = common::list(&mut alice)[0].1.clone();
    // Two commands in one write, and the start of a third.
    alice.send(b"JOIN bob\r\nLIST\r\nPI");
    alice.expect_line(&format!(
        "User Already Registered: Username (alice), FD ({fd})"
    ));
    let row = format!("alice\t{fd}");
    alice.expect_lines(&["USERNAME\tFD", RULE, &row, RULE]);
    common::sync(&mut barrier);
    alice.send(b"NG\n");
    alice.expect_line("PONG");
    // Any line end: LF, CR LF, a lone CR.
    alice.send(b"PING\rPING\r\nPING\n");
    alice.expect_lines(&["PONG", "PONG", "PONG"]);
}

#[test]
fn sigterm_stops_it_with_status_0() {
    let mut example = Example::start();
    let mut alice = example.joined("alice");
    common::sync(&mut alice);
    // SAFETY: a signal to the child we started.
    assert_eq!(
        unsafe { libc::kill(example.child.id() as i32, libc::SIGTERM) },
        0
    );
    example.wait_log("Stopped by a signal");
    let status = example.child.wait().expect("wait for the example");
    assert_eq!(status.code(), Some(0));
}

// ----- the pitfalls it fixes ------------------------------------------------

/// Edge-triggered readiness says "something arrived" once: what one read
/// leaves in the socket is never announced again. The example reads until
/// WouldBlock (or its budget).
#[test]
fn a_burst_bigger_than_one_read_is_read_to_its_end() {
    let example = Example::start();
    let mut c = example.connect();
    // Empty lines cost nothing to handle; 40 KB is more than one 16 KiB read.
    let mut burst = vec![b'\n'; 40_000];
    burst.extend_from_slice(b"PING\r\n");
    c.send(&burst);
    c.expect_line("PONG");
}

/// One read's replies leave in one write: ten PINGs in one segment are
/// answered by ten PONGs in one segment (a write per reply would be ten,
/// with TCP_NODELAY).
#[test]
fn replies_to_one_read_leave_in_one_write() {
    let example = Example::start();
    let mut c = example.connect();
    common::sync(&mut c);
    let before = segments_in(&c);
    c.send("PING\r\n".repeat(10).as_bytes());
    for _ in 0..10 {
        c.expect_line("PONG");
    }
    assert_eq!(segments_in(&c) - before, 1, "segments for ten PONGs");
}

/// A reader slower than its sender is sent every byte, in order: what the
/// socket did not take is kept and written when it has room, and the
/// sender is never blocked meanwhile.
#[test]
fn a_slow_reader_gets_every_byte_in_order() {
    let example = Example::start();
    let mut reader = slow_reader(example.addr);
    reader.send_line("JOIN reader");
    reader.expect_line("JOIN reader Request Accepted");
    let mut sender = example.joined("sender");
    let lines: Vec<String> = (0..2000)
        .map(|i| format!("line {i:04} {}", "x".repeat(80)))
        .collect();
    let burst: String = lines
        .iter()
        .map(|l| format!("MESG reader {l}\r\n"))
        .collect();
    sender.send(burst.as_bytes());
    // 190 KB for a reader that takes 4 KB at a time; the sender is served.
    common::sync(&mut sender);
    for line in &lines {
        reader.expect_line(&format!("FROM sender: {line}"));
    }
    common::sync(&mut reader);
}

/// A client that never reads cannot make the example hold its output for
/// ever: past the bound it is cut off, and the others go on.
#[test]
fn a_client_that_never_reads_is_cut_off_and_the_others_go_on() {
    let example = Example::start();
    let mut sleeper = slow_reader(example.addr);
    sleeper.send_line("JOIN sleeper");
    sleeper.expect_line("JOIN sleeper Request Accepted");
    let mut sender = example.joined("sender");
    let fd = common::list(&mut sender)[0].1.clone();
    // A megabyte of broadcasts at a time until the sleeper is cut off: how
    // much the kernel holds for it first depends on the machine.
    let chunk = format!("BCST {}\r\n", "y".repeat(1000)).repeat(1000);
    for _ in 0..64 {
        if example.has_log("Output queue over") {
            break;
        }
        sender.send(chunk.as_bytes());
    }
    example.wait_log(&format!("Client ({fd}): Output queue over"));
    example.wait_log(&format!("Client ({fd}): Disconnecting User."));
    assert_eq!(names(&mut sender), ["sender"]);
    // Not read: what the kernel still holds for it would take minutes
    // through its 4 KB window.
    drop(sleeper);
}

/// A connection closed during a turn keeps its last reply: the 11th JOIN
/// is told why before the example hangs up, and then gets nothing more.
#[test]
fn the_eleventh_user_hears_why_before_the_close() {
    let example = Example::start();
    let users: Vec<Client> = (0..10).map(|i| example.joined(&format!("u{i}"))).collect();
    let mut late = example.connect();
    late.send_line("JOIN late");
    late.expect_line("Too Many Users. Disconnecting User.");
    late.expect_closed();
    drop(users);
}

/// Out of descriptors, the example does not die (CS:APP's `Accept` exits)
/// nor spin: the clients wait in the kernel's queue, and each is served
/// once another leaves.
#[test]
fn running_out_of_descriptors_is_not_fatal() {
    let example = Example::start_with(common::limit_fds(16));
    let mut clients: Vec<Client> = (0..24).map(|_| example.connect()).collect();
    for c in &mut clients {
        c.send_line("PING");
    }
    example.wait_log("accept: ");
    for mut c in clients {
        c.expect_line("PONG");
        // Leaving makes room for the next one in the queue.
        drop(c);
    }
    let mut last = example.connect();
    common::sync(&mut last);
}
