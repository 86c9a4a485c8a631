//! `miniserv` servers (the 42 school's `mini_serv`, docs/PROTOCOLS.md
//! section 5): numbered clients, arrival and leaving notices, every line
//! relayed byte for byte to everyone else, and the robustness battery,
//! lazy readers included.
//!
//! The dialect answers nothing, so every proof goes through a relay:
//! "nothing else arrived" is a line one client sends, which every other
//! must get next. Ids are learned from the notices (a newcomer's from the
//! others' `just arrived`, the first client's from its first line), so
//! the cases hold on a server already running, whose ids do not start at
//! 0; only `miniserv.ids.from_zero` needs a fresh one. Lines are compared
//! byte for byte: a CR is text here.

use super::{garbage, Flood, Sequences};
use crate::case::{ensure, Case, Ctx, Dialect, Fail, Role, R};
use crate::net::{Conn, Opts};
use crate::transcript::show;
use pollchat::dialect::miniserv::{ARRIVED, LEFT};
use pollchat::limits::MINISERV_MAX_LINE;
use std::time::Duration;

fn arrived(id: u64) -> Vec<u8> {
    format!("server: client {id}{ARRIVED}").into_bytes()
}

fn left(id: u64) -> Vec<u8> {
    format!("server: client {id}{LEFT}").into_bytes()
}

/// `client <id>: <line>` and LF, as every other client gets a line.
fn said(id: u64, line: &[u8]) -> Vec<u8> {
    [format!("client {id}: ").as_bytes(), line, b"\n"].concat()
}

/// The next line, LF included: every byte counts.
fn line(c: &mut Conn) -> R<Vec<u8>> {
    let mut l = c.raw_line(b"\n", "a line")?;
    l.push(b'\n');
    Ok(l)
}

fn expect(c: &mut Conn, want: &[u8]) -> R {
    let got = line(c).map_err(|mut f| {
        f.expected = show(want);
        f
    })?;
    if got == want {
        Ok(())
    } else {
        Err(Fail::new(
            format!("{}: wrong line", c.label),
            show(want),
            show(&got),
        ))
    }
}

/// The number in `server: client <n> just arrived`.
fn arrival_id(c: &mut Conn) -> R<u64> {
    let got = line(c)?;
    let id = std::str::from_utf8(&got)
        .ok()
        .and_then(|t| t.strip_prefix("server: client "))
        .and_then(|t| t.strip_suffix(ARRIVED))
        .and_then(|n| n.parse().ok());
    id.ok_or_else(|| {
        Fail::new(
            format!("{}: not an arrival notice", c.label),
            show(b"server: client <id> just arrived\n"),
            show(&got),
        )
    })
}

/// A client connects while `room` is connected: each of them is told,
/// with the same id, which is returned. Once they are told, the server
/// has the newcomer, so whatever is sent after reaches it too.
fn arrive(ctx: &Ctx, label: &str, room: &mut [&mut Conn]) -> R<(Conn, u64)> {
    let c = ctx.connect(label)?;
    let mut id: Option<u64> = None;
    for m in room.iter_mut() {
        let got = arrival_id(m)?;
        if let Some(first) = id {
            ensure(
                got == first,
                format!("{}: every client hears the same id", m.label),
                &first.to_string(),
                &got.to_string(),
            )?;
        }
        id = Some(got);
    }
    id.map(|id| (c, id))
        .ok_or_else(|| Fail::new("a newcomer needs someone to hear of it", "", ""))
}

