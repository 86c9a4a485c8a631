//! `channels` servers (Berkeley CS168 channel chat): the assignment's
//! `utils.py` error constants by their own names, the rules of its text,
//! docs/PROTOCOLS.md section 3's choices, and the robustness battery.
//!
//! Every frame is read as exactly 200 bytes and compared with its trailing
//! whitespace stripped, as the reference client's `rstrip()` does; the
//! padding itself is checked byte for byte by `channels.frame.exact`
//! alone. "Nothing arrived" is proved with a barrier from `utils.py`: a
//! bare `/join` is answered with one frame and changes nothing.

use super::{garbage, Flood, Sequences, FLOOD_CAP};
use crate::case::{ensure, same, Case, Ctx, Dialect, Fail, Role, R};
use crate::net::{Conn, Opts};
use crate::transcript::show;
use pollchat::dialect::channels::{
    CREATE_REQUIRES_ARGUMENT, FRAME_LEN, INVALID_CONTROL_SUFFIX, JOIN_REQUIRES_ARGUMENT,
    NOT_IN_CHANNEL,
};
use std::time::Duration;

fn padded(text: &[u8]) -> Vec<u8> {
    let mut f = text[..text.len().min(FRAME_LEN)].to_vec();
    f.resize(FRAME_LEN, b' ');
    f
}

fn send(c: &mut Conn, text: &str) -> R {
    c.send(&padded(text.as_bytes()))
}

/// Python's `rstrip()` of ASCII whitespace.
fn stripped(frame: &[u8]) -> &[u8] {
    let end = frame
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
        .map_or(0, |i| i + 1);
    &frame[..end]
}

fn frame(c: &mut Conn) -> R<Vec<u8>> {
    c.exact(FRAME_LEN, "a 200-byte frame")
}

fn expect_bytes(c: &mut Conn, want: &[u8]) -> R {
    let got = frame(c).map_err(|mut f| {
        f.expected = show(want);
        f
    })?;
    if stripped(&got) == want {
        Ok(())
    } else {
        Err(Fail::new(
            format!("{}: wrong frame", c.label),
            show(want),
            show(stripped(&got)),
        ))
    }
}

fn expect(c: &mut Conn, want: &str) -> R {
    expect_bytes(c, want.as_bytes())
}

fn named(ctx: &Ctx, name: &str) -> R<Conn> {
    let mut c = ctx.connect(name)?;
    send(&mut c, name)?;
    Ok(c)
}

fn barrier(c: &mut Conn) -> R {
    send(c, "/join")?;
    expect(c, JOIN_REQUIRES_ARGUMENT)
}

fn joined(ctx: &Ctx, name: &str, channel: &str) -> R<Conn> {
    let mut c = named(ctx, name)?;
    send(&mut c, &format!("/join {channel}"))?;
    barrier(&mut c)?;
    Ok(c)
}

fn created(ctx: &Ctx, name: &str, channel: &str) -> R<Conn> {
    let mut c = named(ctx, name)?;
    send(&mut c, &format!("/create {channel}"))?;
    barrier(&mut c)?;
    Ok(c)
}

fn invalid(word: &str) -> String {
    format!("{word}{INVALID_CONTROL_SUFFIX}")
}

fn no_channel(ch: &str) -> String {
    format!("No channel named {ch} exists. Try '/create {ch}'?")
}

fn exists(ch: &str) -> String {
    format!("Room {ch} already exists, so cannot be created.")
}

/// The channel names `/list` gives, up to the barrier's answer.
fn listed(c: &mut Conn) -> R<Vec<String>> {
    send(c, "/list")?;
    send(c, "/join")?;
    let mut names = Vec::new();
    loop {
        let f = frame(c)?;
        let text = String::from_utf8_lossy(stripped(&f)).into_owned();
        if text == JOIN_REQUIRES_ARGUMENT {
            return Ok(names);
        }
        names.extend(text.split('\n').map(str::to_string));
    }
}

