//! Status lines on stderr that can never stop the server.
//!
//! Graders start the server on a terminal or a pipe and never read it after
//! `Server is on`; under systemd, stderr is a socket to journald, which can
//! stall (systemd issue 16456). Once the pipe or socket is full (64 KiB for
//! a pipe on Linux; a terminal nobody scrolls fills sooner), an ordinary
//! write to stderr blocks, and with one thread the whole server would
//! freeze with it. `simple_logger`, like `eprintln!`, writes in blocking
//! mode, so we have this small logger instead.
//!
//! It never changes the flags of the descriptor we inherited: that open
//! file is shared with our parent (a shell, a grader, systemd), and making
//! it non-blocking would change it for them too. Instead, by what stderr is:
//!
//! * a regular file: written as it is (a file never blocks);
//! * a socket (journald): each write is a `send` with `MSG_DONTWAIT`,
//!   non-blocking for that call only;
//! * a pipe or terminal: written through a fresh open of `/proc/self/fd/2`
//!   with `O_NONBLOCK`, a descriptor of our own.
//!
//! One case still blocks: a pipe or terminal when `/proc/self/fd/2` cannot
//! be opened (no `/proc` mounted, as in some chroots). Then the inherited
//! descriptor is written as it is, and a warning says so at start-up.
//!
//! Lines are gathered in a small bounded buffer and written in batches, at
//! the latest when the loop's turn ends; when stderr will not take them and
//! the buffer is full, lines are dropped and counted, and the count is
//! logged as soon as stderr drains.

use log::{Level, LevelFilter, Log, Metadata, Record};
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::limits::{
    LOG_LINE_ROOM as LINE_ROOM, LOG_PENDING_MAX as PENDING_MAX, LOG_WARN_RESERVE as WARN_RESERVE,
    LOG_WRITE_BATCH as WRITE_BATCH,
};

/// Lines dropped since the start, for the operator's STATS.
static DROPPED_TOTAL: AtomicU64 = AtomicU64::new(0);

/// How many status lines have been dropped since the server started.
pub fn dropped_lines() -> u64 {
    DROPPED_TOTAL.load(Ordering::Relaxed)
}

fn count_drop() {
    DROPPED_TOTAL.fetch_add(1, Ordering::Relaxed);
}

/// Where status lines go (see the module comment).
enum Out {
    /// A regular file, or our own non-blocking open of a pipe or terminal.
    File(File),
    /// A socket: written with `send(MSG_DONTWAIT)`.
    Socket(OwnedFd),
}

impl Out {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Out::File(file) => file.write(buf),
            Out::Socket(fd) => {
                // MSG_NOSIGNAL: a reader gone is an error, not a SIGPIPE.
                let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
                // SAFETY: send reads at most `buf.len()` bytes from `buf`.
                let n =
                    unsafe { libc::send(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), flags) };
                // EAGAIN comes back as WouldBlock, kept pending as for a pipe.
                usize::try_from(n).map_err(|_| io::Error::last_os_error())
            }
        }
    }
}

struct Sink {
    /// None if stderr was closed when we started: lines go nowhere.
    out: Option<Out>,
    /// Bytes that stderr would not take yet.
    pending: Vec<u8>,
    /// Lines dropped since stderr last took everything.
    dropped: u64,
    /// The queue was full and stderr took nothing: drop without trying
    /// again until the next flush.
    stuck: bool,
    /// `2026-11-22T02:31:47` for the second `stamp_secs`.
    stamp: String,
    stamp_secs: u64,
}

impl Sink {
    fn new(out: Option<Out>) -> Sink {
        Sink {
            out,
            pending: Vec::new(),
            dropped: 0,
            stuck: false,
            stamp: String::new(),
            stamp_secs: 0,
        }
    }

    /// Writes what is pending; true if nothing is left.
    fn drain(&mut self) -> bool {
        let Some(out) = self.out.as_mut() else {
            self.pending.clear();
            return true;
        };
        while !self.pending.is_empty() {
            match out.write(&self.pending) {
                Ok(0) => return false,
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // WouldBlock, or stderr is gone: keep it for later.
                Err(_) => return false,
            }
        }
        true
    }

