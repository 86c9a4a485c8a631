//! `hello`: HELLO-FROM / LIST / SEND, the VU chat protocol (docs/PROTOCOLS.md
//! section 2; the VU chat server assignment).
//!
//! Student clients and the course's automated graders speak this one, so
//! every reply, the order of the checks and when the connection closes are
//! exactly as the table in docs/PROTOCOLS.md says. Every message both ways is a
//! line ending in `\n`; the server tolerates a `\r` before it and stray
//! empty lines (a grader sends `HELLO-FROM x\r\n\n`), and never sends either.
//!
//! The one reply that is not made at once is `SEND-OK`: the protocol (PR12)
//! allows it only after the `DELIVERY` line is in the recipient's socket.
//! The dialect asks the hub for a receipt (`Request::Direct { receipt: true }`)
//! and the relay later hands this connection [`Receipt::Delivered`], or
//! [`Receipt::Undelivered`] if the recipient went away first.

use super::{Action, Dialect, Protocol, Receipt, Sender, Then};
use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use crate::limits::MAX_LINE;
use crate::text::{name_and_text, push_relayed, shown, split_word};
use log::info;

// The replies, byte for byte (docs/PROTOCOLS.md section 2).
pub const HELLO: &str = "HELLO";
pub const IN_USE: &str = "IN-USE";
pub const BUSY: &str = "BUSY";
pub const LIST_OK: &str = "LIST-OK";
pub const SEND_OK: &str = "SEND-OK";
pub const DELIVERY: &str = "DELIVERY";
pub const BAD_DEST_USER: &str = "BAD-DEST-USER";
pub const BAD_RQST_HDR: &str = "BAD-RQST-HDR";
pub const BAD_RQST_BODY: &str = "BAD-RQST-BODY";

// The requests.
pub const HELLO_FROM: &str = "HELLO-FROM";
pub const LIST: &str = "LIST";
pub const SEND: &str = "SEND";

/// Names are 1 to 32 ASCII letters and digits, case-sensitive: the
/// assignment forbids spaces and commas (UR1, UR2, which keep `LIST-OK`
/// parseable); docs/PROTOCOLS.md narrows that to letters and digits. Every
/// dialect's rule is in crate::text.
pub use crate::text::is_plain_name as valid_name;

fn line(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
}

#[derive(Debug)]
pub struct Parser {
    lines: LineFramer,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            // Only `\n` ends a message here: a `\r` inside one is text.
            lines: LineFramer::newline_only(MAX_LINE),
        }
    }
}

impl Dialect for Parser {
    fn protocol(&self) -> &'static Protocol {
        &PROTOCOL
    }

    fn framer(&mut self) -> &mut dyn Framer {
        &mut self.lines
    }

    /// One message from the client, checked in the order of the table in
    /// docs/PROTOCOLS.md. Before login only a well-formed `HELLO-FROM` keeps the
    /// connection: every other message is answered and the connection
    /// closed (PR4, PR7). After login nothing the client sends closes it.
    fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        from: Sender<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a> {
        let fd = from.fd;
        let logged_in = from.name.is_some();
        let Frame::Data(text) = frame else {
            // Our choice where the table is silent: before login an
            // over-long line cannot be a valid HELLO-FROM (a name is at
            // most 32 bytes), so it fails the login like a bad name does.
            info!("Client ({fd}): Message too long (BAD-RQST-BODY). Discarding Message.");
            line(reply, BAD_RQST_BODY);
            return Action::Done(if logged_in { Then::Stay } else { Then::HangUp });
        };
        let (header, body) = split_word(text);
        if header == HELLO_FROM.as_bytes() {
            return hello_from(body.unwrap_or_default(), from, reply);
        }
        if !logged_in {
            info!("Client ({fd}): Not logged in (BAD-RQST-HDR).");
            line(reply, BAD_RQST_HDR);
            return Action::Done(Then::HangUp);
        }
        if header == LIST.as_bytes() {
            if body.is_none() {
                info!("Client ({fd}): LIST");
                return Action::Request(Request::List);
            }
            // Our choice: LIST takes no body, so anything after it is a
            // body error (PR17) rather than an unknown header.
            info!("Client ({fd}): LIST with a body (BAD-RQST-BODY).");
            line(reply, BAD_RQST_BODY);
        } else if header == SEND.as_bytes() {
            return send(body.unwrap_or_default(), fd, reply);
        } else {
            info!("Client ({fd}): Unknown header (BAD-RQST-HDR).");
            line(reply, BAD_RQST_HDR);
        }
        Action::Done(Then::Stay)
    }
}

