//! What a case talks to. In the server role: the target server's address
//! (pollchat-check connects as the users). In the client role: the
//! command that starts the target client, and a stand-in server on a free
//! port that the client connects to (pollchat-check plays the server and
//! every other user).

use crate::case::{Ctx, Fail, R};
use crate::net::{Conn, Opts};
use crate::spawn::{fill, Capture, Io, Proc};
use crate::transcript::show;
use std::net::{SocketAddr, TcpListener};
use std::process::ExitStatus;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub enum Target {
    Server(ServerTarget),
    Client(ClientTarget),
}

pub struct ServerTarget {
    pub addr: SocketAddr,
    /// The target's stdout, when pollchat-check started it.
    pub stdout: Option<Capture>,
}

#[derive(Clone)]
pub struct ClientTarget {
    /// The command, with `{host}`, `{port}` and `{name}` to fill in.
    pub template: String,
    pub io: Io,
    /// Process groups of the clients a case started, for the runner to
    /// stop if the case itself cannot.
    pub groups: Arc<Mutex<Vec<u32>>>,
}

impl Ctx {
    /// The server's address (server role).
    pub fn addr(&self) -> SocketAddr {
        match &self.target {
            Target::Server(s) => s.addr,
            Target::Client(_) => unreachable!("a client case has no server address"),
        }
    }

    pub fn connect(&self, label: &str) -> R<Conn> {
        self.connect_with(label, Opts::default())
    }

    pub fn connect_with(&self, label: &str, opts: Opts) -> R<Conn> {
        Conn::connect(
            self.addr(),
            label,
            opts,
            &self.tr,
            self.timing.wait,
            self.deadline,
        )
    }

    /// The spawned server's stdout, if pollchat-check started it.
    pub fn server_stdout(&self) -> Option<&Capture> {
        match &self.target {
            Target::Server(s) => s.stdout.as_ref(),
            Target::Client(_) => None,
        }
    }

