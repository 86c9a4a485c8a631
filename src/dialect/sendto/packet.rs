//! The `sendto` packets, byte for byte (docs/PROTOCOLS.md section 4): encoding and
//! decoding, with no sockets and no hub, shared by the server dialect and
//! the client front end so both sides read the layout from one place.
//!
//! ```text
//! packet: type (1 byte) | length (u32 BE) | body (`length` bytes)
//! string: byte count (u16 BE) | UTF-8 bytes
//! ```
//!
//! Decoding takes one whole packet, header included (what
//! [`crate::framing::length::LengthFramer`] yields), and either returns
//! every field or says exactly what is wrong. Strings are borrowed from the
//! packet, never copied.

use crate::framing::length::{Header, HEADER_LEN};
use std::fmt;

/// Client → server packet types.
pub const LOGIN: u8 = 0x01;
pub const LIST: u8 = 0x02;
pub const SENDTO: u8 = 0x03;
pub const LOGOUT: u8 = 0x04;
/// Server → client packet types: the answer to LIST, the answer to
/// everything else, and a message from another user.
pub const SERVER_LIST: u8 = 0x81;
pub const SERVER_RESPONSE: u8 = 0x82;
pub const SERVER_SENDTO: u8 = 0x83;

/// Longest user name, in bytes.
pub const MAX_NAME: usize = crate::limits::SENDTO_MAX_NAME;

/// Longest string of any kind: what a u16 byte count can say. Also the
/// seed's limit on a message's text ("more than 65535 characters").
pub const MAX_STRING: usize = u16::MAX as usize;

/// Longest body the server accepts.
pub const MAX_BODY: usize = crate::limits::SENDTO_MAX_BODY;

/// Whether `name` may be logged in with: 1 to 20 bytes of ASCII letters,
/// digits, `-`, `_` and `.`. The assignment allows any non-whitespace; we
/// narrow it because names are shown to every dialect's users, where a
/// comma, a control character or an invisible one would break a listing
/// or forge a line (crate::text).
pub fn valid_name(name: &str) -> bool {
    crate::text::is_sendto_name(name.as_bytes())
}

/// What a packet type is called in docs/PROTOCOLS.md, for status lines.
pub fn type_name(kind: u8) -> &'static str {
    match kind {
        LOGIN => "LOGIN",
        LIST | SERVER_LIST => "LIST",
        SENDTO | SERVER_SENDTO => "SENDTO",
        LOGOUT => "LOGOUT",
        SERVER_RESPONSE => "RESPONSE",
        _ => "unknown",
    }
}

/// The one byte of a RESPONSE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok = 0,
    Failure = 1,
    Malformed = 2,
}

impl Status {
    pub fn from_code(code: u8) -> Option<Status> {
        match code {
            0 => Some(Status::Ok),
            1 => Some(Status::Failure),
            2 => Some(Status::Malformed),
            _ => None,
        }
    }
}

/// A packet from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientPacket<'a> {
    Login { name: &'a str },
    List,
    Sendto { to: &'a str, text: &'a str },
    Logout,
}

/// A packet from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerPacket<'a> {
    /// The logged-in users, in login order.
    List(Vec<&'a str>),
    Response(Status),
    /// A message from `from`.
    Sendto {
        from: &'a str,
        text: &'a str,
    },
}

/// Why a packet could not be decoded. Every case is answered `2` by the
/// server and skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Malformed {
    /// Fewer than the five header bytes.
    ShortHeader,
    /// Fewer body bytes than the header declares.
    ShortBody,
    /// A field (a count, a string or its length) runs past the body's end.
    PastBody,
    /// Bytes left after the last field of the type, or after the declared
    /// length.
    TrailingBytes,
    /// A string that is not UTF-8.
    InvalidUtf8,
    UnknownType(u8),
    /// A RESPONSE byte other than 0, 1 or 2.
    UnknownStatus(u8),
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::ShortHeader => f.write_str("shorter than its 5-byte header"),
            Malformed::ShortBody => f.write_str("body shorter than its declared length"),
            Malformed::PastBody => f.write_str("a field runs past the end of the body"),
            Malformed::TrailingBytes => f.write_str("bytes left over after the last field"),
            Malformed::InvalidUtf8 => f.write_str("a string is not valid UTF-8"),
            Malformed::UnknownType(kind) => write!(f, "unknown packet type {kind:#04x}"),
            Malformed::UnknownStatus(code) => write!(f, "unknown response code {code}"),
        }
    }
}

