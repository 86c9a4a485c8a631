//! Text that one user chose and another user (or the log) sees: how it is
//! split, checked and made harmless, in one place for every dialect.
//!
//! Three tools:
//!
//! * **The relay sanitiser** ([`sanitize`], [`push_relayed`],
//!   [`push_relayed_telnet`], [`relayed_str`]). Every dialect renders
//!   peer-chosen text through it, so no user can end another user's line
//!   early (CR, LF), blind a telnet session (`IAC SB`), or drive a
//!   terminal (ESC, OSC, BEL, NUL, C1 controls). Every C0 control but TAB
//!   (0x00–0x08, 0x0A–0x1F), DEL (0x7F), and each byte of a UTF-8-encoded
//!   C1 control (C2 80 … C2 9F) becomes one space, so the length never
//!   changes and it works in place, inside a fixed-width frame too. Every
//!   other byte is kept, bytes that are not UTF-8 included: `channels`
//!   relays those as they are. For telnet users 0xFF is also doubled
//!   (`IAC IAC`, RFC 854), or their telnet would take it for a command.
//! * **Status-line escaping** ([`shown`]): peer-chosen text in a log line
//!   is cut at [`MAX_SHOWN`] characters (then `...`) with control
//!   characters and bytes that are not UTF-8 escaped (`\n`, `\x1b`,
//!   `\u{9b}`, `\xff`; a backslash is `\\`), so nobody can forge a status
//!   line or fill the log with one name.
//! * **Name rules**, the same wherever a name is shown. Names are shared
//!   by every dialect (a `channels` user appears in `hello`'s
//!   comma-separated `LIST-OK` and in `<name> has joined` notices), so a
//!   name must be safe in all of them: no space, comma or control
//!   character, nothing invisible or confusable.
//!   - `mesg`, `hello`: 1 to 32 ASCII letters and digits ([`is_plain_name`]).
//!   - `sendto`: 1 to 20 ASCII letters, digits, `-`, `_`, `.`
//!     ([`is_sendto_name`]); the assignment allows any non-whitespace, we
//!     narrow it so the name is safe everywhere.
//!   - `channels` users: the same characters, 1 to 32 of them
//!     ([`is_channels_name`]).
//!   - channel names: 1 or more printable ASCII characters, 0x20–0x7E
//!     ([`is_channel_name`]); interior spaces are allowed (`/join 168 tas`).

use std::borrow::Cow;
use std::fmt;

/// Splits at the first space: `("MESG", Some("bob hi"))`, `("LIST", None)`.
pub fn split_word(line: &[u8]) -> (&[u8], Option<&[u8]>) {
    split_word_by(line, |&b| b == b' ')
}

/// A direct message's `<name> <text>`: split at the first space, both
/// parts non-empty, or `None` (mesg's MESG and hello's SEND share it).
pub fn name_and_text(body: &[u8]) -> Option<(&[u8], &[u8])> {
    match split_word(body) {
        (to, Some(text)) if !to.is_empty() && !text.is_empty() => Some((to, text)),
        _ => None,
    }
}

/// Splits at the first byte for which `is_sep` holds; the separator itself
/// is in neither part.
pub fn split_word_by(line: &[u8], is_sep: impl Fn(&u8) -> bool) -> (&[u8], Option<&[u8]>) {
    match line.iter().position(is_sep) {
        Some(i) => (&line[..i], Some(&line[i + 1..])),
        None => (line, None),
    }
}

// ----- the relay sanitiser ---------------------------------------------------

const IAC: u8 = 0xFF;

/// A C0 control other than TAB, or DEL: never relayed.
fn is_c0_or_del(b: u8) -> bool {
    (b < 0x20 && b != b'\t') || b == 0x7F
}

/// Where the first byte that may need changing is: a C0 control, DEL, or
/// the lead byte of a possible C1 control. A quick scan, so clean text
/// costs one pass and nothing else.
fn first_suspect(text: &[u8]) -> Option<usize> {
    text.iter().position(|&b| is_c0_or_del(b) || b == 0xC2)
}

