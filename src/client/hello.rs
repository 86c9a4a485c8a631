//! The `hello` front end, in the conventions of the VU lab's chat client
//! (docs/PROTOCOLS.md section 2): the first line typed is the user name, then
//! `!who` lists the users, `@<name> <text>` sends, `!quit` leaves. Every
//! reply prints as a sentence; no protocol line is ever shown as it came.
//!
//! Logging in is the one place where typing must wait for the server: the
//! line after a name is the next name to try if that one is refused, or the
//! first command if it is accepted. So while a login is answered, typed
//! lines are held, and handled in order once the answer is in (after a
//! reconnect, if the server hung up on a refused name). After login nothing
//! waits: commands go out as typed and replies print as they arrive (piped
//! in, one request per write, each after the answer to the one before: see
//! `paced`).
//!
//! When input ends, the client exits once every request it sent has been
//! answered: a hello server never hangs up on its own, and a half-close
//! would make it hang up before a pending SEND-OK. (A server that never
//! answers is left by the loop once it has been quiet a few seconds.)

use super::{FrontEnd, Next, Screen};
use crate::dialect::hello as wire;
use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};
use crate::text::split_word;
use std::collections::VecDeque;

pub const WELCOME: &str = "Welcome to Chat Client. Enter your login:";
pub const SERVER_FULL: &str = "Cannot log in. The server is full!";
pub const SENT: &str = "The message was sent successfully";
pub const NO_SUCH_USER: &str = "The destination user does not exist";
pub const HEADER_ERROR: &str = "Error: Unknown issue in previous message header.";
pub const BODY_ERROR: &str = "Error: Unknown issue in previous message body.";
/// Our wording: the lab's client has no sentence for a line that is not a
/// command.
pub const UNKNOWN_COMMAND: &str = "Unknown command. Use !who, @<username> <message> or !quit.";

const QUIT: &[u8] = b"!quit";
const WHO: &[u8] = b"!who";
const SEND_TO: u8 = b'@';

/// Longest server line kept whole. A DELIVERY can carry a message from a
/// `sendto` user, up to 65535 bytes of text; anything longer is dropped.
const MAX_SERVER_LINE: usize = 128 * 1024;

/// Bytes of typed lines held while a login is answered. A person types a
/// line or two in that time; a script piped in may hold more, but not
/// without bound.
const MAX_HELD: usize = 1 << 20;

/// Exit status when the server is full: the client could not do its job.
const EXIT_FULL: i32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// The next typed line is a name.
    AskName,
    /// `HELLO-FROM <name>` was sent; typed lines wait for the answer.
    LoggingIn(Vec<u8>),
    LoggedIn,
}

pub struct Hello {
    state: State,
    lines: LineFramer,
    /// Typed lines not handled yet, oldest first.
    held: VecDeque<Vec<u8>>,
    held_bytes: usize,
    /// Requests sent whose reply has not arrived.
    awaiting: usize,
    input_ended: bool,
    /// What the loop is to do next, once it asks.
    next: Option<Next>,
}

impl Hello {
    pub fn new() -> Hello {
        Hello {
            state: State::AskName,
            lines: LineFramer::newline_only(MAX_SERVER_LINE),
            held: VecDeque::new(),
            held_bytes: 0,
            awaiting: 0,
            input_ended: false,
            next: None,
        }
    }

    /// Whether the connection is still needed: lines to handle, a login
    /// to hear about, or replies to print.
    fn busy(&self) -> bool {
        !self.held.is_empty() || matches!(self.state, State::LoggingIn(_)) || self.awaiting > 0
    }

    /// Handles held lines in order until one has to wait for the server.
    fn release(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) {
        while self.next.is_none() && !matches!(self.state, State::LoggingIn(_)) {
            let Some(line) = self.held.pop_front() else {
                break;
            };
            self.held_bytes -= line.len();
            self.typed(line, to_server, screen);
        }
    }

