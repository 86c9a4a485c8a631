//! The `sendto` dialect over real sockets: every rule of docs/PROTOCOLS.md
//! section 4, packet by packet.
//!
//! Packets are built and read here by hand, byte by byte, rather than with
//! the crate's own encoder: these tests check the wire, not the encoder
//! against itself.

mod common;
use common::*;
use std::net::SocketAddr;

const LOGIN: u8 = 0x01;
const LIST: u8 = 0x02;
const SENDTO: u8 = 0x03;
const LOGOUT: u8 = 0x04;
const S_LIST: u8 = 0x81;
const S_RESPONSE: u8 = 0x82;
const S_SENDTO: u8 = 0x83;

const OK: u8 = 0;
const FAILURE: u8 = 1;
const MALFORMED: u8 = 2;

fn start() -> Server {
    Server::start(&["--protocol", "sendto"])
}

/// A packet: type, u32 BE length of `body`, `body`.
fn packet(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    p.extend_from_slice(&(body.len() as u32).to_be_bytes());
    p.extend_from_slice(body);
    p
}

/// A string field: u16 BE byte count, bytes.
fn string(s: &[u8]) -> Vec<u8> {
    let mut f = (s.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(s);
    f
}

fn login(name: &str) -> Vec<u8> {
    packet(LOGIN, &string(name.as_bytes()))
}

fn list() -> Vec<u8> {
    packet(LIST, &[])
}

fn logout() -> Vec<u8> {
    packet(LOGOUT, &[])
}

fn sendto(to: &str, text: &str) -> Vec<u8> {
    let mut body = string(to.as_bytes());
    body.extend(string(text.as_bytes()));
    packet(SENDTO, &body)
}

/// Reads one packet: its type and body.
fn read_packet(c: &mut Client) -> (u8, Vec<u8>) {
    let header = c.read_bytes(5);
    let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    (header[0], c.read_bytes(len as usize))
}

fn expect_response(c: &mut Client, code: u8) {
    assert_eq!(read_packet(c), (S_RESPONSE, vec![code]));
}

fn expect_list(c: &mut Client, names: &[&str]) {
    let mut body = (names.len() as u16).to_be_bytes().to_vec();
    for name in names {
        body.extend(string(name.as_bytes()));
    }
    assert_eq!(read_packet(c), (S_LIST, body));
}

fn expect_message(c: &mut Client, from: &str, text: &str) {
    let mut body = string(from.as_bytes());
    body.extend(string(text.as_bytes()));
    assert_eq!(read_packet(c), (S_SENDTO, body));
}

/// A client logged in as `name`.
fn logged_in(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr);
    c.send(&login(name));
    expect_response(&mut c, OK);
    c
}

/// Sends `bytes`, expects `2`, then shows the connection still works: the
/// next packet's answer is the next thing to arrive.
fn expect_skipped(c: &mut Client, bytes: &[u8], still: &[&str]) {
    c.send(bytes);
    expect_response(c, MALFORMED);
    c.send(&list());
    expect_list(c, still);
}

#[test]
fn login_list_sendto_logout() {
    let server = start();
    let mut alice = logged_in(server.addr(), "alice");
    let mut bob = logged_in(server.addr(), "bob");
    alice.send(&list());
    expect_list(&mut alice, &["alice", "bob"]);
    alice.send(&sendto("bob", "hi there, bob"));
    expect_message(&mut bob, "alice", "hi there, bob");
    expect_response(&mut alice, OK);
    // Text is relayed as sent, but for control characters (TAB aside),
    // which are spaces: a line end could forge a line.
    bob.send(&sendto("alice", "héllo\nwörld\tok"));
    expect_message(&mut alice, "bob", "héllo wörld\tok");
    expect_response(&mut bob, OK);
    alice.send(&logout());
    expect_response(&mut alice, OK);
    alice.send(&list());
    expect_list(&mut alice, &["bob"]);
}

#[test]
fn list_works_without_logging_in_and_keeps_login_order() {
    let server = start();
    let mut anon = Client::connect(server.addr());
    anon.send(&list());
    // An empty list: a count of zero and nothing else.
    assert_eq!(read_packet(&mut anon), (S_LIST, vec![0, 0]));
    let _zoe = logged_in(server.addr(), "zoe");
    let _adam = logged_in(server.addr(), "adam");
    anon.send(&list());
    expect_list(&mut anon, &["zoe", "adam"]);
}

#[test]
fn login_fails_when_logged_in_already_or_the_name_is_taken() {
    let server = start();
    let mut alice = logged_in(server.addr(), "alice");
    alice.send(&login("alice2"));
    expect_response(&mut alice, FAILURE);
    let mut other = Client::connect(server.addr());
    other.send(&login("alice"));
    expect_response(&mut other, FAILURE);
    // Nothing changed, and the refused client may still log in.
    other.send(&list());
    expect_list(&mut other, &["alice"]);
    other.send(&login("Alice"));
    expect_response(&mut other, OK);
    server.wait_log("Username (alice) in use");
}