/// Makes `buf` safe to show another user, in place: see the module
/// documentation for which bytes become spaces. The length never changes.
pub fn sanitize(buf: &mut [u8]) {
    let Some(mut i) = first_suspect(buf) else {
        return;
    };
    while i < buf.len() {
        let b = buf[i];
        if is_c0_or_del(b) {
            buf[i] = b' ';
        } else if b == 0xC2 && matches!(buf.get(i + 1), Some(0x80..=0x9F)) {
            // A C1 control (CSI is C2 9B): both bytes go, one space each.
            buf[i] = b' ';
            buf[i + 1] = b' ';
            i += 1;
        }
        i += 1;
    }
}

/// Appends `text` to `out`, sanitised.
pub fn push_relayed(out: &mut Vec<u8>, text: &[u8]) {
    let start = out.len();
    out.extend_from_slice(text);
    sanitize(&mut out[start..]);
}

/// Appends `text` to `out` for a telnet user: sanitised, with each 0xFF
/// doubled so telnet reads it as data, not as the start of a command.
pub fn push_relayed_telnet(out: &mut Vec<u8>, text: &[u8]) {
    // No 0xFF (nearly always): one part, one copy.
    let mut parts = text.split(|&b| b == IAC);
    if let Some(first) = parts.next() {
        push_relayed(out, first);
    }
    // 0xFF is never part of a C1 control, so splitting there cannot hide
    // one from the sanitiser.
    for part in parts {
        out.extend_from_slice(&[IAC, IAC]);
        push_relayed(out, part);
    }
}

/// `text` sanitised, still a string: every byte changed is a whole
/// character (ASCII, or a two-byte C1 control), so UTF-8 stays valid.
pub fn relayed_str(text: &str) -> Cow<'_, str> {
    if first_suspect(text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    let mut bytes = text.as_bytes().to_vec();
    sanitize(&mut bytes);
    match String::from_utf8(bytes) {
        Ok(clean) => Cow::Owned(clean),
        // Cannot happen (see above); lossy rather than a panic.
        Err(e) => Cow::Owned(String::from_utf8_lossy(e.as_bytes()).into_owned()),
    }
}

// ----- status lines ------------------------------------------------------------

pub use crate::limits::MAX_SHOWN;

/// Peer-chosen text as a status line shows it: see [`shown`].
#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    text: &'a [u8],
    /// Characters shown at most before `...`.
    max: usize,
}

/// `text` for a status line: at most [`MAX_SHOWN`] characters, then `...`;
/// control characters and bytes that are not UTF-8 escaped. Formats
/// straight into the log line, without allocating.
pub fn shown(text: &[u8]) -> Shown<'_> {
    Shown {
        text,
        max: MAX_SHOWN,
    }
}

/// `text` escaped as [`shown`] does, but never cut: for a whole log line.
pub fn escaped(text: &[u8]) -> Shown<'_> {
    Shown {
        text,
        max: usize::MAX,
    }
}

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut left = self.max;
        for chunk in self.text.utf8_chunks() {
            let valid = chunk.valid();
            // Runs of characters that need no escape are written whole.
            let mut run = 0;
            for (i, c) in valid.char_indices() {
                if left == 0 {
                    f.write_str(&valid[run..i])?;
                    return f.write_str("...");
                }
                left -= 1;
                if !c.is_control() && c != '\\' {
                    continue;
                }
                f.write_str(&valid[run..i])?;
                run = i + c.len_utf8();
                match c {
                    '\n' => f.write_str("\\n")?,
                    '\r' => f.write_str("\\r")?,
                    '\t' => f.write_str("\\t")?,
                    '\\' => f.write_str("\\\\")?,
                    c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
                    c => write!(f, "\\u{{{:x}}}", c as u32)?,
                }
            }
            f.write_str(&valid[run..])?;
            for &b in chunk.invalid() {
                if left == 0 {
                    return f.write_str("...");
                }
                left -= 1;
                write!(f, "\\x{b:02x}")?;
            }
        }
        Ok(())
    }
}

// ----- names -------------------------------------------------------------------

/// Longest `mesg` or `hello` name, and longest `channels` user name.
pub const MAX_NAME: usize = crate::limits::MAX_NAME;

/// Longest `sendto` name, in bytes.
pub const MAX_SENDTO_NAME: usize = crate::limits::SENDTO_MAX_NAME;

/// `mesg` and `hello`: 1 to 32 ASCII letters and digits, case-sensitive.
pub fn is_plain_name(name: &[u8]) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && name.iter().all(u8::is_ascii_alphanumeric)
}

/// A letter, a digit, `-`, `_` or `.`: visible, unambiguous, and neither
/// a separator in any dialect's listing nor a word break in a notice.
fn is_name_byte(b: &u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')
}