    fn typed(&mut self, line: Vec<u8>, to_server: &mut Vec<u8>, screen: &mut Screen) {
        if line == QUIT {
            self.quit();
        } else if self.state == State::LoggedIn {
            self.command(&line, to_server, screen);
        } else if line.iter().all(u8::is_ascii_alphanumeric) {
            // Too long a name is left to the server, which says
            // BAD-RQST-BODY (see `answer_login`).
            to_server.extend_from_slice(wire::HELLO_FROM.as_bytes());
            to_server.push(b' ');
            to_server.extend_from_slice(&line);
            to_server.push(b'\n');
            self.state = State::LoggingIn(line);
        } else {
            disallowed(&line, screen);
        }
    }

    fn command(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        if line == WHO {
            to_server.extend_from_slice(wire::LIST.as_bytes());
        } else if let Some(rest) = line.strip_prefix(&[SEND_TO]) {
            // `@bob hi` is `SEND bob hi`, sent as typed: a missing name or
            // text is for the server to refuse, and its reply says so.
            to_server.extend_from_slice(wire::SEND.as_bytes());
            to_server.push(b' ');
            to_server.extend_from_slice(rest);
        } else {
            screen.line(UNKNOWN_COMMAND.as_bytes());
            return;
        }
        to_server.push(b'\n');
        self.awaiting += 1;
    }

    fn quit(&mut self) {
        self.held.clear();
        self.held_bytes = 0;
        self.next = Some(Next::Exit(0));
    }

    /// The server's answer to `HELLO-FROM <name>`.
    fn answer_login(&mut self, name: Vec<u8>, header: &[u8], screen: &mut Screen) {
        let refused = |me: &mut Hello| {
            // The server hangs up on a refused login: ask again on a new
            // connection.
            me.state = State::AskName;
            me.next = Some(Next::Reconnect);
        };
        match header {
            h if h == wire::HELLO.as_bytes() => {
                screen.raw(b"Successfully logged in as ");
                screen.raw(&name);
                screen.line(b"!");
                self.state = State::LoggedIn;
            }
            h if h == wire::IN_USE.as_bytes() => {
                screen.raw(b"Cannot log in as ");
                screen.raw(&name);
                screen.line(b". That username is already in use.");
                refused(self);
            }
            h if h == wire::BUSY.as_bytes() => {
                screen.line(SERVER_FULL.as_bytes());
                self.state = State::AskName;
                self.held.clear();
                self.held_bytes = 0;
                self.next = Some(Next::Exit(EXIT_FULL));
            }
            // Letters and digits were checked here, so the server refused
            // the name for its length: the nearest sentence is this one.
            h if h == wire::BAD_RQST_BODY.as_bytes() => {
                disallowed(&name, screen);
                refused(self);
            }
            h if h == wire::BAD_RQST_HDR.as_bytes() => {
                screen.line(HEADER_ERROR.as_bytes());
                refused(self);
            }
            // Not an answer to a login: ignored, never printed raw.
            _ => {}
        }
    }

    /// A line from the server once logged in.
    fn incoming(&mut self, header: &[u8], body: Option<&[u8]>, screen: &mut Screen) {
        let reply = match header {
            h if h == wire::DELIVERY.as_bytes() => {
                let (from, text) = split_word(body.unwrap_or_default());
                screen.raw(b"From ");
                screen.raw(from);
                screen.raw(b": ");
                screen.line(text.unwrap_or_default());
                return;
            }
            h if h == wire::LIST_OK.as_bytes() => {
                let names: Vec<&[u8]> = body
                    .unwrap_or_default()
                    .split(|&b| b == b',')
                    .filter(|n| !n.is_empty())
                    .collect();
                screen.line(format!("There are {} online users:", names.len()).as_bytes());
                for name in names {
                    screen.line(name);
                }
                return self.answered();
            }
            h if h == wire::SEND_OK.as_bytes() => SENT,
            h if h == wire::BAD_DEST_USER.as_bytes() => NO_SUCH_USER,
            h if h == wire::BAD_RQST_HDR.as_bytes() => HEADER_ERROR,
            h if h == wire::BAD_RQST_BODY.as_bytes() => BODY_ERROR,
            // Nothing this protocol sends: ignored, never printed raw.
            _ => return,
        };
        screen.line(reply.as_bytes());
        self.answered();
    }

    fn answered(&mut self) {
        self.awaiting = self.awaiting.saturating_sub(1);
    }
}

fn disallowed(name: &[u8], screen: &mut Screen) {
    screen.raw(b"Cannot log in as ");
    screen.raw(name);
    screen.line(b". That username contains disallowed characters.");
}