#[test]
fn login_fails_when_the_server_is_full_and_the_connection_stays() {
    let server = Server::start(&["--protocol", "sendto", "--max-users", "1"]);
    let _a = logged_in(server.addr(), "a");
    let mut b = Client::connect(server.addr());
    b.send(&login("b"));
    expect_response(&mut b, FAILURE);
    b.send(&list());
    expect_list(&mut b, &["a"]);
}

#[test]
fn names_against_the_rules_are_malformed() {
    let server = start();
    let mut c = Client::connect(server.addr());
    for bad in [
        "",
        "al ice",
        "a\tb",
        "nbsp\u{a0}",
        "zoë",
        "a,b",
        &"x".repeat(21),
    ] {
        expect_skipped(&mut c, &login(bad), &[]);
    }
    // Twenty bytes of letters, digits, '-', '_' and '.' are fine.
    c.send(&login(&"x".repeat(20)));
    expect_response(&mut c, OK);
    let mut d = Client::connect(server.addr());
    d.send(&login("zo-e_2.x"));
    expect_response(&mut d, OK);
}

#[test]
fn sendto_fails_when_not_logged_in_or_to_nobody() {
    let server = start();
    let mut bob = logged_in(server.addr(), "bob");
    let mut anon = Client::connect(server.addr());
    anon.send(&sendto("bob", "hi"));
    expect_response(&mut anon, FAILURE);
    bob.send(&sendto("nobody", "hi"));
    expect_response(&mut bob, FAILURE);
    bob.send(&sendto("Bob", "case matters"));
    expect_response(&mut bob, FAILURE);
    // Nothing reached bob: his next packet's answer is next.
    bob.send(&list());
    expect_list(&mut bob, &["bob"]);
    server.wait_log("Unknown recipient (nobody). SENDTO failed.");
}

#[test]
fn sendto_yourself_delivers_then_answers() {
    let server = start();
    let mut me = logged_in(server.addr(), "me");
    me.send(&sendto("me", "note to self"));
    expect_message(&mut me, "me", "note to self");
    expect_response(&mut me, OK);
}

#[test]
fn empty_and_longest_texts_are_delivered() {
    let server = start();
    let mut a = logged_in(server.addr(), "a");
    let mut b = logged_in(server.addr(), "b");
    a.send(&sendto("b", ""));
    expect_message(&mut b, "a", "");
    expect_response(&mut a, OK);
    let longest = "z".repeat(65535);
    a.send(&sendto("b", &longest));
    expect_message(&mut b, "a", &longest);
    expect_response(&mut a, OK);
}

#[test]
fn logout_frees_the_name_and_keeps_the_connection() {
    let server = start();
    let mut a = logged_in(server.addr(), "alice");
    a.send(&logout());
    expect_response(&mut a, OK);
    a.send(&logout());
    expect_response(&mut a, FAILURE);
    a.send(&sendto("alice", "hi"));
    expect_response(&mut a, FAILURE);
    // The name is free for anyone, this connection included.
    let mut b = logged_in(server.addr(), "alice");
    a.send(&login("alice"));
    expect_response(&mut a, FAILURE);
    a.send(&login("alice2"));
    expect_response(&mut a, OK);
    b.send(&list());
    expect_list(&mut b, &["alice", "alice2"]);
    server.wait_log("Logged out.");
}

#[test]
fn a_disconnect_frees_the_name() {
    let server = start();
    let a = logged_in(server.addr(), "alice");
    drop(a);
    server.wait_log("Disconnecting User.");
    let mut b = Client::connect(server.addr());
    b.send(&login("alice"));
    expect_response(&mut b, OK);
}

#[test]
fn malformed_packets_get_2_and_the_connection_stays_usable() {
    let server = start();
    let mut c = logged_in(server.addr(), "alice");
    let mut sendto_no_text = string(b"alice");
    sendto_no_text.push(0);
    let mut login_trailing = string(b"bob");
    login_trailing.push(b'!');
    let mut bad_text = string(b"alice");
    bad_text.extend(string(b"\xff\xfe"));
    for bad in [
        // Unknown types, including the server's own.
        packet(0x00, &[]),
        packet(0x05, b"junk"),
        packet(S_RESPONSE, &[0]),
        // A body that does not match its type.
        packet(LIST, b"x"),
        packet(LOGOUT, &[0, 0]),
        packet(LOGIN, &[]),
        packet(LOGIN, &[0, 9, b'a', b'b']),
        packet(LOGIN, &login_trailing),
        packet(SENDTO, &sendto_no_text),
        // Not UTF-8.
        packet(LOGIN, &string(b"b\xc3")),
        packet(SENDTO, &bad_text),
    ] {
        expect_skipped(&mut c, &bad, &["alice"]);
    }
    server.wait_log("Malformed LOGIN packet (type 0x01): a string is not valid UTF-8");
    server.wait_log("Unknown packet type 0x05. Answering 2.");
}

