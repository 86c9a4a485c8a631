//! The event loop: one thread, one `mio::Poll`, every socket.
//!
//! A student who knows Beej's `pollserver.c` will recognise the shape: wait
//! for readiness, accept new clients, read from the ready ones, act on what
//! they said. What is added is what that example leaves out:
//!
//! * Reads are cut into frames (a read is not a message), by the relay,
//!   and every buffer is bounded.
//! * Nothing is written where it is produced. The relay queues replies per
//!   connection, and at the end of the turn every connection that got
//!   something is flushed with one `write`. A slow reader never blocks the
//!   loop.
//! * Connections are never freed in the middle of a turn. They are marked
//!   and closed at its end, because one batch of events can still name a
//!   connection that an earlier event in the batch closed, and slab keys
//!   are reused at once.
//!
//! This file is mechanism only: it knows sockets, readiness and turns, and
//! no protocol, no hub and no dialect. What the bytes mean is the relay's
//! business (`relay/`); the loop does what the relay's effects say.

mod accept;
mod admin;
pub mod cli;
pub mod config;
mod connection;
mod signals;
pub mod systemd;

pub use config::{raise_fd_limit, Config, ListenerConfig};

use crate::dialect::Protocol;
use crate::limits::{
    EVENT_CAPACITY, HEAP_TRIM_MIN, IDLE_SWEEP_MS, READ_BUDGET, READ_CHUNK, RESERVED_FDS,
};
use crate::relay::{ConnId, Effect, Hangup, Relay};
use crate::transcript::TranscriptFile;
use accept::Accepting;
use connection::Connection;
use log::{debug, info, warn};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant};

struct Listener {
    socket: TcpListener,
    protocol: &'static Protocol,
}

/// Tokens above every slab key: the signal pipe, then one per listener.
const SIGNALS: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;

/// A bound server, ready to run.
pub struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    signals: Signals,
    conns: Slab<Connection>,
    relay: Relay,
    accepting: Accepting,
    /// The one read buffer, shared by every connection (see `read`).
    read_buf: Vec<u8>,
    /// Scratch for the relay's effects.
    effects: Vec<Effect>,
    /// Connections to serve first next turn, each once, in the order they
    /// came: their read budget ran out, or the relay asked.
    backlog: Vec<Token>,
    /// Connections to write, and to close, at the end of this turn.
    dirty: Vec<Token>,
    closing: Vec<Token>,
    turn: u64,
    /// When to sweep next (timeouts, buffer trims).
    next_sweep: Instant,
    /// Set once a signal asked us to stop: flush until then, then exit.
    shutdown_deadline: Option<Instant>,
    started: Instant,
    /// The operator console (`--admin`).
    admin: Option<admin::Console>,
    /// Where the relay's transcript lines go (`--transcript`).
    transcript: Option<TranscriptFile>,
}

