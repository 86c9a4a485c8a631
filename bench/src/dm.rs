//! `dm`: pairs of clients bouncing direct messages.
//!
//! In pair `p`, client `2p` sends `MESG c<2p+1> <payload>`; its partner
//! sends the same payload straight back; the round trip is the time the
//! echo is read minus the time in the payload. Each pair keeps `--window`
//! messages in flight (1 by default: strict ping-pong). Both directions
//! are checked for loss, duplicates and order like fanout's deliveries.
//!
//! The dialect is behind [`Wire::direct`], so `hello`'s `SEND` (which adds
//! a `SEND-OK` per message) plugs in there when that dialect lands.

use super::args::{Options, Pace};
use super::clients::{self, Client, State, EVENTS, READ_BUF};
use super::fanout::{Checker, Seen};
use super::histogram::Histogram;
use super::net::{self, Fill};
use super::payload::{self, Stamp};
use super::procstat;
use super::report::{per_second, Report};
use super::wire::{self, Incoming, Wire};
use super::Endpoint;
use mio::{Events, Poll};
use std::io;
use std::time::{Duration, Instant};

const LOGIN_TIMEOUT: Duration = Duration::from_secs(60);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
const TICK: Duration = Duration::from_millis(5);

struct Pair {
    sent: u32,
    /// Echoes received.
    back: u32,
}

struct Run {
    wire: Wire,
    size: usize,
    window: u32,
    messages: u32,
    epoch: Instant,
    pairs: Vec<Pair>,
    /// Checks both directions: receiver = client index, sender = pair.
    checker: Checker,
    round_trip: Histogram,
    sending: bool,
    unexpected: u64,
    closed: usize,
    /// Pairs whose initiator got an echo this turn and may send again.
    woken: Vec<usize>,
    /// Scratch for an echo's destination name.
    to: Vec<u8>,
    last: Instant,
}

