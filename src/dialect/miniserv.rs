//! `miniserv`: the `select()` chat server of the 42 school's Exam Rank 06
//! (docs/PROTOCOLS.md section 5).
//!
//! No names, no commands, no replies. A client is numbered on connecting
//! (0, 1, 2, ... never reused) and the others are told it arrived; every
//! line it sends, cut at `\n`, goes to every other client as
//! `client <id>: <line>\n`, byte for byte; when it leaves the others are
//! told. Testers `diff` the output, so every string below is exact.
//!
//! In the hub a client is called `client#<id>`: `#` is in no dialect's
//! name rule, so no other user can take or fake the name, and `MESG
//! client#3 hi` reaches it. Rendering turns the name back into the id.

use super::{Action, Dialect, Protocol, Sender, Then};
use crate::admin::OPERATOR_NAME;
use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use crate::limits::{MINISERV_MAX_LINE, MINISERV_MIN_QUEUE};
use crate::text::{push_relayed, shown};
use log::info;

/// What a client is called in the hub: this and its id.
pub const NAME_PREFIX: &str = "client#";

pub const ARRIVED: &str = " just arrived\n";
pub const LEFT: &str = " just left\n";

/// A client's id, if `name` is a `miniserv` client's hub name.
pub fn id_of(name: &str) -> Option<&str> {
    name.strip_prefix(NAME_PREFIX)
}

/// How the subject's lines name a user: its id, or the name of a user of
/// another dialect as it is (names are safe in every dialect).
fn who(name: &str) -> &str {
    id_of(name).unwrap_or(name)
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
            // `\n` only, the `\r` before it kept, empty lines relayed; a
            // partial line when the client leaves is not a line (dropped).
            lines: LineFramer::exact(MINISERV_MAX_LINE),
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

    fn on_open(&mut self) -> Option<Request<'static>> {
        Some(Request::Arrive {
            prefix: NAME_PREFIX,
        })
    }

    /// Every line goes to everyone else; nothing is ever answered. A line
    /// over the limit cannot be relayed whole and is dropped.
    fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        from: Sender<'_>,
        _reply: &mut Vec<u8>,
    ) -> Action<'a> {
        let fd = from.fd;
        match frame {
            Frame::Data(line) if from.name.is_some() => {
                info!("Client ({fd}): Line ({} bytes)", line.len());
                Action::Request(Request::Broadcast { text: line })
            }
            // Refused on arrival (only with --max-users): it is being
            // hung up on, and says nothing meanwhile.
            Frame::Data(_) => Action::Done(Then::Stay),
            Frame::TooLong => {
                info!("Client ({fd}): Line over {MINISERV_MAX_LINE} bytes. Discarding it.");
                Action::Done(Then::Stay)
            }
        }
    }
}

/// The `miniserv` entry of the dialect table.
pub static PROTOCOL: Protocol = Protocol {
    name: "miniserv",
    default_max_users: usize::MAX,
    // "listening only on 127.0.0.1" (the subject).
    default_address: "127.0.0.1",
    min_max_queue: MINISERV_MIN_QUEUE,
    start: || Box::new(Parser::new()),
    render,
    render_receipt: super::no_receipts,
    log_event,
};

