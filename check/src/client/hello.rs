//! `hello` clients (docs/PROTOCOLS.md 2.8, the VU lab's chat client): the
//! first line typed is the name, `!who`, `@<user> <text>` and `!quit`
//! after it; every server message printed as the lab's sentences, never
//! raw.

use super::{closes_with, refused, session, Session, WIND_DOWN};
use crate::case::{Case, Ctx, Dialect, Role, R};
use pollchat::client::hello::{
    BODY_ERROR, HEADER_ERROR, NO_SUCH_USER, SENT, SERVER_FULL, UNKNOWN_COMMAND, WELCOME,
};
use std::time::Duration;

fn expect_sent(s: &mut Session, want: &str) -> R {
    s.server.expect_line(want).map_err(|mut f| {
        f.why = format!("what the client sends: {}", f.why);
        f
    })
}

fn reply(s: &mut Session, line: &str) -> R {
    s.server.send(format!("{line}\n").as_bytes())
}

/// A client started, welcomed, and logged in as `name`.
fn logged_in(ctx: &Ctx, name: &str) -> R<Session> {
    let mut s = session(ctx, name)?;
    s.client.expect_line(WELCOME)?;
    s.client.type_line(name)?;
    expect_sent(&mut s, &format!("HELLO-FROM {name}"))?;
    reply(&mut s, &format!("HELLO {name}"))?;
    s.client
        .expect_line(&format!("Successfully logged in as {name}!"))?;
    Ok(s)
}

fn welcome(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    s.client.expect_line(WELCOME)
}

fn login(ctx: &mut Ctx) -> R {
    logged_in(ctx, "alice").map(drop)
}

fn disallowed(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    s.client.expect_line(WELCOME)?;
    for bad in ["al ice", "al,ice", "al-ice"] {
        s.client.type_line(bad)?;
        s.client.expect_line(&format!(
            "Cannot log in as {bad}. That username contains disallowed characters."
        ))?;
    }
    // Nothing was sent for them: the first line the server sees is this.
    s.client.type_line("alice")?;
    expect_sent(&mut s, "HELLO-FROM alice")
}

fn in_use(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    s.client.expect_line(WELCOME)?;
    s.client.type_line("alice")?;
    expect_sent(&mut s, "HELLO-FROM alice")?;
    reply(&mut s, "IN-USE")?;
    s.client
        .expect_line("Cannot log in as alice. That username is already in use.")?;
    drop(s.server);
    // A new connection, and the next line typed is the name.
    let mut again = ctx.accept(&s.standin, "server (again)")?;
    s.client.type_line("bob")?;
    again.expect_line("HELLO-FROM bob")?;
    again.send(b"HELLO bob\n")?;
    s.client.expect_line("Successfully logged in as bob!")
}

fn busy(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    s.client.expect_line(WELCOME)?;
    s.client.type_line("alice")?;
    expect_sent(&mut s, "HELLO-FROM alice")?;
    reply(&mut s, "BUSY")?;
    s.client.expect_line(SERVER_FULL)?;
    s.client.expect_exit_within(1, WIND_DOWN)
}

fn who(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("!who")?;
    expect_sent(&mut s, "LIST")?;
    reply(&mut s, "LIST-OK bob,alice,carol")?;
    for line in ["There are 3 online users:", "bob", "alice", "carol"] {
        s.client.expect_line(line)?;
    }
    Ok(())
}

fn send(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("@bob hello  there")?;
    expect_sent(&mut s, "SEND bob hello  there")?;
    reply(&mut s, "SEND-OK")?;
    s.client.expect_line(SENT)?;
    s.client.type_line("@nobody hi")?;
    expect_sent(&mut s, "SEND nobody hi")?;
    reply(&mut s, "BAD-DEST-USER")?;
    s.client.expect_line(NO_SUCH_USER)
}

fn delivery(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    reply(&mut s, "DELIVERY bob hi there,  alice")?;
    s.client.expect_line("From bob: hi there,  alice")
}

fn errors(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("@bob")?;
    expect_sent(&mut s, "SEND bob")?;
    reply(&mut s, "BAD-RQST-BODY")?;
    s.client.expect_line(BODY_ERROR)?;
    s.client.type_line("!who")?;
    expect_sent(&mut s, "LIST")?;
    reply(&mut s, "BAD-RQST-HDR")?;
    s.client.expect_line(HEADER_ERROR)
}

