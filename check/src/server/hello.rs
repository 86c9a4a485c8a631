//! `hello` servers (the VU chat protocol): the assignment's rules by their
//! own ids, PR1–PR17, UR1–UR2 and TR1–TR5, then docs/PROTOCOLS.md
//! section 2's choices and the robustness battery.
//!
//! Replies are read up to LF with a CR before it removed, so a stray CR
//! fails the one case about line ends (`hello.eol.lf_only`). `LIST` is the
//! barrier: its answer comes next, so whatever was sent before has been
//! read by then.

use super::{eventually, garbage, set, sorted, Flood, Sequences, FLOOD_CAP};
use crate::case::{ensure, same, Case, Ctx, Dialect, Fail, Role, R};
use crate::net::{Conn, Opts};
use crate::transcript::show;
use pollchat::dialect::hello::{BAD_DEST_USER, BAD_RQST_BODY, BAD_RQST_HDR, BUSY, IN_USE, SEND_OK};
use std::time::Duration;

fn say(c: &mut Conn, line: &str) -> R {
    c.send(format!("{line}\n").as_bytes())
}

fn login(ctx: &Ctx, name: &str) -> R<Conn> {
    login_with(ctx, name, Opts::default())
}

fn login_with(ctx: &Ctx, name: &str, opts: Opts) -> R<Conn> {
    let mut c = ctx.connect_with(name, opts)?;
    say(&mut c, &format!("HELLO-FROM {name}"))?;
    c.expect_line(&format!("HELLO {name}"))?;
    Ok(c)
}

/// A fresh connection whose first line is `line`.
fn first_line(ctx: &Ctx, label: &str, line: &str) -> R<Conn> {
    let mut c = ctx.connect(label)?;
    say(&mut c, line)?;
    Ok(c)
}

/// The reply is `want`, then the server closes.
fn expect_last(c: &mut Conn, want: &str) -> R {
    c.expect_line(want)?;
    c.expect_closed(&format!("{want} closes the connection"))
}

/// LIST: the names in LIST-OK, in the order given.
fn who(c: &mut Conn) -> R<Vec<String>> {
    say(c, "LIST")?;
    let line = c.line()?;
    let text = String::from_utf8_lossy(&line).into_owned();
    match text.strip_prefix("LIST-OK ") {
        Some(names) => Ok(names.split(',').map(str::to_string).collect()),
        None => Err(Fail::new(
            format!("{}: LIST was not answered with LIST-OK", c.label),
            "LIST-OK <name>,<name>,...",
            show(&line),
        )),
    }
}

/// Proves nothing else was sent to `c` before this point.
fn barrier(c: &mut Conn) -> R {
    who(c).map(drop)
}

fn still_serves(ctx: &Ctx) -> R {
    let mut c = login(ctx, "latecomer")?;
    barrier(&mut c)
}

// ----- PR1-PR17 ------------------------------------------------------------------

fn pr1(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    same("LIST-OK", set(&["alice", "bob"]), sorted(who(&mut alice)?))?;
    say(&mut alice, "SEND bob hi bob")?;
    bob.expect_line("DELIVERY alice hi bob")?;
    alice.expect_line(SEND_OK)?;
    say(&mut bob, "SEND alice hi alice")?;
    alice.expect_line("DELIVERY bob hi alice")?;
    bob.expect_line(SEND_OK)?;
    barrier(&mut alice)?;
    barrier(&mut bob)
}

fn pr2(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    // The login took the name given: it is listed, and it is in use.
    same(
        "LIST-OK after the login",
        set(&["alice"]),
        sorted(who(&mut alice)?),
    )?;
    expect_last(&mut first_line(ctx, "again", "HELLO-FROM alice")?, IN_USE)
}

fn pr3(ctx: &mut Ctx) -> R {
    let mut c = first_line(ctx, "zoe", "HELLO-FROM zoe")?;
    c.expect_line("HELLO zoe")?;
    barrier(&mut c)
}

fn pr4(ctx: &mut Ctx) -> R {
    for line in ["HELLO-FROM", "HELLO-FROM "] {
        expect_last(&mut first_line(ctx, "c", line)?, BAD_RQST_BODY)?;
    }
    Ok(())
}

