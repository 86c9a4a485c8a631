//! `mesg` servers: every row of docs/PROTOCOLS.md section 1, and the
//! robustness battery.
//!
//! Replies are read up to LF with a CR before it removed, so a server that
//! ends lines wrongly fails the one case about line ends
//! (`mesg.eol.crlf_out`), not every case. "Nothing else arrived" is proved
//! with a barrier the assignment defines: an unknown command, answered
//! with `Unknown Message…` (registered) or `Unregistered User…` (not).

use super::{eventually, garbage, Flood, Sequences, FLOOD_CAP};
use crate::case::{ensure, same, Case, Ctx, Dialect, Fail, Role, R};
use crate::net::{Conn, Opts};
use crate::transcript::show;
use pollchat::dialect::mesg::{
    INVALID_MESG, INVALID_USERNAME, LIST_HEADER, LIST_RULE, PONG, TOO_LONG, TOO_MANY_USERS,
    UNKNOWN_MESSAGE, UNREGISTERED,
};
use std::time::Duration;

const IAC: u8 = 255;

fn say(c: &mut Conn, line: &str) -> R {
    c.send(format!("{line}\r\n").as_bytes())
}

fn accepted(name: &str) -> String {
    format!("JOIN {name} Request Accepted")
}

fn join(ctx: &Ctx, name: &str) -> R<Conn> {
    let mut c = ctx.connect(name)?;
    say(&mut c, &format!("JOIN {name}"))?;
    c.expect_line(&accepted(name))?;
    Ok(c)
}

/// Proves nothing else was sent to `c` before this point.
fn barrier(c: &mut Conn, registered: bool) -> R {
    say(c, "NOSUCHCOMMAND")?;
    c.expect_line(if registered {
        UNKNOWN_MESSAGE
    } else {
        UNREGISTERED
    })
}

/// LIST, read leniently (any whitespace between name and fd, any line
/// end): the registered users and their fds, in the order listed.
fn list(c: &mut Conn) -> R<Vec<(String, String)>> {
    say(c, "LIST")?;
    read_list(c)
}

/// Reads a LIST table already asked for.
fn read_list(c: &mut Conn) -> R<Vec<(String, String)>> {
    let header = c.line()?;
    let words: Vec<&[u8]> = header
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .collect();
    ensure(
        words == [&b"USERNAME"[..], b"FD"],
        format!("{}: LIST did not start with its header", c.label),
        &show(LIST_HEADER.as_bytes()),
        &show(&header),
    )?;
    let rule = |l: &[u8]| !l.is_empty() && l.iter().all(|&b| b == b'-');
    let first = c.line()?;
    ensure(
        rule(&first),
        "LIST: no rule under the header",
        LIST_RULE,
        &show(&first),
    )?;
    let mut users = Vec::new();
    loop {
        let line = c.line()?;
        if rule(&line) {
            return Ok(users);
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let mut words = text.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some(name), Some(fd), None) => users.push((name.to_string(), fd.to_string())),
            _ => {
                return Err(Fail::new(
                    "LIST: a row is not a name and an fd",
                    "<name> TAB <fd>",
                    show(&line),
                ))
            }
        }
    }
}

fn names(users: &[(String, String)]) -> Vec<String> {
    let mut n: Vec<String> = users.iter().map(|u| u.0.clone()).collect();
    n.sort();
    n
}

fn sorted(list: &[&str]) -> Vec<String> {
    let mut n: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    n.sort();
    n
}

/// A fresh client can still register: the server is still serving.
fn still_serves(ctx: &Ctx) -> R {
    let mut c = join(ctx, "latecomer")?;
    barrier(&mut c, true)
}

// ----- JOIN -------------------------------------------------------------------

fn join_accepted(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    barrier(&mut alice, true)?;
    same(
        "LIST after JOIN",
        sorted(&["alice"]),
        names(&list(&mut alice)?),
    )
}

