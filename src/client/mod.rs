//! The interactive client: one poll loop over standard input and the
//! socket, so what the server says is printed the moment it arrives, even
//! while the user is in the middle of typing.
//!
//! The loop is the same for every protocol; a [`FrontEnd`] decides what a
//! typed line sends and how the server's bytes are shown.

pub mod channels;
pub mod cli;
pub mod hello;
pub mod mesg;
pub mod miniserv;
pub mod sendto;
mod stdin;

use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};
use cli::ClientArgs;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook_mio::v1_0::Signals;
use std::io::{self, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};
use stdin::Stdin;

const SOCKET: Token = Token(0);
const STDIN: Token = Token(1);
const SIGNALS: Token = Token(2);

/// Longest line the user may type; longer lines are refused locally.
/// Well above the longest line any front end accepts (a `sendto` command
/// carries up to 65535 bytes of text after its name), so that the front
/// end, not this limit, says what is too long.
const MAX_TYPED_LINE: usize = 256 * 1024;

/// Piped input: how long a request waits for a reply before the next one
/// goes anyway. `mesg` never answers MESG or BCST, so this is what paces
/// them; a student server reads the next command well within it.
const PACE: Duration = Duration::from_millis(500);

/// How long the server must be quiet before text it sent without a line
/// end is shown (a prompt such as `Enter name: `). telnet and nc show it
/// at once; a moment's wait keeps a line that arrives in pieces whole.
const PARTIAL_AFTER: Duration = Duration::from_millis(200);

/// Once stdin has ended: how long the server may stay quiet before the
/// client leaves without waiting for it to close. Many student servers
/// never close on a half-close, and a hello or sendto client waiting for a
/// reply that never comes must not hang the script it runs in.
const LINGER: Duration = Duration::from_secs(3);

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

/// What the client loop does after a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Continue,
    /// Close this connection and open a new one (e.g. to try another name).
    Reconnect,
    /// Close the connection and exit with this status.
    Exit(i32),
}

/// A protocol's side of the client: what a typed line sends, how the
/// server's bytes are shown, and what happens at the edges of the session.
pub trait FrontEnd {
    /// Once, before the first connection attempt (a welcome line).
    fn on_start(&mut self, screen: &mut Screen) {
        let _ = screen;
    }

    /// Connected (also after a reconnect).
    fn on_connect(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) {
        let _ = (to_server, screen);
    }

    /// The user typed `line` (without its newline).
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, screen: &mut Screen);

    /// Whether typed lines are cut at `\n` alone and kept whole (a `\r`
    /// before it, empty lines: [`LineFramer::exact`]) rather than at any
    /// CR or LF with empty lines skipped.
    fn exact_lines(&self) -> bool {
        false
    }

    /// Exact lines only: what was typed after the last `\n` when input
    /// ended (not a line).
    fn on_typed_rest(&mut self, rest: &[u8], to_server: &mut Vec<u8>) {
        let _ = (rest, to_server);
    }

    /// Standard input ended (every line of it handed over). By default the
    /// client stops sending and keeps printing what the server says until
    /// it hangs up, or has been quiet for [`LINGER`].
    fn on_input_end(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) -> Next {
        let _ = (to_server, screen);
        Next::Continue
    }

    /// Bytes arrived from the server. Returns how many were used; the rest
    /// (an incomplete message) is offered again with what follows it.
    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize;

    /// Once a turn, before what is queued is written. A front end that holds
    /// typed lines back until the server has answered (a login) sends them
    /// here. Returns true while it may still have lines to send: until then
    /// the loop does not half-close the connection after input ends.
    fn on_turn(&mut self, to_server: &mut Vec<u8>, screen: &mut Screen) -> bool {
        let _ = (to_server, screen);
        false
    }

    /// Whether typed lines from a pipe or a file go out one request per
    /// write, each after the reply to the one before (see [`Pace`]), as a
    /// person typing would send them.
    fn paced(&self) -> bool {
        false
    }

    /// Paced input only: true while the front end cannot take the next line
    /// yet (a login not answered); the loop keeps it meanwhile.
    fn holding(&self) -> bool {
        false
    }

    /// The server has sent nothing for [`PARTIAL_AFTER`] since it last
    /// did. A front end that holds text waiting for its line end shows it
    /// now (as telnet would), and the rest of its line when it comes.
    fn on_server_quiet(&mut self, screen: &mut Screen) {
        let _ = screen;
    }

    /// The connection is over (the server closed, or the client leaves a
    /// quiet server): `pending` is what `on_server` left unused, all there
    /// will ever be. Nothing the server sent is to be lost: a front end
    /// shows or parses what it can make of it.
    fn on_server_end(&mut self, pending: &[u8], screen: &mut Screen) {
        let _ = (pending, screen);
    }

    /// Asked after every turn: go on, reconnect, or exit.
    fn next(&mut self) -> Next {
        Next::Continue
    }

    /// The server hung up. Returns the exit status.
    fn on_server_closed(&mut self, target: &str, screen: &mut Screen) -> i32 {
        screen.line(format!("Server at {target} has disconnected").as_bytes());
        0
    }

    /// No connection could be made. Returns the exit status.
    fn on_connect_failed(&mut self, target: &str, screen: &mut Screen) -> i32 {
        screen.line(format!("Unable to connect to {target}").as_bytes());
        1
    }
}

