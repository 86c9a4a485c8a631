//! One server, every dialect (docs/PROTOCOLS.md, "Across dialects"): four
//! listeners around one hub. Names are unique across the server, direct
//! messages and broadcasts cross dialects and arrive in each recipient's
//! own form, and user limits are counted over the whole server.

mod common;
use common::*;
use pollchat::dialect::sendto::packet::{ClientPacket, ServerPacket, Status};

fn start_all(extra: &[&str]) -> Server {
    let mut args = vec![
        "--listen",
        "mesg=127.0.0.1:0",
        "--listen",
        "hello=127.0.0.1:0",
        "--listen",
        "channels=127.0.0.1:0",
        "--listen",
        "sendto=127.0.0.1:0",
    ];
    args.extend_from_slice(extra);
    Server::start_raw(&args)
}

// ----- one client of each dialect --------------------------------------

fn hello_say(c: &mut Client, line: &str) {
    c.send(format!("{line}\n").as_bytes());
}

fn hello_expect(c: &mut Client, want: &str) {
    assert_eq!(c.read_line_with(b"\n"), want);
}

fn hello_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("hello"));
    hello_say(&mut c, &format!("HELLO-FROM {name}"));
    hello_expect(&mut c, &format!("HELLO {name}"));
    c
}

fn frame(text: &str) -> Vec<u8> {
    let mut f = text.as_bytes().to_vec();
    f.resize(200, b' ');
    f
}

fn channels_expect(c: &mut Client, want: &str) {
    let got = c.read_bytes(200);
    assert_eq!(String::from_utf8_lossy(&got).trim_end(), want);
}

/// A channels user; registration has no reply, so `/list` (whose answer
/// comes next) is the barrier that proves it happened.
fn channels_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("channels"));
    c.send(&frame(name));
    c.send(&frame(&format!("/create lobby-of-{name}")));
    c.send(&frame("/list"));
    let listing = c.read_bytes(200);
    assert!(String::from_utf8_lossy(&listing).contains("lobby-of-"));
    c
}

fn sendto_send(c: &mut Client, packet: ClientPacket<'_>) {
    let mut bytes = Vec::new();
    packet.encode(&mut bytes);
    c.send(&bytes);
}

/// Reads one server packet and returns it re-encoded as owned bytes and
/// decoded for matching.
fn sendto_read(c: &mut Client) -> Vec<u8> {
    let mut packet = c.read_bytes(5);
    let len = u32::from_be_bytes([packet[1], packet[2], packet[3], packet[4]]) as usize;
    packet.extend(c.read_bytes(len));
    packet
}

fn sendto_expect(c: &mut Client, want: ServerPacket<'_>) {
    let bytes = sendto_read(c);
    assert_eq!(ServerPacket::decode(&bytes), Ok(want));
}

fn sendto_login(server: &Server, name: &str) -> Client {
    let mut c = Client::connect(server.addr_of("sendto"));
    sendto_send(&mut c, ClientPacket::Login { name });
    sendto_expect(&mut c, ServerPacket::Response(Status::Ok));
    c
}

/// Everyone of one dialect each, registered: mesg `m`, hello `h`,
/// channels `c`, sendto `s`.
struct Four {
    server: Server,
    m: Client,
    h: Client,
    c: Client,
    s: Client,
}

fn four() -> Four {
    let server = start_all(&[]);
    let m = joined(server.addr_of("mesg"), "m");
    let h = hello_login(&server, "h");
    let c = channels_login(&server, "c");
    let s = sendto_login(&server, "s");
    Four { server, m, h, c, s }
}

// ----- tests -------------------------------------------------------------

#[test]
fn server_is_on_once_every_listener_is_bound() {
    let server = start_all(&[]);
    for dialect in ["mesg", "hello", "channels", "sendto"] {
        assert_ne!(server.addr_of(dialect).port(), 0);
    }
}

#[test]
fn a_listener_that_cannot_bind_stops_the_whole_server() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = std::process::Command::new(server_bin())
        .args([
            "--listen",
            "mesg=127.0.0.1:0",
            "--listen",
            &format!("hello=127.0.0.1:{port}"),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "it must not say Server is on");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{stderr}"
    );
}

#[test]
fn mesg_messages_reach_every_dialect_in_its_own_form() {
    let mut f = four();
    f.m.send_line("MESG h hi hello user");
    hello_expect(&mut f.h, "DELIVERY m hi hello user");
    f.m.send_line("MESG c hi channels user");
    channels_expect(&mut f.c, "[m] hi channels user");
    f.m.send_line("MESG s hi sendto user");
    sendto_expect(
        &mut f.s,
        ServerPacket::Sendto {
            from: "m",
            text: "hi sendto user",
        },
    );
    sync(&mut f.m);
    f.m.assert_nothing_buffered();
}

#[test]
fn hello_messages_reach_every_dialect_with_send_ok() {
    let mut f = four();
    hello_say(&mut f.h, "SEND m hi mesg user");
    f.m.expect_line("FROM h: hi mesg user");
    hello_expect(&mut f.h, "SEND-OK");
    hello_say(&mut f.h, "SEND c hi channels user");
    channels_expect(&mut f.c, "[h] hi channels user");
    hello_expect(&mut f.h, "SEND-OK");
    hello_say(&mut f.h, "SEND s hi sendto user");
    sendto_expect(
        &mut f.s,
        ServerPacket::Sendto {
            from: "h",
            text: "hi sendto user",
        },
    );
    hello_expect(&mut f.h, "SEND-OK");
}