    /// Queues a line, if the queue has `room` for it (less for info lines
    /// than for warnings: [`WARN_RESERVE`]); writes only once a batch has
    /// gathered. Under load a
    /// status line per request, each its own `write`, once halved the
    /// server's throughput; now the loop's turn ends with one `flush`.
    fn emit(&mut self, line: &[u8], room: usize) {
        if self.pending.len() + line.len() > room {
            // Full: make room if stderr will take some now.
            self.drain();
        }
        if self.pending.len() + line.len() > room {
            self.dropped += 1;
            count_drop();
            return;
        }
        self.pending.extend_from_slice(line);
        if self.pending.len() >= WRITE_BATCH {
            self.drain();
        }
    }

    /// Formats a record straight into the queue: no allocation per line,
    /// and the date worked out once a second. When the queue is full and
    /// stderr took nothing at the last try, the line is counted as dropped
    /// before it is formatted: a flood of requests, each with its status
    /// line, must not cost the loop a formatting and a failed `write` per
    /// line it cannot keep. The next `flush` (the end of the turn) tries
    /// stderr again.
    fn record(&mut self, record: &Record) {
        let room = if record.level() <= Level::Warn {
            PENDING_MAX
        } else {
            PENDING_MAX - WARN_RESERVE
        };
        if self.pending.len() + LINE_ROOM > room && (self.stuck || !self.drain()) {
            self.stuck = true;
            self.dropped += 1;
            count_drop();
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        if now.as_secs() != self.stamp_secs || self.stamp.is_empty() {
            self.stamp_secs = now.as_secs();
            self.stamp = seconds_stamp(self.stamp_secs);
        }
        let start = self.pending.len();
        let _ = writeln!(
            self.pending,
            "{}.{:03}Z {:<5} [{}] {}",
            self.stamp,
            now.subsec_millis(),
            record.level(),
            record.target(),
            record.args()
        );
        escape_controls(&mut self.pending, start);
        if self.pending.len() > room {
            // Over the bound: take the line back and queue it only if
            // stderr makes room.
            let line = self.pending.split_off(start);
            self.emit(&line, room);
        } else if self.pending.len() >= WRITE_BATCH {
            self.drain();
        }
    }

    /// Writes what is queued and, once everything is out, says how many
    /// lines were dropped meanwhile.
    fn flush(&mut self) {
        self.stuck = false;
        if self.drain() && self.dropped > 0 {
            let note = format!(
                "{} WARN  [pollchat::logger] {} log lines dropped: stderr was not being read\n",
                timestamp(),
                self.dropped
            );
            self.dropped = 0;
            self.pending.extend_from_slice(note.as_bytes());
            self.drain();
        }
    }
}

/// Escapes every control character in the line that starts at `start` and
/// runs to the end of `buf`, but its final newline. The dialects already
/// show peer-chosen text with crate::text::shown; this is the last line of
/// defence, so no status line can ever end early, forge another, or drive
/// the terminal it is read on. Costs one scan when there is nothing to do.
fn escape_controls(buf: &mut Vec<u8>, start: usize) {
    let body = &buf[start..buf.len().saturating_sub(1)];
    // 0xC2 leads every UTF-8 C1 control; only then is a closer look needed.
    if !body.iter().any(|&b| b < 0x20 || b == 0x7F || b == 0xC2) {
        return;
    }
    let line = buf.split_off(start);
    let body = &line[..line.len() - 1];
    let _ = writeln!(buf, "{}", crate::text::escaped(body));
}

/// The `log` backend: one line per record, timestamped, on stderr.
pub struct Logger {
    level: LevelFilter,
    sink: Mutex<Sink>,
}

/// How status lines will reach the descriptor `fd` (stderr), without
/// changing its flags; `true` as well if writing them can block (the one
/// case in the module comment).
fn open_out(fd: RawFd) -> (Option<Out>, bool) {
    // SAFETY: dup returns a new descriptor (or -1); the File owns only it.
    let dup = unsafe { libc::dup(fd) };
    if dup < 0 {
        return (None, false);
    }
    let inherited = unsafe { File::from_raw_fd(dup) };
    let kind = inherited.metadata().map(|m| m.file_type());
    if kind.as_ref().is_ok_and(|k| k.is_file()) {
        return (Some(Out::File(inherited)), false);
    }
    if kind.as_ref().is_ok_and(|k| k.is_socket()) {
        return (Some(Out::Socket(inherited.into())), false);
    }
    // A pipe, a terminal, /dev/null: a fresh open file of our own, so
    // O_NONBLOCK does not leak into the one our parent shares.
    let reopened = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(format!("/proc/self/fd/{fd}"));
    match reopened {
        Ok(file) => (Some(Out::File(file)), false),
        Err(_) => (Some(Out::File(inherited)), true),
    }
}

impl Logger {
    /// Installs the logger for the whole process.
    pub fn init(level: LevelFilter) -> Result<(), log::SetLoggerError> {
        let (out, blocking) = open_out(2);
        let logger = Logger {
            level,
            sink: Mutex::new(Sink::new(out)),
        };
        // The logger lives as long as the process.
        log::set_logger(Box::leak(Box::new(logger)))?;
        log::set_max_level(level);
        if blocking {
            log::warn!(
                "stderr is a pipe or terminal and /proc/self/fd/2 cannot be opened: \
                 status lines are written blocking, and an unread stderr can stop the server"
            );
        }
        Ok(())
    }
}

impl Log for Logger {
    fn enabled(&self, metadata: &Metadata) -> bool {
        metadata.level() <= self.level
    }

