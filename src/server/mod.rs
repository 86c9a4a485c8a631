//! The event loop: one thread, one `mio::Poll`, every socket.
//!
//! A student who knows Beej's `pollserver.c` will recognise the shape:
//! wait for readiness, accept new clients, read from the ready ones, act on
//! what they said. What is added is what that example leaves out:
//!
//! * Reads are cut into frames (a read is not a message) and every buffer is
//!   bounded.
//! * Nothing is written where it is produced. Replies are appended to each
//!   recipient's output buffer, and at the end of the turn every connection
//!   that got something is flushed with one `write`. A slow reader never
//!   blocks the loop; one that stops reading is cut off at `--max-queue`.
//! * Connections are never freed in the middle of a turn. They are marked
//!   and closed at its end, because one batch of events can still name a
//!   connection that an earlier event in the batch closed, and slab keys
//!   are reused at once.
//!
//! The loop knows no protocol: frames go to the connection's dialect,
//! requests to the hub, and the hub's events back through each recipient's
//! dialect. See `lib.rs` for the picture.

pub mod connection;
pub mod output;

use crate::dialect::{Action, After, Me, Protocol};
use crate::hub::{Event, Hub, Outbox, Request};
use crate::limits::{
    ACCEPT_RETRY_MS, IDLE_SWEEP_MS, READ_BUDGET, READ_CHUNK, RESERVED_FDS, SHUTDOWN_FLUSH_MS,
};
use connection::{Close, Connection};
use log::{debug, error, info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use output::Receipt;
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::io::{self, ErrorKind, Read};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// One listening socket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub protocol: Protocol,
    pub addr: SocketAddr,
    /// Registered users allowed through this listener, counted over the
    /// whole server.
    pub max_users: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listeners: Vec<ListenerConfig>,
    /// Bytes that may wait in one connection's output buffer.
    pub max_queue: usize,
    /// Close a registered connection that has sent nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// Close a connection that has not registered and has sent nothing for
    /// this long.
    pub login_timeout: Option<Duration>,
    /// Open connections allowed at once; more wait in the kernel's accept
    /// queue. `None`: derived from the file descriptor limit.
    pub max_connections: Option<usize>,
    /// Cut off a client whose unread output has kept a sender waiting for
    /// a receipt this long.
    pub stall_timeout: Option<Duration>,
}

impl Config {
    /// One listener for `protocol` on `addr`, with its default user limit
    /// and the default limits for everything else.
    pub fn single(protocol: Protocol, addr: SocketAddr) -> Config {
        Config {
            listeners: vec![ListenerConfig {
                protocol,
                addr,
                max_users: protocol.default_max_users(),
            }],
            max_queue: crate::limits::DEFAULT_MAX_QUEUE,
            idle_timeout: None,
            login_timeout: Some(Duration::from_secs(
                crate::limits::DEFAULT_LOGIN_TIMEOUT_SECS,
            )),
            max_connections: None,
            stall_timeout: Some(Duration::from_secs(
                crate::limits::DEFAULT_STALL_TIMEOUT_SECS,
            )),
        }
    }
}

/// Raises the limit on open files as far as the process may (a server
/// needs one descriptor per client; the usual soft default of 1024 is low)
/// and returns the limit now in force: the soft limit goes up to the hard
/// one, and, for a process allowed to (root), both go up to the kernel's
/// ceiling, `fs.nr_open`.
pub fn raise_fd_limit() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return 1024;
    }
    let ceiling = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
        .unwrap_or(limit.rlim_max)
        .max(limit.rlim_max);
    for max in [ceiling, limit.rlim_max] {
        let raised = libc::rlimit {
            rlim_cur: max,
            rlim_max: max,
        };
        if limit.rlim_cur < max && unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
            break;
        }
    }
    usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX)
}

struct Listener {
    socket: TcpListener,
    protocol: Protocol,
    max_users: usize,
}

/// Tokens above every slab key: the signal pipe, then one per listener.
const SIGNALS: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;

fn listener_token(index: usize) -> Token {
    Token(FIRST_LISTENER - index)
}