#[test]
fn a_length_over_the_limit_gets_2_and_closes_without_waiting_for_the_body() {
    let server = start();
    let mut c = logged_in(server.addr(), "alice");
    // Only the header: the answer cannot depend on a body never sent.
    let mut header = vec![SENDTO];
    header.extend_from_slice(&70_001u32.to_be_bytes());
    c.send(&header);
    expect_response(&mut c, MALFORMED);
    c.expect_closed();
    server.wait_log("Packet type 0x03 declares 70001 bytes, over 70000");
    // The name went with the connection.
    let mut d = Client::connect(server.addr());
    d.send(&list());
    expect_list(&mut d, &[]);
}

#[test]
fn a_huge_length_is_refused_the_same_way() {
    let server = start();
    let mut c = Client::connect(server.addr());
    c.send(&[0x7f, 0xff, 0xff, 0xff, 0xff, b'x']);
    expect_response(&mut c, MALFORMED);
    c.expect_closed();
}

#[test]
fn a_length_of_exactly_the_limit_is_read_and_judged_on_its_body() {
    let server = start();
    let mut c = logged_in(server.addr(), "alice");
    // A LOGIN whose 70000-byte body is a name and 69993 bytes of junk.
    let mut body = string(b"alice");
    body.resize(70_000, b'j');
    expect_skipped(&mut c, &packet(LOGIN, &body), &["alice"]);
}

#[test]
fn packets_split_into_single_bytes_are_put_back_together() {
    let server = start();
    let mut a = logged_in(server.addr(), "alice");
    let mut c = Client::connect(server.addr());
    let mut stream = login("bob");
    stream.extend(sendto("alice", "one byte at a time"));
    stream.extend(packet(0x42, b"??"));
    stream.extend(list());
    for byte in stream {
        c.send(&[byte]);
    }
    expect_response(&mut c, OK);
    expect_message(&mut a, "bob", "one byte at a time");
    expect_response(&mut c, OK);
    expect_response(&mut c, MALFORMED);
    expect_list(&mut c, &["alice", "bob"]);
}

/// The reply to a SENDTO waits until the message is in the recipient's
/// socket; a packet after it in the same read must still be answered after
/// it, or a client matching replies to requests by order is lost.
#[test]
fn a_sendto_answer_comes_before_the_next_packets_answer() {
    let server = start();
    let mut a = logged_in(server.addr(), "alice");
    let mut b = logged_in(server.addr(), "bob");
    let mut burst = sendto("bob", "first");
    burst.extend(sendto("alice", "second"));
    burst.extend(list());
    a.send(&burst);
    expect_message(&mut b, "alice", "first");
    expect_response(&mut a, OK);
    expect_message(&mut a, "alice", "second");
    expect_response(&mut a, OK);
    expect_list(&mut a, &["alice", "bob"]);
}

#[test]
fn many_packets_in_one_write_get_their_replies_in_order() {
    let server = start();
    let mut c = Client::connect(server.addr());
    let mut burst = Vec::new();
    for p in [
        list(),
        login("alice"),
        login("again"),
        list(),
        packet(0x99, &[]),
        logout(),
        logout(),
        login("alice"),
        sendto("alice", "last"),
    ] {
        burst.extend(p);
    }
    c.send(&burst);
    expect_list(&mut c, &[]);
    expect_response(&mut c, OK);
    expect_response(&mut c, FAILURE);
    expect_list(&mut c, &["alice"]);
    expect_response(&mut c, MALFORMED);
    expect_response(&mut c, OK);
    expect_response(&mut c, FAILURE);
    expect_response(&mut c, OK);
    expect_message(&mut c, "alice", "last");
    expect_response(&mut c, OK);
}

#[test]
fn status_lines_name_the_fd_and_packet_type_never_the_text() {
    let server = start();
    let mut a = logged_in(server.addr(), "alice");
    let fd_line = server.wait_log("LOGIN alice");
    assert!(fd_line.contains("Client ("), "{fd_line}");
    a.send(&sendto("alice", "the secret plan"));
    expect_message(&mut a, "alice", "the secret plan");
    expect_response(&mut a, OK);
    server.wait_log("SENDTO to alice (15 bytes)");
    assert_eq!(server.count_log("secret"), 0);
}
