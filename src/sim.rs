//! The server without sockets: the real relay, driven by a loop of make-
//! believe, with a fake clock and fake sockets, for the fuzz targets, the
//! property tests and the relay's own unit tests.
//!
//! It does what `server/mod.rs` does with the relay's answers (reads at
//! most `READ_BUDGET` a turn and only when the relay may read, serves the
//! backlog first, flushes, closes at the end of the turn) and nothing with
//! sockets: a client's "socket" is a queue of bytes it sent and a count of
//! how much it takes per turn, so a test can make one stop reading. What
//! this checks is that no input, whatever its timing, can panic the
//! dialects or the hub, grow a buffer without bound, break the hub's
//! invariants, or lose a receipt.

use crate::dialect::Protocol;
use crate::hub::Hub;
use crate::limits::{IDLE_SWEEP_MS, READ_BUDGET, READ_CHUNK};
use crate::relay::{ConnId, Effect, Relay, Settings};
use std::time::{Duration, Instant};

/// Output kept per connection, at most; older output is forgotten.
const KEEP_OUTPUT: usize = 1 << 16;

/// How long one simulated turn takes on the fake clock.
const TURN: Duration = Duration::from_millis(10);

struct Conn {
    /// Bytes the client sent that the relay has not read yet.
    inbox: Vec<u8>,
    /// The client has half-closed: end of input after the inbox.
    eof: bool,
    /// What it was sent (the last `KEEP_OUTPUT` bytes).
    received: Vec<u8>,
    /// Bytes its socket takes per turn.
    room: usize,
    closed: bool,
    in_backlog: bool,
}

/// Several connections of any dialects around one relay.
pub struct Sim {
    relay: Relay,
    now: Instant,
    next_sweep: Instant,
    conns: Vec<Conn>,
    effects: Vec<Effect>,
    backlog: Vec<usize>,
    dirty: Vec<usize>,
    closing: Vec<usize>,
    /// The largest input tail any connection has had to keep.
    pub max_partial: usize,
}

impl Default for Sim {
    fn default() -> Sim {
        Sim::new()
    }
}

impl Sim {
    pub fn new() -> Sim {
        Sim::with_settings(Settings::default())
    }

    pub fn with_settings(settings: Settings) -> Sim {
        let now = Instant::now();
        Sim {
            relay: Relay::new(settings),
            now,
            next_sweep: now,
            conns: Vec::new(),
            effects: Vec::new(),
            backlog: Vec::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
            max_partial: 0,
        }
    }

    /// A limit of `max_users` registered users over every dialect.
    pub fn with_max_users(max_users: usize) -> Sim {
        Sim::with_settings(Settings {
            max_users: Some(max_users),
            ..Settings::default()
        })
    }

    /// Opens a connection speaking `protocol`; returns its index. Its
    /// socket takes everything it is sent.
    pub fn connect(&mut self, protocol: &'static Protocol) -> usize {
        let conn = self.conns.len();
        self.conns.push(Conn {
            inbox: Vec::new(),
            eof: false,
            received: Vec::new(),
            room: usize::MAX,
            closed: false,
            in_backlog: false,
        });
        self.relay.begin_turn(self.now);
        self.relay.open(ConnId(conn), 100 + conn as i32, protocol);
        self.end_turn();
        conn
    }

    pub fn is_closed(&self, conn: usize) -> bool {
        self.conns[conn].closed
    }

    /// What the connection has been sent (the last `KEEP_OUTPUT` bytes).
    pub fn output(&self, conn: usize) -> &[u8] {
        &self.conns[conn].received
    }

    /// Forgets what the connection has been sent so far.
    pub fn clear_output(&mut self, conn: usize) {
        self.conns[conn].received.clear();
    }

    /// Whether the relay has stopped reading `conn` for now (held back,
    /// or waiting for a receipt).
    pub fn is_held(&self, conn: usize) -> bool {
        !self.conns[conn].closed && !self.relay.may_read(ConnId(conn))
    }

    pub fn hub(&self) -> &Hub {
        self.relay.hub()
    }

    /// How many bytes the connection's socket takes per turn from now on:
    /// 0 is a client that stopped reading.
    pub fn set_room(&mut self, conn: usize, room: usize) {
        self.conns[conn].room = room;
    }

