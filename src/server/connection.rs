//! One client connection: its socket, what it has sent that does not make a
//! whole frame yet, what we have queued for it, and its dialect's state.

use super::output::OutBuf;
use crate::dialect::Session;
use mio::net::TcpStream;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::Instant;

/// Why a connection is being closed. The close itself always happens at the
/// end of the loop turn (see `Server::close_pending`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The dialect hung up on purpose (QUIT, too many users, ...): what is
    /// queued is written first.
    Goodbye,
    /// The peer closed its side and has been sent everything it was owed.
    PeerClosed,
    /// The socket failed: nothing more can be written.
    Failed,
    /// The client stopped reading (its queue passed the limit, or it kept
    /// a sender waiting too long), or it holds the most memory while the
    /// server is over its total budget: nothing more is written, or the
    /// limit would mean nothing.
    SlowConsumer,
}

/// Who is waiting on whom: a connection's token and the serial of the
/// connection that had it then (tokens are reused at once).
pub type Tag = (mio::Token, u64);

#[derive(Debug)]
pub struct Connection {
    pub socket: TcpStream,
    /// The socket's file descriptor: status lines name clients by it, as
    /// the assignments ask, and `mesg` shows it in LIST.
    pub fd: i32,
    pub peer: SocketAddr,
    /// Tells this connection from an earlier one that had the same token.
    pub serial: u64,
    pub session: Session,
    /// The start of a frame that has not fully arrived. Empty (and without
    /// memory) for a connection that is between messages, which is nearly
    /// always: complete frames are handled straight out of the loop's
    /// shared read buffer.
    pub partial: Vec<u8>,
    pub out: OutBuf,
    /// Set once the connection is to be closed at the end of this turn; it
    /// is then neither read nor sent anything new.
    pub closing: Option<Close>,
    /// In the loop's list of connections to flush this turn.
    pub dirty: bool,
    /// Messages this connection sent with a receipt that has not come back
    /// yet. While there are any, its next requests wait (see
    /// `Server::on_frames`), so its replies come back in request order.
    pub awaiting: u32,
    /// The peer has closed its side (read returned 0). We keep the
    /// connection until it has been sent everything it is owed.
    pub read_closed: bool,
    /// When the client last sent anything (for the idle timeout).
    pub last_input: Instant,
    /// When it connected (for the login deadline).
    pub connected_at: Instant,
    /// Back-pressure: the recipient whose backlog this connection is held
    /// behind. While set, its input is neither read nor handled.
    pub held_by: Option<Tag>,
    /// The senders held behind this connection's backlog, woken when it
    /// drains (entries may be stale: checked on waking).
    pub waiters: Vec<Tag>,
    /// Complete frames are kept in `partial`, not yet handled (the turn's
    /// work budget ran out, or a receipt or back-pressure holds it): no
    /// more is read until they are.
    pub has_kept: bool,
    /// Work its requests caused in the turn `work_turn` (see limits.rs,
    /// `TURN_WORK`).
    pub work: usize,
    pub work_turn: u64,
    /// Work its requests caused lately: halved at every sweep. Only a
    /// sender that has done much lately is held back.
    pub recent_work: usize,
    /// The loop turn in which it was last read or resumed: at most once a
    /// turn.
    pub served_turn: u64,
    /// In the loop's backlog of connections to serve next turn.
    pub in_backlog: bool,
    /// Bytes of memory its buffers held when last counted into the
    /// server's total.
    pub footprint: usize,
}

impl Connection {
    pub fn new(socket: TcpStream, peer: SocketAddr, serial: u64, session: Session) -> Connection {
        let fd = socket.as_raw_fd();
        Connection {
            socket,
            fd,
            peer,
            serial,
            session,
            partial: Vec::new(),
            out: OutBuf::default(),
            closing: None,
            dirty: false,
            awaiting: 0,
            read_closed: false,
            last_input: Instant::now(),
            connected_at: Instant::now(),
            held_by: None,
            waiters: Vec::new(),
            has_kept: false,
            work: 0,
            work_turn: 0,
            recent_work: 0,
            served_turn: 0,
            in_backlog: false,
            footprint: 0,
        }
    }

    /// Its tag, for the lists of who waits on whom.
    pub fn tag(&self, token: mio::Token) -> Tag {
        (token, self.serial)
    }

    /// Bytes its buffers hold now.
    pub fn memory(&self) -> usize {
        self.out.capacity() + self.partial.capacity()
    }

    /// Bytes it has sent that wait, or were sent to it and wait: what a
    /// client that does not read makes the server hold.
    pub fn unread(&self) -> usize {
        self.out.pending() + self.partial.len()
    }

    /// Whether its next frames may be handled now: not while a receipt or
    /// a recipient's backlog holds it.
    pub fn may_handle(&self) -> bool {
        self.awaiting == 0 && self.held_by.is_none()
    }

    /// Whether its socket may be read now: not while frames it sent wait
    /// to be handled, nor once the peer has said all it will.
    pub fn may_read(&self) -> bool {
        self.may_handle() && !self.has_kept && !self.read_closed
    }

    /// A half-closed connection is done once every request it made has
    /// been answered and the answers have been written.
    pub fn is_finished(&self) -> bool {
        self.read_closed && self.awaiting == 0 && self.out.is_empty()
    }

    /// Marks the connection for closing, keeping the first reason given.
    pub fn close(&mut self, why: Close) {
        self.closing.get_or_insert(why);
    }
}
