//! A connection's send queue: what we have said to a client that its socket
//! has not taken yet.
//!
//! Replies and relayed messages are appended here, and the event loop
//! writes what waits once per turn, so one `write` carries everything a
//! client got during the turn (Redis does the same in
//! `handleClientsWithPendingWrites`). The queue never touches the socket:
//! the loop asks for [`SendQueue::outgoing`], writes what the socket takes,
//! and reports it with [`SendQueue::consumed`].
//!
//! Positions are counted over the connection's life ([`SendQueue::sent`],
//! [`SendQueue::queued`]), so "everything up to here has been written" is a
//! number that survives the buffer being compacted: that is what a
//! delivery receipt waits for (see `receipts.rs`).

use crate::limits::OUTBUF_KEEP;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct SendQueue {
    buf: Vec<u8>,
    /// `buf[..head]` has been written already.
    head: usize,
    /// Bytes ever written to the socket.
    sent: u64,
    /// The most that waited at once (before a write) since the last
    /// [`SendQueue::trim`].
    peak: usize,
    /// When the socket last took a byte, or output began to wait: how
    /// long a client with output waiting has not been reading.
    last_progress: Instant,
    /// Everything was written at the last write: output that waits now
    /// began waiting since.
    drained: bool,
}

impl Default for SendQueue {
    fn default() -> SendQueue {
        SendQueue {
            buf: Vec::new(),
            head: 0,
            sent: 0,
            peak: 0,
            last_progress: Instant::now(),
            drained: true,
        }
    }
}

impl SendQueue {
    /// Bytes waiting to be written.
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }

    pub fn is_empty(&self) -> bool {
        self.pending() == 0
    }

    /// Bytes ever written to the socket.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes ever queued: `sent` once everything waiting is written.
    pub fn queued(&self) -> u64 {
        self.sent + self.pending() as u64
    }

    /// Memory held, for the server's total budget.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Queues `bytes`. Nothing else is done here: a broadcast pushes to
    /// every recipient, and each field touched is a cache miss per
    /// recipient.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// What waits to be written, for the loop to offer the socket.
    pub fn outgoing(&self) -> &[u8] {
        &self.buf[self.head..]
    }

    /// The loop tried to write at `now` (the turn's clock) and the socket
    /// took `n` bytes of [`SendQueue::outgoing`] (perhaps none).
    pub fn consumed(&mut self, n: usize, now: Instant) {
        let n = n.min(self.pending());
        self.peak = self.peak.max(self.pending());
        if std::mem::take(&mut self.drained) && !self.is_empty() {
            // Output began to wait since the last write (within this turn):
            // a client is not "stuck" for the time it had nothing to read.
            self.last_progress = now;
        }
        if n > 0 {
            self.head += n;
            self.sent += n as u64;
            self.last_progress = now;
        }
        self.drained = self.is_empty();
        self.compact();
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

    /// Forgets what was queued and not written, giving its memory back (a
    /// client cut off: nothing more will be written to it).
    pub fn discard(&mut self) {
        self.sent += self.pending() as u64;
        self.buf = Vec::new();
        self.head = 0;
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

    /// Called now and then (the sweep): gives back memory the connection no
    /// longer needs. A buffer that held nothing since the last call keeps
    /// at most [`OUTBUF_KEEP`]; one still in use keeps about twice the most
    /// it held meanwhile, so a burst (a long LIST, a flood) does not pin
    /// its memory on a connection that then only gets a line now and then.
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

    /// Offers the queue to a socket that takes at most `room` bytes.
    fn write(out: &mut SendQueue, room: usize, now: Instant) -> Vec<u8> {
        let taken = out.outgoing()[..out.pending().min(room)].to_vec();
        out.consumed(taken.len(), now);
        taken
    }

    #[test]
    fn stuck_counts_from_the_last_byte_taken_or_the_start_of_waiting() {
        let t0 = Instant::now();
        let later = |ms| t0 + Duration::from_millis(ms);
        let mut out = SendQueue::default();
        assert_eq!(out.stuck_for(later(500)), Duration::ZERO, "nothing waits");
        out.push(b"hello world");
        assert_eq!(
            out.stuck_for(later(400)),
            Duration::ZERO,
            "not offered to the socket yet"
        );
        write(&mut out, 0, later(100));
        write(&mut out, 0, later(400));
        assert_eq!(out.stuck_for(later(500)), Duration::from_millis(400));
        write(&mut out, 3, later(600));
        assert_eq!(out.stuck_for(later(700)), Duration::from_millis(100));
        write(&mut out, 100, later(800));
        assert_eq!(out.stuck_for(later(900)), Duration::ZERO, "drained");
    }

    #[test]
    fn partial_writes_resume_where_they_stopped() {
        let now = Instant::now();
        let mut out = SendQueue::default();
        out.push(b"hello world");
        assert_eq!(write(&mut out, 4, now), b"hell");
        assert_eq!(out.pending(), 7);
        out.push(b"!");
        assert_eq!(write(&mut out, 100, now), b"o world!");
        assert!(out.is_empty());
        assert_eq!((out.sent(), out.queued()), (12, 12));
    }

    #[test]
    fn positions_count_over_the_connections_life() {
        let now = Instant::now();
        let mut out = SendQueue::default();
        out.push(b"first");
        let mark = out.queued();
        out.push(b"second");
        write(&mut out, 4, now);
        assert!(out.sent() < mark);
        write(&mut out, 1, now);
        assert_eq!(out.sent(), mark, "written up to the mark");
        out.discard();
        assert_eq!(out.sent(), out.queued(), "discarded counts as gone");
    }

    #[test]
    fn a_drained_queue_keeps_its_memory_until_trimmed_while_quiet() {
        let now = Instant::now();
        let mut out = SendQueue::default();
        out.push(&[b'x'; 100_000]);
        write(&mut out, usize::MAX, now);
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
    fn a_queue_that_had_a_burst_shrinks_to_what_it_now_needs() {
        let now = Instant::now();
        let mut out = SendQueue::default();
        out.push(&vec![b'x'; 1 << 20]);
        write(&mut out, usize::MAX, now);
        out.trim();
        // Still busy, but with a line at a time: the burst's memory goes.
        for _ in 0..3 {
            out.push(b"a line\r\n");
            write(&mut out, usize::MAX, now);
            out.trim();
        }
        assert!(
            out.buf.capacity() <= 2 * OUTBUF_KEEP,
            "{}",
            out.buf.capacity()
        );
    }
}