    /// The client on `conn` sends `bytes`; the turns until it has all been
    /// read (or the relay stops reading it) follow.
    pub fn feed(&mut self, conn: usize, bytes: &[u8]) {
        self.send(conn, bytes);
        self.settle();
    }

    /// The client on `conn` sends `bytes` (no turn runs).
    pub fn send(&mut self, conn: usize, bytes: &[u8]) {
        if !self.conns[conn].closed {
            self.conns[conn].inbox.extend_from_slice(bytes);
        }
    }

    /// The client half-closes: it sends nothing more but may still read.
    pub fn shut(&mut self, conn: usize) {
        self.conns[conn].eof = true;
        self.settle();
    }

    /// The client on `conn` vanishes (its socket fails).
    pub fn close(&mut self, conn: usize) {
        if self.conns[conn].closed {
            return;
        }
        self.relay.begin_turn(self.now);
        self.relay.failed(ConnId(conn));
        self.end_turn();
    }

    /// Moves the fake clock on.
    pub fn advance(&mut self, by: Duration) {
        self.now += by;
        self.turn();
    }

    /// Runs turns until nothing more happens (bounded).
    pub fn settle(&mut self) {
        for _ in 0..1000 {
            self.turn();
            let busy = !self.backlog.is_empty()
                || self.conns.iter().enumerate().any(|(i, c)| {
                    !c.closed && (c.eof || !c.inbox.is_empty()) && self.relay.may_read(ConnId(i))
                });
            if !busy {
                return;
            }
        }
    }

    /// One turn of the make-believe loop.
    pub fn turn(&mut self) {
        self.now += TURN;
        self.relay.begin_turn(self.now);
        for conn in std::mem::take(&mut self.backlog) {
            self.conns[conn].in_backlog = false;
            if !self.conns[conn].closed && self.relay.resume(ConnId(conn)) {
                self.read(conn);
            }
        }
        for conn in 0..self.conns.len() {
            let c = &self.conns[conn];
            if !c.closed && (c.eof || !c.inbox.is_empty()) {
                self.read(conn);
            }
        }
        // A socket with room again: the writable event the loop would get.
        for conn in 0..self.conns.len() {
            let c = &self.conns[conn];
            if !c.closed && c.room > 0 && !self.relay.outgoing(ConnId(conn)).is_empty() {
                self.flush(conn);
            }
        }
        self.relay.timers();
        if self.now >= self.next_sweep {
            self.next_sweep = self.now + Duration::from_millis(IDLE_SWEEP_MS);
            self.relay.tick();
        }
        self.end_turn();
    }

    /// Reads what `conn` sent, as the loop does: in chunks, up to the
    /// turn's budget, while the relay may read.
    fn read(&mut self, conn: usize) {
        let id = ConnId(conn);
        let mut budget = READ_BUDGET;
        while self.relay.may_read(id) && budget > 0 {
            let c = &mut self.conns[conn];
            if c.inbox.is_empty() {
                if c.eof {
                    self.relay.end_of_input(id);
                }
                break;
            }
            let n = c.inbox.len().min(READ_CHUNK).min(budget);
            let mut chunk: Vec<u8> = c.inbox.drain(..n).collect();
            budget -= n;
            self.relay.input(id, &mut chunk);
            self.max_partial = self.max_partial.max(self.relay.tail_len(id));
        }
        if budget == 0 && !self.conns[conn].in_backlog {
            self.conns[conn].in_backlog = true;
            self.backlog.push(conn);
        }
    }

    fn end_turn(&mut self) {
        let mut judged = false;
        loop {
            self.apply_effects();
            if self.dirty.is_empty() && self.closing.is_empty() {
                if judged {
                    return;
                }
                judged = true;
                self.relay.end_turn();
                continue;
            }
            for conn in std::mem::take(&mut self.dirty) {
                self.flush(conn);
            }
            for conn in std::mem::take(&mut self.closing) {
                self.flush(conn);
                self.conns[conn].closed = true;
                self.relay.closed(ConnId(conn));
            }
        }
    }

