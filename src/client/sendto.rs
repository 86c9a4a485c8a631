//! The `sendto` front end (docs/PROTOCOLS.md section 4): the seed's chat client.
//!
//! The user types `login`, `list`, `sendto`, `logout` and `exit`, one a
//! line. Each is checked here before anything is sent, as the seed asks
//! ("whenever a client prints an error message, it should not perform any
//! other action"); a command that passes becomes one packet. Packets from
//! the server are printed as they arrive: replies as `Success`, `Failure`,
//! `Malformed packet` or a list of names, messages as `<sender>: <text>`.
//!
//! Every packet sent gets exactly one reply, so the front end counts the
//! replies it still waits for. When standard input ends it waits for them,
//! then closes and exits as `exit` does: `printf 'login al\nlist\n' |
//! pollchat-client sendto ...` prints both answers, every time. (A server
//! that never answers is left by the loop once it has been quiet a few
//! seconds.)

use super::{FrontEnd, Next, Screen};
use crate::dialect::sendto::packet::{self, ClientPacket, ServerPacket, Status, MAX_STRING};
use crate::framing::length::LengthFramer;
use crate::framing::{Frame, Framer};
use crate::text::split_word_by;

/// The client's error messages (section 4's table, the seed's wording).
pub const BAD_USERNAME: &str = "Bad username";
pub const BAD_MESSAGE: &str = "Bad message";
pub const INVALID_COMMAND: &str = "Invalid command";
/// How each RESPONSE prints.
pub const SUCCESS: &str = "Success";
pub const FAILURE: &str = "Failure";
pub const MALFORMED: &str = "Malformed packet";

/// Largest packet body taken from the server. A LIST may name every user
/// on the server, in any dialect: 16 MiB holds 65535 names (all a LIST can
/// count) of over 250 bytes each. Anything larger is skipped unread.
const MAX_SERVER_BODY: usize = 16 << 20;

/// A typed line that passed its checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    Send(ClientPacket<'a>),
    Exit,
}

fn is_space(b: &u8) -> bool {
    b.is_ascii_whitespace()
}

fn words(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(is_space).filter(|w| !w.is_empty())
}

/// A user name as typed: the server's rule (1 to 20 ASCII letters, digits,
/// `-`, `_` or `.`), checked here so no name the server would call
/// malformed is sent.
fn username(word: &[u8]) -> Result<&str, &'static str> {
    std::str::from_utf8(word)
        .ok()
        .filter(|name| packet::valid_name(name))
        .ok_or(BAD_USERNAME)
}

/// Checks one typed line; the error is exactly what to print.
///
/// Commands are case-sensitive and separated from their arguments by
/// spaces. `login`'s name is its one word; `sendto`'s text is everything
/// after the space that ends the name, kept as typed.
pub fn parse(line: &[u8]) -> Result<Command<'_>, &'static str> {
    // Commands and names end at a space or a tab: `("sendto", Some("bob hi"))`.
    let (command, rest) = split_word_by(line, is_space);
    let rest = rest.unwrap_or_default();
    let alone = |c: Command<'static>| match words(rest).next() {
        None => Ok(c),
        Some(_) => Err(INVALID_COMMAND),
    };
    match command {
        b"login" => {
            let mut names = words(rest);
            match (names.next(), names.next()) {
                (Some(name), None) => Ok(Command::Send(ClientPacket::Login {
                    name: username(name)?,
                })),
                // No name, or extra words after it.
                _ => Err(BAD_USERNAME),
            }
        }
        b"list" => alone(Command::Send(ClientPacket::List)),
        b"logout" => alone(Command::Send(ClientPacket::Logout)),
        b"exit" => alone(Command::Exit),
        b"sendto" => {
            let start = rest.iter().position(|b| !is_space(b)).unwrap_or(rest.len());
            let (name, text) = split_word_by(&rest[start..], is_space);
            // A text of nothing but spaces is as missing as no text at all.
            let text = match text {
                Some(text) if text.iter().any(|b| !is_space(b)) => text,
                _ => return Err(BAD_USERNAME),
            };
            let to = username(name)?;
            // Bytes, not characters: a text that does not fit the u16 count
            // cannot be sent, and 65535 characters are at least that many
            // bytes. Typed bytes that are not UTF-8 cannot be sent either.
            if text.len() > MAX_STRING {
                return Err(BAD_MESSAGE);
            }
            let text = std::str::from_utf8(text).map_err(|_| BAD_MESSAGE)?;
            Ok(Command::Send(ClientPacket::Sendto { to, text }))
        }
        _ => Err(INVALID_COMMAND),
    }
}