pub fn run(o: &Options, endpoint: &Endpoint) -> Result<Report, String> {
    let window = match o.pace {
        None => 1,
        Some(Pace::Window(w)) => w,
        Some(_) => return Err("dm takes --window only (a round trip paces itself)".into()),
    };
    let n = 2 * o.pairs;
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut clients =
        clients::connect_all(&mut poll, endpoint.addr, n, endpoint.wire, LOGIN_TIMEOUT)?;
    let mut run = Run {
        wire: endpoint.wire,
        size: o.size,
        window,
        messages: o.messages,
        epoch: Instant::now(),
        pairs: (0..o.pairs).map(|_| Pair { sent: 0, back: 0 }).collect(),
        checker: Checker::new(n, o.pairs),
        round_trip: Histogram::new(),
        sending: true,
        unexpected: 0,
        closed: 0,
        woken: Vec::new(),
        to: Vec::new(),
        last: Instant::now(),
    };
    let server_before = endpoint.pid.and_then(procstat::sample_pid);
    let cpu_before = procstat::own_cpu();
    let start = Instant::now();
    run.epoch = start;
    run.last = start;
    let send_until = start + o.duration;
    let deadline = send_until + DRAIN_TIMEOUT;
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = vec![0u8; READ_BUF];
    for p in 0..o.pairs {
        run.serve(p, &mut clients);
    }
    loop {
        let now = Instant::now();
        if now >= send_until || run.pairs.iter().all(|p| p.sent >= o.messages) {
            run.sending = false;
        }
        let outstanding = run.pairs.iter().any(|p| p.back < p.sent);
        if !run.sending && !outstanding || now >= deadline {
            break;
        }
        match poll.poll(&mut events, Some(TICK)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for event in events.iter() {
            let index = event.token().0;
            if clients[index].state != State::Ready {
                continue;
            }
            if event.is_writable() && clients[index].flush().is_err() {
                run.close(&mut clients[index], &poll);
                continue;
            }
            if event.is_readable() || event.is_read_closed() || event.is_error() {
                run.read(index, &mut clients, &mut buf, &poll)?;
            }
        }
        for p in std::mem::take(&mut run.woken) {
            run.serve(p, &mut clients);
        }
    }

    let elapsed = run.last.saturating_duration_since(start);
    let own_cpu = procstat::own_cpu().since(cpu_before);
    let server_after = endpoint.pid.and_then(procstat::sample_pid);
    let sent: u64 = run.pairs.iter().map(|p| u64::from(p.sent)).sum();
    let trips: u64 = run.pairs.iter().map(|p| u64::from(p.back)).sum();
    let mut lost = 0;
    for (p, pair) in run.pairs.iter().enumerate() {
        // Out to the partner, and back: each direction checked on its own.
        lost += run.checker.lost_between(2 * p + 1, p, pair.sent);
        lost += run.checker.lost_between(2 * p, p, pair.sent);
    }
    let rate = per_second(trips, elapsed);
    let mut report = Report::new("dm", endpoint.name);
    report.field("pairs", o.pairs);
    report.field("window", window);
    report.field("size", o.size.max(payload::MIN_PAYLOAD));
    report.field("sent", sent);
    report.field("round_trips", trips);
    report.field("round_trips_per_s", format!("{rate:.0}"));
    report.field("elapsed_s", format!("{:.3}", elapsed.as_secs_f64()));
    report.line(format!(
        "dm on {} ({}): {} pairs, window {window}, {}-byte payloads",
        endpoint.name,
        endpoint.addr,
        o.pairs,
        o.size.max(payload::MIN_PAYLOAD)
    ));
    report.line(format!(
        "{trips} round trips in {:.2} s: {rate:.0} round trips/s",
        elapsed.as_secs_f64()
    ));
    report.latency("round trip", &run.round_trip);
    let c = &run.checker;
    report.field("loss", lost);
    report.field("dup", c.duplicates);
    report.field("reorder", c.reorders);
    report.field("garbled", c.garbled);
    report.field("unexpected", run.unexpected);
    report.field("closed", run.closed);
    report.line(format!(
        "checks: {lost} lost, {} duplicated, {} reordered, {} garbled, {} unexpected, {} clients closed",
        c.duplicates, c.reorders, c.garbled, run.unexpected, run.closed
    ));
    report.costs(
        elapsed,
        server_before.zip(server_after),
        own_cpu,
        Some(("round_trip", trips)),
    );
    Ok(report)
}

impl Run {
    fn ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Lets pair `p`'s initiator send up to its window.
    fn serve(&mut self, p: usize, clients: &mut [Client]) {
        let pair = &self.pairs[p];
        if !self.sending || pair.sent >= self.messages {
            return;
        }
        let room = self
            .window
            .saturating_sub(pair.sent - pair.back)
            .min(self.messages - pair.sent);
        if room == 0 {
            return;
        }
        let client = &mut clients[2 * p];
        if client.state != State::Ready {
            return;
        }
        let partner = wire::name(2 * p + 1);
        let sent_ns = self.ns();
        let mut payload = Vec::with_capacity(self.size);
        for _ in 0..room {
            let pair = &mut self.pairs[p];
            let stamp = Stamp {
                sender: p as u32,
                seq: pair.sent,
                sent_ns,
            };
            pair.sent += 1;
            payload.clear();
            payload::encode(stamp, self.size, &mut payload);
            self.wire
                .direct(partner.as_bytes(), &payload, client.out.buf());
        }
        if client.flush().is_err() {
            client.state = State::Closed;
            self.closed += 1;
        }
    }

    fn close(&mut self, client: &mut Client, poll: &Poll) {
        client.state = State::Closed;
        let _ = poll.registry().deregister(&mut client.socket);
        self.closed += 1;
    }

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
                    let used = self.handle(index, &buf[..n], clients)?;
                    net::keep_tail(&mut clients[index].partial, &buf[used..n])
                        .map_err(|e| e.to_string())?;
                    if drained {
                        return Ok(());
                    }
                }
                Ok(Fill::Empty) => return Ok(()),
                Ok(Fill::Eof) | Err(_) => {
                    self.close(client, poll);
                    return Ok(());
                }
            }
        }
    }

    fn handle(
        &mut self,
        index: usize,
        input: &[u8],
        clients: &mut [Client],
    ) -> Result<usize, String> {
        let now_ns = self.ns();
        self.last = Instant::now();
        let initiator = index.is_multiple_of(2);
        let p = index / 2;
        let mut pos = 0;
        let mut echoes = false;
        while let Some((used, incoming)) = self.wire.next(&input[pos..], self.size)? {
            pos += used;
            let payload = match incoming {
                Incoming::Delivery { payload, .. } => payload,
                Incoming::Ack | Incoming::Ready => continue,
                Incoming::Unexpected(_) | Incoming::Refused(_) => {
                    self.unexpected += 1;
                    continue;
                }
            };
            let Some(stamp) = payload::decode(payload).filter(|s| s.sender as usize == p) else {
                self.checker.garbled += 1;
                continue;
            };
            let latency = now_ns.saturating_sub(stamp.sent_ns);
            let seen = self.checker.record(index, p, stamp.seq, latency);
            if initiator {
                // The echo of our own message: one round trip.
                if seen == Seen::New {
                    self.pairs[p].back += 1;
                    self.round_trip.record(latency);
                    self.woken.push(p);
                }
            } else if seen != Seen::Duplicate {
                // Bounce it back to the initiator as it came.
                self.to.clear();
                self.to.extend_from_slice(wire::name(2 * p).as_bytes());
                self.wire
                    .direct(&self.to, payload, clients[index].out.buf());
                echoes = true;
            }
        }
        if echoes && clients[index].flush().is_err() {
            clients[index].state = State::Closed;
            self.closed += 1;
        }
        Ok(pos)
    }
}
