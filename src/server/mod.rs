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
use crate::hub::{Event, Hub, Outbox, Pool, Request};
use crate::limits::{
    ACCEPT_BUDGET, ACCEPT_CALLS, ACCEPT_RETRY_MS, DELIVERY_COST, EVICT_PER_TURN, HIGH_WATER_DIV,
    HOLD_MIN_WORK, IDLE_SWEEP_MS, LISTEN_BACKLOG, LOW_WATER_DIV, MIN_QUEUE, READ_BUDGET,
    READ_CHUNK, RESERVED_FDS, SHUTDOWN_FLUSH_MS, TURN_WORK, TURN_WORK_TOTAL,
};
use connection::{Close, Connection, Tag};
use log::{debug, error, info, trace, warn};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use output::Receipt;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook_mio::v1_0::Signals;
use slab::Slab;
use std::collections::{HashMap, VecDeque};
use std::io::{self, ErrorKind, Read};
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// One listening socket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub protocol: Protocol,
    pub addr: SocketAddr,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listeners: Vec<ListenerConfig>,
    /// Registered users allowed at once over the whole server, every
    /// dialect together. `None`: each dialect has its own default limit,
    /// counted over its own users on all its listeners, so one dialect's
    /// users never lock another's out.
    pub max_users: Option<usize>,
    /// Bytes that may wait in one connection's output buffer.
    pub max_queue: usize,
    /// Bytes all connections together may hold in their buffers.
    pub max_total_queue: usize,
    /// Connections open at once from one address; `None`: no limit.
    pub max_per_ip: Option<usize>,
    /// Close a registered connection that has sent nothing for this long.
    pub idle_timeout: Option<Duration>,
    /// Close a connection that has not registered this long after it
    /// connected.
    pub login_timeout: Option<Duration>,
    /// Open connections allowed at once; more wait in the kernel's accept
    /// queue. `None`: derived from the file descriptor limit.
    pub max_connections: Option<usize>,
    /// Cut off a client that keeps a sender waiting while its socket has
    /// taken nothing for this long.
    pub stall_timeout: Option<Duration>,
}

