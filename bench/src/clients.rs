//! A fleet of clients on one poll: connected and logged in a few hundred
//! at a time, then handed to a workload's loop.

use super::net::{self, Fill, OutBuf};
use super::wire::{Incoming, Wire};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Connects (and logins) in progress at once. Below the server's listen
/// backlog: pollchat's listener gets mio's default of 128, and a connect
/// that overflows it is dropped and retried by the kernel only after a
/// second, which would be measured as a stall.
pub const CONNECTS_AT_ONCE: usize = 100;

/// The shared read buffer's size: large, so that a busy receiver's socket
/// is emptied in a read or two.
pub const READ_BUF: usize = 256 * 1024;

/// Events taken from one poll.
pub const EVENTS: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Connecting,
    LoggingIn,
    Ready,
    /// The server closed it, or it failed; it is deregistered.
    Closed,
}

pub struct Client {
    pub socket: TcpStream,
    /// The start of a message that has not fully arrived.
    pub partial: Vec<u8>,
    pub out: OutBuf,
    pub state: State,
}

impl Client {
    /// Sends what is queued, as far as the socket takes it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush(&mut self.socket)
    }
}

fn token_of(index: usize) -> Token {
    Token(index)
}

/// Connects `n` clients to `addr` and logs each in over `wire` (client
/// `i` as `wire::name(i)`); every one is `Ready` on success. Fails at the
/// first refusal, or when it takes longer than `timeout`.
pub fn connect_all(
    poll: &mut Poll,
    addr: SocketAddr,
    n: usize,
    wire: Wire,
    timeout: Duration,
) -> Result<Vec<Client>, String> {
    let deadline = Instant::now() + timeout;
    let mut clients: Vec<Client> = Vec::with_capacity(n);
    let mut events = Events::with_capacity(EVENTS);
    let mut buf = vec![0u8; READ_BUF];
    let mut ready = 0;
    while ready < n {
        // Keep CONNECTS_AT_ONCE in flight.
        while clients.len() < n && clients.len() - ready < CONNECTS_AT_ONCE {
            let index = clients.len();
            let mut socket = net::connect(addr, net::source_for(index, n))
                .map_err(|e| format!("connect {addr}: {e}"))?;
            poll.registry()
                .register(
                    &mut socket,
                    token_of(index),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("register: {e}"))?;
            clients.push(Client {
                socket,
                partial: Vec::new(),
                out: OutBuf::default(),
                state: State::Connecting,
            });
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "only {ready} of {n} clients logged in within {} s",
                timeout.as_secs()
            ));
        }
        match poll.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("poll: {e}")),
        }
        for event in events.iter() {
            let index = event.token().0;
            let client = &mut clients[index];
            if client.state == State::Connecting {
                match net::connected(&client.socket) {
                    Ok(true) => {
                        wire.login(index, client.out.buf());
                        client.state = State::LoggingIn;
                    }
                    Ok(false) => continue,
                    Err(e) => return Err(format!("connect {addr}: {e}")),
                }
            }
            client
                .flush()
                .map_err(|e| format!("client {index}: write: {e}"))?;
            if client.state == State::LoggingIn && login_answered(client, wire, &mut buf)? {
                client.state = State::Ready;
                ready += 1;
            }
        }
    }
    Ok(clients)
}

/// Reads a logging-in client's answers; true once it is logged in.
fn login_answered(client: &mut Client, wire: Wire, buf: &mut [u8]) -> Result<bool, String> {
    loop {
        let n = match net::fill(&mut client.socket, &client.partial, buf) {
            Ok(Fill::Data { n, .. }) => n,
            Ok(Fill::Empty) => return Ok(false),
            Ok(Fill::Eof) => return Err("the server closed a client while it logged in".into()),
            Err(e) => return Err(format!("read: {e}")),
        };
        let mut pos = 0;
        let mut done = false;
        while !done {
            let Some((used, incoming)) = wire.next(&buf[pos..n], 0)? else {
                break;
            };
            pos += used;
            match incoming {
                Incoming::Ready => done = true,
                Incoming::Refused(text) => {
                    return Err(format!(
                        "the server refused a login: {} (for pollchat, raise --max-users)",
                        String::from_utf8_lossy(text)
                    ))
                }
                _ => {}
            }
        }
        net::keep_tail(&mut client.partial, &buf[pos..n]).map_err(|e| e.to_string())?;
        if done {
            return Ok(true);
        }
    }
}