/// `HELLO-FROM <name>`.
fn hello_from<'a>(name: &'a [u8], from: Sender<'_>, reply: &mut Vec<u8>) -> Action<'a> {
    let fd = from.fd;
    if from.name.is_some() {
        // PR6: a second login is a header error, whatever the name.
        info!("Client ({fd}): HELLO-FROM when logged in (BAD-RQST-HDR).");
        line(reply, BAD_RQST_HDR);
        return Action::Done(Then::Stay);
    }
    // The name is checked before the hub looks at it, so a bad name is
    // BAD-RQST-BODY even when the server is full (PR4).
    match std::str::from_utf8(name) {
        Ok(name) if valid_name(name.as_bytes()) => {
            info!("Client ({fd}): HELLO-FROM {}", shown(name.as_bytes()));
            Action::Request(Request::Register { name })
        }
        _ => {
            info!("Client ({fd}): HELLO-FROM with an invalid username (BAD-RQST-BODY).");
            line(reply, BAD_RQST_BODY);
            Action::Done(Then::HangUp)
        }
    }
}

/// `SEND <name> <text>`. The body is checked before the recipient is
/// looked up, so `SEND nobody ` is BAD-RQST-BODY, not BAD-DEST-USER.
fn send<'a>(body: &'a [u8], fd: i32, reply: &mut Vec<u8>) -> Action<'a> {
    let Some((to, text)) = name_and_text(body) else {
        info!("Client ({fd}): Invalid SEND (BAD-RQST-BODY).");
        line(reply, BAD_RQST_BODY);
        return Action::Done(Then::Stay);
    };
    info!("Client ({fd}): SEND {}", shown(to));
    match std::str::from_utf8(to) {
        Ok(to) => Action::Request(Request::Direct {
            to,
            text,
            receipt: true,
        }),
        // No registered name is anything but ASCII.
        Err(_) => {
            info!("Client ({fd}): Unknown recipient (BAD-DEST-USER).");
            line(reply, BAD_DEST_USER);
            Action::Done(Then::Stay)
        }
    }
}

/// The `hello` entry of the dialect table.
pub static PROTOCOL: Protocol = Protocol {
    name: "hello",
    default_max_users: crate::limits::HELLO_MAX_USERS,
    default_address: "0.0.0.0",
    min_max_queue: 0,
    start: || Box::new(Parser::new()),
    render,
    render_receipt,
    log_event,
};

/// The answer to a `SEND`, once its `DELIVERY` is in the recipient's
/// socket or never will be (PR12).
pub fn render_receipt(receipt: Receipt, out: &mut Vec<u8>) -> Then {
    match receipt {
        Receipt::Delivered => line(out, SEND_OK),
        Receipt::Undelivered => line(out, BAD_DEST_USER),
    }
    Then::Stay
}

