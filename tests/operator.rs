//! Hosting a class: the operator console (`--admin`), the state dump on
//! SIGUSR2, peer addresses in the log and the transcript (`--transcript`),
//! over real sockets against the real binary (README, "Hosting a class").

mod common;
use common::*;
use pollchat::dialect::sendto::packet::{ClientPacket, ServerPacket, Status};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A server with every dialect and a console on loopback.
fn start(extra: &[&str]) -> Server {
    let mut args = vec![
        "--listen",
        "mesg=127.0.0.1:0",
        "--listen",
        "hello=127.0.0.1:0",
        "--listen",
        "channels=127.0.0.1:0",
        "--listen",
        "sendto=127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start_raw(&args)
}

/// An operator session: commands out, answers (up to their OK/ERR line) in.
struct Console {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Console {
    fn open(server: &Server) -> Console {
        let line = server.wait_log("Operator console on ");
        let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        Console {
            writer: stream.try_clone().unwrap(),
            reader: BufReader::new(stream),
        }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("an answer in time");
        assert!(line.ends_with('\n'), "the console closed: {line:?}");
        line.trim_end().to_string()
    }

    /// Sends `command`; returns the data lines and the final OK/ERR line.
    fn ask(&mut self, command: &str) -> (Vec<String>, String) {
        self.writer
            .write_all(format!("{command}\n").as_bytes())
            .unwrap();
        let mut data = Vec::new();
        loop {
            let line = self.line();
            if line.starts_with("OK") || line.starts_with("ERR") {
                return (data, line);
            }
            data.push(line);
        }
    }
}

fn hello_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("hello"));
    c.send(format!("HELLO-FROM {name}\n").as_bytes());
    assert_eq!(c.read_line_with(b"\n"), format!("HELLO {name}"));
    c
}

fn frame(text: &str) -> Vec<u8> {
    let mut f = text.as_bytes().to_vec();
    f.resize(200, b' ');
    f
}

fn channels_read(c: &mut Client) -> String {
    String::from_utf8_lossy(&c.read_bytes(200))
        .trim_end()
        .to_string()
}

/// A channels user in channel `room` (the /list answer proves it).
fn channels_login(server: &Server, name: &str, room: &str) -> Client {
    let mut c = Client::connect(server.addr_of("channels"));
    c.send(&frame(name));
    c.send(&frame(&format!("/create {room}")));
    c.send(&frame("/list"));
    assert!(channels_read(&mut c).contains(room));
    c
}

fn sendto_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("sendto"));
    let mut bytes = Vec::new();
    ClientPacket::Login { name }.encode(&mut bytes);
    c.send(&bytes);
    assert_eq!(
        ServerPacket::decode(&sendto_read(&mut c)),
        Ok(ServerPacket::Response(Status::Ok))
    );
    c
}

fn sendto_read(c: &mut Client) -> Vec<u8> {
    let mut packet = c.read_bytes(5);
    let len = u32::from_be_bytes([packet[1], packet[2], packet[3], packet[4]]) as usize;
    packet.extend(c.read_bytes(len));
    packet
}

fn stat<'a>(lines: &'a [String], key: &str) -> &'a str {
    lines
        .iter()
        .find_map(|l| l.strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no {key} in {lines:?}"))
}

// ----- peer addresses ------------------------------------------------------

#[test]
fn the_log_names_each_peer_address_on_its_own_line() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    sync(&mut alice);
    let local = alice.stream.local_addr().unwrap();
    let accepted = server.wait_log("Connection Accepted");
    let fd = accepted
        .split("Client (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    // The seeds' line is unchanged; the address follows on its own.
    assert!(accepted.ends_with(&format!("Client ({fd}): Connection Accepted")));
    server.wait_log(&format!("Client ({fd}): from {local}"));
}

// ----- the console -------------------------------------------------------

