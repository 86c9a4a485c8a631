//! What a server is started with, and the operating-system setup around
//! it: the listening sockets and the limit on open files.

use crate::dialect::Protocol;
use crate::limits::{DEFAULT_MAX_PER_IP, LISTEN_BACKLOG};
use crate::relay::Settings;
use mio::net::TcpListener;
use std::io;
use std::net::SocketAddr;
use std::os::fd::RawFd;

/// One listening socket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerConfig {
    pub protocol: &'static Protocol,
    pub addr: SocketAddr,
    /// A listening socket systemd passed (socket activation, systemd.rs),
    /// served instead of binding `addr`; `addr` is then only what the
    /// command line said. `Server::bind` takes it over.
    pub inherited: Option<RawFd>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub listeners: Vec<ListenerConfig>,
    /// The limits the relay enforces on what clients say and are sent.
    pub relay: Settings,
    /// Connections open at once from one address; `None`: no limit.
    pub max_per_ip: Option<usize>,
    /// Open connections allowed at once; more wait in the kernel's accept
    /// queue. `None`: derived from the file descriptor limit.
    pub max_connections: Option<usize>,
    /// Where the operator console listens (`--admin`).
    pub admin: Option<SocketAddr>,
    /// The file the transcript is appended to (`--transcript`); the relay's
    /// `transcript` setting follows it.
    pub transcript: Option<std::path::PathBuf>,
}

/// Every limit at its default (limits.rs), and no listener yet.
impl Default for Config {
    fn default() -> Config {
        Config {
            listeners: Vec::new(),
            relay: Settings::default(),
            max_per_ip: Some(DEFAULT_MAX_PER_IP),
            max_connections: None,
            admin: None,
            transcript: None,
        }
    }
}

impl Config {
    /// One listener for `protocol` on `addr`, and the defaults.
    pub fn single(protocol: &'static Protocol, addr: SocketAddr) -> Config {
        Config {
            listeners: vec![ListenerConfig {
                protocol,
                addr,
                inherited: None,
            }],
            ..Config::default()
        }
    }
}

/// Binds a listening socket with a deep accept queue
/// ([`LISTEN_BACKLOG`]): mio's `bind` fixes it at 128, and a burst of
/// connects past that is lost (the clients believe they connected).
pub fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    use socket2::{Domain, Socket, Type};
    let bind_error =
        |e: io::Error| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}"));
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(bind_error)?;
    // Restart at once on the same port, as mio and std do.
    socket.set_reuse_address(true).map_err(bind_error)?;
    if addr.is_ipv6() && addr.ip().is_unspecified() {
        // `--address ::` means every address, IPv4 ones too (as mapped
        // addresses, ::ffff:a.b.c.d), whatever the system's default
        // (net.ipv6.bindv6only) says: one listener for a dual-stack class.
        socket.set_only_v6(false).map_err(bind_error)?;
    }
    socket.bind(&addr.into()).map_err(bind_error)?;
    socket.listen(LISTEN_BACKLOG).map_err(bind_error)?;
    socket.set_nonblocking(true).map_err(bind_error)?;
    Ok(TcpListener::from_std(socket.into()))
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
