//! `fanout`: N clients, K of them broadcasting; every client checks every
//! delivery.
//!
//! Each payload carries its sender's index, a sequence number and the time
//! it was sent (see `payload`). Over TCP from a single-threaded server,
//! each receiver must see each sender's messages exactly once and in
//! order; the [`Checker`] counts every departure from that, and the
//! latency of each delivery is the time it is read minus the time in it.

use super::args::{Options, Pace};
use super::clients::{self, Client, State, EVENTS, READ_BUF};
use super::histogram::Histogram;
use super::net::{self, Fill};
use super::payload::{self, Stamp};
use super::procstat;
use super::report::{per_second, Report};
use super::wire::{Incoming, Wire};
use super::Endpoint;
use mio::{Events, Poll};
use std::io;
use std::time::{Duration, Instant};

/// Time allowed to connect and log in every client.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);

/// After the last send, how long to wait for deliveries still on the way.
/// Anything not in by then is counted as lost.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// `--flood`: a sender gets more messages queued when fewer than this many
/// bytes of its own wait to be written, and about twice this when it does.
/// Bounded, so the tool's memory is too; the server's socket sets the pace.
const FLOOD_LOW_WATER: usize = 16 * 1024;

/// Longest a poll waits when nothing is due: short enough to notice the
/// end of the sending phase and the deadline on time.
const TICK: Duration = Duration::from_millis(5);

/// Unexpected lines shown at most (they are all counted).
const SHOW_UNEXPECTED: usize = 5;

/// Per (receiver, sender) bookkeeping: what each receiver expects next
/// from each sender, and the gaps it has seen.
#[derive(Debug)]
pub struct Checker {
    senders: usize,
    /// `[receiver * senders + sender]`: the next sequence number expected.
    next: Vec<u32>,
    /// `[receiver * senders + sender]`: messages skipped over so far and
    /// not yet arrived (late arrivals fill them in as reorders).
    gaps: Vec<u32>,
    pub deliveries: u64,
    pub duplicates: u64,
    pub reorders: u64,
    /// Payloads we could not decode, or from a sender that does not exist.
    pub garbled: u64,
    pub latency: Histogram,
}

/// What one delivery was, as far as order goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// The next one expected (or later, past a gap): new.
    New,
    /// Earlier than expected, filling a gap.
    Late,
    /// Earlier than expected, and no gap to fill: seen before.
    Duplicate,
}

impl Checker {
    pub fn new(receivers: usize, senders: usize) -> Checker {
        Checker {
            senders,
            next: vec![0; receivers * senders],
            gaps: vec![0; receivers * senders],
            deliveries: 0,
            duplicates: 0,
            reorders: 0,
            garbled: 0,
            latency: Histogram::new(),
        }
    }

    /// Records message `seq` from `sender` arriving at `receiver` after
    /// `latency_ns`.
    ///
    /// Without a bitmap per pair a late message and a duplicate look the
    /// same; we call it late while the pair has an open gap. That is exact
    /// whenever a stream has only one kind of fault, and a correct server
    /// has none.
    pub fn record(&mut self, receiver: usize, sender: usize, seq: u32, latency_ns: u64) -> Seen {
        let i = receiver * self.senders + sender;
        let next = self.next[i];
        let seen = if seq >= next {
            self.gaps[i] += seq - next;
            self.next[i] = seq + 1;
            Seen::New
        } else if self.gaps[i] > 0 {
            self.gaps[i] -= 1;
            self.reorders += 1;
            Seen::Late
        } else {
            self.duplicates += 1;
            return Seen::Duplicate;
        };
        self.deliveries += 1;
        self.latency.record(latency_ns);
        seen
    }

    /// Messages from `sender` that never reached `receiver`, of `sent`.
    pub fn lost_between(&self, receiver: usize, sender: usize, sent: u32) -> u64 {
        let i = receiver * self.senders + sender;
        u64::from(self.gaps[i]) + u64::from(sent.saturating_sub(self.next[i]))
    }

    /// Messages that never arrived, given how many each sender sent and
    /// which client each sender is (a sender does not receive its own).
    pub fn lost(&self, sent: &[u32], sender_clients: &[usize]) -> u64 {
        let receivers = self.next.len() / self.senders.max(1);
        let mut lost = 0u64;
        for r in 0..receivers {
            for (s, (&sent, &client)) in sent.iter().zip(sender_clients).enumerate() {
                if client == r {
                    continue;
                }
                lost += self.lost_between(r, s, sent);
            }
        }
        lost
    }
}