pub struct Sendto {
    packets: LengthFramer,
    /// Packets sent whose one reply has not arrived yet.
    awaiting: usize,
    /// `exit` was typed: nothing after it is read.
    exiting: bool,
    input_ended: bool,
}

impl Sendto {
    pub fn new() -> Sendto {
        Sendto {
            packets: LengthFramer::new(MAX_SERVER_BODY),
            awaiting: 0,
            exiting: false,
            input_ended: false,
        }
    }

    /// A packet of type `kind` came: if it is a reply, one less to wait for.
    fn count_reply(&mut self, kind: u8) {
        if kind == packet::SERVER_LIST || kind == packet::SERVER_RESPONSE {
            self.awaiting = self.awaiting.saturating_sub(1);
        }
    }

    fn show(&mut self, bytes: &[u8], screen: &mut Screen) {
        // The framer yields whole packets, header included: never empty.
        self.count_reply(bytes.first().copied().unwrap_or_default());
        match ServerPacket::decode(bytes) {
            Ok(ServerPacket::List(names)) => {
                for name in names {
                    screen.line(name.as_bytes());
                }
            }
            Ok(ServerPacket::Response(status)) => {
                let text = match status {
                    Status::Ok => SUCCESS,
                    Status::Failure => FAILURE,
                    Status::Malformed => MALFORMED,
                };
                screen.line(text.as_bytes());
            }
            Ok(ServerPacket::Sendto { from, text }) => {
                screen.line(format!("{from}: {text}").as_bytes());
            }
            // Not the user's business on stdout, but not to be hidden.
            Err(why) => {
                eprintln!("pollchat-client: skipped a malformed packet from the server: {why}")
            }
        }
    }
}

impl Default for Sendto {
    fn default() -> Sendto {
        Sendto::new()
    }
}