impl Config {
    /// One listener for `protocol` on `addr`, with its default user limit
    /// and the default limits for everything else.
    pub fn single(protocol: Protocol, addr: SocketAddr) -> Config {
        Config {
            listeners: vec![ListenerConfig { protocol, addr }],
            max_users: None,
            max_queue: crate::limits::DEFAULT_MAX_QUEUE,
            max_total_queue: crate::limits::DEFAULT_MAX_TOTAL_QUEUE,
            max_per_ip: Some(crate::limits::DEFAULT_MAX_PER_IP),
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
    /// The hub's limit on registered users that its connections count in.
    pool: Pool,
}

/// Tokens above every slab key: the signal pipe, then one per listener.
const SIGNALS: Token = Token(usize::MAX);
const FIRST_LISTENER: usize = usize::MAX - 1;

fn listener_token(index: usize) -> Token {
    Token(FIRST_LISTENER - index)
}

/// Binds a listening socket with a deep accept queue
/// ([`LISTEN_BACKLOG`]): mio's `bind` fixes it at 128, and a burst of
/// connects past that is lost (the clients believe they connected).
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Restart at once on the same port, as mio and std do.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
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
    max_total: usize,
    /// Bytes all connections' buffers hold (their `footprint`s).
    total: usize,
    /// The most `total` has been since memory was last given back.
    total_peak: usize,
    /// The loop turn, and its clock: read once per turn.
    turn: u64,
    now: Instant,
    /// Work done so far this turn (see limits.rs, `TURN_WORK_TOTAL`).
    turn_work: usize,
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

    /// The limit on one connection's unread output now: `--max-queue`
    /// while the server as a whole has room, shrinking towards
    /// [`MIN_QUEUE`] as the total passes half its budget.
    fn limit(&self) -> usize {
        let half = self.max_total / 2;
        let floor = MIN_QUEUE.min(self.max_queue);
        if self.total <= half || half == 0 {
            return self.max_queue;
        }
        let left = self.max_total.saturating_sub(self.total) as u128;
        let scaled = self.max_queue as u128 * left / half as u128;
        (scaled as usize).max(floor)
    }

    /// A recipient above this holds back the senders filling it.
    fn high_water(&self) -> usize {
        self.limit() / HIGH_WATER_DIV
    }

    /// Counts what `token`'s buffers hold now into the total.
    fn account(&mut self, token: Token) {
        if let Some(conn) = self.slab.get_mut(token.0) {
            let now = conn.memory();
            self.total = self.total - conn.footprint + now;
            self.total_peak = self.total_peak.max(self.total);
            conn.footprint = now;
        }
    }

    /// Queues `bytes` for `token`. `None` if they were not queued; else
    /// whether its queue is now over the high water mark.
    ///
    /// A client is cut off as not reading only if what waits for it would
    /// pass its limit even after its socket has been offered it: a turn's
    /// output is built before it is written, so judging the queue alone
    /// would cut off readers that are keeping up. Its answers to its own
    /// requests (`own`) are never refused: a reply always gets through,
    /// and back-pressure stops it asking for more meanwhile.
    fn queue(&mut self, token: Token, bytes: &[u8], own: bool) -> Option<bool> {
        let (limit, now) = (self.limit(), self.now);
        let conn = self.slab.get_mut(token.0).filter(|c| c.closing.is_none())?;
        if !own && conn.out.pending() + bytes.len() > limit {
            if let Err(e) = conn.out.write_to(&mut conn.socket, now) {
                info!("Client ({}): write failed: {e}", conn.fd);
                self.close(token, Close::Failed);
                return None;
            }
            if conn.out.pending() + bytes.len() > limit {
                warn!(
                    "Client ({}): Output queue over {limit} bytes (client not reading). Disconnecting User.",
                    conn.fd
                );
                self.cut_off(token);
                return None;
            }
        }
        let capacity = conn.out.capacity();
        conn.out.push(bytes);
        // The hot path: memory is counted again only when the buffer grew
        // (touching the count's fields on every push cost a cache miss per
        // recipient of a broadcast).
        if conn.out.capacity() != capacity {
            let memory = conn.memory();
            self.total = self.total - conn.footprint + memory;
            self.total_peak = self.total_peak.max(self.total);
            conn.footprint = memory;
        }
        if !conn.dirty {
            conn.dirty = true;
            self.dirty.push(token);
        }
        Some(conn.out.pending() > limit / HIGH_WATER_DIV)
    }

    /// Closes a client that is not reading: what it was sent is thrown
    /// away now (its memory counts no more), and senders waiting on it are
    /// told at the end of the turn that their messages never arrived.
    fn cut_off(&mut self, token: Token) {
        if let Some(conn) = self.open_mut(token) {
            conn.out.discard();
            conn.partial = Vec::new();
            self.account(token);
            self.close(token, Close::SlowConsumer);
        }
    }

    fn close(&mut self, token: Token, why: Close) {
        if let Some(conn) = self.slab.get_mut(token.0) {
            if conn.closing.is_none() {
                conn.close(why);
                self.closing.push(token);
            }
        }
    }

    /// Counts work done for `sender` this turn (its budget, the loop's
    /// budget, and its recent work for back-pressure).
    fn charge(&mut self, sender: Token, cost: usize) {
        let turn = self.turn;
        self.turn_work += cost;
        if let Some(conn) = self.slab.get_mut(sender.0) {
            if conn.work_turn != turn {
                conn.work_turn = turn;
                conn.work = 0;
            }
            conn.work += cost;
            conn.recent_work = conn.recent_work.saturating_add(cost);
        }
    }

    /// Whether `token` has had its share of this turn, or the turn all it
    /// may do.
    fn out_of_work(&self, token: Token) -> bool {
        let own = self
            .slab
            .get(token.0)
            .is_some_and(|c| c.work_turn == self.turn && c.work >= TURN_WORK);
        own || self.turn_work >= TURN_WORK_TOTAL
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
    /// The connection whose request is being handled: its work is counted,
    /// and answers to it are its own replies.
    sender: Option<Token>,
    /// Work the request being handled has caused so far.
    work: usize,
    /// Connections to serve next turn, each once, in the order they came:
    /// their read budget or their share of a turn's work ran out, or a
    /// receipt or a drained backlog lets them go on. Edge-triggered
    /// readiness will not tell us again about input already waiting.
    backlog: Vec<Token>,
    /// Listeners whose accept budget ran out this turn: more may wait.
    accept_more: Vec<usize>,
    /// Receipts reached this turn, waiting to be told to their senders.
    receipts: Vec<(Receipt, bool)>,
    next_serial: u64,
    /// Connections open from each address, for `--max-per-ip`.
    per_ip: HashMap<IpAddr, usize>,
    max_per_ip: Option<usize>,
    /// Connections in the order they were accepted, for making room when
    /// full: the oldest that has not registered goes first. Entries for
    /// connections that have registered or closed are skipped.
    arrivals: VecDeque<Tag>,
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

/// The signals the server handles. SIGHUP is what a grader's terminal
/// sends when it closes, and SIGQUIT a request to quit: both stop the
/// server as SIGTERM does, flushing first. SIGUSR1 and SIGUSR2 are logged
/// and otherwise ignored, rather than killing the process.
const HANDLED_SIGNALS: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

impl Server {
    /// Opens every listener (all or none) and the signal handler.
    pub fn bind(config: &Config) -> io::Result<Server> {
        let poll = Poll::new()?;
        let mut hub = Hub::new();
        // One limit for all dialects when --max-users is given, else one
        // per dialect, shared by its listeners.
        let shared = config.max_users.map(|n| hub.add_pool(n));
        let mut pools: Vec<(Protocol, Pool)> = Vec::new();
        let mut listeners = Vec::new();
        for (index, lc) in config.listeners.iter().enumerate() {
            let mut socket = listen(lc.addr).map_err(|e| bind_error(lc.addr, e))?;
            poll.registry()
                .register(&mut socket, listener_token(index), Interest::READABLE)?;
            let pool = match (shared, pools.iter().find(|(p, _)| *p == lc.protocol)) {
                (Some(pool), _) => pool,
                (None, Some(&(_, pool))) => pool,
                (None, None) => {
                    let pool = hub.add_pool(lc.protocol.default_max_users());
                    pools.push((lc.protocol, pool));
                    pool
                }
            };
            listeners.push(Listener {
                socket,
                protocol: lc.protocol,
                pool,
            });
        }
        let max_connections = config.max_connections.unwrap_or_else(|| {
            let fds = raise_fd_limit();
            let max = fds.saturating_sub(RESERVED_FDS).max(1);
            info!("File descriptor limit {fds}: up to {max} connections at once");
            max
        });
        // Signals arrive through a pipe that the poll watches, so a signal
        // is just another event in the loop (no work in a handler).
        let mut signals = Signals::new(HANDLED_SIGNALS)?;
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
                max_total: config.max_total_queue,
                total: 0,
                total_peak: 0,
                turn: 0,
                now: Instant::now(),
                turn_work: 0,
            },
            hub,
            outbox: Outbox::new(),
            read_buf: vec![0; READ_CHUNK],
            reply: Vec::new(),
            rendered: Vec::new(),
            sender: None,
            work: 0,
            backlog: Vec::new(),
            accept_more: Vec::new(),
            receipts: Vec::new(),
            next_serial: 0,
            per_ip: HashMap::new(),
            max_per_ip: config.max_per_ip,
            arrivals: VecDeque::new(),
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

    /// Runs the loop until a signal asks it to stop.
    pub fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            match self.poll.poll(&mut events, self.poll_timeout()) {
                Ok(()) => {}
                // A signal interrupted the wait: nothing happened, go round.
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
            self.conns.turn += 1;
            self.conns.now = Instant::now();
            self.conns.turn_work = 0;
            trace!("Turn {}: {} events", self.conns.turn, events.iter().count());
            // Those left over from the last turn go first: a connection
            // deferred because the turn ran out of work is not deferred
            // again behind newcomers.
            self.serve_backlog();
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
                        if event.is_error() {
                            // Reset by the peer, or failed: nothing more can
                            // be read or written, even if we were not going
                            // to read it now (held back, or waiting).
                            self.on_socket_error(token);
                            continue;
                        }
                        let hup = event.is_read_closed();
                        if event.is_readable() || hup {
                            self.serve(token, hup);
                        }
                    }
                }
            }
            for index in std::mem::take(&mut self.accept_more) {
                self.accept(index);
            }
            self.resume_accepting();
            self.sweep();
            self.end_turn();
            trace!(
                "Turn {}: {} bytes of work",
                self.conns.turn,
                self.conns.turn_work
            );
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
        if !self.backlog.is_empty() || !self.accept_more.is_empty() {
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

    fn on_socket_error(&mut self, token: Token) {
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        let why = match conn.socket.take_error() {
            Ok(Some(e)) => e.to_string(),
            Ok(None) => "no error reported".to_string(),
            Err(e) => e.to_string(),
        };
        info!("Client ({}): connection failed: {why}", conn.fd);
        self.conns.close(token, Close::Failed);
    }

    /// Puts `token` on the backlog for next turn, once.
    fn schedule(&mut self, token: Token) {
        if let Some(conn) = self.conns.slab.get_mut(token.0) {
            if !conn.in_backlog {
                conn.in_backlog = true;
                self.backlog.push(token);
            }
        }
    }

    fn serve_backlog(&mut self) {
        for token in std::mem::take(&mut self.backlog) {
            if let Some(conn) = self.conns.slab.get_mut(token.0) {
                conn.in_backlog = false;
                self.resume(token);
            }
        }
    }

    // ----- accepting -------------------------------------------------------

    /// Accepts up to [`ACCEPT_BUDGET`] waiting connections (those refused
    /// at once, over `--max-per-ip`, cost little and count only towards
    /// [`ACCEPT_CALLS`], so a connect flood from one address does not keep
    /// everyone else waiting in the kernel's queue). Readiness is
    /// edge-triggered, so a listener with more left is served again next
    /// turn (see `accept_more`); the slice per turn keeps a connection
    /// flood from starving the clients already connected.
    fn accept(&mut self, index: usize) {
        if self.accept_paused_until.is_some() {
            return;
        }
        let mut kept = 0;
        for attempt in 0..ACCEPT_CALLS {
            if kept == ACCEPT_BUDGET {
                break;
            }
            let Some(listener) = self.listeners.get(index) else {
                return;
            };
            if self.conns.slab.len() >= self.max_connections {
                // New clients wait in the kernel's queue until one leaves.
                if !self.at_capacity {
                    warn!(
                        "{} connections open, the limit: not accepting until one closes",
                        self.conns.slab.len()
                    );
                    self.at_capacity = true;
                }
                // Someone is waiting (the listener said so, and we have
                // accepted no one since): the oldest connections that have
                // not registered make room for them.
                if attempt == 0 {
                    self.make_room();
                }
                return;
            }
            match listener.socket.accept() {
                Ok((socket, peer)) => kept += usize::from(self.add_connection(index, socket, peer)),
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
        if !self.accept_more.contains(&index) {
            self.accept_more.push(index);
        }
    }

    /// At the connection limit with clients waiting: closes the oldest
    /// connections that have not registered, so a newcomer can get in
    /// while a flood of idle connections holds every slot.
    fn make_room(&mut self) {
        let mut evicted = 0;
        while evicted < EVICT_PER_TURN {
            let Some((token, serial)) = self.arrivals.pop_front() else {
                return;
            };
            let registered = self.hub.name(token).is_some();
            let Some(conn) = self.conns.open_mut(token) else {
                continue;
            };
            if conn.serial != serial || registered {
                continue;
            }
            warn!(
                "Client ({}): Server full; making room for a newcomer. Disconnecting User.",
                conn.fd
            );
            self.conns.close(token, Close::Goodbye);
            evicted += 1;
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

    /// Takes an accepted connection in; `false` if it was refused at once.
    fn add_connection(&mut self, index: usize, mut socket: TcpStream, peer: SocketAddr) -> bool {
        let listener = &self.listeners[index];
        let (protocol, pool) = (listener.protocol, listener.pool);
        let ip = peer.ip().to_canonical();
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        if self.max_per_ip.is_some_and(|max| from_ip >= max) {
            // Accepted only to be closed: left in the kernel's queue it
            // would hold a place there.
            warn!(
                "Connection from {ip} refused: {from_ip} already open from that address (--max-per-ip)"
            );
            let _ = socket.shutdown(Shutdown::Both);
            return false;
        }
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
            return false;
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
        *self.per_ip.entry(ip).or_default() += 1;
        self.arrivals.push_back((token, self.next_serial));
        let open = Request::Open { fd, pool };
        self.hub.handle(token, open, &mut self.outbox);
        self.deliver();
        true
    }

    // ----- the sweep -------------------------------------------------------

    /// Now and then: closes connections past a deadline (`login_timeout`
    /// since connecting for those without a name, `idle_timeout` of
    /// silence for the others) and those that keep a sender waiting while
    /// they read nothing (`stall_timeout`); gives back buffer memory.
    fn sweep(&mut self) {
        let now = self.conns.now;
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now + Duration::from_millis(IDLE_SWEEP_MS);
        let (mut late, mut idle, mut stalled) = (Vec::new(), Vec::new(), Vec::new());
        for (key, conn) in self.conns.slab.iter_mut() {
            let token = Token(key);
            conn.out.trim();
            conn.recent_work /= 2;
            if conn.closing.is_some() {
                continue;
            }
            let waited_on = conn.out.has_marks() || !conn.waiters.is_empty();
            let stuck = conn.out.stuck_for(now);
            if waited_on && self.stall_timeout.is_some_and(|t| stuck >= t) {
                stalled.push(token);
            }
            if self.hub.name(token).is_none() {
                let age = now.duration_since(conn.connected_at);
                if self.login_timeout.is_some_and(|t| age >= t) {
                    late.push(token);
                }
            } else {
                // A client held behind a receipt or a backlog is not
                // silent by choice.
                let silent = now.duration_since(conn.last_input);
                if conn.may_handle() && self.idle_timeout.is_some_and(|t| silent >= t) {
                    idle.push(token);
                }
            }
        }
        for token in self
            .conns
            .slab
            .iter()
            .map(|(k, _)| Token(k))
            .collect::<Vec<_>>()
        {
            self.conns.account(token);
        }
        for token in late {
            if let Some(conn) = self.conns.open_mut(token) {
                let secs = now.duration_since(conn.connected_at).as_secs();
                info!(
                    "Client ({}): Not registered after {secs} s. Disconnecting User.",
                    conn.fd
                );
                self.conns.close(token, Close::Goodbye);
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
            if !self.is_waited_on(token) {
                continue;
            }
            if let Some(conn) = self.conns.open_mut(token) {
                warn!(
                    "Client ({}): Not reading while a sender waits on it. Disconnecting User.",
                    conn.fd
                );
                // Its unreached marks tell their senders: never delivered.
                self.conns.cut_off(token);
            }
        }
        self.forget_stale_arrivals();
        self.give_memory_back();
    }

    /// Whether a sender really waits on `token`: a receipt, or a held
    /// sender that is still the connection it was and still held by it.
    fn is_waited_on(&mut self, token: Token) -> bool {
        let Some(conn) = self.conns.slab.get(token.0) else {
            return false;
        };
        let me = conn.tag(token);
        let live = |&(w, serial): &Tag, slab: &Slab<Connection>| {
            slab.get(w.0)
                .is_some_and(|c| c.serial == serial && c.held_by == Some(me))
        };
        let waiters = std::mem::take(&mut self.conns.slab[token.0].waiters);
        let waiters: Vec<Tag> = waiters
            .into_iter()
            .filter(|t| live(t, &self.conns.slab))
            .collect();
        let conn = &mut self.conns.slab[token.0];
        conn.waiters = waiters;
        conn.out.has_marks() || !conn.waiters.is_empty()
    }

    /// Drops the arrivals that can no longer be evicted, so the list stays
    /// about as long as the number of connections.
    fn forget_stale_arrivals(&mut self) {
        if self.arrivals.len() <= 2 * self.conns.slab.len() + 1024 {
            return;
        }
        let (slab, hub) = (&self.conns.slab, &self.hub);
        self.arrivals.retain(|&(token, serial)| {
            slab.get(token.0).is_some_and(|c| c.serial == serial) && hub.name(token).is_none()
        });
    }

    /// After a burst (a LIST attack, a flood), the allocator keeps the
    /// freed memory for reuse; hand it back to the system once the total
    /// has fallen far below its peak, so the server's resident size comes
    /// down again.
    fn give_memory_back(&mut self) {
        const WORTH_IT: usize = 16 << 20;
        if self.conns.total_peak < WORTH_IT || self.conns.total > self.conns.total_peak / 4 {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only returns free heap pages to the system.
        unsafe {
            libc::malloc_trim(0);
        }
        self.conns.total_peak = self.conns.total;
    }

    // ----- reading ---------------------------------------------------------

    /// A readiness event for `token`: reads it, at most once a turn.
    fn serve(&mut self, token: Token, hup: bool) {
        let (turn, out_of_work) = (self.conns.turn, self.conns.out_of_work(token));
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        if conn.served_turn == turn || out_of_work {
            // Once a turn, whatever the events say; the rest next turn.
            self.schedule(token);
            return;
        }
        conn.served_turn = turn;
        self.read(token, hup);
    }

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
        let now = self.conns.now;
        let fd = self.conns.slab.get(token.0).map_or(-1, |c| c.fd);
        let stopped = loop {
            let Some(conn) = self.conns.open_mut(token) else {
                break "closing";
            };
            if !conn.may_read() {
                // Frames wait to be handled, a receipt or a backlog holds
                // it, or the peer has said all it will: leave its input in
                // the kernel until we can act on it.
                break "waiting";
            }
            if budget == 0 {
                // Fairness: come back next turn (the poll will not wait).
                self.schedule(token);
                break "budget";
            }
            let want = buf.len().min(budget);
            match conn.socket.read(&mut buf[..want]) {
                Ok(0) => {
                    self.on_eof(token);
                    break "end of input";
                }
                Ok(n) => {
                    budget -= n;
                    conn.last_input = now;
                    self.on_bytes(token, &mut buf[..n]);
                    if n < want && !until_would_block {
                        break "short read";
                    }
                }
                // The socket is empty: the OS will tell us when there is more.
                Err(e) if e.kind() == ErrorKind::WouldBlock => break "would block",
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    info!("Client ({}): read failed: {e}", conn.fd);
                    self.conns.close(token, Close::Failed);
                    break "error";
                }
            }
        };
        trace!(
            "Client ({fd}): read {} bytes, stopped: {stopped}",
            READ_BUDGET - budget
        );
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
            let reply = std::mem::take(&mut self.reply);
            self.conns.queue(token, &reply, true);
            self.reply = reply;
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
            self.conns.account(token);
        }
        self.enforce_budget();
    }

    /// Handles every complete frame in `input` that it may handle now;
    /// returns how much of it was used. What is left is kept: the start of
    /// a frame still arriving, or frames that must wait.
    ///
    /// A connection waiting for a receipt stops here: its next request
    /// would otherwise be answered before the one still in flight, and the
    /// line protocols have no way to match answers to requests but order.
    /// So does one held back by a recipient's backlog, and one that has
    /// had its share of this turn's work.
    fn on_frames(&mut self, token: Token, input: &[u8]) -> usize {
        let mut pos = 0;
        loop {
            let out_of_work = self.conns.out_of_work(token);
            let Some(conn) = self.conns.open_mut(token) else {
                // Closed by one of its own frames (QUIT): the rest is not read.
                return input.len();
            };
            if !conn.may_handle() || out_of_work {
                conn.has_kept = pos < input.len();
                if out_of_work && conn.may_handle() {
                    self.schedule(token);
                }
                return pos;
            }
            let (used, frame) = conn.session.next_frame(&input[pos..]);
            pos += used;
            match frame {
                Some(frame) => self.on_frame(token, frame),
                None => {
                    conn.has_kept = false;
                    return pos;
                }
            }
        }
    }

    /// Handles the frames a connection kept, then reads on.
    fn resume(&mut self, token: Token) {
        let turn = self.conns.turn;
        let Some(conn) = self.conns.open_mut(token) else {
            return;
        };
        if conn.served_turn == turn {
            self.schedule(token);
            return;
        }
        conn.served_turn = turn;
        if self.handle_kept(token) {
            // No event told us how much is there: read until it says.
            self.read(token, true);
        }
    }

    /// Handles the complete frames kept in `partial`. Returns whether the
    /// connection may go on reading: not if it must wait again, is
    /// closing, or the peer has closed (then its end is dealt with here).
    fn handle_kept(&mut self, token: Token) -> bool {
        let Some(conn) = self.conns.open_mut(token) else {
            return false;
        };
        if !conn.may_handle() {
            return false;
        }
        let mut partial = std::mem::take(&mut conn.partial);
        let used = self.on_frames(token, &partial);
        partial.drain(..used);
        let Some(conn) = self.conns.open_mut(token) else {
            return false;
        };
        conn.partial = partial;
        self.conns.account(token);
        let Some(conn) = self.conns.open_mut(token) else {
            return false;
        };
        if !conn.may_handle() || conn.has_kept {
            return false;
        }
        if conn.read_closed {
            self.finish_input(token);
            return false;
        }
        true
    }

    /// The peer closed its side. What it sent before still counts: frames
    /// kept while it waited, then a last unterminated one. The connection
    /// is closed once everything it asked for is answered and written (a
    /// client may half-close and still read).
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
        self.conns.account(token);
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
        self.sender = Some(token);
        if !self.reply.is_empty() {
            let reply = std::mem::take(&mut self.reply);
            self.work += reply.len();
            if self.conns.queue(token, &reply, true) == Some(true) {
                self.hold_if_backed_up(token);
            }
            self.reply = reply;
        }
        match action {
            Action::Done(After::Keep) => {}
            Action::Done(After::Close) => self.conns.close(token, Close::Goodbye),
            Action::Request(request) => {
                self.hub.handle(token, request, &mut self.outbox);
                self.deliver();
            }
        }
        // Counted once per request, not per recipient.
        let work = std::mem::take(&mut self.work);
        self.conns.charge(token, work);
        self.sender = None;
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
        self.enforce_budget();
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
        let own = self.sender == Some(token);
        if self.sender.is_some() {
            self.work += bytes.len() + DELIVERY_COST;
        }
        let queued = if bytes.is_empty() {
            Some(false)
        } else {
            self.conns.queue(token, bytes, own)
        };
        if *after == After::Close {
            self.conns.close(token, Close::Goodbye);
        }
        if queued == Some(true) {
            self.hold_if_backed_up(token);
        }
        let queued = queued.is_some();
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

    /// Back-pressure: if `recipient` now has more waiting than its high
    /// water mark, the sender of the request being handled stops being
    /// read until the recipient drains (or is cut off). Only a sender that
    /// has done much lately, or one filling its own queue with replies it
    /// does not read, is held: someone who typed one line is not.
    fn hold_if_backed_up(&mut self, recipient: Token) {
        let Some(sender) = self.sender else {
            return;
        };
        let high_water = self.conns.high_water();
        let Some(r) = self.conns.open_mut(recipient) else {
            return;
        };
        if r.out.pending() <= high_water {
            return;
        }
        let r_tag = r.tag(recipient);
        let Some(s) = self.conns.open_mut(sender) else {
            return;
        };
        if s.held_by.is_some() || (sender != recipient && s.recent_work < HOLD_MIN_WORK) {
            return;
        }
        s.held_by = Some(r_tag);
        let s_tag = s.tag(sender);
        self.conns.slab[recipient.0].waiters.push(s_tag);
    }

    /// Lets go the senders held behind `token`'s backlog.
    fn wake_waiters(&mut self, token: Token) {
        let Some(conn) = self.conns.slab.get_mut(token.0) else {
            return;
        };
        let me = conn.tag(token);
        for (w, serial) in std::mem::take(&mut conn.waiters) {
            if let Some(waiter) = self.conns.slab.get_mut(w.0) {
                if waiter.serial == serial && waiter.held_by == Some(me) {
                    waiter.held_by = None;
                    self.schedule(w);
                }
            }
        }
    }

    /// Keeps the buffers of all connections within `--max-total-queue`:
    /// while over it, the connection with the most unread bytes is cut off,
    /// so one attacker's thousands of connections cannot take the machine's
    /// memory, and the clients that read (holding little) are the last to
    /// go.
    fn enforce_budget(&mut self) {
        while self.conns.total > self.conns.max_total {
            let largest = self
                .conns
                .slab
                .iter()
                .filter(|(_, c)| c.closing.is_none())
                .max_by_key(|(_, c)| c.unread())
                .map(|(k, c)| (Token(k), c.fd, c.unread()));
            let Some((token, fd, unread)) = largest else {
                return;
            };
            warn!(
                "Client ({fd}): Server over its {} byte budget; this client has {unread} bytes unread, the most. Disconnecting User.",
                self.conns.max_total
            );
            self.conns.cut_off(token);
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
        let go_on = conn.may_handle();
        let protocol = conn.session.protocol();
        protocol.log_event(conn.fd, &event);
        if go_on {
            self.schedule(sender);
        }
        let mut bytes = std::mem::take(&mut self.reply);
        bytes.clear();
        if protocol.render(&event, &mut bytes) == After::Close {
            self.conns.close(sender, Close::Goodbye);
        }
        if !bytes.is_empty() {
            self.conns.queue(sender, &bytes, true);
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
        let (now, low_water) = (self.conns.now, self.conns.limit() / LOW_WATER_DIV);
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
            let written = conn.out.write_to(&mut conn.socket, now);
            let drained = conn.out.pending() <= low_water && !conn.waiters.is_empty();
            if let Err(e) = written {
                info!("Client ({}): write failed: {e}", conn.fd);
                self.conns.close(token, Close::Failed);
            } else if drained {
                self.wake_waiters(token);
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
        let now = self.conns.now;
        while let Some(token) = self.conns.closing.pop() {
            let Some(conn) = self.conns.slab.get_mut(token.0) else {
                continue;
            };
            let why = conn.closing.unwrap_or(Close::Failed);
            if matches!(why, Close::Goodbye | Close::PeerClosed) {
                // Best effort, once: the last reply (why we hang up).
                let _ = conn.out.write_to(&mut conn.socket, now);
            }
            self.take_receipts(token);
            self.wake_waiters(token);
            self.conns.total -= self.conns.slab.get(token.0).map_or(0, |c| c.footprint);
            let Some(mut conn) = self.conns.slab.try_remove(token.0) else {
                continue;
            };
            let ip = conn.peer.ip().to_canonical();
            if let Some(n) = self.per_ip.get_mut(&ip) {
                *n -= 1;
                if *n == 0 {
                    self.per_ip.remove(&ip);
                }
            }
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
        let mut stop = None;
        for signal in self.signals.pending() {
            match signal {
                SIGUSR1 | SIGUSR2 => info!("Received signal {signal}: nothing to do; ignored"),
                _ => stop = stop.or(Some(signal)),
            }
        }
        if let (Some(signal), None) = (stop, self.shutdown_deadline) {
            info!(
                "Received signal {signal}. Shutting down: no new connections; flushing queued output"
            );
            for mut listener in self.listeners.drain(..) {
                let _ = self.poll.registry().deregister(&mut listener.socket);
            }
            self.accept_more.clear();
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
