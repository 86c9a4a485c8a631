//! `mesg`: JOIN / LIST / MESG / BCST / QUIT, typed by hand in telnet
//! (docs/PROTOCOLS.md section 1; the UNT "prog3svr" assignment, in Python and over telnet).
//!
//! The reply wording follows the instructor's published sample transcript
//! of the assignment; every string below is exact. Lines from the client end
//! in LF, CR LF or a lone CR, and telnet's commands are stripped; lines to
//! the client end in CR LF, as telnet expects.

use super::{Action, Dialect, Protocol, Sender, Then};
use crate::framing::line::LineFramer;
use crate::framing::telnet::TelnetFilter;
use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use crate::limits::MAX_LINE;
use crate::text::{name_and_text, push_relayed_telnet, shown, split_word};
use log::info;
use std::io::Write;

pub const PONG: &str = "PONG";
pub const TOO_MANY_USERS: &str = "Too Many Users. Disconnecting User.";
pub const INVALID_USERNAME: &str =
    "Invalid Username. Use \"JOIN <username>\" with letters and digits only.";
pub const INVALID_MESG: &str = "Invalid MESG. Use \"MESG <username> <message>\".";
pub const UNKNOWN_MESSAGE: &str = "Unknown Message. Discarding UNKNOWN Message.";
pub const UNREGISTERED: &str = "Unregistered User. Use \"JOIN <username>\" to Register.";
pub const TOO_LONG: &str = "Message Too Long. Discarding Message.";
/// The rule above and below the LIST table: 28 dashes.
pub const LIST_RULE: &str = "----------------------------";
pub const LIST_HEADER: &str = "USERNAME\tFD";

const EOL: &[u8] = b"\r\n";

/// Names are 1 to 32 ASCII letters and digits, case-sensitive (the rules
/// of every dialect are in crate::text).
pub use crate::text::is_plain_name as valid_name;

fn line(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.extend_from_slice(EOL);
}

fn already_registered(out: &mut Vec<u8>, name: &str, fd: i32) {
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "User Already Registered: Username ({name}), FD ({fd})\r\n"
    );
}

#[derive(Debug)]
pub struct Parser {
    telnet: TelnetFilter,
    lines: LineFramer,
    /// Whether the client ever sent a line end or a telnet command: then it
    /// is a telnet or a line-based client, and a command without its line
    /// end is never taken for a whole one (see [`Dialect::unterminated`]).
    line_client: bool,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            telnet: TelnetFilter::new(),
            lines: LineFramer::new(MAX_LINE),
            line_client: false,
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

    /// A whole command sent in one `send()` with no line end at all, by a
    /// client that has never sent one (a course's clients do this, and wait
    /// for the answer before sending the next command): after a pause with
    /// nothing more, it is taken as a line. Never for a telnet (it sends
    /// CR LF, and its option negotiation marks it at once), nor a line
    /// still being typed (that arrives in many reads, see the relay).
    fn unterminated(&self, tail: &[u8]) -> bool {
        !self.line_client && is_whole_command(tail)
    }

    fn decode(&mut self, data: &mut [u8], reply: &mut Vec<u8>) -> usize {
        if data.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0xFF) {
            self.line_client = true;
        }
        self.telnet.filter(data, reply)
    }

    /// One line from the client. The order of the checks is the order of
    /// the table in docs/PROTOCOLS.md: PING and QUIT work for anyone, JOIN checks
    /// registration before the name, and everything else needs a name.
    fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        from: Sender<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a> {
        let fd = from.fd;
        let Frame::Data(text) = frame else {
            info!("Client ({fd}): Message Too Long. Discarding Message.");
            line(reply, TOO_LONG);
            return Action::Done(Then::Stay);
        };
        let (command, rest) = split_word(text);
        match command {
            b"PING" => {
                info!("Client ({fd}): PING");
                line(reply, PONG);
            }
            b"QUIT" => {
                info!("Client ({fd}): QUIT");
                return Action::Request(Request::Quit);
            }
            b"JOIN" => return join(rest.unwrap_or_default(), from, reply),
            _ if from.name.is_none() => {
                info!("Client ({fd}): Unregistered User. Discarding Message.");
                line(reply, UNREGISTERED);
            }
            b"LIST" => {
                info!("Client ({fd}): LIST");
                return Action::Request(Request::List);
            }
            b"MESG" => return mesg(rest.unwrap_or_default(), fd, reply),
            // Our choice where the table is silent: `BCST` with no text is
            // not a BCST (its form is `BCST <text>`), so it is unknown.
            b"BCST" if rest.is_some_and(|t| !t.is_empty()) => {
                info!("Client ({fd}): BCST");
                return Action::Request(Request::Broadcast {
                    text: rest.unwrap_or_default(),
                });
            }
            _ => {
                info!("Client ({fd}): Unrecognizable Message. Discarding UNKNOWN Message.");
                line(reply, UNKNOWN_MESSAGE);
            }
        }
        Action::Done(Then::Stay)
    }
}

