//! What the load generator says and hears, per server: pollchat's `mesg`
//! dialect or Redis pub/sub. Everything else in a workload is the same
//! for both, which is what makes the comparison fair: the same payloads,
//! the same checks, the same loop.

use super::payload::{self, Stamp, MIN_PAYLOAD};
use super::resp::{self, Item, Reply};
use std::io::Write;

/// The Redis channel every client subscribes to and publishes on.
pub const CHANNEL: &[u8] = b"pollchat-bench";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// pollchat, `mesg` dialect (docs/PROTOCOLS.md section 1).
    Mesg,
    /// Redis, RESP3 pub/sub.
    Redis,
}

/// One thing a server said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incoming<'a> {
    /// A message for us; the payload as it was sent. For `mesg` also the
    /// sender's name (`dm` answers it).
    Delivery { from: &'a [u8], payload: &'a [u8] },
    /// Our login is done: registered (`mesg`), subscribed (Redis).
    Ready,
    /// An answer we expect and need not act on (Redis's count of
    /// subscribers reached, its HELLO map).
    Ack,
    /// Something else. Harmless to the run but worth showing.
    Unexpected(&'a [u8]),
    /// The server refused us; the run cannot go on.
    Refused(&'a [u8]),
}

/// The user name of client `id` (`mesg` names are letters and digits).
pub fn name(id: usize) -> String {
    format!("c{id}")
}

/// Where a `FROM <name>: ` prefix ends and the text starts, if `line`
/// starts with one.
fn from_prefix(line: &[u8]) -> Option<(&[u8], usize)> {
    let rest = line.strip_prefix(b"FROM ")?;
    // Names hold letters and digits only: the first ':' ends the name.
    let colon = rest.iter().position(|&b| b == b':')?;
    if rest.get(colon + 1) != Some(&b' ') {
        return None;
    }
    Some((&rest[..colon], 5 + colon + 2))
}

impl Wire {
    /// What a client sends to log in.
    pub fn login(self, id: usize, out: &mut Vec<u8>) {
        match self {
            Wire::Mesg => {
                let _ = write!(out, "JOIN {}\r\n", name(id));
            }
            Wire::Redis => {
                // RESP3, so that this connection may PUBLISH while it is
                // subscribed (RESP2 would need a second connection).
                resp::command(out, &[b"HELLO", b"3"]);
                resp::command(out, &[b"SUBSCRIBE", CHANNEL]);
            }
        }
    }

    /// Appends a message to everyone else carrying `stamp`.
    pub fn broadcast(self, stamp: Stamp, size: usize, out: &mut Vec<u8>) {
        match self {
            Wire::Mesg => {
                out.extend_from_slice(b"BCST ");
                payload::encode(stamp, size, out);
                out.extend_from_slice(b"\r\n");
            }
            Wire::Redis => {
                // resp::command, written out so the payload is encoded in
                // place rather than built and copied.
                let len = size.max(MIN_PAYLOAD);
                let _ = write!(
                    out,
                    "*3\r\n$7\r\nPUBLISH\r\n${}\r\n{}\r\n${len}\r\n",
                    CHANNEL.len(),
                    std::str::from_utf8(CHANNEL).unwrap_or_default()
                );
                payload::encode(stamp, size, out);
                out.extend_from_slice(b"\r\n");
            }
        }
    }

    /// Appends a direct message to client `to` (`mesg` only: MESG).
    ///
    /// The hook for `hello`: its form is `SEND <to> <text>\n`, answered by
    /// the server with `SEND-OK` once delivered, and arriving at the other
    /// end as `DELIVERY <from> <text>`. A `Wire::Hello` adds those three
    /// lines here, in [`Wire::next`] and in [`Wire::login`]
    /// (`HELLO-FROM <name>` / `HELLO <name>`), and `dm` runs unchanged.
    pub fn direct(self, to: &[u8], payload: &[u8], out: &mut Vec<u8>) {
        match self {
            Wire::Mesg => {
                out.extend_from_slice(b"MESG ");
                out.extend_from_slice(to);
                out.push(b' ');
                out.extend_from_slice(payload);
                out.extend_from_slice(b"\r\n");
            }
            Wire::Redis => {
                resp::command(out, &[b"PUBLISH", to, payload]);
            }
        }
    }

    /// The next complete thing at the start of `buf` and how many bytes it
    /// took; `Ok(None)` until one has fully arrived. `size` is the payload
    /// size in use: it lets the usual line be cut without scanning it.
    pub fn next(self, buf: &[u8], size: usize) -> Result<Option<(usize, Incoming<'_>)>, String> {
        match self {
            Wire::Mesg => Ok(next_mesg(buf, size.max(MIN_PAYLOAD))),
            Wire::Redis => next_redis(buf).map_err(|e| e.to_string()),
        }
    }
}

fn next_mesg(buf: &[u8], payload_len: usize) -> Option<(usize, Incoming<'_>)> {
    // The fast path, nearly every line of a run: `FROM <name>: <payload>`
    // with a payload of the size we send. Jump over the payload and check
    // that the line ends right after it, instead of searching for the end.
    if let Some((from, start)) = from_prefix(buf) {
        let end = start + payload_len;
        if buf.get(end..end + 2) == Some(b"\r\n") {
            let payload = &buf[start..end];
            return Some((end + 2, Incoming::Delivery { from, payload }));
        }
    }
    let lf = buf.iter().position(|&b| b == b'\n')?;
    let line = buf[..lf].strip_suffix(b"\r").unwrap_or(&buf[..lf]);
    let used = lf + 1;
    let incoming = if let Some((from, start)) = from_prefix(line) {
        Incoming::Delivery {
            from,
            payload: &line[start..],
        }
    } else if line.starts_with(b"JOIN ") && line.ends_with(b" Request Accepted") {
        Incoming::Ready
    } else if line.starts_with(b"Too Many Users")
        || line.starts_with(b"User Already Registered")
        || line.starts_with(b"Invalid Username")
    {
        Incoming::Refused(line)
    } else {
        Incoming::Unexpected(line)
    };
    Some((used, incoming))
}

/// How every message on our channel starts, up to its payload length:
/// `>3 message pollchat-bench $<len>`, as RESP3 pushes it.
const PUSH_PREFIX: &[u8] = b">3\r\n$7\r\nmessage\r\n$14\r\npollchat-bench\r\n$";

/// The fast path, nearly every reply of a run: a push on our channel with
/// a short payload. Matching its constant start and reading the length
/// directly costs a fraction of the general parser's work.
fn next_push(buf: &[u8]) -> Option<(usize, Incoming<'_>)> {
    let rest = buf.strip_prefix(PUSH_PREFIX)?;
    let mut len = 0usize;
    let mut digits = 0;
    while let Some(&d) = rest.get(digits).filter(|d| d.is_ascii_digit()) {
        len = len.checked_mul(10)?.checked_add(usize::from(d - b'0'))?;
        digits += 1;
    }
    let start = digits + 2;
    if digits == 0 || rest.get(digits..start)? != b"\r\n" {
        return None;
    }
    let end = start.checked_add(len)?;
    if rest.get(end..end + 2)? != b"\r\n" {
        return None;
    }
    let payload = &rest[start..end];
    let used = PUSH_PREFIX.len() + end + 2;
    Some((used, Incoming::Delivery { from: b"", payload }))
}

fn next_redis(buf: &[u8]) -> Result<Option<(usize, Incoming<'_>)>, resp::RespError> {
    if let Some(found) = next_push(buf) {
        return Ok(Some(found));
    }
    let Some((used, reply)) = resp::parse(buf)? else {
        return Ok(None);
    };
    let incoming = match reply {
        Reply::Array {
            len: 3,
            items: [Item::Bulk(b"message"), Item::Bulk(_), Item::Bulk(payload)],
        } => Incoming::Delivery { from: b"", payload },
        Reply::Array {
            len: 3,
            items: [Item::Bulk(b"subscribe"), ..],
        } => Incoming::Ready,
        // PUBLISH's count of receivers, HELLO's map of server facts.
        Reply::Int(_) | Reply::Other => Incoming::Ack,
        Reply::Error(text) => Incoming::Refused(text),
        Reply::Simple(text) => Incoming::Unexpected(text),
        Reply::Array { .. } => Incoming::Unexpected(b"(an array)"),
    };
    Ok(Some((used, incoming)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp() -> Stamp {
        Stamp {
            sender: 3,
            seq: 9,
            sent_ns: 1234,
        }
    }

    #[test]
    fn a_mesg_broadcast_comes_back_as_a_from_line() {
        let mut sent = Vec::new();
        Wire::Mesg.broadcast(stamp(), 64, &mut sent);
        let payload = &sent[5..sent.len() - 2];
        // What the server makes of it for the others.
        let mut line = b"FROM c3: ".to_vec();
        line.extend_from_slice(payload);
        line.extend_from_slice(b"\r\nPONG\r\n");
        let (used, got) = Wire::Mesg.next(&line, 64).unwrap().unwrap();
        assert_eq!(
            got,
            Incoming::Delivery {
                from: b"c3",
                payload
            }
        );
        assert_eq!(payload::decode(payload), Some(stamp()));
        // A payload of another size takes the slow path, same answer.
        assert_eq!(Wire::Mesg.next(&line, 40).unwrap().unwrap().0, used);
        let rest = &line[used..];
        assert_eq!(
            Wire::Mesg.next(rest, 64).unwrap(),
            Some((6, Incoming::Unexpected(b"PONG")))
        );
    }

    #[test]
    fn mesg_replies_to_join() {
        let next = |s: &'static [u8]| Wire::Mesg.next(s, 64).unwrap().map(|(_, i)| i);
        assert_eq!(next(b"JOIN c1 Request Accepted\r\n"), Some(Incoming::Ready));
        assert!(matches!(
            next(b"Too Many Users. Disconnecting User.\r\n"),
            Some(Incoming::Refused(_))
        ));
        assert_eq!(next(b"JOIN c1 Request Acc"), None);
    }

    #[test]
    fn a_redis_publish_is_delivered_as_a_push() {
        let mut sent = Vec::new();
        Wire::Redis.broadcast(stamp(), 64, &mut sent);
        // The command parses as RESP and carries the payload whole.
        let (used, reply) = resp::parse(&sent).unwrap().unwrap();
        assert_eq!(used, sent.len());
        let Reply::Array {
            len: 3,
            items: [Item::Bulk(b"PUBLISH"), Item::Bulk(CHANNEL), Item::Bulk(payload)],
        } = reply
        else {
            panic!("{reply:?}")
        };
        let mut push = b">3\r\n$7\r\nmessage\r\n$14\r\npollchat-bench\r\n$64\r\n".to_vec();
        push.extend_from_slice(payload);
        push.extend_from_slice(b"\r\n");
        let (_, got) = Wire::Redis.next(&push, 64).unwrap().unwrap();
        assert_eq!(got, Incoming::Delivery { from: b"", payload });
        // The fast path took it; the general parser agrees.
        assert!(next_push(&push).is_some());
        assert_eq!(
            next_redis(&push[..push.len() - 1]).unwrap(),
            None,
            "a push without its last byte waits"
        );
        let mut prefix = b">3\r\n$7\r\nmessage\r\n".to_vec();
        prefix.extend_from_slice(format!("${}\r\n", CHANNEL.len()).as_bytes());
        prefix.extend_from_slice(CHANNEL);
        prefix.extend_from_slice(b"\r\n$");
        assert_eq!(PUSH_PREFIX, &prefix[..]);
        let subscribed = b">3\r\n$9\r\nsubscribe\r\n$14\r\npollchat-bench\r\n:1\r\n";
        let (_, got) = Wire::Redis.next(subscribed, 64).unwrap().unwrap();
        assert_eq!(got, Incoming::Ready);
    }
}