/// The front end for `args.protocol`: one per dialect, by name.
fn front_end(args: &ClientArgs) -> Box<dyn FrontEnd> {
    match args.protocol.name {
        "hello" => Box::new(hello::Hello::new()),
        "channels" => Box::new(channels::Channels::new(
            args.name.clone().unwrap_or_default(),
        )),
        "sendto" => Box::new(sendto::Sendto::new()),
        "miniserv" => Box::new(miniserv::Miniserv::new()),
        _ => Box::new(mesg::Mesg::new()),
    }
}

/// Runs the client until the server hangs up, the front end exits, or a
/// signal; returns the exit status.
pub fn run(args: &ClientArgs) -> i32 {
    let target = format!("{}:{}", args.host, args.port);
    let mut front = front_end(args);
    let mut screen = Screen::default();
    front.on_start(&mut screen);
    let _ = screen.flush();
    // Dropped (and stdin's flags restored) however this function returns.
    let mut session = match Session::new() {
        Ok(session) => session,
        Err(e) => {
            eprintln!("pollchat-client: {e}");
            return 1;
        }
    };
    if front.exact_lines() {
        session.typed_lines = LineFramer::exact(MAX_TYPED_LINE);
    }
    loop {
        let socket = match std::net::TcpStream::connect((args.host.as_str(), args.port)) {
            Ok(socket) => socket,
            Err(e) => {
                log::debug!("connect {target}: {e}");
                let status = front.on_connect_failed(&target, &mut screen);
                let _ = screen.flush();
                return status;
            }
        };
        let ending = session.run_connected(socket, front.as_mut(), &mut screen);
        let status = match ending {
            Ok(Ending::ServerClosed) => front.on_server_closed(&target, &mut screen),
            Ok(Ending::Exit(status)) => status,
            Ok(Ending::Reconnect) => {
                let _ = screen.flush();
                continue;
            }
            Err(e) => {
                eprintln!("pollchat-client: {e}");
                1
            }
        };
        let _ = screen.flush();
        return status;
    }
}

enum Ending {
    ServerClosed,
    Reconnect,
    Exit(i32),
}

/// What outlives one connection: the poll, stdin and what was typed.
struct Session {
    poll: Poll,
    signals: Signals,
    stdin: Stdin,
    /// Stdin may have more to read: the poll said so, and it has not been
    /// read empty since (a file is read in turn; see `Stdin::wants_turn`).
    stdin_ready: bool,
    /// Stdin is a pipe or a file: a front end that asks for it is paced.
    piped: bool,
    /// Read from stdin, not yet handed to the front end as lines.
    typed: Vec<u8>,
    typed_lines: LineFramer,
    /// Stdin has ended and every line of it was handed over.
    input_ended: bool,
    /// When stdin ended (lines may still wait to be handed over).
    eof_at: Option<Instant>,
    /// One read buffer for stdin and the socket.
    chunk: Vec<u8>,
}

