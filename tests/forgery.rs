//! Nobody can forge lines or take over a terminal (issue 11, item 10): text
//! one user chose reaches other users, and the log, only made harmless.
//! Each test reproduces one attack, small, on a server with every dialect.

mod common;
use common::*;
use pollchat::dialect::sendto::packet::{ClientPacket, ServerPacket, Status};
use std::io::Write;
use std::process::{Command, Stdio};

fn start_all() -> Server {
    Server::start_raw(&[
        "--listen",
        "mesg=127.0.0.1:0",
        "--listen",
        "hello=127.0.0.1:0",
        "--listen",
        "channels=127.0.0.1:0",
        "--listen",
        "sendto=127.0.0.1:0",
    ])
}

// ----- one client of each dialect (as in tests/across.rs) -----------------

fn hello_send(c: &mut Client, line: &[u8]) {
    c.send(&[line, b"\n"].concat());
}

fn hello_expect(c: &mut Client, want: &str) {
    assert_eq!(c.read_line_with(b"\n"), want);
}

fn hello_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("hello"));
    hello_send(&mut c, format!("HELLO-FROM {name}").as_bytes());
    hello_expect(&mut c, &format!("HELLO {name}"));
    c
}

fn frame(text: &[u8]) -> Vec<u8> {
    assert!(text.len() <= 200, "a test frame must fit");
    let mut f = text.to_vec();
    f.resize(200, b' ');
    f
}

/// Reads one frame and checks it is exactly `want`, padded.
fn channels_expect(c: &mut Client, want: &[u8]) {
    let got = c.read_bytes(200);
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(&frame(want))
    );
    assert_eq!(got, frame(want));
}

const JOIN_REQUIRES: &[u8] = b"/join command must be followed by the name of a channel to join.";
const CREATE_REQUIRES: &[u8] =
    b"/create command must be followed by the name of a channel to create";

/// A channels barrier: a bare `/join` is answered with one frame and
/// changes nothing, so once it is read nothing else was sent before it.
fn channels_barrier(c: &mut Client) {
    c.send(&frame(b"/join"));
    channels_expect(c, JOIN_REQUIRES);
}

/// A channels user in channel `room` (created if `create`).
fn channels_in(server: &Server, name: &str, room: &str, create: bool) -> Client {
    let mut c = Client::connect(server.addr_of("channels"));
    c.send(&frame(name.as_bytes()));
    let verb = if create { "/create" } else { "/join" };
    c.send(&frame(format!("{verb} {room}").as_bytes()));
    channels_barrier(&mut c);
    c
}

fn sendto_send(c: &mut Client, packet: ClientPacket<'_>) {
    let mut bytes = Vec::new();
    packet.encode(&mut bytes);
    c.send(&bytes);
}

fn sendto_expect(c: &mut Client, want: ServerPacket<'_>) {
    let mut packet = c.read_bytes(5);
    let len = u32::from_be_bytes([packet[1], packet[2], packet[3], packet[4]]) as usize;
    packet.extend(c.read_bytes(len));
    assert_eq!(ServerPacket::decode(&packet), Ok(want));
}

fn sendto_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("sendto"));
    sendto_send(&mut c, ClientPacket::Login { name });
    sendto_expect(&mut c, ServerPacket::Response(Status::Ok));
    c
}

/// After a `mesg` user's PING, exactly `want` and then `PONG` must be what
/// it has been sent: byte for byte, nothing before, between or after.
fn mesg_expect_raw(c: &mut Client, want: &[u8]) {
    c.send_line("PING");
    let all = [want, b"PONG\r\n"].concat();
    let got = c.read_bytes(all.len());
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(&all));
    assert_eq!(got, all);
}

// ----- the attacks -----------------------------------------------------------

/// RFC 854: 0xFF is telnet's command byte (IAC). A raw `IAC SB` in a
/// message would make a telnet user's client swallow everything after it.
#[test]
fn a_telnet_user_gets_every_0xff_doubled() {
    let server = start_all();
    let mut reader = joined(server.addr_of("mesg"), "reader");
    // A hello user's bytes reach the hub as they are.
    let mut h = hello_login(&server, "h");
    hello_send(&mut h, b"SEND reader a\xff\xfab");
    hello_expect(&mut h, "SEND-OK");
    mesg_expect_raw(&mut reader, b"FROM h: a\xff\xff\xfab\r\n");
    // A mesg user types 0xFF as telnet sends it, IAC IAC: one data byte.
    let mut m = joined(server.addr_of("mesg"), "m");
    m.send(b"MESG reader \xff\xff\xfa\r\n");
    sync(&mut m);
    mesg_expect_raw(&mut reader, b"FROM m: \xff\xff\xfa\r\n");
}

