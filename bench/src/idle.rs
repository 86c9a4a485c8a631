//! `idle`: many open connections, doing nothing.
//!
//! Opens `--connections` N connections (spread over several loopback source
//! addresses past what one has ports for), has each say `PING` once and
//! waits for every `PONG`, which proves the server accepted and served
//! them all. Then it reads the server's resident memory, reports the growth
//! per connection, and times a fresh client's `PING` while all N stay
//! open: an idle crowd must not slow anyone down.

use super::args::Options;
use super::clients::{EVENTS, READ_BUF};
use super::histogram::Histogram;
use super::net::{self, Fill};
use super::procstat;
use super::report::Report;
use super::wire::Wire;
use super::Endpoint;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// Connects in progress at once unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = super::clients::CONNECTS_AT_ONCE;

/// Time allowed to open and serve every connection.
const SETUP_TIMEOUT: Duration = Duration::from_secs(180);

/// PINGs the fresh client sends, one after another.
const PROBES: usize = 20;

/// Longest the fresh client may wait for one PONG before we call it unserved.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Connecting,
    /// PING sent, waiting for PONG.
    Pinged,
    Served,
    Failed,
}

struct Conn {
    socket: TcpStream,
    step: Step,
    /// Bytes of `PONG\r\n` seen so far (it may arrive in pieces).
    got: usize,
}

const PING: &[u8] = b"PING\r\n";
const PONG: &[u8] = b"PONG\r\n";