/// `speaker` sends `text` as a line; every one of `hear` gets it next,
/// with the same id, which is returned: a barrier for each of them, and
/// how the first client's id is learned.
fn speak(speaker: &mut Conn, text: &[u8], hear: &mut [&mut Conn]) -> R<u64> {
    speaker.send(&[text, b"\n"].concat())?;
    let mut id = None;
    for h in hear.iter_mut() {
        let got = line(h)?;
        let k = std::str::from_utf8(&got)
            .ok()
            .and_then(|t| t.strip_prefix("client "))
            .and_then(|t| t.split_once(": "))
            .filter(|(_, rest)| rest.as_bytes() == [text, b"\n"].concat())
            .and_then(|(k, _)| k.parse::<u64>().ok());
        let Some(k) = k else {
            return Err(Fail::new(
                format!("{}: the line, relayed", h.label),
                show(&said(id.unwrap_or(0), text)).replace("client 0", "client <id>"),
                show(&got),
            ));
        };
        if let Some(first) = id {
            ensure(
                k == first,
                format!("{}: every client hears the same id", h.label),
                &first.to_string(),
                &k.to_string(),
            )?;
        }
        id = Some(k);
    }
    id.ok_or_else(|| Fail::new("a line needs someone to hear it", "", ""))
}

/// Three clients: the first two, their ids, and the third's.
struct Three {
    o: Conn,
    a: Conn,
    b: Conn,
    ids: [u64; 3],
}

fn three(ctx: &Ctx) -> R<Three> {
    let mut o = ctx.connect("o")?;
    let (mut a, ia) = arrive(ctx, "a", &mut [&mut o])?;
    let (mut b, ib) = arrive(ctx, "b", &mut [&mut o, &mut a])?;
    let io = speak(&mut o, b"o is here", &mut [&mut a, &mut b])?;
    Ok(Three {
        o,
        a,
        b,
        ids: [io, ia, ib],
    })
}

/// A newcomer is still numbered and heard of: the server still serves.
fn still_serves(ctx: &Ctx, room: &mut [&mut Conn]) -> R {
    arrive(ctx, "latecomer", room).map(drop)
}

// ----- ids and notices ----------------------------------------------------------------

fn arrival(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let [_, ia, ib] = t.ids;
    ensure(
        ib == ia + 1,
        "each newcomer gets the last id + 1",
        &(ia + 1).to_string(),
        &ib.to_string(),
    )?;
    // The newcomer was told nothing: o's line was b's first.
    speak(&mut t.a, b"and a", &mut [&mut t.o, &mut t.b]).map(drop)
}

fn from_zero(ctx: &mut Ctx) -> R {
    let mut first = ctx.connect("first")?;
    let (mut second, id) = arrive(ctx, "second", &mut [&mut first])?;
    ensure(
        id == 1,
        "the second client is client 1",
        "1",
        &id.to_string(),
    )?;
    let first_id = speak(&mut first, b"hi", &mut [&mut second])?;
    ensure(
        first_id == 0,
        "the first client the server accepts is client 0",
        "0",
        &first_id.to_string(),
    )
}

fn leaving(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.close();
    expect(&mut t.o, &left(ia))?;
    expect(&mut t.b, &left(ia))?;
    speak(&mut t.o, b"after a", &mut [&mut t.b]).map(drop)
}

fn not_reused(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let [_, ia, ib] = t.ids;
    t.a.close();
    expect(&mut t.o, &left(ia))?;
    expect(&mut t.b, &left(ia))?;
    let (_c, ic) = arrive(ctx, "c", &mut [&mut t.o, &mut t.b])?;
    ensure(
        ic == ib + 1,
        "ids are never reused: a newcomer gets the last id + 1",
        &(ib + 1).to_string(),
        &ic.to_string(),
    )
}

fn half_close(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send(b"last words\n")?;
    t.a.shutdown_write()?;
    for c in [&mut t.o, &mut t.b] {
        expect(c, &said(ia, b"last words"))?;
        expect(c, &left(ia))?;
    }
    Ok(())
}

// ----- what is relayed ------------------------------------------------------------------

fn relay(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send(b"hello,  everyone! \n")?;
    expect(&mut t.o, &said(ia, b"hello,  everyone! "))?;
    expect(&mut t.b, &said(ia, b"hello,  everyone! "))?;
    // The sender is sent nothing: o's line is the next thing it gets.
    speak(&mut t.o, b"got it", &mut [&mut t.a, &mut t.b]).map(drop)
}