fn pr5(ctx: &mut Ctx) -> R {
    let mut bob = login(ctx, "bob")?;
    expect_last(&mut first_line(ctx, "twin", "HELLO-FROM bob")?, IN_USE)?;
    same(
        "the holder is untouched",
        set(&["bob"]),
        sorted(who(&mut bob)?),
    )
}

fn pr6(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    say(&mut alice, "HELLO-FROM alice2")?;
    alice.expect_line(BAD_RQST_HDR)?;
    say(&mut alice, "HELLO-FROM alice")?;
    alice.expect_line(BAD_RQST_HDR)?;
    // Still open, and nothing changed.
    same("LIST-OK", set(&["alice"]), sorted(who(&mut alice)?))?;
    login(ctx, "alice2").map(drop)
}

fn pr7(ctx: &mut Ctx) -> R {
    let mut bob = login(ctx, "bob")?;
    for line in ["LIST", "SEND bob hi", "hello-from carol", "HELLO carol"] {
        expect_last(&mut first_line(ctx, "anon", line)?, BAD_RQST_HDR)?;
    }
    same(
        "nobody else logged in",
        set(&["bob"]),
        sorted(who(&mut bob)?),
    )
}

fn pr8(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    say(&mut alice, "LIST")?;
    let line = alice.line()?;
    ensure(
        line.starts_with(b"LIST-OK "),
        "LIST is answered with LIST-OK",
        "LIST-OK alice",
        &show(&line),
    )
}

fn pr9(ctx: &mut Ctx) -> R {
    let mut a = login(ctx, "amy")?;
    let _b = login(ctx, "ben")?;
    let c = login(ctx, "cat")?;
    same(
        "exactly the users logged in",
        set(&["amy", "ben", "cat"]),
        sorted(who(&mut a)?),
    )?;
    c.close();
    eventually(ctx, || {
        same("after cat left", set(&["amy", "ben"]), sorted(who(&mut a)?))
    })
}

fn pr10(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    let mut carol = login(ctx, "carol")?;
    say(&mut alice, "SEND bob  hi,  bob! ")?;
    bob.expect_line("DELIVERY alice  hi,  bob! ")?;
    barrier(&mut bob)?;
    barrier(&mut carol)
}

fn pr11(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    say(&mut alice, "SEND bob hello")?;
    alice.expect_line(SEND_OK)?;
    bob.expect_line("DELIVERY alice hello")?;
    barrier(&mut alice)
}

fn pr12(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    // By the time alice has her SEND-OK, bob's DELIVERY has
    // been sent, so it is there to read at once (on loopback).
    for i in 0..5 {
        say(&mut alice, &format!("SEND bob number {i}"))?;
        alice.expect_line(SEND_OK)?;
        bob.set_wait(Duration::from_millis(300));
        bob.expect_line(&format!("DELIVERY alice number {i}"))
            .map_err(|mut f| {
                f.why = format!(
                    "alice had SEND-OK before bob could read the DELIVERY: {}",
                    f.why
                );
                f
            })?;
        bob.set_wait(ctx.timing.wait);
    }
    barrier(&mut bob)
}

/// Messages carol sends bob, who has stopped reading: more than the
/// kernel can hold on the way to him.
const STALLED_SENDS: usize = 1500;