pub fn run(o: &Options, endpoint: &Endpoint) -> Result<Report, String> {
    if endpoint.wire != Wire::Mesg {
        return Err("idle runs against pollchat only".into());
    }
    let n = o.connections;
    let concurrency = o.concurrency.unwrap_or(DEFAULT_CONCURRENCY);
    let limit = procstat::raise_open_files(n as u64 + 256);
    if (limit as usize) < n + 16 {
        return Err(format!(
            "{n} connections need as many open files, in this process and in the server; \
             the limit is {limit} (raise the hard limit: ulimit -Hn, which needs root with CAP_SYS_RESOURCE)"
        ));
    }
    let server_before = endpoint.pid.and_then(procstat::sample_pid);
    let cpu_before = procstat::own_cpu();
    let start = Instant::now();
    let deadline = start + SETUP_TIMEOUT;
    let mut poll = Poll::new().map_err(|e| format!("poll: {e}"))?;
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = vec![0u8; READ_BUF];
    let mut conns: Vec<Conn> = Vec::with_capacity(n);
    let (mut finished, mut served, mut failed) = (0usize, 0usize, 0usize);
    let mut first_error: Option<String> = None;
    while finished < n {
        while conns.len() < n && conns.len() - finished < concurrency {
            let index = conns.len();
            let mut socket = net::connect(endpoint.addr, net::source_for(index, n))
                .map_err(|e| format!("connect number {index}: {e}"))?;
            poll.registry()
                .register(
                    &mut socket,
                    Token(index),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("register: {e}"))?;
            conns.push(Conn {
                socket,
                step: Step::Connecting,
                got: 0,
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        match poll.poll(&mut events, Some(left.min(Duration::from_millis(100)))) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for event in events.iter() {
            let conn = &mut conns[event.token().0];
            let before = conn.step;
            if let Err(e) = advance(conn, &mut buf) {
                conn.step = Step::Failed;
                first_error.get_or_insert(e);
            }
            if before != conn.step {
                match conn.step {
                    Step::Served => (served, finished) = (served + 1, finished + 1),
                    Step::Failed if before != Step::Failed => {
                        (failed, finished) = (failed + 1, finished + 1)
                    }
                    _ => {}
                }
            }
        }
    }
    let setup = start.elapsed();
    let server_open = endpoint.pid.and_then(procstat::sample_pid);
    let probe = probe(endpoint, n);
    let own_cpu = procstat::own_cpu().since(cpu_before);

    let mut report = Report::new("idle", endpoint.name);
    report.field("connections", n);
    report.field("served", served);
    report.field("failed", failed);
    report.field("setup_s", format!("{:.3}", setup.as_secs_f64()));
    report.line(format!(
        "idle on {} ({}): {served} of {n} connections served (PING answered) in {:.2} s, {failed} failed",
        endpoint.name,
        endpoint.addr,
        setup.as_secs_f64()
    ));
    if let Some(e) = &first_error {
        report.line(format!("  first error: {e}"));
    }
    if let (Some(before), Some(open)) = (server_before, server_open) {
        let grown = open.rss_kb.saturating_sub(before.rss_kb);
        let per = grown as f64 * 1024.0 / served.max(1) as f64;
        report.field("server_rss_before_kb", before.rss_kb);
        report.field("rss_per_conn_bytes", format!("{per:.0}"));
        report.line(format!(
            "server memory: {} KiB before, {} KiB with {served} open: {per:.0} bytes per connection",
            before.rss_kb, open.rss_kb
        ));
    }
    match &probe {
        Ok(h) => {
            report.field("fresh_pong", "yes");
            report.latency("fresh client PING->PONG", h);
        }
        Err(e) => {
            report.field("fresh_pong", "no");
            report.line(format!("fresh client: NOT served: {e}"));
        }
    }
    report.costs(setup, server_before.zip(server_open), own_cpu, None);
    drop(conns);
    Ok(report)
}

/// Moves one connection on: connected -> PING sent -> PONG read.
fn advance(conn: &mut Conn, buf: &mut [u8]) -> Result<(), String> {
    if conn.step == Step::Connecting {
        if !net::connected(&conn.socket).map_err(|e| format!("connect: {e}"))? {
            return Ok(());
        }
        // Six bytes into an empty socket buffer: one write takes them.
        match conn.socket.write(PING) {
            Ok(n) if n == PING.len() => conn.step = Step::Pinged,
            Ok(_) => return Err("short write of PING".into()),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(format!("write: {e}")),
        }
    }
    if conn.step != Step::Pinged {
        return Ok(());
    }
    loop {
        match net::fill(&mut conn.socket, &[], buf) {
            Ok(Fill::Data { n, .. }) => {
                let want = &PONG[conn.got..];
                let take = n.min(want.len());
                if buf[..take] != want[..take] || n > want.len() {
                    return Err(format!(
                        "expected PONG, got {:?}",
                        String::from_utf8_lossy(&buf[..n])
                    ));
                }
                conn.got += take;
                if conn.got == PONG.len() {
                    conn.step = Step::Served;
                    return Ok(());
                }
            }
            Ok(Fill::Empty) => return Ok(()),
            Ok(Fill::Eof) => return Err("the server closed the connection".into()),
            Err(e) => return Err(format!("read: {e}")),
        }
    }
}

/// A fresh client, while the crowd stays open: PING, PONG, PROBES times,
/// each timed. Blocking sockets with a timeout: one client needs no poll.
fn probe(endpoint: &Endpoint, crowd: usize) -> Result<Histogram, String> {
    use std::io::Read;
    let socket = net::connect(endpoint.addr, net::source_for(crowd, crowd + 1))
        .map_err(|e| format!("connect: {e}"))?;
    let fd = {
        use std::os::fd::IntoRawFd;
        socket.into_raw_fd()
    };
    // SAFETY: the descriptor came from the socket just given up above.
    let mut socket = unsafe {
        use std::os::fd::FromRawFd;
        std::net::TcpStream::from_raw_fd(fd)
    };
    socket
        .set_nonblocking(false)
        .and_then(|_| socket.set_read_timeout(Some(PROBE_TIMEOUT)))
        .and_then(|_| socket.set_write_timeout(Some(PROBE_TIMEOUT)))
        .and_then(|_| socket.set_nodelay(true))
        .map_err(|e| format!("socket options: {e}"))?;
    let mut h = Histogram::new();
    let mut reply = [0u8; 16];
    for _ in 0..PROBES {
        let sent = Instant::now();
        socket.write_all(PING).map_err(|e| format!("write: {e}"))?;
        let mut got = 0;
        while got < PONG.len() {
            match socket.read(&mut reply[got..PONG.len()]) {
                Ok(0) => return Err("the server closed the connection".into()),
                Ok(k) => got += k,
                Err(e) => return Err(format!("no PONG within {PROBE_TIMEOUT:?}: {e}")),
            }
        }
        if &reply[..PONG.len()] != PONG {
            return Err(format!("expected PONG, got {:?}", &reply[..PONG.len()]));
        }
        h.record(sent.elapsed().as_nanos() as u64);
    }
    Ok(h)
}
