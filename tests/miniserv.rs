//! `miniserv`, the 42 school's `mini_serv` (docs/PROTOCOLS.md section 5),
//! over real TCP: ids, notices, lines byte for byte, lazy readers, long
//! lines, the subject's start-up errors, other dialects, the client.
//!
//! Barriers are reads: a client is known to be numbered once the server
//! has logged `Arrived as client#<id>.`, and "nothing else arrived" is
//! shown by a line from another client arriving next.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};

const MIB: usize = 1 << 20;

/// `pollchat-server --protocol miniserv` on 127.0.0.1, a free port.
fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--protocol", "miniserv"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A client at `addr`, once the server has numbered it `id`.
fn arrive(server: &Server, addr: SocketAddr, id: usize) -> Client {
    let c = Client::connect(addr);
    server.wait_log(&format!("Arrived as client#{id}."));
    c
}

/// The next bytes `c` receives are exactly `want`.
fn expect(c: &mut Client, want: &[u8]) {
    let got = c.read_bytes(want.len());
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(want),
        "bytes differ"
    );
}

fn arrived(id: usize) -> Vec<u8> {
    format!("server: client {id} just arrived\n").into_bytes()
}

fn left(id: usize) -> Vec<u8> {
    format!("server: client {id} just left\n").into_bytes()
}

#[test]
fn ids_count_from_0_and_every_other_client_hears_of_arrivals_and_leaves() {
    let server = start(&[]);
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    expect(&mut a, &arrived(1));
    let c = arrive(&server, server.addr(), 2);
    expect(&mut a, &arrived(2));
    expect(&mut b, &arrived(2));
    drop(c);
    expect(&mut a, &left(2));
    expect(&mut b, &left(2));
    // Ids are never reused: the next one is 3.
    let mut d = arrive(&server, server.addr(), 3);
    expect(&mut a, &arrived(3));
    expect(&mut b, &arrived(3));
    // A newcomer is told nothing of those already there, nor of itself:
    // the first thing it hears is a line.
    a.send(b"hi\n");
    expect(&mut d, b"client 0: hi\n");
    expect(&mut b, b"client 0: hi\n");
    d.assert_nothing_buffered();
}

#[test]
fn several_lines_in_one_send_are_relayed_one_by_one_byte_for_byte() {
    let server = start(&[]);
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    expect(&mut a, &arrived(1));
    b.send(b"one\ntwo\r\n\nthree \t\x1b[1m\xff\n\r\n");
    expect(
        &mut a,
        b"client 1: one\nclient 1: two\r\nclient 1: \nclient 1: three \t\x1b[1m\xff\nclient 1: \r\n",
    );
    // The sender is sent nothing of its own: the next it hears is a's.
    a.send(b"back\n");
    expect(&mut b, b"client 0: back\n");
    b.assert_nothing_buffered();
}

#[test]
fn a_line_split_over_sends_waits_for_its_end() {
    let server = start(&[]);
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    let mut c = arrive(&server, server.addr(), 2);
    expect(&mut a, &arrived(1));
    expect(&mut a, &arrived(2));
    expect(&mut b, &arrived(2));
    b.send(b"hel");
    // c's line, sent after b's start, comes first: b's line is not done.
    c.send(b"x\n");
    expect(&mut a, b"client 2: x\n");
    b.send(b"lo wor");
    b.send(b"ld\n");
    expect(&mut a, b"client 1: hello world\n");
    expect(&mut c, b"client 1: hello world\n");
}

#[test]
fn a_partial_line_is_dropped_when_its_client_leaves() {
    let server = start(&[]);
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    expect(&mut a, &arrived(1));
    b.send(b"whole\nno newline");
    // Half-closing is leaving: the partial line is not relayed.
    b.shutdown_write();
    expect(&mut a, b"client 1: whole\n");
    expect(&mut a, &left(1));
    b.expect_closed();
    let mut c = arrive(&server, server.addr(), 2);
    expect(&mut a, &arrived(2));
    c.send(b"next\n");
    expect(&mut a, b"client 2: next\n");
}

#[test]
fn a_hundred_clients() {
    let server = start(&[]);
    let mut clients: Vec<Client> = (0..100)
        .map(|id| arrive(&server, server.addr(), id))
        .collect();
    for (id, c) in clients.iter_mut().enumerate() {
        let notices: Vec<u8> = (id + 1..100).flat_map(arrived).collect();
        expect(c, &notices);
    }
    clients[42].send(b"hi all\n");
    for (id, c) in clients.iter_mut().enumerate() {
        if id != 42 {
            expect(c, b"client 42: hi all\n");
        }
    }
    drop(clients.remove(7));
    for c in clients.iter_mut() {
        expect(c, &left(7));
    }
    // The last line of all reaches all but its sender, and nothing came
    // before it that should not have.
    clients[98].send(b"from 99\n");
    for c in clients.iter_mut().take(98) {
        expect(c, b"client 99: from 99\n");
        c.assert_nothing_buffered();
    }
}

