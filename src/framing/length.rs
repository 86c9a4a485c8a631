//! Length-prefix framing: a header says how long the message is.
//!
//! The way binary protocols frame, and the only one of the three that can
//! carry any byte in a message (a delimiter cannot appear in a line; a
//! fixed width wastes space and caps length). The header here is the
//! common type-length shape of docs/PROTOCOLS.md section 4:
//!
//! ```text
//! +--------+-----------------+---------------+
//! | type   | length          | body          |
//! | 1 byte | 4 bytes, u32 BE | `length` bytes|
//! +--------+-----------------+---------------+
//! ```
//!
//! The danger of a length prefix is that the peer chooses the length: a
//! header claiming 4 GiB must not make us wait for (and buffer) 4 GiB. The
//! framer checks the length the moment the header is complete, reports an
//! over-long packet as [`Frame::TooLong`] at once, and then skips its body
//! as it arrives without keeping any of it.

use super::{Frame, Framer};

/// Bytes in the header: the type byte and the u32 length.
pub const HEADER_LEN: usize = 5;

/// The parts of a header, read from its five bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: u8,
    /// The body length the header declares. Up to 4 GiB: it is the peer's
    /// word, not a size we ever allocate.
    pub len: u32,
}

impl Header {
    /// The header at the start of `buf`, once all five bytes are there.
    pub fn parse(buf: &[u8]) -> Option<Header> {
        let head: &[u8; HEADER_LEN] = buf.get(..HEADER_LEN)?.try_into().ok()?;
        let [kind, a, b, c, d] = *head;
        Some(Header {
            kind,
            len: u32::from_be_bytes([a, b, c, d]),
        })
    }
}

/// Cuts a byte stream into whole packets (header included) whose bodies are
/// at most `max` bytes.
#[derive(Debug, Clone)]
pub struct LengthFramer {
    max: usize,
    /// Body bytes of an over-long packet still to be thrown away as they
    /// arrive. A `u64` because the declared length may pass `usize` on a
    /// 32-bit machine.
    skip: u64,
    /// The header of the last packet reported as [`Frame::TooLong`], so the
    /// dialect can say what it refused.
    rejected: Option<Header>,
}

impl LengthFramer {
    pub fn new(max: usize) -> LengthFramer {
        LengthFramer {
            max,
            skip: 0,
            rejected: None,
        }
    }

    /// The header of the last packet reported as too long.
    pub fn rejected(&self) -> Option<Header> {
        self.rejected
    }
}

