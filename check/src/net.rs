//! One TCP connection of a case, either way round: to the target server,
//! or from the target client to pollchat-check's stand-in server. Every
//! read waits at most the case's `wait` (and never past its deadline),
//! every byte is recorded in the transcript, and every failure is a
//! [`Fail`] that says what was awaited and what had arrived.

use crate::case::{Fail, R};
use crate::transcript::{show, Dir, Transcript};
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum More {
    Data,
    Closed,
    Timeout,
}

pub struct Conn {
    pub label: String,
    stream: TcpStream,
    /// Received and not consumed yet.
    buf: Vec<u8>,
    closed: bool,
    tr: Transcript,
    wait: Duration,
    deadline: Instant,
}

/// How a connection is opened.
#[derive(Debug, Clone, Copy, Default)]
pub struct Opts {
    /// SO_RCVBUF before connecting (a reader that will stall).
    pub recv_buffer: Option<usize>,
}

impl Conn {
    pub fn connect(
        addr: SocketAddr,
        label: &str,
        opts: Opts,
        tr: &Transcript,
        wait: Duration,
        deadline: Instant,
    ) -> R<Conn> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))
            .map_err(|e| Fail::new(format!("{label}: socket: {e}"), "", ""))?;
        if let Some(size) = opts.recv_buffer {
            let _ = socket.set_recv_buffer_size(size);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = wait.min(left).max(Duration::from_millis(1));
        socket.connect_timeout(&addr.into(), timeout).map_err(|e| {
            Fail::new(
                format!("{label} could not connect to {addr}"),
                "a connection",
                e.to_string(),
            )
        })?;
        let stream: TcpStream = socket.into();
        tr.note(&format!("{label} connected to {addr}"));
        Ok(Conn::wrap(stream, label, tr, wait, deadline))
    }

    pub fn wrap(
        stream: TcpStream,
        label: &str,
        tr: &Transcript,
        wait: Duration,
        deadline: Instant,
    ) -> Conn {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_write_timeout(Some(wait.max(Duration::from_secs(1))));
        Conn {
            label: label.to_string(),
            stream,
            buf: Vec::new(),
            closed: false,
            tr: tr.clone(),
            wait,
            deadline,
        }
    }

    /// A clone of the socket, for a thread that writes while this reads.
    pub fn try_clone(&self) -> R<Conn> {
        let stream = self
            .stream
            .try_clone()
            .map_err(|e| Fail::new(format!("{}: clone: {e}", self.label), "", ""))?;
        Ok(Conn::wrap(
            stream,
            &self.label,
            &self.tr,
            self.wait,
            self.deadline,
        ))
    }

    fn wait_left(&self, want: Duration) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        want.min(left).max(Duration::from_millis(1))
    }

    /// Changes how long one expected reply may take on this connection.
    pub fn set_wait(&mut self, wait: Duration) {
        self.wait = wait;
    }

    pub fn send(&mut self, bytes: &[u8]) -> R {
        self.tr.record(&self.label, Dir::Sent, bytes);
        self.stream.write_all(bytes).map_err(|e| {
            Fail::new(
                format!("{} could not send {}", self.label, show(bytes)),
                "the target to take the bytes",
                e.to_string(),
            )
        })
    }

    /// Sends `bytes` in pieces of `piece` bytes, `gap` apart, so that each
    /// piece leaves in a segment of its own.
    pub fn send_pieces(&mut self, bytes: &[u8], piece: usize, gap: Duration) -> R {
        for chunk in bytes.chunks(piece.max(1)) {
            self.send(chunk)?;
            std::thread::sleep(gap);
        }
        Ok(())
    }

    /// Reads once, waiting at most `wait`.
    pub fn read_more(&mut self, wait: Duration) -> R<More> {
        if self.closed {
            return Ok(More::Closed);
        }
        let _ = self.stream.set_read_timeout(Some(self.wait_left(wait)));
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                self.tr.record(&self.label, Dir::Closed, b"");
                Ok(More::Closed)
            }
            Ok(n) => {
                self.tr.record(&self.label, Dir::Received, &chunk[..n]);
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(More::Data)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Ok(More::Timeout)
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(More::Data),
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                self.closed = true;
                self.tr.record(&self.label, Dir::Closed, b"reset");
                Ok(More::Closed)
            }
            Err(e) => Err(Fail::new(format!("{}: read: {e}", self.label), "", "")),
        }
    }

    /// What has arrived and not been consumed.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Takes `n` bytes from what has arrived.
    pub fn consume(&mut self, n: usize) -> Vec<u8> {
        self.buf.drain(..n.min(self.buf.len())).collect()
    }

    /// Reads until `found` says how many bytes of the buffer make the next
    /// item, then takes them. `what` names the item in a failure.
    pub fn take_when(
        &mut self,
        what: &str,
        wait: Duration,
        found: impl Fn(&[u8]) -> Option<usize>,
    ) -> R<Vec<u8>> {
        let until = Instant::now() + self.wait_left(wait);
        loop {
            if let Some(n) = found(&self.buf) {
                return Ok(self.consume(n));
            }
            let left = until.saturating_duration_since(Instant::now());
            let more = if left.is_zero() {
                More::Timeout
            } else {
                self.read_more(left)?
            };
            match more {
                More::Data => {}
                More::Closed => {
                    return Err(Fail::new(
                        format!("{}: the connection closed while waiting", self.label),
                        what,
                        self.have("the connection closed"),
                    ))
                }
                More::Timeout => {
                    return Err(Fail::new(
                        format!(
                            "{}: nothing more within {:.1} s",
                            self.label,
                            wait.as_secs_f64()
                        ),
                        what,
                        self.have("nothing"),
                    ))
                }
            }
        }
    }

    fn have(&self, none: &str) -> String {
        if self.buf.is_empty() {
            none.to_string()
        } else {
            show(&self.buf)
        }
    }

    /// The next line ending in LF, without it; a CR before the LF is
    /// removed too (the dialects' own cases check the line ends).
    pub fn line(&mut self) -> R<Vec<u8>> {
        let mut line = self.raw_line(b"\n", "a line")?;
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(line)
    }

    /// The next line ending in `eol`, without it.
    pub fn raw_line(&mut self, eol: &[u8], what: &str) -> R<Vec<u8>> {
        let wait = self.wait;
        let mut line = self.take_when(what, wait, |b| {
            b.windows(eol.len())
                .position(|w| w == eol)
                .map(|i| i + eol.len())
        })?;
        line.truncate(line.len() - eol.len());
        Ok(line)
    }

    /// The next line must be `want`.
    pub fn expect_line(&mut self, want: &str) -> R {
        let got = self.line().map_err(|mut f| {
            f.expected = show(want.as_bytes());
            f
        })?;
        if got == want.as_bytes() {
            Ok(())
        } else {
            Err(Fail::new(
                format!("{}: wrong reply", self.label),
                show(want.as_bytes()),
                show(&got),
            ))
        }
    }

    /// The lines (up to LF, CR before it removed) that arrive until
    /// nothing more has come for `quiet`.
    pub fn lines_until_quiet(&mut self, quiet: Duration) -> R<Vec<Vec<u8>>> {
        let mut lines = Vec::new();
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line = self.consume(i + 1);
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                lines.push(line);
                continue;
            }
            if self.read_more(quiet)? != More::Data {
                return Ok(lines);
            }
        }
    }

    /// Exactly `n` bytes.
    pub fn exact(&mut self, n: usize, what: &str) -> R<Vec<u8>> {
        let wait = self.wait;
        self.take_when(what, wait, |b| (b.len() >= n).then_some(n))
    }

    /// The next bytes must be `want`, exactly.
    pub fn expect_bytes(&mut self, want: &[u8], why: &str) -> R {
        let got = self.exact(want.len(), &show(want))?;
        if got == want {
            Ok(())
        } else {
            Err(Fail::new(
                format!("{}: {why}", self.label),
                show(want),
                show(&got),
            ))
        }
    }

    /// The peer closes the connection, with nothing more said first.
    pub fn expect_closed(&mut self, why: &str) -> R {
        let until = Instant::now() + self.wait_left(self.wait);
        loop {
            if !self.buf.is_empty() {
                return Err(Fail::new(
                    format!("{}: {why}", self.label),
                    "the connection closed",
                    format!("more: {}", show(&self.buf)),
                ));
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Fail::new(
                    format!("{}: {why}", self.label),
                    "the connection closed",
                    format!("still open after {:.1} s", self.wait.as_secs_f64()),
                ));
            }
            if self.read_more(left)? == More::Closed {
                return Ok(());
            }
        }
    }

    /// Reads and drops everything until the peer closes; false if it has
    /// not closed within `wait`.
    pub fn drain_until_closed(&mut self, wait: Duration) -> R<bool> {
        let until = Instant::now() + self.wait_left(wait);
        loop {
            self.buf.clear();
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if self.read_more(left)? == More::Closed {
                return Ok(true);
            }
        }
    }

    /// Nothing arrives for `quiet` (where no barrier can prove it).
    pub fn expect_quiet(&mut self, quiet: Duration, why: &str) -> R {
        let until = Instant::now() + quiet;
        loop {
            if !self.buf.is_empty() {
                return Err(Fail::new(
                    format!("{}: {why}", self.label),
                    "nothing",
                    show(&self.buf),
                ));
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || self.read_more(left)? != More::Data {
                return if self.buf.is_empty() {
                    Ok(())
                } else {
                    Err(Fail::new(
                        format!("{}: {why}", self.label),
                        "nothing",
                        show(&self.buf),
                    ))
                };
            }
        }
    }

    /// Nothing unread has arrived (checked after a barrier).
    pub fn expect_nothing_pending(&self, why: &str) -> R {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Fail::new(
                format!("{}: {why}", self.label),
                "nothing before the barrier's answer",
                show(&self.buf),
            ))
        }
    }

    pub fn shutdown_write(&mut self) -> R {
        self.tr
            .note(&format!("{} shuts down its sending side", self.label));
        self.stream
            .shutdown(Shutdown::Write)
            .map_err(|e| Fail::new(format!("{}: shutdown: {e}", self.label), "", ""))
    }

    /// Closes with a reset (SO_LINGER 0): an abrupt disconnect.
    pub fn abort(self) {
        self.tr
            .note(&format!("{} resets its connection", self.label));
        let _ = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
        drop(self);
    }

    /// Closes normally.
    pub fn close(self) {
        self.tr
            .note(&format!("{} closes its connection", self.label));
        drop(self);
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.peer_addr().ok()
    }

    /// Sends without recording (a flood too big to keep): returns false
    /// once the peer stops taking bytes for the write timeout.
    pub fn send_quietly(&mut self, bytes: &[u8]) -> bool {
        self.stream.write_all(bytes).is_ok()
    }

    pub fn set_write_timeout(&self, d: Duration) {
        let _ = self
            .stream
            .set_write_timeout(Some(d.max(Duration::from_millis(1))));
    }
}

