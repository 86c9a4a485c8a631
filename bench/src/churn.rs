//! `churn`: connect, JOIN, QUIT, close, over and over.
//!
//! `--concurrency` slots each run the cycle in turn: connect, send
//! `JOIN c<slot>`, wait for `Request Accepted`, send `QUIT`, wait for the
//! server to close, close. What it measures is the server's cost of a
//! connection's whole life: accept, register, free the name, close.
//!
//! The server closes first, so the TIME_WAIT state is the server's; with
//! more cycles than one source address has ports, cycles are spread over
//! several loopback source addresses.

use super::args::Options;
use super::clients::{EVENTS, READ_BUF};
use super::histogram::Histogram;
use super::net::{self, Fill, OutBuf};
use super::procstat;
use super::report::{per_second, Report};
use super::wire::{self, Incoming, Wire};
use super::Endpoint;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::time::{Duration, Instant};

/// Cycles in progress at once unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// Longest a poll waits: short enough to see the end of the run.
const TICK: Duration = Duration::from_millis(5);

/// After the time is up, how long cycles in progress get to finish.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Connecting,
    /// JOIN sent, waiting for the answer.
    Joining,
    /// QUIT sent, waiting for the server to close.
    Quitting,
    /// Not in use (the run is ending, or it failed and waits to restart).
    Idle,
}

struct Slot {
    socket: Option<TcpStream>,
    partial: Vec<u8>,
    out: OutBuf,
    step: Step,
    started: Instant,
}

struct Run {
    addr: std::net::SocketAddr,
    cycles: u64,
    started: u64,
    done: u64,
    errors: u64,
    first_error: Option<String>,
    cycle_time: Histogram,
}

