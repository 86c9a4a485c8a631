//! Dialects: the wire protocols, one module each, and the table of them.
//!
//! A dialect turns frames from its clients into hub [`Request`]s (answering
//! malformed ones itself), and turns hub [`Event`]s into bytes for its
//! clients. The exact wording of every reply lives in the dialect's module,
//! next to the rule of docs/PROTOCOLS.md it quotes. A dialect never touches
//! a socket: the relay calls it with bytes and takes bytes back.
//!
//! Adding a dialect means one module, with its [`Protocol`] entry, and one
//! line in [`Protocol::ALL`]. Nothing else names a particular dialect.

pub mod channels;
pub mod hello;
pub mod mesg;
pub mod miniserv;
pub mod sendto;

use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use std::fmt;

/// One protocol: what a listener speaks. Each dialect module has one, as
/// its `PROTOCOL`, and [`Protocol::ALL`] lists them.
pub struct Protocol {
    /// The name used on the command line and in status lines.
    pub name: &'static str,
    /// The limit on its registered users unless `--max-users` says
    /// otherwise (docs/PROTOCOLS.md, "Across dialects").
    pub default_max_users: usize,
    /// Where `--protocol <name> <port>` listens without `--address`.
    pub default_address: &'static str,
    /// The least `--max-queue` means for this dialect's clients (0: none,
    /// `--max-queue` as given). A dialect with one promises its clients
    /// may read lazily, so its clients never hold a sender back either
    /// (see `relay/flow.rs`).
    pub min_max_queue: usize,
    /// A fresh parser for a connection that was just accepted.
    pub start: fn() -> Box<dyn Dialect>,
    /// Appends `event` as this protocol's clients see it. The result
    /// depends only on the event, so a broadcast is rendered once per
    /// protocol and the bytes copied to every recipient.
    pub render: fn(&Event, &mut Vec<u8>) -> Then,
    /// Appends the answer to a request that asked for a delivery receipt.
    pub render_receipt: fn(Receipt, &mut Vec<u8>) -> Then,
    /// Logs the status line, if any, for an event sent to one client.
    pub log_event: fn(i32, &Event),
}

impl Protocol {
    /// Every protocol, in the order `--help` lists them.
    pub const ALL: [&'static Protocol; 5] = [
        &mesg::PROTOCOL,
        &hello::PROTOCOL,
        &channels::PROTOCOL,
        &sendto::PROTOCOL,
        &miniserv::PROTOCOL,
    ];

    /// What a server or client speaks unless told otherwise: the dialect
    /// the assignments' telnet users speak.
    pub const DEFAULT: &'static Protocol = &mesg::PROTOCOL;

    pub fn from_name(name: &str) -> Option<&'static Protocol> {
        Protocol::ALL.into_iter().find(|p| p.name == name)
    }
}

/// Protocols are told apart by name: there is one of each.
impl PartialEq for Protocol {
    fn eq(&self, other: &Protocol) -> bool {
        self.name == other.name
    }
}

impl Eq for Protocol {}

impl fmt::Debug for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What the connection does after a frame, an event or a receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    Stay,
    /// Send what is queued, then hang up.
    HangUp,
}

/// The answer to a message sent with a delivery receipt (hello's `SEND`,
/// sendto's SENDTO): its bytes were written into the recipient's socket,
/// or never will be (the recipient went away, or stopped reading).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Undelivered,
}

/// The connection a frame came from, as far as its dialect needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Sender<'a> {
    /// The socket's file descriptor: status lines and some replies name it.
    pub fd: i32,
    /// The name the hub has registered for this connection.
    pub name: Option<&'a str>,
}

/// The outcome of one frame.
#[derive(Debug, PartialEq, Eq)]
pub enum Action<'a> {
    /// Answered (or ignored) by the dialect alone.
    Done(Then),
    /// For the hub.
    Request(Request<'a>),
}

/// One connection's side of a dialect: its framer, an optional transform
/// of raw input, and the handling of each frame.
pub trait Dialect {
    /// The protocol this is a parser of.
    fn protocol(&self) -> &'static Protocol;

    /// The framer that cuts this dialect's byte stream into messages.
    fn framer(&mut self) -> &mut dyn Framer;

    /// Transforms freshly read bytes in place before framing and returns
    /// how many remain (telnet's commands are removed here); anything the
    /// transport must answer at once is appended to `reply`. Most dialects
    /// have nothing to do.
    fn decode(&mut self, data: &mut [u8], reply: &mut Vec<u8>) -> usize {
        let _ = reply;
        data.len()
    }

    /// A request to make for the connection as soon as it is accepted,
    /// before it sends anything (`miniserv` clients are numbered and
    /// announced on connecting). Most dialects wait to be asked.
    fn on_open(&mut self) -> Option<Request<'static>> {
        None
    }

    /// Whether `tail`, input without its terminator that arrived in one
    /// read, is a whole message to take as it is if nothing more comes
    /// after a short pause. Only `mesg` says yes, and only for clients
    /// that never send line ends.
    fn unterminated(&self, tail: &[u8]) -> bool {
        let _ = tail;
        false
    }

    /// Handles one frame, appending any reply the dialect makes on its own
    /// to `reply`.
    fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        from: Sender<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a>;
}

/// Nothing to say: the dialects that never ask for a receipt.
pub fn no_receipts(_: Receipt, _: &mut Vec<u8>) -> Then {
    Then::Stay
}