/// One connection, and what is on its way in and out.
struct Link {
    socket: TcpStream,
    /// Server bytes the front end has not used yet (an incomplete message).
    from_server: Vec<u8>,
    to_server: Vec<u8>,
    /// Our side is shut down: the server has been told we are done.
    sent_eof: bool,
    /// The server hung up, or the socket failed.
    closed: bool,
    pace: Pace,
    /// When a byte last went either way (or the connection opened).
    last_traffic: Instant,
    /// When the server last sent bytes, until the front end is told of the
    /// quiet after them.
    heard: Option<Instant>,
}

/// Piped input goes out one request per write, as typing sends it: many
/// student servers take one `recv` for one command, and two commands in one
/// segment are one garbled command to them. The next request waits until
/// the server has sent something (a reply) after this one was written, or
/// [`PACE`] without.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// The next request may go.
    Open,
    /// A request is queued or being written.
    Writing,
    /// Written; waiting for a reply until then.
    Waiting(Instant),
}

impl Session {
    fn new() -> io::Result<Session> {
        let poll = Poll::new()?;
        let mut signals = Signals::new([SIGINT, SIGTERM])?;
        poll.registry()
            .register(&mut signals, SIGNALS, Interest::READABLE)?;
        let stdin = Stdin::register(poll.registry(), STDIN);
        Ok(Session {
            poll,
            signals,
            piped: !stdin.is_terminal(),
            stdin,
            stdin_ready: true,
            typed: Vec::new(),
            typed_lines: LineFramer::new(MAX_TYPED_LINE),
            input_ended: false,
            eof_at: None,
            chunk: vec![0u8; 16 * 1024],
        })
    }

    /// Hands the complete typed lines to the front end: all of them, or,
    /// paced, one request at a time. At the end of input a last line with
    /// no line end counts too.
    fn take_typed(&mut self, front: &mut dyn FrontEnd, link: &mut Link, screen: &mut Screen) {
        let paced = self.piped && front.paced();
        let mut pos = 0;
        while !paced || (link.pace == Pace::Open && link.to_server.is_empty() && !front.holding()) {
            let (used, frame) = self.typed_lines.next_frame(&self.typed[pos..]);
            pos += used;
            let line = match frame {
                Some(Frame::Data(line)) => line,
                Some(Frame::TooLong) => {
                    eprintln!("pollchat-client: line too long, not sent");
                    continue;
                }
                None if self.stdin.is_eof() => {
                    let rest = &self.typed[pos..];
                    match self.typed_lines.finish(rest) {
                        Some(Frame::Data(line)) => {
                            front.on_typed(line, &mut link.to_server, screen)
                        }
                        None if !rest.is_empty() => front.on_typed_rest(rest, &mut link.to_server),
                        _ => {}
                    }
                    pos = self.typed.len();
                    break;
                }
                None => break,
            };
            front.on_typed(line, &mut link.to_server, screen);
            if paced && !link.to_server.is_empty() {
                link.pace = Pace::Writing;
            }
        }
        self.typed.drain(..pos);
    }

    fn run_connected(
        &mut self,
        socket: std::net::TcpStream,
        front: &mut dyn FrontEnd,
        screen: &mut Screen,
    ) -> io::Result<Ending> {
        socket.set_nonblocking(true)?;
        let _ = socket.set_nodelay(true);
        let mut link = Link {
            socket: TcpStream::from_std(socket),
            from_server: Vec::new(),
            to_server: Vec::new(),
            sent_eof: false,
            closed: false,
            pace: Pace::Open,
            last_traffic: Instant::now(),
            heard: None,
        };
        self.poll.registry().register(
            &mut link.socket,
            SOCKET,
            Interest::READABLE | Interest::WRITABLE,
        )?;
        let ending = self.converse(&mut link, front, screen);
        let _ = self.poll.registry().deregister(&mut link.socket);
        ending
    }

