//! The `mesg` front end: what you type is sent as is, a line at a time,
//! ended in CR LF as telnet ends it; what the server says is printed a line
//! at a time.

use super::{FrontEnd, Screen};
use crate::framing::line::LineFramer;
use crate::framing::{Frame, Framer};

/// Server lines longer than this are printed in pieces rather than held.
const MAX_SERVER_LINE: usize = 64 * 1024;

pub struct Mesg {
    lines: LineFramer,
}

impl Mesg {
    pub fn new() -> Mesg {
        Mesg {
            lines: LineFramer::new(MAX_SERVER_LINE),
        }
    }
}

impl Default for Mesg {
    fn default() -> Mesg {
        Mesg::new()
    }
}

impl FrontEnd for Mesg {
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, _screen: &mut Screen) {
        // Telnet's line end (RFC 854). Servers written and graded with
        // telnet often cut two bytes off every line; LF alone loses a letter.
        to_server.extend_from_slice(line);
        to_server.extend_from_slice(b"\r\n");
    }

    /// Student servers often take one `recv` for one command.
    fn paced(&self) -> bool {
        true
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        let mut pos = 0;
        loop {
            let (used, frame) = self.lines.next_frame(&bytes[pos..]);
            pos += used;
            match frame {
                Some(Frame::Data(line)) => screen.line(line),
                Some(Frame::TooLong) => screen.line(b"(an over-long line from the server was cut)"),
                None => return pos,
            }
        }
    }
}
