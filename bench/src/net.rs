//! Sockets for the load generator: non-blocking connects (from a chosen
//! loopback source address when one is not enough), bounded input and
//! output buffers, and starting a server to measure.

use mio::net::TcpStream;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener};
use std::os::fd::FromRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// Connections from one source address to one server address. The
/// kernel's ephemeral ports (32768-60999 by default) run out at about 28k,
/// and well before that each connect() gets slow, walking past the ports
/// in use (and in TIME_WAIT from the last run) to find a free one: 19,500
/// connections took 6 s from one address. Past this, connections are
/// spread over 127.0.0.1, 127.0.0.2, ...: all of 127.0.0.0/8 is this
/// machine, and a port in use from one source is free from the others.
pub const PORTS_PER_SOURCE: usize = 10_000;

/// Starts a non-blocking connect to `addr`, from `source` if given. The
/// socket reports writable once the connect has finished (either way:
/// check `take_error` / `peer_addr` then).
pub fn connect(addr: SocketAddr, source: Option<Ipv4Addr>) -> io::Result<TcpStream> {
    let socket = connect_from(addr, source)?;
    // Our writes are small and must leave now: with Nagle's algorithm a
    // write waits for the ACK of the previous one, which the server may
    // delay by 40 ms, and that would be measured as the server's latency.
    socket.set_nodelay(true)?;
    Ok(socket)
}

fn connect_from(addr: SocketAddr, source: Option<Ipv4Addr>) -> io::Result<TcpStream> {
    let Some(source) = source else {
        return TcpStream::connect(addr);
    };
    let SocketAddr::V4(dest) = addr else {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "source addresses are IPv4 only",
        ));
    };
    // SAFETY: plain socket calls on a descriptor we own; on any failure it
    // is closed before returning.
    unsafe {
        let fd = libc::socket(
            libc::AF_INET,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        let fail = |fd| {
            let e = io::Error::last_os_error();
            libc::close(fd);
            Err(e)
        };
        // Bind the address only; the port is chosen at connect time, when
        // the kernel knows the destination. Without this, bind() would
        // have to pick a port unique for the source address alone, and the
        // ports would run out just as before.
        let one: libc::c_int = 1;
        if libc::setsockopt(
            fd,
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            &one as *const _ as *const libc::c_void,
            std::mem::size_of_val(&one) as libc::socklen_t,
        ) != 0
        {
            return fail(fd);
        }
        let from = sockaddr(SocketAddrV4::new(source, 0));
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        if libc::bind(fd, &from as *const _ as *const libc::sockaddr, len) != 0 {
            return fail(fd);
        }
        let to = sockaddr(dest);
        if libc::connect(fd, &to as *const _ as *const libc::sockaddr, len) != 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINPROGRESS) {
                libc::close(fd);
                return Err(e);
            }
        }
        Ok(TcpStream::from_std(std::net::TcpStream::from_raw_fd(fd)))
    }
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// The source address for connection `index` of `total`: none (the
/// kernel's choice) while one address has ports enough, else spread round
/// robin over 127.0.0.1, 127.0.0.2, ...
pub fn source_for(index: usize, total: usize) -> Option<Ipv4Addr> {
    if total <= PORTS_PER_SOURCE {
        return None;
    }
    let sources = total.div_ceil(PORTS_PER_SOURCE);
    Some(Ipv4Addr::new(127, 0, 0, 1 + (index % sources) as u8))
}

/// Whether a non-blocking connect has finished: `Ok(true)` connected,
/// `Ok(false)` still in progress, `Err` refused or failed.
pub fn connected(socket: &TcpStream) -> io::Result<bool> {
    if let Some(e) = socket.take_error()? {
        return Err(e);
    }
    match socket.peer_addr() {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(e),
    }
}

/// What one read brought.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// `buf[..n]` holds the kept partial message followed by new bytes.
    /// `drained` is true when the read came back short: the socket was
    /// empty, and edge-triggered readiness will say when more arrives, so
    /// the `read` that would only return `WouldBlock` can be skipped.
    /// That holds for epoll (and kqueue), which is what the load tool is
    /// built for; mio's poll(2) backend would need the last read (the
    /// server and client keep it: docs/WALKTHROUGH.md).
    Data { n: usize, drained: bool },
    /// The server closed the connection.
    Eof,
    /// Nothing to read now.
    Empty,
}