/// How a `hello` client sees each hub event.
pub fn render(event: &Event, out: &mut Vec<u8>) -> Then {
    match event {
        Event::Registered { name } => {
            out.extend_from_slice(HELLO.as_bytes());
            out.push(b' ');
            line(out, name);
        }
        // The dialect answers a second HELLO-FROM itself; this is the same
        // answer, should the hub ever be asked.
        Event::AlreadyRegistered { .. } => line(out, BAD_RQST_HDR),
        // A failed login closes the connection (PR5, PR15).
        Event::NameTaken { .. } => {
            line(out, IN_USE);
            return Then::HangUp;
        }
        Event::Full => {
            line(out, BUSY);
            return Then::HangUp;
        }
        // Only a request that needs a login gets this, and before login
        // every such request is a header error that closes (PR7).
        Event::NotRegistered => {
            line(out, BAD_RQST_HDR);
            return Then::HangUp;
        }
        Event::Users(users) => {
            out.extend_from_slice(LIST_OK.as_bytes());
            out.push(b' ');
            for (i, user) in users.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(user.name.as_bytes());
            }
            out.push(b'\n');
        }
        // Direct, broadcast and channel messages alike, from users of any
        // dialect ("Across dialects").
        Event::Message { from, text, .. } => {
            out.extend_from_slice(DELIVERY.as_bytes());
            out.push(b' ');
            push_relayed(out, from.as_bytes());
            out.push(b' ');
            // A `\n` would end the line early and turn the rest into a
            // message of its own, and so would a `\r` for a client that
            // splits lines at either (Python's splitlines): both, and every
            // other control but TAB, are shown as spaces (crate::text).
            push_relayed(out, text);
            out.push(b'\n');
        }
        Event::UnknownRecipient { .. } => line(out, BAD_DEST_USER),
        Event::Bye => return Then::HangUp,
        // Logout and channels have no form in this protocol, and a hello
        // client never asks for them.
        Event::Unregistered
        | Event::Channels(_)
        | Event::ChannelExists { .. }
        | Event::TooManyChannels { .. }
        | Event::NoSuchChannel { .. }
        | Event::NotInChannel
        | Event::Joined { .. }
        | Event::Left { .. } => {}
        // Told only to `miniserv` clients.
        Event::Arrived { .. } | Event::Departed { .. } => {}
    }
    Then::Stay
}