fn join_twice(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let fd = list(&mut alice)?[0].1.clone();
    let already = format!("User Already Registered: Username (alice), FD ({fd})");
    say(&mut alice, "JOIN bob")?;
    alice.expect_line(&already)?;
    // Refused before the name is looked at (choice 2).
    say(&mut alice, "JOIN b-b")?;
    alice.expect_line(&already)?;
    same(
        "nothing changed",
        vec![("alice".to_string(), fd)],
        list(&mut alice)?,
    )?;
    // bob was not taken.
    join(ctx, "bob").map(drop)
}

fn join_invalid(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    let too_long = format!("JOIN {}", "a".repeat(33));
    for line in ["JOIN", "JOIN ", "JOIN bob smith", "JOIN bob!", &too_long] {
        say(&mut c, line)?;
        c.expect_line(INVALID_USERNAME)?;
    }
    // Still unregistered; a name of 32 letters and digits is fine.
    barrier(&mut c, false)?;
    let longest = "Z9".repeat(16);
    say(&mut c, &format!("JOIN {longest}"))?;
    c.expect_line(&accepted(&longest))
}

fn join_taken(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let fd = list(&mut alice)?[0].1.clone();
    let mut other = ctx.connect("other")?;
    say(&mut other, "JOIN alice")?;
    other.expect_line(&format!(
        "User Already Registered: Username (alice), FD ({fd})"
    ))?;
    // Still connected, still unregistered, and may try another name;
    // names are case-sensitive.
    barrier(&mut other, false)?;
    say(&mut other, "JOIN Alice")?;
    other.expect_line(&accepted("Alice"))?;
    same(
        "both are listed",
        sorted(&["alice", "Alice"]),
        names(&list(&mut alice)?),
    )
}

fn join_limit(ctx: &mut Ctx) -> R {
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(join(ctx, &format!("user{i}"))?);
    }
    let mut late = ctx.connect("late")?;
    say(&mut late, "JOIN late")?;
    late.expect_line(TOO_MANY_USERS)?;
    late.expect_closed("the 11th JOIN closes the connection")?;
    // A place freed is a place to take.
    let mut gone = users.remove(3);
    say(&mut gone, "QUIT")?;
    gone.drain_until_closed(ctx.wait())?;
    eventually(ctx, || {
        let n = list(&mut users[0])?.len();
        ensure(
            n == 9,
            "the QUIT user is still listed",
            "9 users",
            &n.to_string(),
        )
    })?;
    join(ctx, "late").map(drop)
}

// ----- unregistered, LIST -------------------------------------------------------

fn unregistered(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    for line in ["LIST", "MESG a b", "BCST hi", "HELLO", "join c"] {
        say(&mut c, line)?;
        c.expect_line(UNREGISTERED)?;
    }
    Ok(())
}

/// Reads one line with its line end, which must be CR LF.
fn crlf_line(c: &mut Conn) -> R<Vec<u8>> {
    let mut line = c.raw_line(b"\n", "a line ending in CR LF")?;
    if line.pop() != Some(b'\r') {
        line.push(b'\n');
        return Err(Fail::new(
            format!("{}: a line does not end in CR LF", c.label),
            "CR LF",
            show(&line),
        ));
    }
    Ok(line)
}

fn list_table(ctx: &mut Ctx) -> R {
    let _bob = join(ctx, "bob")?;
    let mut alice = join(ctx, "alice")?;
    say(&mut alice, "LIST")?;
    same(
        "the header",
        LIST_HEADER.as_bytes().to_vec(),
        crlf_line(&mut alice)?,
    )?;
    same(
        "the rule (28 dashes)",
        LIST_RULE.as_bytes().to_vec(),
        crlf_line(&mut alice)?,
    )?;
    let mut rows = Vec::new();
    for _ in 0..2 {
        let row = crlf_line(&mut alice)?;
        let text = String::from_utf8_lossy(&row).into_owned();
        let ok = text.split_once('\t').is_some_and(|(name, fd)| {
            !name.is_empty() && !fd.is_empty() && fd.bytes().all(|b| b.is_ascii_digit())
        });
        ensure(
            ok,
            "a LIST row is <name> TAB <fd>",
            "<name>\\t<fd>",
            &show(&row),
        )?;
        rows.push(text.split('\t').next().unwrap_or("").to_string());
    }
    rows.sort();
    same("the users listed", sorted(&["alice", "bob"]), rows)?;
    same(
        "the closing rule",
        LIST_RULE.as_bytes().to_vec(),
        crlf_line(&mut alice)?,
    )?;
    barrier(&mut alice, true)
}