#[test]
fn the_console_is_refused_on_a_public_address_unless_allowed() {
    let out = Command::new(server_bin())
        .args(["--admin", "0.0.0.0:0", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a loopback address"), "{stderr}");
    assert!(out.stdout.is_empty(), "it must not say Server is on");
    let server = Server::start(&["--admin", "0.0.0.0:0", "--admin-allow-remote"]);
    let mut console = Console::open(&server);
    assert_eq!(console.ask("STATS").1, "OK");
}

#[test]
fn stats_counts_connections_and_users_per_dialect() {
    let server = start(&[]);
    let mut m = joined(server.addr_of("mesg"), "m");
    let _m2 = Client::connect(server.addr_of("mesg"));
    let _h = hello_login(&server, "h");
    sync(&mut m);
    let mut console = Console::open(&server);
    // The unregistered mesg connection may not be accepted yet: ask until
    // the server has seen all three.
    let deadline = Instant::now() + TIMEOUT;
    let (lines, end) = loop {
        let (lines, end) = console.ask("STATS");
        if stat(&lines, "connections") == "3" || Instant::now() > deadline {
            break (lines, end);
        }
    };
    assert_eq!(end, "OK");
    assert_eq!(stat(&lines, "connections"), "3");
    assert_eq!(stat(&lines, "users"), "2");
    assert_eq!(stat(&lines, "dialect mesg"), "connections 2 users 1");
    assert_eq!(stat(&lines, "dialect hello"), "connections 1 users 1");
    assert_eq!(stat(&lines, "dialect channels"), "connections 0 users 0");
    assert_eq!(stat(&lines, "dialect sendto"), "connections 0 users 0");
    assert!(stat(&lines, "bytes_in").parse::<u64>().unwrap() > 0);
    assert!(stat(&lines, "bytes_out").parse::<u64>().unwrap() > 0);
    for key in [
        "uptime_s",
        "queued_bytes",
        "cut_offs",
        "log_lines_dropped",
        "bans",
    ] {
        stat(&lines, key).parse::<u64>().unwrap();
    }
}

#[test]
fn who_lists_every_connection_with_its_peer() {
    let server = start(&[]);
    let mut alice = joined(server.addr_of("mesg"), "alice");
    let fd = list(&mut alice)[0].1.clone();
    let mut nobody = Client::connect(server.addr_of("mesg"));
    sync(&mut nobody);
    let mut console = Console::open(&server);
    let (lines, end) = console.ask("who");
    assert_eq!(end, "OK 2 connections");
    let local = alice.stream.local_addr().unwrap();
    let mine = lines
        .iter()
        .find(|l| l.starts_with("conn alice "))
        .expect("alice in WHO");
    let fields: Vec<&str> = mine.split(' ').collect();
    assert_eq!(
        fields[..5],
        ["conn", "alice", "mesg", fd.as_str(), &local.to_string()]
    );
    assert!(
        fields[5].ends_with('Z') && fields[5].contains('T'),
        "{mine}"
    );
    assert_eq!(fields[6], "0");
    let local = nobody.stream.local_addr().unwrap().to_string();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("conn * mesg ") && l.contains(&local)),
        "{lines:?}"
    );
}

#[test]
fn kick_tells_the_user_why_and_disconnects_them() {
    let server = start(&[]);
    let mut alice = joined(server.addr_of("mesg"), "alice");
    let mut h = hello_login(&server, "h");
    let mut console = Console::open(&server);
    let (_, end) = console.ask("KICK alice please stop flooding");
    assert!(end.starts_with("OK kicked alice (fd "), "{end}");
    alice.expect_line("FROM *server*: please stop flooding");
    alice.expect_closed();
    server.wait_log("kicked by the operator: please stop flooding");
    // Without a reason the user is just gone.
    assert!(console.ask("KICK h").1.starts_with("OK kicked h"));
    h.wait_closed();
    assert_eq!(console.ask("KICK alice").1, "ERR no user named 'alice'");
    // The name is free again.
    let _alice = joined(server.addr_of("mesg"), "alice");
}

