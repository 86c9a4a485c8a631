//! `mesg` clients (docs/PROTOCOLS.md 1.8): typed lines go to the server as
//! they are, one line each (LF or CR LF); server lines are printed as they
//! are, one line each.

use super::{closes_with, refused, session, Session, WIND_DOWN};
use crate::case::{ensure, Case, Ctx, Dialect, Fail, Role, R};
use crate::transcript::show;

/// The client sends `want` as one line.
fn expect_sent(s: &mut Session, want: &str) -> R {
    s.server.expect_line(want).map_err(|mut f| {
        f.why = format!("the client should send the typed line: {}", f.why);
        f
    })
}

fn reply(s: &mut Session, line: &str) -> R {
    s.server.send(format!("{line}\r\n").as_bytes())
}

/// Types `line`, checks it is sent, answers `answer`, checks it is printed.
fn exchange(s: &mut Session, line: &str, answer: &str) -> R {
    s.client.type_line(line)?;
    expect_sent(s, line)?;
    reply(s, answer)?;
    s.client.expect_line(answer)
}

fn connects(ctx: &mut Ctx) -> R {
    session(ctx, "ann").map(drop)
}

fn sends_lines(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    for line in ["JOIN ann", "LIST", "MESG bob  two  spaces, as typed! "] {
        s.client.type_line(line)?;
        expect_sent(&mut s, line)?;
        reply(&mut s, "ok")?;
        s.client.expect_line("ok")?;
    }
    Ok(())
}

fn skips_empty(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    s.client.type_bytes(b"\n\nJOIN ann\n")?;
    expect_sent(&mut s, "JOIN ann").map_err(|mut f| {
        f.why = format!("empty lines are not sent: {}", f.why);
        f
    })
}

fn prints_lines(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    exchange(&mut s, "JOIN ann", "JOIN ann Request Accepted")?;
    s.client.type_line("LIST")?;
    expect_sent(&mut s, "LIST")?;
    let table = [
        "USERNAME\tFD",
        "----------------------------",
        "ann\t7",
        "----------------------------",
    ];
    reply(&mut s, &table.join("\r\n"))?;
    for line in table {
        s.client.expect_line(line)?;
    }
    Ok(())
}

fn prints_while_idle(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    reply(&mut s, "FROM bob: are you there?")?;
    s.client.expect_line("FROM bob: are you there?")?;
    reply(&mut s, "FROM carol: and again")?;
    s.client.expect_line("FROM carol: and again")
}

fn line_ends(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    s.server
        .send(b"one\r\ntwo\nthree\rfour\r\n\r\n\nfive\r\n")?;
    for want in ["one", "two", "three", "four", "five"] {
        s.client.expect_line(want)?;
    }
    Ok(())
}

fn bytes_unchanged(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    s.server.send(b"FROM bob: caf\xe9 \xff\xfe\t<tab\r\n")?;
    s.client
        .expect_printed(b"FROM bob: caf\xe9 \xff\xfe\t<tab\n")
}

fn end_of_input(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "ann")?;
    exchange(&mut s, "JOIN ann", "JOIN ann Request Accepted")?;
    // The last line has no line end; then the input ends.
    s.client.type_bytes(b"LIST")?;
    s.client.end_input();
    let last = s
        .server
        .take_when("the last line", ctx.timing.wait + WIND_DOWN, |b| {
            b.iter().position(|&c| c == b'\n').map(|i| i + 1)
        });
    let last = match last {
        Ok(line) => line,
        // Sent without a line end, then the client shut its side.
        Err(_) if s.server.is_closed() || !s.server.pending().is_empty() => {
            s.server.consume(usize::MAX)
        }
        Err(e) => return Err(e),
    };
    let text: Vec<u8> = last
        .into_iter()
        .filter(|&b| b != b'\r' && b != b'\n')
        .collect();
    ensure(
        text == b"LIST",
        "the last line is sent when the input ends",
        "\"LIST\"",
        &show(&text),
    )?;
    // The client has nothing more to say: it shuts its side down...
    let closed = s.server.drain_until_closed(WIND_DOWN)?;
    ensure(
        closed,
        "at the end of its input the client shuts its side",
        "end of stream",
        "the connection still open",
    )?;
    // ...and still prints what the server says, until the server goes.
    reply(&mut s, "USERNAME\tFD")?;
    s.client.expect_line("USERNAME\tFD")?;
    let gone = s.disconnected();
    closes_with(ctx, s, format!("{gone}\n").as_bytes())
}