    /// A stand-in server on a free loopback port (client role).
    pub fn standin(&self) -> R<Standin> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Fail::new(format!("cannot listen: {e}"), "", ""))?;
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let _ = listener.set_nonblocking(true);
        Ok(Standin { listener, port })
    }

    /// Starts the target client against 127.0.0.1:`port`, as `name` where
    /// the dialect's command line takes one.
    pub fn start_client(&self, port: u16, name: &str) -> R<ClientRun> {
        let Target::Client(client) = &self.target else {
            unreachable!("a server case starts no client")
        };
        let cmdline = fill(
            &client.template,
            &[
                ("host", "127.0.0.1"),
                ("port", &port.to_string()),
                ("name", name),
            ],
        );
        let proc = Proc::spawn(&cmdline, client.io, "client", &self.tr)
            .map_err(|e| Fail::new(format!("cannot start the client: {e}"), "", ""))?;
        client
            .groups
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(proc.pid());
        Ok(ClientRun {
            proc,
            cursor: 0,
            wait: self.timing.wait,
            deadline: self.deadline,
        })
    }

    /// Accepts the client's connection on `standin`.
    pub fn accept(&self, standin: &Standin, label: &str) -> R<Conn> {
        let until = self.until();
        loop {
            match standin.listener.accept() {
                Ok((stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    self.note(format!("{label}: the client connected"));
                    return Ok(Conn::wrap(
                        stream,
                        label,
                        &self.tr,
                        self.timing.wait,
                        self.deadline,
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if Instant::now() >= until {
                        return Err(Fail::new(
                            "the client did not connect",
                            format!("a connection to 127.0.0.1:{}", standin.port),
                            "none",
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(Fail::new(format!("accept: {e}"), "", "")),
            }
        }
    }
}

/// The stand-in server's listening socket.
pub struct Standin {
    listener: TcpListener,
    pub port: u16,
}

/// A running target client.
pub struct ClientRun {
    pub proc: Proc,
    /// How much of stdout the case has consumed.
    cursor: usize,
    wait: Duration,
    deadline: Instant,
}

impl ClientRun {
    fn until(&self, wait: Duration) -> Instant {
        (Instant::now() + wait).min(self.deadline)
    }

    /// Types `line` and Enter.
    pub fn type_line(&mut self, line: &str) -> R {
        self.type_bytes(format!("{line}\n").as_bytes())
    }

    pub fn type_bytes(&mut self, bytes: &[u8]) -> R {
        if self.proc.type_bytes(bytes) {
            Ok(())
        } else {
            Err(Fail::new(
                "the client stopped reading its input",
                format!("to take {}", show(bytes)),
                "its stdin closed",
            ))
        }
    }

    pub fn end_input(&mut self) {
        self.proc.end_input();
    }

    /// Everything printed on stdout not consumed yet.
    pub fn rest(&self) -> Vec<u8> {
        let (data, _) = self.proc.stdout.snapshot();
        data[self.cursor.min(data.len())..].to_vec()
    }

    fn stdout_closed(&self) -> bool {
        self.proc.stdout.snapshot().1
    }

    /// Waits until what is printed after the cursor satisfies `found`
    /// (which says how many bytes the item takes); consumes it.
    fn take_when(
        &mut self,
        what: &str,
        wait: Duration,
        found: impl Fn(&[u8]) -> Option<usize>,
    ) -> R<Vec<u8>> {
        let cursor = self.cursor;
        let until = self.until(wait);
        self.proc.stdout.wait_until(until, |data, eof| {
            eof || found(&data[cursor.min(data.len())..]).is_some()
        });
        let rest = self.rest();
        match found(&rest) {
            Some(n) => {
                self.cursor += n;
                Ok(rest[..n].to_vec())
            }
            None => {
                let why = if self.stdout_closed() {
                    "the client's output ended first"
                } else {
                    "the client did not print it in time"
                };
                let got = if rest.is_empty() {
                    "nothing more".to_string()
                } else {
                    show(&rest)
                };
                Err(Fail::new(why, what, got))
            }
        }
    }

    /// The next line printed (up to LF, without it).
    pub fn line(&mut self) -> R<Vec<u8>> {
        let wait = self.wait;
        let mut line = self.take_when("a line", wait, |b| {
            b.iter().position(|&c| c == b'\n').map(|i| i + 1)
        })?;
        line.pop();
        Ok(line)
    }

    /// The next line printed must be `want`.
    pub fn expect_line(&mut self, want: &str) -> R {
        let wait = self.wait;
        self.expect_line_within(want, wait)
    }

    pub fn expect_line_within(&mut self, want: &str, wait: Duration) -> R {
        let got = self
            .take_when(&show(want.as_bytes()), wait, |b| {
                b.iter().position(|&c| c == b'\n').map(|i| i + 1)
            })
            .map_err(|mut f| {
                f.expected = show(format!("{want}\n").as_bytes());
                f
            })?;
        if got.strip_suffix(b"\n") == Some(want.as_bytes()) {
            Ok(())
        } else {
            Err(Fail::new(
                "the client printed the wrong line",
                show(format!("{want}\n").as_bytes()),
                show(&got),
            ))
        }
    }

    /// The next bytes printed must be exactly `want`.
    pub fn expect_printed(&mut self, want: &[u8]) -> R {
        let wait = self.wait;
        let n = want.len();
        let got = self.take_when(&show(want), wait, |b| (b.len() >= n).then_some(n))?;
        if got == want {
            Ok(())
        } else {
            self.cursor -= n;
            Err(Fail::new(
                "the client printed something else",
                show(want),
                show(&self.rest()),
            ))
        }
    }

    /// `want` is printed, after whatever else (prompts, say): consumes up
    /// to its end.
    pub fn expect_somewhere(&mut self, want: &[u8]) -> R {
        let wait = self.wait;
        self.take_when(&show(want), wait, |b| {
            b.windows(want.len().max(1))
                .position(|w| w == want)
                .map(|i| i + want.len())
        })
        .map(|_| ())
    }

    /// Nothing more is printed for `quiet`.
    pub fn expect_quiet(&mut self, quiet: Duration, why: &str) -> R {
        let cursor = self.cursor;
        let until = self.until(quiet);
        self.proc
            .stdout
            .wait_until(until, |data, _| data.len() > cursor);
        let rest = self.rest();
        if rest.is_empty() {
            Ok(())
        } else {
            Err(Fail::new(why, "nothing printed", show(&rest)))
        }
    }

    /// The client exits by itself within `wait`, with status `code`.
    pub fn expect_exit(&mut self, code: i32) -> R {
        let wait = self.wait;
        self.expect_exit_within(code, wait)
    }

    pub fn expect_exit_within(&mut self, code: i32, wait: Duration) -> R {
        match self.proc.wait_exit(self.until(wait)) {
            Some(status) if status.code() == Some(code) => Ok(()),
            Some(status) => Err(Fail::new(
                "the client exited with the wrong status",
                format!("exit status {code}"),
                describe(status),
            )),
            None => Err(Fail::new(
                "the client did not exit",
                format!("exit status {code} within {:.1} s", wait.as_secs_f64()),
                "still running",
            )),
        }
    }

    /// Whether it is still running.
    pub fn running(&mut self) -> bool {
        self.proc.exited().is_none()
    }

    /// What it printed on stderr so far.
    pub fn stderr(&self) -> Vec<u8> {
        self.proc.stderr.snapshot().0
    }
}

fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(sig)) => format!("killed by signal {sig}"),
        _ => status.to_string(),
    }
}
