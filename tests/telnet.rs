//! The real `telnet` program, on a pseudo-terminal, as a student uses it:
//! JOIN, LIST, MESG, Ctrl-C, QUIT.
//!
//! `.ci/run` installs telnet, so this runs in CI. On a machine without it
//! the test says so and passes, unless `CI` is set.

mod common;
use common::*;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

/// A program running on a pseudo-terminal, and the terminal's master side.
struct Pty {
    master: std::fs::File,
    child: std::process::Child,
    screen: Vec<u8>,
}

impl Pty {
    fn spawn(program: &str, args: &[&str]) -> Pty {
        let (mut master, mut slave) = (0, 0);
        let rc = unsafe {
            libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null(),
                std::ptr::null(),
            )
        };
        assert_eq!(rc, 0, "openpty");
        let (master, slave) =
            unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::from(slave.try_clone().unwrap()))
            .stdout(Stdio::from(slave.try_clone().unwrap()))
            .stderr(Stdio::from(slave));
        // The terminal becomes the program's controlling terminal, so Ctrl-C
        // typed on it is a SIGINT for the program, as in a real session.
        unsafe {
            cmd.pre_exec(|| {
                if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start telnet");
        Pty {
            master: std::fs::File::from(master),
            child,
            screen: Vec::new(),
        }
    }

    fn type_text(&mut self, text: &[u8]) {
        self.master.write_all(text).unwrap();
    }

    /// Reads the terminal until `want` has appeared after what was already
    /// seen; returns everything up to and including it.
    fn expect(&mut self, want: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(i) = find(&self.screen, want.as_bytes()) {
                let seen: Vec<u8> = self.screen.drain(..i + want.len()).collect();
                return String::from_utf8_lossy(&seen).into_owned();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "{want:?} never appeared; screen: {:?}",
                String::from_utf8_lossy(&self.screen)
            );
            let mut pfd = libc::pollfd {
                fd: self.master.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ready = unsafe { libc::poll(&mut pfd, 1, left.as_millis().max(1) as i32) };
            if ready <= 0 {
                continue;
            }
            let mut chunk = [0u8; 4096];
            match self.master.read(&mut chunk) {
                Ok(n) if n > 0 => self.screen.extend_from_slice(&chunk[..n]),
                // EIO: the program exited and closed the terminal.
                _ => panic!(
                    "terminal closed before {want:?}; screen: {:?}",
                    String::from_utf8_lossy(&self.screen)
                ),
            }
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn telnet_installed() -> bool {
    Command::new("telnet")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

#[test]
fn a_telnet_session_joins_lists_messages_survives_ctrl_c_and_quits() {
    if !telnet_installed() {
        assert!(
            std::env::var_os("CI").is_none(),
            "telnet must be installed in CI (.ci/run does it)"
        );
        eprintln!("telnet is not installed: skipping (apt-get install telnet)");
        return;
    }
    let server = Server::start(&[]);
    let port = server.addr().port().to_string();
    let mut bob = joined(server.addr(), "bob");
    let mut telnet = Pty::spawn("telnet", &["127.0.0.1", &port]);
    telnet.expect("Escape character is '^]'.");

    telnet.type_text(b"JOIN alice\r");
    telnet.expect("JOIN alice Request Accepted\r\n");

    telnet.type_text(b"LIST\r");
    let table = telnet.expect("----------------------------\r\n");
    assert!(table.contains("USERNAME\tFD\r\n"), "{table:?}");
    let rows = telnet.expect("----------------------------\r\n");
    assert!(
        rows.starts_with("bob\t") && rows.contains("\r\nalice\t"),
        "{rows:?}"
    );

    telnet.type_text(b"MESG bob hi from telnet\r");
    bob.expect_line("FROM alice: hi from telnet");
    bob.send_line("MESG alice hi back");
    telnet.expect("FROM bob: hi back\r\n");

    // Ctrl-C: telnet sends IAC IP and IAC DO TIMING-MARK, then shows
    // nothing until the timing mark is answered. The session must go on.
    telnet.type_text(b"\x03");
    telnet.type_text(b"PING\r");
    telnet.expect("PONG\r\n");

    telnet.type_text(b"QUIT\r");
    telnet.expect("Connection closed by foreign host.");
    assert_eq!(list(&mut bob).len(), 1);
}