fn still_serves(ctx: &Ctx) -> R {
    let mut c = named(ctx, "latecomer")?;
    barrier(&mut c)
}

// ----- the utils.py constants --------------------------------------------------

fn first_frame(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    // The name frame got no answer (the barrier's came first), and it is
    // the name the others see.
    let mut bob = named(ctx, "bob")?;
    barrier(&mut bob)?;
    send(&mut bob, "/join tas")?;
    expect(&mut alice, "bob has joined")?;
    send(&mut bob, "hi")?;
    expect(&mut alice, "[bob] hi")
}

fn not_in_channel(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    send(&mut alice, "Hello world!")?;
    expect(&mut alice, NOT_IN_CHANNEL)
}

fn create_requires(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    for line in ["/create", "/create    "] {
        send(&mut alice, line)?;
        expect(&mut alice, CREATE_REQUIRES_ARGUMENT)?;
    }
    send(&mut alice, "/list")?;
    barrier(&mut alice)
}

fn channel_exists(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "168_tas")?;
    let mut bob = named(ctx, "bob")?;
    send(&mut bob, "/create 168_tas")?;
    expect(&mut bob, &exists("168_tas"))?;
    send(&mut alice, "/create 168_tas")?;
    expect(&mut alice, &exists("168_tas"))?;
    barrier(&mut alice)
}

fn join_requires(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    send(&mut alice, "/join")?;
    expect(&mut alice, JOIN_REQUIRES_ARGUMENT)
}

fn no_channel_exists(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    send(&mut alice, "/join nope")?;
    expect(&mut alice, &no_channel("nope"))
}

fn invalid_control(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    for (sent, word) in [
        ("/leave", "/leave"),
        ("/leave now please", "/leave"),
        ("/", "/"),
        ("/LIST", "/LIST"),
    ] {
        send(&mut alice, sent)?;
        expect(&mut alice, &invalid(word))?;
    }
    Ok(())
}

fn joined_channel(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut carol = created(ctx, "carol", "elsewhere")?;
    let mut bob = named(ctx, "bob")?;
    send(&mut bob, "/join tas")?;
    expect(&mut alice, "bob has joined")?;
    // Not the one who joined, nor another channel.
    barrier(&mut bob)?;
    barrier(&mut carol)?;
    barrier(&mut alice)
}

fn left_channel(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    for line in ["/create one", "/create two", "/join one"] {
        send(&mut alice, line)?;
    }
    barrier(&mut alice)?;
    let mut bob = joined(ctx, "bob", "one")?;
    expect(&mut alice, "bob has joined")?;
    let mut carol = joined(ctx, "carol", "one")?;
    expect(&mut alice, "carol has joined")?;
    expect(&mut bob, "carol has joined")?;
    ctx.note("bob leaves by /join");
    send(&mut bob, "/join two")?;
    expect(&mut alice, "bob has left")?;
    expect(&mut carol, "bob has left")?;
    barrier(&mut bob)?;
    ctx.note("carol leaves by /create");
    send(&mut carol, "/create three")?;
    expect(&mut alice, "carol has left")?;
    barrier(&mut carol)?;
    barrier(&mut bob)?;
    ctx.note("carol joins bob's channel and disconnects");
    send(&mut carol, "/join two")?;
    expect(&mut bob, "carol has joined")?;
    carol.close();
    expect(&mut bob, "carol has left")?;
    barrier(&mut bob)?;
    barrier(&mut alice)
}

// ----- the assignment's other rules -------------------------------------------------

fn create_enters(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = joined(ctx, "bob", "tas")?;
    expect(&mut alice, "bob has joined")?;
    send(&mut alice, "I made it")?;
    expect(&mut bob, "[alice] I made it")
}