    fn apply_effects(&mut self) {
        let mut effects = std::mem::take(&mut self.effects);
        self.relay.take_effects(&mut effects);
        for &effect in &effects {
            match effect {
                Effect::Flush(id) if !self.dirty.contains(&id.0) => self.dirty.push(id.0),
                Effect::Flush(_) => {}
                Effect::Serve(id) => {
                    let c = &mut self.conns[id.0];
                    if !c.in_backlog && !c.closed {
                        c.in_backlog = true;
                        self.backlog.push(id.0);
                    }
                }
                Effect::Close(id, _) => {
                    if !self.closing.contains(&id.0) {
                        self.closing.push(id.0);
                    }
                }
            }
        }
        self.effects = effects;
    }

    /// The client's socket takes what it has room for this turn.
    fn flush(&mut self, conn: usize) {
        let id = ConnId(conn);
        let out = self.relay.outgoing(id);
        let n = out.len().min(self.conns[conn].room);
        let received = &mut self.conns[conn].received;
        received.extend_from_slice(&out[..n]);
        if received.len() > KEEP_OUTPUT {
            received.drain(..received.len() - KEEP_OUTPUT);
        }
        self.relay.wrote(id, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Byte strings that mean something to some dialect, to mix with noise.
    fn words() -> Vec<Vec<u8>> {
        let mut words: Vec<Vec<u8>> = [
            "JOIN ann\r\n",
            "JOIN bob\n",
            "LIST\r\n",
            "MESG ann hi\r\n",
            "MESG bob yo\n",
            "BCST all\r\n",
            "QUIT\r\n",
            "PING\n",
            "HELLO-FROM ann\n",
            "HELLO-FROM bob\n",
            "SEND ann hi\n",
            "SEND bob \n",
            "LIST\n",
            "\r",
            "\n",
        ]
        .iter()
        .map(|w| w.as_bytes().to_vec())
        .collect();
        words.push(vec![0xff, 0xfd, 0x01]); // telnet: IAC DO ECHO
        for text in [
            "ann",
            "bob",
            "/create c",
            "/join c",
            "/list",
            "hello",
            "/nope x",
        ] {
            let mut frame = text.as_bytes().to_vec();
            frame.resize(200, b' ');
            words.push(frame);
        }
        // sendto: LOGIN ann, LIST, SENDTO bob "x", LOGOUT, a huge length.
        words.push(b"\x01\x00\x00\x00\x05\x00\x03ann".to_vec());
        words.push(b"\x02\x00\x00\x00\x00".to_vec());
        words.push(b"\x03\x00\x00\x00\x08\x00\x03bob\x00\x01x".to_vec());
        words.push(b"\x04\x00\x00\x00\x00".to_vec());
        words.push(b"\x03\x7f\xff\xff\xff".to_vec());
        words
    }

    fn chunk() -> impl Strategy<Value = Vec<u8>> {
        let words = words();
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..300),
            proptest::collection::vec(proptest::sample::select(words), 1..6)
                .prop_map(|ws| ws.concat()),
        ]
    }

    proptest! {
        #[test]
        fn no_input_breaks_the_dialects_or_the_hub(
            protocols in proptest::collection::vec(0usize..Protocol::ALL.len(), 1..6),
            steps in proptest::collection::vec((0usize..6, chunk(), any::<bool>(), 0u8..8), 0..60),
        ) {
            let mut sim = Sim::with_max_users(3);
            let conns: Vec<usize> = protocols
                .iter()
                .map(|&p| sim.connect(Protocol::ALL[p]))
                .collect();
            for (who, bytes, hang_up, knob) in steps {
                let conn = conns[who % conns.len()];
                sim.feed(conn, &bytes);
                if hang_up && bytes.len() % 7 == 0 {
                    sim.close(conn);
                }
                // Readers that stop and start again, and time passing:
                // receipts, back-pressure, stalls and timeouts.
                match knob {
                    0 => sim.set_room(conn, 0),
                    1 => sim.set_room(conn, usize::MAX),
                    2 => sim.advance(std::time::Duration::from_secs(1)),
                    _ => {}
                }
                sim.hub().check_invariants();
                prop_assert!(sim.hub().registered() <= 3);
            }
            // A kept tail is never more than the largest frame (a miniserv
            // line and its CR) plus what one read brought.
            let largest = crate::limits::MINISERV_MAX_LINE + 1;
            prop_assert!(sim.max_partial <= largest + READ_CHUNK, "kept {} bytes", sim.max_partial);
        }
    }
}