/// Status lines for the hub's answers to one client.
pub fn log_event(fd: i32, event: &Event) {
    match event {
        Event::Registered { name } => {
            info!("Client ({fd}): Logged in as {}.", shown(name.as_bytes()))
        }
        Event::NameTaken { name, .. } => {
            info!(
                "Client ({fd}): Username ({}) in use (IN-USE).",
                shown(name.as_bytes())
            )
        }
        Event::Full => info!("Client ({fd}): Server full (BUSY)."),
        Event::UnknownRecipient { name } => {
            info!(
                "Client ({fd}): Unknown recipient ({}) (BAD-DEST-USER).",
                shown(name.as_bytes())
            )
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::User;
    use proptest::prelude::*;

    fn frame_as(line: &str, name: Option<&str>) -> (String, Action<'static>) {
        let line: &'static [u8] = Box::leak(line.as_bytes().to_vec().into_boxed_slice());
        let mut reply = Vec::new();
        let from = Sender { fd: 7, name };
        let action = Parser::new().on_frame(Frame::Data(line), from, &mut reply);
        (String::from_utf8(reply).unwrap(), action)
    }

    /// A frame from a client that is not logged in.
    fn before_login(line: &str) -> (String, Action<'static>) {
        frame_as(line, None)
    }

    /// A frame from `alice`.
    fn logged_in(line: &str) -> (String, Action<'static>) {
        frame_as(line, Some("alice"))
    }

    fn answered(reply: &str, after: Then) -> (String, Action<'static>) {
        (format!("{reply}\n"), Action::Done(after))
    }

    fn asks(request: Request<'static>) -> (String, Action<'static>) {
        (String::new(), Action::Request(request))
    }

    fn rendered(event: Event) -> (String, Then) {
        let mut out = Vec::new();
        let after = render(&event, &mut out);
        (String::from_utf8(out).unwrap(), after)
    }

    #[test]
    fn hello_from_with_a_valid_name_goes_to_the_hub() {
        assert_eq!(
            before_login("HELLO-FROM alice"),
            asks(Request::Register { name: "alice" })
        );
        let longest = "Z9".repeat(16);
        assert_eq!(
            before_login(&format!("HELLO-FROM {longest}")),
            asks(Request::Register {
                name: &*longest.leak()
            })
        );
    }

    #[test]
    fn hello_from_with_a_bad_name_is_a_body_error_and_closes() {
        for bad in [
            "HELLO-FROM",
            "HELLO-FROM ",
            "HELLO-FROM  alice",
            "HELLO-FROM al ice",
            "HELLO-FROM al,ice",
            "HELLO-FROM al-ice",
            "HELLO-FROM alice ",
            "HELLO-FROM \u{e9}l\u{e9}onore",
            &format!("HELLO-FROM {}", "a".repeat(33)),
        ] {
            assert_eq!(
                before_login(bad),
                answered(BAD_RQST_BODY, Then::HangUp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn hello_from_when_logged_in_is_a_header_error_and_stays_open() {
        for line in ["HELLO-FROM bob", "HELLO-FROM b,d", "HELLO-FROM"] {
            assert_eq!(
                logged_in(line),
                answered(BAD_RQST_HDR, Then::Stay),
                "{line:?}"
            );
        }
    }

    #[test]
    fn anything_else_before_login_is_a_header_error_and_closes() {
        for line in [
            "LIST",
            "SEND bob hi",
            "SEND",
            "hello-from alice",
            "HELLO alice",
            "\r",
        ] {
            assert_eq!(
                before_login(line),
                answered(BAD_RQST_HDR, Then::HangUp),
                "{line:?}"
            );
        }
    }

    #[test]
    fn list_takes_no_body() {
        assert_eq!(logged_in("LIST"), asks(Request::List));
        for line in ["LIST ", "LIST all"] {
            assert_eq!(logged_in(line), answered(BAD_RQST_BODY, Then::Stay));
        }
    }

    #[test]
    fn send_needs_a_name_and_text_before_any_lookup() {
        for bad in [
            "SEND",
            "SEND ",
            "SEND bob",
            "SEND bob ",
            "SEND  hi",
            "SEND nobody ",
        ] {
            assert_eq!(
                logged_in(bad),
                answered(BAD_RQST_BODY, Then::Stay),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn send_keeps_its_text_as_typed_and_asks_for_a_receipt() {
        let direct = Request::Direct {
            to: "bob",
            text: b" hi  there \r",
            receipt: true,
        };
        assert_eq!(logged_in("SEND bob  hi  there \r"), asks(direct));
        assert_eq!(
            logged_in("SEND b\u{e9}b hi"),
            asks(Request::Direct {
                to: "b\u{e9}b",
                text: b"hi",
                receipt: true
            })
        );
    }

    #[test]
    fn send_to_a_name_that_is_not_text_is_to_nobody() {
        let mut reply = Vec::new();
        let from = Sender {
            fd: 7,
            name: Some("alice"),
        };
        let action = Parser::new().on_frame(Frame::Data(b"SEND b\xffb hi"), from, &mut reply);
        assert_eq!(action, Action::Done(Then::Stay));
        assert_eq!(reply, b"BAD-DEST-USER\n");
    }

    #[test]
    fn other_headers_when_logged_in_are_header_errors() {
        for line in [
            "list",
            "send bob hi",
            "SEND-OK",
            "DELIVERY bob hi",
            " LIST",
            "QUIT",
        ] {
            assert_eq!(
                logged_in(line),
                answered(BAD_RQST_HDR, Then::Stay),
                "{line:?}"
            );
        }
    }

    #[test]
    fn an_over_long_line_is_a_body_error_that_closes_only_before_login() {
        let too_long = |name| {
            let mut reply = Vec::new();
            let from = Sender { fd: 3, name };
            let action = Parser::new().on_frame(Frame::TooLong, from, &mut reply);
            (String::from_utf8(reply).unwrap(), action)
        };
        assert_eq!(too_long(None), answered(BAD_RQST_BODY, Then::HangUp));
        assert_eq!(too_long(Some("a")), answered(BAD_RQST_BODY, Then::Stay));
    }

    #[test]
    fn events_render_exactly() {
        let cases = [
            (
                Event::Registered {
                    name: "alice".into(),
                },
                "HELLO alice\n",
                Then::Stay,
            ),
            (
                Event::NameTaken {
                    name: "alice".into(),
                    fd: 5,
                },
                "IN-USE\n",
                Then::HangUp,
            ),
            (Event::Full, "BUSY\n", Then::HangUp),
            (
                Event::AlreadyRegistered {
                    name: "alice".into(),
                    fd: 5,
                },
                "BAD-RQST-HDR\n",
                Then::Stay,
            ),
            (Event::NotRegistered, "BAD-RQST-HDR\n", Then::HangUp),
            (
                Event::UnknownRecipient { name: "zed".into() },
                "BAD-DEST-USER\n",
                Then::Stay,
            ),
            (Event::Bye, "", Then::HangUp),
            (Event::NotInChannel, "", Then::Stay),
        ];
        for (event, text, after) in cases {
            assert_eq!(
                rendered(event.clone()),
                (text.to_string(), after),
                "{event:?}"
            );
        }
    }

    #[test]
    fn receipts_are_send_ok_or_bad_dest_user() {
        for (receipt, text) in [
            (Receipt::Delivered, "SEND-OK\n"),
            (Receipt::Undelivered, "BAD-DEST-USER\n"),
        ] {
            let mut out = Vec::new();
            assert_eq!(render_receipt(receipt, &mut out), Then::Stay);
            assert_eq!(out, text.as_bytes());
        }
    }

    #[test]
    fn list_ok_is_comma_separated_in_login_order() {
        let users = ["bob", "alice", "carol"]
            .into_iter()
            .enumerate()
            .map(|(fd, name)| User {
                name: name.into(),
                fd: fd as i32,
            })
            .collect();
        assert_eq!(
            rendered(Event::Users(users)),
            ("LIST-OK bob,alice,carol\n".to_string(), Then::Stay)
        );
        let one = vec![User {
            name: "me".into(),
            fd: 1,
        }];
        assert_eq!(rendered(Event::Users(one)).0, "LIST-OK me\n");
    }

    #[test]
    fn messages_of_every_kind_are_deliveries() {
        for _route in ["channel", "direct", "broadcast"] {
            let message = Event::Message {
                from: "bob".into(),
                text: b" hi  there".as_slice().into(),
                receipt: None,
            };
            assert_eq!(rendered(message).0, "DELIVERY bob  hi  there\n");
        }
        // A channels frame can hold a newline, and a hello line a CR: a
        // client splitting at either must see one line. TAB stays.
        let message = Event::Message {
            from: "ana".into(),
            text: b"two\nlines\r\x1b[2J\tend".as_slice().into(),
            receipt: None,
        };
        assert_eq!(rendered(message).0, "DELIVERY ana two lines  [2J\tend\n");
    }

    proptest! {
        /// Garbage from a client never panics the dialect, and before login
        /// it always ends the connection unless it is a valid HELLO-FROM.
        #[test]
        fn garbage_before_login_is_answered_and_closes(
            line in proptest::collection::vec(any::<u8>(), 1..64),
        ) {
            let mut reply = Vec::new();
            let from = Sender { fd: 1, name: None };
            let action = Parser::new().on_frame(Frame::Data(&line), from, &mut reply);
            match action {
                Action::Request(Request::Register { name }) => {
                    prop_assert!(valid_name(name.as_bytes()));
                    prop_assert!(reply.is_empty());
                }
                Action::Done(Then::HangUp) => {
                    prop_assert!(reply == b"BAD-RQST-HDR\n" || reply == b"BAD-RQST-BODY\n");
                }
                other => prop_assert!(false, "unexpected {:?}", other),
            }
        }
    }
}