fn list_order(ctx: &mut Ctx) -> R {
    let _zed = join(ctx, "zed")?;
    let _amy = join(ctx, "amy")?;
    let mut max = join(ctx, "max")?;
    let order: Vec<String> = list(&mut max)?.into_iter().map(|u| u.0).collect();
    same(
        "LIST in registration order",
        vec!["zed", "amy", "max"],
        order.iter().map(String::as_str).collect(),
    )
}

// ----- MESG, BCST ------------------------------------------------------------------

fn mesg_delivered(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    let mut carol = join(ctx, "carol")?;
    say(&mut alice, "MESG bob  two  spaces, punctuation! ")?;
    bob.expect_line("FROM alice:  two  spaces, punctuation! ")?;
    barrier(&mut alice, true)?;
    barrier(&mut carol, true)?;
    barrier(&mut bob, true)
}

fn mesg_unknown_recipient(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    say(&mut alice, "MESG zed hello?")?;
    alice.expect_line("Unknown Recipient (zed). MESG Discarded.")
}

fn mesg_invalid(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    for line in ["MESG", "MESG alice", "MESG alice "] {
        say(&mut alice, line)?;
        alice.expect_line(INVALID_MESG)?;
    }
    barrier(&mut alice, true)
}

fn mesg_self(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    say(&mut alice, "MESG alice note to self")?;
    alice.expect_line("FROM alice: note to self")
}

fn bcst_others(ctx: &mut Ctx) -> R {
    let mut users = Vec::new();
    for n in ["a", "b", "c", "d"] {
        users.push(join(ctx, n)?);
    }
    let mut lurker = ctx.connect("lurker")?;
    say(&mut users[1], "BCST hello, everyone")?;
    for (i, user) in users.iter_mut().enumerate() {
        if i != 1 {
            user.expect_line("FROM b: hello, everyone")?;
        }
        barrier(user, true)?;
    }
    barrier(&mut lurker, false)
}

fn bcst_empty(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    for line in ["BCST", "BCST "] {
        say(&mut alice, line)?;
        alice.expect_line(UNKNOWN_MESSAGE)?;
    }
    barrier(&mut bob, true)
}

fn unknown(ctx: &mut Ctx) -> R {
    let mut c = join(ctx, "c")?;
    for line in ["HELLO", "join d", "list", "Mesg c hi", "QUITTER"] {
        say(&mut c, line)?;
        c.expect_line(UNKNOWN_MESSAGE)?;
    }
    Ok(())
}

fn ping(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    say(&mut c, "PING")?;
    c.expect_line(PONG)?;
    say(&mut c, "JOIN p")?;
    c.expect_line(&accepted("p"))?;
    say(&mut c, "PING me")?;
    c.expect_line(PONG)
}

// ----- QUIT, disconnects -------------------------------------------------------------

fn quit(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    say(&mut alice, "QUIT")?;
    alice.expect_closed("QUIT closes the connection, with nothing said")?;
    eventually(ctx, || {
        same(
            "LIST after alice's QUIT",
            sorted(&["bob"]),
            names(&list(&mut bob)?),
        )
    })?;
    join(ctx, "alice").map(drop)
}

fn quit_unregistered(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    say(&mut c, "QUIT")?;
    c.expect_closed("QUIT closes an unregistered connection too")
}

fn quit_rest_ignored(ctx: &mut Ctx) -> R {
    let mut bob = join(ctx, "bob")?;
    let mut alice = join(ctx, "alice")?;
    alice.send(b"QUIT\r\nMESG bob too late\r\n")?;
    alice.expect_closed("QUIT closes the connection")?;
    barrier(&mut bob, true)
}

