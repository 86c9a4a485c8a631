//! Fixed-width framing: every message is exactly `width` bytes.
//!
//! The simplest framer of all, and the one that shows most plainly why a
//! framer is needed: a 200-byte message can still arrive as 150 + 50 bytes,
//! or three of them in one read.

use super::{Frame, Framer};

#[derive(Debug, Clone)]
pub struct FixedFramer {
    width: usize,
}

impl FixedFramer {
    pub fn new(width: usize) -> FixedFramer {
        assert!(width > 0, "a zero-width frame would never consume input");
        FixedFramer { width }
    }
}

impl Framer for FixedFramer {
    fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        if buf.len() < self.width {
            (0, None)
        } else {
            (self.width, Some(Frame::Data(&buf[..self.width])))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::split_all;
    use proptest::prelude::*;

    #[test]
    fn frames_are_cut_at_exact_widths_and_leftovers_wait() {
        let got = split_all(&mut FixedFramer::new(3), b"abcdefgh", &[1, 4]);
        assert_eq!(got, vec![Some(b"abc".to_vec()), Some(b"def".to_vec())]);
    }

    proptest! {
        #[test]
        fn frames_do_not_depend_on_split_points(
            input in proptest::collection::vec(any::<u8>(), 0..100),
            mut cuts in proptest::collection::vec(0usize..100, 0..20),
        ) {
            cuts.sort_unstable();
            let whole = split_all(&mut FixedFramer::new(7), &input, &[]);
            prop_assert_eq!(whole.len(), input.len() / 7);
            prop_assert_eq!(split_all(&mut FixedFramer::new(7), &input, &cuts), whole);
        }
    }
}