impl FrontEnd for Sendto {
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        if self.exiting {
            return;
        }
        match parse(line) {
            Ok(Command::Send(packet)) => {
                packet.encode(to_server);
                self.awaiting += 1;
            }
            Ok(Command::Exit) => self.exiting = true,
            Err(error) => screen.line(error.as_bytes()),
        }
    }

    /// End of input is `exit` once every reply owed has been printed.
    fn on_input_end(&mut self, _to_server: &mut Vec<u8>, _screen: &mut Screen) -> Next {
        self.input_ended = true;
        Next::Continue
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        let mut pos = 0;
        loop {
            let (used, frame) = self.packets.next_frame(&bytes[pos..]);
            pos += used;
            match frame {
                Some(Frame::Data(packet)) => self.show(packet, screen),
                Some(Frame::TooLong) => {
                    if let Some(header) = self.packets.rejected() {
                        self.count_reply(header.kind);
                    }
                    eprintln!("pollchat-client: skipped a packet from the server over {MAX_SERVER_BODY} bytes");
                }
                None => return pos,
            }
        }
    }

    fn next(&mut self) -> Next {
        if self.exiting || (self.input_ended && self.awaiting == 0) {
            Next::Exit(0)
        } else {
            Next::Continue
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(p: ClientPacket<'static>) -> Result<Command<'static>, &'static str> {
        Ok(Command::Send(p))
    }

    fn parsed(line: &'static str) -> Result<Command<'static>, &'static str> {
        parse(line.as_bytes())
    }

    #[test]
    fn valid_commands_become_packets() {
        assert_eq!(
            parsed("login John"),
            send(ClientPacket::Login { name: "John" })
        );
        assert_eq!(
            parsed("login   John  "),
            send(ClientPacket::Login { name: "John" })
        );
        assert_eq!(parsed("list"), send(ClientPacket::List));
        assert_eq!(parsed("list  "), send(ClientPacket::List));
        assert_eq!(parsed("logout"), send(ClientPacket::Logout));
        assert_eq!(parsed("exit"), Ok(Command::Exit));
        assert_eq!(
            parsed("sendto John Hello, how are you?"),
            send(ClientPacket::Sendto {
                to: "John",
                text: "Hello, how are you?"
            })
        );
        // The text is kept as typed after the one space ending the name.
        assert_eq!(
            parsed("sendto John  two  spaces "),
            send(ClientPacket::Sendto {
                to: "John",
                text: " two  spaces "
            })
        );
    }

    #[test]
    fn bad_usernames() {
        for line in [
            "login",
            "login ",
            "login John Doe",
            "login abcdefghijklmnopqrstu",
            "login ééééééééééé",
            "login zoë",
            "login a,b",
            "login a!",
            "sendto",
            "sendto JohnHello",
            "sendto John",
            "sendto John ",
            "sendto John    ",
            "sendto abcdefghijklmnopqrstu hi",
        ] {
            assert_eq!(parsed(line), Err(BAD_USERNAME), "{line:?}");
        }
        assert_eq!(parse(b"login a\xffb"), Err(BAD_USERNAME));
        assert!(parsed("login abcdefghijklmnopqrst").is_ok());
    }

    #[test]
    fn bad_messages() {
        let longest = format!("sendto bob {}", "x".repeat(MAX_STRING));
        assert!(parse(longest.as_bytes()).is_ok());
        let over = format!("sendto bob {}", "x".repeat(MAX_STRING + 1));
        assert_eq!(parse(over.as_bytes()), Err(BAD_MESSAGE));
        assert_eq!(parse(b"sendto bob caf\xe9"), Err(BAD_MESSAGE));
        // A bad name is reported before a bad message.
        let both = format!("sendto {} {}", "n".repeat(21), "x".repeat(MAX_STRING + 1));
        assert_eq!(parse(both.as_bytes()), Err(BAD_USERNAME));
    }

    #[test]
    fn invalid_commands() {
        for line in [
            "list bob",
            "logout Joe",
            "exit client",
            "LIST",
            "Login John",
            "hello",
            " list",
            "sendtoJohn hi",
        ] {
            assert_eq!(parsed(line), Err(INVALID_COMMAND), "{line:?}");
        }
    }

    fn shown(front: &mut Sendto, bytes: &[u8]) -> String {
        let mut screen = Screen::default();
        assert_eq!(front.on_server(bytes, &mut screen), bytes.len());
        String::from_utf8(screen.buf).unwrap()
    }

    #[test]
    fn server_packets_print_as_the_seed_says() {
        let mut front = Sendto::new();
        let mut bytes = Vec::new();
        packet::put_response(&mut bytes, Status::Ok);
        packet::put_response(&mut bytes, Status::Failure);
        packet::put_response(&mut bytes, Status::Malformed);
        packet::put_list(&mut bytes, ["alice", "bob"]);
        packet::put_message(&mut bytes, "Bob", "Hi how are you?");
        assert_eq!(
            shown(&mut front, &bytes),
            "Success\nFailure\nMalformed packet\nalice\nbob\nBob: Hi how are you?\n"
        );
    }

    #[test]
    fn replies_are_counted_and_input_end_waits_for_them() {
        let mut front = Sendto::new();
        let (mut out, mut screen) = (Vec::new(), Screen::default());
        front.on_typed(b"login al", &mut out, &mut screen);
        front.on_typed(b"list", &mut out, &mut screen);
        front.on_typed(b"list me", &mut out, &mut screen);
        assert_eq!(screen.buf, b"Invalid command\n");
        assert_eq!(front.on_input_end(&mut out, &mut screen), Next::Continue);
        assert_eq!(front.next(), Next::Continue);
        let mut replies = Vec::new();
        packet::put_response(&mut replies, Status::Ok);
        // An incoming message is not a reply.
        packet::put_message(&mut replies, "x", "y");
        shown(&mut front, &replies);
        assert_eq!(front.next(), Next::Continue);
        let mut list = Vec::new();
        packet::put_list(&mut list, ["al"]);
        shown(&mut front, &list);
        assert_eq!(front.next(), Next::Exit(0));
    }

    #[test]
    fn exit_ends_at_once_and_later_lines_are_ignored() {
        let mut front = Sendto::new();
        let (mut out, mut screen) = (Vec::new(), Screen::default());
        front.on_typed(b"list", &mut out, &mut screen);
        front.on_typed(b"exit", &mut out, &mut screen);
        let sent = out.len();
        front.on_typed(b"list", &mut out, &mut screen);
        front.on_typed(b"bogus", &mut out, &mut screen);
        assert_eq!((out.len(), screen.buf.len()), (sent, 0));
        assert_eq!(front.next(), Next::Exit(0));
    }

    #[test]
    fn a_partial_packet_waits_for_the_rest() {
        let mut front = Sendto::new();
        let mut bytes = Vec::new();
        packet::put_message(&mut bytes, "al", "hello");
        let mut screen = Screen::default();
        assert_eq!(front.on_server(&bytes[..7], &mut screen), 0);
        assert_eq!(front.on_server(&bytes, &mut screen), bytes.len());
        assert_eq!(screen.buf, b"al: hello\n");
    }
}