impl Server {
    /// Runs the loop until a signal asks it to stop. One turn: wait for
    /// readiness; serve first the connections left over from the last turn,
    /// then the ready ones; accept; now and then sweep; then write what the
    /// turn produced and close what it closed.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(EVENT_CAPACITY);
        loop {
            let timeout = self.poll_timeout();
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                // A signal interrupted the wait: nothing happened, go round.
                Err(e) if e.kind() == ErrorKind::Interrupted => {
                    crate::trace_line!("poll was interrupted by a signal");
                }
                Err(e) => return Err(e),
            }
            self.turn += 1;
            self.relay.begin_turn(Instant::now());
            if crate::trace::on() {
                let n = events.iter().count();
                crate::trace_line!(
                    "Turn {}: poll returned {n} event{} (timeout {})",
                    self.turn,
                    if n == 1 { "" } else { "s" },
                    timeout.map_or("none".to_string(), |t| format!("{} ms", t.as_millis()))
                );
            }
            if let Some(transcript) = self.relay.transcript_mut() {
                transcript.set_time(std::time::SystemTime::now());
            }
            self.accepting.kept.fill(0);
            self.serve_backlog();
            self.admin_backlog();
            for event in events.iter() {
                self.on_event(event);
            }
            for index in std::mem::take(&mut self.accepting.more) {
                self.accept(index);
            }
            self.resume_accepting();
            self.relay.timers();
            self.sweep();
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
        let console_busy = self.admin.as_ref().is_some_and(|c| c.busy());
        if !self.backlog.is_empty() || !self.accepting.more.is_empty() || console_busy {
            return Some(Duration::ZERO);
        }
        let now = Instant::now();
        // An empty server sleeps until something happens.
        let sweep = (!self.conns.is_empty()).then_some(self.next_sweep);
        let timer = self.relay.next_timer();
        [
            self.shutdown_deadline,
            self.accepting.paused_until,
            sweep,
            timer,
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|t| t.saturating_duration_since(now))
    }

    /// What one readiness event says. Events can be spurious, and can name
    /// a connection closed earlier in this batch: check, then act.
    fn on_event(&mut self, event: &mio::event::Event) {
        let token = event.token();
        if crate::trace::on() {
            self.trace_event(event);
        }
        if token == SIGNALS {
            return self.on_signal();
        }
        if admin::Console::owns(token) {
            return self.on_admin_event(token, event);
        }
        if token.0 > FIRST_LISTENER - self.listeners.len() {
            return self.accept(FIRST_LISTENER - token.0);
        }
        if self.open(token).is_none() {
            return;
        }
        if event.is_error() {
            // Reset by the peer, or failed: nothing more can be read or
            // written, even if we were not going to read it now.
            return self.on_socket_error(token);
        }
        if event.is_writable() {
            self.mark_dirty(token);
        }
        if event.is_readable() || event.is_read_closed() {
            self.serve(token);
        }
    }

    fn trace_event(&self, event: &mio::event::Event) {
        let token = event.token();
        let what = if token == SIGNALS {
            "the signal pipe".to_string()
        } else if token.0 > FIRST_LISTENER - self.listeners.len() {
            let listener = &self.listeners[FIRST_LISTENER - token.0];
            format!("the {} listener", listener.protocol)
        } else {
            let fd = self.conns.get(token.0).map_or(-1, |c| c.fd);
            format!("Client ({fd}), token {}", token.0)
        };
        let flags: Vec<&str> = [
            (event.is_readable(), "readable"),
            (event.is_writable(), "writable"),
            (event.is_read_closed(), "read closed"),
            (event.is_write_closed(), "write closed"),
            (event.is_error(), "error"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        crate::trace_line!("  event: {what}: {}", flags.join(", "));
    }

    fn on_socket_error(&mut self, token: Token) {
        let Some(conn) = self.open(token) else {
            return;
        };
        let why = match conn.socket.take_error() {
            Ok(Some(e)) => e.to_string(),
            Ok(None) => "no error reported".to_string(),
            Err(e) => e.to_string(),
        };
        info!("Client ({}): connection failed: {why}", conn.fd);
        self.relay.failed(ConnId(token.0));
    }

    /// The connection, unless it is closing.
    fn open(&mut self, token: Token) -> Option<&mut Connection> {
        self.conns.get_mut(token.0).filter(|c| c.closing.is_none())
    }

    fn mark_dirty(&mut self, token: Token) {
        if let Some(conn) = self.open(token) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(token);
            }
        }
    }

    /// Puts `token` on the backlog for next turn, once.
    fn schedule(&mut self, token: Token) {
        if let Some(conn) = self.open(token) {
            if !conn.in_backlog {
                conn.in_backlog = true;
                self.backlog.push(token);
            }
        }
    }

    // ----- reading ---------------------------------------------------------

    /// Those left over from the last turn go first: a connection deferred
    /// because the turn ran out is not deferred again behind newcomers.
    fn serve_backlog(&mut self) {
        for token in std::mem::take(&mut self.backlog) {
            let turn = self.turn;
            let Some(conn) = self.open(token) else {
                continue;
            };
            conn.in_backlog = false;
            conn.served_turn = turn;
            if self.relay.resume(ConnId(token.0)) {
                self.read(token);
            }
        }
    }

    /// A readiness event for `token`: read it, at most once a turn.
    fn serve(&mut self, token: Token) {
        let turn = self.turn;
        let Some(conn) = self.open(token) else {
            return;
        };
        if conn.served_turn == turn {
            // Once a turn, whatever the events say; the rest next turn.
            return self.schedule(token);
        }
        conn.served_turn = turn;
        self.read(token);
    }

    /// Reads what `token` has sent, until the socket is empty, the
    /// connection has had its share of this turn, or the relay wants no
    /// more for now, and hands it to the relay.
    ///
    /// Every connection reads into the same buffer; the relay copies only
    /// the tail of a frame that has not fully arrived. An idle connection
    /// therefore holds no input memory at all.
    ///
    /// "Empty" means a read said `WouldBlock`, even after a read that did
    /// not fill the buffer. That last read is the price of mio's contract:
    /// on epoll a short read would do (new data raises a new edge), but
    /// mio's poll(2) backend watches the socket again only once a read has
    /// returned `WouldBlock`. Stopping early there leaves a client unheard
    /// for ever. A connection stopped for any other reason is read again
    /// from the backlog, until `WouldBlock`, when its reason is gone.
    fn read(&mut self, token: Token) {
        if self.shutdown_deadline.is_some() {
            return;
        }
        let id = ConnId(token.0);
        let mut buf = std::mem::take(&mut self.read_buf);
        let mut budget = READ_BUDGET;
        let stopped = loop {
            let Some(conn) = self.conns.get_mut(token.0).filter(|c| c.closing.is_none()) else {
                break "closing";
            };
            if !self.relay.may_read(id) {
                // Frames wait to be handled, or the peer has said all it
                // will: leave its input in the kernel until then.
                break "paused (frames wait, or it has said all it will)";
            }
            if budget == 0 {
                // Fairness: come back next turn (the poll will not wait).
                self.schedule(token);
                break "budget for this turn spent";
            }
            let want = buf.len().min(budget);
            match conn.socket.read(&mut buf[..want]) {
                Ok(0) => {
                    self.relay.end_of_input(id);
                    break "end of input";
                }
                Ok(n) => {
                    crate::trace_line!("Client ({}): read() gave {n} bytes", conn.fd);
                    budget -= n;
                    self.relay.input(id, &mut buf[..n]);
                }
                // The socket is empty: the OS will tell us when there is more.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break "WouldBlock",
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    info!("Client ({}): read failed: {e}", conn.fd);
                    self.relay.failed(id);
                    break "error";
                }
            }
        };
        if crate::trace::on() {
            let fd = self.conns.get(token.0).map_or(-1, |c| c.fd);
            let n = READ_BUDGET - budget;
            crate::trace_line!("Client ({fd}): read {n} bytes in all, stopped: {stopped}");
        }
        self.read_buf = buf;
    }

    // ----- end of turn: write, close ---------------------------------------

    /// Writes what the turn produced and closes what it closed, doing what
    /// the relay asks until it asks nothing more. The relay judges its
    /// limits once the turn's output has been offered to the sockets.
    fn end_turn(&mut self) {
        let mut judged = false;
        loop {
            self.apply_effects();
            if self.dirty.is_empty() && self.closing.is_empty() {
                if judged {
                    break;
                }
                judged = true;
                self.relay.end_turn();
                continue;
            }
            self.flush_dirty();
            self.close_marked();
        }
        if let (Some(file), Some(lines)) = (self.transcript.as_mut(), self.relay.transcript_mut()) {
            file.write_from(lines);
        }
        crate::trace_line!(
            "Turn {} done: {} bytes of work",
            self.turn,
            self.relay.work_this_turn()
        );
    }

    fn apply_effects(&mut self) {
        let mut effects = std::mem::take(&mut self.effects);
        self.relay.take_effects(&mut effects);
        for &effect in &effects {
            match effect {
                Effect::Flush(id) => self.mark_dirty(Token(id.0)),
                Effect::Serve(id) => self.schedule(Token(id.0)),
                Effect::Close(id, how) => {
                    if let Some(conn) = self.open(Token(id.0)) {
                        conn.closing = Some(how);
                        self.closing.push(Token(id.0));
                    }
                }
            }
        }
        self.effects = effects;
    }

    /// Writes every connection that got output: one `write` for all it
    /// got this turn, however many messages that was.
    fn flush_dirty(&mut self) {
        for token in std::mem::take(&mut self.dirty) {
            if let Some(conn) = self.conns.get_mut(token.0) {
                conn.dirty = false;
                if conn.closing.is_none() {
                    self.flush(token);
                }
            }
        }
    }

    /// Offers `token`'s socket what waits for it until the socket is full
    /// (`WouldBlock` is not an error here: a writable event will come when
    /// it has room) and tells the relay how much it took.
    fn flush(&mut self, token: Token) {
        let id = ConnId(token.0);
        let Some(conn) = self.conns.get_mut(token.0) else {
            return;
        };
        loop {
            let out = self.relay.outgoing(id);
            if out.is_empty() {
                return;
            }
            match conn.socket.write(out) {
                Ok(0) => {
                    info!("Client ({}): write failed: wrote nothing", conn.fd);
                    return self.relay.failed(id);
                }
                Ok(n) => {
                    let left = out.len() - n;
                    crate::trace_line!(
                        "Client ({}): wrote {n} bytes, {}",
                        conn.fd,
                        if left == 0 {
                            "all of it".to_string()
                        } else {
                            format!("{left} left")
                        }
                    );
                    self.relay.wrote(id, n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    crate::trace_line!(
                        "Client ({}): socket full, {} bytes wait",
                        conn.fd,
                        out.len()
                    );
                    return self.relay.wrote(id, 0);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    info!("Client ({}): write failed: {e}", conn.fd);
                    return self.relay.failed(id);
                }
            }
        }
    }

    /// Closes the connections marked this turn: a last write where that
    /// makes sense, a FIN after it, and the relay told the slot is free.
    fn close_marked(&mut self) {
        for token in std::mem::take(&mut self.closing) {
            let id = ConnId(token.0);
            let Some(mut conn) = self.conns.try_remove(token.0) else {
                continue;
            };
            if matches!(conn.closing, Some(Hangup::Goodbye | Hangup::Finished)) {
                // Best effort, once: the last reply (why we hang up), if
                // any is left.
                let last = self.relay.outgoing(id);
                if !last.is_empty() {
                    let _ = conn.socket.write(last);
                }
            }
            hang_up(&mut conn);
            if let Err(e) = self.poll.registry().deregister(&mut conn.socket) {
                debug!("deregister fd {}: {e}", conn.fd);
            }
            if let Some(how) = conn.closing {
                crate::trace_line!("Client ({}): closed: {}", conn.fd, how.why());
            }
            info!("Client ({}): Disconnecting User.", conn.fd);
            self.forget_address(conn.peer);
            self.relay.closed(id);
        }
    }

    // ----- now and then ----------------------------------------------------

    fn sweep(&mut self) {
        let now = Instant::now();
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + Duration::from_millis(IDLE_SWEEP_MS);
        self.relay.tick();
        self.forget_stale_arrivals();
        self.watch_listeners_again();
        for net in self.accepting.bans.expire(now) {
            warn!(target: crate::relay::LOG_TARGET, "Ban on {net} ended");
        }
        // After a burst (a LIST attack, a flood) the allocator keeps the
        // freed memory for reuse; hand it back to the system once the
        // total has fallen far below its peak, so the resident size comes
        // down again.
        let (total, peak) = self.relay.memory();
        if peak >= HEAP_TRIM_MIN && total <= peak / 4 {
            #[cfg(all(target_os = "linux", target_env = "gnu"))]
            // SAFETY: malloc_trim only returns free heap pages to the system.
            unsafe {
                libc::malloc_trim(0);
            }
        }
    }

    // ----- starting: bind, and what the caller may ask ---------------------

    /// Opens every listener (all or none) and the signal handler.
    pub fn bind(config: &Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let listeners = Server::listen_all(config, &poll)?;
        let max_connections = config.max_connections.unwrap_or_else(|| {
            let fds = raise_fd_limit();
            let max = fds.saturating_sub(RESERVED_FDS).max(1);
            info!("File descriptor limit {fds}: up to {max} connections at once");
            max
        });
        // Signals arrive through a pipe that the poll watches, so a signal
        // is just another event in the loop (no work in a handler).
        let mut signals = Signals::new(signals::HANDLED)?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let admin = match config.admin {
            Some(addr) => Some(admin::Console::bind(addr, poll.registry())?),
            None => None,
        };
        let transcript = match &config.transcript {
            Some(path) => Some(TranscriptFile::open(path)?),
            None => None,
        };
        let mut relay_settings = config.relay.clone();
        relay_settings.transcript = transcript.is_some();
        Ok(Server {
            poll,
            listeners,
            signals,
            conns: Slab::new(),
            relay: Relay::new(relay_settings),
            accepting: Accepting::new(max_connections, config.max_per_ip),
            read_buf: vec![0; READ_CHUNK],
            effects: Vec::new(),
            backlog: Vec::new(),
            dirty: Vec::new(),
            closing: Vec::new(),
            turn: 0,
            next_sweep: Instant::now(),
            shutdown_deadline: None,
            started: Instant::now(),
            admin,
            transcript,
        })
    }

    /// Binds (or adopts, from systemd) every listening socket, in order,
    /// each registered under its own token.
    fn listen_all(config: &Config, poll: &Poll) -> io::Result<Vec<Listener>> {
        let mut listeners = Vec::new();
        for (index, lc) in config.listeners.iter().enumerate() {
            let mut socket = match lc.inherited {
                Some(fd) => systemd::adopt(fd, lc)?,
                None => config::listen(lc.addr)?,
            };
            let token = Token(FIRST_LISTENER - index);
            poll.registry()
                .register(&mut socket, token, Interest::READABLE)?;
            listeners.push(Listener {
                socket,
                protocol: lc.protocol,
            });
        }
        Ok(listeners)
    }

    /// Where the operator console listens, if it does (`--admin`).
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref()?.local_addr()
    }

    /// The address each listener is bound to (the real port when 0 was
    /// asked for).
    pub fn local_addrs(&self) -> Vec<(&'static Protocol, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|l| Some((l.protocol, l.socket.local_addr().ok()?)))
            .collect()
    }
}

/// Sends a FIN after whatever was written, and reads away what the client
/// sent that we will never handle. Closing a socket with unread input makes
/// the kernel send a reset, and a reset can destroy our last reply (the
/// reason we hang up) before the client reads it.
fn hang_up(conn: &mut Connection) {
    let _ = conn.socket.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    for _ in 0..crate::limits::HANG_UP_DRAIN_READS {
        match conn.socket.read(&mut sink) {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
}