fn list(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    for ch in ["zeta", "Alpha", "168_tas"] {
        send(&mut alice, &format!("/create {ch}"))?;
    }
    let mut got = listed(&mut alice)?;
    got.sort();
    same(
        "the channels, separated by newlines",
        vec!["168_tas", "Alpha", "zeta"],
        got.iter().map(String::as_str).collect(),
    )
}

fn list_sorted(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    for ch in ["zeta", "Alpha", "168_tas"] {
        send(&mut alice, &format!("/create {ch}"))?;
    }
    send(&mut alice, "/list")?;
    expect(&mut alice, "168_tas\nAlpha\nzeta")
}

fn list_empty(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    send(&mut alice, "/list")?;
    barrier(&mut alice)
}

fn text_relay(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = joined(ctx, "bob", "tas")?;
    expect(&mut alice, "bob has joined")?;
    let mut carol = joined(ctx, "carol", "tas")?;
    expect(&mut alice, "carol has joined")?;
    expect(&mut bob, "carol has joined")?;
    let mut dave = created(ctx, "dave", "elsewhere")?;
    send(&mut bob, "Hi everyone!")?;
    expect(&mut alice, "[bob] Hi everyone!")?;
    expect(&mut carol, "[bob] Hi everyone!")?;
    barrier(&mut bob)?;
    barrier(&mut dave)?;
    barrier(&mut carol)
}

fn state_unchanged(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = named(ctx, "bob")?;
    send(&mut bob, "/create other")?;
    send(&mut bob, "/join tas")?;
    expect(&mut alice, "bob has joined")?;
    send(&mut bob, "/join missing")?;
    expect(&mut bob, &no_channel("missing"))?;
    send(&mut bob, "/create tas")?;
    expect(&mut bob, &exists("tas"))?;
    send(&mut bob, "/create")?;
    expect(&mut bob, CREATE_REQUIRES_ARGUMENT)?;
    send(&mut bob, "/nonsense")?;
    expect(&mut bob, &invalid("/nonsense"))?;
    // Still in tas, and nobody was told anything.
    send(&mut bob, "still here?")?;
    expect(&mut alice, "[bob] still here?")?;
    let mut got = listed(&mut alice)?;
    got.sort();
    same(
        "no channel came or went",
        vec!["other", "tas"],
        got.iter().map(String::as_str).collect(),
    )
}

fn frame_exact(ctx: &mut Ctx) -> R {
    let mut alice = named(ctx, "alice")?;
    send(&mut alice, "Hello world!")?;
    let f = frame(&mut alice)?;
    same(
        "the frame, padded with spaces to 200 bytes",
        show(&padded(NOT_IN_CHANNEL.as_bytes())),
        show(&f),
    )?;
    let mut bob = created(ctx, "bob", "tas")?;
    send(&mut alice, "/join tas")?;
    let f = frame(&mut bob)?;
    same(
        "a notice, padded with spaces",
        show(&padded(b"alice has joined")),
        show(&f),
    )
}

fn frame_split(ctx: &mut Ctx) -> R {
    let mut watcher = created(ctx, "watcher", "split")?;
    let mut splitter = ctx.connect("splitter")?;
    let mut stream = padded(b"splitter");
    stream.extend(padded(b"/join split"));
    for i in 0..3 {
        stream.extend(padded(
            format!("message {i}:{}", " abc".repeat(i * 9)).as_bytes(),
        ));
    }
    // Pieces of 1 to 23 bytes, a little apart, as client_split_messages.py.
    let mut x: u64 = 0x5eed_1234_abcd_0001;
    let mut rest = &stream[..];
    while !rest.is_empty() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = (1 + (x % 23) as usize).min(rest.len());
        splitter.send(&rest[..n])?;
        rest = &rest[n..];
        std::thread::sleep(Duration::from_millis(1));
    }
    expect(&mut watcher, "splitter has joined")?;
    for i in 0..3 {
        expect(
            &mut watcher,
            &format!("[splitter] message {i}:{}", " abc".repeat(i * 9)),
        )?;
    }
    barrier(&mut splitter)
}

