//! Just enough of RESP, the Redis protocol, to drive pub/sub.
//!
//! Written by hand because it is tiny: a command is an array of bulk
//! strings, and a reply starts with a type byte and ends in CR LF. We speak
//! RESP3 (`HELLO 3`) so that one connection can both SUBSCRIBE and PUBLISH,
//! exactly as one pollchat connection both receives and sends BCST: the
//! same number of sockets on both sides of the comparison. In RESP3 a
//! published message arrives as a push: `>3 message <channel> <payload>`.

use std::fmt;

/// Appends `args` as one command: `*<n>\r\n` then `$<len>\r\n<arg>\r\n` each.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    use std::io::Write;
    let _ = write!(out, "*{}\r\n", args.len());
    for arg in args {
        let _ = write!(out, "${}\r\n", arg.len());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// One element of an array or push, as far as we look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Bulk(&'a [u8]),
    Int(i64),
    /// Anything else (nested aggregates, nulls, doubles, ...).
    Other,
}

/// How many leading elements of an array or push are kept.
pub const KEPT_ITEMS: usize = 3;

/// One complete reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// `+OK` and the like.
    Simple(&'a [u8]),
    /// `-ERR ...` (or a RESP3 blob error).
    Error(&'a [u8]),
    /// `:<n>`: PUBLISH answers with the number of subscribers reached.
    Int(i64),
    /// An array (`*`) or a push (`>`): `len` elements, the first few kept.
    Array {
        len: usize,
        items: [Item<'a>; KEPT_ITEMS],
    },
    /// Anything else: a map (HELLO's answer), a bulk string, a null, ...
    Other,
}

/// The server sent something that is not RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespError(pub String);

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad RESP from the server: {}", self.0)
    }
}

/// Aggregates nest this deep at most before we call it garbage.
const MAX_DEPTH: usize = 8;

type Parsed<T> = Result<Option<(usize, T)>, RespError>;

/// The line at `buf[pos..]` without its CR LF, and the position after it.
fn line(buf: &[u8], pos: usize) -> Option<(&[u8], usize)> {
    let rest = buf.get(pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    Some((&rest[..end], pos + end + 2))
}

fn number(text: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| RespError(format!("not a number: {:?}", String::from_utf8_lossy(text))))
}

/// A length: a number that is not negative (-1 means null; the caller
/// checks for that first).
fn length(text: &[u8]) -> Result<usize, RespError> {
    usize::try_from(number(text)?).map_err(|_| RespError("negative length".into()))
}

/// Parses the value at `buf[pos..]`: its end, and the item it is.
/// `Ok(None)` means it has not fully arrived yet.
fn value(buf: &[u8], pos: usize, depth: usize) -> Parsed<Item<'_>> {
    if depth > MAX_DEPTH {
        return Err(RespError("nested too deep".into()));
    }
    let Some(&kind) = buf.get(pos) else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, pos + 1) else {
        return Ok(None);
    };
    match kind {
        b':' => Ok(Some((next, Item::Int(number(text)?)))),
        // Simple string, error, null, boolean, double, big number.
        b'+' | b'-' | b'_' | b'#' | b',' | b'(' => Ok(Some((next, Item::Other))),
        // Bulk string, blob error, verbatim string: a length, then bytes.
        b'$' | b'!' | b'=' => {
            if text == b"-1" {
                return Ok(Some((next, Item::Other)));
            }
            let len = length(text)?;
            let end = next + len;
            match buf.get(end..end + 2) {
                Some(b"\r\n") => Ok(Some((end + 2, Item::Bulk(&buf[next..end])))),
                Some(_) => Err(RespError("bulk string without CR LF".into())),
                None => Ok(None),
            }
        }
        // Array, push, set, map, attribute: a count, then the elements
        // (a map's and an attribute's count is of pairs).
        b'*' | b'>' | b'~' | b'%' | b'|' => {
            if text == b"-1" {
                return Ok(Some((next, Item::Other)));
            }
            let pairs = matches!(kind, b'%' | b'|');
            let count = length(text)? * if pairs { 2 } else { 1 };
            let mut at = next;
            for _ in 0..count {
                match value(buf, at, depth + 1)? {
                    Some((end, _)) => at = end,
                    None => return Ok(None),
                }
            }
            Ok(Some((at, Item::Other)))
        }
        other => Err(RespError(format!("unknown type byte {other:#04x}"))),
    }
}