impl Framer for LengthFramer {
    fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>) {
        // First throw away what is left of an over-long packet: it was
        // already reported, and keeping it is what the limit forbids.
        let skipped = self.skip.min(buf.len() as u64) as usize;
        self.skip -= skipped as u64;
        if self.skip > 0 {
            return (skipped, None);
        }
        let rest = &buf[skipped..];
        let Some(header) = Header::parse(rest) else {
            // Not even a whole header yet: wait for the rest of it.
            return (skipped, None);
        };
        let len = u64::from(header.len);
        if len > self.max as u64 {
            // Refused on the header alone: nothing of the body is kept.
            self.rejected = Some(header);
            let here = len.min((rest.len() - HEADER_LEN) as u64);
            self.skip = len - here;
            let used = skipped + HEADER_LEN + here as usize;
            return (used, Some(Frame::TooLong));
        }
        // Within the limit, so it fits in memory (and in `usize`).
        let end = HEADER_LEN + len as usize;
        match rest.get(..end) {
            Some(packet) => (skipped + end, Some(Frame::Data(packet))),
            // The body is still arriving; the caller keeps what we have.
            None => (skipped, None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::split_all;
    use proptest::prelude::*;

    /// A packet of type `kind` whose header declares `len` bytes and whose
    /// body is `body` (which may be shorter or longer than `len`).
    fn packet(kind: u8, len: u32, body: &[u8]) -> Vec<u8> {
        let mut p = vec![kind];
        p.extend_from_slice(&len.to_be_bytes());
        p.extend_from_slice(body);
        p
    }

    fn whole(kind: u8, body: &[u8]) -> Vec<u8> {
        packet(kind, body.len() as u32, body)
    }

    fn frames(input: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
        split_all(&mut LengthFramer::new(8), input, cuts)
    }

    #[test]
    fn header_fields_are_big_endian() {
        let h = Header::parse(&[0x83, 0x01, 0x02, 0x03, 0x04, 0xff]).unwrap();
        assert_eq!(
            h,
            Header {
                kind: 0x83,
                len: 0x0102_0304
            }
        );
        assert_eq!(Header::parse(&[1, 0, 0, 0]), None);
    }

    #[test]
    fn packets_come_out_whole_with_their_header() {
        let mut input = whole(1, b"abc");
        input.extend(whole(2, b""));
        input.extend(whole(3, b"12345678"));
        let want = vec![
            Some(whole(1, b"abc")),
            Some(whole(2, b"")),
            Some(whole(3, b"12345678")),
        ];
        assert_eq!(frames(&input, &[]), want);
        let bytewise: Vec<usize> = (1..input.len()).collect();
        assert_eq!(frames(&input, &bytewise), want);
    }

    #[test]
    fn a_partial_header_or_body_waits() {
        let mut f = LengthFramer::new(8);
        assert_eq!(f.next_frame(&[1, 0, 0]), (0, None));
        assert_eq!(f.next_frame(&[1, 0, 0, 0, 3, b'a']), (0, None));
        let p = whole(1, b"abc");
        assert_eq!(f.next_frame(&p), (8, Some(Frame::Data(&p[..]))));
    }

    #[test]
    fn an_over_long_length_is_refused_on_the_header_alone() {
        let mut f = LengthFramer::new(8);
        // Only the header has arrived: the answer comes at once.
        let header = packet(7, 9, b"");
        assert_eq!(f.next_frame(&header), (5, Some(Frame::TooLong)));
        assert_eq!(f.rejected(), Some(Header { kind: 7, len: 9 }));
        // Its body is then thrown away as it arrives, never kept...
        assert_eq!(f.next_frame(b"12345"), (5, None));
        // ...and framing resumes right after it.
        let mut input = b"6789".to_vec();
        input.extend(whole(1, b"ok"));
        assert_eq!(f.next_frame(&input), (11, Some(Frame::Data(&input[4..]))));
    }

    #[test]
    fn a_huge_length_is_counted_down_not_allocated() {
        let mut f = LengthFramer::new(8);
        let header = packet(1, u32::MAX, b"xyz");
        assert_eq!(f.next_frame(&header), (8, Some(Frame::TooLong)));
        assert_eq!(f.skip, u64::from(u32::MAX) - 3);
    }

    #[test]
    fn a_body_of_exactly_max_bytes_is_accepted() {
        let p = whole(1, b"12345678");
        assert_eq!(frames(&p, &[]), vec![Some(p.clone())]);
        assert_eq!(frames(&packet(1, 9, b"123456789"), &[]), vec![None]);
    }

    #[test]
    fn leftovers_at_eof_make_no_packet() {
        assert_eq!(frames(&packet(1, 3, b"ab"), &[]), vec![]);
    }

    /// One packet for the property test: a kind, a body, and whether its
    /// header should lie about the length (claiming more than the limit).
    fn arb_packet() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u8>(),
            proptest::collection::vec(any::<u8>(), 0..12),
            any::<bool>(),
        )
            .prop_map(|(kind, body, honest)| {
                if honest || body.len() > 8 {
                    whole(kind, &body)
                } else {
                    // Over the limit of 8 by a random amount; the bytes that
                    // follow in the stream are swallowed as its body.
                    packet(kind, 9 + body.len() as u32, &body)
                }
            })
    }

    proptest! {
        #[test]
        fn frames_do_not_depend_on_split_points(
            packets in proptest::collection::vec(arb_packet(), 0..10),
            mut cuts in proptest::collection::vec(0usize..150, 0..20),
        ) {
            let input = packets.concat();
            cuts.sort_unstable();
            let whole = frames(&input, &[]);
            let bytewise: Vec<usize> = (1..input.len()).collect();
            prop_assert_eq!(&frames(&input, &cuts), &whole);
            prop_assert_eq!(&frames(&input, &bytewise), &whole);
            for frame in whole.iter().flatten() {
                let h = Header::parse(frame).unwrap();
                prop_assert!(h.len <= 8);
                prop_assert_eq!(frame.len(), HEADER_LEN + h.len as usize);
            }
        }
    }
}
