//! A small but complete `mesg` chat server on one `mio` poll: the rung
//! between Beej's `pollserver.c` and pollchat-server (docs/WALKTHROUGH.md).
//!
//!     cargo run --example pollserver -- 9000 [<address>]   # then: telnet localhost 9000
//!
//! It speaks `mesg` (JOIN / LIST / MESG / BCST / PING / QUIT, docs/PROTOCOLS.md
//! section 1) with pollchat's own pieces: the telnet filter and line framer
//! (`framing/`), the dialect's parser and renderer (`dialect/mesg.rs`) and
//! the hub (`hub.rs`). What it adds is the loop, and the loop fixes the
//! pitfalls of the classic examples one by one; each fix says where the real
//! server does the same at full strength.
//!
//! Left out, and where it lives in the real server: delivery receipts
//! (`relay/receipts.rs`), back-pressure on senders (`relay/flow.rs`,
//! `hold_if_backed_up`), the queue limit judged after the flush and never
//! counting a client's own replies (`judge_limits`), the memory budget
//! (`enforce_budget`), the work bound per turn (`out_of_work`), timeouts
//! (`Relay::tick`), accepting a slice per turn and per address
//! (`server/accept.rs`), a last reply protected from a reset
//! (`server/mod.rs`, `hang_up`), a logger that never blocks (`logger.rs`),
//! commands sent with no line end at all (`Relay::maybe_burst`), other
//! dialects. Status lines go to stderr with `eprintln!`, which blocks if
//! nobody reads it: fine for a terminal, not for a server a grader starts.

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use pollchat::dialect::{mesg, Action, Dialect, Sender, Then};
use pollchat::framing::line::LineFramer;
use pollchat::framing::telnet::TelnetFilter;
use pollchat::framing::{Frame, Framer};
use pollchat::hub::{ConnId, Deliveries, Hub, Pool, Request};
use pollchat::limits::{ACCEPT_RETRY_MS, DEFAULT_MAX_QUEUE, MAX_LINE, MESG_MAX_USERS, READ_BUDGET};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::io::{self, ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX);
const SIGNALS: Token = Token(usize::MAX - 1);

struct Conn {
    socket: TcpStream,
    fd: i32,
    telnet: TelnetFilter,
    lines: LineFramer,
    /// The real dialect; only its `on_frame` is used: the framing is done
    /// here, in the open, with the same two pieces it uses.
    parser: mesg::Parser,
    /// The start of a line still arriving (a read is not a message).
    tail: Vec<u8>,
    /// What we said that the socket has not taken yet.
    out: Vec<u8>,
    dirty: bool,
    closing: bool,
    served_turn: u64,
}

struct Server {
    poll: Poll,
    listener: TcpListener,
    conns: Slab<Conn>,
    hub: Hub,
    pool: Pool,
    deliveries: Deliveries,
    /// One read buffer for every connection (`server/mod.rs`, `read`).
    read_buf: Vec<u8>,
    turn: u64,
    /// Read budget ran out: served first next turn, before new events.
    again: Vec<Token>,
    /// To write, and to close, at the end of this turn.
    dirty: Vec<Token>,
    closing: Vec<Token>,
    accept_paused_until: Option<Instant>,
}

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(port), address) = (args.next().and_then(|p| p.parse::<u16>().ok()), args.next())
    else {
        eprintln!("usage: pollserver <port> [<address>]");
        std::process::exit(2);
    };
    let ip: std::net::IpAddr = address
        .as_deref()
        .unwrap_or("0.0.0.0")
        .parse()
        .expect("an IP address");
    let poll = Poll::new()?;
    let mut listener = TcpListener::bind((ip, port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    // A signal is one more event in the loop (a self-pipe), not a handler
    // that runs in the middle of it (`server/mod.rs`, `Server::bind`).
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    let mut hub = Hub::new();
    let pool = hub.add_pool(MESG_MAX_USERS);
    let mut server = Server {
        poll,
        listener,
        conns: Slab::new(),
        hub,
        pool,
        deliveries: Deliveries::new(),
        read_buf: vec![0; 16 * 1024],
        turn: 0,
        again: Vec::new(),
        dirty: Vec::new(),
        closing: Vec::new(),
        accept_paused_until: None,
    };
    eprintln!("Listening on {}", server.listener.local_addr()?);
    println!("Server is on");
    io::stdout().flush()?;
    let mut events = Events::with_capacity(1024);
    loop {
        let timeout = if server.again.is_empty() {
            let now = Instant::now();
            server
                .accept_paused_until
                .map(|t| t.saturating_duration_since(now))
        } else {
            Some(Duration::ZERO)
        };
        match server.poll.poll(&mut events, timeout) {
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            other => other?,
        }
        server.turn += 1;
        // Left over from last turn first, so a flooder cut short is not
        // put behind everyone again (`serve_backlog`).
        for token in std::mem::take(&mut server.again) {
            server.serve(token);
        }
        for event in events.iter() {
            match event.token() {
                LISTENER => server.accept(),
                SIGNALS => {
                    if signals.pending().next().is_some() {
                        server.end_turn();
                        eprintln!("Stopped by a signal");
                        return Ok(());
                    }
                }
                token => {
                    // Readiness, not data: the read may find nothing, or
                    // only the end of the stream (`on_event`).
                    if event.is_writable() {
                        server.mark_dirty(token);
                    }
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        server.serve(token);
                    }
                }
            }
        }
        if server
            .accept_paused_until
            .is_some_and(|t| Instant::now() >= t)
        {
            server.accept_paused_until = None;
            server.accept();
        }
        server.end_turn();
    }
}

