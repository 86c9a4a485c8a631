//! The `miniserv` front end: what is typed goes out as typed, each line
//! ended in `\n`; what the server sends is printed as it comes, byte for
//! byte, as `nc` shows it (the subject's testers use `nc`).

use super::{FrontEnd, Screen};

pub struct Miniserv {
    /// The last byte printed ended a line (or nothing was printed yet).
    at_line_start: bool,
}

impl Miniserv {
    pub fn new() -> Miniserv {
        Miniserv {
            at_line_start: true,
        }
    }
}

impl Default for Miniserv {
    fn default() -> Miniserv {
        Miniserv::new()
    }
}

impl FrontEnd for Miniserv {
    /// The typed line, its `\r` if it had one, and `\n`: the server relays
    /// exactly that.
    fn on_typed(&mut self, line: &[u8], to_server: &mut Vec<u8>, _screen: &mut Screen) {
        to_server.extend_from_slice(line);
        to_server.push(b'\n');
    }

    /// Typed lines go out byte for byte: a `\r` typed before the `\n`
    /// stays, and an empty line is a line (the server relays it). Not
    /// paced: the server answers nothing, and takes lines however they
    /// are cut into reads.
    fn exact_lines(&self) -> bool {
        true
    }

    fn on_typed_rest(&mut self, rest: &[u8], to_server: &mut Vec<u8>) {
        // Sent as it is: no newline is added to what was not typed.
        to_server.extend_from_slice(rest);
    }

    fn on_server(&mut self, bytes: &[u8], screen: &mut Screen) -> usize {
        screen.raw(bytes);
        if let Some(&last) = bytes.last() {
            self.at_line_start = last == b'\n';
        }
        bytes.len()
    }

    fn on_server_closed(&mut self, target: &str, screen: &mut Screen) -> i32 {
        // The disconnect line on a line of its own, after a partial one.
        if !self.at_line_start {
            screen.raw(b"\n");
        }
        screen.line(format!("Server at {target} has disconnected").as_bytes());
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_arrives_prints_as_it_is() {
        let (mut m, mut screen) = (Miniserv::new(), Screen::default());
        assert_eq!(m.on_server(b"client 0: a\r\nclient 0: ", &mut screen), 23);
        assert_eq!(m.on_server_closed("h:1", &mut screen), 0);
        assert_eq!(
            screen.buf,
            b"client 0: a\r\nclient 0: \nServer at h:1 has disconnected\n".to_vec()
        );
    }

    #[test]
    fn typed_lines_end_in_newline_and_the_rest_goes_as_it_is() {
        let (mut m, mut screen) = (Miniserv::new(), Screen::default());
        let mut out = Vec::new();
        m.on_typed(b"hi\r", &mut out, &mut screen);
        m.on_typed(b"", &mut out, &mut screen);
        m.on_typed_rest(b"end", &mut out);
        assert_eq!(out, b"hi\r\n\nend".to_vec());
    }
}