fn unknown_command(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("hello?")?;
    s.client.expect_line(UNKNOWN_COMMAND)?;
    // Nothing was sent for it.
    s.client.type_line("!who")?;
    expect_sent(&mut s, "LIST")
}

fn never_raw(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("!who")?;
    expect_sent(&mut s, "LIST")?;
    s.server
        .send(b"NOT-A-REPLY\nHELLO alice\nLIST-OK alice\n")?;
    s.client.expect_line("There are 1 online users:")?;
    s.client.expect_line("alice")?;
    s.client
        .expect_quiet(ctx.timing.quiet, "nothing else is printed")
}

fn split_reply(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    s.client.expect_line(WELCOME)?;
    s.client.type_line("alice")?;
    expect_sent(&mut s, "HELLO-FROM alice")?;
    // The start of a DELIVERY rides along with the login's answer.
    s.server.send(b"HELLO alice\nDELIV")?;
    s.client.expect_line("Successfully logged in as alice!")?;
    std::thread::sleep(Duration::from_millis(100));
    s.server.send(b"ERY bob hi there\n")?;
    s.client.expect_line("From bob: hi there")
}

fn quit(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("!quit")?;
    s.client.expect_exit_within(0, WIND_DOWN)?;
    let closed = s.server.drain_until_closed(WIND_DOWN)?;
    crate::case::ensure(
        closed,
        "!quit closes the connection",
        "end of stream",
        "still open",
    )
}

fn end_of_input(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    s.client.expect_line(WELCOME)?;
    s.client.type_bytes(b"alice\n!who\n")?;
    s.client.end_input();
    expect_sent(&mut s, "HELLO-FROM alice")?;
    reply(&mut s, "HELLO alice")?;
    expect_sent(&mut s, "LIST")?;
    reply(&mut s, "LIST-OK alice")?;
    for line in [
        "Successfully logged in as alice!",
        "There are 1 online users:",
        "alice",
    ] {
        s.client.expect_line(line)?;
    }
    // Everything it sent is answered: it goes by itself.
    s.client.expect_exit_within(0, WIND_DOWN)
}

fn server_closes(ctx: &mut Ctx) -> R {
    let s = logged_in(ctx, "alice")?;
    let gone = s.disconnected();
    closes_with(ctx, s, format!("{gone}\n").as_bytes())
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Hello, role: Role::Client, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!("hello.client.welcome", ["basic", "assignment"], "the client greets: `Welcome to Chat Client. Enter your login:`", welcome),
    case!("hello.client.login", ["basic", "assignment"], "the first line is the name: HELLO-FROM <name>; HELLO prints `Successfully logged in as <name>!`", login),
    case!("hello.client.disallowed", ["basic", "assignment"], "a name with anything but letters and digits is refused locally, nothing sent", disallowed),
    case!("hello.client.in_use", ["basic", "assignment"], "IN-USE: `…already in use.`, a new connection, the next line is the name", in_use),
    case!("hello.client.busy", ["basic", "assignment"], "BUSY: `Cannot log in. The server is full!`, exit 1", busy),
    case!("hello.client.who", ["basic", "assignment"], "!who sends LIST; LIST-OK prints the count and a name a line", who),
    case!("hello.client.send", ["basic", "assignment"], "@<user> <text> sends SEND; SEND-OK and BAD-DEST-USER print their sentences", send),
    case!("hello.client.delivery", ["basic", "assignment"], "DELIVERY prints `From <user>: <text>` as it arrives", delivery),
    case!("hello.client.errors", ["basic", "assignment"], "BAD-RQST-BODY and BAD-RQST-HDR print the lab's error sentences", errors),
    case!("hello.client.unknown_command", ["basic", "choice"], "any other line prints the usage sentence and sends nothing", unknown_command),
    case!("hello.client.never_raw", ["basic", "choice"], "a line the protocol does not send is not printed", never_raw),
    case!("hello.client.split_reply", ["robustness", "assignment", "framing"], "a server line split over two writes is printed once, whole", split_reply),
    case!("hello.client.quit", ["basic", "assignment"], "!quit closes the connection and exits 0", quit),
    case!("hello.client.end_of_input", ["basic", "choice"], "a piped script runs in order; the client exits once all is answered", end_of_input),
    case!("hello.client.server_closes", ["robustness", "choice"], "the server hangs up: `Server at <host>:<port> has disconnected`, exit 0", server_closes),
    case!("hello.client.refused", ["robustness", "choice"], "no server: `Unable to connect to <host>:<port>`, exit 1", refused),
];
