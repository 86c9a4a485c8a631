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
use std::time::{Duration, Instant};

/// Who to tell when a mark is reached: the sender's token and the serial
/// number of its connection (a token is reused as soon as its connection
/// closes; the serial tells the new connection from the old).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub sender: Token,
    pub serial: u64,
}

#[derive(Debug)]
pub struct OutBuf {
    buf: Vec<u8>,
    /// `buf[..head]` has been written already.
    head: usize,
    /// Bytes ever written to the socket: marks are positions in this count,
    /// so they survive the buffer being compacted.
    written: u64,
    /// (position, who to tell).
    marks: VecDeque<(u64, Receipt)>,
    /// The most that waited at once (before a write) since the last
    /// [`OutBuf::trim`].
    peak: usize,
    /// When the socket last took a byte, or output began to wait: how
    /// long a client with output waiting has not been reading.
    last_progress: Instant,
    /// Everything was written by the last `write_to`: output that waits
    /// now began waiting since.
    drained: bool,
}

impl Default for OutBuf {
    fn default() -> OutBuf {
        OutBuf {
            buf: Vec::new(),
            head: 0,
            written: 0,
            marks: VecDeque::new(),
            peak: 0,
            last_progress: Instant::now(),
            drained: true,
        }
    }
}

impl OutBuf {
    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Memory held, for the server's total budget.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Queues `bytes`. Limits are the caller's business: the connection's
    /// limit is judged only after the socket has been offered what waits.
    /// Nothing else is done here: a broadcast pushes to every recipient,
    /// and each field touched is a cache miss per recipient.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// How long output has waited without the socket taking a byte; zero
    /// when nothing waits, or nothing has been tried yet since it began to.
    pub fn stuck_for(&self, now: Instant) -> Duration {
        if self.is_empty() || self.drained {
            Duration::ZERO
        } else {
            now.saturating_duration_since(self.last_progress)
        }
    }

    /// Asks to be told (by [`OutBuf::reached`]) once everything queued so
    /// far has been written.
    pub fn mark(&mut self, receipt: Receipt) {
        let end = self.written + self.pending() as u64;
        self.marks.push_back((end, receipt));
    }

    /// Whether a sender waits on a mark not yet reached.
    pub fn has_marks(&self) -> bool {
        !self.marks.is_empty()
    }

    /// The next mark that has been written past, if any.
    pub fn reached(&mut self) -> Option<Receipt> {
        match self.marks.front() {
            Some(&(end, receipt)) if end <= self.written => {
                self.marks.pop_front();
                Some(receipt)
            }
            _ => None,
        }
    }