/// The open connections, and the per-turn lists of those to flush and to
/// close. Kept apart from the rest of the server so the loop can hold a
/// connection and the hub at the same time.
struct Connections {
    slab: Slab<Connection>,
    /// Connections with output queued this turn, flushed at its end.
    dirty: Vec<Token>,
    /// Connections to close at the end of this turn.
    closing: Vec<Token>,
    max_queue: usize,
}

impl Connections {
    /// The connection, unless it is closing: a closing connection is
    /// neither read nor sent anything new.
    fn open_mut(&mut self, token: Token) -> Option<&mut Connection> {
        self.slab.get_mut(token.0).filter(|c| c.closing.is_none())
    }

    fn mark_dirty(&mut self, token: Token) {
        if let Some(conn) = self.slab.get_mut(token.0) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(token);
            }
        }
    }

    /// Queues `bytes` for `token`. A client whose queue would pass the
    /// limit is not reading: it is cut off, and `false` says the bytes were
    /// not queued.
    fn queue(&mut self, token: Token, bytes: &[u8]) -> bool {
        let max_queue = self.max_queue;
        let Some(conn) = self.open_mut(token) else {
            return false;
        };
        if conn.out.push(bytes, max_queue).is_err() {
            warn!(
                "Client ({}): Output queue over {max_queue} bytes (client not reading). Disconnecting User.",
                conn.fd
            );
            self.close(token, Close::SlowConsumer);
            return false;
        }
        self.mark_dirty(token);
        true
    }

    fn close(&mut self, token: Token, why: Close) {
        if let Some(conn) = self.slab.get_mut(token.0) {
            if conn.closing.is_none() {
                conn.close(why);
                self.closing.push(token);
            }
        }
    }
}

/// A bound server, ready to run.
pub struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    signals: Signals,
    conns: Connections,
    hub: Hub,
    outbox: Outbox,
    /// The one read buffer, shared by every connection (see `read`).
    read_buf: Vec<u8>,
    /// Scratch for a dialect's own replies to one frame.
    reply: Vec<u8>,
    /// Scratch for an event rendered in each protocol, so a broadcast is
    /// rendered once per protocol rather than once per recipient.
    rendered: Vec<(Protocol, Vec<u8>, After)>,
    /// Connections that still had input when their read budget ran out.
    backlog: Vec<Token>,
    /// Receipts reached this turn, waiting to be told to their senders.
    receipts: Vec<(Receipt, bool)>,
    next_serial: u64,
    /// Accepting is paused until then, after running out of descriptors.
    accept_paused_until: Option<Instant>,
    /// At the connection limit: accepting resumes when one closes.
    at_capacity: bool,
    max_connections: usize,
    idle_timeout: Option<Duration>,
    login_timeout: Option<Duration>,
    stall_timeout: Option<Duration>,
    /// When to sweep the connections next (idle timeouts, buffer trims).
    next_sweep: Instant,
    /// Set once a signal asked us to stop: flush until then, then exit.
    shutdown_deadline: Option<Instant>,
}

fn bind_error(addr: SocketAddr, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"))
}

impl Server {
    /// Opens every listener (all or none) and the signal handler.
    pub fn bind(config: &Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut listeners = Vec::new();
        for (index, lc) in config.listeners.iter().enumerate() {
            let mut socket = TcpListener::bind(lc.addr).map_err(|e| bind_error(lc.addr, e))?;
            poll.registry()
                .register(&mut socket, listener_token(index), Interest::READABLE)?;
            listeners.push(Listener {
                socket,
                protocol: lc.protocol,
                max_users: lc.max_users,
            });
        }
        let max_connections = config.max_connections.unwrap_or_else(|| {
            let fds = raise_fd_limit();
            let max = fds.saturating_sub(RESERVED_FDS).max(1);
            info!("File descriptor limit {fds}: up to {max} connections at once");
            max
        });
        // SIGINT/SIGTERM arrive through a pipe that the poll watches, so a
        // signal is just another event in the loop (no work in a handler).
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        Ok(Server {
            poll,
            listeners,
            signals,
            conns: Connections {
                slab: Slab::new(),
                dirty: Vec::new(),
                closing: Vec::new(),
                max_queue: config.max_queue,
            },
            hub: Hub::new(),
            outbox: Outbox::new(),
            read_buf: vec![0; READ_CHUNK],
            reply: Vec::new(),
            rendered: Vec::new(),
            backlog: Vec::new(),
            receipts: Vec::new(),
            next_serial: 0,
            accept_paused_until: None,
            at_capacity: false,
            max_connections,
            idle_timeout: config.idle_timeout,
            login_timeout: config.login_timeout,
            stall_timeout: config.stall_timeout,
            next_sweep: Instant::now(),
            shutdown_deadline: None,
        })
    }