/// The name is the one the client typed, echoed: sanitised like any text
/// from a peer, so it cannot carry a line end, an escape or a telnet command.
/// Whether `line` is a whole command as a client that sends no line ends
/// would send it: its command word and every argument it needs.
fn is_whole_command(line: &[u8]) -> bool {
    let (command, rest) = split_word(line);
    let rest = rest.map(trim_spaces).unwrap_or_default();
    match command {
        b"LIST" | b"QUIT" | b"PING" => rest.is_empty(),
        b"JOIN" | b"BCST" => !rest.is_empty(),
        b"MESG" => split_word(rest).1.is_some_and(|text| !text.is_empty()),
        _ => false,
    }
}

/// `text` without spaces at either end.
fn trim_spaces(text: &[u8]) -> &[u8] {
    let start = text.iter().position(|&b| b != b' ').unwrap_or(text.len());
    let end = text
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |i| i + 1);
    &text[start..end]
}

/// `JOIN <name>`: registration is checked before the name, and a name is
/// checked before the hub sees it. Spaces around the name are not part of
/// it (`JOIN  ann ` registers `ann`): the assignment promises clients need
/// no validation, and student clients do send them.
fn join<'a>(name: &'a [u8], from: Sender<'_>, reply: &mut Vec<u8>) -> Action<'a> {
    let name = trim_spaces(name);
    let fd = from.fd;
    info!("Client ({fd}): JOIN {}", shown(name));
    if let Some(mine) = from.name {
        info!("Client ({fd}): User Already Registered. Discarding JOIN.");
        already_registered(reply, mine, fd);
    } else if !valid_name(name) {
        info!("Client ({fd}): Invalid Username. Discarding JOIN.");
        line(reply, INVALID_USERNAME);
    } else {
        // valid_name admits ASCII only, so this cannot fail.
        let name = std::str::from_utf8(name).unwrap_or_default();
        return Action::Request(Request::Register { name });
    }
    Action::Done(Then::Stay)
}

/// `MESG <name> <text>`, both needed.
fn mesg<'a>(rest: &'a [u8], fd: i32, reply: &mut Vec<u8>) -> Action<'a> {
    let Some((to, text)) = name_and_text(rest) else {
        info!("Client ({fd}): Invalid MESG. Discarding MESG.");
        line(reply, INVALID_MESG);
        return Action::Done(Then::Stay);
    };
    info!("Client ({fd}): MESG {}", shown(to));
    match std::str::from_utf8(to) {
        Ok(to) => Action::Request(Request::Direct {
            to,
            text,
            receipt: false,
        }),
        // No registered name is anything but ASCII.
        Err(_) => {
            unknown_recipient(reply, String::from_utf8_lossy(to).as_bytes());
            Action::Done(Then::Stay)
        }
    }
}

fn unknown_recipient(out: &mut Vec<u8>, name: &[u8]) {
    out.extend_from_slice(b"Unknown Recipient (");
    push_relayed_telnet(out, name);
    out.extend_from_slice(b"). MESG Discarded.\r\n");
}

/// The `mesg` entry of the dialect table.
pub static PROTOCOL: Protocol = Protocol {
    name: "mesg",
    default_max_users: crate::limits::MESG_MAX_USERS,
    default_address: "0.0.0.0",
    min_max_queue: 0,
    start: || Box::new(Parser::new()),
    render,
    render_receipt: super::no_receipts,
    log_event,
};

