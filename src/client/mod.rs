//! The interactive client: one poll loop over standard input and the
//! socket, so what the server says is printed the moment it arrives, even
//! while the user is in the middle of typing.
//!
//! The loop is the same for every protocol; a [`FrontEnd`] decides what a
//! typed line sends and how the server's bytes are shown.

pub mod mesg;
mod stdin;

use crate::cli::ClientArgs;
use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use stdin::Stdin;

const SOCKET: Token = Token(0);
const STDIN: Token = Token(1);
const SIGNALS: Token = Token(2);

/// Longest line the user may type; longer lines are refused locally.
const MAX_TYPED_LINE: usize = 64 * 1024;

/// What the front end wants printed, written to stdout once per turn.
#[derive(Debug, Default)]
pub struct Screen {
    buf: Vec<u8>,
}

impl Screen {
    /// Prints `bytes` followed by a newline.
    pub fn line(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        self.buf.push(b'\n');
    }

    /// Prints `bytes` as they are.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let mut out = io::stdout().lock();
            out.write_all(&self.buf)?;
            out.flush()?;
            self.buf.clear();
        }
        Ok(())
    }
}

/// A protocol's side of the client.
pub trait FrontEnd {
    /// The user typed `line` (without its newline).
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen);

    /// Bytes arrived from the server. Returns how many were used; the rest
    /// (an incomplete message) is offered again with what follows it.
    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize;
}

/// Runs the client until the server hangs up; returns the exit status.
pub fn run(args: &ClientArgs) -> i32 {
    let target = format!("{}:{}", args.host, args.port);
    let socket = match std::net::TcpStream::connect((args.host.as_str(), args.port)) {
        Ok(socket) => socket,
        Err(e) => {
            println!("Unable to connect to {target}");
            log::debug!("connect {target}: {e}");
            return 1;
        }
    };
    let mut front = mesg::Mesg::new();
    match run_connected(socket, &mut front) {
        Ok(Ending::ServerClosed) => {
            println!("Server at {target} has disconnected");
            0
        }
        Ok(Ending::Interrupted) => 130,
        Err(e) => {
            eprintln!("pollchat-client: {e}");
            1
        }
    }
}

enum Ending {
    ServerClosed,
    Interrupted,
}

fn run_connected(socket: std::net::TcpStream, front: &mut dyn FrontEnd) -> io::Result<Ending> {
    socket.set_nonblocking(true)?;
    let _ = socket.set_nodelay(true);
    let mut socket = TcpStream::from_std(socket);
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut socket, SOCKET, Interest::READABLE | Interest::WRITABLE)?;
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    poll.registry()
        .register(&mut signals, SIGNALS, Interest::READABLE)?;
    // Dropped (and stdin's flags restored) however this function returns.
    let mut stdin = Stdin::register(poll.registry(), STDIN);

    let mut events = Events::with_capacity(16);
    let mut screen = Screen::default();
    let mut typed = Vec::new();
    let mut typed_lines = LineFramer::new(MAX_TYPED_LINE);
    let mut from_server = Vec::new();
    let mut to_server = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    let mut sent_eof = false;

    loop {
        let timeout = stdin.wants_turn().then_some(std::time::Duration::ZERO);
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        let mut server_closed = false;
        let mut read_stdin = stdin.wants_turn();
        for event in events.iter() {
            match event.token() {
                SOCKET => loop {
                    match socket.read(&mut chunk) {
                        Ok(0) => {
                            server_closed = true;
                            break;
                        }
                        Ok(n) => {
                            from_server.extend_from_slice(&chunk[..n]);
                            let used = front.on_server(&from_server, &mut screen);
                            from_server.drain(..used);
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(_) => {
                            server_closed = true;
                            break;
                        }
                    }
                },
                STDIN => read_stdin = true,
                SIGNALS if signals.pending().next().is_some() => {
                    screen.flush()?;
                    return Ok(Ending::Interrupted);
                }
                _ => {}
            }
        }
        if read_stdin {
            // A polled stdin is read until it is empty; a file one chunk a
            // turn, so the socket gets its turns too.
            loop {
                let n = stdin.read(&mut chunk)?;
                typed.extend_from_slice(&chunk[..n]);
                let mut pos = 0;
                loop {
                    let (used, frame) = typed_lines.next_frame(&typed[pos..]);
                    pos += used;
                    match frame {
                        Some(Frame::Data(line)) => {
                            front.on_typed(line, &mut to_server, &mut screen)
                        }
                        Some(Frame::TooLong) => {
                            eprintln!("pollchat-client: line too long, not sent")
                        }
                        None => break,
                    }
                }
                typed.drain(..pos);
                if stdin.is_eof() {
                    if let Some(Frame::Data(line)) = typed_lines.finish(&typed) {
                        front.on_typed(line, &mut to_server, &mut screen);
                    }
                    typed.clear();
                }
                if n == 0 || stdin.wants_turn() {
                    break;
                }
            }
        }
        if !server_closed {
            server_closed = write_pending(&mut socket, &mut to_server);
        }
        if stdin.is_eof() && to_server.is_empty() && !sent_eof && !server_closed {
            // Nothing more to say: tell the server, and keep printing what
            // it still sends until it hangs up.
            let _ = socket.shutdown(Shutdown::Write);
            sent_eof = true;
        }
        if let Err(e) = screen.flush() {
            // Whoever reads our output has gone: nothing left to do.
            return if e.kind() == ErrorKind::BrokenPipe {
                Ok(Ending::Interrupted)
            } else {
                Err(e)
            };
        }
        if server_closed {
            return Ok(Ending::ServerClosed);
        }
    }
}

/// Writes what is queued for the server; returns true if the server has
/// gone.
fn write_pending(socket: &mut TcpStream, pending: &mut Vec<u8>) -> bool {
    while !pending.is_empty() {
        match socket.write(pending) {
            Ok(0) => return true,
            Ok(n) => {
                pending.drain(..n);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    false
}
