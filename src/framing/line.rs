//! Delimiter framing: one message per line.
//!
//! Two conventions, one framer:
//!
//! * Telnet style ([`LineFramer::new`], `mesg`): a line ends at `\n`, `\r\n`
//!   or a lone `\r`. Telnet sends `\r\n` (RFC 854), `nc` and most student
//!   clients send `\n`, and some old Mac-style clients and a telnet in raw
//!   mode send a bare `\r`; all three are one line end. Treating `\r` and
//!   `\n` each as a terminator and skipping empty lines gives exactly that,
//!   with no state across reads: `\r\n` is a line followed by an empty one,
//!   and empty lines are dropped. A last line without a terminator still
//!   counts when the peer closes.
//! * Newline only ([`LineFramer::newline_only`], `hello`): a protocol whose
//!   messages end in `\n` alone. One `\r` before the `\n` is dropped (for
//!   clients that send `\r\n`), a `\r` anywhere else is text, and bytes
//!   without a `\n` when the peer closes are not a message.
//! * Exact ([`LineFramer::exact`], `miniserv`): a line is everything up to
//!   a `\n`, byte for byte: a `\r` before it is kept, an empty line is a
//!   line, and bytes without a `\n` when the peer closes are not one.

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
    /// Only `\n` ends a line (see the module notes).
    newline_only: bool,
    /// Newline only, and nothing is dropped: no `\r`, no empty line.
    exact: bool,
    /// Bytes of the kept partial line already known to hold no terminator.
    scanned: usize,
    /// Inside an over-long line that was already reported.
    discarding: bool,
}

impl LineFramer {
    /// Lines end at `\n`, `\r\n` or a lone `\r`; at most `max` bytes.
    pub fn new(max: usize) -> LineFramer {
        LineFramer {
            max,
            newline_only: false,
            exact: false,
            scanned: 0,
            discarding: false,
        }
    }

    /// Lines end at `\n` (or `\r\n`) only; at most `max` bytes.
    pub fn newline_only(max: usize) -> LineFramer {
        LineFramer {
            newline_only: true,
            ..LineFramer::new(max)
        }
    }

    /// Lines end at `\n` only and are kept whole: a `\r` before the `\n`
    /// stays, and empty lines count. At most `max` bytes, not counting
    /// the `\n` nor a `\r` right before it, so a client that ends its
    /// lines in CR LF has the same room as one that sends LF.
    pub fn exact(max: usize) -> LineFramer {
        LineFramer {
            exact: true,
            ..LineFramer::newline_only(max)
        }
    }

    fn is_line_end(&self, b: u8) -> bool {
        b == b'\n' || (b == b'\r' && !self.newline_only)
    }

    /// The longest unterminated tail that may still become a legal line:
    /// with `\n` only, a legal line may have its `\r` still to come.
    fn longest_tail(&self) -> usize {
        self.max + usize::from(self.newline_only)
    }
}

impl Framer for LineFramer {
    fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            let from = self.scanned.min(rest.len());
            let Some(i) = rest[from..].iter().position(|&b| self.is_line_end(b)) else {
                if self.discarding {
                    // Still inside the over-long line: drop what came so far.
                    self.scanned = 0;
                    return (buf.len(), None);
                }
                if rest.len() > self.longest_tail() {
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
            let whole = &rest[..end];
            let mut line = whole;
            if self.newline_only {
                line = line.strip_suffix(b"\r").unwrap_or(line);
            }
            pos += end + 1;
            if self.discarding {
                self.discarding = false;
            } else if line.len() > self.max {
                return (pos, Some(Frame::TooLong));
            } else if self.exact {
                return (pos, Some(Frame::Data(whole)));
            } else if !line.is_empty() {
                return (pos, Some(Frame::Data(line)));
            }
        }
    }

