//! `sendto` servers (the CS3560 chatroom): every row of docs/PROTOCOLS.md
//! section 4 and the robustness battery. The packet layout is
//! docs/PROTOCOLS.md's (the assignment published none); packets are built
//! and read with the library's codec, which is that layout, and the
//! malformed ones by hand.
//!
//! LIST is the barrier: every packet gets exactly one reply, in order, so
//! once LIST's answer is read nothing else came before it.

use super::{eventually, garbage, set, sorted, Flood, Sequences, FLOOD_CAP};
use crate::case::{ensure, same, Case, Ctx, Dialect, Fail, Role, R};
use crate::net::{Conn, Opts};
use crate::transcript::show;
use pollchat::dialect::sendto::packet::{
    ClientPacket, ServerPacket, Status, LIST, LOGIN, LOGOUT, SENDTO, SERVER_RESPONSE,
};
use std::time::Duration;

/// Longest body pollchat-check reads from a server; a longer one is
/// reported, not read.
const MAX_READ: usize = 1 << 20;

fn raw(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    p.extend_from_slice(&(body.len() as u32).to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn string(s: &[u8]) -> Vec<u8> {
    let mut f = (s.len() as u16).to_be_bytes().to_vec();
    f.extend_from_slice(s);
    f
}

fn encode(p: ClientPacket<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode(&mut out);
    out
}

fn login_packet(name: &str) -> Vec<u8> {
    encode(ClientPacket::Login { name })
}

fn list_packet() -> Vec<u8> {
    encode(ClientPacket::List)
}

fn logout_packet() -> Vec<u8> {
    encode(ClientPacket::Logout)
}

fn sendto_packet(to: &str, text: &str) -> Vec<u8> {
    encode(ClientPacket::Sendto { to, text })
}

/// One whole packet from the server, header included.
fn read_packet(c: &mut Conn) -> R<Vec<u8>> {
    let mut p = c.exact(5, "a packet header")?;
    let len = u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize;
    if len > MAX_READ {
        return Err(Fail::new(
            format!("{}: a packet declares {len} bytes", c.label),
            "a packet of at most 1 MiB",
            show(&p),
        ));
    }
    p.extend(c.exact(len, &format!("a body of {len} bytes"))?);
    Ok(p)
}

fn expect_packet(c: &mut Conn, want: ServerPacket<'_>) -> R {
    let p = read_packet(c)?;
    match ServerPacket::decode(&p) {
        Ok(got) if got == want => Ok(()),
        Ok(got) => Err(Fail::new(
            format!("{}: wrong packet", c.label),
            format!("{want:?}"),
            format!("{got:?}"),
        )),
        Err(e) => Err(Fail::new(
            format!("{}: a packet that does not decode ({e})", c.label),
            format!("{want:?}"),
            show(&p),
        )),
    }
}

fn expect_response(c: &mut Conn, status: Status) -> R {
    expect_packet(c, ServerPacket::Response(status))
}

fn expect_message(c: &mut Conn, from: &str, text: &str) -> R {
    expect_packet(c, ServerPacket::Sendto { from, text })
}

/// LIST: the names, in the order given.
fn who(c: &mut Conn) -> R<Vec<String>> {
    c.send(&list_packet())?;
    let p = read_packet(c)?;
    match ServerPacket::decode(&p) {
        Ok(ServerPacket::List(names)) => Ok(names.into_iter().map(str::to_string).collect()),
        _ => Err(Fail::new(
            format!("{}: LIST was not answered with a LIST packet", c.label),
            "81 <count> <names>",
            show(&p),
        )),
    }
}

fn barrier(c: &mut Conn) -> R {
    who(c).map(drop)
}

fn logged_in(ctx: &Ctx, name: &str) -> R<Conn> {
    logged_in_with(ctx, name, Opts::default())
}

fn logged_in_with(ctx: &Ctx, name: &str, opts: Opts) -> R<Conn> {
    let mut c = ctx.connect_with(name, opts)?;
    c.send(&login_packet(name))?;
    expect_response(&mut c, Status::Ok)?;
    Ok(c)
}

/// `bytes` gets `2` and is skipped: the connection still works.
fn expect_skipped(c: &mut Conn, bytes: &[u8], still: &[&str]) -> R {
    c.send(bytes)?;
    expect_response(c, Status::Malformed)?;
    same("the connection still works", set(still), sorted(who(c)?))
}

fn still_serves(ctx: &Ctx) -> R {
    let mut c = logged_in(ctx, "latecomer")?;
    barrier(&mut c)
}

// ----- LOGIN --------------------------------------------------------------------

fn login_ok(ctx: &mut Ctx) -> R {
    let mut alice = logged_in(ctx, "alice")?;
    same(
        "LIST after LOGIN",
        set(&["alice"]),
        sorted(who(&mut alice)?),
    )
}

fn login_twice(ctx: &mut Ctx) -> R {
    let mut alice = logged_in(ctx, "alice")?;
    alice.send(&login_packet("alice2"))?;
    expect_response(&mut alice, Status::Failure)?;
    same("nothing changed", set(&["alice"]), sorted(who(&mut alice)?))
}

fn login_taken(ctx: &mut Ctx) -> R {
    let _alice = logged_in(ctx, "alice")?;
    let mut other = ctx.connect("other")?;
    other.send(&login_packet("alice"))?;
    expect_response(&mut other, Status::Failure)?;
    same("nothing changed", set(&["alice"]), sorted(who(&mut other)?))?;
    // The connection stays, and names are case-sensitive.
    other.send(&login_packet("Alice"))?;
    expect_response(&mut other, Status::Ok)
}

fn login_malformed_name(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    for bad in ["", "al ice", "a\tb", "zo\u{eb}", "a,b", &"x".repeat(21)] {
        expect_skipped(&mut c, &login_packet(bad), &[])?;
    }
    c.send(&login_packet(&"x".repeat(20)))?;
    expect_response(&mut c, Status::Ok)?;
    let mut d = ctx.connect("d")?;
    d.send(&login_packet("zo-e_2.x"))?;
    expect_response(&mut d, Status::Ok)
}

// ----- LIST ------------------------------------------------------------------------

fn list(ctx: &mut Ctx) -> R {
    let mut zoe = logged_in(ctx, "zoe")?;
    let _adam = logged_in(ctx, "adam")?;
    same(
        "every user logged in",
        set(&["zoe", "adam"]),
        sorted(who(&mut zoe)?),
    )
}

fn list_anyone(ctx: &mut Ctx) -> R {
    let mut anon = ctx.connect("anon")?;
    same(
        "LIST before any login",
        Vec::<String>::new(),
        who(&mut anon)?,
    )?;
    let _zoe = logged_in(ctx, "zoe")?;
    same(
        "LIST without logging in",
        set(&["zoe"]),
        sorted(who(&mut anon)?),
    )
}

fn list_order(ctx: &mut Ctx) -> R {
    let mut zed = logged_in(ctx, "zed")?;
    let _amy = logged_in(ctx, "amy")?;
    let _max = logged_in(ctx, "max")?;
    same(
        "LIST in login order",
        vec!["zed".to_string(), "amy".into(), "max".into()],
        who(&mut zed)?,
    )
}

fn list_format(ctx: &mut Ctx) -> R {
    let mut anon = ctx.connect("anon")?;
    anon.send(&list_packet())?;
    anon.expect_bytes(
        &[0x81, 0, 0, 0, 2, 0, 0],
        "an empty LIST is a count of zero",
    )?;
    let _al = logged_in(ctx, "al")?;
    anon.send(&list_packet())?;
    anon.expect_bytes(
        &[0x81, 0, 0, 0, 6, 0, 1, 0, 2, b'a', b'l'],
        "a LIST packet, byte for byte",
    )?;
    let mut me = ctx.connect("me")?;
    me.send(&login_packet("me"))?;
    me.expect_bytes(&[0x82, 0, 0, 0, 1, 0], "a RESPONSE packet, byte for byte")
}

// ----- SENDTO ------------------------------------------------------------------------

fn sendto_delivered(ctx: &mut Ctx) -> R {
    let mut alice = logged_in(ctx, "alice")?;
    let mut bob = logged_in(ctx, "bob")?;
    let mut carol = logged_in(ctx, "carol")?;
    alice.send(&sendto_packet("bob", "hi there,  bob "))?;
    expect_message(&mut bob, "alice", "hi there,  bob ")?;
    expect_response(&mut alice, Status::Ok)?;
    barrier(&mut bob)?;
    barrier(&mut carol)
}

fn sendto_not_logged_in(ctx: &mut Ctx) -> R {
    let mut bob = logged_in(ctx, "bob")?;
    let mut anon = ctx.connect("anon")?;
    anon.send(&sendto_packet("bob", "hi"))?;
    expect_response(&mut anon, Status::Failure)?;
    barrier(&mut bob)
}

fn sendto_unknown(ctx: &mut Ctx) -> R {
    let mut bob = logged_in(ctx, "bob")?;
    for to in ["nobody", "Bob"] {
        bob.send(&sendto_packet(to, "hi"))?;
        expect_response(&mut bob, Status::Failure)?;
    }
    barrier(&mut bob)
}

fn sendto_self(ctx: &mut Ctx) -> R {
    let mut me = logged_in(ctx, "me")?;
    me.send(&sendto_packet("me", "note to self"))?;
    expect_message(&mut me, "me", "note to self")?;
    expect_response(&mut me, Status::Ok)
}

fn sendto_empty_recipient(ctx: &mut Ctx) -> R {
    let mut me = logged_in(ctx, "me")?;
    expect_skipped(&mut me, &sendto_packet("", "hi"), &["me"])
}

fn sendto_text_limits(ctx: &mut Ctx) -> R {
    let mut a = logged_in(ctx, "a")?;
    let mut b = logged_in(ctx, "b")?;
    a.send(&sendto_packet("b", ""))?;
    expect_message(&mut b, "a", "")?;
    expect_response(&mut a, Status::Ok)?;
    let longest = "z".repeat(65535);
    a.send(&sendto_packet("b", &longest))?;
    expect_message(&mut b, "a", &longest)?;
    expect_response(&mut a, Status::Ok)
}

fn sendto_receipt_order(ctx: &mut Ctx) -> R {
    let mut a = logged_in(ctx, "alice")?;
    let mut b = logged_in(ctx, "bob")?;
    let burst = [
        sendto_packet("bob", "first"),
        sendto_packet("alice", "second"),
        list_packet(),
    ]
    .concat();
    a.send(&burst)?;
    expect_message(&mut b, "alice", "first")?;
    expect_response(&mut a, Status::Ok)?;
    expect_message(&mut a, "alice", "second")?;
    expect_response(&mut a, Status::Ok)?;
    expect_packet(&mut a, ServerPacket::List(vec!["alice", "bob"]))
}

// ----- LOGOUT, disconnects --------------------------------------------------------------

fn logout(ctx: &mut Ctx) -> R {
    let mut a = logged_in(ctx, "alice")?;
    a.send(&logout_packet())?;
    expect_response(&mut a, Status::Ok)?;
    same("LIST after LOGOUT", Vec::<String>::new(), who(&mut a)?)?;
    // The connection stays: it may log in again.
    a.send(&login_packet("alice"))?;
    expect_response(&mut a, Status::Ok)
}

fn logout_not_logged_in(ctx: &mut Ctx) -> R {
    let mut a = ctx.connect("anon")?;
    a.send(&logout_packet())?;
    expect_response(&mut a, Status::Failure)?;
    let mut b = logged_in(ctx, "alice")?;
    b.send(&logout_packet())?;
    expect_response(&mut b, Status::Ok)?;
    b.send(&logout_packet())?;
    expect_response(&mut b, Status::Failure)
}

fn disconnect_frees_name(ctx: &mut Ctx) -> R {
    let a = logged_in(ctx, "alice")?;
    let mut b = logged_in(ctx, "bob")?;
    a.close();
    eventually(ctx, || {
        same("alice is gone", set(&["bob"]), sorted(who(&mut b)?))
    })?;
    logged_in(ctx, "alice").map(drop)
}

// ----- malformed packets ----------------------------------------------------------------

fn malformed_type(ctx: &mut Ctx) -> R {
    let mut c = logged_in(ctx, "alice")?;
    for p in [
        raw(0x00, &[]),
        raw(0x05, b"junk"),
        raw(SERVER_RESPONSE, &[0]),
        raw(0x81, &[0, 0]),
        raw(0xff, &[]),
    ] {
        expect_skipped(&mut c, &p, &["alice"])?;
    }
    Ok(())
}

fn malformed_body(ctx: &mut Ctx) -> R {
    let mut c = logged_in(ctx, "alice")?;
    let mut sendto_no_text = string(b"alice");
    sendto_no_text.push(0);
    let mut login_trailing = string(b"bob");
    login_trailing.push(b'!');
    for p in [
        raw(LIST, b"x"),
        raw(LOGOUT, &[0, 0]),
        raw(LOGIN, &[]),
        raw(LOGIN, &[0, 9, b'a', b'b']),
        raw(LOGIN, &login_trailing),
        raw(SENDTO, &sendto_no_text),
    ] {
        expect_skipped(&mut c, &p, &["alice"])?;
    }
    Ok(())
}

fn malformed_utf8(ctx: &mut Ctx) -> R {
    let mut c = logged_in(ctx, "alice")?;
    let mut bad_text = string(b"alice");
    bad_text.extend(string(b"\xff\xfe"));
    expect_skipped(&mut c, &raw(LOGIN, &string(b"b\xc3")), &["alice"])?;
    expect_skipped(&mut c, &raw(SENDTO, &bad_text), &["alice"])
}

fn length_over_limit(ctx: &mut Ctx) -> R {
    let mut c = logged_in(ctx, "alice")?;
    // The header only: the answer cannot wait for a body never sent.
    let mut header = vec![SENDTO];
    header.extend_from_slice(&70_001u32.to_be_bytes());
    c.send(&header)?;
    expect_response(&mut c, Status::Malformed)?;
    c.expect_closed("a length over 70000 closes the connection")?;
    let mut d = ctx.connect("d")?;
    eventually(ctx, || {
        same("the name went with it", Vec::<String>::new(), who(&mut d)?)
    })
}

fn length_at_limit(ctx: &mut Ctx) -> R {
    let mut c = logged_in(ctx, "alice")?;
    let mut body = string(b"alice");
    body.resize(70_000, b'j');
    expect_skipped(&mut c, &raw(LOGIN, &body), &["alice"])
}

fn one_reply_each(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    let burst = [
        list_packet(),
        login_packet("alice"),
        login_packet("again"),
        list_packet(),
        raw(0x99, &[]),
        logout_packet(),
        logout_packet(),
        login_packet("alice"),
        sendto_packet("alice", "last"),
    ]
    .concat();
    c.send(&burst)?;
    expect_packet(&mut c, ServerPacket::List(vec![]))?;
    expect_response(&mut c, Status::Ok)?;
    expect_response(&mut c, Status::Failure)?;
    expect_packet(&mut c, ServerPacket::List(vec!["alice"]))?;
    expect_response(&mut c, Status::Malformed)?;
    expect_response(&mut c, Status::Ok)?;
    expect_response(&mut c, Status::Failure)?;
    expect_response(&mut c, Status::Ok)?;
    expect_message(&mut c, "alice", "last")?;
    expect_response(&mut c, Status::Ok)?;
    barrier(&mut c)
}

fn sanitize(ctx: &mut Ctx) -> R {
    let mut alice = logged_in(ctx, "alice")?;
    let mut bob = logged_in(ctx, "bob")?;
    bob.send(&sendto_packet(
        "alice",
        "h\u{e9}llo\nw\u{f6}rld\tok\u{1b}[2J",
    ))?;
    expect_message(&mut alice, "bob", "h\u{e9}llo w\u{f6}rld\tok [2J")?;
    expect_response(&mut bob, Status::Ok)
}

// ----- robustness -----------------------------------------------------------------------

fn byte_by_byte(ctx: &mut Ctx) -> R {
    let mut a = logged_in(ctx, "alice")?;
    let mut c = ctx.connect("slow")?;
    let stream = [
        login_packet("bob"),
        sendto_packet("alice", "one byte at a time"),
        raw(0x42, b"??"),
        list_packet(),
    ]
    .concat();
    c.send_pieces(&stream, 1, Duration::from_millis(1))?;
    expect_response(&mut c, Status::Ok)?;
    expect_message(&mut a, "bob", "one byte at a time")?;
    expect_response(&mut c, Status::Ok)?;
    expect_response(&mut c, Status::Malformed)?;
    let names = read_packet(&mut c)?;
    ensure(
        matches!(ServerPacket::decode(&names), Ok(ServerPacket::List(ref n)) if n.len() == 2),
        "LIST after the pieces",
        "a LIST of alice and bob",
        &show(&names),
    )
}

fn pipelined(ctx: &mut Ctx) -> R {
    const SENDERS: usize = 5;
    const EACH: usize = 100;
    let mut r = logged_in(ctx, "r")?;
    let names: Vec<String> = (0..SENDERS).map(|i| format!("s{i}")).collect();
    let mut senders = Vec::new();
    for n in &names {
        senders.push(logged_in(ctx, n)?);
    }
    for (n, c) in names.iter().zip(senders.iter_mut()) {
        let burst: Vec<u8> = (0..EACH)
            .flat_map(|seq| sendto_packet("r", &format!("{n} {seq}")))
            .collect();
        c.send(&burst)?;
    }
    let mut seqs = Sequences::default();
    for got in 0..SENDERS * EACH {
        let p = read_packet(&mut r).map_err(super::short("r", got, SENDERS * EACH))?;
        let Ok(ServerPacket::Sendto { from, text }) = ServerPacket::decode(&p) else {
            return Err(Fail::new(
                "r: not a message",
                "83 <sender> <text>",
                show(&p),
            ));
        };
        let Some((sender, seq)) = super::parse_seq(text.as_bytes()) else {
            return Err(Fail::new(
                "r: a message was damaged",
                "<sender> <seq>",
                show(text.as_bytes()),
            ));
        };
        ensure(
            from == sender,
            "r: a message from the wrong sender",
            &sender,
            from,
        )?;
        seqs.saw("r", from, seq)?;
    }
    seqs.complete("r", &names, EACH)?;
    for c in senders.iter_mut() {
        for _ in 0..EACH {
            expect_response(c, Status::Ok)?;
        }
        barrier(c)?;
    }
    barrier(&mut r)
}

fn stalled_reader(ctx: &mut Ctx) -> R {
    let stalled = logged_in_with(
        ctx,
        "stalled",
        Opts {
            recv_buffer: Some(4096),
        },
    )?;
    let flooder = logged_in(ctx, "flooder")?;
    let mut carol = logged_in(ctx, "carol")?;
    let mut dave = logged_in(ctx, "dave")?;
    let packet = sendto_packet("stalled", &"f".repeat(4000));
    let flood = Flood::start(ctx, flooder, packet.repeat(16), FLOOD_CAP);
    flood.settle(ctx);
    ctx.note("stalled reads nothing; carol writes to dave");
    for i in 0..20 {
        carol.send(&sendto_packet("dave", &format!("message {i}")))?;
    }
    for i in 0..20 {
        expect_message(&mut dave, "carol", &format!("message {i}"))?;
    }
    for _ in 0..20 {
        expect_response(&mut carol, Status::Ok)?;
    }
    still_serves(ctx)?;
    drop((flood, stalled));
    Ok(())
}

fn abrupt(ctx: &mut Ctx) -> R {
    let mut alice = logged_in(ctx, "alice")?;
    let mut carol = logged_in(ctx, "carol")?;
    carol.send(&sendto_packet("alice", "never finished")[..9])?;
    carol.abort();
    eventually(ctx, || {
        same("carol vanished", set(&["alice"]), sorted(who(&mut alice)?))
    })?;
    still_serves(ctx)
}

fn many_clients(ctx: &mut Ctx) -> R {
    let names: Vec<String> = (0..20).map(|i| format!("u{i}")).collect();
    let mut users = Vec::new();
    for n in &names {
        users.push(logged_in(ctx, n)?);
    }
    same(
        "all 20 listed",
        sorted(names.clone()),
        sorted(who(&mut users[19])?),
    )?;
    for i in 0..20 {
        let to = names[(i + 1) % 20].clone();
        users[i].send(&sendto_packet(&to, "hello"))?;
    }
    for i in 0..20 {
        let from = &names[(i + 19) % 20];
        // A message and a receipt, in either order.
        let mut got = vec![read_packet(&mut users[i])?, read_packet(&mut users[i])?];
        got.sort();
        let mut msg = Vec::new();
        pollchat::dialect::sendto::packet::put_message(&mut msg, from, "hello");
        let mut want = vec![msg, vec![0x82, 0, 0, 0, 1, 0]];
        want.sort();
        ensure(
            got == want,
            format!("{}: with 20 users", names[i]),
            "a message and a 00",
            &format!("{:?}", got.iter().map(|p| show(p)).collect::<Vec<_>>()),
        )?;
    }
    Ok(())
}

fn garbage_bytes(ctx: &mut Ctx) -> R {
    let mut alice = logged_in(ctx, "alice")?;
    let mut g = ctx.connect("garbage")?;
    g.send(&garbage(20_000, 0x5eed))?;
    barrier(&mut alice)?;
    g.close();
    barrier(&mut alice)?;
    still_serves(ctx)
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Sendto, role: Role::Server, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "sendto.login.ok",
        ["basic", "assignment"],
        "LOGIN of a free name is answered 00 and the user is listed",
        login_ok
    ),
    case!(
        "sendto.login.twice",
        ["basic", "choice", "state"],
        "LOGIN on a logged-in connection is 01; nothing changes",
        login_twice
    ),
    case!(
        "sendto.login.taken",
        ["basic", "choice", "state"],
        "LOGIN of a name in use is 01; the connection stays and may log in",
        login_taken
    ),
    case!(
        "sendto.login.malformed_name",
        ["basic", "choice"],
        "a name that is not 1-20 of [A-Za-z0-9._-] is 02 and skipped",
        login_malformed_name
    ),
    case!(
        "sendto.list",
        ["basic", "assignment"],
        "LIST is answered with a LIST packet of every user logged in",
        list
    ),
    case!(
        "sendto.list.anyone",
        ["basic", "assignment"],
        "LIST works without logging in (the client lists after logout)",
        list_anyone
    ),
    case!(
        "sendto.list.order",
        ["basic", "choice"],
        "LIST is in login order",
        list_order
    ),
    case!(
        "sendto.list.format",
        ["basic", "choice", "framing"],
        "LIST and RESPONSE packets are byte for byte as docs/PROTOCOLS.md 4.1",
        list_format
    ),
    case!(
        "sendto.sendto.delivered",
        ["basic", "assignment"],
        "SENDTO reaches its recipient (83 <sender> <text>) and is answered 00",
        sendto_delivered
    ),
    case!(
        "sendto.sendto.not_logged_in",
        ["basic", "choice"],
        "SENDTO from a connection not logged in is 01",
        sendto_not_logged_in
    ),
    case!(
        "sendto.sendto.unknown",
        ["basic", "choice"],
        "SENDTO to nobody (names are case-sensitive) is 01",
        sendto_unknown
    ),
    case!(
        "sendto.sendto.self",
        ["basic", "choice"],
        "SENDTO to oneself: the message, then 00",
        sendto_self
    ),
    case!(
        "sendto.sendto.empty_recipient",
        ["basic", "choice"],
        "SENDTO to an empty name is 02",
        sendto_empty_recipient
    ),
    case!(
        "sendto.sendto.text_limits",
        ["basic", "assignment"],
        "an empty text and one of 65535 bytes are delivered whole",
        sendto_text_limits
    ),
    case!(
        "sendto.sendto.receipt_order",
        ["basic", "choice"],
        "00 waits for delivery, and the next packets' replies wait with it",
        sendto_receipt_order
    ),
    case!(
        "sendto.logout",
        ["basic", "assignment", "state"],
        "LOGOUT is 00, frees the name, and keeps the connection for LIST and LOGIN",
        logout
    ),
    case!(
        "sendto.logout.not_logged_in",
        ["basic", "choice"],
        "LOGOUT when not logged in is 01",
        logout_not_logged_in
    ),
    case!(
        "sendto.disconnect.frees_name",
        ["basic", "choice", "state"],
        "a connection that closes is logged out",
        disconnect_frees_name
    ),
    case!(
        "sendto.malformed.type",
        ["basic", "choice"],
        "an unknown type (the server's own included) is 02 and skipped",
        malformed_type
    ),
    case!(
        "sendto.malformed.body",
        ["basic", "choice"],
        "a body that does not match its type is 02 and skipped",
        malformed_body
    ),
    case!(
        "sendto.malformed.utf8",
        ["basic", "choice"],
        "a string that is not UTF-8 is 02 and skipped",
        malformed_utf8
    ),
    case!(
        "sendto.length.over_limit",
        ["basic", "choice", "framing"],
        "a header declaring over 70000 bytes is 02 and a close, without the body",
        length_over_limit
    ),
    case!(
        "sendto.length.at_limit",
        ["basic", "choice", "framing"],
        "a 70000-byte body is read and judged on its contents",
        length_at_limit
    ),
    case!(
        "sendto.order.one_reply_each",
        ["basic", "assignment"],
        "every packet gets exactly one reply, in order, even all in one segment",
        one_reply_each
    ),
    case!(
        "sendto.sanitize",
        ["basic", "choice", "safety"],
        "control characters in a relayed text arrive as spaces (rule S)",
        sanitize
    ),
    case!(
        "sendto.robust.byte_by_byte",
        ["robustness", "framing"],
        "packets sent a byte at a time are put back together",
        byte_by_byte
    ),
    case!(
        "sendto.robust.pipelined",
        ["load"],
        "5 users each send 100 messages at once: all arrive, in order",
        pipelined
    ),
    case!(
        "sendto.robust.stalled_reader",
        ["load", "heavy"],
        "a user that stops reading under a flood does not stop others",
        stalled_reader
    ),
    case!(
        "sendto.robust.abrupt",
        ["robustness", "state"],
        "a user reset mid-packet is logged out; the others go on",
        abrupt
    ),
    case!(
        "sendto.robust.many_clients",
        ["load"],
        "20 users at once: all listed, all send and receive",
        many_clients
    ),
    case!(
        "sendto.robust.garbage",
        ["robustness"],
        "20 kB of random bytes hurt nobody; the server still serves",
        garbage_bytes
    ),
];