// ----- encoding -------------------------------------------------------------

/// Starts a packet of type `kind` at the end of `out`, with its length to be
/// filled in by [`end_packet`]. Returns where the packet starts.
fn begin_packet(out: &mut Vec<u8>, kind: u8) -> usize {
    let start = out.len();
    out.push(kind);
    out.extend_from_slice(&[0; 4]);
    start
}

/// Writes the body length into the header of the packet begun at `start`.
fn end_packet(out: &mut [u8], start: usize) {
    let len = out.len() - start - HEADER_LEN;
    // Every encoder below keeps its body under 4 GiB (the list stops adding
    // names before it would pass), so this never saturates.
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out[start + 1..start + HEADER_LEN].copy_from_slice(&len.to_be_bytes());
}

/// The longest prefix of `s` of at most `max` bytes that ends on a
/// character boundary, so a cut string is still UTF-8.
pub fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Appends a string field. A string longer than a u16 can count is cut to
/// fit (callers check lengths first; this keeps the packet well formed
/// whatever they pass).
fn put_str(out: &mut Vec<u8>, s: &str) {
    let s = truncate(s, MAX_STRING);
    out.extend_from_slice(&(s.len() as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends a RESPONSE packet.
pub fn put_response(out: &mut Vec<u8>, status: Status) {
    let start = begin_packet(out, SERVER_RESPONSE);
    out.push(status as u8);
    end_packet(out, start);
}

/// Appends a LIST packet straight from an iterator of names, so the server
/// builds no list of its own. A u16 counts at most 65535 names; any after
/// that are left out, as are names that would take the body past 4 GiB.
pub fn put_list<'n>(out: &mut Vec<u8>, names: impl IntoIterator<Item = &'n str>) {
    let start = begin_packet(out, SERVER_LIST);
    let count_at = out.len();
    out.extend_from_slice(&[0; 2]);
    let mut count: u16 = 0;
    for name in names {
        let name = truncate(name, MAX_STRING);
        let body = (out.len() - start - HEADER_LEN) as u64;
        if count == u16::MAX || body + 2 + name.len() as u64 > u64::from(u32::MAX) {
            break;
        }
        put_str(out, name);
        count += 1;
    }
    out[count_at..count_at + 2].copy_from_slice(&count.to_be_bytes());
    end_packet(out, start);
}

/// Appends a server SENDTO packet: a message from `from`.
pub fn put_message(out: &mut Vec<u8>, from: &str, text: &str) {
    let start = begin_packet(out, SERVER_SENDTO);
    put_str(out, from);
    put_str(out, text);
    end_packet(out, start);
}

impl ClientPacket<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let kind = match self {
            ClientPacket::Login { .. } => LOGIN,
            ClientPacket::List => LIST,
            ClientPacket::Sendto { .. } => SENDTO,
            ClientPacket::Logout => LOGOUT,
        };
        let start = begin_packet(out, kind);
        match self {
            ClientPacket::Login { name } => put_str(out, name),
            ClientPacket::Sendto { to, text } => {
                put_str(out, to);
                put_str(out, text);
            }
            ClientPacket::List | ClientPacket::Logout => {}
        }
        end_packet(out, start);
    }
}

impl ServerPacket<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ServerPacket::List(names) => put_list(out, names.iter().copied()),
            ServerPacket::Response(status) => put_response(out, *status),
            ServerPacket::Sendto { from, text } => put_message(out, from, text),
        }
    }
}

// ----- decoding -------------------------------------------------------------

/// Reads the fields of a body in order.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn bytes(&mut self, n: usize) -> Result<&'a [u8], Malformed> {
        if self.rest.len() < n {
            return Err(Malformed::PastBody);
        }
        let (field, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(field)
    }

    fn u8(&mut self) -> Result<u8, Malformed> {
        Ok(self.bytes(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, Malformed> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn str(&mut self) -> Result<&'a str, Malformed> {
        let len = self.u16()?;
        let bytes = self.bytes(usize::from(len))?;
        std::str::from_utf8(bytes).map_err(|_| Malformed::InvalidUtf8)
    }

    /// The body must end where the type's fields do.
    fn end(self) -> Result<(), Malformed> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Malformed::TrailingBytes)
        }
    }
}

