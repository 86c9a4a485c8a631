//! A pseudo-terminal for a client that expects one (a student's client
//! that reads a line at a time from a terminal, or checks `isatty`).
//!
//! The terminal is set up as a user's would be in canonical mode (lines
//! are delivered on Enter, Ctrl-D ends input), but without echo and
//! without output processing, so what the client prints arrives byte for
//! byte, as it would through a pipe.

use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

/// Opens a pty pair: the master (ours) and the slave (the client's).
pub fn open() -> io::Result<(File, File)> {
    // SAFETY: plain libc calls on descriptors we own; every result checked.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        if master < 0 {
            return Err(io::Error::last_os_error());
        }
        let master = OwnedFd::from_raw_fd(master);
        use std::os::fd::AsRawFd;
        let m = master.as_raw_fd();
        if libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut name = [0 as libc::c_char; 128];
        if libc::ptsname_r(m, name.as_mut_ptr(), name.len()) != 0 {
            return Err(io::Error::last_os_error());
        }
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        if slave < 0 {
            return Err(io::Error::last_os_error());
        }
        let slave = OwnedFd::from_raw_fd(slave);
        let mut t: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(slave.as_raw_fd(), &mut t) != 0 {
            return Err(io::Error::last_os_error());
        }
        t.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL);
        t.c_oflag &= !libc::OPOST;
        // A wide terminal, so nothing wraps.
        let size = libc::winsize {
            ws_row: 50,
            ws_col: 250,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        libc::ioctl(slave.as_raw_fd(), libc::TIOCSWINSZ, &size);
        if libc::tcsetattr(slave.as_raw_fd(), libc::TCSANOW, &t) != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok((File::from(master), File::from(slave)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn lines_typed_reach_the_slave_without_echo() {
        let (mut master, mut slave) = open().unwrap();
        master.write_all(b"hi\n").unwrap();
        let mut buf = [0u8; 16];
        let n = slave.read(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi\n");
        slave.write_all(b"out\n").unwrap();
        let n = master.read(&mut buf).unwrap();
        // No echo of "hi", and no CR added to the LF.
        assert_eq!(&buf[..n], b"out\n");
    }
}