    /// Takes the marks that will now never be reached (the connection is
    /// closing).
    pub fn abandon_marks(&mut self) -> impl Iterator<Item = Receipt> + '_ {
        self.marks.drain(..).map(|(_, receipt)| receipt)
    }

    /// Forgets what was queued and not written, giving its memory back (a
    /// client cut off: nothing more will be written to it). Its marks stay,
    /// never to be reached, until they are abandoned.
    pub fn discard(&mut self) {
        self.buf = Vec::new();
        self.head = 0;
    }

    /// Writes until everything is out or the socket is full. Returns the
    /// number of bytes written; `WouldBlock` is not an error here, it just
    /// means the socket will tell us (a writable event) when it has room.
    pub fn write_to<W: Write>(&mut self, socket: &mut W, now: Instant) -> io::Result<usize> {
        self.peak = self.peak.max(self.pending());
        if std::mem::take(&mut self.drained) && !self.is_empty() {
            // Output began to wait since the last write (within this turn):
            // a client is not "stuck" for the time it had nothing to read.
            self.last_progress = now;
        }
        let mut total = 0;
        while self.head < self.buf.len() {
            match socket.write(&self.buf[self.head..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.head += n;
                    self.written += n as u64;
                    total += n;
                    self.last_progress = now;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        self.drained = self.is_empty();
        self.compact();
        Ok(total)
    }

    /// Reclaims the written part of the buffer. A drained buffer keeps its
    /// capacity: under load a connection gets about as much every turn, and
    /// growing the buffer from nothing each turn (reallocating, faulting in
    /// fresh pages) once cost a third of the server's time. `trim` gives
    /// the memory back once the connection needs less.
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

    /// Called now and then (the loop's sweep): gives back memory the
    /// connection no longer needs. A buffer that held nothing since the
    /// last call keeps at most [`OUTBUF_KEEP`]; one still in use keeps
    /// about twice the most it held meanwhile, so a burst (a long LIST, a
    /// flood) does not pin its memory on a connection that then only gets
    /// a line now and then.
    pub fn trim(&mut self) {
        let pending = self.pending();
        let peak = std::mem::replace(&mut self.peak, pending);
        let keep = (2 * peak).max(OUTBUF_KEEP);
        if self.buf.capacity() <= 2 * keep {
            return;
        }
        if peak == 0 {
            self.buf = Vec::new();
            self.head = 0;
        } else {
            self.buf.drain(..self.head);
            self.head = 0;
            self.buf.shrink_to(keep);
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
    fn stuck_counts_from_the_last_byte_taken_or_the_start_of_waiting() {
        let t0 = Instant::now();
        let later = |ms| t0 + Duration::from_millis(ms);
        let mut out = OutBuf::default();
        assert_eq!(out.stuck_for(later(500)), Duration::ZERO, "nothing waits");
        out.push(b"hello world");
        assert_eq!(
            out.stuck_for(later(400)),
            Duration::ZERO,
            "not offered to the socket yet"
        );
        let mut sock = Trickle {
            taken: vec![],
            room: 0,
        };
        out.write_to(&mut sock, later(100)).unwrap();
        out.write_to(&mut sock, later(400)).unwrap();
        assert_eq!(out.stuck_for(later(500)), Duration::from_millis(400));
        sock.room = 3;
        out.write_to(&mut sock, later(600)).unwrap();
        assert_eq!(out.stuck_for(later(700)), Duration::from_millis(100));
        sock.room = 100;
        out.write_to(&mut sock, later(800)).unwrap();
        assert_eq!(out.stuck_for(later(900)), Duration::ZERO, "drained");
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let now = Instant::now();
        let mut out = OutBuf::default();
        out.push(b"hello world");
        let mut sock = Trickle {
            taken: vec![],
            room: 4,
        };
        assert_eq!(out.write_to(&mut sock, now).unwrap(), 4);
        assert_eq!(out.pending(), 7);
        out.push(b"!");
        sock.room = 100;
        out.write_to(&mut sock, now).unwrap();
        assert_eq!(sock.taken, b"hello world!");
        assert!(out.is_empty());
    }

    #[test]
    fn a_drained_buffer_keeps_its_memory_until_trimmed_while_quiet() {
        let now = Instant::now();
        let mut out = OutBuf::default();
        out.push(&[b'x'; 100_000]);
        let mut sock = Trickle {
            taken: vec![],
            room: usize::MAX,
        };
        while !out.is_empty() {
            out.write_to(&mut sock, now).unwrap();
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
    fn a_buffer_that_had_a_burst_shrinks_to_what_it_now_needs() {
        let now = Instant::now();
        let mut out = OutBuf::default();
        let mut sock = Trickle {
            taken: vec![],
            room: usize::MAX,
        };
        out.push(&vec![b'x'; 1 << 20]);
        while !out.is_empty() {
            out.write_to(&mut sock, now).unwrap();
        }
        out.trim();
        // Still busy, but with a line at a time: the burst's memory goes.
        for _ in 0..3 {
            out.push(b"a line\r\n");
            out.write_to(&mut sock, now).unwrap();
            out.trim();
        }
        assert!(
            out.buf.capacity() <= 2 * OUTBUF_KEEP,
            "{}",
            out.buf.capacity()
        );
    }

    #[test]
    fn marks_are_reached_only_when_written_past() {
        let now = Instant::now();
        let mut out = OutBuf::default();
        out.push(b"first");
        out.mark(receipt(1));
        out.push(b"second");
        out.mark(receipt(2));
        let mut sock = Trickle {
            taken: vec![],
            room: 4,
        };
        out.write_to(&mut sock, now).unwrap();
        assert_eq!(out.reached(), None);
        sock.room = 2;
        out.write_to(&mut sock, now).unwrap();
        assert_eq!(out.reached(), Some(receipt(1)));
        assert_eq!(out.reached(), None);
        assert!(out.has_marks());
        assert_eq!(out.abandon_marks().collect::<Vec<_>>(), vec![receipt(2)]);
    }
}