#[test]
fn say_reaches_every_dialect_in_its_own_form_from_a_name_no_one_can_take() {
    let server = start(&[]);
    let mut m = joined(server.addr_of("mesg"), "m");
    let mut h = hello_login(&server, "h");
    let mut c = channels_login(&server, "c", "lobby");
    let mut s = sendto_login(&server, "s");
    let mut console = Console::open(&server);
    assert_eq!(
        console.ask("SAY class ends in 5 minutes").1,
        "OK said to 4 users"
    );
    m.expect_line("FROM *server*: class ends in 5 minutes");
    assert_eq!(
        h.read_line_with(b"\n"),
        "DELIVERY *server* class ends in 5 minutes"
    );
    assert_eq!(channels_read(&mut c), "[*server*] class ends in 5 minutes");
    assert_eq!(
        ServerPacket::decode(&sendto_read(&mut s)),
        Ok(ServerPacket::Sendto {
            from: "*server*",
            text: "class ends in 5 minutes"
        })
    );
    // No user can register the operator's name.
    let mut fake = Client::connect(server.addr_of("mesg"));
    fake.send_line("JOIN *server*");
    assert!(fake.read_line().starts_with("Invalid Username."));
    let mut fake = Client::connect(server.addr_of("hello"));
    fake.send(b"HELLO-FROM *server*\n");
    assert_ne!(fake.read_line_with(b"\n"), "HELLO *server*");
}

#[test]
fn ban_closes_and_refuses_an_address_until_unban() {
    let server = start(&[]);
    let mut alice = joined(server.addr_of("mesg"), "alice");
    let mut console = Console::open(&server);
    assert_eq!(
        console.ask("BAN 127.0.0.0/8").1,
        "OK banned 127.0.0.0/8 until UNBAN; 1 connections closed"
    );
    alice.wait_closed();
    // A newcomer from there is closed at once, never served.
    let mut refused = Client::connect(server.addr_of("mesg"));
    refused.send_line("PING");
    refused.wait_closed();
    server.wait_log("Connection from 127.0.0.1 refused: banned (127.0.0.0/8)");
    // The console, its own listener, still answers.
    assert_eq!(stat(&console.ask("STATS").0, "bans"), "1");
    assert_eq!(
        console.ask("UNBAN 127.0.0.1").1,
        "ERR 127.0.0.1/32 is not banned"
    );
    assert_eq!(
        console.ask("UNBAN 127.0.0.0/8").1,
        "OK unbanned 127.0.0.0/8"
    );
    let mut back = joined(server.addr_of("mesg"), "alice");
    sync(&mut back);
}

#[test]
fn bad_commands_get_an_error_and_the_session_goes_on() {
    let server = start(&[]);
    let mut console = Console::open(&server);
    assert_eq!(console.ask("FLY").1, "ERR unknown command 'FLY' (try HELP)");
    assert_eq!(console.ask(&"x".repeat(10_000)).1, "ERR line too long");
    assert_eq!(
        console.ask("BAN nowhere").1,
        "ERR 'nowhere' is not an IP address or a CIDR block"
    );
    let (help, end) = console.ask("HELP");
    assert_eq!(end, "OK");
    assert!(help.iter().any(|l| l.contains("KICK <name> [reason]")));
    assert_eq!(console.ask("QUIT").1, "OK bye");
    let mut rest = String::new();
    assert_eq!(
        console.reader.read_line(&mut rest).unwrap(),
        0,
        "closed after QUIT"
    );
}

#[test]
fn only_so_many_consoles_at_once() {
    let server = start(&[]);
    let mut open: Vec<Console> = (0..4).map(|_| Console::open(&server)).collect();
    for console in &mut open {
        assert_eq!(console.ask("STATS").1, "OK");
    }
    let mut fifth = Console::open(&server);
    assert_eq!(fifth.line(), "ERR too many operator sessions");
    drop(open.pop());
    server.wait_log("): disconnected");
    // A freed place is taken again.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let mut again = Console::open(&server);
        let mut line = String::new();
        again.writer.write_all(b"STATS\n").unwrap();
        again.reader.read_line(&mut line).unwrap();
        if line.starts_with("uptime_s ") {
            break;
        }
        assert!(Instant::now() < deadline, "no place freed: {line}");
    }
}