fn frame_coalesced(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = ctx.connect("bob")?;
    let mut burst = Vec::new();
    for text in ["bob", "/join tas", "one", "two"] {
        burst.extend(padded(text.as_bytes()));
    }
    let third = padded(b"three");
    burst.extend(&third[..120]);
    bob.send(&burst)?;
    expect(&mut alice, "bob has joined")?;
    expect(&mut alice, "[bob] one")?;
    expect(&mut alice, "[bob] two")?;
    barrier(&mut alice)?;
    bob.send(&third[120..])?;
    expect(&mut alice, "[bob] three")
}

fn simple_test(ctx: &mut Ctx) -> R {
    // The assignment's own example session, Panda and Alice.
    let mut panda = named(ctx, "Panda")?;
    send(&mut panda, "Hello world!")?;
    expect(&mut panda, NOT_IN_CHANNEL)?;
    send(&mut panda, "/list")?;
    send(&mut panda, "/create 168_tas")?;
    send(&mut panda, "/list")?;
    expect(&mut panda, "168_tas")?;
    send(&mut panda, "Hello world!")?;
    let mut alice = named(ctx, "Alice")?;
    send(&mut alice, "/list")?;
    expect(&mut alice, "168_tas")?;
    send(&mut alice, "/join 168_tas")?;
    expect(&mut panda, "Alice has joined")?;
    let hi = "Hi everyone! Does anyone know what we're doing on the first day of lecture?";
    send(&mut alice, hi)?;
    expect(&mut panda, &format!("[Alice] {hi}"))?;
    panda.close();
    expect(&mut alice, "Panda has left")
}

// ----- choices of docs/PROTOCOLS.md section 3 ------------------------------------------

fn strip_whitespace(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = named(ctx, "bob")?;
    bob.send(&padded(b"/join tas\t\r\n"))?;
    expect(&mut alice, "bob has joined")?;
    bob.send(&padded(b"hi\n"))?;
    expect(&mut alice, "[bob] hi")
}

fn name_in_use(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "room")?;
    let mut again = ctx.connect("again")?;
    let mut both = padded(b"alice");
    both.extend(padded(b"/create other"));
    again.send(&both)?;
    expect(&mut again, "Name alice is already in use.")?;
    again.expect_closed("a name in use closes the connection")?;
    let got = listed(&mut alice)?;
    same(
        "the refused client did nothing",
        vec!["room".to_string()],
        got,
    )
}

fn name_invalid(ctx: &mut Ctx) -> R {
    for name in [
        &b""[..],
        b"   ",
        b"\xff\xfeab",
        b"a\nb",
        b"Ana Lu",
        b"al,ice",
    ] {
        let mut c = ctx.connect("c")?;
        c.send(&padded(name))?;
        c.expect_closed(&format!("the name {} is refused with a close", show(name)))?;
    }
    still_serves(ctx)
}

fn name_spaces(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "168 tas")?;
    let mut bob = named(ctx, "bob")?;
    send(&mut bob, "/join 168")?;
    expect(&mut bob, &no_channel("168"))?;
    send(&mut bob, "/join 168 tas   ")?;
    expect(&mut alice, "bob has joined")?;
    send(&mut bob, "/list")?;
    expect(&mut bob, "168 tas")
}

fn join_same(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = joined(ctx, "bob", "tas")?;
    expect(&mut alice, "bob has joined")?;
    send(&mut bob, "/join tas")?;
    expect(&mut alice, "bob has left")?;
    expect(&mut alice, "bob has joined")?;
    barrier(&mut bob)
}

fn persist(ctx: &mut Ctx) -> R {
    let alice = created(ctx, "alice", "tas")?;
    alice.close();
    let mut bob = named(ctx, "bob")?;
    same(
        "channels outlive their members",
        vec!["tas".to_string()],
        listed(&mut bob)?,
    )?;
    send(&mut bob, "/join tas")?;
    barrier(&mut bob)
}

