//! The server role: pollchat-check connects as the users and checks what
//! the target server sends each of them. One module per dialect, each
//! with its rules (ids from the assignment or docs/PROTOCOLS.md) and the
//! robustness battery in that dialect's terms.

pub mod channels;
pub mod hello;
pub mod mesg;
pub mod miniserv;
pub mod sendto;

use crate::case::{Case, Ctx, Dialect, Fail, R};
use crate::net::Conn;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub fn cases(dialect: Dialect) -> &'static [Case] {
    match dialect {
        Dialect::Mesg => mesg::CASES,
        Dialect::Hello => hello::CASES,
        Dialect::Channels => channels::CASES,
        Dialect::Sendto => sendto::CASES,
        Dialect::Miniserv => miniserv::CASES,
    }
}

/// The most a flood sends: more than the kernel's buffers on the way to
/// a reader that stopped and back from the flooder can hold, so that a
/// server must hold the flood back (or be stuck on it) before the end.
pub const FLOOD_CAP: usize = 64 << 20;

/// A connection that writes one chunk over and over on a thread of its
/// own, without recording it, until it has written `total` bytes, the
/// target stops taking them, or it is stopped.
pub struct Flood {
    written: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Conn>>,
}

impl Flood {
    /// A flood that gives up once the target stops taking its bytes for
    /// half a second.
    pub fn start(ctx: &Ctx, conn: Conn, chunk: Vec<u8>, total: usize) -> Flood {
        Flood::start_with(ctx, conn, chunk, total, Duration::from_millis(500))
    }

    /// A flood that waits as long as the case may for the target to take
    /// every byte: for requests that must all arrive.
    pub fn patient(ctx: &Ctx, conn: Conn, chunk: Vec<u8>, total: usize) -> Flood {
        let left = ctx.deadline.saturating_duration_since(Instant::now());
        Flood::start_with(ctx, conn, chunk, total, left)
    }

    fn start_with(
        ctx: &Ctx,
        mut conn: Conn,
        chunk: Vec<u8>,
        total: usize,
        patience: Duration,
    ) -> Flood {
        ctx.note(format!(
            "{} floods: {} bytes of {} (not kept in the transcript)",
            conn.label,
            total,
            crate::transcript::show(&chunk[..chunk.len().min(40)])
        ));
        let written = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (w, s) = (written.clone(), stop.clone());
        conn.set_write_timeout(patience);
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) && w.load(Ordering::Relaxed) < total {
                if !conn.send_quietly(&chunk) {
                    break;
                }
                w.fetch_add(chunk.len(), Ordering::Relaxed);
            }
            conn
        });
        Flood {
            written,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until the flood has made no progress for half a second (the
    /// target stopped reading it: every buffer on the way is full), or is
    /// done (the target held all of it).
    pub fn settle(&self, ctx: &Ctx) {
        let mut last = 0;
        let mut since = Instant::now();
        while !ctx.out_of_time() {
            let now = self.written.load(Ordering::Relaxed);
            let finished = self.thread.as_ref().is_none_or(|t| t.is_finished());
            if finished {
                break;
            }
            if now != last {
                last = now;
                since = Instant::now();
            } else if since.elapsed() > Duration::from_millis(500) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        ctx.note(format!(
            "the flood stands at {} bytes",
            self.written.load(Ordering::Relaxed)
        ));
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Checks messages a receiver got from several senders: each sender's
/// sequence numbers must come complete and in order.
#[derive(Default)]
pub struct Sequences {
    next: HashMap<String, usize>,
}

impl Sequences {
    /// A message `seq` from `sender` arrived at `receiver`.
    pub fn saw(&mut self, receiver: &str, sender: &str, seq: usize) -> R {
        let next = self.next.entry(sender.to_string()).or_insert(0);
        if seq != *next {
            let what = if seq > *next {
                "lost"
            } else {
                "repeated or reordered"
            };
            return Err(Fail::new(
                format!("{receiver}: a message from {sender} was {what}"),
                format!("message {} from {sender}", *next),
                format!("message {seq}"),
            ));
        }
        *next += 1;
        Ok(())
    }

    pub fn complete(&self, receiver: &str, senders: &[String], each: usize) -> R {
        for s in senders {
            let got = self.next.get(s).copied().unwrap_or(0);
            if got != each {
                return Err(Fail::new(
                    format!("{receiver}: messages from {s} are missing"),
                    format!("{each} messages"),
                    format!("{got}"),
                ));
            }
        }
        Ok(())
    }
}

/// Names as a sorted list, for comparing listings whose order is free.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// The names given, as [`sorted`] gives a listing.
pub fn set(names: &[&str]) -> Vec<String> {
    sorted(names.iter().map(|s| s.to_string()).collect())
}

/// A read of a pipelined case failed after `got` of the `want` messages
/// `who` should have: say how many came, the number that grades a server
/// that loses pipelined messages.
pub fn short(who: &str, got: usize, want: usize) -> impl FnOnce(Fail) -> Fail + '_ {
    move |mut f| {
        f.why = format!("{who} got {got} of its {want} messages, then: {}", f.why);
        f
    }
}

/// Parses `<sender> <seq>` at the end of a relayed text.
pub fn parse_seq(text: &[u8]) -> Option<(String, usize)> {
    let text = std::str::from_utf8(text).ok()?;
    let mut words = text.split(' ');
    let sender = words.next()?.to_string();
    let seq = words.next()?.parse().ok()?;
    Some((sender, seq))
}

/// Repeats `check` until it passes or the wait is over: for state that
/// follows a disconnect, which the server learns of when it learns of it.
pub fn eventually(ctx: &Ctx, mut check: impl FnMut() -> R) -> R {
    let until = ctx.until();
    loop {
        match check() {
            Ok(()) => return Ok(()),
            Err(e) if Instant::now() >= until || ctx.out_of_time() => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A deterministic generator for garbage: the same bytes on every run.
pub fn garbage(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