/// The operator console's WHO: the bytes queued for the user `name`.
fn queued_for(console: &mut TcpStream, name: &str) -> usize {
    console.write_all(b"WHO\n").unwrap();
    let mut reader = BufReader::new(console.try_clone().unwrap());
    let mut queued = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("WHO answers");
        if line.starts_with("OK") || line.starts_with("ERR") {
            return queued.expect("the user is listed");
        }
        if line.starts_with(&format!("conn {name} ")) {
            queued = line.split_whitespace().last().and_then(|n| n.parse().ok());
        }
    }
}

#[test]
fn a_lazy_reader_is_not_disconnected_while_the_others_keep_receiving() {
    // Every other dialect's client would be cut off past 64 KiB unread.
    let server = start(&["--max-queue", "65536", "--admin", "127.0.0.1:0"]);
    // The lazy reader's socket holds little, so the server holds the rest.
    let lazy = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    lazy.set_recv_buffer_size(4096).unwrap();
    lazy.connect(&server.addr().into()).unwrap();
    let mut lazy = Client::from_stream(lazy.into());
    server.wait_log("Arrived as client#0.");
    let mut reader = arrive(&server, server.addr(), 1);
    let mut sender = arrive(&server, server.addr(), 2);
    expect(&mut reader, &arrived(2));
    // 7 MiB in 64 KiB lines: over a hundred times --max-queue, under the
    // 8 MiB a miniserv client may leave unread.
    let lines: Vec<Vec<u8>> = (0..112)
        .map(|i| {
            let mut line = format!("{i:03} ").into_bytes();
            line.resize(64 * 1024 - 1, b'a' + (i % 26) as u8);
            line.push(b'\n');
            line
        })
        .collect();
    let to_send = lines.concat();
    let writer = std::thread::spawn(move || {
        sender.send(&to_send);
        sender
    });
    let relayed: Vec<u8> = lines
        .iter()
        .flat_map(|line| [b"client 2: ".as_slice(), line].concat())
        .collect();
    // The others keep receiving, every line, while the lazy one reads nothing.
    expect(&mut reader, &relayed);
    let _sender = writer.join().unwrap();
    let line = server.wait_log("Operator console on ");
    let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    let mut console = TcpStream::connect(addr).unwrap();
    console.set_read_timeout(Some(TIMEOUT)).unwrap();
    let queued = queued_for(&mut console, "client#0");
    assert!(queued > 65536, "the server holds {queued} bytes for it");
    // Then it reads, and everything is there, in order.
    let mut owed = [arrived(1), arrived(2)].concat();
    owed.extend_from_slice(&relayed);
    expect(&mut lazy, &owed);
    assert_eq!(server.count_log("Output queue over"), 0);
    assert_eq!(server.count_log("budget"), 0);
}

#[test]
fn a_line_of_1_mib_is_relayed_whole_and_a_longer_one_is_dropped() {
    let server = start(&[]);
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    expect(&mut a, &arrived(1));
    // 1 MiB of text, and the CR of a CR LF, which is kept.
    let mut line = vec![b'x'; MIB];
    line.extend_from_slice(b"\r\n");
    let mut too_long = vec![b'y'; MIB + 1];
    too_long.extend_from_slice(b"\nafter\n");
    let payload = [line.clone(), too_long].concat();
    let writer = std::thread::spawn(move || {
        a.send(&payload);
        a
    });
    let mut want = b"client 0: ".to_vec();
    want.extend_from_slice(&line);
    expect(&mut b, &want);
    // The over-long line is gone; its sender is still here.
    expect(&mut b, b"client 0: after\n");
    let _a = writer.join().unwrap();
    server.wait_log("Line over 1048576 bytes. Discarding it.");
}

// ----- the subject's start-up: pollchat-miniserv ------------------------

fn run_miniserv(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(MINISERV_BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run pollchat-miniserv");
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (out.status.code(), text(out.stdout), text(out.stderr))
}

#[test]
fn the_subjects_errors_and_exit_status() {
    for args in [&[][..], &["8081", "8082"]] {
        assert_eq!(
            run_miniserv(args),
            (Some(1), String::new(), "Wrong number of arguments\n".into()),
            "{args:?}"
        );
    }
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    for args in [&[port.as_str()][..], &["not a port"], &["70000"]] {
        assert_eq!(
            run_miniserv(args),
            (Some(1), String::new(), "Fatal error\n".into()),
            "{args:?}"
        );
    }
}

#[test]
fn pollchat_miniserv_serves_loopback_and_prints_nothing_on_stdout() {
    let mut command = Command::new(MINISERV_BIN);
    command.arg("0");
    let mut server = Server::launch_quiet(command);
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    expect(&mut a, &arrived(1));
    b.send(b"hi\n");
    expect(&mut a, b"client 1: hi\n");
    server.signal(libc::SIGTERM);
    assert!(server.wait_exit().success());
    assert_eq!(server.rest_of_stdout(), "");
}

#[test]
fn pollchat_server_protocol_miniserv_listens_on_loopback_and_keeps_its_usage() {
    let server = Server::start_raw(&["--protocol", "miniserv", "0"]);
    assert_eq!(server.addr().ip().to_string(), "127.0.0.1");
    // Without a port it is pollchat-server's usage, as for every dialect.
    let out = Command::new(server_bin())
        .args(["--protocol", "miniserv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some("usage: pollchat-server <svr_port>")
    );
}

// ----- across dialects -------------------------------------------------

fn hello_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("hello"));
    c.send(format!("HELLO-FROM {name}\n").as_bytes());
    assert_eq!(c.read_line_with(b"\n"), format!("HELLO {name}"));
    c
}

