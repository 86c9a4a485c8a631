//! The operator console's sockets (`--admin HOST:PORT`): a listener of its
//! own, which no dialect sees, and a few line-based sessions on it. What
//! the commands mean and how answers look is `admin.rs`; this file reads
//! lines, runs them against the server, and writes the answers.
//!
//! The console has no password: whoever can connect to it is the
//! operator. That is why it listens on loopback unless the instructor
//! says otherwise (`--admin-allow-remote`), and why a session is bounded
//! like any client: its input line, the answers it leaves unread, and how
//! many commands one turn runs for it.

use super::{Server, Token};
use crate::admin::{self, Command, Stats, WhoLine};
use crate::limits::{
    ADMIN_COMMANDS_PER_TURN, ADMIN_LINE_MAX, ADMIN_MAX_SESSIONS, ADMIN_OUT_MAX,
    ADMIN_READS_PER_TURN,
};
use crate::relay::{ConnId, Hangup, LOG_TARGET};
use log::{info, warn};
use mio::net::{TcpListener, TcpStream};
use mio::Interest;
use slab::Slab;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

/// The console's listener, and its sessions above it: far from the
/// connections' slab keys below and the listeners' tokens at the top.
const LISTENER: Token = Token(usize::MAX / 2);
const FIRST_SESSION: usize = usize::MAX / 2 + 1;

const TARGET: &str = "pollchat::admin";

pub struct Console {
    listener: TcpListener,
    sessions: Slab<Session>,
    /// Sessions with lines left over from their turn's share.
    backlog: Vec<usize>,
}

struct Session {
    socket: TcpStream,
    peer: SocketAddr,
    /// The start of a line still arriving.
    input: Vec<u8>,
    /// The current line was too long: skip to its end.
    skipping: bool,
    /// Answers not written yet.
    out: Vec<u8>,
    /// QUIT, or the peer closed: close once `out` is written.
    done: bool,
}

impl Console {
    /// Listens on `addr` and watches it.
    pub fn bind(addr: SocketAddr, registry: &mio::Registry) -> io::Result<Console> {
        let mut listener = super::config::listen(addr)?;
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(Console {
            listener,
            sessions: Slab::new(),
            backlog: Vec::new(),
        })
    }

    pub fn owns(token: Token) -> bool {
        token.0 >= LISTENER.0 && token.0 < FIRST_SESSION + ADMIN_MAX_SESSIONS
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Some session has lines waiting: the loop must not sleep.
    pub fn busy(&self) -> bool {
        !self.backlog.is_empty()
    }
}

impl Server {
    /// A readiness event for the console's listener or one of its sessions.
    pub(super) fn on_admin_event(&mut self, token: Token, event: &mio::event::Event) {
        if token == LISTENER {
            return self.admin_accept();
        }
        let key = token.0 - FIRST_SESSION;
        if event.is_writable() {
            self.admin_flush(key);
        }
        if event.is_readable() || event.is_read_closed() {
            self.admin_serve(key);
        }
    }

    /// Sessions whose lines waited for this turn.
    pub(super) fn admin_backlog(&mut self) {
        let Some(console) = self.admin.as_mut() else {
            return;
        };
        for key in std::mem::take(&mut console.backlog) {
            self.admin_serve(key);
        }
    }

    fn admin_accept(&mut self) {
        let Some(console) = self.admin.as_mut() else {
            return;
        };
        loop {
            let (mut socket, peer) = match console.listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::ConnectionAborted => continue,
                Err(e) => {
                    // Out of descriptors: the next event tries again.
                    warn!(target: TARGET, "operator console: accept: {e}");
                    return;
                }
            };
            if console.sessions.len() >= ADMIN_MAX_SESSIONS {
                let _ = socket.write(b"ERR too many operator sessions\n");
                let _ = socket.shutdown(Shutdown::Both);
                warn!(target: TARGET, "Operator ({peer}): refused: {ADMIN_MAX_SESSIONS} sessions open");
                continue;
            }
            let entry = console.sessions.vacant_entry();
            let token = Token(FIRST_SESSION + entry.key());
            let interest = Interest::READABLE | Interest::WRITABLE;
            if let Err(e) = self.poll.registry().register(&mut socket, token, interest) {
                warn!(target: TARGET, "operator console: register {peer}: {e}");
                continue;
            }
            info!(target: TARGET, "Operator ({peer}): connected");
            entry.insert(Session {
                socket,
                peer,
                input: Vec::new(),
                skipping: false,
                out: Vec::new(),
                done: false,
            });
        }
    }

