//! Starting and stopping the target: a command line (`--spawn`) with
//! `{host}`, `{port}` and `{name}` filled in, run by `sh -c` in a process
//! group of its own, its output collected by threads, stopped by its
//! group's id (SIGTERM, then SIGKILL after a second).

use crate::transcript::{Dir, Transcript};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Output kept of one stream; the rest is read and dropped (counted).
const KEEP_OUTPUT: usize = 16 << 20;

/// `template` with each `{key}` replaced by its value.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (key, value) in values {
        out = out.replace(&format!("{{{key}}}"), value);
    }
    out
}

#[derive(Debug, Default)]
struct CaptureState {
    data: Vec<u8>,
    dropped: usize,
    eof: bool,
}

/// One output stream of a process, as it arrives.
#[derive(Debug, Clone, Default)]
pub struct Capture {
    inner: Arc<(Mutex<CaptureState>, Condvar)>,
}

impl Capture {
    /// Collects `from` on a thread until it ends, recording it as `dir`.
    fn collect(
        mut from: impl Read + Send + 'static,
        tr: Option<(Transcript, String, Dir)>,
    ) -> Capture {
        let capture = Capture::default();
        let sink = capture.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 16 * 1024];
            loop {
                let n = match from.read(&mut chunk) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    // A pty's master reads EIO once the last slave closes.
                    Err(_) => 0,
                };
                if let Some((tr, who, dir)) = &tr {
                    if n > 0 {
                        tr.record(who, *dir, &chunk[..n]);
                    }
                }
                let (lock, cv) = &*sink.inner;
                let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
                if n == 0 {
                    state.eof = true;
                } else if state.data.len() < KEEP_OUTPUT {
                    state.data.extend_from_slice(&chunk[..n]);
                } else {
                    state.dropped += n;
                }
                cv.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        capture
    }

    /// Everything so far, and whether the stream has ended.
    pub fn snapshot(&self) -> (Vec<u8>, bool) {
        let state = self.inner.0.lock().unwrap_or_else(|e| e.into_inner());
        (state.data.clone(), state.eof)
    }

    /// Waits until `done` holds for what has arrived (and whether the
    /// stream ended), or `until`; returns whether it held.
    pub fn wait_until(&self, until: Instant, done: impl Fn(&[u8], bool) -> bool) -> bool {
        let (lock, cv) = &*self.inner;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if done(&state.data, state.eof) {
                return true;
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            state = cv
                .wait_timeout(state, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// Where a process's stdin and stdout go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// stdin from nothing: a server.
    Server,
    /// stdin and stdout pipes: a client that works with pipes.
    Pipes,
    /// stdin and stdout a pseudo-terminal (stderr a pipe): a client that
    /// expects a terminal.
    Pty,
}

enum Input {
    Pipe(ChildStdin),
    Pty(std::fs::File),
}

/// A process pollchat-check started.
pub struct Proc {
    pub label: String,
    child: Child,
    input: Option<Input>,
    pub stdout: Capture,
    pub stderr: Capture,
    status: Option<ExitStatus>,
    tr: Transcript,
    /// Whether the last byte typed ended a line (a terminal needs Ctrl-D
    /// twice to end its input in the middle of one).
    at_line_start: bool,
}

impl Proc {
    /// Runs `cmdline` with `sh -c` in a new process group.
    pub fn spawn(cmdline: &str, io: Io, label: &str, tr: &Transcript) -> std::io::Result<Proc> {
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c").arg(cmdline);
        cmd.stderr(Stdio::piped());
        let mut pty_master = None;
        match io {
            Io::Server => {
                cmd.stdin(Stdio::null()).stdout(Stdio::piped());
            }
            Io::Pipes => {
                cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
            }
            Io::Pty => {
                let (master, slave) = crate::pty::open()?;
                cmd.stdin(Stdio::from(slave.try_clone()?));
                cmd.stdout(Stdio::from(slave));
                pty_master = Some(master);
            }
        }
        let with_tty = io == Io::Pty;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if with_tty {
                    // A session of its own, with the pty as its terminal.
                    if libc::setsid() < 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    libc::ioctl(0, libc::TIOCSCTTY, 0);
                } else if libc::setpgid(0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        tr.note(&format!("start {label}: {cmdline}"));
        let mut child = cmd.spawn()?;
        let stderr = child.stderr.take().expect("stderr is piped");
        // A server's output is not part of the transcript (it would drown
        // it); its last lines go with a failed case's report instead.
        let stderr = Capture::collect(
            stderr,
            (io != Io::Server).then(|| (tr.clone(), label.to_string(), Dir::Stderr)),
        );
        let printed = (io != Io::Server).then(|| (tr.clone(), label.to_string(), Dir::Printed));
        let (stdout, input) = match pty_master {
            Some(master) => {
                let reader = master.try_clone()?;
                (Capture::collect(reader, printed), Some(Input::Pty(master)))
            }
            None => {
                let out = child.stdout.take().expect("stdout is piped");
                let input = child.stdin.take().map(Input::Pipe);
                (Capture::collect(out, printed), input)
            }
        };
        Ok(Proc {
            label: label.to_string(),
            child,
            input,
            stdout,
            stderr,
            status: None,
            tr: tr.clone(),
            at_line_start: true,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Writes to its stdin; false if it has closed its stdin.
    pub fn type_bytes(&mut self, bytes: &[u8]) -> bool {
        self.tr.record(&self.label, Dir::Typed, bytes);
        if let Some(&last) = bytes.last() {
            self.at_line_start = last == b'\n';
        }
        match &mut self.input {
            Some(Input::Pipe(p)) => p.write_all(bytes).and_then(|_| p.flush()).is_ok(),
            Some(Input::Pty(m)) => m.write_all(bytes).is_ok(),
            None => false,
        }
    }

    /// Ends its input: closes the pipe, or types the terminal's end of
    /// file (Ctrl-D at the start of a line).
    pub fn end_input(&mut self) {
        self.tr.note(&format!("{}: end of input", self.label));
        match self.input.take() {
            Some(Input::Pipe(p)) => drop(p),
            Some(Input::Pty(mut m)) => {
                // The first Ctrl-D of a line only hands over what was typed.
                let eof: &[u8] = if self.at_line_start {
                    &[0x04]
                } else {
                    &[0x04, 0x04]
                };
                let _ = m.write_all(eof);
                // The master stays open: closing it would hang up the
                // terminal, which is not what a user at the end of input does.
                self.input = Some(Input::Pty(m));
            }
            None => {}
        }
    }

    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits for it to exit by itself until `until`.
    pub fn wait_exit(&mut self, until: Instant) -> Option<ExitStatus> {
        loop {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            if Instant::now() >= until {
                return None;
            }
            // A child's exit has no blocking wait with a timeout.
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stops its whole process group: SIGTERM, then SIGKILL after a second.
    pub fn stop(&mut self) {
        if self.exited().is_none() {
            let group = self.child.id() as i32;
            // SAFETY: signals to the process group we created for it.
            unsafe { libc::kill(-group, libc::SIGTERM) };
            if self
                .wait_exit(Instant::now() + Duration::from_secs(1))
                .is_none()
            {
                unsafe { libc::kill(-group, libc::SIGKILL) };
                let _ = self.child.wait();
            }
        }
        // Whatever it left behind in its group (a `sh -c` child).
        unsafe { libc::kill(-(self.child.id() as i32), libc::SIGKILL) };
        let _ = self.child.try_wait();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A spawned server, ready: its port is listening and, if asked, it has
/// printed the ready text.
pub struct Server {
    pub proc: Proc,
    pub port: u16,
}

/// What makes a spawned server ready.
#[derive(Debug, Clone)]
pub struct Ready {
    /// Text to wait for on stdout or stderr.
    pub text: Option<String>,
    /// Whether the text is required (`--ready` given): without it the
    /// server is ready once its port listens and the text has had `wait`
    /// more to appear.
    pub required: bool,
}

/// Starts the server command on a free port and waits until it is ready.
/// Tries three ports: another process may take a free port first.
pub fn start_server(
    template: &str,
    ready: &Ready,
    wait: Duration,
    tr: &Transcript,
) -> Result<Server, String> {
    let mut last = String::new();
    for _ in 0..3 {
        let port = crate::net::free_port().map_err(|e| format!("no free port: {e}"))?;
        let cmdline = fill(
            template,
            &[("port", &port.to_string()), ("host", "127.0.0.1")],
        );
        let proc = Proc::spawn(&cmdline, Io::Server, "server", tr)
            .map_err(|e| format!("cannot run {cmdline:?}: {e}"))?;
        match await_ready(proc, port, ready, wait) {
            Ok(server) => return Ok(server),
            Err((message, port_taken)) => {
                last = message;
                if !port_taken {
                    break;
                }
            }
        }
    }
    Err(last)
}

/// Waits for `proc` to be ready on `port`; on failure says why, and
/// whether another port might help.
fn await_ready(
    mut proc: Proc,
    port: u16,
    ready: &Ready,
    wait: Duration,
) -> Result<Server, (String, bool)> {
    let started = Instant::now();
    // A server gets `wait` to start, but at least 5 s: interpreters are slow.
    let until = started + wait.max(Duration::from_secs(5));
    let mut listening_since: Option<Instant> = None;
    loop {
        let text_seen = ready.text.as_deref().is_some_and(|text| {
            let seen = |c: &Capture| {
                let (data, _) = c.snapshot();
                data.windows(text.len()).any(|w| w == text.as_bytes())
            };
            seen(&proc.stdout) || seen(&proc.stderr)
        });
        let is_listening = match crate::net::listening_in_group(port, proc.pid()) {
            Some(l) => l,
            None => std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        };
        if is_listening && listening_since.is_none() {
            listening_since = Some(Instant::now());
        }
        let text_done = ready.text.is_none()
            || text_seen
            || (!ready.required && listening_since.is_some_and(|t| t.elapsed() >= wait));
        if is_listening && text_done {
            return Ok(Server { proc, port });
        }
        if let Some(status) = proc.exited() {
            // Let the output threads catch up before quoting it.
            std::thread::sleep(Duration::from_millis(50));
            let (err, _) = proc.stderr.snapshot();
            let (out, _) = proc.stdout.snapshot();
            let said = tail(&[out, err].concat());
            let port_taken = said.contains("in use") || said.contains("Address already");
            return Err((
                format!("the server exited ({status}) before it was ready; it printed: {said}"),
                port_taken,
            ));
        }
        if Instant::now() >= until {
            let what = match (&ready.text, is_listening) {
                (Some(text), true) => format!("never printed {text:?}"),
                _ => format!("never listened on port {port}"),
            };
            return Err((
                format!(
                    "the server {what} within {:.1} s",
                    until.duration_since(started).as_secs_f64()
                ),
                false,
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The last few hundred bytes of some output, readable.
pub fn tail(bytes: &[u8]) -> String {
    let start = bytes.len().saturating_sub(400);
    let text = String::from_utf8_lossy(&bytes[start..]);
    if text.trim().is_empty() {
        "nothing".to_string()
    } else {
        format!("{:?}", text.trim_end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        assert_eq!(
            fill(
                "srv --port {port} --host {host} {port}",
                &[("port", "9"), ("host", "h")]
            ),
            "srv --port 9 --host h 9"
        );
    }

    #[test]
    fn a_process_is_stopped_with_its_children() {
        let tr = Transcript::new();
        let mut p = Proc::spawn("sleep 30 & sleep 30", Io::Server, "t", &tr).unwrap();
        let started = Instant::now();
        p.stop();
        assert!(p.exited().is_some());
        assert!(started.elapsed() < Duration::from_secs(3));
    }

    #[test]
    fn output_is_collected_and_waited_for() {
        let tr = Transcript::new();
        let mut p = Proc::spawn("echo Server is on; echo oops >&2", Io::Server, "t", &tr).unwrap();
        let until = Instant::now() + Duration::from_secs(5);
        assert!(p
            .stdout
            .wait_until(until, |d, eof| eof && d == b"Server is on\n"));
        assert!(p.stderr.wait_until(until, |d, _| d == b"oops\n"));
        assert!(p.wait_exit(until).unwrap().success());
    }
}