/// bob stops reading; carol sends him [`STALLED_SENDS`] messages at once,
/// and waits until the server stops taking them. Returns how many
/// SEND-OKs she has had by then: one for each DELIVERY the server could
/// write into bob's socket, which cannot be all of them.
fn stall_bob(ctx: &Ctx) -> R<(Conn, Conn, Flood, usize)> {
    let bob = login_with(
        ctx,
        "bob",
        Opts {
            recv_buffer: Some(4096),
        },
    )?;
    let mut carol = login(ctx, "carol")?;
    let text = "m".repeat(4000);
    let burst: Vec<u8> = (0..STALLED_SENDS)
        .flat_map(|i| format!("SEND bob {i:04} {text}\n").into_bytes())
        .collect();
    let total = burst.len();
    let flood = Flood::patient(ctx, carol.try_clone()?, burst, total);
    flood.settle(ctx);
    let quiet = ctx.timing.quiet.max(Duration::from_millis(500));
    let replies = carol.lines_until_quiet(quiet)?;
    for r in &replies {
        ensure(
            r == SEND_OK.as_bytes(),
            "carol: only SEND-OKs while bob is stalled",
            SEND_OK,
            &show(r),
        )?;
    }
    ctx.note(format!(
        "carol has {} SEND-OKs of {STALLED_SENDS} while bob reads nothing",
        replies.len()
    ));
    ensure(
        replies.len() < STALLED_SENDS,
        "SEND-OK for DELIVERYs bob's socket cannot have taken (bob read nothing)",
        "fewer SEND-OKs than SENDs",
        &format!("all {STALLED_SENDS}"),
    )?;
    Ok((bob, carol, flood, replies.len()))
}

fn pr12_stalled(ctx: &mut Ctx) -> R {
    let (mut bob, mut carol, flood, early) = stall_bob(ctx)?;
    ctx.note("bob reads everything now");
    let text = "m".repeat(4000);
    for i in 0..STALLED_SENDS {
        let want = format!("DELIVERY carol {i:04} {text}");
        let line = bob.line()?;
        ensure(
            line == want.as_bytes(),
            "bob: the DELIVERYs, whole and in order",
            &format!("DELIVERY carol {i:04} mmm..."),
            &show(&line),
        )?;
    }
    for _ in early..STALLED_SENDS {
        carol.expect_line(SEND_OK)?;
    }
    drop(flood);
    barrier(&mut carol)
}

fn pr13(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    say(&mut alice, "SEND nobody hi")?;
    alice.expect_line(BAD_DEST_USER)?;
    barrier(&mut alice)
}

fn pr14(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let carol = login(ctx, "carol")?;
    carol.close();
    eventually(ctx, || {
        same("carol is gone", set(&["alice"]), sorted(who(&mut alice)?))
    })?;
    say(&mut alice, "SEND carol are you there?")?;
    alice.expect_line(BAD_DEST_USER)?;
    // No SEND-OK after it: LIST's answer is next.
    barrier(&mut alice)
}

fn pr14_stalled(ctx: &mut Ctx) -> R {
    let (bob, mut carol, flood, early) = stall_bob(ctx)?;
    bob.abort();
    // What was in bob's socket when he left may have had its SEND-OK; the
    // rest is BAD-DEST-USER, and never a SEND-OK after one.
    let mut undelivered = 0;
    for _ in early..STALLED_SENDS {
        let line = carol.line()?;
        if line == BAD_DEST_USER.as_bytes() {
            undelivered += 1;
        } else {
            ensure(
                line == SEND_OK.as_bytes() && undelivered == 0,
                "carol: after BAD-DEST-USER, only BAD-DEST-USER",
                BAD_DEST_USER,
                &show(&line),
            )?;
        }
    }
    ensure(
        undelivered > 0,
        "bob left with messages unread",
        "BAD-DEST-USER for them",
        "SEND-OK for all",
    )?;
    drop(flood);
    barrier(&mut carol)
}

fn pr15(ctx: &mut Ctx) -> R {
    let mut users = Vec::new();
    for i in 0..16 {
        users.push(login(ctx, &format!("user{i}"))?);
    }
    let mut late = first_line(ctx, "late", "HELLO-FROM late")?;
    late.expect_line(BUSY)?;
    same("16 users", 16, who(&mut users[0])?.len())
}

fn pr16(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    for line in [
        "list",
        "send alice hi",
        "FOO bar",
        "DELIVERY alice hi",
        "QUIT",
        "SEND-OK",
    ] {
        say(&mut alice, line)?;
        alice.expect_line(BAD_RQST_HDR)?;
    }
    barrier(&mut alice)
}

fn pr17(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    for line in ["SEND", "SEND ", "SEND bob", "SEND bob ", "SEND  hi"] {
        say(&mut alice, line)?;
        alice.expect_line(BAD_RQST_BODY)?;
    }
    barrier(&mut alice)?;
    barrier(&mut bob)
}