    /// Turns until the connection ends: stdin in, output out, then a
    /// wait for the socket, stdin or a signal.
    fn converse(
        &mut self,
        link: &mut Link,
        front: &mut dyn FrontEnd,
        screen: &mut Screen,
    ) -> io::Result<Ending> {
        let mut events = Events::with_capacity(16);
        front.on_connect(&mut link.to_server, screen);
        self.stdin_ready = true;
        loop {
            if !link.closed {
                self.read_stdin(front, link, screen)?;
                if let Some(ending) = self.check_input_end(front, link, screen) {
                    return Ok(ending);
                }
                self.send(front, link, screen);
            }
            if let Some(ending) = self.settle(front, link, screen)? {
                return Ok(ending);
            }
            if let Some(ending) = self.wait(&mut events, front, link, screen)? {
                return Ok(ending);
            }
        }
    }

    /// Hands over the lines read before (typed before this connection, or
    /// held back by pacing), then reads what stdin has. A polled stdin is
    /// read until it is empty, a file one chunk a turn so the socket gets
    /// its turns too; neither beyond what pacing lets out.
    fn read_stdin(
        &mut self,
        front: &mut dyn FrontEnd,
        link: &mut Link,
        screen: &mut Screen,
    ) -> io::Result<()> {
        self.take_typed(front, link, screen);
        while self.stdin_wanted() {
            let n = self.stdin.read(&mut self.chunk)?;
            self.typed.extend_from_slice(&self.chunk[..n]);
            self.take_typed(front, link, screen);
            if n == 0 {
                // Empty for now: the poll says when there is more.
                self.stdin_ready = false;
                self.stdin.watch_again(self.poll.registry(), STDIN);
            }
            if n == 0 || self.stdin.wants_turn() {
                break;
            }
        }
        if self.stdin.is_eof() {
            self.eof_at.get_or_insert_with(Instant::now);
        }
        Ok(())
    }

    /// Whether to read stdin now: it may have more, and what was read
    /// before is not piling up (paced, a script is sent slower than read).
    fn stdin_wanted(&self) -> bool {
        (self.stdin_ready || self.stdin.wants_turn())
            && !self.stdin.is_eof()
            && self.typed.len() <= MAX_TYPED_LINE
    }

    /// Tells the front end, once, that stdin has ended.
    fn check_input_end(
        &mut self,
        front: &mut dyn FrontEnd,
        link: &mut Link,
        screen: &mut Screen,
    ) -> Option<Ending> {
        if !self.stdin.is_eof() || !self.typed.is_empty() || self.input_ended {
            return None;
        }
        self.input_ended = true;
        match front.on_input_end(&mut link.to_server, screen) {
            Next::Continue => None,
            Next::Reconnect => Some(Ending::Reconnect),
            Next::Exit(status) => {
                write_pending(&mut link.socket, &mut link.to_server);
                Some(Ending::Exit(status))
            }
        }
    }

    /// Writes what the front end queued; once input has ended and nothing
    /// is left to send, half-closes.
    fn send(&mut self, front: &mut dyn FrontEnd, link: &mut Link, screen: &mut Screen) {
        let busy = front.on_turn(&mut link.to_server, screen);
        if self.piped && front.paced() && !link.to_server.is_empty() {
            link.pace = Pace::Writing;
        }
        let queued = link.to_server.len();
        link.closed |= write_pending(&mut link.socket, &mut link.to_server);
        if link.to_server.len() < queued {
            link.last_traffic = Instant::now();
        }
        if link.pace == Pace::Writing && link.to_server.is_empty() {
            link.pace = Pace::Waiting(Instant::now() + PACE);
        }
        let done = link.to_server.is_empty() && !busy && link.pace == Pace::Open;
        if self.input_ended && done && !link.sent_eof && !link.closed {
            // Nothing more to say (paced, the last request has had its
            // reply or its time): tell the server (it still answers
            // everything it was sent), and keep printing what it says
            // until it hangs up.
            let _ = link.socket.shutdown(Shutdown::Write);
            link.sent_eof = true;
        }
    }

