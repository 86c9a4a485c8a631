//! `channels` clients (docs/PROTOCOLS.md 3.7, the CS168 reference client):
//! 200-byte frames both ways, the `[Me] ` prompt, and each message from the
//! server printed over the prompt (`CLIENT_WIPE_ME`).

use super::{refused, session, Session, WIND_DOWN};
use crate::case::{ensure, same, Case, Ctx, Dialect, Role, R};
use crate::transcript::show;
use pollchat::dialect::channels::FRAME_LEN;
use std::time::Duration;

const PROMPT: &[u8] = b"[Me] ";
/// CR, four spaces, CR: the prompt rubbed out before a server message.
const WIPE: &[u8] = b"\r    \r";

fn padded(text: &[u8]) -> Vec<u8> {
    let mut f = text[..text.len().min(FRAME_LEN)].to_vec();
    f.resize(FRAME_LEN, b' ');
    f
}

/// The next frame the client sends must be `text`, padded.
fn expect_frame(s: &mut Session, text: &[u8], why: &str) -> R {
    let got = s
        .server
        .exact(FRAME_LEN, "a 200-byte frame from the client")?;
    same(why, show(&padded(text)), show(&got))
}

/// A client named `name` whose name frame has arrived.
fn named(ctx: &Ctx, name: &str) -> R<Session> {
    let mut s = session(ctx, name)?;
    expect_frame(&mut s, name.as_bytes(), "the first frame is the name")?;
    Ok(s)
}

/// The client prints the message `text` as a server message: over the
/// prompt, then a line end (then a new prompt, checked by `prompt`).
fn expect_shown(s: &mut Session, text: &[u8]) -> R {
    s.client.expect_somewhere(&[WIPE, text, b"\n"].concat())
}

fn name_frame(ctx: &mut Ctx) -> R {
    named(ctx, "Panda").map(drop)
}

fn prompt(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    s.client.expect_printed(PROMPT)?;
    s.client.type_line("/list")?;
    expect_frame(&mut s, b"/list", "a typed line is one frame")?;
    s.client.expect_printed(PROMPT)?;
    s.server.send(&padded(b"168_tas"))?;
    s.client
        .expect_printed(&[WIPE, b"168_tas\n", PROMPT].concat())?;
    s.client
        .expect_quiet(ctx.timing.quiet, "nothing but the prompts and the message")
}

fn typed_frames(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    for line in ["Hello world!", "/create 168_tas", "/join 168 tas"] {
        s.client.type_line(line)?;
        expect_frame(
            &mut s,
            line.as_bytes(),
            "each typed line is one frame, padded with spaces",
        )?;
    }
    Ok(())
}

fn long_line(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    s.client.type_line(&"x".repeat(300))?;
    expect_frame(
        &mut s,
        &[b'x'; FRAME_LEN],
        "a long line is cut to one frame",
    )?;
    s.client.type_line("next")?;
    expect_frame(&mut s, b"next", "and the rest is not sent")
}

fn prints_frames(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    for text in [
        &b"Alice has joined"[..],
        b"[Alice] Hi everyone!",
        b"168_tas\nAlpha",
    ] {
        s.server.send(&padded(text))?;
        expect_shown(&mut s, text)?;
    }
    Ok(())
}

fn partial_frame(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    s.client.expect_printed(PROMPT)?;
    let frame = padded(b"Alice has joined");
    s.server.send(&frame[..150])?;
    s.client.expect_quiet(
        ctx.timing.quiet.max(Duration::from_millis(300)),
        "nothing is printed for part of a frame",
    )?;
    s.server.send(&frame[150..])?;
    expect_shown(&mut s, b"Alice has joined")
}

fn coalesced(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    let mut stream = padded(b"A");
    stream.extend(padded(b"Alice has joined"));
    stream.extend(padded(b"[Alice] hi"));
    s.server.send(&stream[..500])?;
    expect_shown(&mut s, b"A")?;
    expect_shown(&mut s, b"Alice has joined")?;
    s.server.send(&stream[500..])?;
    expect_shown(&mut s, b"[Alice] hi")
}