fn bytes_as_they_came(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    let odd: &[u8] = b"\tTAB ESC\x1b[31m NUL\x00 FF\xff caf\xe9 \xc2";
    t.a.send(&[b"hi\r\n", odd, b"\n"].concat())?;
    for c in [&mut t.o, &mut t.b] {
        c.expect_bytes(&said(ia, b"hi\r"), "a CR before the LF is part of the line")?;
        c.expect_bytes(&said(ia, odd), "every byte is relayed as it came")?;
    }
    Ok(())
}

fn empty_line(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send(b"\n")?;
    expect(&mut t.o, &said(ia, b""))?;
    expect(&mut t.b, &said(ia, b""))
}

fn partial_dropped(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send(b"no line end")?;
    t.a.close();
    // The notice, and nothing before it: the half line is not a line.
    expect(&mut t.o, &left(ia))?;
    expect(&mut t.b, &left(ia))
}

fn order(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let [_, ia, ib] = t.ids;
    t.a.send(b"one\n")?;
    expect(&mut t.o, &said(ia, b"one"))?;
    t.b.close();
    expect(&mut t.o, &left(ib))?;
    t.a.send(b"two\n")?;
    // a heard of b leaving between its two lines; o gets them as they came.
    expect(&mut t.a, &left(ib))?;
    expect(&mut t.o, &said(ia, b"two"))
}

fn max_line(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    // A megabyte takes longer than one reply to cross.
    for c in [&mut t.o, &mut t.b] {
        c.set_wait(ctx.wait_for(Duration::from_secs(20)));
    }
    let longest = vec![b'L'; MINISERV_MAX_LINE];
    let whole = said(ia, &longest);
    ctx.note(format!("a sends a line of {MINISERV_MAX_LINE} bytes"));
    t.a.send_quietly(&longest);
    t.a.send(b"\n")?;
    for c in [&mut t.o, &mut t.b] {
        let got = c.exact(whole.len(), "the longest line, whole")?;
        ensure(
            got == whole,
            format!("{}: a line of 1 MiB is relayed whole", c.label),
            &format!("client {ia}: LLL... ({MINISERV_MAX_LINE} bytes) and LF"),
            &show(&got[..got.len().min(60)]),
        )?;
    }
    ctx.note("a sends a line one byte longer, then a short one");
    t.a.send_quietly(&longest);
    t.a.send(b"L\nafter the long one\n")?;
    // Dropped, and the sender is still connected and heard.
    expect(&mut t.o, &said(ia, b"after the long one"))?;
    expect(&mut t.b, &said(ia, b"after the long one"))
}

// ----- robustness -------------------------------------------------------------------------

fn byte_by_byte(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send_pieces(b"one byte at a time\n", 1, Duration::from_millis(2))?;
    expect(&mut t.o, &said(ia, b"one byte at a time"))?;
    expect(&mut t.b, &said(ia, b"one byte at a time"))
}

fn coalesced(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send(b"one\ntwo\nthr")?;
    expect(&mut t.o, &said(ia, b"one"))?;
    expect(&mut t.o, &said(ia, b"two"))?;
    // The rest of the cut line, then a barrier: one line, not two.
    t.a.send(b"ee\n")?;
    expect(&mut t.o, &said(ia, b"three"))?;
    speak(&mut t.b, b"barrier", &mut [&mut t.o]).map(drop)
}

fn abrupt(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let ia = t.ids[1];
    t.a.send(b"cut off in the mid")?;
    t.a.abort();
    expect(&mut t.o, &left(ia))?;
    expect(&mut t.b, &left(ia))?;
    still_serves(ctx, &mut [&mut t.o, &mut t.b])
}

fn garbage_bytes(ctx: &mut Ctx) -> R {
    let mut t = three(ctx)?;
    let (mut g, ig) = arrive(ctx, "garbage", &mut [&mut t.o, &mut t.a, &mut t.b])?;
    let mut bytes = garbage(20_000, 0x5eed);
    bytes.push(b'\n');
    g.send(&bytes)?;
    g.close();
    // Every line of it relayed as it is, then the notice.
    let mut want: Vec<u8> = bytes
        .split_inclusive(|&b| b == b'\n')
        .flat_map(|l| said(ig, &l[..l.len() - 1]))
        .collect();
    want.extend(left(ig));
    t.o.expect_bytes(&want, "every line of the garbage, byte for byte")?;
    still_serves(ctx, &mut [&mut t.o])
}