fn ur1(ctx: &mut Ctx) -> R {
    expect_last(
        &mut first_line(ctx, "c", "HELLO-FROM al ice")?,
        BAD_RQST_BODY,
    )?;
    let mut al = login(ctx, "al")?;
    same("no name was taken", set(&["al"]), sorted(who(&mut al)?))
}

fn ur2(ctx: &mut Ctx) -> R {
    expect_last(
        &mut first_line(ctx, "c", "HELLO-FROM al,ice")?,
        BAD_RQST_BODY,
    )?;
    let mut al = login(ctx, "al")?;
    same("no name was taken", set(&["al"]), sorted(who(&mut al)?))
}

// ----- TR1-TR5 ----------------------------------------------------------------------

fn tr1(ctx: &mut Ctx) -> R {
    let names: Vec<String> = (0..16).map(|i| format!("user{i}")).collect();
    let mut users = Vec::new();
    for n in &names {
        users.push(login(ctx, n)?);
    }
    same(
        "all 16 listed",
        sorted(names.clone()),
        sorted(who(&mut users[15])?),
    )?;
    for i in 0..16 {
        let to = &names[(i + 1) % 16];
        say(&mut users[i], &format!("SEND {to} from {}", names[i]))?;
    }
    for i in 0..16 {
        let from = &names[(i + 15) % 16];
        // Each gets one DELIVERY and one SEND-OK, in either order.
        let mut got = vec![users[i].line()?, users[i].line()?];
        got.sort();
        let mut want = vec![
            format!("DELIVERY {from} from {from}").into_bytes(),
            SEND_OK.as_bytes().to_vec(),
        ];
        want.sort();
        ensure(
            got == want,
            format!("{}: with 16 users", names[i]),
            "a DELIVERY and a SEND-OK",
            &format!("{:?}", got.iter().map(|l| show(l)).collect::<Vec<_>>()),
        )?;
    }
    Ok(())
}

fn tr2(ctx: &mut Ctx) -> R {
    // One connection sends half a line and stops; another sends nothing.
    let mut half = ctx.connect("half")?;
    half.send(b"HELLO-FR")?;
    let _silent = ctx.connect("silent")?;
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    say(&mut alice, "SEND bob while others wait")?;
    bob.expect_line("DELIVERY alice while others wait")?;
    alice.expect_line(SEND_OK)?;
    half.send(b"OM half\n")?;
    half.expect_line("HELLO half")?;
    same(
        "LIST-OK",
        set(&["alice", "bob", "half"]),
        sorted(who(&mut half)?),
    )
}

fn tr3(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let carol = login(ctx, "carol")?;
    carol.abort();
    eventually(ctx, || {
        same("carol vanished", set(&["alice"]), sorted(who(&mut alice)?))
    })?;
    say(&mut alice, "SEND carol are you there?")?;
    alice.expect_line(BAD_DEST_USER)?;
    login(ctx, "carol").map(drop)
}

fn tr4(ctx: &mut Ctx) -> R {
    let stalled = login_with(
        ctx,
        "stalled",
        Opts {
            recv_buffer: Some(4096),
        },
    )?;
    let flooder = login(ctx, "flooder")?;
    let mut carol = login(ctx, "carol")?;
    let mut dave = login(ctx, "dave")?;
    let line = format!("SEND stalled {}\n", "f".repeat(4000));
    let flood = Flood::start(ctx, flooder, line.repeat(16).into_bytes(), FLOOD_CAP);
    flood.settle(ctx);
    ctx.note("stalled reads nothing; carol writes to dave");
    for i in 0..20 {
        say(&mut carol, &format!("SEND dave message {i}"))?;
    }
    for i in 0..20 {
        dave.expect_line(&format!("DELIVERY carol message {i}"))?;
    }
    for _ in 0..20 {
        carol.expect_line(SEND_OK)?;
    }
    still_serves(ctx)?;
    drop((flood, stalled));
    Ok(())
}

