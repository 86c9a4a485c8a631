//! Shared helpers for the integration tests: start the real server binary
//! on 127.0.0.1 port 0, talk to it over real sockets, read its status lines.
//!
//! Nothing here sleeps to synchronise: every wait is a read with a timeout,
//! and a test that needs to know "nothing more arrived" sends a request
//! whose answer must come next (a PING, a LIST) and reads that answer.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// How long any single wait may take before the test fails. Generous: CI
/// machines are shared and slow; a passing test never waits this long.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Status lines of the server kept in full (see `Server::start_with`).
const KEEP_LOG_LINES: usize = 200_000;

pub const SERVER_BIN: &str = env!("CARGO_BIN_EXE_pollchat-server");

/// The server binary the tests start: this build's, unless
/// `POLLCHAT_SERVER` names another (to check that a new test fails against
/// an older build, or to run the suite against a differently built one).
pub fn server_bin() -> String {
    std::env::var("POLLCHAT_SERVER").unwrap_or_else(|_| SERVER_BIN.to_string())
}
pub const CLIENT_BIN: &str = env!("CARGO_BIN_EXE_pollchat-client");
pub const MINISERV_BIN: &str = env!("CARGO_BIN_EXE_pollchat-miniserv");

/// The server's stderr, collected line by line by a thread so the server
/// never blocks on a full pipe.
#[derive(Default)]
struct Log {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

pub struct Server {
    child: Child,
    stdout: BufReader<ChildStdout>,
    log: Arc<Log>,
    addrs: Vec<(String, SocketAddr)>,
}

impl Server {
    /// Starts `pollchat-server --address 127.0.0.1 --port 0 <args>` and waits
    /// for `Server is on`.
    pub fn start(args: &[&str]) -> Server {
        let mut full = vec!["--address", "127.0.0.1", "--port", "0"];
        full.extend_from_slice(args);
        Server::start_raw(&full)
    }

    /// Starts the server with exactly `args`.
    pub fn start_raw(args: &[&str]) -> Server {
        Server::start_with(args, |_| {})
    }

    /// Starts the server with exactly `args`, after `configure` has had its
    /// say on the command (e.g. to lower a resource limit).
    pub fn start_with(args: &[&str], configure: impl FnOnce(&mut Command)) -> Server {
        let mut command = Command::new(server_bin());
        configure(&mut command);
        command.args(args);
        // "Listening on 127.0.0.1:41234 (mesg)" is logged, once per listener,
        // before "Server is on"; the stderr thread may not have read it yet.
        let listeners = args.iter().filter(|a| a.starts_with("--listen")).count();
        // Plus the single-form listener, if a port was given for it.
        let single = args.iter().any(|a| a.starts_with("--port"))
            || args.first().is_some_and(|a| a.parse::<u16>().is_ok());
        Server::launch(command, listeners + usize::from(single))
    }

    /// Starts `command` (the server, however it is wrapped), waits for
    /// `Server is on` and for the `listeners` lines saying where it listens.
    pub fn launch(command: Command, listeners: usize) -> Server {
        Server::launch_as(command, listeners, true)
    }

    /// Starts `command`, a server that prints nothing on stdout
    /// (`pollchat-miniserv`), and waits for its one `Listening on` line.
    pub fn launch_quiet(command: Command) -> Server {
        Server::launch_as(command, 1, false)
    }

