//! `--transcript FILE`: the class chat as a file, for `tail -f` on the
//! projector. One line per public event, with the time, the dialect and
//! who:
//!
//! ```text
//! 2026-12-02T10:15:03Z mesg * alice joined
//! 2026-12-02T10:15:09Z mesg alice: hello all
//! 2026-12-02T10:15:12Z channels * kay joined [168]
//! 2026-12-02T10:15:20Z channels [168] kay: Hi!
//! 2026-12-02T10:15:31Z hello bob -> alice: hi      (only with --transcript-direct)
//! 2026-12-02T10:16:02Z mesg * alice left
//! ```
//!
//! Two halves. [`Transcript`] turns what the hub saw happen in public
//! ([`Public`]) into lines in a bounded buffer; it has no file and no
//! clock of its own, so the relay owns it and the simulator can drive it.
//! [`TranscriptFile`] is the loop's: once a turn it offers the file what is
//! buffered, at most [`TRANSCRIPT_WRITE_MAX`] bytes, so a large backlog
//! never makes one turn long. When the file will not take it (a full disk:
//! `ENOSPC`), lines wait in the buffer until it is full, then are dropped
//! and counted, and the log says so, once when it starts and once when the
//! file takes lines again.
//!
//! A write to a regular file does not wait for a reader as a socket or a
//! pipe can; it can still be slowed by the disk, which no single-threaded
//! server avoids. The file is opened non-blocking all the same, so a FIFO
//! given by mistake cannot stall the loop either.
//!
//! Text is made harmless as the dialects do it for each other
//! ([`crate::text::sanitize`]): no control character, so no one can end a
//! line early, forge another or drive the terminal that shows it.

use crate::hub::Public;
use crate::limits::{TRANSCRIPT_PENDING_MAX, TRANSCRIPT_WRITE_MAX};
use log::{info, warn};
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Public events as transcript lines, waiting to be written.
#[derive(Debug)]
pub struct Transcript {
    /// Keep direct messages too (`--transcript-direct`).
    direct: bool,
    pending: Vec<u8>,
    /// Lines dropped since the file last took everything.
    dropped: u64,
    /// `2026-12-02T10:15:03Z`, for the second `stamp_secs`.
    stamp: String,
    stamp_secs: u64,
}

impl Transcript {
    pub fn new(direct: bool) -> Transcript {
        Transcript {
            direct,
            pending: Vec::new(),
            dropped: 0,
            stamp: String::new(),
            stamp_secs: u64::MAX,
        }
    }

    /// The time the next lines carry (the loop sets it once a turn).
    pub fn set_time(&mut self, now: SystemTime) {
        let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.stamp_secs {
            self.stamp_secs = secs;
            self.stamp = format!("{}Z", crate::logger::seconds_stamp(secs));
        }
    }

    /// Adds the line for `what`, done by a user of `dialect`.
    pub fn record(&mut self, dialect: &str, what: &Public) {
        let start = self.pending.len();
        let out = &mut self.pending;
        out.extend_from_slice(self.stamp.as_bytes());
        out.push(b' ');
        out.extend_from_slice(dialect.as_bytes());
        out.push(b' ');
        match what {
            Public::Arrived { who } => put(out, &[b"* ", who.as_bytes(), b" joined"]),
            Public::Departed { who } => put(out, &[b"* ", who.as_bytes(), b" left"]),
            Public::Broadcast { from, text } => put(out, &[from.as_bytes(), b": ", text]),
            Public::Channel {
                from,
                channel,
                text,
            } => put(
                out,
                &[
                    b"[",
                    channel.as_bytes(),
                    b"] ",
                    from.as_bytes(),
                    b": ",
                    text,
                ],
            ),
            Public::Entered { who, channel } => put(
                out,
                &[
                    b"* ",
                    who.as_bytes(),
                    b" joined [",
                    channel.as_bytes(),
                    b"]",
                ],
            ),
            Public::Exited { who, channel } => put(
                out,
                &[b"* ", who.as_bytes(), b" left [", channel.as_bytes(), b"]"],
            ),
            Public::Direct { from, to, text } if self.direct => {
                put(out, &[from.as_bytes(), b" -> ", to.as_bytes(), b": ", text])
            }
            Public::Direct { .. } => {
                out.truncate(start);
                return;
            }
        }
        crate::text::sanitize(&mut out[start..]);
        out.push(b'\n');
        if out.len() > TRANSCRIPT_PENDING_MAX {
            out.truncate(start);
            self.dropped += 1;
        }
    }

    /// What waits to be written.
    pub fn pending(&self) -> &[u8] {
        &self.pending
    }

    /// `n` bytes of [`Transcript::pending`] were written.
    pub fn consume(&mut self, n: usize) {
        self.pending.drain(..n.min(self.pending.len()));
        if self.pending.is_empty() && self.pending.capacity() > TRANSCRIPT_WRITE_MAX {
            self.pending = Vec::new();
        }
    }

    /// Lines dropped since the last call.
    pub fn take_dropped(&mut self) -> u64 {
        std::mem::take(&mut self.dropped)
    }
}

fn put(out: &mut Vec<u8>, parts: &[&[u8]]) {
    for part in parts {
        out.extend_from_slice(part);
    }
}

/// The transcript's file, written by the loop.
#[derive(Debug)]
pub struct TranscriptFile {
    file: File,
    path: PathBuf,
    /// The last write failed (and the log said so).
    failing: bool,
    /// Lines dropped since the file last failed.
    dropped: u64,
}