#[test]
fn sendto_messages_reach_every_dialect_with_a_response() {
    let mut f = four();
    for (to, check) in [("m", 0), ("h", 1), ("c", 2)] {
        sendto_send(
            &mut f.s,
            ClientPacket::Sendto {
                to,
                text: "from a packet",
            },
        );
        match check {
            0 => f.m.expect_line("FROM s: from a packet"),
            1 => hello_expect(&mut f.h, "DELIVERY s from a packet"),
            _ => channels_expect(&mut f.c, "[s] from a packet"),
        }
        sendto_expect(&mut f.s, ServerPacket::Response(Status::Ok));
    }
}

#[test]
fn a_bcst_reaches_every_other_user_of_every_dialect() {
    let mut f = four();
    let mut m2 = joined(f.server.addr_of("mesg"), "m2");
    f.m.send_line("BCST to everyone");
    m2.expect_line("FROM m: to everyone");
    hello_expect(&mut f.h, "DELIVERY m to everyone");
    channels_expect(&mut f.c, "[m] to everyone");
    sendto_expect(
        &mut f.s,
        ServerPacket::Sendto {
            from: "m",
            text: "to everyone",
        },
    );
    sync(&mut f.m);
    f.m.assert_nothing_buffered();
}

#[test]
fn a_name_taken_in_one_dialect_is_refused_by_every_other_in_its_own_way() {
    let f = four();
    let mesg_fd = list(&mut joined(f.server.addr_of("mesg"), "probe"))
        .into_iter()
        .find(|(name, _)| name == "m")
        .map(|(_, fd)| fd)
        .unwrap();
    // hello: IN-USE, then the connection is closed.
    let mut h2 = Client::connect(f.server.addr_of("hello"));
    hello_say(&mut h2, "HELLO-FROM m");
    hello_expect(&mut h2, "IN-USE");
    h2.expect_closed();
    // channels: the name-in-use notice, then the connection is closed.
    let mut c2 = Client::connect(f.server.addr_of("channels"));
    c2.send(&frame("h"));
    channels_expect(&mut c2, "Name h is already in use.");
    c2.expect_closed();
    // sendto: LOGIN fails, the connection stays.
    let mut s2 = Client::connect(f.server.addr_of("sendto"));
    sendto_send(&mut s2, ClientPacket::Login { name: "c" });
    sendto_expect(&mut s2, ServerPacket::Response(Status::Failure));
    // mesg: the holder is named with its fd.
    let mut m2 = Client::connect(f.server.addr_of("mesg"));
    m2.send_line("JOIN s");
    let reply = m2.read_line();
    assert!(
        reply.starts_with("User Already Registered: Username (s), FD ("),
        "{reply}"
    );
    m2.send_line("JOIN m");
    m2.expect_line(&format!(
        "User Already Registered: Username (m), FD ({mesg_fd})"
    ));
}

#[test]
fn every_list_shows_every_dialects_users() {
    let mut f = four();
    let names: Vec<String> = list(&mut f.m).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["m", "h", "c", "s"]);
    hello_say(&mut f.h, "LIST");
    hello_expect(&mut f.h, "LIST-OK m,h,c,s");
    sendto_send(&mut f.s, ClientPacket::List);
    sendto_expect(&mut f.s, ServerPacket::List(vec!["m", "h", "c", "s"]));
}

#[test]
fn one_dialects_users_never_lock_another_out() {
    let server = start_all(&[]);
    // Sixteen idle channels users and ten sendto users (dialects with no
    // limit of their own) once made every JOIN `Too Many Users` and every
    // HELLO-FROM `BUSY`, for good.
    let _channels: Vec<Client> = (0..16)
        .map(|i| channels_login(&server, &format!("c{i}")))
        .collect();
    let _sendto: Vec<Client> = (0..10)
        .map(|i| sendto_login(&server, &format!("s{i}")))
        .collect();
    // mesg's ten and hello's sixteen are counted over their own users.
    let _mesg: Vec<Client> = (0..10)
        .map(|i| joined(server.addr_of("mesg"), &format!("m{i}")))
        .collect();
    let _hello: Vec<Client> = (0..16)
        .map(|i| hello_login(&server, &format!("h{i}")))
        .collect();
    // And each still holds for its own.
    let mut m = Client::connect(server.addr_of("mesg"));
    m.send_line("JOIN m10");
    m.expect_line("Too Many Users. Disconnecting User.");
    m.expect_closed();
    let mut h = Client::connect(server.addr_of("hello"));
    hello_say(&mut h, "HELLO-FROM h16");
    hello_expect(&mut h, "BUSY");
    h.expect_closed();
}

#[test]
fn max_users_sets_one_limit_for_every_listener() {
    let server = start_all(&["--max-users", "2"]);
    let _m = joined(server.addr_of("mesg"), "m");
    let _h = hello_login(&server, "h");
    let mut s = Client::connect(server.addr_of("sendto"));
    sendto_send(&mut s, ClientPacket::Login { name: "s" });
    sendto_expect(&mut s, ServerPacket::Response(Status::Failure));
    let mut h2 = Client::connect(server.addr_of("hello"));
    hello_say(&mut h2, "HELLO-FROM h2");
    hello_expect(&mut h2, "BUSY");
    h2.expect_closed();
}

#[test]
fn status_lines_name_the_listener_a_connection_came_through() {
    let f = four();
    for dialect in ["mesg", "hello", "channels", "sendto"] {
        f.server
            .wait_log(&format!("Connection Accepted ({dialect})"));
    }
}
