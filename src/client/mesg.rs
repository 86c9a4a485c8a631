//! The `mesg` front end: what you type is sent as is, a line at a time,
//! ended in CR LF as telnet ends it; what the server says is printed a line
//! at a time.
//!
//! Nothing the server sends is lost. A line prints when its end (CR or LF)
//! arrives. Text with no line end yet (a prompt such as `Enter name: `)
//! prints as it is once the server has been quiet a moment, as telnet and
//! nc show it, and the rest of its line prints when it comes, so the line
//! appears once. Whatever is left when the connection ends prints with a
//! line end of its own.

use super::{FrontEnd, Screen};

/// Server text held back waiting for its line end is printed once it
/// reaches this size: a line is never cut, only shown in pieces.
const MAX_HELD_LINE: usize = 64 * 1024;

pub struct Mesg {
    /// The server's current line, as far as it has come and not printed.
    line: Vec<u8>,
    /// The start of the current line is on the screen already.
    started: bool,
}

impl Mesg {
    pub fn new() -> Mesg {
        Mesg {
            line: Vec::new(),
            started: false,
        }
    }

    /// A line end from the server: the line prints (what is left of it).
    /// Empty lines are skipped, so CR LF is one line end.
    fn end_line(&mut self, screen: &mut Screen) {
        if self.started || !self.line.is_empty() {
            screen.line(&self.line);
            self.line.clear();
            self.started = false;
        }
    }

    /// Prints the held text without a line end; its line goes on.
    fn show_held(&mut self, screen: &mut Screen) {
        if !self.line.is_empty() {
            screen.raw(&self.line);
            self.line.clear();
            self.started = true;
        }
    }
}

impl Default for Mesg {
    fn default() -> Mesg {
        Mesg::new()
    }
}

fn is_line_end(b: &u8) -> bool {
    *b == b'\r' || *b == b'\n'
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

    /// Every byte is used: a line not ended yet is held here.
    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        for piece in bytes.split_inclusive(is_line_end) {
            match piece.split_last() {
                Some((end, text)) if is_line_end(end) => {
                    self.line.extend_from_slice(text);
                    self.end_line(screen);
                }
                _ => self.line.extend_from_slice(piece),
            }
        }
        if self.line.len() >= MAX_HELD_LINE {
            self.show_held(screen);
        }
        bytes.len()
    }

    fn on_server_quiet(&mut self, screen: &mut Screen) {
        self.show_held(screen);
    }

    fn on_server_end(&mut self, _pending: &[u8], screen: &mut Screen) {
        self.end_line(screen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn printed(screen: &mut Screen) -> String {
        String::from_utf8(std::mem::take(&mut screen.buf)).unwrap()
    }

    #[test]
    fn lines_print_at_their_end_whatever_the_line_end() {
        let (mut mesg, mut screen) = (Mesg::new(), Screen::default());
        assert_eq!(mesg.on_server(b"a\r\nb\nc\rd", &mut screen), 8);
        assert_eq!(printed(&mut screen), "a\nb\nc\n");
        mesg.on_server(b"\r\n\r\n\n", &mut screen);
        assert_eq!(printed(&mut screen), "d\n");
    }

    #[test]
    fn a_partial_line_shows_when_the_server_is_quiet_and_only_once() {
        let (mut mesg, mut screen) = (Mesg::new(), Screen::default());
        mesg.on_server(b"Enter ", &mut screen);
        mesg.on_server(b"name: ", &mut screen);
        assert_eq!(printed(&mut screen), "");
        mesg.on_server_quiet(&mut screen);
        assert_eq!(printed(&mut screen), "Enter name: ");
        mesg.on_server_quiet(&mut screen);
        mesg.on_server(b"ann\r", &mut screen);
        assert_eq!(printed(&mut screen), "ann\n");
        // Shown, then ended by a line end alone: the line ends, once.
        mesg.on_server(b"> ", &mut screen);
        mesg.on_server_quiet(&mut screen);
        mesg.on_server(b"\r\n", &mut screen);
        assert_eq!(printed(&mut screen), "> \n");
    }

    #[test]
    fn what_is_left_at_the_end_prints_with_a_line_end() {
        let (mut mesg, mut screen) = (Mesg::new(), Screen::default());
        mesg.on_server(b"bye", &mut screen);
        mesg.on_server_end(&[], &mut screen);
        assert_eq!(printed(&mut screen), "bye\n");
        mesg.on_server(b"x", &mut screen);
        mesg.on_server_quiet(&mut screen);
        mesg.on_server_end(&[], &mut screen);
        assert_eq!(printed(&mut screen), "x\n");
        mesg.on_server_end(&[], &mut screen);
        assert_eq!(printed(&mut screen), "");
    }

    #[test]
    fn an_over_long_line_prints_in_pieces_never_cut() {
        let (mut mesg, mut screen) = (Mesg::new(), Screen::default());
        let long = vec![b'x'; MAX_HELD_LINE + 10];
        mesg.on_server(&long, &mut screen);
        assert_eq!(screen.buf.len(), MAX_HELD_LINE + 10);
        mesg.on_server(b"yz\n", &mut screen);
        let mut want = long;
        want.extend_from_slice(b"yz\n");
        assert_eq!(screen.buf, want);
    }
}