impl TranscriptFile {
    /// Opens `path` for appending, creating it if need be.
    pub fn open(path: &Path) -> io::Result<TranscriptFile> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open(path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot open transcript {}: {e}", path.display()),
                )
            })?;
        Ok(TranscriptFile {
            file,
            path: path.to_path_buf(),
            failing: false,
            dropped: 0,
        })
    }

    /// Writes what `transcript` holds, a slice at a time. Whole lines
    /// only: the file never shows half a line followed by another.
    pub fn write_from(&mut self, transcript: &mut Transcript) {
        self.dropped += transcript.take_dropped();
        let pending = transcript.pending();
        if pending.is_empty() {
            return;
        }
        let slice = &pending[..pending.len().min(TRANSCRIPT_WRITE_MAX)];
        let Some(end) = slice.iter().rposition(|&b| b == b'\n') else {
            // One line longer than a slice: write it whole.
            let end = pending
                .iter()
                .position(|&b| b == b'\n')
                .map_or(0, |i| i + 1);
            return self.write(transcript, end);
        };
        self.write(transcript, end + 1);
    }

    fn write(&mut self, transcript: &mut Transcript, len: usize) {
        loop {
            match self.file.write(&transcript.pending()[..len]) {
                Ok(n) => {
                    transcript.consume(n);
                    if self.failing || self.dropped > 0 {
                        self.failing = false;
                        info!(
                            "transcript {}: written again; {} lines were dropped",
                            self.path.display(),
                            self.dropped
                        );
                        self.dropped = 0;
                    }
                    return;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => {
                    if !self.failing {
                        self.failing = true;
                        warn!(
                            "transcript {}: cannot write ({e}); lines wait, and are dropped once {} bytes wait",
                            self.path.display(),
                            TRANSCRIPT_PENDING_MAX
                        );
                    }
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    fn transcript(direct: bool) -> Transcript {
        let mut t = Transcript::new(direct);
        t.set_time(UNIX_EPOCH + std::time::Duration::from_secs(1_795_314_735));
        t
    }

    fn text(t: &Transcript) -> String {
        String::from_utf8(t.pending().to_vec()).unwrap()
    }

    #[test]
    fn each_public_event_is_one_line_with_time_dialect_and_who() {
        let mut t = transcript(false);
        let (kay, room): (Rc<str>, Rc<str>) = ("kay".into(), "168 tas".into());
        t.record("mesg", &Public::Arrived { who: kay.clone() });
        t.record(
            "mesg",
            &Public::Broadcast {
                from: kay.clone(),
                text: b"hi all".as_slice().into(),
            },
        );
        t.record(
            "channels",
            &Public::Entered {
                who: kay.clone(),
                channel: room.clone(),
            },
        );
        t.record(
            "channels",
            &Public::Channel {
                from: kay.clone(),
                channel: room.clone(),
                text: b"Hi!".as_slice().into(),
            },
        );
        t.record(
            "channels",
            &Public::Exited {
                who: kay.clone(),
                channel: room,
            },
        );
        t.record("hello", &Public::Departed { who: kay });
        assert_eq!(
            text(&t),
            "2026-11-22T02:32:15Z mesg * kay joined\n\
             2026-11-22T02:32:15Z mesg kay: hi all\n\
             2026-11-22T02:32:15Z channels * kay joined [168 tas]\n\
             2026-11-22T02:32:15Z channels [168 tas] kay: Hi!\n\
             2026-11-22T02:32:15Z channels * kay left [168 tas]\n\
             2026-11-22T02:32:15Z hello * kay left\n"
        );
    }

    #[test]
    fn direct_messages_only_when_asked_for() {
        let direct = Public::Direct {
            from: "ana".into(),
            to: "bob".into(),
            text: b"psst".as_slice().into(),
        };
        let mut t = transcript(false);
        t.record("hello", &direct);
        assert_eq!(text(&t), "");
        let mut t = transcript(true);
        t.record("hello", &direct);
        assert_eq!(text(&t), "2026-11-22T02:32:15Z hello ana -> bob: psst\n");
    }

    #[test]
    fn text_cannot_end_a_line_or_drive_the_terminal() {
        let mut t = transcript(false);
        t.record(
            "channels",
            &Public::Broadcast {
                from: "kay".into(),
                text: b"a\n2026-11-22T02:32:15Z mesg bob: forged\x1b[2J"
                    .as_slice()
                    .into(),
            },
        );
        assert_eq!(
            text(&t),
            "2026-11-22T02:32:15Z channels kay: a 2026-11-22T02:32:15Z mesg bob: forged [2J\n"
        );
    }

    #[test]
    fn lines_past_the_bound_are_dropped_whole_and_counted() {
        let mut t = transcript(false);
        let big: Rc<[u8]> = vec![b'x'; 60_000].into();
        let line = Public::Broadcast {
            from: "kay".into(),
            text: big,
        };
        for _ in 0..100 {
            t.record("mesg", &line);
        }
        assert!(t.pending().len() <= TRANSCRIPT_PENDING_MAX);
        assert!(t.pending().ends_with(b"\n"));
        let kept = t.pending().iter().filter(|&&b| b == b'\n').count() as u64;
        assert_eq!(kept + t.take_dropped(), 100);
    }

    #[test]
    fn a_full_disk_keeps_lines_then_drops_them_and_nothing_is_cut() {
        let Ok(mut file) = TranscriptFile::open(Path::new("/dev/full")) else {
            return; // no /dev/full on this system
        };
        let mut t = transcript(false);
        let line = Public::Broadcast {
            from: "kay".into(),
            text: vec![b'y'; 1000].into(),
        };
        for _ in 0..5000 {
            t.record("mesg", &line);
            file.write_from(&mut t);
        }
        assert!(file.failing);
        assert!(file.dropped > 0);
        assert!(t.pending().len() <= TRANSCRIPT_PENDING_MAX);
    }
}
