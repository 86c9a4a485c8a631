//! Dialects: the wire protocols, one module each.
//!
//! A dialect turns frames from its clients into hub [`Request`]s (answering
//! malformed ones itself), and turns hub [`Event`]s into bytes for its
//! clients. The exact wording of every reply lives in the dialect's module,
//! next to the part of PROTOCOLS.md it quotes. A dialect never touches a
//! socket: the event loop calls it with bytes and takes bytes back.
//!
//! The event loop sees only [`Protocol`] and [`Session`] below, never a
//! particular dialect.

pub mod channels;
pub mod hello;
pub mod mesg;
pub mod sendto;

use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use std::fmt;

/// Which protocol a listener speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// JOIN / LIST / MESG / BCST / QUIT over telnet (PROTOCOLS.md section 1).
    Mesg,
    /// HELLO-FROM / LIST / SEND, the VU chat protocol (section 2).
    Hello,
    /// Fixed 200-byte frames with channels, CS168 (section 3).
    Channels,
    /// Length-prefixed binary packets: login / list / sendto (section 4).
    Sendto,
}

impl Protocol {
    /// Every protocol, in the order `--help` lists them.
    pub const ALL: [Protocol; 4] = [
        Protocol::Mesg,
        Protocol::Hello,
        Protocol::Channels,
        Protocol::Sendto,
    ];

    /// The name used on the command line and in status lines.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Mesg => "mesg",
            Protocol::Hello => "hello",
            Protocol::Channels => "channels",
            Protocol::Sendto => "sendto",
        }
    }

    pub fn from_name(name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The limit on registered users a listener of this protocol has unless
    /// `--max-users` says otherwise (PROTOCOLS.md, "Across dialects").
    pub fn default_max_users(self) -> usize {
        match self {
            Protocol::Mesg => crate::limits::MESG_MAX_USERS,
            Protocol::Hello => crate::limits::HELLO_MAX_USERS,
            Protocol::Channels | Protocol::Sendto => usize::MAX,
        }
    }

    /// A fresh session for a connection that was just accepted.
    pub fn session(self) -> Session {
        match self {
            Protocol::Mesg => Session::Mesg(mesg::Session::new()),
            Protocol::Hello => Session::Hello(hello::Session::new()),
            Protocol::Channels => Session::Channels(channels::Session::new()),
            Protocol::Sendto => Session::Sendto(sendto::Session::new()),
        }
    }

    /// Appends `event` to `out` as this protocol's clients see it. The
    /// result depends only on the event, so a broadcast is rendered once per
    /// protocol and the bytes copied to every recipient.
    pub fn render(self, event: &Event, out: &mut Vec<u8>) -> After {
        match self {
            Protocol::Mesg => mesg::render(event, out),
            Protocol::Hello => hello::render(event, out),
            Protocol::Channels => channels::render(event, out),
            Protocol::Sendto => sendto::render(event, out),
        }
    }

    /// Logs the status line, if any, for an event sent to one client.
    pub fn log_event(self, fd: i32, event: &Event) {
        match self {
            Protocol::Mesg => mesg::log_event(fd, event),
            Protocol::Hello => hello::log_event(fd, event),
            Protocol::Channels => channels::log_event(fd, event),
            Protocol::Sendto => sendto::log_event(fd, event),
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the connection does after an event or a frame was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum After {
    Keep,
    /// Send what is queued, then hang up.
    Close,
}

/// What a dialect needs to know about the connection a frame came from.
#[derive(Debug, Clone, Copy)]
pub struct Me<'a> {
    /// The socket's file descriptor: status lines and some replies name it.
    pub fd: i32,
    /// The name the hub has registered for this connection.
    pub name: Option<&'a str>,
}

/// The outcome of one frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Answered (or ignored) by the dialect alone.
    Done(After),
    /// For the hub.
    Request(Request<'a>),
}

/// What each dialect's per-connection session provides: its framer, an
/// optional transform of raw input, and the handling of each frame.
pub trait Dialect {
    /// The framer that cuts this dialect's byte stream into messages.
    fn framer(&mut self) -> &mut dyn Framer;

    /// Transforms freshly read bytes in place before framing and returns
    /// how many remain; most dialects have nothing to do here.
    fn decode(&mut self, data: &mut [u8], reply: &mut Vec<u8>) -> usize {
        let _ = reply;
        data.len()
    }

    /// Handles one frame, appending any reply the dialect makes on its own
    /// to `reply`.
    fn on_frame<'a>(&mut self, frame: Frame<'a>, me: Me<'_>, reply: &mut Vec<u8>) -> Action<'a>;
}

/// The per-connection state of a dialect: its framer and anything the
/// protocol remembers between frames.
#[derive(Debug)]
pub enum Session {
    Mesg(mesg::Session),
    Hello(hello::Session),
    Channels(channels::Session),
    Sendto(sendto::Session),
}

impl Session {
    pub fn protocol(&self) -> Protocol {
        match self {
            Session::Mesg(_) => Protocol::Mesg,
            Session::Hello(_) => Protocol::Hello,
            Session::Channels(_) => Protocol::Channels,
            Session::Sendto(_) => Protocol::Sendto,
        }
    }

    /// The dialect of this session, to call through.
    fn dialect(&mut self) -> &mut dyn Dialect {
        match self {
            Session::Mesg(s) => s,
            Session::Hello(s) => s,
            Session::Channels(s) => s,
            Session::Sendto(s) => s,
        }
    }

    /// Transforms freshly read bytes in place before framing (telnet's
    /// commands are removed here) and returns how many remain. Anything the
    /// transport must answer at once is appended to `reply`.
    pub fn decode(&mut self, data: &mut [u8], reply: &mut Vec<u8>) -> usize {
        self.dialect().decode(data, reply)
    }

    /// The next frame at the start of `buf`: see [`crate::framing::Framer`].
    pub fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        self.dialect().framer().next_frame(buf)
    }

    /// The peer closed its side; `buf` holds the leftovers.
    pub fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<Frame<'a>> {
        self.dialect().framer().finish(buf)
    }

    /// Handles one frame. Replies the dialect makes on its own are appended
    /// to `reply`.
    pub fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        me: Me<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a> {
        self.dialect().on_frame(frame, me, reply)
    }
}
