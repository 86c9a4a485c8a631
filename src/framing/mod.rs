//! Framing: cutting a TCP byte stream into messages.
//!
//! TCP delivers bytes, not messages: one `read` may return half a line, or
//! ten lines and the start of an eleventh. A framer finds where each message
//! ends. The classic ways are all here, one file each:
//!
//! * [`line`]: a delimiter (`\n`, tolerating telnet's `\r\n` and a lone `\r`),
//! * [`fixed`]: a fixed width (every message exactly N bytes),
//! * [`length`]: a length prefix (a binary header says how long the body is),
//!
//! plus [`telnet`], which strips telnet's in-band commands before the line
//! framer sees the bytes.
//!
//! Framers are pure: they look at bytes and never touch a socket, so each is
//! tested by feeding the same input whole, byte by byte and split at random
//! points, and checking that the frames come out the same.

pub mod fixed;
pub mod length;
pub mod line;
pub mod telnet;

/// One complete message found in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// The message's bytes, terminator or padding included only where the
    /// dialect needs them.
    Data(&'a [u8]),
    /// The peer sent more than the largest frame this framer accepts. The
    /// framer has already discarded it (or will, up to its end); the dialect
    /// decides what to answer and whether to hang up.
    TooLong,
}

/// A framer finds the next message at the start of a buffer.
///
/// The contract, which the event loop relies on:
/// `next_frame(buf)` returns `(used, frame)`. The first `used` bytes of
/// `buf` are consumed whatever happens. If `frame` is `None`, `buf[used..]`
/// is the start of an incomplete frame: the caller keeps it and calls again
/// later with those same bytes followed by more. A framer may remember how
/// far into that kept part it has already looked, so a long partial frame
/// is not rescanned on every read.
pub trait Framer {
    fn next_frame<'a>(&mut self, buf: &'a [u8]) -> (usize, Option<Frame<'a>>);

    /// The peer closed its side: what is left in `buf` is all there will
    /// ever be. Returns a last frame if the leftovers make one.
    fn finish<'a>(&mut self, buf: &'a [u8]) -> Option<Frame<'a>> {
        let _ = buf;
        None
    }
}

/// Splits `input` with `framer` exactly as the event loop does, feeding it
/// in the pieces given by `cuts` (offsets into `input`), and returns the
/// frames as owned values. Used by tests and benches to check that frames
/// do not depend on how the input was split.
pub fn split_all<F: Framer>(framer: &mut F, input: &[u8], cuts: &[usize]) -> Vec<Option<Vec<u8>>> {
    let mut frames = Vec::new();
    let mut kept: Vec<u8> = Vec::new();
    let mut start = 0;
    let ends = cuts.iter().copied().chain(std::iter::once(input.len()));
    for end in ends {
        let end = end.clamp(start, input.len());
        kept.extend_from_slice(&input[start..end]);
        start = end;
        let mut pos = 0;
        loop {
            let (used, frame) = framer.next_frame(&kept[pos..]);
            pos += used;
            match frame {
                Some(Frame::Data(d)) => frames.push(Some(d.to_vec())),
                Some(Frame::TooLong) => frames.push(None),
                None => break,
            }
        }
        kept.drain(..pos);
    }
    if let Some(frame) = framer.finish(&kept) {
        frames.push(match frame {
            Frame::Data(d) => Some(d.to_vec()),
            Frame::TooLong => None,
        });
    }
    frames
}