    fn launch_as(mut command: Command, listeners: usize, says_on: bool) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pollchat-server");
        let log = Arc::new(Log::default());
        let stderr = child.stderr.take().unwrap();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut lines = sink.lines.lock().unwrap();
                // A flood logs a line per request: past this many, only
                // warnings and errors are kept, so a long attack cannot
                // take the test's memory.
                if lines.len() < KEEP_LOG_LINES || !line.contains(" INFO ") {
                    lines.push(line);
                }
                drop(lines);
                sink.changed.notify_all();
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        if says_on {
            let mut first = String::new();
            stdout.read_line(&mut first).expect("read server stdout");
            assert_eq!(
                first,
                "Server is on\n",
                "server did not start; log: {:?}",
                log.lines.lock().unwrap()
            );
        }
        let mut server = Server {
            child,
            stdout,
            log,
            addrs: Vec::new(),
        };
        server.wait_log_count("Listening on", listeners.max(1));
        for line in server.log_lines() {
            if let Some(rest) = line.split("Listening on ").nth(1) {
                let (addr, protocol) = rest.split_once(' ').unwrap();
                let protocol = protocol.trim_matches(|c| c == '(' || c == ')').to_string();
                server.addrs.push((protocol, addr.parse().unwrap()));
            }
        }
        assert!(
            !server.addrs.is_empty(),
            "no Listening line: start with --log-level info"
        );
        server
    }

    /// The address of the first (usually only) listener.
    pub fn addr(&self) -> SocketAddr {
        self.addrs[0].1
    }