/// Checks the header against the packet's size; returns the type and the
/// body's fields.
fn open(packet: &[u8]) -> Result<(u8, Fields<'_>), Malformed> {
    let header = Header::parse(packet).ok_or(Malformed::ShortHeader)?;
    let body = &packet[HEADER_LEN..];
    match (body.len() as u64).cmp(&u64::from(header.len)) {
        std::cmp::Ordering::Less => Err(Malformed::ShortBody),
        std::cmp::Ordering::Greater => Err(Malformed::TrailingBytes),
        std::cmp::Ordering::Equal => Ok((header.kind, Fields { rest: body })),
    }
}

impl<'a> ClientPacket<'a> {
    /// Decodes one whole packet from a client.
    pub fn decode(packet: &'a [u8]) -> Result<ClientPacket<'a>, Malformed> {
        let (kind, mut fields) = open(packet)?;
        let decoded = match kind {
            LOGIN => ClientPacket::Login {
                name: fields.str()?,
            },
            LIST => ClientPacket::List,
            SENDTO => ClientPacket::Sendto {
                to: fields.str()?,
                text: fields.str()?,
            },
            LOGOUT => ClientPacket::Logout,
            other => return Err(Malformed::UnknownType(other)),
        };
        fields.end()?;
        Ok(decoded)
    }
}

impl<'a> ServerPacket<'a> {
    /// Decodes one whole packet from the server.
    pub fn decode(packet: &'a [u8]) -> Result<ServerPacket<'a>, Malformed> {
        let (kind, mut fields) = open(packet)?;
        let decoded = match kind {
            SERVER_LIST => {
                let count = fields.u16()?;
                // No capacity from the count: the peer chose it. Each name
                // takes at least two bytes, which bounds it by the body.
                let mut names = Vec::new();
                for _ in 0..count {
                    names.push(fields.str()?);
                }
                ServerPacket::List(names)
            }
            SERVER_RESPONSE => {
                let code = fields.u8()?;
                let status = Status::from_code(code).ok_or(Malformed::UnknownStatus(code))?;
                ServerPacket::Response(status)
            }
            SERVER_SENDTO => ServerPacket::Sendto {
                from: fields.str()?,
                text: fields.str()?,
            },
            other => return Err(Malformed::UnknownType(other)),
        };
        fields.end()?;
        Ok(decoded)
    }
}

#[cfg(test)]
mod name_tests {
    use super::valid_name;