fn no_echo(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    s.client.type_line("a secret")?;
    expect_frame(&mut s, b"a secret", "the typed line is sent")?;
    // A message as a barrier: what was printed before it is all there is.
    s.server.send(&padded(b"marker"))?;
    let printed = s.client.rest();
    expect_shown(&mut s, b"marker")?;
    let printed = [printed, s.client.rest()].concat();
    ensure(
        !printed.windows(8).any(|w| w == b"a secret"),
        "a typed line is not echoed",
        "prompts only",
        &show(&printed),
    )
}

fn end_of_input(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    s.client.type_line("last words")?;
    expect_frame(&mut s, b"last words", "the last line is sent")?;
    s.client.end_input();
    let closed = s.server.drain_until_closed(WIND_DOWN)?;
    ensure(
        closed,
        "at the end of its input the client stops sending and shuts its side",
        "end of stream",
        "still open",
    )?;
    s.server.send(&padded(b"Alice has left"))?;
    expect_shown(&mut s, b"Alice has left")?;
    let gone = format!("Server at 127.0.0.1:{} has disconnected\n", s.standin.port);
    drop(s.server);
    s.client
        .expect_somewhere(&[WIPE, gone.as_bytes()].concat())?;
    s.client.expect_exit_within(0, WIND_DOWN)
}

fn server_closes(ctx: &mut Ctx) -> R {
    let mut s = named(ctx, "Panda")?;
    s.client.expect_printed(PROMPT)?;
    let gone = format!("Server at 127.0.0.1:{} has disconnected\n", s.standin.port);
    drop(s.server);
    // Over the prompt, with no prompt after it.
    s.client.expect_printed(&[WIPE, gone.as_bytes()].concat())?;
    s.client.expect_exit_within(0, WIND_DOWN)?;
    let rest = s.client.rest();
    ensure(
        rest.is_empty(),
        "nothing after the goodbye",
        "nothing",
        &show(&rest),
    )
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Channels, role: Role::Client, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "channels.client.name_frame",
        ["basic", "assignment"],
        "the client sends its name as the first frame, padded to 200 bytes",
        name_frame
    ),
    case!(
        "channels.client.prompt",
        ["basic", "assignment"],
        "`[Me] ` at start, after each typed line and after each message",
        prompt
    ),
    case!(
        "channels.client.typed_frames",
        ["basic", "assignment", "framing"],
        "each typed line is sent as one 200-byte frame padded with spaces",
        typed_frames
    ),
    case!(
        "channels.client.long_line",
        ["basic", "choice", "framing"],
        "a typed line over 200 bytes is cut to one frame",
        long_line
    ),
    case!(
        "channels.client.prints_frames",
        ["basic", "assignment"],
        "each message prints over the prompt: CR, 4 spaces, CR, the text stripped, LF",
        prints_frames
    ),
    case!(
        "channels.client.partial_frame",
        ["robustness", "assignment", "framing"],
        "part of a frame prints nothing until the rest arrives",
        partial_frame
    ),
    case!(
        "channels.client.coalesced",
        ["robustness", "assignment", "framing"],
        "frames arriving together, and a part of one, print each once",
        coalesced
    ),
    case!(
        "channels.client.no_echo",
        ["basic", "choice"],
        "typed lines are not echoed",
        no_echo
    ),
    case!(
        "channels.client.end_of_input",
        ["basic", "choice"],
        "at the end of input the client stops sending and still prints what comes",
        end_of_input
    ),
    case!(
        "channels.client.server_closes",
        ["robustness", "assignment"],
        "the server hangs up: `Server at <host>:<port> has disconnected` over the prompt, exit 0",
        server_closes
    ),
    case!(
        "channels.client.refused",
        ["robustness", "assignment"],
        "no server: `Unable to connect to <host>:<port>`, exit 1",
        refused
    ),
];