fn disconnect_removed(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let bob = join(ctx, "bob")?;
    bob.abort();
    eventually(ctx, || {
        same(
            "LIST after bob vanished",
            sorted(&["alice"]),
            names(&list(&mut alice)?),
        )
    })?;
    say(&mut alice, "MESG bob still there?")?;
    alice.expect_line("Unknown Recipient (bob). MESG Discarded.")?;
    join(ctx, "bob").map(drop)
}

// ----- framing -----------------------------------------------------------------------

fn eol_variants(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    c.send(b"JOIN lf\n")?;
    c.expect_line(&accepted("lf"))?;
    // A lone CR, CR LF, empty lines, LF: three commands.
    c.send(b"NOPE\rNOPE\r\n\r\n\n\nNOPE\n")?;
    for _ in 0..3 {
        c.expect_line(UNKNOWN_MESSAGE)?;
    }
    barrier(&mut c, true)?;
    c.expect_nothing_pending("empty lines are skipped, not answered")
}

fn crlf_out(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    say(&mut c, "JOIN crlf")?;
    c.expect_bytes(
        format!("{}\r\n", accepted("crlf")).as_bytes(),
        "every line ends in CR LF",
    )?;
    say(&mut c, "NOPE")?;
    c.expect_bytes(
        format!("{UNKNOWN_MESSAGE}\r\n").as_bytes(),
        "every line ends in CR LF",
    )
}

fn too_long(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    let text = "x".repeat(4096 - "MESG bob ".len());
    say(&mut alice, &format!("MESG bob {text}"))?;
    bob.expect_line(&format!("FROM alice: {text}"))?;
    say(&mut alice, &format!("MESG bob {text}y"))?;
    alice.expect_line(TOO_LONG)?;
    // Far longer, in pieces: one reply, then the next line is handled.
    let long = format!("MESG bob {}", "z".repeat(20_000));
    for piece in long.as_bytes().chunks(3000) {
        alice.send(piece)?;
    }
    alice.send(b"\r\nNOPE\r\n")?;
    alice.expect_line(TOO_LONG)?;
    alice.expect_line(UNKNOWN_MESSAGE)?;
    barrier(&mut bob, true)
}

fn telnet_options(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    // DO ECHO, WILL NAWS: refused with WONT ECHO, DONT NAWS.
    c.send(&[IAC, 253, 1, IAC, 251, 31])?;
    c.expect_bytes(&[IAC, 252, 1, IAC, 254, 31], "telnet offers are refused")?;
    c.send(&[IAC, 244, IAC, 253, 6])?;
    c.expect_bytes(&[IAC, 252, 6], "Ctrl-C's timing mark is answered")?;
    say(&mut c, "JOIN t")?;
    c.expect_line(&accepted("t"))
}

fn telnet_iac(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    alice.send(&[b"MESG bob a".as_slice(), &[IAC, IAC], b"b\r\n"].concat())?;
    bob.expect_bytes(
        &[b"FROM alice: a".as_slice(), &[IAC, IAC], b"b\r\n"].concat(),
        "0xFF is relayed to a telnet user as IAC IAC",
    )
}

fn eof_last_line(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    bob.send(b"BCST bye for now")?;
    bob.shutdown_write()?;
    alice.expect_line("FROM bob: bye for now")?;
    bob.expect_closed("the server closes after the last line")
}

fn half_close(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("c")?;
    c.send(b"JOIN half\r\nNOPE\r\n")?;
    c.shutdown_write()?;
    c.expect_line(&accepted("half"))?;
    c.expect_line(UNKNOWN_MESSAGE)?;
    c.expect_closed("the server closes once it has answered")
}

fn sanitize(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    alice.send(b"MESG bob hi\x1b[2J\x07\x00x\x7f!\r\n")?;
    bob.expect_bytes(
        b"FROM alice: hi [2J  x !\r\n",
        "control characters arrive as spaces",
    )?;
    barrier(&mut bob, true)
}

// ----- robustness ----------------------------------------------------------------------