/// Reads into the loop's shared buffer `buf`, after a copy of `partial`,
/// the start of a message that had not fully arrived last time. Complete
/// messages are then handled where they lie, and only a new partial tail
/// is copied back (see [`keep_tail`]): a connection between messages holds
/// no input memory, which is what lets one process hold 50,000 of them.
pub fn fill(socket: &mut TcpStream, partial: &[u8], buf: &mut [u8]) -> io::Result<Fill> {
    let kept = partial.len();
    buf[..kept].copy_from_slice(partial);
    loop {
        match socket.read(&mut buf[kept..]) {
            Ok(0) => return Ok(Fill::Eof),
            Ok(n) => {
                let drained = kept + n < buf.len();
                return Ok(Fill::Data {
                    n: kept + n,
                    drained,
                });
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Fill::Empty),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Longest partial message a connection may keep between reads. Our
/// messages are far shorter; more than this means we misread the stream.
pub const MAX_PARTIAL: usize = 64 * 1024;

/// Keeps `rest` (the unhandled tail of a read) as the connection's partial
/// message.
pub fn keep_tail(partial: &mut Vec<u8>, rest: &[u8]) -> io::Result<()> {
    if rest.len() > MAX_PARTIAL {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            "a message longer than 64 KiB: the stream is not what we expect",
        ));
    }
    partial.clear();
    partial.extend_from_slice(rest);
    if partial.is_empty() && partial.capacity() > 0 {
        // Give the memory back: most connections are between messages.
        *partial = Vec::new();
    }
    Ok(())
}

/// What we have queued for a server and it has not taken yet.
#[derive(Debug, Default)]
pub struct OutBuf {
    buf: Vec<u8>,
    head: usize,
}

impl OutBuf {
    pub fn pending(&self) -> usize {
        self.buf.len() - self.head
    }

    /// The buffer to append to. Callers bound what they append (a window,
    /// a rate, or a low-water mark), so it does not grow without end.
    pub fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes until empty or the socket is full.
    pub fn flush(&mut self, socket: &mut TcpStream) -> io::Result<()> {
        while self.head < self.buf.len() {
            match socket.write(&self.buf[self.head..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => self.head += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.head == self.buf.len() {
            self.buf.clear();
            self.head = 0;
        } else if self.head > self.buf.len() / 2 {
            self.buf.drain(..self.head);
            self.head = 0;
        }
        Ok(())
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for a server we start.
/// (A server started with port 0 would have to log its port at info level,
/// and logging every request is not what we want to measure.)
pub fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A `pollchat-server` started for one run, stopped when dropped.
pub struct SpawnedServer {
    child: Child,
    pub addr: SocketAddr,
}

/// `pollchat-server` next to our own binary, where cargo puts both.
pub fn sibling_server_bin() -> PathBuf {
    let me = std::env::current_exe().unwrap_or_default();
    me.with_file_name("pollchat-server")
}

impl SpawnedServer {
    /// Starts `bin` on 127.0.0.1 with room for `max_users` registered
    /// users and no per-address limit, logging warnings only, and waits for `Server is on`.
    pub fn start(bin: &Path, max_users: usize) -> io::Result<SpawnedServer> {
        let port = free_port()?;
        let mut child = Command::new(bin)
            .args(["--address", "127.0.0.1", "--port", &port.to_string()])
            .args(["--max-users", &max_users.max(1).to_string()])
            // Thousands of connections from a few loopback addresses: a
            // load test, not an attack.
            .args(["--max-per-ip", "0"])
            .args(["--log-level", "warn"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| io::Error::new(e.kind(), format!("start {}: {e}", bin.display())))?;
        let mut ready = String::new();
        if let Some(stdout) = child.stdout.take() {
            // The server either says it is on or exits (closing the pipe):
            // this read cannot wait for ever.
            BufReader::new(stdout).read_line(&mut ready)?;
        }
        let mut server = SpawnedServer {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        if ready.trim_end() != "Server is on" {
            server.stop();
            return Err(io::Error::other(format!(
                "{} did not start (said {ready:?})",
                bin.display()
            )));
        }
        Ok(server)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        // SIGTERM: the server flushes and exits on its own.
        // SAFETY: kill has no memory effects; the pid is our child's.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

impl Drop for SpawnedServer {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_spread_only_when_one_is_not_enough() {
        assert_eq!(source_for(7, PORTS_PER_SOURCE), None);
        let total = 2 * PORTS_PER_SOURCE + 1; // needs three addresses
        let used: Vec<_> = (0..6).map(|i| source_for(i, total).unwrap()).collect();
        assert_eq!(used[0], Ipv4Addr::new(127, 0, 0, 1));
        assert_eq!(used[2], Ipv4Addr::new(127, 0, 0, 3));
        assert_eq!(used[3], used[0]);
    }

    #[test]
    fn a_connect_from_another_loopback_source_arrives() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let _socket = connect(addr, Some(Ipv4Addr::new(127, 0, 0, 5))).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), Ipv4Addr::new(127, 0, 0, 5));
    }
}
