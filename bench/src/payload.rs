//! The payload every load message carries: who sent it, its number in that
//! sender's sequence, and when it was sent.
//!
//! ```text
//! SSSSSSSS QQQQQQQQ TTTTTTTTTTTTTTTT ......
//! sender   seq      sent, ns          padding up to --size
//! ```
//!
//! All fields are fixed-width lowercase hex, written with no separators
//! (the spaces above are for reading only), so decoding is a table lookup
//! per byte and no search. The payload is plain ASCII on purpose: it must
//! pass through a line protocol untouched (no CR, LF, NUL or telnet IAC
//! byte) and through Redis as it is, so both servers carry the same bytes.

/// Hex digits of each field.
const SENDER_DIGITS: usize = 8;
const SEQ_DIGITS: usize = 8;
const TIME_DIGITS: usize = 16;

/// The smallest payload that holds the three fields.
pub const MIN_PAYLOAD: usize = SENDER_DIGITS + SEQ_DIGITS + TIME_DIGITS;

/// What fills a payload after the fields.
const PAD: u8 = b'.';

/// What a payload says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The sender's index among the senders of the run.
    pub sender: u32,
    /// 0 for the sender's first message, then 1, 2, ...
    pub seq: u32,
    /// Nanoseconds since the run's epoch when the message was queued.
    pub sent_ns: u64,
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn put_hex(out: &mut Vec<u8>, value: u64, digits: usize) {
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (4 * i)) & 0xf) as usize]);
    }
}

/// Appends the payload for `stamp`, `size` bytes long (at least
/// [`MIN_PAYLOAD`]; a smaller size is raised to it).
pub fn encode(stamp: Stamp, size: usize, out: &mut Vec<u8>) {
    let start = out.len();
    put_hex(out, u64::from(stamp.sender), SENDER_DIGITS);
    put_hex(out, u64::from(stamp.seq), SEQ_DIGITS);
    put_hex(out, stamp.sent_ns, TIME_DIGITS);
    out.resize(start + size.max(MIN_PAYLOAD), PAD);
}

/// Value of each byte as a hex digit; `INVALID` for every other byte.
const INVALID: u8 = 0xff;
const HEX_VALUE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 16 {
        table[HEX[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Reads `digits.len()` hex digits; `None` if any byte is not one.
fn get_hex(digits: &[u8]) -> Option<u64> {
    let mut value = 0u64;
    // OR every digit's table value together: one branch at the end
    // instead of one per byte.
    let mut bad = 0u8;
    for &b in digits {
        let d = HEX_VALUE[b as usize];
        bad |= d;
        value = (value << 4) | u64::from(d & 0xf);
    }
    (bad & 0xf0 == 0).then_some(value)
}

/// Reads the stamp at the start of `payload`. The padding is not checked:
/// only the fields matter, and a server that mangled them is caught here.
pub fn decode(payload: &[u8]) -> Option<Stamp> {
    let fields = payload.get(..MIN_PAYLOAD)?;
    let (sender, rest) = fields.split_at(SENDER_DIGITS);
    let (seq, time) = rest.split_at(SEQ_DIGITS);
    Some(Stamp {
        sender: get_hex(sender)? as u32,
        seq: get_hex(seq)? as u32,
        sent_ns: get_hex(time)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_survives_the_round_trip_at_every_size() {
        let stamp = Stamp {
            sender: 0xdead_beef,
            seq: 7,
            sent_ns: u64::MAX - 1,
        };
        for size in [0, MIN_PAYLOAD, 64, 1000] {
            let mut out = b"BCST ".to_vec();
            encode(stamp, size, &mut out);
            let payload = &out[5..];
            assert_eq!(payload.len(), size.max(MIN_PAYLOAD));
            assert_eq!(decode(payload), Some(stamp));
        }
    }

    #[test]
    fn the_payload_is_safe_for_a_line_protocol() {
        let mut out = Vec::new();
        encode(
            Stamp {
                sender: 1,
                seq: 2,
                sent_ns: 3,
            },
            64,
            &mut out,
        );
        assert_eq!(&out[..MIN_PAYLOAD], b"00000001000000020000000000000003");
        assert!(out.iter().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn damaged_or_short_payloads_are_refused() {
        let mut out = Vec::new();
        let stamp = Stamp {
            sender: 1,
            seq: 2,
            sent_ns: 3,
        };
        encode(stamp, 64, &mut out);
        assert_eq!(decode(&out[..MIN_PAYLOAD - 1]), None);
        for i in 0..MIN_PAYLOAD {
            let mut bad = out.clone();
            bad[i] = b'G';
            assert_eq!(decode(&bad), None, "byte {i}");
            bad[i] = b'A'; // uppercase is not what we write
            assert_eq!(decode(&bad), None, "byte {i}");
        }
    }
}