    #[test]
    fn names_are_short_and_without_whitespace_or_control_characters() {
        assert!(valid_name("alice") && valid_name("a-b.c") && valid_name(&"x".repeat(20)));
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\u{0}b",
            "a\u{1b}[2J",
            "a,b",
            &"x".repeat(21),
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A packet built by hand: type, then the body with its true length.
    fn raw(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![kind];
        p.extend_from_slice(&(body.len() as u32).to_be_bytes());
        p.extend_from_slice(body);
        p
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut f = (s.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(s);
        f
    }

    fn client(p: ClientPacket<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        p.encode(&mut out);
        out
    }

    fn server(p: &ServerPacket<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        p.encode(&mut out);
        out
    }

    #[test]
    fn client_packets_are_byte_exact() {
        assert_eq!(
            client(ClientPacket::Login { name: "al" }),
            [1, 0, 0, 0, 4, 0, 2, b'a', b'l']
        );
        assert_eq!(client(ClientPacket::List), [2, 0, 0, 0, 0]);
        assert_eq!(
            client(ClientPacket::Sendto {
                to: "b",
                text: "hi"
            }),
            [3, 0, 0, 0, 7, 0, 1, b'b', 0, 2, b'h', b'i']
        );
        assert_eq!(client(ClientPacket::Logout), [4, 0, 0, 0, 0]);
    }

    #[test]
    fn server_packets_are_byte_exact() {
        assert_eq!(
            server(&ServerPacket::Response(Status::Malformed)),
            [0x82, 0, 0, 0, 1, 2]
        );
        assert_eq!(
            server(&ServerPacket::List(vec!["a", "bc"])),
            [0x81, 0, 0, 0, 9, 0, 2, 0, 1, b'a', 0, 2, b'b', b'c']
        );
        assert_eq!(
            server(&ServerPacket::List(vec![])),
            [0x81, 0, 0, 0, 2, 0, 0]
        );
        assert_eq!(
            server(&ServerPacket::Sendto {
                from: "a",
                text: ""
            }),
            [0x83, 0, 0, 0, 5, 0, 1, b'a', 0, 0]
        );
    }

    #[test]
    fn every_packet_round_trips() {
        let text = "é".repeat(MAX_STRING / 2);
        for p in [
            ClientPacket::Login { name: "alice" },
            ClientPacket::List,
            ClientPacket::Sendto {
                to: "bob",
                text: &text,
            },
            ClientPacket::Logout,
        ] {
            let bytes = client(p);
            assert_eq!(ClientPacket::decode(&bytes), Ok(p));
        }
        for p in [
            ServerPacket::List(vec!["alice", "bob", "ünï"]),
            ServerPacket::Response(Status::Ok),
            ServerPacket::Response(Status::Failure),
            ServerPacket::Response(Status::Malformed),
            ServerPacket::Sendto {
                from: "alice",
                text: "hi\nthere",
            },
        ] {
            let bytes = server(&p);
            assert_eq!(ServerPacket::decode(&bytes), Ok(p));
        }
    }

    #[test]
    fn a_short_header_or_body_is_malformed() {
        assert_eq!(ClientPacket::decode(&[]), Err(Malformed::ShortHeader));
        assert_eq!(
            ClientPacket::decode(&[2, 0, 0, 0]),
            Err(Malformed::ShortHeader)
        );
        assert_eq!(
            ClientPacket::decode(&[1, 0, 0, 0, 4, 0, 2, b'a']),
            Err(Malformed::ShortBody)
        );
        assert_eq!(
            ServerPacket::decode(&[0x82, 0, 0, 0, 1]),
            Err(Malformed::ShortBody)
        );
    }

    #[test]
    fn a_string_past_the_body_is_malformed() {
        // The name claims 5 bytes; the body has 2.
        assert_eq!(
            ClientPacket::decode(&raw(LOGIN, &[0, 5, b'a', b'b'])),
            Err(Malformed::PastBody)
        );
        // Half a length prefix.
        assert_eq!(
            ClientPacket::decode(&raw(LOGIN, &[0])),
            Err(Malformed::PastBody)
        );
        // SENDTO without its text.
        assert_eq!(
            ClientPacket::decode(&raw(SENDTO, &string(b"bob"))),
            Err(Malformed::PastBody)
        );
        // LIST says two names, has one.
        let mut body = vec![0, 2];
        body.extend(string(b"a"));
        assert_eq!(
            ServerPacket::decode(&raw(SERVER_LIST, &body)),
            Err(Malformed::PastBody)
        );
        assert_eq!(
            ServerPacket::decode(&raw(SERVER_RESPONSE, &[])),
            Err(Malformed::PastBody)
        );
    }

    #[test]
    fn trailing_bytes_are_malformed() {
        assert_eq!(
            ClientPacket::decode(&raw(LIST, b"x")),
            Err(Malformed::TrailingBytes)
        );
        assert_eq!(
            ClientPacket::decode(&raw(LOGOUT, &[0, 0])),
            Err(Malformed::TrailingBytes)
        );
        let mut body = string(b"al");
        body.push(0);
        assert_eq!(
            ClientPacket::decode(&raw(LOGIN, &body)),
            Err(Malformed::TrailingBytes)
        );
        // More bytes than the header declares.
        let mut p = client(ClientPacket::List);
        p.push(0);
        assert_eq!(ClientPacket::decode(&p), Err(Malformed::TrailingBytes));
        assert_eq!(
            ServerPacket::decode(&raw(SERVER_RESPONSE, &[0, 0])),
            Err(Malformed::TrailingBytes)
        );
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        assert_eq!(
            ClientPacket::decode(&raw(LOGIN, &string(b"a\xffb"))),
            Err(Malformed::InvalidUtf8)
        );
        let mut body = string(b"bob");
        body.extend(string(b"\xc3"));
        assert_eq!(
            ClientPacket::decode(&raw(SENDTO, &body)),
            Err(Malformed::InvalidUtf8)
        );
    }

    #[test]
    fn unknown_types_and_codes_are_malformed() {
        for kind in [0x00, 0x05, 0x81, 0x82, 0x83, 0xff] {
            assert_eq!(
                ClientPacket::decode(&raw(kind, &[])),
                Err(Malformed::UnknownType(kind))
            );
        }
        for kind in [0x01, 0x02, 0x80, 0x84] {
            assert_eq!(
                ServerPacket::decode(&raw(kind, &[])),
                Err(Malformed::UnknownType(kind))
            );
        }
        assert_eq!(
            ServerPacket::decode(&raw(SERVER_RESPONSE, &[3])),
            Err(Malformed::UnknownStatus(3))
        );
    }

    #[test]
    fn names_are_1_to_20_bytes_of_letters_digits_and_three_marks() {
        for good in ["a", "John", "12345678901234567890", "a-b.c_d"] {
            assert!(valid_name(good), "{good:?}");
        }
        let long = "a".repeat(21);
        for bad in [
            "",
            "a b",
            "a\tb",
            "a\u{a0}b",
            " a",
            "a\n",
            "ünï",
            "a-b.c_d!",
            "a,b",
            "\u{202e}x",
            &long,
        ] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn strings_too_long_for_a_u16_are_cut_on_a_character_boundary() {
        // 32768 two-byte characters: 65536 bytes, one too many, and byte
        // 65535 is the middle of a character, so the cut falls before it.
        let text = "é".repeat(32768);
        let mut out = Vec::new();
        put_message(&mut out, "x", &text);
        let ServerPacket::Sendto { text: got, .. } = ServerPacket::decode(&out).unwrap() else {
            panic!("not a SENDTO");
        };
        assert_eq!(got.len(), MAX_STRING - 1);
        assert!(text.starts_with(got));
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aé", 3), "aé");
    }

    fn arb_str() -> impl Strategy<Value = String> {
        prop_oneof![".{0,30}", "[a-z]{1,20}"]
    }

    proptest! {
        #[test]
        fn any_client_packet_round_trips(
            kind in 0u8..4, a in arb_str(), b in arb_str(),
        ) {
            let p = match kind {
                0 => ClientPacket::Login { name: &a },
                1 => ClientPacket::List,
                2 => ClientPacket::Sendto { to: &a, text: &b },
                _ => ClientPacket::Logout,
            };
            let bytes = client(p);
            prop_assert_eq!(ClientPacket::decode(&bytes), Ok(p));
        }

        #[test]
        fn any_server_packet_round_trips(
            names in proptest::collection::vec(arb_str(), 0..10), a in arb_str(), b in arb_str(),
        ) {
            let list = ServerPacket::List(names.iter().map(String::as_str).collect());
            let bytes = server(&list);
            prop_assert_eq!(ServerPacket::decode(&bytes), Ok(list.clone()));
            let message = ServerPacket::Sendto { from: &a, text: &b };
            let bytes = server(&message);
            prop_assert_eq!(ServerPacket::decode(&bytes), Ok(message.clone()));
        }

        /// Garbage never panics the decoders, and whatever decodes encodes
        /// back to exactly the same bytes (there is one way to write each
        /// packet).
        #[test]
        fn garbage_is_rejected_or_reencoded_exactly(
            kind in prop_oneof![0u8..6, 0x80u8..0x85, any::<u8>()],
            body in proptest::collection::vec(any::<u8>(), 0..40),
            lie in proptest::option::of(0u32..50),
        ) {
            let mut p = vec![kind];
            p.extend_from_slice(&lie.unwrap_or(body.len() as u32).to_be_bytes());
            p.extend_from_slice(&body);
            if let Ok(decoded) = ClientPacket::decode(&p) {
                prop_assert_eq!(client(decoded), p.clone());
            }
            if let Ok(decoded) = ServerPacket::decode(&p) {
                prop_assert_eq!(server(&decoded), p.clone());
            }
        }
    }
}
