//! Standard input as a source for the client's poll loop.
//!
//! A terminal or a pipe can be watched by `epoll` like a socket; it is made
//! non-blocking (so we can read until `WouldBlock`, as edge-triggered
//! readiness demands) and its flags are put back when the client exits,
//! because the terminal's flags are shared with the shell that started us.
//!
//! A regular file (`client < script.txt`) or `/dev/null` cannot be
//! registered: `epoll` refuses files, which are always "ready". Then we
//! simply read it in turn with the socket, without waiting on it.

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io::{self, ErrorKind, Read};
use std::os::fd::RawFd;

const STDIN: RawFd = 0;

pub struct Stdin {
    /// The flags to restore, when we changed them.
    saved_flags: Option<libc::c_int>,
    /// Registered with the poll (a terminal or pipe), or read in turn (a file).
    polled: bool,
    eof: bool,
}

impl Stdin {
    pub fn register(registry: &Registry, token: Token) -> Stdin {
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
            saved_flags,
            polled,
            eof: false,
        }
    }

    /// Whether the loop must come back to us without waiting (a file).
    pub fn wants_turn(&self) -> bool {
        !self.polled && !self.eof
    }

    pub fn is_eof(&self) -> bool {
        self.eof
    }

    /// Reads what is available into `buf`. Returns the bytes read; zero
    /// means nothing now (or end of input: see `is_eof`).
    pub fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        loop {
            match io::stdin().lock().read(buf) {
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