// ----- load -----------------------------------------------------------------------------------

fn many_clients(ctx: &mut Ctx) -> R {
    const N: usize = 20;
    let mut room: Vec<Conn> = vec![ctx.connect("c0")?];
    let mut ids = Vec::new();
    for i in 1..N {
        let mut hearing: Vec<&mut Conn> = room.iter_mut().collect();
        let (c, id) = arrive(ctx, &format!("c{i}"), &mut hearing)?;
        ids.push(id);
        room.push(c);
    }
    let (last, rest) = room.split_last_mut().expect("20 clients");
    let mut hearing: Vec<&mut Conn> = rest.iter_mut().collect();
    let id = speak(last, b"to all nineteen", &mut hearing)?;
    ensure(
        Some(&id) == ids.last(),
        "the line comes from the last client's id",
        &format!("{:?}", ids.last()),
        &id.to_string(),
    )
}

fn pipelined(ctx: &mut Ctx) -> R {
    const USERS: usize = 6;
    const EACH: usize = 100;
    let mut room: Vec<Conn> = vec![ctx.connect("p0")?];
    for i in 1..USERS {
        let mut hearing: Vec<&mut Conn> = room.iter_mut().collect();
        let (c, _) = arrive(ctx, &format!("p{i}"), &mut hearing)?;
        room.push(c);
    }
    let names: Vec<String> = (0..USERS).map(|i| format!("p{i}")).collect();
    for (n, c) in names.iter().zip(room.iter_mut()) {
        let burst: Vec<u8> = (0..EACH)
            .flat_map(|seq| format!("{n} {seq}\n").into_bytes())
            .collect();
        c.send(&burst)?;
    }
    for (me, c) in names.iter().zip(room.iter_mut()) {
        let mut seqs = Sequences::default();
        let want = (USERS - 1) * EACH;
        for n in 0..want {
            let got = line(c).map_err(super::short(me, n, want))?;
            let text = String::from_utf8_lossy(&got).into_owned();
            let parsed = text
                .strip_prefix("client ")
                .and_then(|t| t.split_once(": "))
                .and_then(|(_, body)| super::parse_seq(body.trim_end().as_bytes()));
            let Some((sender, seq)) = parsed else {
                return Err(Fail::new(
                    format!("{me}: not a relayed line"),
                    "client <id>: <user> <seq>",
                    show(&got),
                ));
            };
            ensure(
                sender != *me,
                format!("{me}: its own line came back"),
                "the others' lines",
                &text,
            )?;
            seqs.saw(me, &sender, seq)?;
        }
        let others: Vec<String> = names.iter().filter(|n| *n != me).cloned().collect();
        seqs.complete(me, &others, EACH)?;
    }
    let mut hearing: Vec<&mut Conn> = room.iter_mut().collect();
    still_serves(ctx, &mut hearing)
}