/// `sendto`: 1 to 20 bytes of ASCII letters, digits, `-`, `_`, `.`.
pub fn is_sendto_name(name: &[u8]) -> bool {
    (1..=MAX_SENDTO_NAME).contains(&name.len()) && name.iter().all(is_name_byte)
}

/// `channels` users: 1 to 32 bytes of ASCII letters, digits, `-`, `_`, `.`.
pub fn is_channels_name(name: &[u8]) -> bool {
    (1..=MAX_NAME).contains(&name.len()) && name.iter().all(is_name_byte)
}

/// Whether `text` holds a control character of any kind: C0 (TAB
/// included), DEL, or a UTF-8-encoded C1.
pub fn has_control(text: &[u8]) -> bool {
    text.iter().any(|&b| b < 0x20 || b == 0x7F)
        || text
            .windows(2)
            .any(|w| w[0] == 0xC2 && (0x80..=0x9F).contains(&w[1]))
}

/// A channel name: printable ASCII (spaces included), not empty. `/list`
/// joins names with `\n` and notices print them, so nothing else is safe.
pub fn is_channel_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| (0x20..=0x7E).contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn relayed(text: &[u8]) -> Vec<u8> {
        let mut out = b"x".to_vec();
        push_relayed(&mut out, text);
        out.split_off(1)
    }

    fn telnet(text: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        push_relayed_telnet(&mut out, text);
        out
    }

    #[test]
    fn split_word_splits_at_the_first_separator() {
        assert_eq!(
            split_word(b"MESG bob hi"),
            (&b"MESG"[..], Some(&b"bob hi"[..]))
        );
        assert_eq!(split_word(b"LIST"), (&b"LIST"[..], None));
        assert_eq!(split_word(b"x "), (&b"x"[..], Some(&b""[..])));
        assert_eq!(split_word(b"a\tb c"), (&b"a\tb"[..], Some(&b"c"[..])));
        let tab = split_word_by(b"a\tb c", u8::is_ascii_whitespace);
        assert_eq!(tab, (&b"a"[..], Some(&b"b c"[..])));
    }

    #[test]
    fn controls_become_one_space_each_and_tab_stays() {
        assert_eq!(relayed(b"a\r\nb"), b"a  b");
        assert_eq!(relayed(b"\x1b]0;t\x07\x1b[2K\x00\x7f"), b" ]0;t  [2K  ");
        assert_eq!(relayed(b"a\tb"), b"a\tb");
        // C1 controls, UTF-8 encoded: CSI (C2 9B), NEL (C2 85).
        assert_eq!(relayed("a\u{9b}2Jb\u{85}".as_bytes()), b"a  2Jb  ");
    }

    #[test]
    fn everything_else_is_kept_byte_for_byte() {
        assert_eq!(relayed(b"caf\xe9 \xff\xfe ok"), b"caf\xe9 \xff\xfe ok");
        assert_eq!(
            relayed("zoë ¡ \u{a0}".as_bytes()),
            "zoë ¡ \u{a0}".as_bytes()
        );
        // A lone C2, or C2 before a byte that does not make a C1 control.
        assert_eq!(relayed(b"\xc2"), b"\xc2");
        assert_eq!(relayed(b"\xc2\xa0\xc2\x7f"), b"\xc2\xa0\xc2 ");
        // A C1 byte without its lead is not UTF-8: kept, like any such byte.
        assert_eq!(relayed(b"\x9b"), b"\x9b");
    }

    #[test]
    fn telnet_doubles_iac() {
        assert_eq!(telnet(b"\xff\xfa\x18"), b"\xff\xff\xfa ");
        assert_eq!(telnet(b"a\xffb\xff"), b"a\xff\xffb\xff\xff");
        assert_eq!(telnet(b"\xff\r\n"), b"\xff\xff  ");
        assert_eq!(telnet(b"plain"), b"plain");
    }

    #[test]
    fn strings_stay_strings() {
        assert!(matches!(relayed_str("hi there"), Cow::Borrowed("hi there")));
        assert_eq!(relayed_str("héllo\nwörld\u{9b}"), "héllo wörld  ");
        assert_eq!(relayed_str("a\tb"), "a\tb");
    }

    #[test]
    fn shown_escapes_and_cuts() {
        assert_eq!(shown("al\x1b[2J".as_bytes()).to_string(), "al\\x1b[2J");
        assert_eq!(shown(b"a\nb\rc\td\\e").to_string(), "a\\nb\\rc\\td\\\\e");
        assert_eq!(shown(b"caf\xe9 \xff").to_string(), "caf\\xe9 \\xff");
        assert_eq!(shown("zoë\u{9b}".as_bytes()).to_string(), "zoë\\u{9b}");
        assert_eq!(shown(b"").to_string(), "");
        let long = "x".repeat(100);
        assert_eq!(
            shown(long.as_bytes()).to_string(),
            format!("{}...", "x".repeat(MAX_SHOWN))
        );
        let exact = "é".repeat(MAX_SHOWN);
        assert_eq!(shown(exact.as_bytes()).to_string(), exact);
        let over = format!("{exact}\u{7f}");
        assert_eq!(shown(over.as_bytes()).to_string(), format!("{exact}..."));
        // Characters, not bytes, are counted: escapes and bad bytes too.
        assert_eq!(escaped(long.as_bytes()).to_string(), long);
        assert_eq!(escaped(b"a\nb").to_string(), "a\\nb");
        let bad = [0xffu8; 50];
        assert_eq!(
            shown(&bad).to_string(),
            format!("{}...", "\\xff".repeat(MAX_SHOWN))
        );
    }

    #[test]
    fn name_rules() {
        assert!(is_plain_name(b"alice9") && is_plain_name(&[b'Z'; 32]));
        for bad in [
            &b""[..],
            b"a-b",
            b"a b",
            b"a,b",
            "zoë".as_bytes(),
            &[b'a'; 33],
        ] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
        assert!(is_sendto_name(b"a-b.c_d") && is_sendto_name(&[b'x'; 20]));
        assert!(is_channels_name(b"a-b.c_d") && is_channels_name(&[b'x'; 32]));
        assert!(!is_sendto_name(&[b'x'; 21]) && !is_channels_name(&[b'x'; 33]));
        for bad in [
            &b""[..],
            b"Ana Lu",
            b"a,b",
            b"a!",
            b"/list",
            b"a\tb",
            b"a\x1b",
            "zoë".as_bytes(),
            "a\u{a0}b".as_bytes(),
        ] {
            assert!(!is_sendto_name(bad) && !is_channels_name(bad), "{bad:?}");
        }
        assert!(has_control(b"a\tb") && has_control(b"\x7f") && has_control(b"a\xc2\x9b"));
        assert!(!has_control(b"caf\xe9 \xc2\xa0 \xff"));
        assert!(is_channel_name(b"168 tas") && is_channel_name(b" ~!"));
        for bad in [
            &b""[..],
            b"a\nb",
            b"a\tb",
            b"\x7f",
            b"caf\xe9",
            "zoë".as_bytes(),
        ] {
            assert!(!is_channel_name(bad), "{bad:?}");
        }
    }

    proptest! {
        /// The sanitiser keeps the length, leaves nothing it would change
        /// again, and changes no byte that is not part of a control.
        #[test]
        fn sanitised_text_is_clean_and_as_long(text in proptest::collection::vec(any::<u8>(), 0..64)) {
            let out = relayed(&text);
            prop_assert_eq!(out.len(), text.len());
            prop_assert_eq!(&relayed(&out), &out, "sanitising twice changes nothing");
            prop_assert!(!out.iter().any(|&b| is_c0_or_del(b)));
            prop_assert!(!out.windows(2).any(|w| w[0] == 0xC2 && (0x80..=0x9F).contains(&w[1])));
            for (a, b) in text.iter().zip(&out) {
                prop_assert!(a == b || *b == b' ');
            }
        }

        /// Telnet output, read back by a telnet filter, is the sanitised text.
        #[test]
        fn telnet_output_reads_back(text in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut wire = telnet(&text);
            let mut reply = Vec::new();
            let n = crate::framing::telnet::TelnetFilter::new().filter(&mut wire, &mut reply);
            prop_assert_eq!(&wire[..n], &relayed(&text)[..]);
            prop_assert!(reply.is_empty());
        }

        /// A status line never holds a control character, whatever the text.
        #[test]
        fn shown_never_has_a_control(text in proptest::collection::vec(any::<u8>(), 0..64)) {
            let line = shown(&text).to_string();
            prop_assert!(!line.chars().any(char::is_control));
        }
    }
}