fn server_closes(ctx: &mut Ctx) -> R {
    let s = session(ctx, "ann")?;
    let gone = s.disconnected();
    closes_with(ctx, s, format!("{gone}\n").as_bytes())
}

fn script(ctx: &mut Ctx) -> R {
    // The README's session: everything typed at once, as from a pipe.
    let mut s = session(ctx, "ann")?;
    s.client.type_bytes(b"JOIN ann\nLIST\nQUIT\n")?;
    expect_sent(&mut s, "JOIN ann")?;
    reply(&mut s, "JOIN ann Request Accepted")?;
    expect_sent(&mut s, "LIST")?;
    let table = [
        "USERNAME\tFD",
        "----------------------------",
        "ann\t7",
        "----------------------------",
    ];
    reply(&mut s, &table.join("\r\n"))?;
    expect_sent(&mut s, "QUIT")?;
    let gone = s.disconnected();
    drop(s.server);
    let mut want = String::from("JOIN ann Request Accepted\n");
    for line in table {
        want.push_str(line);
        want.push('\n');
    }
    want.push_str(&gone);
    want.push('\n');
    s.client.expect_printed(want.as_bytes())?;
    s.client.expect_exit_within(0, WIND_DOWN)?;
    let rest = s.client.rest();
    if rest.is_empty() {
        Ok(())
    } else {
        Err(Fail::new("nothing more is printed", "nothing", show(&rest)))
    }
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Mesg, role: Role::Client, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "mesg.client.connects",
        ["basic", "assignment"],
        "the client connects to the host and port it is given",
        connects
    ),
    case!(
        "mesg.client.sends_lines",
        ["basic", "assignment"],
        "each typed line is sent as it is, as one line (LF or CR LF)",
        sends_lines
    ),
    case!(
        "mesg.client.skips_empty",
        ["basic", "choice"],
        "empty typed lines are not sent",
        skips_empty
    ),
    case!(
        "mesg.client.prints_lines",
        ["basic", "assignment"],
        "each line from the server is printed as it is, one line each",
        prints_lines
    ),
    case!(
        "mesg.client.prints_while_idle",
        ["basic", "assignment"],
        "messages are printed as they arrive, while nothing is typed",
        prints_while_idle
    ),
    case!(
        "mesg.client.line_ends",
        ["basic", "choice"],
        "server lines end at CR LF, LF or CR; empty ones are not printed",
        line_ends
    ),
    case!(
        "mesg.client.bytes_unchanged",
        ["basic", "choice"],
        "bytes that are not UTF-8 are printed unchanged",
        bytes_unchanged
    ),
    case!(
        "mesg.client.end_of_input",
        ["basic", "choice"],
        "at the end of input: the last line is sent, the side shut, the rest printed",
        end_of_input
    ),
    case!(
        "mesg.client.server_closes",
        ["robustness", "choice"],
        "the server hangs up: `Server at <host>:<port> has disconnected`, exit 0",
        server_closes
    ),
    case!(
        "mesg.client.refused",
        ["robustness", "choice"],
        "no server: `Unable to connect to <host>:<port>`, exit 1",
        refused
    ),
    case!(
        "mesg.client.script",
        ["basic", "choice"],
        "the README's piped session prints exactly the server's lines and the goodbye",
        script
    ),
];