impl Server {
    /// Accepts until the listener says WouldBlock: readiness is edge-triggered,
    /// so a connection left waiting would not be announced again.
    fn accept(&mut self) {
        while self.accept_paused_until.is_none() {
            let (mut socket, _) = match self.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) =>
                {
                    continue
                }
                Err(e) => {
                    // EMFILE and friends are not fatal (CS:APP's `Accept`
                    // wrapper exits): the clients wait in the kernel's queue
                    // and we try again soon, without spinning
                    // (`server/accept.rs`, `accept`).
                    eprintln!("accept: {e}; not accepting for {ACCEPT_RETRY_MS} ms");
                    self.accept_paused_until =
                        Some(Instant::now() + Duration::from_millis(ACCEPT_RETRY_MS));
                    return;
                }
            };
            let _ = socket.set_nodelay(true);
            let entry = self.conns.vacant_entry();
            let token = Token(entry.key());
            // Both at once, edge-triggered: writable fires only when a full
            // socket gets room again (`add_connection`).
            let interest = Interest::READABLE | Interest::WRITABLE;
            if self
                .poll
                .registry()
                .register(&mut socket, token, interest)
                .is_err()
            {
                continue;
            }
            let fd = socket.as_raw_fd();
            eprintln!("Client ({fd}): Connection Accepted");
            entry.insert(Conn {
                socket,
                fd,
                telnet: TelnetFilter::new(),
                lines: LineFramer::new(MAX_LINE),
                parser: mesg::Parser::new(),
                tail: Vec::new(),
                out: Vec::new(),
                dirty: false,
                closing: false,
                served_turn: 0,
            });
            let request = Request::Open {
                fd,
                pool: self.pool,
            };
            self.hub
                .handle(ConnId(token.0), request, &mut self.deliveries);
        }
    }

    /// The connection, unless it is to be closed at the end of the turn.
    fn open(&mut self, token: Token) -> Option<&mut Conn> {
        self.conns.get_mut(token.0).filter(|c| !c.closing)
    }

    /// Reads `token` at most once a turn and at most `READ_BUDGET` bytes,
    /// until the socket says WouldBlock (`serve`, `read`). Stopping after
    /// one read, as Beej's loop may under level-triggered poll(2), would
    /// strand the rest: no new edge comes for bytes already there.
    fn serve(&mut self, token: Token) {
        let turn = self.turn;
        match self.open(token) {
            Some(conn) if conn.served_turn != turn => conn.served_turn = turn,
            _ => return,
        }
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = READ_BUDGET;
        while let Some(conn) = self.open(token) {
            if budget == 0 {
                self.again.push(token);
                break;
            }
            let want = budget.min(buf.len());
            match conn.socket.read(&mut buf[..want]) {
                Ok(0) => {
                    // End of input: a last line without its CR LF counts.
                    let tail = std::mem::take(&mut conn.tail);
                    if let Some(frame) = conn.lines.finish(&tail) {
                        self.on_frame(token, frame);
                    }
                    self.close(token);
                    break;
                }
                Ok(n) => {
                    budget -= n;
                    self.input(token, &mut buf[..n]);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.close(token);
                    break;
                }
            }
        }
        self.read_buf = buf;
    }

    /// Bytes in: telnet commands out, then whole lines handled where they
    /// were read; only the start of a line still arriving is kept
    /// (`Relay::input`).
    fn input(&mut self, token: Token, data: &mut [u8]) {
        let Some(conn) = self.open(token) else { return };
        let mut answer = Vec::new();
        let n = conn.telnet.filter(data, &mut answer);
        let mut tail = std::mem::take(&mut conn.tail);
        self.queue(token, &answer);
        if tail.is_empty() {
            let used = self.frames(token, &data[..n]);
            tail.extend_from_slice(&data[used..n]);
        } else {
            tail.extend_from_slice(&data[..n]);
            let used = self.frames(token, &tail);
            tail.drain(..used);
        }
        if let Some(conn) = self.open(token) {
            // Bounded: the framer reports a line over MAX_LINE and drops it.
            conn.tail = tail;
        }
    }

    /// Every whole line in `input`; returns how much was used (the
    /// framer's `next_frame` contract, `framing/mod.rs`; `on_frames`).
    fn frames(&mut self, token: Token, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            // Closed by one of its own lines (QUIT): the rest is not read.
            let Some(conn) = self.open(token) else {
                return input.len();
            };
            let (used, frame) = conn.lines.next_frame(&input[pos..]);
            pos += used;
            match frame {
                Some(frame) => self.on_frame(token, frame),
                None => return pos,
            }
        }
    }

    /// One line: the dialect answers it or makes a request of the hub
    /// (`Relay::on_frame`).
    fn on_frame(&mut self, token: Token, frame: Frame<'_>) {
        let id = ConnId(token.0);
        let Some(conn) = self.conns.get_mut(token.0).filter(|c| !c.closing) else {
            return;
        };
        let from = Sender {
            fd: conn.fd,
            name: self.hub.name(id).map(|n| &**n),
        };
        let mut reply = Vec::new();
        let action = conn.parser.on_frame(frame, from, &mut reply);
        self.queue(token, &reply);
        match action {
            Action::Done(Then::Stay) => {}
            Action::Done(Then::HangUp) => self.close(token),
            Action::Request(request) => {
                self.hub.handle(id, request, &mut self.deliveries);
                self.deliver();
            }
        }
    }

    /// The hub's answer, rendered once per event and copied to each
    /// recipient's buffer: nothing is written here (`deliver`, `deliver_to`).
    fn deliver(&mut self) {
        let deliveries = std::mem::take(&mut self.deliveries);
        let mut bytes = Vec::new();
        for (event, to) in deliveries.iter() {
            bytes.clear();
            let then = (mesg::PROTOCOL.render)(event, &mut bytes);
            for &ConnId(key) in to {
                self.queue(Token(key), &bytes);
                if then == Then::HangUp {
                    self.close(Token(key));
                }
            }
        }
        let mut deliveries = deliveries;
        deliveries.clear();
        self.deliveries = deliveries;
    }

    /// Appends to `token`'s output, written at the end of the turn
    /// (`queue`). Bounded: a client that lets more than `DEFAULT_MAX_QUEUE`
    /// pile up is cut off rather than allowed to take our memory.
    fn queue(&mut self, token: Token, bytes: &[u8]) {
        let Some(conn) = self.open(token).filter(|_| !bytes.is_empty()) else {
            return;
        };
        conn.out.extend_from_slice(bytes);
        if conn.out.len() > DEFAULT_MAX_QUEUE {
            let fd = conn.fd;
            eprintln!(
                "Client ({fd}): Output queue over {DEFAULT_MAX_QUEUE} bytes. Disconnecting User."
            );
            conn.out = Vec::new();
            return self.close(token);
        }
        self.mark_dirty(token);
    }

    fn mark_dirty(&mut self, token: Token) {
        if let Some(conn) = self.open(token).filter(|c| !c.dirty && !c.out.is_empty()) {
            conn.dirty = true;
            self.dirty.push(token);
        }
    }

    /// Marks `token` to be closed at the end of the turn; the hub forgets
    /// its name now. Its slab key is not freed yet: an event later in this
    /// batch may still name it, and a key freed now could already belong
    /// to a newcomer (`apply_effects`, `Relay::close`).
    fn close(&mut self, token: Token) {
        let Some(conn) = self.open(token) else { return };
        conn.closing = true;
        self.closing.push(token);
        self.hub
            .handle(ConnId(token.0), Request::Gone, &mut self.deliveries);
        self.deliver();
    }

    /// Once per turn: one `write` per connection for everything it got,
    /// then the closes (`end_turn`, `flush_dirty`, `close_marked`).
    fn end_turn(&mut self) {
        while !self.dirty.is_empty() {
            for token in std::mem::take(&mut self.dirty) {
                if !self.flush(token) {
                    self.close(token);
                }
            }
        }
        for token in std::mem::take(&mut self.closing) {
            let Some(mut conn) = self.conns.try_remove(token.0) else {
                continue;
            };
            // A last reply ("Too Many Users..."), best effort, once.
            let _ = conn.socket.write(&conn.out);
            let _ = self.poll.registry().deregister(&mut conn.socket);
            eprintln!("Client ({}): Disconnecting User.", conn.fd);
        }
    }

    /// Offers the socket what waits until it is empty or the socket is
    /// full (`flush`); `false` if the socket failed.
    fn flush(&mut self, token: Token) -> bool {
        let Some(conn) = self.open(token) else {
            return true;
        };
        conn.dirty = false;
        while !conn.out.is_empty() {
            match conn.socket.write(&conn.out) {
                // The socket took part of it: keep the rest, in order.
                Ok(n) if n > 0 => drop(conn.out.drain(..n)),
                // Full: a writable event will say when it has room. Beej's
                // `send` on a blocking socket would stop the server here.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                _ => return false,
            }
        }
        true
    }
}