/// A port that was free a moment ago on 127.0.0.1, for a server
/// pollchat-check starts.
///
/// Taken outside the kernel's ephemeral range where there is room: the
/// kernel hands ports of that range to every `bind(0)` and `connect` on
/// the machine, so a port it gave us and we let go could be another
/// socket's (a test's stand-in server, anyone's outgoing connection) by
/// the time the spawned server binds it. Outside it only another program
/// choosing ports as we do can collide, and each process here walks the
/// ports from a random start. The probe binds without SO_REUSEADDR, so a
/// port with connections still in TIME_WAIT (which a server that does not
/// set the option could not bind) is passed over.
pub fn free_port() -> std::io::Result<u16> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(usize::MAX);
    let Some((low, high)) = quiet_range() else {
        return Ok(std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port());
    };
    let size = (high - low) as usize;
    if NEXT.load(Ordering::Relaxed) == usize::MAX {
        use std::hash::{BuildHasher, Hasher};
        let random = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        let _ = NEXT.compare_exchange(
            usize::MAX,
            (random % size as u64) as usize,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
    for _ in 0..size.min(2000) {
        let port = low + (NEXT.fetch_add(1, Ordering::Relaxed) % size) as u16;
        let probe = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        if probe.bind(&addr.into()).is_ok() {
            return Ok(port);
        }
    }
    Err(std::io::Error::new(
        ErrorKind::AddrInUse,
        "no free port outside the ephemeral range",
    ))
}

/// Ports no `bind(0)` or `connect` is given: below the kernel's ephemeral
/// range, from 10000 (or above it, if that is where there is more room).
fn quiet_range() -> Option<(u16, u16)> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let mut it = text.split_whitespace().map(|w| w.parse::<u32>().ok());
    let (first, last) = (it.next()??, it.next()??);
    let below = (10_000, first.max(10_000));
    let above = (last.saturating_add(1).min(65_535), 65_535);
    let (low, high) = if below.1 - below.0 >= above.1 - above.0 {
        below
    } else {
        above
    };
    (high - low >= 1000).then_some((low as u16, high as u16))
}