/// A Python hello client splits lines at a lone CR too: a CR in a DELIVERY
/// would show the rest as a second DELIVERY from whoever it names.
#[test]
fn a_carriage_return_cannot_split_a_hello_delivery() {
    let server = start_all();
    let mut bob = hello_login(&server, "bob");
    let mut eve = hello_login(&server, "eve");
    hello_send(
        &mut eve,
        b"SEND bob x\rDELIVERY alice please send me your password",
    );
    hello_expect(&mut eve, "SEND-OK");
    hello_expect(
        &mut bob,
        "DELIVERY eve x DELIVERY alice please send me your password",
    );
    let mut s = sendto_login(&server, "s");
    sendto_send(
        &mut s,
        ClientPacket::Sendto {
            to: "bob",
            text: "y\r\nDELIVERY alice z",
        },
    );
    sendto_expect(&mut s, ServerPacket::Response(Status::Ok));
    hello_expect(&mut bob, "DELIVERY s y  DELIVERY alice z");
}

/// A channels frame is shown as one message; an LF inside it would show
/// the rest as a line of its own, `[carol] ...` from someone else.
#[test]
fn a_line_feed_cannot_forge_a_channels_line() {
    let server = start_all();
    let mut alice = channels_in(&server, "alice", "tas", true);
    let mut bob = channels_in(&server, "bob", "tas", false);
    channels_expect(&mut alice, b"bob has joined");
    bob.send(&frame(b"hi\n[carol] forged\r\n[dave] too"));
    channels_expect(&mut alice, b"[bob] hi [carol] forged  [dave] too");
    let mut s = sendto_login(&server, "s");
    sendto_send(
        &mut s,
        ClientPacket::Sendto {
            to: "alice",
            text: "hey\n[carol] forged",
        },
    );
    sendto_expect(&mut s, ServerPacket::Response(Status::Ok));
    channels_expect(&mut alice, b"[s] hey [carol] forged");
    channels_barrier(&mut bob);
}

/// ESC, OSC, BEL, NUL and a C1 CSI could erase the sender's prefix, set a
/// terminal's title or worse: each byte reaches no recipient of any
/// dialect, and is a space instead.
#[test]
fn escape_sequences_reach_no_recipient() {
    let server = start_all();
    let mut m2 = joined(server.addr_of("mesg"), "m2");
    let mut h = hello_login(&server, "h");
    let mut c = channels_in(&server, "c", "room", true);
    let mut s = sendto_login(&server, "s");
    let mut m = joined(server.addr_of("mesg"), "m");
    m.send(b"BCST a\x1b]0;pwned\x07\x1b[2Kb\x00c\x7fd\xc2\x9b2Je\tf\r\n");
    sync(&mut m);
    let clean = "a ]0;pwned  [2Kb c d  2Je\tf";
    mesg_expect_raw(&mut m2, format!("FROM m: {clean}\r\n").as_bytes());
    hello_expect(&mut h, &format!("DELIVERY m {clean}"));
    channels_expect(&mut c, format!("[m] {clean}").as_bytes());
    sendto_expect(
        &mut s,
        ServerPacket::Sendto {
            from: "m",
            text: clean,
        },
    );
    // Between channels users too.
    let mut d = channels_in(&server, "d", "room", false);
    channels_expect(&mut c, b"d has joined");
    d.send(&frame(b"\x1b[1;1H\x1b[2Jgotcha\x1b]0;x\x07"));
    channels_expect(&mut c, b"[d]  [1;1H [2Jgotcha ]0;x");
}

/// A name or word the server echoes back was chosen by the client: it is
/// sanitised like any relayed text.
#[test]
fn echoed_names_and_words_are_sanitised() {
    let server = start_all();
    let mut m = joined(server.addr_of("mesg"), "m");
    m.send(b"MESG a\x1b[2Jb hi\r\n");
    mesg_expect_raw(&mut m, b"Unknown Recipient (a [2Jb). MESG Discarded.\r\n");
    let mut c = channels_in(&server, "c", "room", true);
    c.send(&frame(b"/x\x1b[2J\x07 more"));
    channels_expect(
        &mut c,
        b"/x [2J  is not a valid control message. Valid messages are /create, /list, and /join.",
    );
}

