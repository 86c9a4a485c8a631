//! Standard input as a source for the client's poll loop.
//!
//! A terminal or a pipe can be watched by `epoll` like a socket, and must be
//! read non-blocking (until `WouldBlock`, as edge-triggered readiness
//! demands). Setting `O_NONBLOCK` on fd 0 itself would be wrong: on a
//! terminal, fds 0, 1 and 2 share one open file description with each
//! other and with the shell, so stdout would turn non-blocking too and a
//! burst of output would fail with `EAGAIN`. So we open our own description
//! of stdin, `/proc/self/fd/0`, non-blocking, and leave fd 0 alone. Where
//! that is impossible (no `/proc`, stdin a socket) fd 0's flags are set and
//! put back when the client exits.
//!
//! A regular file (`client < script.txt`) or `/dev/null` cannot be
//! registered: `epoll` refuses files, which are always "ready". Then we
//! simply read it in turn with the socket, without waiting on it.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, IsTerminal, Read};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

const STDIN: RawFd = 0;

pub struct Stdin {
    /// Our own non-blocking description of stdin, when one could be had.
    own: Option<File>,
    /// The flags of fd 0 to restore, when we had to change them.
    saved_flags: Option<libc::c_int>,
    /// Registered with the poll (a terminal or pipe), or read in turn (a file).
    polled: bool,
    eof: bool,
}

impl Stdin {
    pub fn register(registry: &Registry, token: Token) -> Stdin {
        let own = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/proc/self/fd/0")
            .ok()
            .filter(|file| {
                let fd = file.as_raw_fd();
                registry
                    .register(&mut SourceFd(&fd), token, Interest::READABLE)
                    .is_ok()
            });
        if own.is_some() {
            return Stdin {
                own,
                saved_flags: None,
                polled: true,
                eof: false,
            };
        }
        let polled = registry
            .register(&mut SourceFd(&STDIN), token, Interest::READABLE)
            .is_ok();
        let mut saved_flags = None;
        if polled {
            // SAFETY: fcntl on fd 0 with F_GETFL/F_SETFL touches no memory.
            let flags = unsafe { libc::fcntl(STDIN, libc::F_GETFL) };
            if flags >= 0
                && unsafe { libc::fcntl(STDIN, libc::F_SETFL, flags | libc::O_NONBLOCK) } == 0
            {
                saved_flags = Some(flags);
            }
        }
        Stdin {
            own: None,
            saved_flags,
            polled,
            eof: false,
        }
    }

    /// Stdin has said `WouldBlock`: ask the poll to watch it again. We read
    /// it ourselves, not through mio, and mio's poll(2) backend watches a
    /// descriptor again only after an I/O call through mio has seen
    /// `WouldBlock` (on epoll this is one cheap `epoll_ctl`, and changes
    /// nothing).
    pub fn watch_again(&self, registry: &Registry, token: Token) {
        if !self.polled || self.eof {
            return;
        }
        let fd = self.own.as_ref().map_or(STDIN, |own| own.as_raw_fd());
        let _ = registry.reregister(&mut SourceFd(&fd), token, Interest::READABLE);
    }

    /// Whether the loop must come back to us without waiting (a file).
    pub fn wants_turn(&self) -> bool {
        !self.polled && !self.eof
    }

    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// A person is typing (fd 0 is a terminal), not a pipe or a file.
    pub fn is_terminal(&self) -> bool {
        io::stdin().is_terminal()
    }

    /// Reads what is available into `buf`. Returns the bytes read; zero
    /// means nothing now (or end of input: see `is_eof`).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        loop {
            let got = match self.own.as_mut() {
                Some(own) => own.read(buf),
                None => io::stdin().lock().read(buf),
            };
            match got {
                Ok(0) => {
                    self.eof = true;
                    return Ok(0);
                }
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for Stdin {
    fn drop(&mut self) {
        if let Some(flags) = self.saved_flags {
            // SAFETY: as above.
            unsafe { libc::fcntl(STDIN, libc::F_SETFL, flags) };
        }
    }
}