#[test]
fn other_dialects_reach_miniserv_clients_by_their_hub_names_and_back() {
    let server = Server::start_raw(&[
        "--listen",
        "mesg=127.0.0.1:0",
        "--listen",
        "hello=127.0.0.1:0",
        "--listen",
        "miniserv=127.0.0.1:0",
        "--admin",
        "127.0.0.1:0",
    ]);
    let mut ann = joined(server.addr_of("mesg"), "ann");
    let mut m = arrive(&server, server.addr_of("miniserv"), 0);
    let users: Vec<String> = list(&mut ann).into_iter().map(|(name, _)| name).collect();
    assert_eq!(users, ["ann", "client#0"]);
    // A BCST and a MESG arrive in the subject's shape, with the name.
    ann.send_line("BCST hello there");
    expect(&mut m, b"client ann: hello there\n");
    ann.send_line("MESG client#0 just you");
    expect(&mut m, b"client ann: just you\n");
    // A miniserv line reaches mesg as a broadcast, in mesg's form (its CR
    // through rule S).
    m.send(b"yo\r\n");
    ann.expect_line("FROM client#0: yo ");
    // hello: its login is an arrival; SEND waits for delivery as always.
    let mut h = hello_login(&server, "h");
    expect(&mut m, b"server: client h just arrived\n");
    h.send(b"SEND client#0 hi m\n");
    assert_eq!(h.read_line_with(b"\n"), "SEND-OK");
    expect(&mut m, b"client h: hi m\n");
    m.send(b"to all\n");
    assert_eq!(h.read_line_with(b"\n"), "DELIVERY client#0 to all");
    ann.expect_line("FROM client#0: to all");
    // The operator speaks as the server.
    let line = server.wait_log("Operator console on ");
    let addr: SocketAddr = line.rsplit(' ').next().unwrap().parse().unwrap();
    let mut console = TcpStream::connect(addr).unwrap();
    console.write_all(b"SAY class ends at noon\n").unwrap();
    expect(&mut m, b"server: class ends at noon\n");
    ann.expect_line("FROM *server*: class ends at noon");
    // No one else can take a miniserv name.
    let mut other = Client::connect(server.addr_of("mesg"));
    other.send_line("JOIN client#1");
    other.expect_line("Invalid Username. Use \"JOIN <username>\" with letters and digits only.");
    // Miniserv comings and goings are told to miniserv clients only.
    let m2 = arrive(&server, server.addr_of("miniserv"), 1);
    expect(&mut m, &arrived(1));
    drop(m2);
    expect(&mut m, &left(1));
    sync(&mut ann);
    ann.assert_nothing_buffered();
    ann.send_line("QUIT");
    expect(&mut m, b"server: client ann just left\n");
}

// ----- the client -------------------------------------------------------

#[test]
fn the_client_sends_what_is_typed_and_prints_what_arrives() {
    let server = start(&[]);
    let port = server.addr().port();
    let mut a = arrive(&server, server.addr(), 0);
    let mut b = arrive(&server, server.addr(), 1);
    expect(&mut a, &arrived(1));
    let mut child = Command::new(CLIENT_BIN)
        .args(["miniserv", "127.0.0.1", &port.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    server.wait_log("Arrived as client#2.");
    expect(&mut a, &arrived(2));
    expect(&mut b, &arrived(2));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"hi\r\n\n").unwrap();
    expect(&mut a, b"client 2: hi\r\nclient 2: \n");
    expect(&mut b, b"client 2: hi\r\nclient 2: \n");
    a.send(b"to you\n");
    // b has it, so the client's copy was queued in the same turn.
    expect(&mut b, b"client 0: to you\n");
    // A last line without a newline goes as typed; the server drops it
    // when the client, its input over, leaves.
    stdin.write_all(b"bye").unwrap();
    drop(stdin);
    expect(&mut a, &left(2));
    expect(&mut b, &left(2));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = rx.recv_timeout(TIMEOUT).expect("the client exits").unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("client 0: to you\nServer at 127.0.0.1:{port} has disconnected\n")
    );
    b.send(b"after\n");
    expect(&mut a, b"client 1: after\n");
}
