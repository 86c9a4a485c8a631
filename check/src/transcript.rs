//! A case's transcript: every byte sent and received on every connection,
//! what was typed and printed, with times. Bounded, so a flood of
//! megabytes keeps the first bytes of each event and a count of the rest.

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes kept of one event; the rest is counted.
const KEEP_PER_EVENT: usize = 240;
/// Events kept; past this only their number is counted.
const KEEP_EVENTS: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// pollchat-check sent these bytes on a connection.
    Sent,
    /// ... and received these.
    Received,
    /// The peer closed (or reset) the connection.
    Closed,
    /// Typed into a client's stdin.
    Typed,
    /// A client printed on stdout.
    Printed,
    /// A client printed on stderr.
    Stderr,
    /// A step of the case, in words.
    Note,
}

impl Dir {
    fn arrow(self) -> &'static str {
        match self {
            Dir::Sent => "->",
            Dir::Received => "<-",
            Dir::Closed => "<- (closed)",
            Dir::Typed => "stdin <-",
            Dir::Printed => "stdout ->",
            Dir::Stderr => "stderr ->",
            Dir::Note => "#",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Event {
    pub at: Duration,
    pub who: String,
    pub dir: Dir,
    pub bytes: Vec<u8>,
    /// Bytes of this event not kept.
    pub more: usize,
}

#[derive(Debug, Default)]
struct Inner {
    events: Vec<Event>,
    dropped: usize,
}

/// Shared by every connection and process of one case.
#[derive(Debug, Clone)]
pub struct Transcript {
    start: Instant,
    inner: Arc<Mutex<Inner>>,
}

impl Transcript {
    pub fn new() -> Transcript {
        Transcript {
            start: Instant::now(),
            inner: Arc::default(),
        }
    }

    pub fn record(&self, who: &str, dir: Dir, bytes: &[u8]) {
        let at = self.start.elapsed();
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Consecutive pieces of one stream are one event: a line that
        // arrived in three reads reads as one line.
        if let Some(last) = inner.events.last_mut() {
            if last.who == who && last.dir == dir && matches!(dir, Dir::Received | Dir::Printed) {
                let room = KEEP_PER_EVENT.saturating_sub(last.bytes.len());
                let take = room.min(bytes.len());
                last.bytes.extend_from_slice(&bytes[..take]);
                last.more += bytes.len() - take;
                return;
            }
        }
        if inner.events.len() >= KEEP_EVENTS {
            inner.dropped += 1;
            return;
        }
        let take = bytes.len().min(KEEP_PER_EVENT);
        inner.events.push(Event {
            at,
            who: who.to_string(),
            dir,
            bytes: bytes[..take].to_vec(),
            more: bytes.len() - take,
        });
    }

    pub fn note(&self, text: &str) {
        self.record("", Dir::Note, text.as_bytes());
    }

    pub fn events(&self) -> (Vec<Event>, usize) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        (inner.events.clone(), inner.dropped)
    }

    /// The transcript as text, one event a line.
    pub fn render(&self) -> String {
        let (events, dropped) = self.events();
        let mut out = String::new();
        for e in &events {
            let secs = e.at.as_secs_f64();
            if e.dir == Dir::Note {
                let _ = writeln!(out, "+{secs:.3} # {}", String::from_utf8_lossy(&e.bytes));
                continue;
            }
            let _ = write!(out, "+{secs:.3} {} {}", e.who, e.dir.arrow());
            if e.dir != Dir::Closed {
                let _ = write!(out, " \"{}\"", escape(&e.bytes));
            }
            if e.more > 0 {
                let _ = write!(out, " (+{} bytes)", e.more);
            }
            out.push('\n');
        }
        if dropped > 0 {
            let _ = writeln!(out, "({dropped} more events not kept)");
        }
        out
    }
}

impl Default for Transcript {
    fn default() -> Transcript {
        Transcript::new()
    }
}

/// Bytes as a readable string: printable ASCII as it is, `\r \n \t \\ \"`,
/// every other byte `\xNN`.
pub fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        match b {
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            0x20..=0x7e => out.push(b as char),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out
}

/// `escape`, cut to `max` bytes of input with a note of the rest.
pub fn show(bytes: &[u8]) -> String {
    const MAX: usize = 160;
    if bytes.len() <= MAX {
        format!("\"{}\"", escape(bytes))
    } else {
        format!("\"{}\"... ({} bytes)", escape(&bytes[..MAX]), bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_every_unprintable_byte() {
        assert_eq!(
            escape(b"a\r\n\t\"\\\x00\xff~"),
            "a\\r\\n\\t\\\"\\\\\\x00\\xff~"
        );
    }

    #[test]
    fn pieces_of_one_stream_are_one_event_and_big_ones_are_cut() {
        let t = Transcript::new();
        t.record("a", Dir::Received, b"JOIN ");
        t.record("a", Dir::Received, b"ok\r\n");
        t.record("a", Dir::Sent, &[b'x'; 1000]);
        let (events, _) = t.events();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].bytes, b"JOIN ok\r\n");
        assert_eq!(events[1].more, 1000 - KEEP_PER_EVENT);
        assert!(t.render().contains("(+760 bytes)"));
    }
}