fn too_long(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = joined(ctx, "bob", "tas")?;
    expect(&mut alice, "bob has joined")?;
    let long = "x".repeat(FRAME_LEN);
    send(&mut bob, &long)?;
    expect(&mut alice, &format!("[bob] {}", &long[..FRAME_LEN - 6]))?;
    let accented = format!("{}é", "y".repeat(FRAME_LEN - 7));
    send(&mut bob, &accented)?;
    expect(&mut alice, &format!("[bob] {}", "y".repeat(FRAME_LEN - 7)))?;
    barrier(&mut alice)
}

fn padding_only(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = joined(ctx, "bob", "tas")?;
    expect(&mut alice, "bob has joined")?;
    send(&mut bob, "")?;
    barrier(&mut bob)?;
    barrier(&mut alice)
}

fn sanitize(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut bob = joined(ctx, "bob", "tas")?;
    expect(&mut alice, "bob has joined")?;
    bob.send(&padded(b"a\x1b[2Jb\x00c\x07d"))?;
    expect_bytes(&mut alice, b"[bob] a [2Jb c d")
}

// ----- robustness ---------------------------------------------------------------------

fn byte_by_byte(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut slow = ctx.connect("slow")?;
    let mut stream = padded(b"slow");
    stream.extend(padded(b"/join tas"));
    slow.send_pieces(&stream, 1, Duration::from_millis(1))?;
    expect(&mut alice, "slow has joined")?;
    slow.send_pieces(&padded(b"/join"), 1, Duration::from_millis(1))?;
    expect(&mut slow, JOIN_REQUIRES_ARGUMENT)
}

