//! `miniserv` clients (docs/PROTOCOLS.md 5.7): `nc` with exits. Typed
//! lines go out byte for byte, each ending in LF; what the server sends is
//! printed as it arrives, byte for byte, with nothing added.

use super::{closes_with, refused, session, WIND_DOWN};
use crate::case::{ensure, Case, Ctx, Dialect, Role, R};
use crate::transcript::show;

fn sends_lines(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    s.client.type_bytes(b"hello, all\n")?;
    s.server
        .expect_bytes(b"hello, all\n", "the typed line, then LF")?;
    // An empty line is a line: the server relays it.
    s.client.type_bytes(b"\nafter an empty one\n")?;
    s.server
        .expect_bytes(b"\nafter an empty one\n", "an empty typed line is sent")
}

fn cr_kept(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    s.client.type_bytes(b"typed with CR LF\r\n\tand a TAB\n")?;
    s.server.expect_bytes(
        b"typed with CR LF\r\n\tand a TAB\n",
        "typed lines go out byte for byte, a CR before the LF too",
    )
}

fn prints_raw(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    let sent: &[u8] =
        b"server: client 1 just arrived\nclient 1: a\tb\r\nclient 1: \xff\xfe caf\xe9\nclient 1: \n";
    s.server.send(sent)?;
    s.client.expect_printed(sent)
}

fn partial_printed(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    // nc prints what arrives at once, a line's end or not.
    s.server.send(b"client 1: half a li")?;
    s.client.expect_printed(b"client 1: half a li")?;
    s.server.send(b"ne\n")?;
    s.client.expect_printed(b"ne\n")
}

fn end_of_input(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    s.client.type_bytes(b"a whole line\nand a rest")?;
    s.client.end_input();
    s.server.expect_bytes(
        b"a whole line\nand a rest",
        "at the end of input, what is left goes out as it is, no LF added",
    )?;
    let closed = s.server.drain_until_closed(WIND_DOWN)?;
    ensure(
        closed,
        "at the end of its input the client shuts its side",
        "end of stream",
        "the connection still open",
    )?;
    // The server's close is the end; what it sent before is printed.
    s.server.send(b"server: client 1 just left\n")?;
    let gone = s.disconnected();
    closes_with(
        ctx,
        s,
        format!("server: client 1 just left\n{gone}\n").as_bytes(),
    )
}

fn server_closes(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    // A partial line last: the goodbye still goes on a line of its own.
    s.server.send(b"client 1: no line end")?;
    s.client.expect_printed(b"client 1: no line end")?;
    let gone = s.disconnected();
    drop(s.server);
    let want = format!("\n{gone}\n");
    s.client.expect_printed(want.as_bytes()).map_err(|mut f| {
        f.why = format!("the goodbye, on a line of its own: {}", f.why);
        f
    })?;
    s.client.expect_exit_within(0, WIND_DOWN)?;
    let rest = s.client.rest();
    ensure(
        rest.is_empty(),
        "nothing more is printed",
        "nothing",
        &show(&rest),
    )
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Miniserv, role: Role::Client, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "miniserv.client.sends_lines",
        ["basic", "assignment"],
        "each typed line goes out as typed, then LF; an empty line too",
        sends_lines
    ),
    case!(
        "miniserv.client.cr_kept",
        ["basic", "choice", "pipes"],
        "a CR typed before the LF is sent, as every other byte",
        cr_kept
    ),
    case!(
        "miniserv.client.prints_raw",
        ["basic", "assignment"],
        "what the server sends is printed byte for byte, nothing added or removed",
        prints_raw
    ),
    case!(
        "miniserv.client.partial_printed",
        ["robustness", "framing"],
        "part of a line prints as it arrives, and the rest when it comes",
        partial_printed
    ),
    case!(
        "miniserv.client.end_of_input",
        ["basic", "choice"],
        "at the end of input: the rest sent as it is, the side shut, the rest printed",
        end_of_input
    ),
    case!(
        "miniserv.client.server_closes",
        ["robustness", "choice"],
        "the server hangs up: `Server at <host>:<port> has disconnected` on a line of its own, exit 0",
        server_closes
    ),
    case!(
        "miniserv.client.refused",
        ["robustness", "choice"],
        "no server: `Unable to connect to <host>:<port>`, exit 1",
        refused
    ),
];
