//! A relay between a client and a server that changes what passes, one
//! [`Mutation`] per connection: the machinery of every mutant.
//!
//! Two threads per connection, one per direction, each reading with a
//! short timeout so that a mutation holding bytes back (to reorder or
//! merge them) gets its [`Mutation::tick`]. An end of stream is passed on
//! as a half-close, so the server's replies to a client that half-closed
//! still get through.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How often a direction with nothing to read ticks its mutation.
const TICK: Duration = Duration::from_millis(20);

/// What a mutation wants done, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// One write toward the client.
    Client(Vec<u8>),
    /// One write toward the server.
    Server(Vec<u8>),
    /// Close the whole connection.
    Close,
}

/// A change to the bytes between one client and its server. `down` sees
/// what the server sends, `up` what the client sends.
pub trait Mutation: Send {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Client(bytes.to_vec()));
    }
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Server(bytes.to_vec()));
    }
    /// Nothing arrived for a tick in one direction (or its stream ended,
    /// `end`): a chance to let held bytes go.
    fn tick(&mut self, end: bool, acts: &mut Vec<Act>) {
        let _ = (end, acts);
    }
}

/// Held while writing to a client, by every connection of a mutant that
/// serializes its writes.
static WRITES: Mutex<()> = Mutex::new(());

struct Link {
    serialize: bool,
    /// Every descriptor of both sockets (the writers here, the readers the
    /// pumps own), to close them all at once when one side vanishes.
    fds: Vec<std::os::fd::RawFd>,
    client: Mutex<TcpStream>,
    server: Mutex<TcpStream>,
    mutation: Mutex<Box<dyn Mutation>>,
    closed: std::sync::atomic::AtomicBool,
    /// A write to the server failed: it has closed. What the client sends
    /// from then on is dropped, while what the server sent before it went
    /// is still relayed (its last reply before a hang-up).
    server_gone: std::sync::atomic::AtomicBool,
}

impl Link {
    fn apply(&self, acts: Vec<Act>) {
        for act in acts {
            let ok = match act {
                Act::Client(b) => {
                    let _one_at_a_time = self.serialize.then(|| lock(&WRITES));
                    lock(&self.client).write_all(&b).is_ok()
                }
                Act::Server(b) => {
                    use std::sync::atomic::Ordering::Relaxed;
                    if !self.server_gone.load(Relaxed) && lock(&self.server).write_all(&b).is_err()
                    {
                        self.server_gone.store(true, Relaxed);
                    }
                    true
                }
                Act::Close => {
                    self.close(false);
                    return;
                }
            };
            if !ok {
                // The client is gone: so is the connection, for the server.
                self.close(true);
                return;
            }
        }
    }

    /// Ends the connection both ways. `abort`: one side vanished, so the
    /// other is reset too (SO_LINGER 0: the reset goes out when the last
    /// descriptor closes, as both pumps end), not told a polite goodbye a
    /// server could take for a half-close.
    fn close(&self, abort: bool) {
        self.closed
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for side in [&self.client, &self.server] {
            let side = lock(side);
            if abort {
                let _ = socket2::SockRef::from(&*side).set_linger(Some(Duration::ZERO));
            } else {
                let _ = side.shutdown(Shutdown::Both);
            }
        }
        if abort {
            // A shut-down socket still takes what its peer sends, so a
            // server would go on writing to a client that is gone. Closing
            // every descriptor now (each replaced by /dev/null, which the
            // pumps read as an end) resets the connection at once.
            if let Ok(null) = std::fs::File::open("/dev/null") {
                use std::os::fd::AsRawFd;
                for &fd in &self.fds {
                    // SAFETY: our own descriptors, replaced atomically.
                    unsafe { libc::dup2(null.as_raw_fd(), fd) };
                }
            }
        }
    }

    fn is_closed(&self) -> bool {
        self.closed.load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the relay may hold on the way from the server to a client, in
/// each of its two sockets: little, so that a server meets a client that
/// stops reading about as soon as it would without the relay (hello's
/// PR12 counts the SEND-OKs a stalled reader's socket allows).
const HOLD: usize = 16 * 1024;

/// Accepts on `listener` forever, relaying each connection to `upstream`
/// through a fresh mutation from `make`.
pub fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    serialize: bool,
    make: impl Fn() -> Box<dyn Mutation> + Send + Sync + 'static,
) {
    let make = Arc::new(make);
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        // Connected here, one after the other, so the server accepts the
        // connections in the order they came (miniserv numbers them so).
        let Ok(server) = connect(upstream) else {
            continue;
        };
        let make = make.clone();
        std::thread::spawn(move || {
            let _ = socket2::SockRef::from(&client).set_send_buffer_size(HOLD);
            relay(client, server, serialize, make());
        });
    }
}

/// A connection to the real server, with a small receive buffer (`HOLD`).
fn connect(to: SocketAddr) -> std::io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, Some(Protocol::TCP))?;
    let _ = socket.set_recv_buffer_size(HOLD);
    socket.connect(&to.into())?;
    Ok(socket.into())
}

