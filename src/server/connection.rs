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
    /// The client stopped reading and its queue passed the limit: nothing
    /// more is written, or the limit would mean nothing.
    SlowConsumer,
}

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
    /// When the client last sent anything (for the idle timeouts).
    pub last_input: Instant,
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
        }
    }

    /// Whether its frames may be handled and its socket read now.
    pub fn is_listening(&self) -> bool {
        self.awaiting == 0 && !self.read_closed
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