/// A channel name is printable ASCII: `/list` joins names with LF, so a
/// name with one would show as two channels.
#[test]
fn a_channel_name_cannot_hold_a_control_character() {
    let server = start_all();
    let mut c = channels_in(&server, "c", "real", true);
    for bad in [
        &b"/create real\nfake-room"[..],
        b"/create bell\x07",
        b"/create tab\there",
        b"/create zo\xc3\xab",
        b"/create caf\xe9",
    ] {
        c.send(&frame(bad));
        channels_expect(&mut c, CREATE_REQUIRES);
    }
    c.send(&frame(b"/join real\nfake-room"));
    channels_expect(&mut c, JOIN_REQUIRES);
    c.send(&frame(b"/join esc\x1b[2J"));
    channels_expect(&mut c, JOIN_REQUIRES);
    // Any other name that names no channel is just that.
    c.send(&frame("/join zoë".as_bytes()));
    channels_expect(
        &mut c,
        "No channel named zoë exists. Try '/create zoë'?".as_bytes(),
    );
    c.send(&frame(b"/list"));
    channels_expect(&mut c, b"real");
    channels_barrier(&mut c);
}

/// Nothing a client sends can put a line of its own, or a control
/// character, into the server's log.
#[test]
fn no_status_line_can_be_forged() {
    let server = start_all();
    let forged = "Client (9): Disconnecting User.";
    let mut c = channels_in(&server, "c", "room", true);
    for text in ["/create a\n", "/join a\n", "/x\n", "/create a\r"] {
        c.send(&frame(format!("{text}{forged}").as_bytes()));
        c.read_bytes(200);
    }
    let mut h = hello_login(&server, "h");
    hello_send(&mut h, format!("SEND h\r{forged} hi").as_bytes());
    hello_expect(&mut h, "BAD-DEST-USER");
    let mut m = joined(server.addr_of("mesg"), "m");
    m.send(b"MESG a\x1b[2J\x07b hi\r\nJOIN \x1b]0;x\x07\r\n");
    m.read_line();
    m.read_line();
    let mut s = Client::connect(server.addr_of("sendto"));
    sendto_send(
        &mut s,
        ClientPacket::Login {
            name: &format!("a\n{forged}"),
        },
    );
    sendto_expect(&mut s, ServerPacket::Response(Status::Malformed));
    // Lines are logged in order: once this one is there, so are the rest.
    m.send_line("PING");
    m.expect_line("PONG");
    server.wait_log_count("): PING", 1);
    for line in server.log_lines() {
        assert!(line != forged, "a forged status line: {line:?}");
        assert!(
            line.len() > 4 && line.as_bytes()[..4].iter().all(u8::is_ascii_digit),
            "a line without a timestamp: {line:?}"
        );
        assert!(
            !line.chars().any(char::is_control),
            "a control character in {line:?}"
        );
    }
}

/// Names are shared by every dialect: one with a space could forge a
/// `<name> has joined` notice, a comma would split `hello`'s `LIST-OK`,
/// and a non-ASCII one can be invisible or pass for another.
#[test]
fn names_another_dialect_could_not_show_are_refused() {
    let server = start_all();
    let mut s = Client::connect(server.addr_of("sendto"));
    for bad in ["a,b", "zoë", "a!b", "x has", "\u{202e}evil"] {
        sendto_send(&mut s, ClientPacket::Login { name: bad });
        sendto_expect(&mut s, ServerPacket::Response(Status::Malformed));
    }
    for bad in [
        &b"Ana Lu"[..],
        b"a,b",
        "zoë".as_bytes(),
        b"/list",
        b"x has left",
    ] {
        let mut c = Client::connect(server.addr_of("channels"));
        c.send(&frame(bad));
        c.expect_closed();
    }
    let _ok = sendto_login(&server, "s-1.x_y");
    let _ok2 = channels_in(&server, "c-2.x_y", "room", true);
    let mut h = hello_login(&server, "h");
    hello_send(&mut h, b"LIST");
    hello_expect(&mut h, "LIST-OK s-1.x_y,c-2.x_y,h");
}

/// The sendto client checks a name by the server's rule before sending it,
/// so it never sends a LOGIN the server calls malformed.
#[test]
fn the_sendto_client_refuses_names_the_server_would() {
    let server = start_all();
    let addr = server.addr_of("sendto");
    let mut child = Command::new(CLIENT_BIN)
        .args(["sendto", &addr.ip().to_string(), &addr.port().to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start pollchat-client");
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all("login zoë\nlogin a,b\nsendto a,b hi\nlogin ok\nlist\n".as_bytes())
        .unwrap();
    drop(stdin);
    // At the end of its input the client exits once it has its replies.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    let out = rx.recv_timeout(TIMEOUT).expect("the client did not exit");
    let out = out.unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Bad username\nBad username\nBad username\nSuccess\nok\n"
    );
}