/// Parses one reply at the start of `buf`: how many bytes it took, and
/// what it says. `Ok(None)` until it has fully arrived.
pub fn parse(buf: &[u8]) -> Parsed<Reply<'_>> {
    let Some(&kind) = buf.first() else {
        return Ok(None);
    };
    let Some((text, next)) = line(buf, 1) else {
        return Ok(None);
    };
    match kind {
        b'+' => Ok(Some((next, Reply::Simple(text)))),
        b'-' => Ok(Some((next, Reply::Error(text)))),
        b':' => Ok(Some((next, Reply::Int(number(text)?)))),
        b'*' | b'>' if text != b"-1" => {
            let len = length(text)?;
            let mut items = [Item::Other; KEPT_ITEMS];
            let mut at = next;
            for i in 0..len {
                match value(buf, at, 1)? {
                    Some((end, item)) => {
                        if let Some(slot) = items.get_mut(i) {
                            *slot = item;
                        }
                        at = end;
                    }
                    None => return Ok(None),
                }
            }
            Ok(Some((at, Reply::Array { len, items })))
        }
        b'!' => match value(buf, 0, 0)? {
            Some((end, Item::Bulk(text))) => Ok(Some((end, Reply::Error(text)))),
            Some((end, _)) => Ok(Some((end, Reply::Other))),
            None => Ok(None),
        },
        _ => Ok(value(buf, 0, 0)?.map(|(end, _)| (end, Reply::Other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_arrays_of_bulk_strings() {
        let mut out = Vec::new();
        command(&mut out, &[b"PUBLISH", b"ch", b"hi there"]);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nPUBLISH\r\n$2\r\nch\r\n$8\r\nhi there\r\n"
        );
    }

    #[test]
    fn a_pushed_message_yields_channel_and_payload() {
        let input = b">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n:1\r\n";
        let (used, reply) = parse(input).unwrap().unwrap();
        assert_eq!(
            reply,
            Reply::Array {
                len: 3,
                items: [
                    Item::Bulk(b"message"),
                    Item::Bulk(b"ch"),
                    Item::Bulk(b"hello")
                ]
            }
        );
        assert_eq!(parse(&input[used..]).unwrap(), Some((4, Reply::Int(1))));
    }

    #[test]
    fn a_reply_split_anywhere_waits_for_the_rest() {
        let input = b">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
        for cut in 0..input.len() {
            assert_eq!(parse(&input[..cut]).unwrap(), None, "cut at {cut}");
        }
        let (used, reply) = parse(input).unwrap().unwrap();
        assert_eq!(used, input.len());
        let Reply::Array { len: 3, items } = reply else {
            panic!("{reply:?}")
        };
        assert_eq!(items[0], Item::Bulk(b"subscribe"));
        assert_eq!(items[2], Item::Int(1));
    }

    #[test]
    fn a_bulk_payload_may_hold_cr_lf() {
        let input = b"*3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$4\r\na\r\nb\r\n";
        let (_, reply) = parse(input).unwrap().unwrap();
        let Reply::Array { items, .. } = reply else {
            panic!()
        };
        assert_eq!(items[2], Item::Bulk(b"a\r\nb"));
    }

    #[test]
    fn hello_answers_with_a_map_that_is_skipped_whole() {
        let input = b"%2\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nmodules\r\n*0\r\n+OK\r\n";
        let (used, reply) = parse(input).unwrap().unwrap();
        assert_eq!(reply, Reply::Other);
        assert_eq!(
            parse(&input[used..]).unwrap(),
            Some((5, Reply::Simple(b"OK")))
        );
    }

    #[test]
    fn errors_and_garbage() {
        assert_eq!(
            parse(b"-ERR unknown command\r\n").unwrap(),
            Some((22, Reply::Error(b"ERR unknown command")))
        );
        assert!(parse(b"?what\r\n").is_err());
        assert!(parse(b":12x\r\n").is_err());
        assert!(parse(b"$3\r\nabcd\r\n").is_err());
        let deep = b"*1\r\n".repeat(20);
        assert!(parse(&[deep, b":1\r\n".to_vec()].concat()).is_err());
    }
}