fn lazy_reader(ctx: &mut Ctx) -> R {
    // 4 MiB of lines to a client that reads none of them: within the 8 MiB
    // it may leave unread, so it must not be cut off, and nobody waits.
    const LINES: usize = 1024;
    let text = "z".repeat(4000);
    let mut o = ctx.connect("o")?;
    let mut lazy = ctx.connect_with(
        "lazy",
        Opts {
            recv_buffer: Some(4096),
        },
    )?;
    arrival_id(&mut o)?;
    let (flooder, id_f) = arrive(ctx, "flooder", &mut [&mut o])?;
    let lines: Vec<Vec<u8>> = (0..LINES)
        .map(|i| format!("{i:04} {text}").into_bytes())
        .collect();
    let burst: Vec<u8> = lines
        .iter()
        .flat_map(|l| [&l[..], b"\n"].concat())
        .collect();
    let total = burst.len();
    let flood = Flood::patient(ctx, flooder, burst, total);
    ctx.note("lazy reads nothing; o reads everything");
    let each = |c: &mut Conn, who: &str| -> R {
        c.set_wait(ctx.wait_for(Duration::from_secs(10)));
        for l in &lines {
            let want = said(id_f, l);
            let got = c.exact(want.len(), &format!("the flooder's lines ({who})"))?;
            if got != want {
                return Err(Fail::new(
                    format!("{}: the flooder's lines, whole and in order", c.label),
                    show(&want[..40]),
                    show(&got[..got.len().min(40)]),
                ));
            }
        }
        Ok(())
    };
    each(&mut o, "while lazy reads nothing")?;
    flood.settle(ctx);
    drop(flood);
    ctx.note("lazy reads now");
    expect(&mut lazy, &arrived(id_f))?;
    each(&mut lazy, "kept for the lazy reader")
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Miniserv, role: Role::Server, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "miniserv.arrival",
        ["basic", "assignment"],
        "a newcomer gets the last id + 1; the others get `server: client <id> just arrived`, it nothing",
        arrival
    ),
    case!(
        "miniserv.ids.from_zero",
        ["basic", "assignment", "spawn"],
        "the first client a server accepts is client 0, the next client 1",
        from_zero
    ),
    case!(
        "miniserv.left",
        ["basic", "assignment"],
        "a client that closes: the others get `server: client <id> just left`",
        leaving
    ),
    case!(
        "miniserv.ids.not_reused",
        ["basic", "assignment"],
        "ids are never reused: after a client leaves, a newcomer gets the last id + 1",
        not_reused
    ),
    case!(
        "miniserv.half_close",
        ["basic", "choice"],
        "a client that half-closes has left: its lines, then `just left`",
        half_close
    ),
    case!(
        "miniserv.relay",
        ["basic", "assignment"],
        "a line goes to every other client as `client <id>: <line>`, not to its sender",
        relay
    ),
    case!(
        "miniserv.relay.bytes",
        ["basic", "choice", "framing"],
        "lines are relayed byte for byte: a CR before the LF, TAB, ESC, NUL, 0xFF, non-UTF-8",
        bytes_as_they_came
    ),
    case!(
        "miniserv.relay.empty",
        ["basic", "choice", "framing"],
        "an empty line is a line: `client <id>: ` and LF",
        empty_line
    ),
    case!(
        "miniserv.partial_dropped",
        ["basic", "choice", "framing"],
        "bytes after the last LF when a client leaves are not a line: only `just left`",
        partial_dropped
    ),
    case!(
        "miniserv.order",
        ["basic", "assignment"],
        "lines and notices reach each client in the order the server handled them",
        order
    ),
    case!(
        "miniserv.line.max",
        ["basic", "choice", "framing", "heavy"],
        "a line of 1 MiB is relayed whole; a longer one is dropped and its sender stays",
        max_line
    ),
    case!(
        "miniserv.robust.byte_by_byte",
        ["robustness", "framing"],
        "a line sent a byte at a time is one line",
        byte_by_byte
    ),
    case!(
        "miniserv.robust.coalesced",
        ["robustness", "framing"],
        "several lines and part of one in one segment: each relayed once, the part when it ends",
        coalesced
    ),
    case!(
        "miniserv.robust.abrupt",
        ["robustness", "state"],
        "a client reset mid-line has left; the half line is dropped; the server still serves",
        abrupt
    ),
    case!(
        "miniserv.robust.garbage",
        ["robustness"],
        "20 kB of random bytes are relayed line by line, byte for byte; the server still serves",
        garbage_bytes
    ),
    case!(
        "miniserv.robust.many_clients",
        ["load"],
        "20 clients: each hears of every later one, and one line reaches all the others",
        many_clients
    ),
    case!(
        "miniserv.robust.pipelined",
        ["load"],
        "6 clients each send 100 lines at once: every other gets all, in order",
        pipelined
    ),
    case!(
        "miniserv.robust.lazy_reader",
        ["load", "assignment", "heavy"],
        "a client that reads nothing of 4 MiB is not cut off, and the others get every line meanwhile",
        lazy_reader
    ),
];