/// How a `miniserv` client sees each hub event: always in the subject's
/// two line shapes, `server: ...` and `client <who>: ...`.
pub fn render(event: &Event, out: &mut Vec<u8>) -> Then {
    match event {
        Event::Arrived { who: name } => notice(out, name, ARRIVED),
        Event::Departed { who: name } => notice(out, name, LEFT),
        Event::Message { from, text, .. } => match id_of(from) {
            // Another miniserv client's line: byte for byte, as the
            // subject relays it (its own framing kept the `\n` out).
            Some(id) => {
                out.extend_from_slice(b"client ");
                out.extend_from_slice(id.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(text);
                out.push(b'\n');
            }
            // The operator speaks as the server does.
            None if **from == *OPERATOR_NAME => {
                out.extend_from_slice(b"server: ");
                push_relayed(out, text);
                out.push(b'\n');
            }
            // A user of another dialect: the same shape, its text through
            // rule S, so no CR or LF in it can start a line of its own.
            None => {
                out.extend_from_slice(b"client ");
                out.extend_from_slice(from.as_bytes());
                out.extend_from_slice(b": ");
                push_relayed(out, text);
                out.push(b'\n');
            }
        },
        // Refused on arrival (--max-users): closed without a word, as the
        // subject has none.
        Event::Full | Event::NameTaken { .. } | Event::Bye => return Then::HangUp,
        // Answers to requests this dialect never makes, and channel
        // notices, which reach channel members only.
        Event::Registered { .. }
        | Event::AlreadyRegistered { .. }
        | Event::Unregistered
        | Event::NotRegistered
        | Event::Users(_)
        | Event::UnknownRecipient { .. }
        | Event::Channels(_)
        | Event::ChannelExists { .. }
        | Event::TooManyChannels { .. }
        | Event::NoSuchChannel { .. }
        | Event::NotInChannel
        | Event::Joined { .. }
        | Event::Left { .. } => {}
    }
    Then::Stay
}

fn notice(out: &mut Vec<u8>, name: &str, what: &str) {
    out.extend_from_slice(b"server: client ");
    out.extend_from_slice(who(name).as_bytes());
    out.extend_from_slice(what.as_bytes());
}

/// Status lines for the hub's answers to one client.
pub fn log_event(fd: i32, event: &Event) {
    match event {
        Event::Registered { name } => {
            info!("Client ({fd}): Arrived as {}.", shown(name.as_bytes()))
        }
        Event::Full => info!("Client ({fd}): Server full. Disconnecting User."),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(event: Event) -> (Vec<u8>, Then) {
        let mut out = Vec::new();
        let then = render(&event, &mut out);
        (out, then)
    }

    fn message(from: &str, text: &[u8]) -> Event {
        Event::Message {
            from: from.into(),
            text: text.into(),
            receipt: None,
        }
    }

    #[test]
    fn notices_are_the_subjects() {
        let arrived = Event::Arrived {
            who: "client#0".into(),
        };
        assert_eq!(
            rendered(arrived).0,
            b"server: client 0 just arrived\n".to_vec()
        );
        let left = Event::Departed {
            who: "client#12".into(),
        };
        assert_eq!(rendered(left).0, b"server: client 12 just left\n".to_vec());
        let named = Event::Departed { who: "ann".into() };
        assert_eq!(
            rendered(named).0,
            b"server: client ann just left\n".to_vec()
        );
    }

    #[test]
    fn a_miniserv_line_is_relayed_byte_for_byte() {
        let (out, then) = rendered(message("client#3", b"hi\r\x1b[1m\xff"));
        assert_eq!(out, b"client 3: hi\r\x1b[1m\xff\n".to_vec());
        assert_eq!(then, Then::Stay);
        assert_eq!(
            rendered(message("client#3", b"")).0,
            b"client 3: \n".to_vec()
        );
    }

    #[test]
    fn other_dialects_and_the_operator_keep_the_line_shape() {
        assert_eq!(
            rendered(message("ann", b"hi\r\nserver: forged")).0,
            b"client ann: hi  server: forged\n".to_vec()
        );
        assert_eq!(
            rendered(message(OPERATOR_NAME, b"class ends\x07")).0,
            b"server: class ends \n".to_vec()
        );
    }

    #[test]
    fn a_refused_arrival_hangs_up_silently() {
        assert_eq!(rendered(Event::Full), (Vec::new(), Then::HangUp));
        let registered = Event::Registered {
            name: "client#0".into(),
        };
        assert_eq!(rendered(registered), (Vec::new(), Then::Stay));
    }

    #[test]
    fn every_line_is_a_broadcast_and_nothing_is_answered() {
        let mut parser = Parser::new();
        let mut reply = Vec::new();
        let from = Sender {
            fd: 5,
            name: Some("client#0"),
        };
        let action = parser.on_frame(Frame::Data(b"x\r"), from, &mut reply);
        assert_eq!(action, Action::Request(Request::Broadcast { text: b"x\r" }));
        let action = parser.on_frame(Frame::TooLong, from, &mut reply);
        assert_eq!(action, Action::Done(Then::Stay));
        assert!(reply.is_empty());
        assert_eq!(
            parser.on_open(),
            Some(Request::Arrive {
                prefix: NAME_PREFIX
            })
        );
    }
}
