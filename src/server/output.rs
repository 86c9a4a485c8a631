//! A connection's output buffer: what we have said to a client that its
//! socket has not taken yet.
//!
//! Replies and relayed messages are appended here and written out once per
//! loop turn, so one `write` carries everything a client got during the
//! turn (Redis does the same in `handleClientsWithPendingWrites`). The
//! buffer is bounded: a client that stops reading is cut off at a named
//! limit instead of growing the server's memory.
//!
//! It also keeps *marks*: "tell me when everything up to here has been
//! written". The `hello` protocol may only confirm a message to its sender
//! once the message is in the recipient's socket; a mark placed after the
//! message is how the event loop finds out, without knowing any protocol.

use crate::limits::OUTBUF_KEEP;
use mio::Token;
use std::collections::VecDeque;
use std::io::{self, ErrorKind, Write};
use std::time::Instant;

/// Who to tell when a mark is reached: the sender's token and the serial
/// number of its connection (a token is reused as soon as its connection
/// closes; the serial tells the new connection from the old).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub sender: Token,
    pub serial: u64,
}

/// Appending would pass the connection's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

#[derive(Debug, Default)]
pub struct OutBuf {
    buf: Vec<u8>,
    /// `buf[..head]` has been written already.
    head: usize,
    /// Bytes ever written to the socket: marks are positions in this count,
    /// so they survive the buffer being compacted.
    written: u64,
    /// (position, who to tell, when the mark was placed).
    marks: VecDeque<(u64, Receipt, Instant)>,
    /// Something was written since the last [`OutBuf::trim`].
    busy: bool,
}

impl OutBuf {
    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Queues `bytes`, unless that would leave more than `limit` bytes
    /// waiting; then nothing is queued.
    pub fn push(&mut self, bytes: &[u8], limit: usize) -> Result<(), Overflow> {
        if self.pending() + bytes.len() > limit {
            return Err(Overflow);
        }
        self.buf.extend_from_slice(bytes);
        Ok(())
    }

    /// Asks to be told (by [`OutBuf::reached`]) once everything queued so
    /// far has been written.
    pub fn mark(&mut self, receipt: Receipt) {
        let end = self.written + self.pending() as u64;
        self.marks.push_back((end, receipt, Instant::now()));
    }

    /// The next mark that has been written past, if any.
    pub fn reached(&mut self) -> Option<Receipt> {
        match self.marks.front() {
            Some(&(end, receipt, _)) if end <= self.written => {
                self.marks.pop_front();
                Some(receipt)
            }
            _ => None,
        }
    }

    /// Takes the marks that will now never be reached (the connection is
    /// closing).
    pub fn abandon_marks(&mut self) -> impl Iterator<Item = Receipt> + '_ {
        self.marks.drain(..).map(|(_, receipt, _)| receipt)
    }

    /// When the oldest mark not yet reached was placed: how long a sender
    /// has been waiting on this connection to read.
    pub fn oldest_mark(&self) -> Option<Instant> {
        self.marks.front().map(|&(_, _, placed)| placed)
    }

    /// Writes until everything is out or the socket is full. Returns the
    /// number of bytes written; `WouldBlock` is not an error here, it just
    /// means the socket will tell us (a writable event) when it has room.
    pub fn write_to<W: Write>(&mut self, socket: &mut W) -> io::Result<usize> {
        let mut total = 0;
        while self.head < self.buf.len() {
            match socket.write(&self.buf[self.head..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.head += n;
                    self.written += n as u64;
                    total += n;
                    self.busy = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.compact();
        Ok(total)
    }

    /// Reclaims the written part of the buffer. A drained buffer keeps its
    /// capacity: under load a connection gets about as much every turn, and
    /// growing the buffer from nothing each turn (reallocating, faulting in
    /// fresh pages) once cost a third of the server's time. `trim` gives
    /// the memory back once the connection has gone quiet.
    fn compact(&mut self) {
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        } else if self.head >= self.buf.len() / 2 {
            // Moving the unwritten half is cheaper than letting the buffer
            // creep forward for ever.
            self.buf.drain(..self.head);
            self.head = 0;
        }
    }

    /// Called now and then (the loop's sweep): a buffer that has written
    /// nothing since the last call and is empty gives back all but a
    /// little of its memory, so a connection that had a burst and went
    /// idle stays small.
    pub fn trim(&mut self) {
        if !std::mem::take(&mut self.busy) && self.is_empty() && self.buf.capacity() > OUTBUF_KEEP {
            self.buf = Vec::new();
            self.head = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket that takes at most `room` bytes, then would block.
    struct Trickle {
        taken: Vec<u8>,
        room: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(ErrorKind::WouldBlock.into());
            }
            let n = buf.len().min(self.room).min(3);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn receipt(n: usize) -> Receipt {
        Receipt {
            sender: Token(n),
            serial: n as u64,
        }
    }

    #[test]
    fn the_limit_refuses_what_would_pass_it_and_keeps_the_rest() {
        let mut out = OutBuf::default();
        assert_eq!(out.push(b"12345", 8), Ok(()));
        assert_eq!(out.push(b"6789", 8), Err(Overflow));
        assert_eq!(out.push(b"678", 8), Ok(()));
        assert_eq!(out.pending(), 8);
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let mut out = OutBuf::default();
        out.push(b"hello world", 100).unwrap();
        let mut sock = Trickle {
            taken: vec![],
            room: 4,
        };
        assert_eq!(out.write_to(&mut sock).unwrap(), 4);
        assert_eq!(out.pending(), 7);
        out.push(b"!", 100).unwrap();
        sock.room = 100;
        out.write_to(&mut sock).unwrap();
        assert_eq!(sock.taken, b"hello world!");
        assert!(out.is_empty());
    }

    #[test]
    fn a_drained_buffer_keeps_its_memory_until_trimmed_while_quiet() {
        let mut out = OutBuf::default();
        out.push(&[b'x'; 100_000], 1 << 20).unwrap();
        let mut sock = Trickle {
            taken: vec![],
            room: usize::MAX,
        };
        while !out.is_empty() {
            out.write_to(&mut sock).unwrap();
        }
        let kept = out.buf.capacity();
        assert!(kept >= 100_000);
        out.trim();
        assert_eq!(out.buf.capacity(), kept, "it was busy since the last trim");
        out.trim();
        assert!(
            out.buf.capacity() <= OUTBUF_KEEP,
            "quiet and empty: trimmed"
        );
    }

    #[test]
    fn marks_are_reached_only_when_written_past() {
        let mut out = OutBuf::default();
        out.push(b"first", 100).unwrap();
        out.mark(receipt(1));
        out.push(b"second", 100).unwrap();
        out.mark(receipt(2));
        let mut sock = Trickle {
            taken: vec![],
            room: 4,
        };
        out.write_to(&mut sock).unwrap();
        assert_eq!(out.reached(), None);
        sock.room = 2;
        out.write_to(&mut sock).unwrap();
        assert_eq!(out.reached(), Some(receipt(1)));
        assert_eq!(out.reached(), None);
        assert_eq!(out.abandon_marks().collect::<Vec<_>>(), vec![receipt(2)]);
    }
}
