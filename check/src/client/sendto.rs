//! `sendto` clients (docs/PROTOCOLS.md 4.8, the CS3560 chatroom client):
//! commands checked before anything is sent, one packet per command, and
//! each packet from the server printed as the assignment says.

use super::{closes_with, refused, session, Session, WIND_DOWN};
use crate::case::{ensure, Case, Ctx, Dialect, Fail, Role, R};
use crate::transcript::show;
use pollchat::client::sendto::{
    BAD_MESSAGE, BAD_USERNAME, FAILURE, INVALID_COMMAND, MALFORMED, SUCCESS,
};
use pollchat::dialect::sendto::packet::{
    put_list, put_message, put_response, ClientPacket, Status,
};

/// The next packet the client sends must be `want`.
fn expect_sent(s: &mut Session, want: ClientPacket<'_>) -> R {
    let mut p = s.server.exact(5, "a packet header")?;
    let len = u32::from_be_bytes([p[1], p[2], p[3], p[4]]) as usize;
    if len > 1 << 20 {
        return Err(Fail::new(
            "the client sent a packet of over 1 MiB",
            format!("{want:?}"),
            show(&p),
        ));
    }
    p.extend(s.server.exact(len, "the packet's body")?);
    match ClientPacket::decode(&p) {
        Ok(got) if got == want => Ok(()),
        Ok(got) => Err(Fail::new(
            "the client sent the wrong packet",
            format!("{want:?}"),
            format!("{got:?}"),
        )),
        Err(e) => Err(Fail::new(
            format!("the client sent a malformed packet ({e})"),
            format!("{want:?}"),
            show(&p),
        )),
    }
}

fn respond(s: &mut Session, status: Status) -> R {
    let mut out = Vec::new();
    put_response(&mut out, status);
    s.server.send(&out)
}

fn names(s: &mut Session, list: &[&str]) -> R {
    let mut out = Vec::new();
    put_list(&mut out, list.iter().copied());
    s.server.send(&out)
}

fn message(s: &mut Session, from: &str, text: &str) -> R {
    let mut out = Vec::new();
    put_message(&mut out, from, text);
    s.server.send(&out)
}

fn logged_in(ctx: &Ctx, name: &str) -> R<Session> {
    let mut s = session(ctx, name)?;
    s.client.type_line(&format!("login {name}"))?;
    expect_sent(&mut s, ClientPacket::Login { name })?;
    respond(&mut s, Status::Ok)?;
    s.client.expect_line(SUCCESS)?;
    Ok(s)
}

/// `lines` each print `error` and send nothing: the next packet is the
/// LIST typed after them.
fn refused_locally(s: &mut Session, lines: &[&str], error: &str) -> R {
    for line in lines {
        s.client.type_line(line)?;
        s.client.expect_line(error).map_err(|mut f| {
            f.why = format!("{}: {}", show(line.as_bytes()), f.why);
            f
        })?;
    }
    s.client.type_line("list")?;
    expect_sent(s, ClientPacket::List).map_err(|mut f| {
        f.why = format!("a command that printed an error sent nothing: {}", f.why);
        f
    })
}

fn login(ctx: &mut Ctx) -> R {
    logged_in(ctx, "alice").map(drop)
}

fn responses(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    for (line, packet, status, printed) in [
        (
            "login alice",
            ClientPacket::Login { name: "alice" },
            Status::Failure,
            FAILURE,
        ),
        (
            "login alice",
            ClientPacket::Login { name: "alice" },
            Status::Malformed,
            MALFORMED,
        ),
        (
            "login alice",
            ClientPacket::Login { name: "alice" },
            Status::Ok,
            SUCCESS,
        ),
    ] {
        s.client.type_line(line)?;
        expect_sent(&mut s, packet)?;
        respond(&mut s, status)?;
        s.client.expect_line(printed)?;
    }
    Ok(())
}

fn list(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("list")?;
    expect_sent(&mut s, ClientPacket::List)?;
    names(&mut s, &["alice", "bob", "carol"])?;
    for n in ["alice", "bob", "carol"] {
        s.client.expect_line(n)?;
    }
    Ok(())
}

fn sendto(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("sendto John Hello, how are you?")?;
    expect_sent(
        &mut s,
        ClientPacket::Sendto {
            to: "John",
            text: "Hello, how are you?",
        },
    )?;
    respond(&mut s, Status::Ok)?;
    s.client.expect_line(SUCCESS)
}

fn text_as_typed(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("sendto bob  fine,  thanks ")?;
    expect_sent(
        &mut s,
        ClientPacket::Sendto {
            to: "bob",
            text: " fine,  thanks ",
        },
    )?;
    respond(&mut s, Status::Failure)?;
    s.client.expect_line(FAILURE)
}

fn incoming(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "john")?;
    message(&mut s, "Bob", "Hi how are you?")?;
    s.client.expect_line("Bob: Hi how are you?")
}

