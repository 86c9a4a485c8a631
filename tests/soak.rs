//! Soak: minutes of hundreds of clients joining, talking, flooding, sending
//! garbage and leaving at random, against one server. Ignored by default:
//!
//!     SOAK_SECS=120 cargo test --release --test soak -- --ignored --nocapture
//!
//! At the end: the server is alive, its memory is back near where it
//! started, and every message a talker sent to a stable receiver arrived
//! exactly once and in order (all of them, for a talker that said QUIT
//! and saw its connection closed; a prefix, for one that vanished).

mod common;
use common::*;
use std::collections::HashMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const RECEIVERS: usize = 4;
const TALKER_THREADS: usize = 24;
const ROGUE_THREADS: usize = 8;

/// A small deterministic generator: the soak needs variety, not secrets.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// The sequence numbers each receiver saw from each sender, in arrival order.
type Seen = HashMap<(String, usize), Vec<u64>>;

/// What one talker sent: its name, how many to each receiver, and whether
/// it ended cleanly.
struct Sent {
    name: String,
    counts: [u64; RECEIVERS],
    clean: bool,
}

#[test]
#[ignore = "minutes long: run on demand (see the file's header)"]
fn soak() {
    let secs: u64 = std::env::var("SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    // Generous: the stable receivers share two cores with everyone else and
    // must not fall behind far enough to be cut off.
    let server = Server::start(&["--max-users", "2000", "--max-queue", "16777216"]);
    let addr = server.addr();
    let deadline = Instant::now() + Duration::from_secs(secs);

    // Stable receivers record, per sender, the sequence numbers they saw.
    // Each talker numbers its messages to each receiver 1, 2, 3, ...
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|r| {
            let mut c = joined(addr, &format!("r{r}"));
            let (seen, stop) = (seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut pinged = false;
                loop {
                    if stop.load(Ordering::Relaxed) && !pinged {
                        c.send_line("PING");
                        pinged = true;
                    }
                    let line = match c.try_read_line(Duration::from_millis(200)) {
                        Some(line) => line,
                        None => continue,
                    };
                    if line == "PONG" && pinged {
                        return;
                    }
                    // "FROM t12x3: 17" from talkers; anything else (BCST from
                    // rogues) is ignored.
                    let Some(rest) = line.strip_prefix("FROM t") else {
                        continue;
                    };
                    let Some((name, seq)) = rest.split_once(": ") else {
                        continue;
                    };
                    if let Ok(seq) = seq.parse::<u64>() {
                        let key = (format!("t{name}"), r);
                        seen.lock().unwrap().entry(key).or_default().push(seq);
                    }
                }
            })
        })
        .collect();
    let rss_start = rss_kb(server.pid());

    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let connections = Arc::new(AtomicUsize::new(0));
    let talkers: Vec<_> = (0..TALKER_THREADS)
        .map(|t| {
            let (sent, connections) = (sent.clone(), connections.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
                let mut generation = 0;
                while Instant::now() < deadline {
                    generation += 1;
                    let name = format!("t{t}x{generation}");
                    let mut c = joined(addr, &name);
                    connections.fetch_add(1, Ordering::Relaxed);
                    let mut counts = [0; RECEIVERS];
                    for _ in 0..1 + rng.below(200) {
                        let to = rng.below(RECEIVERS as u64) as usize;
                        counts[to] += 1;
                        c.send_line(&format!("MESG r{to} {}", counts[to]));
                    }
                    let clean = rng.below(3) != 0;
                    if clean {
                        c.send_line("QUIT");
                        c.wait_closed();
                    }
                    sent.lock().unwrap().push(Sent {
                        name,
                        counts,
                        clean,
                    });
                }
            })
        })
        .collect();
    // Rogues: garbage, over-long lines, floods without reading, silence.
    let rogues: Vec<_> = (0..ROGUE_THREADS)
        .map(|t| {
            let connections = connections.clone();
            std::thread::spawn(move || {
                let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ (t as u64 + 1));
                while Instant::now() < deadline {
                    let mut c = Client::connect(addr);
                    connections.fetch_add(1, Ordering::Relaxed);
                    let junk: Vec<u8> = (0..rng.below(20_000)).map(|_| rng.next() as u8).collect();
                    let _ = c.stream.write_all(&junk);
                    match rng.below(4) {
                        0 => {
                            let _ = c.stream.write_all(&vec![b'x'; 10_000]);
                        }
                        1 => {
                            let name = format!("g{t}x{}", rng.next() % 1_000_000);
                            let _ = c.stream.write_all(format!("JOIN {name}\r\n").as_bytes());
                            let _ = c.stream.write_all(b"BCST a little noise for everyone\r\n");
                            // Unknown commands whose replies it never reads.
                            for _ in 0..rng.below(5000) {
                                let _ = c.stream.write_all(b"NOPE NOPE NOPE NOPE\r\n");
                            }
                        }
                        _ => {}
                    }
                    drop(c);
                }
            })
        })
        .collect();

    for t in talkers {
        t.join().expect("a talker failed");
    }
    for r in rogues {
        r.join().expect("a rogue failed");
    }
    stop.store(true, Ordering::Relaxed);
    for r in receivers {
        r.join().expect("a receiver failed");
    }

    // Alive and still serving.
    let mut probe = joined(addr, "probe");
    sync(&mut probe);
    let rss_end = rss_kb(server.pid());

    let seen = seen.lock().unwrap();
    let sent = sent.lock().unwrap();
    let (mut messages, mut clean) = (0, 0);
    for s in sent.iter() {
        clean += usize::from(s.clean);
        for (r, &count) in s.counts.iter().enumerate() {
            let got = seen
                .get(&(s.name.clone(), r))
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            // Exactly once, in order: the sequence numbers are 1, 2, 3, ...
            for (i, &seq) in got.iter().enumerate() {
                assert_eq!(
                    seq,
                    i as u64 + 1,
                    "{} to r{r}: out of order or duplicated",
                    s.name
                );
            }
            if s.clean {
                assert_eq!(got.len() as u64, count, "{} to r{r}: lost messages", s.name);
            }
            messages += got.len();
        }
    }
    eprintln!(
        "soak: {secs} s, {} connections ({} talkers, {clean} clean), {messages} messages checked, \
         server RSS {rss_start} kB at start, {rss_end} kB at end",
        connections.load(Ordering::Relaxed),
        sent.len()
    );
    assert!(
        rss_end < rss_start + 16 * 1024,
        "memory did not come back: {rss_start} -> {rss_end} kB"
    );
}