    /// The address of the listener for `protocol`.
    pub fn addr_of(&self, protocol: &str) -> SocketAddr {
        self.addrs
            .iter()
            .find(|(p, _)| p == protocol)
            .map(|(_, a)| *a)
            .expect("no such listener")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn log_lines(&self) -> Vec<String> {
        self.log.lines.lock().unwrap().clone()
    }

    /// Waits until a status line containing `needle` has been logged, and
    /// returns it.
    pub fn wait_log(&self, needle: &str) -> String {
        self.wait_log_count(needle, 1)
    }

    /// Waits until `n` status lines containing `needle` have been logged,
    /// and returns the last of them.
    pub fn wait_log_count(&self, needle: &str, n: usize) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().filter(|l| l.contains(needle)).nth(n - 1) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no log line containing {needle:?}; log: {:?}",
                *lines
            );
            lines = self.log.changed.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// Waits until a status line containing any of `needles` has been
    /// logged, and returns it.
    pub fn wait_log_any(&self, needles: &[&str]) -> String {
        let deadline = Instant::now() + TIMEOUT;
        let mut lines = self.log.lines.lock().unwrap();
        loop {
            if let Some(line) = lines.iter().find(|l| needles.iter().any(|n| l.contains(n))) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no log line containing any of {needles:?}");
            lines = self.log.changed.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// How many status lines contain `needle` so far.
    pub fn count_log(&self, needle: &str) -> usize {
        self.log
            .lines
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, signal: i32) {
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Whether the server has exited, and how.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Waits for the server to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            // Polling a child's exit has no blocking form with a timeout.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The rest of the server's stdout (after `Server is on`), once it exits.
    pub fn rest_of_stdout(&mut self) -> String {
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        rest
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs the server with at most `n` open files (soft and hard), so it
/// cannot raise the limit.
pub fn limit_fds(n: u64) -> impl FnOnce(&mut std::process::Command) {
    move |cmd| unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// One client connection, with line and byte helpers.
pub struct Client {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Wraps a stream connected some other way.
    pub fn from_stream(stream: TcpStream) -> Client {
        stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            buf: Vec::new(),
        }
    }

    /// Reads one CR LF line, or `None` if the server closes first.
    pub fn try_read_line_or_closed(&mut self, wait: Duration) -> Option<String> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let line = loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                break Some(String::from_utf8_lossy(&line).into_owned());
            }
            if !self.fill() {
                break None;
            }
        };
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        line
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends `line` with telnet's CR LF.
    pub fn send_line(&mut self, line: &str) {
        self.send(format!("{line}\r\n").as_bytes());
    }

    /// Reads more into the buffer; false at end of stream.
    fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk) {
            Ok(0) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                panic!(
                    "timed out waiting for the server; have {:?}",
                    String::from_utf8_lossy(&self.buf)
                )
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => false,
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Reads exactly `n` bytes.
    pub fn read_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(
                self.fill(),
                "connection closed; wanted {n} bytes, have {:?}",
                self.buf
            );
        }
        self.buf.drain(..n).collect()
    }

    /// Reads exactly `n` bytes if they arrive within `wait` (`None` if
    /// not; what did arrive stays buffered).
    pub fn read_bytes_timeout(&mut self, n: usize, wait: Duration) -> Option<Vec<u8>> {
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 4096];
        let got = loop {
            if self.buf.len() >= n {
                break Some(self.buf.drain(..n).collect());
            }
            match self.stream.read(&mut chunk) {
                Ok(0) => panic!("connection closed"),
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break None
                }
                Err(e) => panic!("read: {e}"),
            }
        };
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        got
    }

    /// Reads one line ending in `eol` and returns it without `eol`.
    pub fn read_line_with(&mut self, eol: &[u8]) -> String {
        loop {
            if let Some(i) = self.buf.windows(eol.len()).position(|w| w == eol) {
                let line: Vec<u8> = self.buf.drain(..i + eol.len()).take(i).collect();
                return String::from_utf8_lossy(&line).into_owned();
            }
            assert!(
                self.fill(),
                "connection closed; have {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    /// Reads one CR LF line if one arrives within `wait`.
    pub fn try_read_line(&mut self, wait: Duration) -> Option<String> {
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..i + 2).take(i).collect();
                return Some(String::from_utf8_lossy(&line).into_owned());
            }
            self.stream.set_read_timeout(Some(wait)).unwrap();
            let mut chunk = [0u8; 4096];
            let got = self.stream.read(&mut chunk);
            self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
            match got {
                Ok(0) => panic!("connection closed"),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return None
                }
                Err(e) => panic!("read: {e}"),
            }
        }
    }

    /// Reads one CR LF line.
    pub fn read_line(&mut self) -> String {
        self.read_line_with(b"\r\n")
    }

    /// Reads one line and checks it.
    pub fn expect_line(&mut self, want: &str) {
        assert_eq!(self.read_line(), want);
    }

    pub fn expect_lines(&mut self, want: &[&str]) {
        for line in want {
            self.expect_line(line);
        }
    }

    /// Checks that the server closes the connection with nothing more said.
    pub fn expect_closed(&mut self) {
        while self.fill() {}
        assert!(
            self.buf.is_empty(),
            "unexpected before close: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    /// Reads and discards everything until the server closes.
    pub fn wait_closed(&mut self) {
        while self.fill() {
            self.buf.clear();
        }
    }

    /// Nothing has arrived that was not read yet (after a barrier).
    pub fn assert_nothing_buffered(&self) {
        assert!(
            self.buf.is_empty(),
            "unexpected: {:?}",
            String::from_utf8_lossy(&self.buf)
        );
    }

    pub fn shutdown_write(&self) {
        self.stream.shutdown(Shutdown::Write).unwrap();
    }
}

/// A `mesg` client that has joined as `name`.
pub fn joined(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr);
    c.send_line(&format!("JOIN {name}"));
    c.expect_line(&format!("JOIN {name} Request Accepted"));
    c
}

/// A barrier for `mesg`: PING must be answered by PONG next, so anything
/// the server sent this client before it has been read by then.
pub fn sync(c: &mut Client) {
    c.send_line("PING");
    c.expect_line("PONG");
}

pub const RULE: &str = "----------------------------";

/// `mesg` LIST: each registered user's name and fd, in order.
pub fn list(c: &mut Client) -> Vec<(String, String)> {
    c.send_line("LIST");
    c.expect_line("USERNAME\tFD");
    c.expect_line(RULE);
    let mut users = Vec::new();
    loop {
        let line = c.read_line();
        if line == RULE {
            return users;
        }
        let (name, fd) = line.split_once('\t').expect("name TAB fd");
        users.push((name.to_string(), fd.to_string()));
    }
}