fn tr5(ctx: &mut Ctx) -> R {
    let Some(stdout) = ctx.server_stdout() else {
        return Err(Fail::new("the server's stdout is not available", "", ""));
    };
    let until = ctx.until();
    let seen = stdout.wait_until(until, |data, _| {
        data.split(|&b| b == b'\n')
            .any(|l| l.strip_suffix(b"\r").unwrap_or(l) == b"Server is on")
    });
    let (data, _) = stdout.snapshot();
    ensure(
        seen,
        "the server prints `Server is on` on stdout when it is ready",
        "Server is on",
        &show(&data),
    )?;
    // Ready means ready: a client is served at once.
    let mut c = login(ctx, "first")?;
    barrier(&mut c)
}

// ----- choices of docs/PROTOCOLS.md section 2 -------------------------------------

fn crlf_in(ctx: &mut Ctx) -> R {
    let mut alice = ctx.connect("alice")?;
    // What a grader sends.
    alice.send(b"HELLO-FROM alice\r\n\n")?;
    alice.expect_line("HELLO alice")?;
    alice.send(b"\n\r\nLIST\r\n")?;
    alice.expect_line("LIST-OK alice")?;
    barrier(&mut alice)
}

fn lf_only(ctx: &mut Ctx) -> R {
    let mut alice = ctx.connect("alice")?;
    say(&mut alice, "HELLO-FROM alice")?;
    alice.expect_bytes(b"HELLO alice\n", "every line ends in LF alone")?;
    say(&mut alice, "LIST")?;
    alice.expect_bytes(b"LIST-OK alice\n", "every line ends in LF alone")?;
    say(&mut alice, "NOPE")?;
    alice.expect_bytes(b"BAD-RQST-HDR\n", "every line ends in LF alone")
}

fn no_final_lf(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("carol")?;
    c.send(b"HELLO-FROM carol")?;
    c.shutdown_write()?;
    c.expect_closed("bytes without a final LF are not a message")?;
    let mut carol = login(ctx, "carol")?;
    same(
        "the name was not taken",
        set(&["carol"]),
        sorted(who(&mut carol)?),
    )
}

fn too_long(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    let header = "SEND bob ";
    let longest = "x".repeat(4096 - header.len());
    say(&mut alice, &format!("{header}{longest}"))?;
    bob.expect_line(&format!("DELIVERY alice {longest}"))?;
    alice.expect_line(SEND_OK)?;
    alice.send(format!("{header}{longest}\r\n").as_bytes())?;
    bob.expect_line(&format!("DELIVERY alice {longest}"))?;
    alice.expect_line(SEND_OK)?;
    say(&mut alice, &format!("{header}{longest}y"))?;
    alice.expect_line(BAD_RQST_BODY)?;
    barrier(&mut alice)?;
    barrier(&mut bob)
}

fn too_long_before_login(ctx: &mut Ctx) -> R {
    let line = format!("HELLO-FROM {}", "a".repeat(5000));
    expect_last(&mut first_line(ctx, "c", &line)?, BAD_RQST_BODY)
}

fn names_narrow(ctx: &mut Ctx) -> R {
    let longest = "N4".repeat(16);
    let _ok = login(ctx, &longest)?;
    for line in [
        "HELLO-FROM al-ice".to_string(),
        "HELLO-FROM  alice".to_string(),
        "HELLO-FROM \u{e9}mile".to_string(),
        "HELLO-FROM a\tb".to_string(),
        format!("HELLO-FROM {longest}x"),
    ] {
        expect_last(&mut first_line(ctx, "c", &line)?, BAD_RQST_BODY)?;
    }
    Ok(())
}

fn names_case(ctx: &mut Ctx) -> R {
    let mut bob = login(ctx, "bob")?;
    let _bob2 = login(ctx, "Bob")?;
    same("two users", set(&["bob", "Bob"]), sorted(who(&mut bob)?))
}

fn list_order(ctx: &mut Ctx) -> R {
    let mut zed = login(ctx, "zed")?;
    let _amy = login(ctx, "amy")?;
    let _max = login(ctx, "max")?;
    same(
        "LIST-OK in login order",
        vec!["zed", "amy", "max"],
        who(&mut zed)?
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .to_vec(),
    )
}

