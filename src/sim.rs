//! The event loop's path from bytes to replies, without sockets: for
//! fuzzing and property tests.
//!
//! Bytes fed to a connection go through its dialect's `decode`, framer and
//! `on_frame`, requests through the real hub, and events through each
//! recipient's `render`, exactly as in `server/mod.rs`; what the loop does
//! with sockets (partial writes, readiness, the per-turn batching) is left
//! out, and receipts come back at once. What this checks is that no input
//! can panic the dialects or the hub, grow a buffer without bound, or break
//! the hub's invariants.

use crate::dialect::{Action, After, Me, Protocol, Session};
use crate::hub::{Event, Hub, Outbox, Pool, Request};
use mio::Token;

/// Output kept per connection, at most; older output is forgotten (the
/// real server would have written it or cut the client off).
const KEEP_OUTPUT: usize = 1 << 16;

struct Conn {
    session: Session,
    fd: i32,
    partial: Vec<u8>,
    out: Vec<u8>,
    closed: bool,
}

/// Several connections of any dialects around one hub.
pub struct Sim {
    hub: Hub,
    outbox: Outbox,
    conns: Vec<Conn>,
    /// One limit on registered users per distinct `max_users` asked for.
    pools: Vec<(usize, Pool)>,
    /// The largest partial frame any connection has had to keep.
    pub max_partial: usize,
}

impl Default for Sim {
    fn default() -> Sim {
        Sim::new()
    }
}

impl Sim {
    pub fn new() -> Sim {
        Sim {
            hub: Hub::new(),
            outbox: Outbox::new(),
            conns: Vec::new(),
            pools: Vec::new(),
            max_partial: 0,
        }
    }

    /// Opens a connection speaking `protocol`, counted against a limit of
    /// `max_users` shared with every connection opened with the same
    /// number; returns its index.
    pub fn connect(&mut self, protocol: Protocol, max_users: usize) -> usize {
        let pool = match self.pools.iter().find(|(max, _)| *max == max_users) {
            Some(&(_, pool)) => pool,
            None => {
                let pool = self.hub.add_pool(max_users);
                self.pools.push((max_users, pool));
                pool
            }
        };
        let token = self.conns.len();
        let fd = 100 + token as i32;
        self.conns.push(Conn {
            session: protocol.session(),
            fd,
            partial: Vec::new(),
            out: Vec::new(),
            closed: false,
        });
        let open = Request::Open { fd, pool };
        self.hub.handle(Token(token), open, &mut self.outbox);
        self.outbox.clear();
        token
    }

    pub fn is_closed(&self, conn: usize) -> bool {
        self.conns[conn].closed
    }

    /// What the connection has been sent (the last `KEEP_OUTPUT` bytes).
    pub fn output(&self, conn: usize) -> &[u8] {
        &self.conns[conn].out
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Bytes arrive from the client on `conn`.
    pub fn feed(&mut self, conn: usize, bytes: &[u8]) {
        if self.conns[conn].closed {
            return;
        }
        let mut data = bytes.to_vec();
        let mut reply = Vec::new();
        let c = &mut self.conns[conn];
        let n = c.session.decode(&mut data, &mut reply);
        self.send(conn, &reply);
        let mut input = std::mem::take(&mut self.conns[conn].partial);
        input.extend_from_slice(&data[..n]);
        let mut pos = 0;
        while !self.conns[conn].closed {
            let (used, frame) = self.conns[conn].session.next_frame(&input[pos..]);
            pos += used;
            let Some(frame) = frame else { break };
            let c = &mut self.conns[conn];
            let me = Me {
                fd: c.fd,
                name: self.hub.name(Token(conn)).map(|n| &**n),
            };
            reply.clear();
            let action = c.session.on_frame(frame, me, &mut reply);
            self.send(conn, &reply);
            match action {
                Action::Done(After::Keep) => {}
                Action::Done(After::Close) => self.close(conn),
                Action::Request(request) => self.request(conn, request),
            }
        }
        input.drain(..pos.min(input.len()));
        self.max_partial = self.max_partial.max(input.len());
        if !self.conns[conn].closed {
            self.conns[conn].partial = input;
        }
    }

    /// The client on `conn` hangs up.
    pub fn close(&mut self, conn: usize) {
        if std::mem::replace(&mut self.conns[conn].closed, true) {
            return;
        }
        self.request(conn, Request::Close);
    }

    fn request(&mut self, conn: usize, request: Request<'_>) {
        let mut outbox = std::mem::take(&mut self.outbox);
        self.hub.handle(Token(conn), request, &mut outbox);
        for (event, to) in outbox.iter() {
            for &token in to {
                self.deliver(token.0, event);
            }
        }
        outbox.clear();
        self.outbox = outbox;
    }

    fn deliver(&mut self, conn: usize, event: &Event) {
        let receipt = match event {
            Event::Message {
                receipt: Some(sender),
                ..
            } => Some(sender.0),
            _ => None,
        };
        let delivered = !self.conns[conn].closed;
        if delivered {
            let mut bytes = Vec::new();
            let after = self.conns[conn]
                .session
                .protocol()
                .render(event, &mut bytes);
            self.send(conn, &bytes);
            if after == After::Close {
                self.close(conn);
            }
        }
        if let Some(sender) = receipt {
            let answer = if delivered {
                Event::Delivered
            } else {
                Event::Undelivered
            };
            self.deliver(sender, &answer);
        }
    }

    fn send(&mut self, conn: usize, bytes: &[u8]) {
        let out = &mut self.conns[conn].out;
        out.extend_from_slice(bytes);
        if out.len() > KEEP_OUTPUT {
            out.drain(..out.len() - KEEP_OUTPUT);
        }
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
            protocols in proptest::collection::vec(0usize..4, 1..6),
            steps in proptest::collection::vec((0usize..6, chunk(), any::<bool>()), 0..60),
        ) {
            let mut sim = Sim::new();
            let conns: Vec<usize> = protocols
                .iter()
                .map(|&p| sim.connect(Protocol::ALL[p], 3))
                .collect();
            for (who, bytes, hang_up) in steps {
                let conn = conns[who % conns.len()];
                sim.feed(conn, &bytes);
                if hang_up && bytes.len() % 7 == 0 {
                    sim.close(conn);
                }
                sim.hub().check_invariants();
                prop_assert!(sim.hub().registered() <= 3);
            }
            // A partial frame is never more than the largest frame (the
            // sendto limit) plus what one read brought.
            prop_assert!(sim.max_partial <= 70_005 + 300, "kept {} bytes", sim.max_partial);
        }
    }
}