/// Whether something listens on TCP `port` (any local address), without
/// connecting to it, so the target sees nothing. `None` when the kernel
/// will not say.
pub fn listening(port: u16) -> Option<bool> {
    sock_diag_listeners(port)
        .map(|l| !l.is_empty())
        .or_else(|| proc_listening(port))
}

/// Whether a process of process group `group` listens on TCP `port`: what
/// says a server we started is ready, and not some other program that
/// happens to listen on the port it was given (that server then fails to
/// bind, and is started again on another). Falls back to [`listening`]
/// where /proc cannot tell whose a socket is.
pub fn listening_in_group(port: u16, group: u32) -> Option<bool> {
    let Some(inodes) = sock_diag_listeners(port) else {
        return listening(port);
    };
    if inodes.is_empty() {
        return Some(false);
    }
    match group_sockets(group) {
        Some(ours) => Some(inodes.iter().any(|i| ours.contains(i))),
        None => Some(true),
    }
}

/// The socket inodes the processes of `group` hold open, from /proc;
/// `None` if no process of the group can be seen there.
fn group_sockets(group: u32) -> Option<Vec<u32>> {
    let mut inodes = Vec::new();
    let mut seen = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and ')'.
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        seen = true;
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let Ok(target) = std::fs::read_link(fd.path()) else {
                continue;
            };
            let target = target.to_string_lossy();
            if let Some(n) = target
                .strip_prefix("socket:[")
                .and_then(|t| t.strip_suffix(']'))
                .and_then(|t| t.parse().ok())
            {
                inodes.push(n);
            }
        }
    }
    seen.then_some(inodes)
}