fn list_body(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    for line in ["LIST all", "LIST "] {
        say(&mut alice, line)?;
        alice.expect_line(BAD_RQST_BODY)?;
    }
    barrier(&mut alice)
}

fn send_body_first(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    for line in ["SEND nobody", "SEND nobody "] {
        say(&mut alice, line)?;
        alice.expect_line(BAD_RQST_BODY)?;
    }
    barrier(&mut alice)
}

fn send_self(ctx: &mut Ctx) -> R {
    let mut me = login(ctx, "me")?;
    say(&mut me, "SEND me note to self")?;
    me.expect_line("DELIVERY me note to self")?;
    me.expect_line(SEND_OK)
}

fn order_pipelined(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    let texts: Vec<String> = (0..10)
        .map(|i| format!("{i} {}", "abc".repeat(80 + i * 10)))
        .collect();
    let burst: String = texts.iter().map(|t| format!("SEND bob {t}\n")).collect();
    alice.send(format!("{burst}LIST\nSEND nobody x\nLIST\n").as_bytes())?;
    for t in &texts {
        bob.expect_line(&format!("DELIVERY alice {t}"))?;
    }
    for _ in &texts {
        alice.expect_line(SEND_OK)?;
    }
    alice.expect_line("LIST-OK alice,bob")?;
    alice.expect_line(BAD_DEST_USER)?;
    alice.expect_line("LIST-OK alice,bob")
}

fn sanitize(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    alice.send(b"SEND bob a\rb\x1b[31mc\x00d\n")?;
    bob.expect_bytes(
        b"DELIVERY alice a b [31mc d\n",
        "control characters arrive as spaces",
    )?;
    alice.expect_line(SEND_OK)
}

// ----- robustness ---------------------------------------------------------------------

fn byte_by_byte(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("slow")?;
    c.send_pieces(b"HELLO-FROM slow\n", 1, Duration::from_millis(2))?;
    c.expect_line("HELLO slow")?;
    c.send_pieces(b"LIST\n", 1, Duration::from_millis(2))?;
    c.expect_line("LIST-OK slow")
}

fn coalesced(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("a")?;
    c.send(b"HELLO-FROM a\nLIST\nFOO\nSEND nobody x\nLIS")?;
    c.expect_line("HELLO a")?;
    c.expect_line("LIST-OK a")?;
    c.expect_line(BAD_RQST_HDR)?;
    c.expect_line(BAD_DEST_USER)?;
    c.send(b"T\n")?;
    c.expect_line("LIST-OK a")
}

fn pipelined(ctx: &mut Ctx) -> R {
    const SENDERS: usize = 5;
    const EACH: usize = 100;
    let mut r = login(ctx, "r")?;
    let names: Vec<String> = (0..SENDERS).map(|i| format!("s{i}")).collect();
    let mut senders = Vec::new();
    for n in &names {
        senders.push(login(ctx, n)?);
    }
    for (n, c) in names.iter().zip(senders.iter_mut()) {
        let burst: String = (0..EACH).map(|seq| format!("SEND r {n} {seq}\n")).collect();
        c.send(burst.as_bytes())?;
    }
    let mut seqs = Sequences::default();
    for got in 0..SENDERS * EACH {
        let line = r.line().map_err(super::short("r", got, SENDERS * EACH))?;
        let text = String::from_utf8_lossy(&line).into_owned();
        let parsed = text
            .strip_prefix("DELIVERY ")
            .and_then(|t| t.split_once(' '))
            .and_then(|(from, body)| Some((from.to_string(), super::parse_seq(body.as_bytes())?)));
        let Some((from, (sender, seq))) = parsed else {
            return Err(Fail::new(
                "r: not a DELIVERY",
                "DELIVERY <s> <s> <seq>",
                show(&line),
            ));
        };
        ensure(
            from == sender,
            "r: a DELIVERY from the wrong sender",
            &sender,
            &from,
        )?;
        seqs.saw("r", &from, seq)?;
    }
    seqs.complete("r", &names, EACH)?;
    for c in senders.iter_mut() {
        for _ in 0..EACH {
            c.expect_line(SEND_OK)?;
        }
        barrier(c)?;
    }
    barrier(&mut r)
}