/// One broadcasting client.
#[derive(Debug)]
pub struct Sender {
    /// Its index among the clients.
    pub client: usize,
    pub sent: u32,
    /// Messages seen by every receiver, counted from the first: with a
    /// window, `sent - done` are in flight.
    pub done: u32,
    /// Ring of `window` counters: receivers that have seen message `seq`
    /// are counted at `seq % window`. A slot is reused only once its
    /// message is done, because the window stops `seq + window` being
    /// sent before that.
    acks: Vec<u32>,
    /// In the list of senders to top up this turn.
    woken: bool,
}

impl Sender {
    pub fn new(client: usize, window: u32) -> Sender {
        Sender {
            client,
            sent: 0,
            done: 0,
            acks: vec![0; window.max(1) as usize],
            woken: false,
        }
    }

    /// Counts receiver's sight of `seq`; true if that completed the oldest
    /// message in flight (the window opened). `need` is how many receivers
    /// each message has.
    pub fn ack(&mut self, seq: u32, need: u32) -> bool {
        if seq < self.done || seq >= self.sent {
            return false;
        }
        let window = self.acks.len() as u32;
        self.acks[(seq % window) as usize] += 1;
        let before = self.done;
        while self.done < self.sent && self.acks[(self.done % window) as usize] >= need {
            self.acks[(self.done % window) as usize] = 0;
            self.done += 1;
        }
        self.done > before
    }
}

/// The run's clock: payload timestamps are nanoseconds since `epoch`.
struct Clock {
    epoch: Instant,
}

impl Clock {
    fn ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }
}

/// Everything the measurement loop changes, apart from the clients.
struct Run {
    wire: Wire,
    size: usize,
    pace: Pace,
    messages: u32,
    clock: Clock,
    senders: Vec<Sender>,
    /// For each client, its index among the senders, if it is one.
    sender_of: Vec<Option<usize>>,
    checker: Checker,
    /// Receivers of each message: every client but its sender.
    need: u32,
    /// Senders whose window opened this turn.
    woken: Vec<usize>,
    sending: bool,
    unexpected: u64,
    shown: Vec<String>,
    closed: usize,
    last_delivery: Instant,
    /// Reads that brought data: deliveries per read says how well the
    /// server batches its writes (and what our reads cost per message).
    reads: u64,
}

/// The pace when none is given: a window of 8 keeps every sender busy
/// while each server queue stays a few kilobytes deep.
pub const DEFAULT_PACE: Pace = Pace::Window(8);