    /// Reads what a session sent (until `WouldBlock`, as mio asks), runs
    /// its complete lines, at most [`ADMIN_COMMANDS_PER_TURN`] of them,
    /// and writes the answers.
    fn admin_serve(&mut self, key: usize) {
        let mut ran = 0;
        let mut answers = String::new();
        let mut quit = false;
        while let Some(line) = self.admin_next_line(key) {
            if ran == ADMIN_COMMANDS_PER_TURN {
                // The rest next turn; the line goes back in front.
                self.admin_unread(key, line);
                if let Some(console) = self.admin.as_mut() {
                    if !console.backlog.contains(&key) {
                        console.backlog.push(key);
                    }
                }
                break;
            }
            ran += 1;
            if !self.admin_run(key, &line, &mut answers) {
                quit = true;
                break;
            }
        }
        let Some(session) = self.admin.as_mut().and_then(|c| c.sessions.get_mut(key)) else {
            return;
        };
        session.out.extend_from_slice(answers.as_bytes());
        session.done |= quit;
        self.admin_flush(key);
    }

    /// The next complete line of a session, reading more when none is
    /// buffered. `None`: no whole line yet (or the session is gone).
    fn admin_next_line(&mut self, key: usize) -> Option<String> {
        let console = self.admin.as_mut()?;
        let session = console.sessions.get_mut(key)?;
        let mut reads = 0;
        loop {
            if let Some(end) = session.input.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = session.input.drain(..=end).collect();
                if std::mem::take(&mut session.skipping) {
                    continue;
                }
                let text = String::from_utf8_lossy(&line);
                return Some(text.trim_end_matches(['\n', '\r']).to_string());
            }
            if session.input.len() > ADMIN_LINE_MAX {
                session.input.clear();
                if !session.skipping {
                    session.skipping = true;
                    session.out.extend_from_slice(b"ERR line too long\n");
                }
            }
            if session.done {
                return None;
            }
            if reads == ADMIN_READS_PER_TURN {
                // A fast sender without line ends: the rest next turn.
                if !console.backlog.contains(&key) {
                    console.backlog.push(key);
                }
                return None;
            }
            reads += 1;
            let mut chunk = [0u8; 4096];
            match session.socket.read(&mut chunk) {
                Ok(0) => {
                    session.done = true;
                    return None;
                }
                Ok(n) => session.input.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return None,
                Err(e) => {
                    info!(target: TARGET, "Operator ({}): read failed: {e}", session.peer);
                    session.done = true;
                    session.out.clear();
                    return None;
                }
            }
        }
    }

    fn admin_unread(&mut self, key: usize, line: String) {
        if let Some(session) = self.admin.as_mut().and_then(|c| c.sessions.get_mut(key)) {
            let mut input = line.into_bytes();
            input.push(b'\n');
            input.append(&mut session.input);
            session.input = input;
        }
    }

    /// Writes a session's answers until its socket is full; closes it once
    /// it is done and everything is written, or when it leaves more unread
    /// than [`ADMIN_OUT_MAX`].
    fn admin_flush(&mut self, key: usize) {
        let Some(console) = self.admin.as_mut() else {
            return;
        };
        let Some(session) = console.sessions.get_mut(key) else {
            return;
        };
        let mut failed = false;
        while !session.out.is_empty() {
            match session.socket.write(&session.out) {
                Ok(0) => failed = true,
                Ok(n) => {
                    session.out.drain(..n);
                    continue;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(_) => failed = true,
            }
            break;
        }
        if session.out.len() > ADMIN_OUT_MAX {
            warn!(target: TARGET, "Operator ({}): not reading its answers; closed", session.peer);
            failed = true;
        }
        if failed || (session.done && session.out.is_empty()) {
            let mut session = console.sessions.remove(key);
            console.backlog.retain(|&k| k != key);
            let _ = self.poll.registry().deregister(&mut session.socket);
            let _ = session.socket.shutdown(Shutdown::Both);
            info!(target: TARGET, "Operator ({}): disconnected", session.peer);
        }
    }

    /// Runs one command line, appending its answer; false for QUIT.
    fn admin_run(&mut self, key: usize, line: &str, out: &mut String) -> bool {
        let peer = self
            .admin
            .as_ref()
            .and_then(|c| c.sessions.get(key))
            .map(|s| s.peer);
        let peer = peer.map_or("?".to_string(), |p| p.to_string());
        info!(target: TARGET, "Operator ({peer}): {}", crate::text::shown(line.as_bytes()));
        let command = match admin::parse(line) {
            Ok(command) => command,
            Err(why) => {
                out.push_str(&format!("ERR {why}\n"));
                return true;
            }
        };
        match command {
            Command::Stats => self.stats().render(out),
            Command::Who => self.who(out),
            Command::Help => {
                out.push_str(admin::HELP);
                out.push_str("OK\n");
            }
            Command::Quit => {
                out.push_str("OK bye\n");
                return false;
            }
            Command::Kick { name, reason } => match self.relay.kick(name, reason) {
                Some(fd) => out.push_str(&format!("OK kicked {name} (fd {fd})\n")),
                None => out.push_str(&format!(
                    "ERR no user named '{}'\n",
                    crate::text::shown(name.as_bytes())
                )),
            },
            Command::Ban { net, minutes } => {
                let until = minutes.map(|m| Instant::now() + Duration::from_secs(m * 60));
                self.accepting.bans.add(net, until);
                let closed = self.close_banned(net);
                let span =
                    minutes.map_or("until UNBAN".to_string(), |m| format!("for {m} minutes"));
                warn!(target: LOG_TARGET, "Banned {net} {span}: {closed} connections closed");
                out.push_str(&format!(
                    "OK banned {net} {span}; {closed} connections closed\n"
                ));
            }
            Command::Unban { net } => {
                if self.accepting.bans.remove(net) {
                    warn!(target: LOG_TARGET, "Ban on {net} lifted");
                    out.push_str(&format!("OK unbanned {net}\n"));
                } else {
                    out.push_str(&format!("ERR {net} is not banned\n"));
                }
            }
            Command::Say { text } => {
                let users = self.relay.announce(text);
                let s = if users == 1 { "" } else { "s" };
                out.push_str(&format!("OK said to {users} user{s}\n"));
            }
        }
        true
    }

    /// Closes every open connection from `net`; returns how many.
    fn close_banned(&mut self, net: ipnet::IpNet) -> usize {
        let banned: Vec<(usize, i32)> = self
            .conns
            .iter()
            .filter(|(_, c)| c.closing.is_none() && net.contains(&c.peer.ip().to_canonical()))
            .map(|(key, c)| (key, c.fd))
            .collect();
        for &(key, fd) in &banned {
            warn!(target: LOG_TARGET, "Client ({fd}): banned by the operator");
            self.relay.close_now(ConnId(key), Hangup::Goodbye);
        }
        banned.len()
    }

    fn stats(&self) -> Stats {
        let counters = self.relay.counters();
        Stats {
            uptime: self.started.elapsed(),
            dialects: self
                .relay
                .dialect_counts()
                .iter()
                .map(|d| (d.protocol.name, d.connections, d.users))
                .collect(),
            bytes_in: counters.bytes_in,
            bytes_out: counters.bytes_out,
            queued_bytes: self.relay.who().iter().map(|w| w.queued).sum(),
            cut_offs: counters.cut_offs,
            log_lines_dropped: crate::logger::dropped_lines(),
            bans: self.accepting.bans.len(),
        }
    }

    fn who(&self, out: &mut String) {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let who = self.relay.who();
        for w in &who {
            let Some(conn) = self.conns.get(w.id.0) else {
                continue;
            };
            WhoLine {
                name: w.name.as_deref(),
                dialect: w.protocol.name,
                fd: w.fd,
                peer: conn.peer,
                since: wall - now.duration_since(w.connected_at),
                queued: w.queued,
            }
            .render(out);
        }
        admin::who_end(who.len(), out);
    }

    /// SIGUSR2: what STATS and WHO would answer, in the log.
    pub(super) fn log_state(&self) {
        let mut text = String::new();
        self.stats().render(&mut text);
        self.who(&mut text);
        for line in text.lines().filter(|l| !l.starts_with("OK")) {
            info!(target: TARGET, "{line}");
        }
    }
}