fn garbage_bytes(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut g = ctx.connect("garbage")?;
    g.send(&garbage(20_000, 0x5eed))?;
    g.send(b"\n")?;
    barrier(&mut alice)?;
    g.close();
    barrier(&mut alice)?;
    still_serves(ctx)
}

fn over_long(ctx: &mut Ctx) -> R {
    let mut alice = login(ctx, "alice")?;
    let mut bob = login(ctx, "bob")?;
    for _ in 0..16 {
        alice.send_quietly(&[b'x'; 64 * 1024]);
        barrier(&mut bob)?;
    }
    ctx.note("alice sent 1 MiB without a line end");
    alice.send(b"\nLIST\n")?;
    for _ in 0..8 {
        if alice.line()?.starts_with(b"LIST-OK ") {
            return still_serves(ctx);
        }
    }
    Err(Fail::new(
        "the line after the long one was not answered",
        "LIST-OK ...",
        "other lines",
    ))
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Hello, role: Role::Server, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "hello.PR1",
        ["basic", "assignment"],
        "the whole protocol: HELLO-FROM, LIST, SEND, DELIVERY, SEND-OK",
        pr1
    ),
    case!(
        "hello.PR2",
        ["basic", "assignment"],
        "HELLO-FROM from a new connection logs it in under the name given",
        pr2
    ),
    case!(
        "hello.PR3",
        ["basic", "assignment"],
        "a valid name not in use is answered `HELLO <name>`",
        pr3
    ),
    case!(
        "hello.PR4",
        ["basic", "assignment"],
        "HELLO-FROM without a name gets BAD-RQST-BODY and the connection closes",
        pr4
    ),
    case!(
        "hello.PR5",
        ["basic", "assignment"],
        "a name in use gets IN-USE and the connection closes",
        pr5
    ),
    case!(
        "hello.PR6",
        ["basic", "assignment", "state"],
        "HELLO-FROM when logged in gets BAD-RQST-HDR; nothing changes",
        pr6
    ),
    case!(
        "hello.PR7",
        ["basic", "assignment"],
        "anything but HELLO-FROM before login gets BAD-RQST-HDR and a close",
        pr7
    ),
    case!(
        "hello.PR8",
        ["basic", "assignment"],
        "LIST is answered with LIST-OK",
        pr8
    ),
    case!(
        "hello.PR9",
        ["basic", "assignment"],
        "LIST-OK lists exactly the users logged in, comma-separated",
        pr9
    ),
    case!(
        "hello.PR10",
        ["basic", "assignment"],
        "SEND to a user delivers `DELIVERY <sender> <text>` to that user only",
        pr10
    ),
    case!(
        "hello.PR11",
        ["basic", "assignment"],
        "a SEND delivered is answered SEND-OK",
        pr11
    ),
    case!(
        "hello.PR12",
        ["basic", "assignment"],
        "SEND-OK never comes before its DELIVERY was sent",
        pr12
    ),
    case!(
        "hello.PR12.stalled",
        ["load", "assignment", "heavy"],
        "1500 SENDs to a user who reads nothing: SEND-OK only for what his socket took",
        pr12_stalled
    ),
    case!(
        "hello.PR13",
        ["basic", "assignment"],
        "SEND to a user not logged in gets BAD-DEST-USER",
        pr13
    ),
    case!(
        "hello.PR14",
        ["basic", "assignment"],
        "a SEND that cannot be delivered gets no SEND-OK",
        pr14
    ),
    case!(
        "hello.PR14.stalled",
        ["load", "choice", "heavy"],
        "a stalled recipient that leaves means BAD-DEST-USER, never SEND-OK",
        pr14_stalled
    ),
    case!(
        "hello.PR15",
        ["basic", "assignment", "limit"],
        "with 16 users logged in, HELLO-FROM gets BUSY",
        pr15
    ),
    case!(
        "hello.PR16",
        ["basic", "assignment"],
        "any other header when logged in gets BAD-RQST-HDR; the connection stays",
        pr16
    ),
    case!(
        "hello.PR17",
        ["basic", "assignment"],
        "SEND without a recipient or a text gets BAD-RQST-BODY",
        pr17
    ),
    case!(
        "hello.UR1",
        ["basic", "assignment"],
        "a name with a space is refused (BAD-RQST-BODY, closed)",
        ur1
    ),
    case!(
        "hello.UR2",
        ["basic", "assignment"],
        "a name with a comma is refused (BAD-RQST-BODY, closed)",
        ur2
    ),
    case!(
        "hello.TR1",
        ["load", "assignment", "limit"],
        "16 users at once: all listed, all can send and receive",
        tr1
    ),
    case!(
        "hello.TR2",
        ["robustness", "assignment"],
        "a connection that sends half a line, or nothing, blocks nobody",
        tr2
    ),
    case!(
        "hello.TR3",
        ["basic", "assignment", "state"],
        "a user who vanishes is logged out: not listed, not a recipient, name free",
        tr3
    ),
    case!(
        "hello.TR4",
        ["load", "assignment", "heavy"],
        "a user that stops reading under a flood does not stop others (no blocking sendall)",
        tr4
    ),
    case!(
        "hello.TR5",
        ["basic", "assignment", "spawn"],
        "the server prints `Server is on` on stdout when it is ready",
        tr5
    ),
    case!(
        "hello.eol.crlf_in",
        ["basic", "choice", "framing"],
        "CR LF is accepted and empty lines are skipped (what a grader sends)",
        crlf_in
    ),
    case!(
        "hello.eol.lf_only",
        ["basic", "choice", "framing"],
        "every line the server sends ends in LF alone, no CR",
        lf_only
    ),
    case!(
        "hello.eol.no_final_lf",
        ["basic", "choice", "framing"],
        "bytes without a final LF when the client closes are not a message",
        no_final_lf
    ),
    case!(
        "hello.too_long",
        ["basic", "choice", "framing"],
        "4096 bytes are a message; longer gets BAD-RQST-BODY",
        too_long
    ),
    case!(
        "hello.too_long.before_login",
        ["basic", "choice", "framing"],
        "an over-long line before login gets BAD-RQST-BODY and a close",
        too_long_before_login
    ),
    case!(
        "hello.names.narrow",
        ["basic", "choice"],
        "names are 1-32 ASCII letters and digits; others get BAD-RQST-BODY",
        names_narrow
    ),
    case!(
        "hello.names.case",
        ["basic", "choice"],
        "names are case-sensitive",
        names_case
    ),
    case!(
        "hello.list.order",
        ["basic", "choice"],
        "LIST-OK is in login order",
        list_order
    ),
    case!(
        "hello.list.body",
        ["basic", "choice"],
        "LIST with anything after it gets BAD-RQST-BODY",
        list_body
    ),
    case!(
        "hello.send.body_first",
        ["basic", "choice"],
        "SEND's body is checked before its recipient",
        send_body_first
    ),
    case!(
        "hello.send.self",
        ["basic", "choice"],
        "SEND to oneself: the DELIVERY, then SEND-OK",
        send_self
    ),
    case!(
        "hello.order.pipelined",
        ["basic", "choice"],
        "replies come in request order while SENDs wait for delivery",
        order_pipelined
    ),
    case!(
        "hello.sanitize",
        ["basic", "choice", "safety"],
        "a CR or control character inside a text arrives as a space (rule S)",
        sanitize
    ),
    case!(
        "hello.robust.byte_by_byte",
        ["robustness", "framing"],
        "messages sent a byte at a time are each one message",
        byte_by_byte
    ),
    case!(
        "hello.robust.coalesced",
        ["robustness", "framing"],
        "several messages in one segment are each answered, in order",
        coalesced
    ),
    case!(
        "hello.robust.pipelined",
        ["load"],
        "5 users each SEND 100 messages at once: all arrive, in order",
        pipelined
    ),
    case!(
        "hello.robust.garbage",
        ["robustness"],
        "20 kB of random bytes hurt nobody; the server still serves",
        garbage_bytes
    ),
    case!(
        "hello.robust.over_long",
        ["robustness", "framing"],
        "a 1 MiB line does not stop the server; the next line is answered",
        over_long
    ),
];
