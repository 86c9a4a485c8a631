//! Delimiter framing: one message per line.
//!
//! A line ends at `\n`, `\r\n` or a lone `\r`. Telnet sends `\r\n` (RFC 854),
//! `nc` and most student clients send `\n`, and some old Mac-style clients
//! and a telnet in raw mode send a bare `\r`; all three are one line end.
//! Treating `\r` and `\n` each as a terminator and skipping empty lines
//! gives exactly that, with no state across reads: `\r\n` is a line
//! followed by an empty one, and empty lines are dropped.

use super::{Frame, Framer};

/// Splits a byte stream into lines of at most `max` bytes.
///
/// Like tokio's `LinesCodec` it remembers how far it has scanned a partial
/// line, so a line that arrives in many small reads is scanned once, and an
/// over-long line yields one [`Frame::TooLong`] and is then discarded up to
/// its end without being buffered.
#[derive(Debug, Clone)]
pub struct LineFramer {
    max: usize,
    /// Bytes of the kept partial line already known to hold no terminator.
    scanned: usize,
    /// Inside an over-long line that was already reported.
    discarding: bool,
}

impl LineFramer {
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            max,
            scanned: 0,
            discarding: false,
        }
    }
}

fn is_line_end(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

impl Framer for LineFramer {
    fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            let from = self.scanned.min(rest.len());
            let Some(i) = rest[from..].iter().position(|&b| is_line_end(b)) else {
                if self.discarding {
                    // Still inside the over-long line: drop what came so far.
                    self.scanned = 0;
                    return (buf.len(), None);
                }
                if rest.len() > self.max {
                    // No end in sight and already too long: report it once
                    // and stop buffering it.
                    self.discarding = true;
                    self.scanned = 0;
                    return (buf.len(), Some(Frame::TooLong));
                }
                self.scanned = rest.len();
                return (pos, None);
            };
            let end = from + i;
            self.scanned = 0;
            let line = &rest[..end];
            pos += end + 1;
            if self.discarding {
                self.discarding = false;
            } else if line.len() > self.max {
                return (pos, Some(Frame::TooLong));
            } else if !line.is_empty() {
                return (pos, Some(Frame::Data(line)));
            }
        }
    }

    /// A last line without a terminator still counts when the peer closes:
    /// `printf 'QUIT' | nc host port` means QUIT.
    fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<Frame<'a>> {
        let discarding = std::mem::replace(&mut self.discarding, false);
        self.scanned = 0;
        if discarding || buf.is_empty() {
            None
        } else if buf.len() > self.max {
            Some(Frame::TooLong)
        } else {
            Some(Frame::Data(buf))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::split_all;
    use proptest::prelude::*;

    fn lines(input: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
        split_all(&mut LineFramer::new(8), input, cuts)
    }

    fn data(s: &str) -> Option<Vec<u8>> {
        Some(s.as_bytes().to_vec())
    }

    #[test]
    fn every_line_end_style_ends_a_line() {
        let got = lines(b"a\nb\r\nc\rd\n", &[]);
        assert_eq!(got, vec![data("a"), data("b"), data("c"), data("d")]);
    }

    #[test]
    fn empty_lines_are_skipped() {
        assert_eq!(lines(b"\n\r\n\r\rx\n\n", &[]), vec![data("x")]);
    }

    #[test]
    fn a_partial_line_waits_for_its_end() {
        let mut f = LineFramer::new(8);
        assert_eq!(f.next_frame(b"abc"), (0, None));
        assert_eq!(f.next_frame(b"abcde\nf"), (6, Some(Frame::Data(b"abcde"))));
        assert_eq!(f.next_frame(b"f"), (0, None));
    }

    #[test]
    fn a_line_of_exactly_max_bytes_is_accepted() {
        assert_eq!(lines(b"12345678\n", &[]), vec![data("12345678")]);
        assert_eq!(lines(b"12345678\n", &[3, 8]), vec![data("12345678")]);
    }

    #[test]
    fn an_over_long_line_is_reported_once_and_discarded_to_its_end() {
        let input = b"123456789abcdef\nok\n";
        assert_eq!(lines(input, &[]), vec![None, data("ok")]);
        assert_eq!(lines(input, &[4, 9, 10, 12]), vec![None, data("ok")]);
    }

    #[test]
    fn an_over_long_partial_line_is_not_buffered() {
        let mut f = LineFramer::new(8);
        assert_eq!(f.next_frame(b"123456789"), (9, Some(Frame::TooLong)));
        assert_eq!(f.next_frame(b"more junk"), (9, None));
        assert_eq!(f.next_frame(b"end\nok\n"), (7, Some(Frame::Data(b"ok"))));
    }

    #[test]
    fn a_last_unterminated_line_counts_at_eof() {
        assert_eq!(lines(b"a\nQUIT", &[]), vec![data("a"), data("QUIT")]);
        assert_eq!(lines(b"a\n123456789", &[]), vec![data("a"), None]);
    }

    proptest! {
        #[test]
        fn frames_do_not_depend_on_split_points(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b'b'), any::<u8>()], 0..200),
            mut cuts in proptest::collection::vec(0usize..200, 0..20),
        ) {
            cuts.sort_unstable();
            let whole = lines(&input, &[]);
            let bytewise: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(&lines(&input, &cuts), &whole);
            prop_assert_eq!(&lines(&input, &bytewise), &whole);
            for frame in whole.iter().flatten() {
                prop_assert!(!frame.is_empty() && frame.len() <= 8);
                prop_assert!(!frame.iter().any(|&b| is_line_end(b)));
            }
        }
    }
}