    fn log(&self, record: &Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        if let Ok(mut sink) = self.sink.lock() {
            sink.record(record);
        }
    }

    /// Called by the event loop at the end of every turn (and by the
    /// server before it says `Server is on`): writes what is queued, and
    /// reports dropped lines once stderr has room again.
    fn flush(&self) {
        if let Ok(mut sink) = self.sink.lock() {
            sink.flush();
        }
    }
}

/// `2026-11-22T02:31:47.354Z`: now, in UTC.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}.{:03}Z",
        seconds_stamp(now.as_secs()),
        now.subsec_millis()
    )
}

/// `2026-11-22T02:31:47` for `secs` since the Unix epoch (UTC), with no
/// date library: days since the epoch to a civil date (Howard Hinnant's
/// algorithm).
pub(crate) fn seconds_stamp(secs: u64) -> String {
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates_come_out_right() {
        assert_eq!(seconds_stamp(0), "1970-01-01T00:00:00");
        assert_eq!(seconds_stamp(951_782_400), "2000-02-29T00:00:00");
        assert_eq!(seconds_stamp(1_795_314_735), "2026-11-22T02:32:15");
    }

    #[test]
    fn timestamps_are_utc_iso_8601() {
        let t = timestamp();
        assert_eq!(t.len(), 24, "{t}");
        assert!(
            t.ends_with('Z') && &t[4..5] == "-" && &t[10..11] == "T",
            "{t}"
        );
        assert!(t.as_str() > "2024-01-01");
    }

    #[test]
    fn control_characters_in_a_line_are_escaped_but_its_newline() {
        let mut buf = b"before\n".to_vec();
        let start = buf.len();
        buf.extend_from_slice("x INFO [t] a\nClient (9): forged\r\x1b[2J\u{9b}\té\n".as_bytes());
        escape_controls(&mut buf, start);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "before\nx INFO [t] a\\nClient (9): forged\\r\\x1b[2J\\u{9b}\\té\n"
        );
        let clean = b"x INFO [t] caf\xc3\xa9 \xc2\xa0 ok\n";
        let mut buf = clean.to_vec();
        escape_controls(&mut buf, 0);
        assert_eq!(buf, clean);
    }

    /// Reads `reader` (non-blocking) and flushes `sink` until everything
    /// is out: the count of dropped lines must come, and no line be cut.
    fn read_until_drained(sink: &mut Sink, reader: &mut impl std::io::Read) {
        let dropped = sink.dropped;
        let mut all = Vec::new();
        let mut chunk = [0u8; 65536];
        loop {
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&chunk[..n]);
            }
            if sink.pending.is_empty() && sink.dropped == 0 {
                break;
            }
            sink.flush();
        }
        let text = String::from_utf8_lossy(&all);
        assert!(
            text.contains(&format!("{dropped} log lines dropped")),
            "no count"
        );
        assert_eq!(
            all.iter().filter(|&&b| b == b'x').count() % 1000,
            0,
            "a line was cut"
        );
    }

    #[test]
    fn a_full_pipe_drops_and_counts_lines_and_reports_them_after() {
        let mut fds = [0; 2];
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        let (mut reader, writer) =
            unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let mut sink = Sink::new(Some(Out::File(writer)));
        let line = [b'x'; 1000];
        // Pipe (64 KiB) and pending buffer (64 KiB) fill; the rest drop.
        for _ in 0..200 {
            sink.emit(&line, PENDING_MAX);
        }
        assert!(sink.dropped > 0);
        assert!(sink.pending.len() <= PENDING_MAX);
        read_until_drained(&mut sink, &mut reader);
    }

    #[test]
    fn warnings_still_get_in_when_info_lines_have_filled_the_queue() {
        let mut fds = [0; 2];
        assert_eq!(
            unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK) },
            0
        );
        let (_reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let mut sink = Sink::new(Some(Out::File(writer)));
        let text = "y".repeat(300);
        let log = |sink: &mut Sink, level: Level, msg: &str| {
            sink.record(
                &Record::builder()
                    .level(level)
                    .target("pollchat::test")
                    .args(format_args!("{msg}"))
                    .build(),
            )
        };
        // Nobody reads the pipe: info lines fill it and the queue, then drop.
        while sink.dropped == 0 {
            log(&mut sink, Level::Info, &text);
        }
        assert!(sink.pending.len() <= PENDING_MAX - WARN_RESERVE);
        log(&mut sink, Level::Warn, "Client (9): cut off");
        let pending = String::from_utf8_lossy(&sink.pending);
        assert!(pending.ends_with("[pollchat::test] Client (9): cut off\n"));
        assert!(sink.pending.len() <= PENDING_MAX);
    }

    #[test]
    fn a_full_socket_drops_and_counts_lines_and_keeps_its_flags() {
        use std::os::unix::net::UnixStream;
        // A blocking socket, as journald's is: only our sends are not.
        let (mut reader, writer) = UnixStream::pair().unwrap();
        let (out, blocking) = open_out(writer.as_raw_fd());
        assert!(matches!(out, Some(Out::Socket(_))) && !blocking);
        let mut sink = Sink::new(out);
        let line = [b'x'; 1000];
        // The socket's buffer (about 200 KiB) and the pending buffer fill,
        // then lines drop. A blocking send would hang here instead.
        let mut sent = 0;
        while sink.dropped == 0 {
            sink.emit(&line, PENDING_MAX);
            sent += 1;
            assert!(sent < 100_000, "the socket never filled");
        }
        assert!(sink.pending.len() <= PENDING_MAX);
        let flags = unsafe { libc::fcntl(writer.as_raw_fd(), libc::F_GETFL) };
        assert_eq!(flags & libc::O_NONBLOCK, 0, "the shared socket was changed");
        reader.set_nonblocking(true).unwrap();
        read_until_drained(&mut sink, &mut reader);
    }

    #[test]
    fn stderr_of_each_kind_gets_a_sink_that_cannot_block() {
        let file = a_temporary_file();
        let (out, blocking) = open_out(file.as_raw_fd());
        assert!(matches!(out, Some(Out::File(_))) && !blocking);
        let mut fds = [0; 2];
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let (_reader, writer) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
        let (out, blocking) = open_out(writer.as_raw_fd());
        let Some(Out::File(reopened)) = out else {
            panic!("a pipe gets a file");
        };
        assert!(!blocking);
        let flags = |fd: RawFd| unsafe { libc::fcntl(fd, libc::F_GETFL) } & libc::O_NONBLOCK;
        assert_ne!(
            flags(reopened.as_raw_fd()),
            0,
            "our own open is non-blocking"
        );
        assert_eq!(flags(writer.as_raw_fd()), 0, "the shared pipe is unchanged");
        assert!(matches!(open_out(-1), (None, false)));
    }

    /// A regular file that is removed again when dropped.
    fn a_temporary_file() -> File {
        let path = std::env::temp_dir().join(format!("pollchat-logger-{}", std::process::id()));
        let file = File::create(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        file
    }
}