fn pipelined(ctx: &mut Ctx) -> R {
    const USERS: usize = 6;
    const EACH: usize = 100;
    let names: Vec<String> = (0..USERS).map(|i| format!("p{i}")).collect();
    let mut conns = vec![created(ctx, &names[0], "pipe")?];
    for n in &names[1..] {
        conns.push(joined(ctx, n, "pipe")?);
    }
    // Everyone hears of everyone who joined after them.
    for i in 0..USERS {
        for later in &names[i + 1..] {
            expect(&mut conns[i], &format!("{later} has joined"))?;
        }
    }
    for (n, c) in names.iter().zip(conns.iter_mut()) {
        let burst: Vec<u8> = (0..EACH)
            .flat_map(|seq| padded(format!("{n} {seq}").as_bytes()))
            .collect();
        c.send(&burst)?;
    }
    for (me, c) in names.iter().zip(conns.iter_mut()) {
        let mut seqs = Sequences::default();
        let want = (USERS - 1) * EACH;
        for got in 0..want {
            let f = frame(c).map_err(super::short(me, got, want))?;
            let text = String::from_utf8_lossy(stripped(&f)).into_owned();
            let parsed = text
                .strip_prefix('[')
                .and_then(|t| t.split_once("] "))
                .and_then(|(from, body)| {
                    Some((from.to_string(), super::parse_seq(body.as_bytes())?))
                });
            let Some((from, (sender, seq))) = parsed else {
                return Err(Fail::new(
                    format!("{me}: not a message"),
                    "[<user>] <user> <seq>",
                    show(&f),
                ));
            };
            ensure(
                from == sender && from != *me,
                format!("{me}: a message from the wrong sender"),
                &sender,
                &from,
            )?;
            seqs.saw(me, &from, seq)?;
        }
        let others: Vec<String> = names.iter().filter(|n| *n != me).cloned().collect();
        seqs.complete(me, &others, EACH)?;
        barrier(c)?;
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
    send(&mut stalled, "stalled")?;
    send(&mut stalled, "/create flood")?;
    barrier(&mut stalled)?;
    let flooder = joined(ctx, "flooder", "flood")?;
    let mut carol = created(ctx, "carol", "calm")?;
    let mut dave = joined(ctx, "dave", "calm")?;
    expect(&mut carol, "dave has joined")?;
    let chunk: Vec<u8> = (0..64).flat_map(|_| padded(&[b'f'; 150])).collect();
    let flood = Flood::start(ctx, flooder, chunk, FLOOD_CAP);
    flood.settle(ctx);
    ctx.note("stalled reads nothing; carol writes to dave");
    for i in 0..20 {
        send(&mut carol, &format!("message {i}"))?;
    }
    for i in 0..20 {
        expect(&mut dave, &format!("[carol] message {i}"))?;
    }
    still_serves(ctx)?;
    drop((flood, stalled));
    Ok(())
}

fn abrupt(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut carol = joined(ctx, "carol", "tas")?;
    expect(&mut alice, "carol has joined")?;
    carol.send(&padded(b"never finished")[..150])?;
    carol.abort();
    expect(&mut alice, "carol has left")?;
    barrier(&mut alice)?;
    // The name went with the connection.
    let mut again = named(ctx, "carol")?;
    barrier(&mut again)
}

fn many_clients(ctx: &mut Ctx) -> R {
    let mut first = created(ctx, "u0", "all")?;
    let mut users = Vec::new();
    for i in 1..20 {
        users.push(joined(ctx, &format!("u{i}"), "all")?);
        expect(&mut first, &format!("u{i} has joined"))?;
    }
    send(&mut first, "to all nineteen")?;
    for (i, u) in users.iter_mut().enumerate() {
        // Each heard of those who joined after it, then the message.
        for later in i + 2..20 {
            expect(u, &format!("u{later} has joined"))?;
        }
        expect(u, "[u0] to all nineteen")?;
    }
    barrier(&mut first)
}

fn garbage_bytes(ctx: &mut Ctx) -> R {
    let mut alice = created(ctx, "alice", "tas")?;
    let mut g = ctx.connect("garbage")?;
    g.send(&garbage(20_000, 0x5eed))?;
    barrier(&mut alice)?;
    g.close();
    barrier(&mut alice)?;
    still_serves(ctx)
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Channels, role: Role::Server, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "channels.name.first_frame",
        ["basic", "assignment"],
        "the first frame is the name: no reply, and the others see that name",
        first_frame
    ),
    case!(
        "channels.SERVER_CLIENT_NOT_IN_CHANNEL",
        ["basic", "assignment"],
        "text outside any channel gets SERVER_CLIENT_NOT_IN_CHANNEL",
        not_in_channel
    ),
    case!(
        "channels.SERVER_CREATE_REQUIRES_ARGUMENT",
        ["basic", "assignment"],
        "/create without a name gets SERVER_CREATE_REQUIRES_ARGUMENT",
        create_requires
    ),
    case!(
        "channels.SERVER_CHANNEL_EXISTS",
        ["basic", "assignment"],
        "/create of an existing channel gets SERVER_CHANNEL_EXISTS",
        channel_exists
    ),
    case!(
        "channels.SERVER_JOIN_REQUIRES_ARGUMENT",
        ["basic", "assignment"],
        "/join without a name gets SERVER_JOIN_REQUIRES_ARGUMENT",
        join_requires
    ),
    case!(
        "channels.SERVER_NO_CHANNEL_EXISTS",
        ["basic", "assignment"],
        "/join of a missing channel gets SERVER_NO_CHANNEL_EXISTS",
        no_channel_exists
    ),
    case!(
        "channels.SERVER_INVALID_CONTROL_MESSAGE",
        ["basic", "assignment"],
        "an unknown /command gets SERVER_INVALID_CONTROL_MESSAGE naming its first word",
        invalid_control
    ),
    case!(
        "channels.SERVER_CLIENT_JOINED_CHANNEL",
        ["basic", "assignment"],
        "a /join is announced to the channel's members only",
        joined_channel
    ),
    case!(
        "channels.SERVER_CLIENT_LEFT_CHANNEL",
        ["basic", "assignment"],
        "leaving by /join, /create or disconnecting is announced to the old channel",
        left_channel
    ),
    case!(
        "channels.create.enters",
        ["basic", "assignment"],
        "/create puts its sender in the new channel",
        create_enters
    ),
    case!(
        "channels.list",
        ["basic", "assignment"],
        "/list sends the channels' names separated by newlines",
        list
    ),
    case!(
        "channels.list.sorted",
        ["basic", "choice"],
        "/list names are sorted, in one frame",
        list_sorted
    ),
    case!(
        "channels.list.empty",
        ["basic", "choice"],
        "/list with no channels sends nothing",
        list_empty
    ),
    case!(
        "channels.text.relay",
        ["basic", "assignment"],
        "text reaches the other members as `[<name>] <text>`, not the sender, not other channels",
        text_relay
    ),
    case!(
        "channels.state.unchanged",
        ["basic", "assignment", "state"],
        "a failed command changes nothing: same channel, nobody told",
        state_unchanged
    ),
    case!(
        "channels.frame.exact",
        ["basic", "assignment", "framing"],
        "every frame the server sends is 200 bytes, padded with spaces",
        frame_exact
    ),
    case!(
        "channels.frame.split",
        ["robustness", "assignment", "framing"],
        "frames sent in pieces of 1-23 bytes are put back together",
        frame_split
    ),
    case!(
        "channels.frame.coalesced",
        ["robustness", "assignment", "framing"],
        "several frames and a part of one in one segment",
        frame_coalesced
    ),
    case!(
        "channels.simple_test",
        ["basic", "assignment"],
        "the assignment's Panda and Alice session",
        simple_test
    ),
    case!(
        "channels.strip.whitespace",
        ["basic", "choice", "framing"],
        "trailing whitespace of any kind is stripped from a frame",
        strip_whitespace
    ),
    case!(
        "channels.name.in_use",
        ["basic", "choice"],
        "a name in use gets `Name <name> is already in use.` and a close",
        name_in_use
    ),
    case!(
        "channels.name.invalid",
        ["basic", "choice"],
        "an empty or unsafe name is closed without a reply",
        name_invalid
    ),
    case!(
        "channels.name.spaces",
        ["basic", "choice"],
        "a channel name is everything after one space, spaces included",
        name_spaces
    ),
    case!(
        "channels.join.same",
        ["basic", "choice"],
        "/join of one's own channel: `has left`, then `has joined`",
        join_same
    ),
    case!(
        "channels.persist",
        ["basic", "choice"],
        "channels outlive their members",
        persist
    ),
    case!(
        "channels.too_long",
        ["basic", "choice"],
        "a message too long for a frame is cut to 200 bytes, never inside a character",
        too_long
    ),
    case!(
        "channels.padding_only",
        ["basic", "choice"],
        "a frame of padding only is ignored",
        padding_only
    ),
    case!(
        "channels.sanitize",
        ["basic", "choice", "safety"],
        "control characters in relayed text arrive as spaces (rule S)",
        sanitize
    ),
    case!(
        "channels.robust.byte_by_byte",
        ["robustness", "framing"],
        "frames sent a byte at a time",
        byte_by_byte
    ),
    case!(
        "channels.robust.pipelined",
        ["load"],
        "6 members each send 100 messages at once: every other gets all, in order",
        pipelined
    ),
    case!(
        "channels.robust.stalled_reader",
        ["load", "heavy"],
        "a member that stops reading under a flood does not stop another channel",
        stalled_reader
    ),
    case!(
        "channels.robust.abrupt",
        ["robustness", "state"],
        "a member reset mid-frame is announced as left and its name freed",
        abrupt
    ),
    case!(
        "channels.robust.many_clients",
        ["load"],
        "20 members in one channel all get every notice and message",
        many_clients
    ),
    case!(
        "channels.robust.garbage",
        ["robustness"],
        "20 kB of random bytes hurt nobody; the server still serves",
        garbage_bytes
    ),
];