/// From /proc/net/tcp and tcp6: simple, but every socket of the machine is
/// a line there, TIME_WAIT ones included (tens of milliseconds a read on a
/// machine that has just run many tests).
fn proc_listening(port: u16) -> Option<bool> {
    let mut readable = false;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        readable = true;
        let want = format!("{port:04X}");
        for line in text.lines().skip(1) {
            let mut fields = line.split_whitespace();
            let local = fields.nth(1);
            let state = fields.nth(1);
            if state == Some("0A") && local.and_then(|l| l.rsplit(':').next()) == Some(&want) {
                return Some(true);
            }
        }
    }
    readable.then_some(false)
}

/// `struct inet_diag_req_v2` (linux/inet_diag.h).
#[repr(C)]
struct DiagRequest {
    header: libc::nlmsghdr,
    family: u8,
    protocol: u8,
    ext: u8,
    pad: u8,
    states: u32,
    /// `struct inet_diag_sockid`: ports, addresses, interface, cookie.
    id: [u8; 48],
}

/// The inodes of the TCP sockets listening on `port`, from the kernel's
/// socket diagnostics (netlink NETLINK_SOCK_DIAG), asked for listening
/// sockets only: a handful, however many others exist.
fn sock_diag_listeners(port: u16) -> Option<Vec<u32>> {
    const SOCK_DIAG_BY_FAMILY: u16 = 20;
    const TCP_LISTEN: u32 = 10;
    // SAFETY: a netlink socket we own, plain structs of the sizes we pass,
    // and every length checked before a read.
    unsafe {
        let fd = libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_DGRAM | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        );
        if fd < 0 {
            return None;
        }
        let fd = std::os::fd::OwnedFd::from_raw_fd(fd);
        use std::os::fd::{AsRawFd, FromRawFd};
        let timeout = libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        };
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            &timeout as *const _ as *const libc::c_void,
            std::mem::size_of::<libc::timeval>() as u32,
        );
        let mut found = Vec::new();
        for family in [libc::AF_INET, libc::AF_INET6] {
            let mut req: DiagRequest = std::mem::zeroed();
            req.header.nlmsg_len = std::mem::size_of::<DiagRequest>() as u32;
            req.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
            req.header.nlmsg_flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
            req.family = family as u8;
            req.protocol = libc::IPPROTO_TCP as u8;
            req.states = 1 << TCP_LISTEN;
            let sent = libc::send(
                fd.as_raw_fd(),
                &req as *const _ as *const libc::c_void,
                std::mem::size_of::<DiagRequest>(),
                0,
            );
            if sent < 0 {
                return None;
            }
            let mut buf = vec![0u8; 64 * 1024];
            'replies: loop {
                let n = libc::recv(
                    fd.as_raw_fd(),
                    buf.as_mut_ptr() as *mut libc::c_void,
                    buf.len(),
                    0,
                );
                if n <= 0 {
                    return None;
                }
                let mut at = 0usize;
                let n = n as usize;
                while at + 16 <= n {
                    let len = u32::from_ne_bytes(buf[at..at + 4].try_into().ok()?) as usize;
                    let kind = u16::from_ne_bytes(buf[at + 4..at + 6].try_into().ok()?);
                    if len < 16 || at + len > n {
                        return None;
                    }
                    match kind as i32 {
                        libc::NLMSG_DONE => break 'replies,
                        libc::NLMSG_ERROR => return None,
                        _ => {
                            // inet_diag_msg: 4 bytes, then the 48-byte sockid,
                            // whose first field is the local port (big-endian),
                            // then expires, rqueue, wqueue, uid and the inode.
                            let msg = &buf[at + 16..at + len];
                            if msg.len() >= 72 && u16::from_be_bytes([msg[4], msg[5]]) == port {
                                found.push(u32::from_ne_bytes(msg[68..72].try_into().ok()?));
                            }
                        }
                    }
                    at += (len + 3) & !3;
                }
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listening_port_is_seen_without_connecting() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        // A connected socket on another port is not a listener.
        let c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let other = c.local_addr().unwrap().port();
        let diag = |p| sock_diag_listeners(p).map(|l| !l.is_empty());
        for ask in [diag, proc_listening] {
            assert_eq!(ask(port), Some(true));
            assert_eq!(ask(other), Some(false));
        }
        // Ours, by our process group; not another group's.
        // SAFETY: getpgrp cannot fail.
        let group = unsafe { libc::getpgrp() } as u32;
        assert_eq!(listening_in_group(port, group), Some(true));
        use std::os::unix::process::CommandExt;
        let mut other = std::process::Command::new("sleep")
            .arg("10")
            .process_group(0)
            .spawn()
            .unwrap();
        assert_eq!(listening_in_group(port, other.id()), Some(false));
        let _ = other.kill();
        let _ = other.wait();
        drop(l);
        for ask in [diag, proc_listening] {
            assert_eq!(ask(port), Some(false));
        }
    }

    #[test]
    fn free_ports_are_bindable_and_not_ephemeral() {
        let a = free_port().unwrap();
        let b = free_port().unwrap();
        assert_ne!(a, b);
        std::net::TcpListener::bind(("127.0.0.1", a)).unwrap();
        if let Some((low, high)) = quiet_range() {
            assert!((low..high).contains(&a), "{a} in {low}..{high}");
        }
    }
}
