//! One connection as the relay sees it: its dialect, the input it has not
//! handled yet, what it has been sent, and whether it may go on.

use super::receipts::Marks;
use super::send_queue::SendQueue;
use super::Tag;
use crate::dialect::{Dialect, Protocol};
use std::collections::VecDeque;
use std::time::Instant;

/// Whether a connection's requests are handled as they come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// Frames are handled as they arrive, and the socket may be read.
    Open,
    /// Nothing more is handled (or read) until the pause is over; complete
    /// frames that came meanwhile wait in the tail.
    Paused(Pause),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pause {
    /// A request waits for its delivery receipt: the line protocols match
    /// answers to requests by order alone, so the next request waits too.
    Receipt,
    /// Held back by back-pressure: a recipient it fills (perhaps itself,
    /// with replies it does not read) is over its high water mark.
    Backlog(Tag),
    /// Its share of this turn's work ran out, or a pause just ended: it
    /// goes on next turn (the loop was told to serve it).
    NextTurn,
}

pub struct Peer {
    /// Tells this connection from an earlier one in the same slot.
    pub serial: u64,
    /// The socket's file descriptor: status lines name clients by it.
    pub fd: i32,
    pub protocol: &'static Protocol,
    pub dialect: Box<dyn Dialect>,
    /// Input not handled yet: the start of a frame still arriving, or,
    /// while paused, whole frames that wait. Empty (and without memory)
    /// for a connection between messages, which is nearly always: frames
    /// are handled straight out of the loop's read buffer.
    pub tail: Vec<u8>,
    pub input: Input,
    /// The peer has closed its side: no more input will come.
    pub peer_closed: bool,
    /// Closed: the relay is done with it and waits for the loop to hang
    /// up (only its send queue is still of use, for a last write).
    pub closing: bool,
    pub out: SendQueue,
    /// Receipts placed in `out` for senders waiting on them.
    pub marks: Marks,
    /// Parts of `out` that are answers to its own requests, as
    /// [start, end) positions: they never count against its limit.
    pub own: VecDeque<(u64, u64)>,
    /// The senders held back by its backlog, woken when it drains
    /// (entries may be stale: checked on waking).
    pub waiters: Vec<Tag>,
    /// In the relay's list of connections sent output by others this turn
    /// (`fed_turn` is that turn).
    pub fed_turn: u64,
    /// A flush was asked of the loop and has not happened yet.
    pub flush_asked: bool,
    /// Work its requests caused in the turn `work_turn` (see limits.rs,
    /// `TURN_WORK`).
    pub work: usize,
    pub work_turn: u64,
    /// Work its requests caused lately: halved at every sweep. Only a
    /// sender that has done much lately is held back.
    pub recent_work: usize,
    /// When it last sent anything (the idle timeout), and when it
    /// connected (the login deadline).
    pub last_input: Instant,
    pub connected_at: Instant,
    /// Bytes its buffers held when last counted into the relay's total.
    pub footprint: usize,
    /// Its tail is a whole command without a line end (see
    /// `Dialect::unterminated`), to be taken as one at this moment if
    /// nothing more comes.
    pub burst: Option<Instant>,
}

impl Peer {
    pub fn new(serial: u64, fd: i32, protocol: &'static Protocol, now: Instant) -> Peer {
        Peer {
            serial,
            fd,
            protocol,
            dialect: (protocol.start)(),
            tail: Vec::new(),
            input: Input::Open,
            peer_closed: false,
            closing: false,
            out: SendQueue::default(),
            marks: Marks::default(),
            own: VecDeque::new(),
            waiters: Vec::new(),
            fed_turn: 0,
            flush_asked: false,
            work: 0,
            work_turn: 0,
            recent_work: 0,
            last_input: now,
            connected_at: now,
            footprint: 0,
            burst: None,
        }
    }

    /// Bytes its buffers hold now.
    pub fn memory(&self) -> usize {
        self.out.capacity() + self.tail.capacity()
    }

    /// What a client that does not read makes the server hold for it.
    pub fn unread(&self) -> usize {
        self.out.pending() + self.tail.len()
    }

    /// Output waiting that others sent it: answers to its own requests are
    /// left out, since a reply always gets through.
    pub fn pending_from_others(&mut self) -> usize {
        let sent = self.out.sent();
        while self.own.front().is_some_and(|&(_, end)| end <= sent) {
            self.own.pop_front();
        }
        let own: u64 = self
            .own
            .iter()
            .map(|&(start, end)| end - start.max(sent))
            .sum();
        self.out.pending() - own as usize
    }

    /// Queues an answer to its own request.
    pub fn push_own(&mut self, bytes: &[u8]) {
        let start = self.out.queued();
        self.out.push(bytes);
        let end = self.out.queued();
        match self.own.back_mut() {
            Some(last) if last.1 == start => last.1 = end,
            _ => self.own.push_back((start, end)),
        }
    }

    /// Its request waits for a delivery receipt: nothing more is handled
    /// until it is answered.
    pub fn await_receipt(&mut self) {
        self.input = Input::Paused(Pause::Receipt);
    }

    /// Its receipt was answered: it goes on next turn. Returns whether it
    /// was waiting for one (and so must be served again).
    pub fn receipt_answered(&mut self) -> bool {
        let waiting = self.input == Input::Paused(Pause::Receipt);
        if waiting {
            self.input = Input::Paused(Pause::NextTurn);
        }
        waiting
    }

    /// Whether its socket may be read: not while paused, nor once the
    /// peer has said all it will.
    pub fn may_read(&self) -> bool {
        self.input == Input::Open && !self.peer_closed && !self.closing
    }

    /// A half-closed connection is done once every request it made has
    /// been answered and the answers have been written.
    pub fn is_finished(&self) -> bool {
        self.peer_closed && self.input == Input::Open && self.out.is_empty()
    }
}