pub fn run(o: &Options, endpoint: &Endpoint) -> Result<Report, String> {
    let wire = endpoint.wire;
    let pace = o.pace.unwrap_or(DEFAULT_PACE);
    let n = o.clients;
    let k = o.senders.unwrap_or(n);
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    procstat::raise_open_files((n + 64) as u64);
    let mut clients = clients::connect_all(&mut poll, endpoint.addr, n, wire, LOGIN_TIMEOUT)?;

    // Senders are spread evenly over the clients, so that with one sender
    // per hundred clients they are not all at the front of the hub's list.
    let sender_clients: Vec<usize> = (0..k).map(|s| s * n / k).collect();
    let mut sender_of = vec![None; n];
    for (s, &c) in sender_clients.iter().enumerate() {
        sender_of[c] = Some(s);
    }
    let window = match pace {
        Pace::Window(w) => w,
        _ => 1,
    };
    let mut run = Run {
        wire,
        size: o.size,
        pace,
        messages: o.messages,
        clock: Clock {
            epoch: Instant::now(),
        },
        senders: sender_clients
            .iter()
            .map(|&c| Sender::new(c, window))
            .collect(),
        sender_of,
        checker: Checker::new(n, k),
        need: (n - 1) as u32,
        woken: Vec::new(),
        sending: true,
        unexpected: 0,
        shown: Vec::new(),
        closed: 0,
        last_delivery: Instant::now(),
        reads: 0,
    };

    let server_before = endpoint.pid.and_then(procstat::sample_pid);
    let cpu_before = procstat::own_cpu();
    let start = Instant::now();
    run.clock.epoch = start;
    run.last_delivery = start;
    let send_until = start + o.duration;
    let deadline = send_until + DRAIN_TIMEOUT;
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = vec![0u8; READ_BUF];

    for s in 0..k {
        run.top_up(s, &mut clients, start)?;
    }
    loop {
        let now = Instant::now();
        if run.sending && (now >= send_until || run.senders.iter().all(|s| s.sent >= o.messages)) {
            run.sending = false;
        }
        let expected: u64 =
            run.senders.iter().map(|s| u64::from(s.sent)).sum::<u64>() * u64::from(run.need);
        let arrived = run.checker.deliveries + run.checker.duplicates;
        if !run.sending && arrived >= expected || now >= deadline {
            break;
        }
        let timeout = run.poll_timeout(now, send_until);
        match poll.poll(&mut events, Some(timeout)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for event in events.iter() {
            let index = event.token().0;
            if clients[index].state != State::Ready {
                continue;
            }
            if event.is_writable() {
                if let Err(e) = clients[index].flush() {
                    run.close(&mut clients[index], &poll, &format!("write: {e}"));
                    continue;
                }
                if matches!(pace, Pace::Flood) {
                    if let Some(s) = run.sender_of[index] {
                        run.wake(s);
                    }
                }
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                run.read(index, &mut clients, &mut buf, &poll)?;
            }
        }
        // Senders whose window opened, or who are due (rate) or have room
        // (flood): queue their next messages and write them now.
        let now = Instant::now();
        match run.pace {
            Pace::Window(_) => {}
            Pace::Rate(_) | Pace::Flood => {
                for s in 0..k {
                    run.wake(s);
                }
            }
        }
        for s in std::mem::take(&mut run.woken) {
            run.senders[s].woken = false;
            run.top_up(s, &mut clients, now)?;
        }
    }

    let elapsed = run.last_delivery.saturating_duration_since(start);
    let own_cpu = procstat::own_cpu().since(cpu_before);
    let server_after = endpoint.pid.and_then(procstat::sample_pid);
    let sent: Vec<u32> = run.senders.iter().map(|s| s.sent).collect();
    let lost = run.checker.lost(&sent, &sender_clients);
    let total_sent: u64 = sent.iter().map(|&s| u64::from(s)).sum();
    let c = &run.checker;

    let mut report = Report::new("fanout", endpoint.name);
    report.field("clients", n);
    report.field("senders", k);
    report.field("size", o.size.max(payload::MIN_PAYLOAD));
    report.field("pace", pace_name(pace));
    report.field("sent", total_sent);
    report.field("deliveries", c.deliveries);
    let rate = per_second(c.deliveries, elapsed);
    report.field("deliveries_per_s", format!("{rate:.0}"));
    report.field("elapsed_s", format!("{:.3}", elapsed.as_secs_f64()));
    report.line(format!(
        "fanout to {} ({}): {n} clients, {k} sending {}-byte payloads, {}",
        endpoint.name,
        endpoint.addr,
        o.size.max(payload::MIN_PAYLOAD),
        pace_name(pace)
    ));
    report.line(format!(
        "sent {total_sent} messages, {} deliveries in {:.2} s: {rate:.0} deliveries/s",
        c.deliveries,
        elapsed.as_secs_f64()
    ));
    let per_read = c.deliveries as f64 / run.reads.max(1) as f64;
    report.field("deliveries_per_read", format!("{per_read:.1}"));
    report.line(format!("{per_read:.1} deliveries per read"));
    report.latency("latency", &c.latency);
    report.field("loss", lost);
    report.field("dup", c.duplicates);
    report.field("reorder", c.reorders);
    report.field("garbled", c.garbled);
    report.field("unexpected", run.unexpected);
    report.field("closed", run.closed);
    report.line(format!(
        "checks: {lost} lost, {} duplicated, {} reordered, {} garbled, {} unexpected lines, {} clients closed",
        c.duplicates, c.reorders, c.garbled, run.unexpected, run.closed
    ));
    for text in &run.shown {
        report.line(format!("  unexpected: {text}"));
    }
    report.costs(
        elapsed,
        server_before.zip(server_after),
        own_cpu,
        Some(("delivery", c.deliveries)),
    );
    Ok(report)
}

pub fn pace_name(pace: Pace) -> String {
    match pace {
        Pace::Window(w) => format!("window{w}"),
        Pace::Rate(r) => format!("rate{r}"),
        Pace::Flood => "flood".into(),
    }
}

impl Run {
    fn wake(&mut self, s: usize) {
        if !self.senders[s].woken {
            self.senders[s].woken = true;
            self.woken.push(s);
        }
    }

    /// How long the next poll may wait: until the next message is due
    /// (rate), else a tick.
    fn poll_timeout(&self, now: Instant, send_until: Instant) -> Duration {
        let Pace::Rate(rate) = self.pace else {
            return TICK;
        };
        if !self.sending {
            return TICK;
        }
        let k = self.senders.len() as f64;
        let next = self
            .senders
            .iter()
            .enumerate()
            .filter(|(_, s)| s.sent < self.messages)
            .map(|(i, s)| (f64::from(s.sent) + i as f64 / k) / rate)
            .fold(f64::INFINITY, f64::min);
        if !next.is_finite() {
            return TICK;
        }
        let due = self.clock.epoch + Duration::from_secs_f64(next);
        due.min(send_until).saturating_duration_since(now).min(TICK)
    }

    /// How many more messages sender `s` may queue now.
    fn allowance(&self, s: usize, clients: &[Client], now: Instant) -> u32 {
        let sender = &self.senders[s];
        let left = self.messages - sender.sent;
        if !self.sending || left == 0 {
            return 0;
        }
        let n = match self.pace {
            Pace::Window(w) => {
                // Refill once half the window is free, not at every
                // message: one write then carries several, which keeps
                // the tool's cost per message down at a small fan-out.
                let free = w.saturating_sub(sender.sent - sender.done);
                if free < w.div_ceil(2) {
                    0
                } else {
                    free
                }
            }
            Pace::Rate(rate) => {
                // Message j of sender s is due at (j + s/K) / rate seconds:
                // senders are staggered over each interval, not in step.
                let t = now
                    .saturating_duration_since(self.clock.epoch)
                    .as_secs_f64();
                let offset = s as f64 / self.senders.len() as f64;
                let due = (t * rate - offset).floor() + 1.0;
                (due.max(0.0) as u32).saturating_sub(sender.sent)
            }
            Pace::Flood => {
                let pending = clients[sender.client].out.pending();
                if pending >= FLOOD_LOW_WATER {
                    0
                } else {
                    let line = self.size + 32;
                    (2 * FLOOD_LOW_WATER - pending).div_ceil(line) as u32
                }
            }
        };
        n.min(left)
    }

    /// Queues what sender `s` may send now, and writes it.
    fn top_up(&mut self, s: usize, clients: &mut [Client], now: Instant) -> Result<(), String> {
        let count = self.allowance(s, clients, now);
        if count == 0 {
            return Ok(());
        }
        let index = self.senders[s].client;
        let client = &mut clients[index];
        if client.state != State::Ready {
            return Ok(());
        }
        // One clock read for the batch: they are written together.
        let sent_ns = self.clock.ns();
        for _ in 0..count {
            let sender = &mut self.senders[s];
            let stamp = Stamp {
                sender: s as u32,
                seq: sender.sent,
                sent_ns,
            };
            sender.sent += 1;
            self.wire.broadcast(stamp, self.size, client.out.buf());
        }
        if let Err(e) = client.flush() {
            let reason = format!("write: {e}");
            self.closed += 1;
            client.state = State::Closed;
            self.note(reason);
        }
        Ok(())
    }

    fn note(&mut self, text: String) {
        if self.shown.len() < SHOW_UNEXPECTED {
            self.shown.push(text);
        }
    }

    fn close(&mut self, client: &mut Client, poll: &Poll, why: &str) {
        client.state = State::Closed;
        let _ = poll.registry().deregister(&mut client.socket);
        self.closed += 1;
        self.note(why.to_string());
    }

    /// Reads everything client `index` has been sent, checking each
    /// delivery.
    fn read(
        &mut self,
        index: usize,
        clients: &mut [Client],
        buf: &mut [u8],
        poll: &Poll,
    ) -> Result<(), String> {
        loop {
            let client = &mut clients[index];
            match net::fill(&mut client.socket, &client.partial, buf) {
                Ok(Fill::Data { n, drained }) => {
                    self.reads += 1;
                    let used = self.handle(index, &buf[..n])?;
                    net::keep_tail(&mut clients[index].partial, &buf[used..n])
                        .map_err(|e| e.to_string())?;
                    if drained {
                        return Ok(());
                    }
                }
                Ok(Fill::Empty) => return Ok(()),
                Ok(Fill::Eof) => {
                    self.close(client, poll, "the server closed a client");
                    return Ok(());
                }
                Err(e) => {
                    self.close(client, poll, &format!("read: {e}"));
                    return Ok(());
                }
            }
        }
    }

    /// Handles the complete messages at the start of `input` for client
    /// `receiver`; returns how many bytes they took.
    fn handle(&mut self, receiver: usize, input: &[u8]) -> Result<usize, String> {
        // Everything in one read arrived together: one clock read for all.
        let now_ns = self.clock.ns();
        self.last_delivery = Instant::now();
        let mine = self.sender_of[receiver];
        let mut pos = 0;
        while let Some((used, incoming)) = self.wire.next(&input[pos..], self.size)? {
            pos += used;
            match incoming {
                Incoming::Delivery { payload, .. } => {
                    let Some(stamp) = payload::decode(payload) else {
                        self.checker.garbled += 1;
                        continue;
                    };
                    let s = stamp.sender as usize;
                    if s >= self.senders.len() {
                        self.checker.garbled += 1;
                        continue;
                    }
                    if Some(s) == mine {
                        // Redis sends a publisher its own message too;
                        // pollchat's BCST does not. Not a delivery.
                        continue;
                    }
                    let latency = now_ns.saturating_sub(stamp.sent_ns);
                    let seen = self.checker.record(receiver, s, stamp.seq, latency);
                    if seen == Seen::New
                        && matches!(self.pace, Pace::Window(_))
                        && self.senders[s].ack(stamp.seq, self.need)
                    {
                        self.wake(s);
                    }
                }
                Incoming::Ack | Incoming::Ready => {}
                Incoming::Unexpected(text) | Incoming::Refused(text) => {
                    self.unexpected += 1;
                    let text = String::from_utf8_lossy(text).into_owned();
                    self.note(text);
                }
            }
        }
        Ok(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_streams_count_clean() {
        let mut c = Checker::new(3, 2);
        for seq in 0..5 {
            for r in 0..3 {
                for s in 0..2 {
                    if r != s {
                        assert_eq!(c.record(r, s, seq, 1000), Seen::New);
                    }
                }
            }
        }
        assert_eq!(c.deliveries, 20);
        assert_eq!((c.duplicates, c.reorders), (0, 0));
        assert_eq!(c.lost(&[5, 5], &[0, 1]), 0);
        // Had sender 1 sent a sixth, both its receivers would miss it.
        assert_eq!(c.lost(&[5, 6], &[0, 1]), 2);
    }

    #[test]
    fn gaps_duplicates_and_late_arrivals_are_told_apart() {
        let mut c = Checker::new(2, 1);
        c.record(1, 0, 0, 1);
        c.record(1, 0, 2, 1); // 1 skipped: a gap
        assert_eq!(c.lost(&[3], &[0]), 1);
        assert_eq!(c.record(1, 0, 1, 1), Seen::Late); // fills it
        assert_eq!(c.record(1, 0, 1, 1), Seen::Duplicate);
        assert_eq!((c.reorders, c.duplicates, c.deliveries), (1, 1, 3));
        assert_eq!(c.lost(&[3], &[0]), 0);
    }

    #[test]
    fn a_window_opens_only_when_its_oldest_message_is_everywhere() {
        let mut s = Sender::new(0, 2);
        s.sent = 2;
        // Two receivers per message. Message 1 completes first...
        assert!(!s.ack(1, 2));
        assert!(!s.ack(1, 2));
        assert!(!s.ack(0, 2));
        // ...but the window opens when message 0 does, and takes both.
        assert!(s.ack(0, 2));
        assert_eq!(s.done, 2);
        // The ring slots were reset for messages 2 and 3.
        s.sent = 4;
        assert!(!s.ack(2, 2));
        assert!(s.ack(2, 2));
        assert_eq!(s.done, 3);
        // Acks for messages not in flight are ignored.
        assert!(!s.ack(0, 2) && !s.ack(9, 2));
    }
}