fn logout(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("logout")?;
    expect_sent(&mut s, ClientPacket::Logout)?;
    respond(&mut s, Status::Ok)?;
    s.client.expect_line(SUCCESS)?;
    // The connection stays: list and login still work on it.
    s.client.type_line("list")?;
    expect_sent(&mut s, ClientPacket::List)?;
    names(&mut s, &[])?;
    s.client.type_line("login bob")?;
    expect_sent(&mut s, ClientPacket::Login { name: "bob" })
}

fn exit(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    s.client.type_line("exit")?;
    s.client.expect_exit_within(0, WIND_DOWN)?;
    let closed = s.server.drain_until_closed(WIND_DOWN)?;
    ensure(
        closed,
        "exit closes the connection",
        "end of stream",
        "still open",
    )
}

fn bad_username(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    refused_locally(
        &mut s,
        &[
            "login",
            "login John Doe",
            "login abcdefghijklmnopqrstu",
            "sendto",
            "sendto JohnHello",
            "sendto abcdefghijklmnopqrstu hi",
        ],
        BAD_USERNAME,
    )
}

fn bad_message(ctx: &mut Ctx) -> R {
    let mut s = logged_in(ctx, "alice")?;
    let long = format!("sendto bob {}", "x".repeat(65536));
    refused_locally(&mut s, &[&long], BAD_MESSAGE)
}

fn invalid_command(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "alice")?;
    refused_locally(
        &mut s,
        &["list bob", "logout Joe", "exit client"],
        INVALID_COMMAND,
    )
}

fn end_of_input(ctx: &mut Ctx) -> R {
    let mut s = session(ctx, "me")?;
    s.client
        .type_bytes(b"login me\nsendto me note to self\nlist\n")?;
    s.client.end_input();
    expect_sent(&mut s, ClientPacket::Login { name: "me" })?;
    respond(&mut s, Status::Ok)?;
    expect_sent(
        &mut s,
        ClientPacket::Sendto {
            to: "me",
            text: "note to self",
        },
    )?;
    message(&mut s, "me", "note to self")?;
    respond(&mut s, Status::Ok)?;
    expect_sent(&mut s, ClientPacket::List)?;
    names(&mut s, &["me"])?;
    for line in [SUCCESS, "me: note to self", SUCCESS, "me"] {
        s.client.expect_line(line)?;
    }
    // Every packet answered: it closes and exits by itself.
    s.client.expect_exit_within(0, WIND_DOWN)
}

fn server_closes(ctx: &mut Ctx) -> R {
    let s = logged_in(ctx, "alice")?;
    let gone = s.disconnected();
    closes_with(ctx, s, format!("{gone}\n").as_bytes())
}

macro_rules! case {
    ($id:literal, [$($tag:literal),*], $rule:literal, $run:expr) => {
        Case { id: $id, dialect: Dialect::Sendto, role: Role::Client, tags: &[$($tag),*], rule: $rule, run: $run }
    };
}

pub static CASES: &[Case] = &[
    case!(
        "sendto.client.login",
        ["basic", "assignment"],
        "`login <name>` sends LOGIN; 00 prints Success",
        login
    ),
    case!(
        "sendto.client.responses",
        ["basic", "assignment"],
        "RESPONSE 00, 01, 02 print Success, Failure, Malformed packet",
        responses
    ),
    case!(
        "sendto.client.list",
        ["basic", "assignment"],
        "`list` sends LIST; the LIST packet prints one name a line",
        list
    ),
    case!(
        "sendto.client.sendto",
        ["basic", "assignment"],
        "`sendto <user> <text>` sends SENDTO with that user and text",
        sendto
    ),
    case!(
        "sendto.client.text_as_typed",
        ["basic", "choice"],
        "the text is everything after the space that ends the name, as typed",
        text_as_typed
    ),
    case!(
        "sendto.client.incoming",
        ["basic", "assignment"],
        "a SENDTO from the server prints `<sender>: <text>` as it arrives",
        incoming
    ),
    case!(
        "sendto.client.logout",
        ["basic", "assignment"],
        "`logout` sends LOGOUT and keeps the connection for list and login",
        logout
    ),
    case!(
        "sendto.client.exit",
        ["basic", "assignment"],
        "`exit` closes the connection and exits 0",
        exit
    ),
    case!(
        "sendto.client.bad_username",
        ["basic", "assignment"],
        "a missing, extra or over-long name prints `Bad username`, nothing sent",
        bad_username
    ),
    case!(
        "sendto.client.bad_message",
        ["basic", "assignment", "pipes"],
        "a text over 65535 characters prints `Bad message`, nothing sent",
        bad_message
    ),
    case!(
        "sendto.client.invalid_command",
        ["basic", "assignment"],
        "extra words after list, logout, exit print `Invalid command`, nothing sent",
        invalid_command
    ),
    case!(
        "sendto.client.end_of_input",
        ["basic", "choice"],
        "at the end of input the client waits for every reply, then exits 0",
        end_of_input
    ),
    case!(
        "sendto.client.server_closes",
        ["robustness", "choice"],
        "the server hangs up: `Server at <host>:<port> has disconnected`, exit 0",
        server_closes
    ),
    case!(
        "sendto.client.refused",
        ["robustness", "choice"],
        "no server: `Unable to connect to <host>:<port>`, exit 1",
        refused
    ),
];