    /// Telnet style, a last line without a terminator still counts when
    /// the peer closes: `printf 'QUIT' | nc host port` means QUIT. Newline
    /// only (and exact), it is not a message.
    fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<Frame<'a>> {
        let discarding = std::mem::replace(&mut self.discarding, false);
        self.scanned = 0;
        if discarding || buf.is_empty() || self.newline_only {
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

    fn nl_lines(input: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
        split_all(&mut LineFramer::newline_only(8), input, cuts)
    }

    #[test]
    fn newline_only_ends_at_newline_and_drops_one_cr_before_it() {
        let got = nl_lines(b"a\nb\r\nc\rd\ne\r\r\n", &[]);
        assert_eq!(got, vec![data("a"), data("b"), data("c\rd"), data("e\r")]);
    }

    #[test]
    fn newline_only_skips_empty_lines() {
        assert_eq!(nl_lines(b"\n\r\n\nx\r\n\n", &[]), vec![data("x")]);
    }

    #[test]
    fn newline_only_accepts_exactly_max_bytes_with_either_ending() {
        assert_eq!(nl_lines(b"12345678\n", &[]), vec![data("12345678")]);
        assert_eq!(nl_lines(b"12345678\r\n", &[3, 9]), vec![data("12345678")]);
        assert_eq!(nl_lines(b"123456789\n", &[]), vec![None]);
        assert_eq!(nl_lines(b"123456789\r\n", &[9]), vec![None]);
    }

    #[test]
    fn newline_only_reports_an_over_long_line_once() {
        let input = b"123456789abcdef\nok\n";
        assert_eq!(nl_lines(input, &[]), vec![None, data("ok")]);
        assert_eq!(nl_lines(input, &[4, 10, 11, 12]), vec![None, data("ok")]);
        let mut f = LineFramer::newline_only(8);
        assert_eq!(f.next_frame(b"1234567890"), (10, Some(Frame::TooLong)));
        assert_eq!(f.next_frame(b"more\rjunk"), (9, None));
        assert_eq!(f.next_frame(b"end\nok\n"), (7, Some(Frame::Data(b"ok"))));
    }

    #[test]
    fn newline_only_an_unterminated_last_line_is_not_a_message() {
        assert_eq!(nl_lines(b"a\nLIST", &[]), vec![data("a")]);
        assert_eq!(nl_lines(b"a\nLIST\r", &[2]), vec![data("a")]);
    }

    fn exact_lines(input: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
        split_all(&mut LineFramer::exact(8), input, cuts)
    }

    #[test]
    fn exact_keeps_every_byte_and_every_empty_line() {
        let got = exact_lines(b"a\n\nb\r\n\r\nc\rd\n", &[]);
        assert_eq!(
            got,
            vec![data("a"), data(""), data("b\r"), data("\r"), data("c\rd")]
        );
        assert_eq!(
            exact_lines(b"a\nb\n", &[1, 2, 3]),
            vec![data("a"), data("b")]
        );
    }

    #[test]
    fn exact_counts_max_without_the_line_end_and_drops_the_last_partial_line() {
        assert_eq!(exact_lines(b"12345678\n", &[4]), vec![data("12345678")]);
        assert_eq!(exact_lines(b"12345678\r\n", &[8]), vec![data("12345678\r")]);
        assert_eq!(
            exact_lines(b"123456789\nok\n", &[3]),
            vec![None, data("ok")]
        );
        assert_eq!(exact_lines(b"a\nrest", &[]), vec![data("a")]);
    }

    /// What the framer must produce, written the obvious way: split at
    /// every `\n`, drop one `\r`, skip empties; the unterminated tail is
    /// reported only if it is already too long to be legal.
    fn newline_model(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        let tail = pieces.pop().unwrap_or_default();
        let mut frames = Vec::new();
        for raw in pieces {
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.len() > max {
                frames.push(None);
            } else if !line.is_empty() {
                frames.push(Some(line.to_vec()));
            }
        }
        if tail.len() > max + 1 {
            frames.push(None);
        }
        frames
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
                prop_assert!(!frame.iter().any(|&b| b == b'\n' || b == b'\r'));
            }
        }

        #[test]
        fn exact_frames_match_a_split_at_every_newline(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), any::<u8>()], 0..200),
            mut cuts in proptest::collection::vec(0usize..200, 0..20),
        ) {
            cuts.sort_unstable();
            let whole = exact_lines(&input, &[]);
            let mut model = Vec::new();
            let mut pieces: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
            let tail = pieces.pop().unwrap_or_default();
            for raw in pieces {
                let body = raw.strip_suffix(b"\r").unwrap_or(raw);
                model.push((body.len() <= 8).then(|| raw.to_vec()));
            }
            if tail.len() > 9 {
                model.push(None);
            }
            prop_assert_eq!(&whole, &model);
            prop_assert_eq!(&exact_lines(&input, &cuts), &whole);
        }

        #[test]
        fn newline_only_frames_match_a_model_whatever_the_split_points(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(b'a'), Just(b' '), any::<u8>()], 0..200),
            mut cuts in proptest::collection::vec(0usize..200, 0..20),
        ) {
            cuts.sort_unstable();
            let whole = nl_lines(&input, &[]);
            let bytewise: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(&whole, &newline_model(&input, 8));
            prop_assert_eq!(&nl_lines(&input, &cuts), &whole);
            prop_assert_eq!(&nl_lines(&input, &bytewise), &whole);
        }
    }
}