fn byte_by_byte(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("slow")?;
    c.send_pieces(b"JOIN slow\r\n", 1, Duration::from_millis(2))?;
    c.expect_line(&accepted("slow"))?;
    c.send_pieces(b"LIST\r\n", 1, Duration::from_millis(2))?;
    same(
        "LIST sent a byte at a time",
        sorted(&["slow"]),
        names(&read_list(&mut c)?),
    )?;
    barrier(&mut c, true)
}

fn coalesced(ctx: &mut Ctx) -> R {
    let mut c = ctx.connect("a")?;
    c.send(b"JOIN a\r\nNOPE\r\nMESG zed one\r\nMESG zoe two\r\nMESG zo")?;
    c.expect_line(&accepted("a"))?;
    c.expect_line(UNKNOWN_MESSAGE)?;
    c.expect_line("Unknown Recipient (zed). MESG Discarded.")?;
    c.expect_line("Unknown Recipient (zoe). MESG Discarded.")?;
    // The rest of a line cut where the segment ends: one line, whose
    // reply names the whole recipient.
    c.send(b"ey three\r\n")?;
    c.expect_line("Unknown Recipient (zoey). MESG Discarded.")?;
    barrier(&mut c, true)
}

fn pipelined(ctx: &mut Ctx) -> R {
    const USERS: usize = 6;
    const EACH: usize = 100;
    let names: Vec<String> = (0..USERS).map(|i| format!("p{i}")).collect();
    let mut conns = Vec::new();
    for n in &names {
        conns.push(join(ctx, n)?);
    }
    for (n, c) in names.iter().zip(conns.iter_mut()) {
        let burst: String = (0..EACH).map(|seq| format!("BCST {n} {seq}\r\n")).collect();
        c.send(burst.as_bytes())?;
    }
    for (me, c) in names.iter().zip(conns.iter_mut()) {
        let mut seqs = Sequences::default();
        let want = (USERS - 1) * EACH;
        for got in 0..want {
            let line = c.line().map_err(super::short(me, got, want))?;
            let text = String::from_utf8_lossy(&line).into_owned();
            let parsed = text
                .strip_prefix("FROM ")
                .and_then(|t| t.split_once(": "))
                .and_then(|(from, body)| Some((from, super::parse_seq(body.as_bytes())?)));
            let Some((from, (sender, seq))) = parsed else {
                return Err(Fail::new(
                    format!("{me}: not a broadcast"),
                    "FROM <user>: <user> <seq>",
                    show(&line),
                ));
            };
            ensure(
                from == sender && from != me,
                format!("{me}: a broadcast from the wrong sender"),
                &sender,
                from,
            )?;
            seqs.saw(me, from, seq)?;
        }
        let others: Vec<String> = names.iter().filter(|n| *n != me).cloned().collect();
        seqs.complete(me, &others, EACH)?;
        barrier(c, true)?;
    }
    still_serves(ctx)
}

fn stalled_reader(ctx: &mut Ctx) -> R {
    let mut stalled = ctx.connect_with(
        "stalled",
        Opts {
            recv_buffer: Some(4096),
        },
    )?;
    say(&mut stalled, "JOIN stalled")?;
    stalled.expect_line(&accepted("stalled"))?;
    let flooder = join(ctx, "flooder")?;
    let mut alice = join(ctx, "alice")?;
    let mut bob = join(ctx, "bob")?;
    let line = format!("MESG stalled {}\r\n", "f".repeat(4000));
    let flood = Flood::start(ctx, flooder, line.repeat(16).into_bytes(), FLOOD_CAP);
    flood.settle(ctx);
    ctx.note("stalled reads nothing; alice writes to bob");
    for i in 0..20 {
        say(&mut alice, &format!("MESG bob message {i}"))?;
    }
    for i in 0..20 {
        bob.expect_line(&format!("FROM alice: message {i}"))?;
    }
    still_serves(ctx)?;
    drop(flood);
    drop(stalled);
    Ok(())
}

fn abrupt(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut carol = join(ctx, "carol")?;
    carol.send(b"MESG ali")?;
    carol.abort();
    eventually(ctx, || {
        same(
            "LIST after carol vanished",
            sorted(&["alice"]),
            names(&list(&mut alice)?),
        )
    })?;
    barrier(&mut alice, true)?;
    still_serves(ctx)
}