/// How a `mesg` client sees each hub event.
pub fn render(event: &Event, out: &mut Vec<u8>) -> Then {
    match event {
        Event::Registered { name } => {
            let _ = write!(out, "JOIN {name} Request Accepted\r\n");
        }
        Event::AlreadyRegistered { name, fd } | Event::NameTaken { name, fd } => {
            already_registered(out, name, *fd);
        }
        Event::Full => {
            line(out, TOO_MANY_USERS);
            return Then::HangUp;
        }
        Event::NotRegistered => line(out, UNREGISTERED),
        Event::Users(users) => {
            line(out, LIST_HEADER);
            line(out, LIST_RULE);
            for user in users {
                let _ = write!(out, "{}\t{}\r\n", user.name, user.fd);
            }
            line(out, LIST_RULE);
        }
        Event::Message { from, text, .. } => {
            out.extend_from_slice(b"FROM ");
            push_relayed_telnet(out, from.as_bytes());
            out.extend_from_slice(b": ");
            // Another dialect's text may hold a line end (which would let
            // the rest pose as a server line), an escape sequence, or 0xFF,
            // which telnet reads as a command: see crate::text.
            push_relayed_telnet(out, text);
            out.extend_from_slice(EOL);
        }
        Event::UnknownRecipient { name } => unknown_recipient(out, name.as_bytes()),
        Event::Bye => return Then::HangUp,
        // Channel notices and receipts have no form in this protocol.
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
            info!("Client ({fd}): Registered as {}.", shown(name.as_bytes()))
        }
        Event::NameTaken { name, .. } => {
            info!(
                "Client ({fd}): Username ({}) in use. Discarding JOIN.",
                shown(name.as_bytes())
            )
        }
        Event::Full => info!("Client ({fd}): Database Full. Disconnecting User."),
        Event::UnknownRecipient { name } => {
            info!(
                "Unable to Locate Recipient ({}) in Database. Discarding MESG.",
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

    fn frame(line: &str, name: Option<&str>) -> (String, Option<Request<'static>>) {
        let line: &'static [u8] = Box::leak(line.as_bytes().to_vec().into_boxed_slice());
        let mut reply = Vec::new();
        let from = Sender { fd: 7, name };
        let action = Parser::new().on_frame(Frame::Data(line), from, &mut reply);
        let request = match action {
            Action::Request(r) => Some(r),
            Action::Done(Then::Stay) => None,
            Action::Done(Then::HangUp) => panic!("mesg never closes on a frame alone"),
        };
        (String::from_utf8(reply).unwrap(), request)
    }

    fn rendered(event: Event) -> (String, Then) {
        let mut out = Vec::new();
        let after = render(&event, &mut out);
        (String::from_utf8(out).unwrap(), after)
    }

    #[test]
    fn join_with_a_valid_name_goes_to_the_hub() {
        assert_eq!(
            frame("JOIN alice", None),
            (String::new(), Some(Request::Register { name: "alice" }))
        );
        let longest = "a".repeat(32);
        assert!(frame(&format!("JOIN {longest}"), None).1.is_some());
    }

    #[test]
    fn join_with_a_bad_name_is_refused_locally() {
        let invalid = format!("{INVALID_USERNAME}\r\n");
        for bad in [
            "JOIN",
            "JOIN ",
            "JOIN al ice",
            "JOIN al-ice",
            &format!("JOIN {}", "a".repeat(33)),
        ] {
            assert_eq!(frame(bad, None), (invalid.clone(), None), "{bad:?}");
        }
    }

    #[test]
    fn spaces_around_a_join_name_are_not_part_of_it() {
        for line in ["JOIN ann ", "JOIN  ann", "JOIN   ann  "] {
            assert_eq!(
                frame(line, None),
                (String::new(), Some(Request::Register { name: "ann" })),
                "{line:?}"
            );
        }
    }

    #[test]
    fn a_whole_command_is_one_the_dialect_could_answer() {
        for whole in [
            "JOIN ann",
            "LIST",
            "QUIT",
            "PING",
            "MESG bob hi there",
            "BCST hi",
        ] {
            assert!(is_whole_command(whole.as_bytes()), "{whole:?}");
        }
        for part in [
            "JOI",
            "JOIN",
            "JOIN ",
            "MESG bob",
            "MESG bob ",
            "BCST",
            "LIS",
            "hello",
        ] {
            assert!(!is_whole_command(part.as_bytes()), "{part:?}");
        }
        let mut p = Parser::new();
        assert!(p.unterminated(b"LIST"));
        p.decode(&mut b"PING\r\n".to_vec(), &mut Vec::new());
        assert!(!p.unterminated(b"LIST"), "a client that sent a line end");
        let mut telnet = Parser::new();
        telnet.decode(&mut [0xFF, 0xFB, 0x18], &mut Vec::new());
        assert!(!telnet.unterminated(b"LIST"), "a telnet that negotiated");
    }

    #[test]
    fn join_when_registered_names_this_connection() {
        let expected = "User Already Registered: Username (alice), FD (7)\r\n";
        assert_eq!(
            frame("JOIN bob", Some("alice")),
            (expected.to_string(), None)
        );
        assert_eq!(
            frame("JOIN b-d", Some("alice")),
            (expected.to_string(), None)
        );
    }

    #[test]
    fn everything_but_join_ping_and_quit_needs_a_name() {
        for line in ["LIST", "MESG bob hi", "BCST hi", "HELLO", "join alice"] {
            assert_eq!(
                frame(line, None),
                (format!("{UNREGISTERED}\r\n"), None),
                "{line:?}"
            );
        }
        assert_eq!(frame("PING", None), ("PONG\r\n".to_string(), None));
        assert_eq!(frame("QUIT", None), (String::new(), Some(Request::Quit)));
    }

    #[test]
    fn mesg_needs_a_name_and_text() {
        let invalid = format!("{INVALID_MESG}\r\n");
        for bad in ["MESG", "MESG bob", "MESG bob ", "MESG  hi"] {
            assert_eq!(frame(bad, Some("a")), (invalid.clone(), None), "{bad:?}");
        }
        let direct = Request::Direct {
            to: "bob",
            text: b"hi  there ",
            receipt: false,
        };
        assert_eq!(
            frame("MESG bob hi  there ", Some("a")),
            (String::new(), Some(direct))
        );
    }

    #[test]
    fn bcst_keeps_its_text_as_typed() {
        let bcst = Request::Broadcast {
            text: b" spaced  out",
        };
        assert_eq!(
            frame("BCST  spaced  out", Some("a")),
            (String::new(), Some(bcst))
        );
        let unknown = format!("{UNKNOWN_MESSAGE}\r\n");
        assert_eq!(frame("BCST", Some("a")), (unknown.clone(), None));
        assert_eq!(frame("BCST ", Some("a")), (unknown.clone(), None));
        assert_eq!(frame("list", Some("a")), (unknown, None));
    }

    #[test]
    fn too_long_is_answered() {
        let mut reply = Vec::new();
        let from = Sender { fd: 3, name: None };
        Parser::new().on_frame(Frame::TooLong, from, &mut reply);
        assert_eq!(reply, b"Message Too Long. Discarding Message.\r\n");
    }

    #[test]
    fn events_render_exactly() {
        let (text, after) = rendered(Event::Full);
        assert_eq!(
            (text.as_str(), after),
            ("Too Many Users. Disconnecting User.\r\n", Then::HangUp)
        );
        assert_eq!(
            rendered(Event::Registered { name: "al".into() }).0,
            "JOIN al Request Accepted\r\n"
        );
        assert_eq!(
            rendered(Event::NameTaken {
                name: "al".into(),
                fd: 5
            })
            .0,
            "User Already Registered: Username (al), FD (5)\r\n"
        );
        assert_eq!(
            rendered(Event::UnknownRecipient { name: "bob".into() }).0,
            "Unknown Recipient (bob). MESG Discarded.\r\n"
        );
        let message = Event::Message {
            from: "al".into(),
            text: b"hi".as_slice().into(),
            receipt: None,
        };
        assert_eq!(rendered(message).0, "FROM al: hi\r\n");
        assert_eq!(rendered(Event::Bye), (String::new(), Then::HangUp));
    }

    #[test]
    fn a_line_end_inside_relayed_text_cannot_forge_a_line() {
        let forged = Event::Message {
            from: "s".into(),
            text: b"hi\r\nFROM admin: forged".as_slice().into(),
            receipt: None,
        };
        assert_eq!(rendered(forged).0, "FROM s: hi  FROM admin: forged\r\n");
    }

    #[test]
    fn relayed_text_cannot_drive_telnet_or_the_terminal() {
        let message = Event::Message {
            from: "s".into(),
            text: b"\xff\xfa\x18\x1b]0;t\x07\ttab".as_slice().into(),
            receipt: None,
        };
        let mut out = Vec::new();
        render(&message, &mut out);
        assert_eq!(out, b"FROM s: \xff\xff\xfa  ]0;t \ttab\r\n");
        let mut out = Vec::new();
        render(
            &Event::UnknownRecipient {
                name: "a\x1bb".into(),
            },
            &mut out,
        );
        assert_eq!(out, b"Unknown Recipient (a b). MESG Discarded.\r\n");
    }

    #[test]
    fn the_list_table_is_byte_exact() {
        let users = vec![
            User {
                name: "alice".into(),
                fd: 5,
            },
            User {
                name: "bob".into(),
                fd: 7,
            },
        ];
        let expected = "USERNAME\tFD\r\n----------------------------\r\nalice\t5\r\nbob\t7\r\n----------------------------\r\n";
        assert_eq!(rendered(Event::Users(users)).0, expected);
    }
}