#[test]
fn sigusr2_writes_stats_and_who_to_the_log() {
    let server = start(&[]);
    let mut alice = joined(server.addr_of("mesg"), "alice");
    sync(&mut alice);
    server.signal(libc::SIGUSR2);
    server.wait_log("Received signal 12: the server's state follows");
    server.wait_log("[pollchat::admin] users 1");
    server.wait_log("[pollchat::admin] dialect mesg connections 1 users 1");
    server.wait_log("[pollchat::admin] conn alice mesg ");
    sync(&mut alice);
}

// ----- the transcript ----------------------------------------------------

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pollchat-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    path
}

/// The transcript once it holds `n` lines (each turn writes what it saw).
fn transcript_lines(path: &PathBuf, n: usize) -> Vec<String> {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(|l| l.to_string()).collect();
        if lines.len() >= n {
            return lines;
        }
        assert!(Instant::now() < deadline, "transcript: {lines:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The lines without their time stamps.
fn bodies(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let (stamp, rest) = l.split_once(' ').unwrap();
            assert!(stamp.ends_with('Z') && stamp.len() == 20, "{l}");
            rest.to_string()
        })
        .collect()
}

#[test]
fn the_transcript_has_public_messages_joins_and_leaves_but_no_direct_ones() {
    let path = temp_path("public.log");
    let server = start(&["--transcript", path.to_str().unwrap()]);
    let mut ann = joined(server.addr_of("mesg"), "ann");
    let mut h = hello_login(&server, "h");
    ann.send_line("BCST hello\x1b[2J all");
    assert_eq!(h.read_line_with(b"\n"), "DELIVERY ann hello [2J all");
    ann.send_line("MESG h a secret");
    assert_eq!(h.read_line_with(b"\n"), "DELIVERY ann a secret");
    let mut kay = channels_login(&server, "kay", "168");
    let mut lee = channels_login(&server, "lee", "other");
    lee.send(&frame("/join 168"));
    assert_eq!(channels_read(&mut kay), "lee has joined");
    kay.send(&frame("Hi!"));
    assert_eq!(channels_read(&mut lee), "[kay] Hi!");
    ann.send_line("QUIT");
    ann.wait_closed();
    let lines = transcript_lines(&path, 11);
    assert_eq!(
        bodies(&lines),
        [
            "mesg * ann joined",
            "hello * h joined",
            "mesg ann: hello [2J all",
            "channels * kay joined",
            "channels * kay joined [168]",
            "channels * lee joined",
            "channels * lee joined [other]",
            "channels * lee left [other]",
            "channels * lee joined [168]",
            "channels [168] kay: Hi!",
            "mesg * ann left",
        ]
    );
    assert!(!lines.iter().any(|l| l.contains("secret")));
    drop(server);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn direct_messages_are_in_the_transcript_only_when_asked_for() {
    let path = temp_path("direct.log");
    let server = start(&[
        "--transcript",
        path.to_str().unwrap(),
        "--transcript-direct",
    ]);
    let mut ann = joined(server.addr_of("mesg"), "ann");
    let mut bob = joined(server.addr_of("mesg"), "bob");
    ann.send_line("MESG bob psst");
    bob.expect_line("FROM ann: psst");
    let lines = transcript_lines(&path, 3);
    assert_eq!(bodies(&lines)[2], "mesg ann -> bob: psst");
    drop(server);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_transcript_that_cannot_be_written_costs_the_class_nothing() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full here");
        return;
    }
    let server = start(&["--transcript", "/dev/full"]);
    let mut ann = joined(server.addr_of("mesg"), "ann");
    let mut bob = joined(server.addr_of("mesg"), "bob");
    server.wait_log("transcript /dev/full: cannot write");
    for i in 0..2000 {
        ann.send_line(&format!("BCST message {i} {}", "x".repeat(900)));
    }
    for i in 0..2000 {
        bob.expect_line(&format!("FROM ann: message {i} {}", "x".repeat(900)));
    }
    sync(&mut ann);
}

#[test]
fn a_transcript_that_cannot_be_opened_stops_the_start_with_a_reason() {
    let out = Command::new(server_bin())
        .args(["--transcript", "/nonexistent-dir/t.log", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot open transcript /nonexistent-dir/t.log"),
        "{stderr}"
    );
    let out = Command::new(server_bin())
        .args(["--transcript-direct", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--transcript-direct needs --transcript"));
}