pub fn run(o: &Options, endpoint: &Endpoint) -> Result<Report, String> {
    if endpoint.wire != Wire::Mesg {
        return Err("churn runs against pollchat only".into());
    }
    let concurrency = o.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut slots: Vec<Slot> = (0..concurrency)
        .map(|_| Slot {
            socket: None,
            partial: Vec::new(),
            out: OutBuf::default(),
            step: Step::Idle,
            started: Instant::now(),
        })
        .collect();
    let mut run = Run {
        addr: endpoint.addr,
        cycles: o.cycles,
        started: 0,
        done: 0,
        errors: 0,
        first_error: None,
        cycle_time: Histogram::new(),
    };
    let server_before = endpoint.pid.and_then(procstat::sample_pid);
    let cpu_before = procstat::own_cpu();
    let start = Instant::now();
    let stop_at = start + o.duration;
    let deadline = stop_at + DRAIN_TIMEOUT;
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = vec![0u8; READ_BUF];
    let mut restart: Vec<usize> = (0..concurrency).collect();
    loop {
        let now = Instant::now();
        let starting = now < stop_at;
        for i in std::mem::take(&mut restart) {
            if starting {
                run.begin(i, &mut slots[i], &poll);
            }
        }
        let busy = slots.iter().any(|s| s.step != Step::Idle);
        if !busy || now >= deadline {
            break;
        }
        match poll.poll(&mut events, Some(TICK)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for event in events.iter() {
            let i = event.token().0;
            if run.advance(i, &mut slots[i], &mut buf) {
                restart.push(i);
            }
        }
        // Slots that failed to start are retried too.
        for (i, slot) in slots.iter().enumerate() {
            if slot.step == Step::Idle && !restart.contains(&i) && run.started < run.cycles {
                restart.push(i);
            }
        }
    }
    let elapsed = start.elapsed();
    let own_cpu = procstat::own_cpu().since(cpu_before);
    let server_after = endpoint.pid.and_then(procstat::sample_pid);
    let rate = per_second(run.done, elapsed);
    let mut report = Report::new("churn", endpoint.name);
    report.field("concurrency", concurrency);
    report.field("cycles", run.done);
    report.field("cycles_per_s", format!("{rate:.0}"));
    report.field("errors", run.errors);
    report.field("elapsed_s", format!("{:.3}", elapsed.as_secs_f64()));
    report.line(format!(
        "churn on {} ({}): {concurrency} at once",
        endpoint.name, endpoint.addr
    ));
    report.line(format!(
        "{} connect/JOIN/QUIT/close cycles in {:.2} s: {rate:.0} cycles/s, {} errors",
        run.done,
        elapsed.as_secs_f64(),
        run.errors
    ));
    if let Some(e) = &run.first_error {
        report.line(format!("  first error: {e}"));
    }
    report.latency("cycle", &run.cycle_time);
    report.costs(
        elapsed,
        server_before.zip(server_after),
        own_cpu,
        Some(("cycle", run.done)),
    );
    Ok(report)
}

impl Run {
    fn fail(&mut self, slot: &mut Slot, why: String) {
        self.errors += 1;
        self.first_error.get_or_insert(why);
        slot.socket = None;
        slot.step = Step::Idle;
    }

    /// Starts a new cycle in slot `i`, if any are left.
    fn begin(&mut self, i: usize, slot: &mut Slot, poll: &Poll) {
        if self.started >= self.cycles {
            slot.step = Step::Idle;
            return;
        }
        let source = net::source_for(self.started as usize, self.cycles as usize);
        self.started += 1;
        slot.partial.clear();
        slot.out = OutBuf::default();
        slot.started = Instant::now();
        let mut socket = match net::connect(self.addr, source) {
            Ok(s) => s,
            Err(e) => return self.fail(slot, format!("connect: {e}")),
        };
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = poll.registry().register(&mut socket, Token(i), interest) {
            return self.fail(slot, format!("register: {e}"));
        }
        slot.socket = Some(socket);
        slot.step = Step::Connecting;
    }

    /// Moves slot `i` on after an event; true when its cycle is over (done
    /// or failed) and the slot is free for the next.
    fn advance(&mut self, i: usize, slot: &mut Slot, buf: &mut [u8]) -> bool {
        let Some(mut socket) = slot.socket.take() else {
            return false;
        };
        match self.step(i, slot, &mut socket, buf) {
            Ok(false) => {
                slot.socket = Some(socket);
                false
            }
            Ok(true) => {
                // The server hung up after QUIT: the cycle is complete.
                self.done += 1;
                let took = slot.started.elapsed().as_nanos() as u64;
                self.cycle_time.record(took);
                slot.step = Step::Idle;
                true
            }
            Err(why) => {
                self.errors += 1;
                self.first_error.get_or_insert(why);
                slot.step = Step::Idle;
                true
            }
        }
    }

    /// Does what slot `i`'s socket allows now; `Ok(true)` once the server
    /// has closed after our QUIT.
    fn step(
        &mut self,
        i: usize,
        slot: &mut Slot,
        socket: &mut TcpStream,
        buf: &mut [u8],
    ) -> Result<bool, String> {
        if slot.step == Step::Connecting {
            match net::connected(socket) {
                Ok(true) => {
                    Wire::Mesg.login(i, slot.out.buf());
                    slot.step = Step::Joining;
                }
                Ok(false) => return Ok(false),
                Err(e) => return Err(format!("connect: {e}")),
            }
        }
        slot.out.flush(socket).map_err(|e| format!("write: {e}"))?;
        loop {
            let n = match net::fill(socket, &slot.partial, buf) {
                Ok(Fill::Data { n, .. }) => n,
                Ok(Fill::Empty) => return Ok(false),
                Ok(Fill::Eof) if slot.step == Step::Quitting => return Ok(true),
                Ok(Fill::Eof) => return Err("the server closed before QUIT".into()),
                Err(e) => return Err(format!("read: {e}")),
            };
            let mut pos = 0;
            while let Some((used, incoming)) = Wire::Mesg.next(&buf[pos..n], 0)? {
                pos += used;
                match (slot.step, incoming) {
                    (Step::Joining, Incoming::Ready) => {
                        slot.out.buf().extend_from_slice(b"QUIT\r\n");
                        slot.step = Step::Quitting;
                    }
                    (_, other) => {
                        return Err(format!("unexpected answer {other:?} for {}", wire::name(i)))
                    }
                }
            }
            net::keep_tail(&mut slot.partial, &buf[pos..n]).map_err(|e| e.to_string())?;
            slot.out.flush(socket).map_err(|e| format!("write: {e}"))?;
        }
    }
}