fn many_clients(ctx: &mut Ctx) -> R {
    let mut joined = Vec::new();
    for i in 0..10 {
        joined.push(join(ctx, &format!("m{i}"))?);
    }
    let mut idle = Vec::new();
    for i in 0..6 {
        idle.push(ctx.connect(&format!("idle{i}"))?);
    }
    for c in idle.iter_mut() {
        barrier(c, false)?;
    }
    say(&mut joined[0], "BCST to all nine")?;
    for c in joined.iter_mut().skip(1) {
        c.expect_line("FROM m0: to all nine")?;
    }
    same("LIST with 16 connected", 10, list(&mut joined[9])?.len())?;
    for c in idle.iter_mut() {
        barrier(c, false)?;
    }
    Ok(())
}

fn garbage_bytes(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut g = ctx.connect("garbage")?;
    g.send(&garbage(20_000, 0x5eed))?;
    g.send(b"\r\n")?;
    barrier(&mut alice, true)?;
    g.close();
    barrier(&mut alice, true)?;
    still_serves(ctx)
}

fn over_long(ctx: &mut Ctx) -> R {
    let mut alice = join(ctx, "alice")?;
    let mut big = ctx.connect("big")?;
    for _ in 0..16 {
        big.send_quietly(&[b'x'; 64 * 1024]);
        barrier(&mut alice, true)?;
    }
    ctx.note("big sent 1 MiB without a line end");
    big.send(b"\r\nNOSUCHCOMMAND\r\n")?;
    // Whatever the server said about the long line, the next is answered.
    for _ in 0..8 {
        if big.line()? == UNREGISTERED.as_bytes() {
            return still_serves(ctx);
        }
    }
    Err(Fail::new(
        "the line after the long one was not answered",
        UNREGISTERED,
        "other lines",
    ))
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Mesg, role: Role::Server, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "mesg.join.accepted",
        ["basic", "assignment"],
        "JOIN <name> is answered `JOIN <name> Request Accepted` and registers",
        join_accepted
    ),
    case!(
        "mesg.join.twice",
        ["basic", "assignment", "state"],
        "a second JOIN is refused with the connection's own name and fd; nothing changes",
        join_twice
    ),
    case!(
        "mesg.join.invalid",
        ["basic", "choice", "state"],
        "a missing or bad name gets `Invalid Username…` and stays unregistered",
        join_invalid
    ),
    case!(
        "mesg.join.taken",
        ["basic", "choice", "state"],
        "a held name gets `User Already Registered…` with the holder's fd; the connection stays",
        join_taken
    ),
    case!(
        "mesg.join.limit",
        ["basic", "assignment", "limit"],
        "10 users register; the 11th gets `Too Many Users…` and is closed; a freed place is taken",
        join_limit
    ),
    case!(
        "mesg.unregistered",
        ["basic", "assignment"],
        "before JOIN every command gets `Unregistered User…`",
        unregistered
    ),
    case!(
        "mesg.list.table",
        ["basic", "assignment"],
        "LIST is the table: header, 28 dashes, <name> TAB <fd> rows, 28 dashes, CR LF each",
        list_table
    ),
    case!(
        "mesg.list.order",
        ["basic", "choice"],
        "LIST rows are in registration order",
        list_order
    ),
    case!(
        "mesg.mesg.delivered",
        ["basic", "assignment"],
        "MESG reaches its recipient only, as `FROM <sender>: <text>`, text as typed",
        mesg_delivered
    ),
    case!(
        "mesg.mesg.unknown_recipient",
        ["basic", "assignment"],
        "MESG to nobody gets `Unknown Recipient (<to>). MESG Discarded.`",
        mesg_unknown_recipient
    ),
    case!(
        "mesg.mesg.invalid",
        ["basic", "choice"],
        "MESG without a name or text gets `Invalid MESG…`",
        mesg_invalid
    ),
    case!(
        "mesg.mesg.self",
        ["basic", "choice"],
        "MESG to oneself is delivered",
        mesg_self
    ),
    case!(
        "mesg.bcst.others",
        ["basic", "assignment"],
        "BCST reaches every other registered user, not the sender, not the unregistered",
        bcst_others
    ),
    case!(
        "mesg.bcst.empty",
        ["basic", "choice"],
        "BCST without text is an unknown message",
        bcst_empty
    ),
    case!(
        "mesg.unknown",
        ["basic", "assignment"],
        "an unknown (or wrongly cased) command gets `Unknown Message…`",
        unknown
    ),
    case!(
        "mesg.ping",
        ["basic", "choice"],
        "PING gets PONG, registered or not",
        ping
    ),
    case!(
        "mesg.quit",
        ["basic", "assignment", "state"],
        "QUIT closes the connection and frees the name at once",
        quit
    ),
    case!(
        "mesg.quit.unregistered",
        ["basic", "assignment"],
        "QUIT closes an unregistered connection",
        quit_unregistered
    ),
    case!(
        "mesg.quit.rest_ignored",
        ["basic", "choice"],
        "lines after QUIT in the same segment are not handled",
        quit_rest_ignored
    ),
    case!(
        "mesg.disconnect.removed",
        ["basic", "assignment", "state"],
        "a user gone without QUIT is removed from LIST and as a recipient",
        disconnect_removed
    ),
    case!(
        "mesg.eol.variants",
        ["basic", "choice", "framing"],
        "LF, CR LF and a lone CR end a line; empty lines are skipped",
        eol_variants
    ),
    case!(
        "mesg.eol.crlf_out",
        ["basic", "choice", "framing", "telnet"],
        "every line the server sends ends in CR LF",
        crlf_out
    ),
    case!(
        "mesg.too_long",
        ["basic", "choice", "framing"],
        "4096 bytes are a line; longer gets `Message Too Long…` once and is discarded",
        too_long
    ),
    case!(
        "mesg.telnet.options",
        ["basic", "choice", "telnet"],
        "telnet DO/WILL are refused with WONT/DONT; Ctrl-C's timing mark is answered",
        telnet_options
    ),
    case!(
        "mesg.telnet.iac",
        ["basic", "choice", "telnet"],
        "IAC IAC is one 0xFF byte, relayed to a telnet user as IAC IAC",
        telnet_iac
    ),
    case!(
        "mesg.eof.last_line",
        ["basic", "choice", "framing"],
        "a last line without a terminator counts when the client closes",
        eof_last_line
    ),
    case!(
        "mesg.half_close",
        ["basic", "choice"],
        "a client that half-closes still gets every reply, then the close",
        half_close
    ),
    case!(
        "mesg.sanitize",
        ["basic", "choice", "safety"],
        "control characters in relayed text arrive as spaces (rule S)",
        sanitize
    ),
    case!(
        "mesg.robust.byte_by_byte",
        ["robustness", "framing"],
        "commands sent a byte at a time are each one command",
        byte_by_byte
    ),
    case!(
        "mesg.robust.coalesced",
        ["robustness", "framing"],
        "several commands in one segment are each answered, in order",
        coalesced
    ),
    case!(
        "mesg.robust.pipelined",
        ["load"],
        "6 users each BCST 100 lines at once: every other user gets all, in order",
        pipelined
    ),
    case!(
        "mesg.robust.stalled_reader",
        ["load", "heavy"],
        "a user that stops reading under a flood does not stop others' messages",
        stalled_reader
    ),
    case!(
        "mesg.robust.abrupt",
        ["robustness", "state"],
        "a user reset mid-line is removed; the others go on",
        abrupt
    ),
    case!(
        "mesg.robust.many_clients",
        ["load"],
        "16 connections at once, 10 registered: all are served",
        many_clients
    ),
    case!(
        "mesg.robust.garbage",
        ["robustness"],
        "20 kB of random bytes hurt nobody; the server still serves",
        garbage_bytes
    ),
    case!(
        "mesg.robust.over_long",
        ["robustness", "framing"],
        "a 1 MiB line does not stop the server; the next line is answered",
        over_long
    ),
];