    /// Prints what the turn produced, then asks the front end whether to
    /// go on; a connection the server closed ends here.
    fn settle(
        &mut self,
        front: &mut dyn FrontEnd,
        link: &mut Link,
        screen: &mut Screen,
    ) -> io::Result<Option<Ending>> {
        if link.closed {
            // What the server said last, line end or not, before we go.
            front.on_server_end(&link.from_server, screen);
            link.from_server.clear();
        }
        if let Err(e) = screen.flush() {
            // Whoever reads our output has gone: nothing left to do.
            return if e.kind() == ErrorKind::BrokenPipe {
                Ok(Some(Ending::Exit(1)))
            } else {
                Err(e)
            };
        }
        Ok(match front.next() {
            Next::Continue if link.closed => Some(Ending::ServerClosed),
            Next::Continue => None,
            Next::Reconnect => Some(Ending::Reconnect),
            Next::Exit(status) => {
                write_pending(&mut link.socket, &mut link.to_server);
                Some(Ending::Exit(status))
            }
        })
    }

    /// Waits for the socket, stdin, a signal or the next deadline, reads
    /// the socket, and acts on what has fallen due.
    fn wait(
        &mut self,
        events: &mut Events,
        front: &mut dyn FrontEnd,
        link: &mut Link,
        screen: &mut Screen,
    ) -> io::Result<Option<Ending>> {
        let timeout = if self.stdin_wanted() {
            Some(Duration::ZERO)
        } else {
            self.next_deadline(link)
                .map(|due| due.saturating_duration_since(Instant::now()))
        };
        match self.poll.poll(events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(None),
            Err(e) => return Err(e),
        }
        let mut readable = false;
        for event in events.iter() {
            match event.token() {
                SOCKET => readable = true,
                STDIN => self.stdin_ready = true,
                SIGNALS if self.signals.pending().next().is_some() => {
                    screen.flush()?;
                    return Ok(Some(Ending::Exit(130)));
                }
                _ => {}
            }
        }
        if readable {
            self.read_server(front, link, screen);
        }
        Ok(self.on_deadlines(front, link, screen))
    }

    /// The earliest moment something falls due with no event to say so.
    fn next_deadline(&self, link: &Link) -> Option<Instant> {
        let pace = match link.pace {
            Pace::Waiting(until) => Some(until),
            _ => None,
        };
        let partial = link.heard.map(|heard| heard + PARTIAL_AFTER);
        [pace, partial, self.linger_until(link)]
            .into_iter()
            .flatten()
            .min()
    }

    /// Once stdin has ended: when to leave if the server says nothing more
    /// (counted from the end of input, the last byte sent or the last byte
    /// heard, whichever came last).
    fn linger_until(&self, link: &Link) -> Option<Instant> {
        self.eof_at.map(|eof| eof.max(link.last_traffic) + LINGER)
    }

    /// Whatever has fallen due: the next paced request may go; a quiet
    /// server's partial line is shown; after the end of input, a server
    /// quiet for [`LINGER`] is left, with what it sent last shown.
    fn on_deadlines(
        &mut self,
        front: &mut dyn FrontEnd,
        link: &mut Link,
        screen: &mut Screen,
    ) -> Option<Ending> {
        let now = Instant::now();
        if matches!(link.pace, Pace::Waiting(until) if now >= until) {
            link.pace = Pace::Open;
        }
        if link.heard.is_some_and(|heard| now >= heard + PARTIAL_AFTER) {
            link.heard = None;
            front.on_server_quiet(screen);
        }
        if !link.closed && self.linger_until(link).is_some_and(|until| now >= until) {
            front.on_server_end(&link.from_server, screen);
            return Some(Ending::Exit(0));
        }
        None
    }

    /// Reads the socket until it is empty (readiness is edge-triggered),
    /// giving the front end every byte as it comes.
    fn read_server(&mut self, front: &mut dyn FrontEnd, link: &mut Link, screen: &mut Screen) {
        loop {
            match link.socket.read(&mut self.chunk) {
                Ok(0) => {
                    link.closed = true;
                    break;
                }
                Ok(n) => {
                    link.last_traffic = Instant::now();
                    link.heard = Some(link.last_traffic);
                    if let Pace::Waiting(_) = link.pace {
                        // The reply: the next request may go.
                        link.pace = Pace::Open;
                    }
                    link.from_server.extend_from_slice(&self.chunk[..n]);
                    let used = front.on_server(&link.from_server, screen);
                    link.from_server.drain(..used);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    link.closed = true;
                    break;
                }
            }
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