impl Default for Hello {
    fn default() -> Hello {
        Hello::new()
    }
}

impl FrontEnd for Hello {
    fn on_start(&mut self, screen: &mut Screen) {
        screen.line(WELCOME.as_bytes());
    }

    /// A new connection (the first, or one after a refused name): whatever
    /// was typed meanwhile is handled now, starting with the next name.
    fn on_connect(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) {
        self.lines = LineFramer::newline_only(MAX_SERVER_LINE);
        self.awaiting = 0;
        if self.next == Some(Next::Reconnect) {
            self.next = None;
        }
        self.release(to_server, screen);
    }

    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen) {
        if matches!(self.next, Some(Next::Exit(_))) {
            return;
        }
        // `!quit` works at any point: also while a login is being answered,
        // when every other line is held back.
        if line == QUIT {
            self.quit();
            return;
        }
        if self.held_bytes + line.len() > MAX_HELD {
            eprintln!("pollchat-client: too much typed ahead of the login; line dropped");
            return;
        }
        self.held_bytes += line.len();
        self.held.push_back(line.to_vec());
        self.release(to_server, screen);
    }

    fn on_input_end(&mut self, _to_server: &mut Vec<u8>, _screen: &mut Screen) -> Next {
        self.input_ended = true;
        Next::Continue
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        let mut pos = 0;
        while self.next.is_none() {
            let (used, frame) = self.lines.next_frame(&bytes[pos..]);
            pos += used;
            let line = match frame {
                Some(Frame::Data(line)) => line,
                // A line too long to hold (a LIST-OK of a huge server) is
                // still the answer to a request: count it, say so.
                Some(Frame::TooLong) => {
                    self.answered();
                    screen.line(b"(a reply too long to show was dropped)");
                    continue;
                }
                None => return pos,
            };
            let (header, body) = split_word(line);
            match &self.state {
                State::LoggingIn(name) => self.answer_login(name.clone(), header, screen),
                State::LoggedIn => self.incoming(header, body, screen),
                // Nothing is expected before a login.
                State::AskName => {}
            }
        }
        // Leaving, or about to reconnect: the rest is of no interest.
        bytes.len()
    }

    /// A server that takes one `recv` for one message gets one; every
    /// request has an answer, so against any server this costs a round
    /// trip per line of a script, no more.
    fn paced(&self) -> bool {
        true
    }

    /// While a login is answered, or before the reconnect after a refused
    /// one, the next line waits with the loop (not here, where it would go
    /// out together with the lines after it).
    fn holding(&self) -> bool {
        !self.held.is_empty() || matches!(self.state, State::LoggingIn(_)) || self.next.is_some()
    }

    /// A last reply with no LF is still the reply: a server that answers
    /// `IN-USE` and closes at once is asked again on a new connection.
    fn on_server_end(&mut self, pending: &[u8], screen: &mut Screen) {
        if !pending.is_empty() && self.next.is_none() {
            let mut last = pending.to_vec();
            last.push(b'\n');
            self.on_server(&last, screen);
        }
    }

    fn on_turn(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) -> bool {
        self.release(to_server, screen);
        self.busy()
    }

    fn next(&mut self) -> Next {
        if let Some(next) = self.next.take() {
            return next;
        }
        if self.input_ended && !self.busy() {
            return Next::Exit(0);
        }
        Next::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Drives a front end as the client loop does, collecting what it sends
    /// and prints.
    struct Run {
        hello: Hello,
        sent: Vec<u8>,
        screen: Screen,
    }

    impl Run {
        fn new() -> Run {
            let mut run = Run {
                hello: Hello::new(),
                sent: Vec::new(),
                screen: Screen::default(),
            };
            run.hello.on_start(&mut run.screen);
            run.hello.on_connect(&mut run.sent, &mut run.screen);
            run
        }

        fn typed(&mut self, line: &str) {
            self.hello
                .on_typed(line.as_bytes(), &mut self.sent, &mut self.screen);
            self.hello.on_turn(&mut self.sent, &mut self.screen);
        }

        fn server(&mut self, bytes: &str) -> usize {
            let used = self.hello.on_server(bytes.as_bytes(), &mut self.screen);
            self.hello.on_turn(&mut self.sent, &mut self.screen);
            used
        }

        fn reconnect(&mut self) {
            self.hello.on_connect(&mut self.sent, &mut self.screen);
        }

        fn take_sent(&mut self) -> String {
            String::from_utf8(std::mem::take(&mut self.sent)).unwrap()
        }

        fn take_printed(&mut self) -> String {
            String::from_utf8(std::mem::take(&mut self.screen.buf)).unwrap()
        }
    }

    fn logged_in() -> Run {
        let mut run = Run::new();
        run.typed("alice");
        run.server("HELLO alice\n");
        run.take_sent();
        run.take_printed();
        run
    }

    #[test]
    fn the_first_line_is_the_name() {
        let mut run = Run::new();
        assert_eq!(run.take_printed(), format!("{WELCOME}\n"));
        run.typed("alice");
        assert_eq!(run.take_sent(), "HELLO-FROM alice\n");
        assert_eq!(run.server("HELLO alice\n"), 12);
        assert_eq!(run.take_printed(), "Successfully logged in as alice!\n");
        assert_eq!(run.hello.next(), Next::Continue);
    }

    #[test]
    fn a_name_with_other_characters_is_refused_without_asking() {
        let mut run = Run::new();
        run.take_printed();
        for bad in ["al ice", "al,ice", "al-ice", "\u{e9}mile", "!who", "@bob"] {
            run.typed(bad);
            assert_eq!(
                run.take_printed(),
                format!("Cannot log in as {bad}. That username contains disallowed characters.\n")
            );
        }
        assert_eq!(run.take_sent(), "");
        assert_eq!(run.hello.next(), Next::Continue);
    }

    #[test]
    fn a_name_in_use_means_a_new_connection_and_the_next_name() {
        let mut run = Run::new();
        run.take_printed();
        // Typed ahead: the second line waits for the first one's answer.
        run.typed("bob");
        run.typed("alice");
        assert_eq!(run.take_sent(), "HELLO-FROM bob\n");
        run.server("IN-USE\n");
        assert_eq!(
            run.take_printed(),
            "Cannot log in as bob. That username is already in use.\n"
        );
        assert_eq!(run.take_sent(), "", "not on the connection being closed");
        assert_eq!(run.hello.next(), Next::Reconnect);
        run.reconnect();
        assert_eq!(run.take_sent(), "HELLO-FROM alice\n");
        run.server("HELLO alice\n");
        assert_eq!(run.take_printed(), "Successfully logged in as alice!\n");
    }

    #[test]
    fn a_name_too_long_for_the_server_is_asked_again() {
        let mut run = Run::new();
        run.take_printed();
        let long = "a".repeat(33);
        run.typed(&long);
        run.server("BAD-RQST-BODY\n");
        assert_eq!(
            run.take_printed(),
            format!("Cannot log in as {long}. That username contains disallowed characters.\n")
        );
        assert_eq!(run.hello.next(), Next::Reconnect);
    }

    #[test]
    fn a_full_server_ends_the_client() {
        let mut run = Run::new();
        run.take_printed();
        run.typed("alice");
        run.typed("!who");
        run.server("BUSY\n");
        assert_eq!(run.take_printed(), format!("{SERVER_FULL}\n"));
        assert_eq!(run.hello.next(), Next::Exit(1));
        assert_eq!(run.take_sent(), "HELLO-FROM alice\n");
    }

    #[test]
    fn quit_works_while_a_login_is_unanswered() {
        let mut run = Run::new();
        run.typed("alice");
        run.typed("!quit");
        assert_eq!(run.hello.next(), Next::Exit(0));
        assert_eq!(run.take_sent(), "HELLO-FROM alice\n");
    }

    #[test]
    fn quit_works_at_the_prompt_and_after_login() {
        let mut run = Run::new();
        run.typed("!quit");
        assert_eq!(run.hello.next(), Next::Exit(0));
        assert_eq!(run.take_sent(), "");
        let mut run = logged_in();
        run.typed("!quit");
        run.typed("!who");
        assert_eq!(run.hello.next(), Next::Exit(0));
        assert_eq!(run.take_sent(), "");
    }

    #[test]
    fn commands_become_requests() {
        let mut run = logged_in();
        run.typed("!who");
        run.typed("@bob hi  there ");
        run.typed("@bob");
        assert_eq!(run.take_sent(), "LIST\nSEND bob hi  there \nSEND bob\n");
        run.typed("hello");
        run.typed("!who all");
        assert_eq!(run.take_sent(), "");
        assert_eq!(
            run.take_printed(),
            format!("{UNKNOWN_COMMAND}\n{UNKNOWN_COMMAND}\n")
        );
    }

    #[test]
    fn every_reply_prints_as_its_sentence() {
        let mut run = logged_in();
        run.server(
            "LIST-OK bob,alice\nSEND-OK\nBAD-DEST-USER\nBAD-RQST-HDR\nBAD-RQST-BODY\n\
             DELIVERY bob hi  there\nLIST-OK alice\n",
        );
        let want = "There are 2 online users:\nbob\nalice\n\
                    The message was sent successfully\n\
                    The destination user does not exist\n\
                    Error: Unknown issue in previous message header.\n\
                    Error: Unknown issue in previous message body.\n\
                    From bob: hi  there\n\
                    There are 1 online users:\nalice\n";
        assert_eq!(run.take_printed(), want);
    }

    #[test]
    fn nothing_raw_is_ever_printed() {
        let mut run = logged_in();
        run.server("WHAT-IS-THIS\nHELLO alice\nIN-USE\n\r\n");
        assert_eq!(run.take_printed(), "");
        assert_eq!(run.hello.next(), Next::Continue);
    }

    #[test]
    fn a_line_prints_only_when_it_is_complete() {
        let mut run = logged_in();
        assert_eq!(run.server("DELIV"), 0);
        assert_eq!(run.server("DELIVERY bob h"), 0);
        assert_eq!(run.take_printed(), "");
        assert_eq!(run.server("DELIVERY bob hi\r\nSEND"), 17);
        assert_eq!(run.take_printed(), "From bob: hi\n");
    }

    #[test]
    fn a_last_reply_without_its_lf_counts_when_the_server_closes() {
        let mut run = Run::new();
        run.take_printed();
        run.typed("bob");
        assert_eq!(run.server("IN-USE"), 0);
        assert_eq!(run.take_printed(), "");
        run.hello.on_server_end(b"IN-USE", &mut run.screen);
        assert_eq!(
            run.take_printed(),
            "Cannot log in as bob. That username is already in use.\n"
        );
        assert_eq!(run.hello.next(), Next::Reconnect);
        let mut run = logged_in();
        run.hello
            .on_server_end(b"DELIVERY bob bye\r", &mut run.screen);
        assert_eq!(run.take_printed(), "From bob: bye\n");
    }

    #[test]
    fn at_end_of_input_it_waits_for_the_replies_then_exits() {
        let mut run = logged_in();
        run.typed("@bob one");
        run.typed("!who");
        run.hello.on_input_end(&mut run.sent, &mut run.screen);
        assert!(run.hello.on_turn(&mut run.sent, &mut run.screen));
        assert_eq!(run.hello.next(), Next::Continue);
        run.server("LIST-OK alice,bob\n");
        assert_eq!(run.hello.next(), Next::Continue);
        run.server("SEND-OK\n");
        assert!(!run.hello.on_turn(&mut run.sent, &mut run.screen));
        assert_eq!(run.hello.next(), Next::Exit(0));
    }

    #[test]
    fn at_end_of_input_a_pending_login_is_heard_first() {
        let mut run = Run::new();
        run.typed("alice");
        run.typed("!who");
        run.hello.on_input_end(&mut run.sent, &mut run.screen);
        assert_eq!(run.hello.next(), Next::Continue);
        assert_eq!(run.take_sent(), "HELLO-FROM alice\n");
        run.server("HELLO alice\n");
        assert_eq!(run.take_sent(), "LIST\n");
        assert_eq!(run.hello.next(), Next::Continue);
        run.server("LIST-OK alice\n");
        assert_eq!(run.hello.next(), Next::Exit(0));
    }

    #[test]
    fn typing_ahead_is_bounded() {
        let mut run = Run::new();
        run.typed("alice");
        let big = "x".repeat(MAX_HELD / 2 + 1);
        run.typed(&big);
        run.typed(&big);
        assert_eq!(run.hello.held.len(), 1);
    }
}