    /// The address each listener is bound to (the real port when 0 was
    /// asked for).
    pub fn local_addrs(&self) -> Vec<(Protocol, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|l| Some((l.protocol, l.socket.local_addr().ok()?)))
            .collect()
    }

    /// Runs the loop until SIGINT or SIGTERM.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            match self.poll.poll(&mut events, self.poll_timeout()) {
                Ok(()) => {}
                // A signal interrupted the wait: nothing happened, go round.
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            for event in events.iter() {
                match event.token() {
                    SIGNALS => self.on_signal(),
                    token if token.0 > FIRST_LISTENER - self.listeners.len() => {
                        self.accept(FIRST_LISTENER - token.0)
                    }
                    token => {
                        // Events can be spurious, and can name a connection
                        // closed earlier in this batch: check, then act.
                        if event.is_writable() {
                            if let Some(conn) = self.conns.open_mut(token) {
                                if !conn.out.is_empty() {
                                    self.conns.mark_dirty(token);
                                }
                            }
                        }
                        let hup = event.is_read_closed() || event.is_error();
                        if event.is_readable() || hup {
                            self.read(token, hup);
                        }
                    }
                }
            }
            self.resume_accepting();
            self.sweep();
            // Connections whose read budget ran out last turn, or that can
            // go on after a receipt: edge-triggered readiness will not tell
            // us about input that is already waiting.
            for token in std::mem::take(&mut self.backlog) {
                self.resume(token);
            }
            self.end_turn();
            // Closes at the end of the turn may have made room below the
            // connection limit; waiting clients must not wait for an event.
            self.resume_accepting();
            // Status lines that stderr would not take yet go out now if it
            // has room (see logger.rs); cheap when there are none.
            log::logger().flush();
            if self.shutdown_complete() {
                info!("Server stopped");
                return Ok(());
            }
        }
    }

    fn poll_timeout(&self) -> Option<Duration> {
        if !self.backlog.is_empty() {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        // An empty server sleeps until something happens.
        let sweep = (!self.conns.slab.is_empty()).then_some(self.next_sweep);
        [self.shutdown_deadline, self.accept_paused_until, sweep]
            .into_iter()
            .flatten()
            .min()
            .map(|t| t.saturating_duration_since(now))
    }

    // ----- accepting -------------------------------------------------------

    /// Accepts until the listener's queue is empty: readiness is
    /// edge-triggered, so connections left in the queue would not be
    /// announced again.
    fn accept(&mut self, index: usize) {
        if self.accept_paused_until.is_some() {
            return;
        }
        while let Some(listener) = self.listeners.get(index) {
            if self.conns.slab.len() >= self.max_connections {
                // New clients wait in the kernel's queue until one leaves.
                if !self.at_capacity {
                    warn!(
                        "{} connections open, the limit: not accepting until one closes",
                        self.conns.slab.len()
                    );
                    self.at_capacity = true;
                }
                return;
            }
            match listener.socket.accept() {
                Ok((socket, peer)) => self.add_connection(index, socket, peer),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                // The client gave up before we got to it, or a signal
                // arrived: neither is a reason to stop accepting.
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::Interrupted | ErrorKind::ConnectionAborted
                    ) => {}
                Err(e) => {
                    // Out of file descriptors (EMFILE/ENFILE) or memory.
                    // The pending connections stay in the kernel's queue;
                    // retrying at once would spin, so wait a little.
                    error!("accept: {e}; not accepting for {ACCEPT_RETRY_MS} ms");
                    let pause = Duration::from_millis(ACCEPT_RETRY_MS);
                    self.accept_paused_until = Some(Instant::now() + pause);
                    return;
                }
            }
        }
    }

    /// Accepts again once the pause after EMFILE is over, or once a
    /// connection has closed below the limit: the listener will not
    /// announce the clients already waiting in its queue a second time.
    fn resume_accepting(&mut self) {
        let pause_over = self
            .accept_paused_until
            .is_some_and(|t| Instant::now() >= t);
        let room_again = self.at_capacity && self.conns.slab.len() < self.max_connections;
        if pause_over || room_again {
            self.accept_paused_until = None;
            self.at_capacity = false;
            for index in 0..self.listeners.len() {
                self.accept(index);
            }
        }
    }

    /// Now and then: closes connections that have been silent too long
    /// (`login_timeout` for those without a name, `idle_timeout` for the
    /// others), and trims the output buffers of those gone quiet.
    fn sweep(&mut self) {
        let now = Instant::now();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + Duration::from_millis(IDLE_SWEEP_MS);
        let (mut idle, mut stalled) = (Vec::new(), Vec::new());
        for (key, conn) in self.conns.slab.iter_mut() {
            conn.out.trim();
            let waited = conn.out.oldest_mark().map(|t| now.duration_since(t));
            if waited.is_some_and(|w| self.stall_timeout.is_some_and(|t| w >= t)) {
                stalled.push(Token(key));
            }
            let registered = self.hub.name(Token(key)).is_some();
            let timeout = if registered {
                self.idle_timeout
            } else {
                self.login_timeout
            };
            // A client paused behind its own receipt is not silent by choice.
            let silent = now.duration_since(conn.last_input);
            if conn.awaiting == 0 && timeout.is_some_and(|t| silent >= t) {
                idle.push(Token(key));
            }
        }
        for token in idle {
            if let Some(conn) = self.conns.open_mut(token) {
                let secs = now.duration_since(conn.last_input).as_secs();
                info!(
                    "Client ({}): Idle for {secs} s. Disconnecting User.",
                    conn.fd
                );
                self.conns.close(token, Close::Goodbye);
            }
        }
        for token in stalled {
            if let Some(conn) = self.conns.open_mut(token) {
                warn!(
                    "Client ({}): Not reading while a sender waits on it. Disconnecting User.",
                    conn.fd
                );
                // Its unreached marks tell their senders: never delivered.
                self.conns.close(token, Close::SlowConsumer);
            }
        }
    }

    fn add_connection(&mut self, index: usize, mut socket: TcpStream, peer: SocketAddr) {
        let listener = &self.listeners[index];
        let (protocol, max_users) = (listener.protocol, listener.max_users);
        // Chat lines are small and must go out now, not after Nagle's
        // algorithm waits for an ACK (tens of milliseconds on loopback).
        if let Err(e) = socket.set_nodelay(true) {
            warn!("set TCP_NODELAY for {peer}: {e}");
        }
        let entry = self.conns.slab.vacant_entry();
        let token = Token(entry.key());
        // Readable and writable at once, edge-triggered: a writable event
        // comes only when a full socket gets room again, so asking for both
        // up front saves re-registering every time output backs up.
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.poll.registry().register(&mut socket, token, interest) {
            error!("register connection from {peer}: {e}");
            return;
        }
        self.next_serial += 1;
        let conn = Connection::new(socket, peer, self.next_serial, protocol.session());
        let fd = conn.fd;
        if self.listeners.len() > 1 {
            info!("Client ({fd}): Connection Accepted ({protocol})");
        } else {
            info!("Client ({fd}): Connection Accepted");
        }
        debug!("Client ({fd}): from {peer}");
        entry.insert(conn);
        let open = Request::Open { fd, max_users };
        self.hub.handle(token, open, &mut self.outbox);
        self.deliver();
    }

    // ----- reading ---------------------------------------------------------

    /// Reads what `token` has sent, until the socket is empty or the
    /// connection has had its share of this turn.
    ///
    /// Every connection reads into the same buffer; only the tail of a
    /// frame that has not fully arrived is copied into the connection. An
    /// idle connection therefore holds no input memory at all.
    ///
    /// "Read until `WouldBlock`" costs a last `read` that returns nothing.
    /// A read that did not fill the buffer has already emptied the socket,
    /// and anything arriving after it raises a new edge, so we stop there
    /// (nginx does the same). Not so when the peer has closed: its
    /// end-of-file raised its edge already and must be read; nor when no
    /// event told us what is there (`until_would_block`).
    fn read(&mut self, token: Token, until_would_block: bool) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = READ_BUDGET;
        while let Some(conn) = self.conns.open_mut(token) {
            if !conn.is_listening() {
                // Waiting for a receipt, or the peer has said all it will:
                // leave its input in the kernel until we can act on it.
                break;
            }
            if budget == 0 {
                // Fairness: come back next turn (the poll will not wait).
                self.backlog.push(token);
                break;
            }
            let want = buf.len().min(budget);
            match conn.socket.read(&mut buf[..want]) {
                Ok(0) => {
                    self.on_eof(token);
                    break;
                }
                Ok(n) => {
                    budget -= n;
                    conn.last_input = Instant::now();
                    self.on_bytes(token, &mut buf[..n]);
                    if n < want && !until_would_block {
                        break;
                    }
                }
                // The socket is empty: the OS will tell us when there is more.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    info!("Client ({}): read failed: {e}", conn.fd);
                    self.conns.close(token, Close::Failed);
                    break;
                }
            }
        }
        self.read_buf = buf;
    }

    fn on_bytes(&mut self, token: Token, data: &mut [u8]) {
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        self.reply.clear();
        let n = conn.session.decode(data, &mut self.reply);
        let mut partial = std::mem::take(&mut conn.partial);
        if !self.reply.is_empty() {
            self.conns.queue(token, &self.reply);
        }
        let data = &data[..n];
        if partial.is_empty() {
            // The usual case: frames are handled where they were read.
            let used = self.on_frames(token, data);
            partial.extend_from_slice(&data[used..]);
        } else {
            partial.extend_from_slice(data);
            let used = self.on_frames(token, &partial);
            partial.drain(..used);
        }
        if let Some(conn) = self.conns.open_mut(token) {
            if partial.is_empty() {
                // Keep no memory for a connection between messages.
                partial = Vec::new();
            }
            conn.partial = partial;
        }
    }

    /// Handles every complete frame in `input`; returns how much of it was
    /// used. What is left is the start of a frame still arriving.
    ///
    /// A connection waiting for a receipt stops here: its next request
    /// would otherwise be answered before the one still in flight, and the
    /// line protocols have no way to match answers to requests but order.
    fn on_frames(&mut self, token: Token, input: &[u8]) -> usize {
        let mut pos = 0;
        while let Some(conn) = self.conns.open_mut(token) {
            if conn.awaiting > 0 {
                return pos;
            }
            let (used, frame) = conn.session.next_frame(&input[pos..]);
            pos += used;
            match frame {
                Some(frame) => self.on_frame(token, frame),
                None => return pos,
            }
        }
        // Closed by one of its own frames (QUIT): the rest is not read.
        input.len()
    }

    /// Handles the frames a connection kept while it waited, then reads on.
    fn resume(&mut self, token: Token) {
        if self.handle_kept(token) {
            // No event told us how much is there: read until it says.
            self.read(token, true);
        }
    }

    /// Handles the complete frames kept in `partial` (they were held while
    /// a receipt was awaited). Returns whether the connection may go on
    /// reading: not if it is waiting again, closing, or the peer has closed
    /// (then its end is dealt with here).
    fn handle_kept(&mut self, token: Token) -> bool {
        let Some(conn) = self.conns.open_mut(token) else {
            return false;
        };
        if conn.awaiting > 0 {
            return false;
        }
        let mut partial = std::mem::take(&mut conn.partial);
        let used = self.on_frames(token, &partial);
        partial.drain(..used);
        let Some(conn) = self.conns.open_mut(token) else {
            return false;
        };
        conn.partial = partial;
        if conn.awaiting > 0 {
            return false;
        }
        if conn.read_closed {
            self.finish_input(token);
            return false;
        }
        true
    }

    /// The peer closed its side. What it sent before still counts: frames
    /// kept while a receipt was awaited, then a last unterminated one. The
    /// connection is closed once everything it asked for is answered and
    /// written (a client may half-close and still read).
    fn on_eof(&mut self, token: Token) {
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        conn.read_closed = true;
        self.handle_kept(token);
    }

    /// The last of a half-closed connection's input: its leftover bytes.
    fn finish_input(&mut self, token: Token) {
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        let partial = std::mem::take(&mut conn.partial);
        if let Some(frame) = conn.session.finish(&partial) {
            self.on_frame(token, frame);
        }
        self.close_if_finished(token);
    }

    fn close_if_finished(&mut self, token: Token) {
        if self.conns.open_mut(token).is_some_and(|c| c.is_finished()) {
            self.conns.close(token, Close::PeerClosed);
        }
    }

    fn on_frame(&mut self, token: Token, frame: crate::framing::Frame<'_>) {
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        let me = Me {
            fd: conn.fd,
            name: self.hub.name(token).map(|n| &**n),
        };
        self.reply.clear();
        let action = conn.session.on_frame(frame, me, &mut self.reply);
        if !self.reply.is_empty() {
            self.conns.queue(token, &self.reply);
        }
        match action {
            Action::Done(After::Keep) => {}
            Action::Done(After::Close) => self.conns.close(token, Close::Goodbye),
            Action::Request(request) => {
                self.hub.handle(token, request, &mut self.outbox);
                self.deliver();
            }
        }
    }

    // ----- delivering ------------------------------------------------------

    /// Renders what the hub produced into the recipients' output buffers.
    fn deliver(&mut self) {
        let outbox = std::mem::take(&mut self.outbox);
        for (event, to) in outbox.iter() {
            self.rendered.clear();
            for &token in to {
                self.deliver_to(token, event, to.len() == 1);
            }
        }
        let mut outbox = outbox;
        outbox.clear();
        self.outbox = outbox;
    }

    fn deliver_to(&mut self, token: Token, event: &Event, alone: bool) {
        let receipt = match event {
            Event::Message {
                receipt: Some(sender),
                ..
            } => Some(*sender),
            _ => None,
        };
        if let Some(sender) = receipt.and_then(|s| self.conns.open_mut(s)) {
            sender.awaiting += 1;
        }
        let Some(conn) = self.conns.open_mut(token) else {
            // Closing already: a message sent with a receipt will never
            // arrive, and its sender must hear so.
            if let Some(sender) = receipt {
                self.tell_sender(sender, None, Event::Undelivered);
            }
            return;
        };
        let protocol = conn.session.protocol();
        if alone {
            protocol.log_event(conn.fd, event);
        }
        let index = match self.rendered.iter().position(|(p, _, _)| *p == protocol) {
            Some(index) => index,
            None => {
                let mut bytes = Vec::new();
                let after = protocol.render(event, &mut bytes);
                self.rendered.push((protocol, bytes, after));
                self.rendered.len() - 1
            }
        };
        let (_, bytes, after) = &self.rendered[index];
        let queued = bytes.is_empty() || self.conns.queue(token, bytes);
        if *after == After::Close {
            self.conns.close(token, Close::Goodbye);
        }
        if let Some(sender) = receipt {
            let serial = self.conns.slab.get(sender.0).map_or(0, |c| c.serial);
            let answer = match self.conns.open_mut(token).filter(|_| queued) {
                // Nothing left to write before it: as good as written.
                Some(conn) if conn.out.is_empty() => Some(Event::Delivered),
                Some(conn) => {
                    conn.out.mark(Receipt { sender, serial });
                    None
                }
                // Cut off, or hung up by its own dialect: never written.
                None => Some(Event::Undelivered),
            };
            if let Some(answer) = answer {
                self.tell_sender(sender, None, answer);
            }
        }
    }

    /// Gives the sender of a message its receipt, unless it has gone (its
    /// token may belong to a new connection by now: `serial` tells), and
    /// lets it go on with its next request.
    fn tell_sender(&mut self, sender: Token, serial: Option<u64>, event: Event) {
        let Some(conn) = self.conns.open_mut(sender) else {
            return;
        };
        if serial.is_some_and(|s| s != conn.serial) {
            return;
        }
        conn.awaiting = conn.awaiting.saturating_sub(1);
        if conn.awaiting == 0 {
            self.backlog.push(sender);
        }
        let protocol = conn.session.protocol();
        protocol.log_event(conn.fd, &event);
        let mut bytes = std::mem::take(&mut self.reply);
        bytes.clear();
        if protocol.render(&event, &mut bytes) == After::Close {
            self.conns.close(sender, Close::Goodbye);
        }
        if !bytes.is_empty() {
            self.conns.queue(sender, &bytes);
        }
        self.reply = bytes;
    }

    // ----- end of turn: close, then flush ----------------------------------

    fn end_turn(&mut self) {
        loop {
            self.close_pending();
            self.flush_dirty();
            if self.conns.closing.is_empty() {
                return;
            }
        }
    }

    /// Writes every connection that got output this turn: one `write` for
    /// all it got, however many messages that was.
    fn flush_dirty(&mut self) {
        let mut i = 0;
        // Receipts can make more connections dirty while we go: the list
        // may grow under us, so walk it by index.
        while i < self.conns.dirty.len() {
            let token = self.conns.dirty[i];
            i += 1;
            let Some(conn) = self.conns.slab.get_mut(token.0) else {
                continue;
            };
            conn.dirty = false;
            if conn.closing.is_some() {
                continue;
            }
            if let Err(e) = conn.out.write_to(&mut conn.socket) {
                info!("Client ({}): write failed: {e}", conn.fd);
                self.conns.close(token, Close::Failed);
            }
            self.take_receipts(token);
            self.close_if_finished(token);
        }
        self.conns.dirty.clear();
    }

    /// Tells senders about every mark `token`'s output has passed.
    fn take_receipts(&mut self, token: Token) {
        if let Some(conn) = self.conns.slab.get_mut(token.0) {
            while let Some(receipt) = conn.out.reached() {
                self.receipts.push((receipt, true));
            }
            if conn.closing.is_some() {
                let lost = conn.out.abandon_marks().map(|r| (r, false));
                self.receipts.extend(lost);
            }
        }
        for (receipt, delivered) in std::mem::take(&mut self.receipts) {
            let event = if delivered {
                Event::Delivered
            } else {
                Event::Undelivered
            };
            self.tell_sender(receipt.sender, Some(receipt.serial), event);
        }
    }

    /// Closes the connections marked this turn: a last write where that
    /// makes sense, a FIN after it, and the hub told (which may notify
    /// others, e.g. a channel).
    fn close_pending(&mut self) {
        while let Some(token) = self.conns.closing.pop() {
            let Some(conn) = self.conns.slab.get_mut(token.0) else {
                continue;
            };
            let why = conn.closing.unwrap_or(Close::Failed);
            if matches!(why, Close::Goodbye | Close::PeerClosed) {
                // Best effort, once: the last reply (why we hang up).
                let _ = conn.out.write_to(&mut conn.socket);
            }
            self.take_receipts(token);
            let Some(mut conn) = self.conns.slab.try_remove(token.0) else {
                continue;
            };
            hang_up(&mut conn);
            if let Err(e) = self.poll.registry().deregister(&mut conn.socket) {
                debug!("deregister fd {}: {e}", conn.fd);
            }
            info!("Client ({}): Disconnecting User.", conn.fd);
            drop(conn);
            self.hub.handle(token, Request::Close, &mut self.outbox);
            self.deliver();
        }
    }

    // ----- shutting down ---------------------------------------------------

    fn on_signal(&mut self) {
        let stop = self
            .signals
            .pending()
            .any(|signal| signal == SIGINT || signal == SIGTERM);
        if stop && self.shutdown_deadline.is_none() {
            info!("Shutting down: no new connections; flushing queued output");
            for mut listener in self.listeners.drain(..) {
                let _ = self.poll.registry().deregister(&mut listener.socket);
            }
            let flush_for = Duration::from_millis(SHUTDOWN_FLUSH_MS);
            self.shutdown_deadline = Some(Instant::now() + flush_for);
        }
    }

    /// Once shutting down: done when every queue is empty or time is up.
    fn shutdown_complete(&mut self) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        let drained = self.conns.slab.iter().all(|(_, c)| c.out.is_empty());
        if !drained && Instant::now() < deadline {
            return false;
        }
        for (_, conn) in self.conns.slab.iter_mut() {
            hang_up(conn);
        }
        true
    }
}

/// Sends a FIN after whatever was written, and reads away what the client
/// sent that we will never handle. Closing a socket with unread input makes
/// the kernel send a reset, and a reset can destroy our last reply (the
/// reason we hang up) before the client reads it.
fn hang_up(conn: &mut Connection) {
    let _ = conn.socket.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match conn.socket.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}
