//! One client connection, as the loop keeps it: its socket and where it is
//! in this turn. What it says and is sent belongs to the relay.

use crate::relay::Hangup;
use mio::net::TcpStream;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;

#[derive(Debug)]
pub struct Connection {
    pub socket: TcpStream,
    /// The socket's file descriptor: status lines name clients by it, as
    /// the assignments ask, and `mesg` shows it in LIST.
    pub fd: i32,
    pub peer: SocketAddr,
    /// Tells this connection from an earlier one that had the same token.
    pub serial: u64,
    /// Set once it is to be closed at the end of this turn, and how; it is
    /// then neither read nor written, but for a last reply.
    pub closing: Option<Hangup>,
    /// In the loop's list of connections to write this turn.
    pub dirty: bool,
    /// The turn in which it was last read: at most once a turn.
    pub served_turn: u64,
    /// In the loop's backlog of connections to serve next turn.
    pub in_backlog: bool,
}

impl Connection {
    pub fn new(socket: TcpStream, peer: SocketAddr, serial: u64) -> Connection {
        let fd = socket.as_raw_fd();
        Connection {
            socket,
            fd,
            peer,
            serial,
            closing: None,
            dirty: false,
            served_turn: 0,
            in_backlog: false,
        }
    }
}