/// Relays one connection until both directions have ended.
pub fn relay(client: TcpStream, server: TcpStream, serialize: bool, mutation: Box<dyn Mutation>) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (Ok(client_r), Ok(server_r)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    use std::os::fd::AsRawFd;
    let fds = vec![
        client.as_raw_fd(),
        server.as_raw_fd(),
        client_r.as_raw_fd(),
        server_r.as_raw_fd(),
    ];
    let link = Link {
        serialize,
        fds,
        client: Mutex::new(client),
        server: Mutex::new(server),
        mutation: Mutex::new(mutation),
        closed: Default::default(),
        server_gone: Default::default(),
    };
    // Every descriptor stays open until both directions are done: `close`
    // may replace any of them, and a number closed early could by then
    // belong to another connection.
    std::thread::scope(|s| {
        s.spawn(|| pump(&client_r, &link, false));
        pump(&server_r, &link, true);
    });
}

/// One direction: from the server (`down`) or from the client.
fn pump(mut from: &TcpStream, link: &Link, down: bool) {
    let _ = from.set_read_timeout(Some(TICK));
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        if link.is_closed() {
            return;
        }
        let mut acts = Vec::new();
        let mut reset = false;
        let ended = match from.read(&mut chunk) {
            Ok(0) => true,
            Ok(n) => {
                let mut m = lock(&link.mutation);
                if down {
                    m.down(&chunk[..n], &mut acts);
                } else {
                    m.up(&chunk[..n], &mut acts);
                }
                false
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                lock(&link.mutation).tick(false, &mut acts);
                false
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => false,
            // A reset from the client is passed on as one; from the
            // server it ends the relay toward the client like a close, so
            // that what the server sent before it still arrives.
            Err(_) => {
                reset = !down;
                true
            }
        };
        if ended {
            lock(&link.mutation).tick(true, &mut acts);
        }
        link.apply(acts);
        if reset {
            link.close(true);
            return;
        }
        if ended {
            // Pass the end on as a half-close of the other side.
            let other = if down { &link.client } else { &link.server };
            let _ = lock(other).shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Cuts a byte stream into items: lines ending in LF, 200-byte frames, or
/// sendto packets; what is left waits for more.
#[derive(Debug, Default)]
pub struct Items {
    buf: Vec<u8>,
}

#[derive(Debug, Clone, Copy)]
pub enum Unit {
    Line,
    Frame,
    Packet,
}

impl Items {
    pub fn push(&mut self, bytes: &[u8], unit: Unit) -> Vec<Vec<u8>> {
        self.buf.extend_from_slice(bytes);
        let mut out = Vec::new();
        loop {
            let n = match unit {
                Unit::Line => self.buf.iter().position(|&b| b == b'\n').map(|i| i + 1),
                Unit::Frame => (self.buf.len() >= 200).then_some(200),
                Unit::Packet => (self.buf.len() >= 5)
                    .then(|| {
                        let len = u32::from_be_bytes([
                            self.buf[1],
                            self.buf[2],
                            self.buf[3],
                            self.buf[4],
                        ]);
                        5 + len as usize
                    })
                    .filter(|&n| self.buf.len() >= n),
            };
            match n {
                Some(n) => out.push(self.buf.drain(..n).collect()),
                None => return out,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_wait_for_their_ends() {
        let mut lines = Items::default();
        assert_eq!(lines.push(b"ab\ncd", Unit::Line), vec![b"ab\n".to_vec()]);
        assert_eq!(lines.push(b"\n", Unit::Line), vec![b"cd\n".to_vec()]);
        let mut packets = Items::default();
        assert!(packets.push(&[0x82, 0, 0, 0, 1], Unit::Packet).is_empty());
        assert_eq!(
            packets.push(&[0, 0x82], Unit::Packet),
            vec![vec![0x82, 0, 0, 0, 1, 0]]
        );
    }

    #[test]
    fn a_relay_passes_bytes_and_half_closes_both_ways() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let up = server.local_addr().unwrap();
        let front_addr = front.local_addr().unwrap();
        std::thread::spawn(move || serve(front, up, false, || Box::new(Pass) as Box<dyn Mutation>));
        let mut c = TcpStream::connect(front_addr).unwrap();
        let (mut s, _) = server.accept().unwrap();
        c.write_all(b"hello").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hello");
        s.write_all(b"bye").unwrap();
        drop(s);
        let mut back = Vec::new();
        c.read_to_end(&mut back).unwrap();
        assert_eq!(back, b"bye");
    }

    #[test]
    fn a_servers_last_reply_before_it_hangs_up_reaches_the_client() {
        let server = TcpListener::bind("127.0.0.1:0").unwrap();
        let front = TcpListener::bind("127.0.0.1:0").unwrap();
        let up = server.local_addr().unwrap();
        let front_addr = front.local_addr().unwrap();
        std::thread::spawn(move || serve(front, up, false, || Box::new(Pass) as Box<dyn Mutation>));
        let mut c = TcpStream::connect(front_addr).unwrap();
        let (mut s, _) = server.accept().unwrap();
        c.write_all(b"unread").unwrap();
        // The server answers and hangs up with bytes unread: a reset.
        s.write_all(b"bye").unwrap();
        drop(s);
        // The client goes on sending, not having read the answer yet.
        for _ in 0..100 {
            if c.write_all(b"more").is_err() {
                break;
            }
        }
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        assert_eq!(got, b"bye");
    }

    struct Pass;
    impl Mutation for Pass {}
}
