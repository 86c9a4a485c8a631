//! Telnet's in-band commands (RFC 854), removed before line framing.
//!
//! A telnet client mixes commands into the data: `IAC` (0xFF) starts one.
//! Most are two bytes (`IAC IP` when the user presses Ctrl-C); option
//! negotiation is three (`IAC DO x`, `IAC WILL x`, ...); subnegotiation runs
//! from `IAC SB` to `IAC SE`; `IAC IAC` is a literal 0xFF byte.
//!
//! We support no options, so we refuse every offer: `DO x` is answered
//! `WONT x` and `WILL x` with `DONT x`. That matters for Ctrl-C: after
//! `IAC IP` telnet sends `IAC DO TIMING-MARK` and throws away everything the
//! server sends until the timing mark is answered. A server that ignores the
//! `DO` looks hung from then on. `WONT`/`DONT` need no answer (we are in that
//! state already; answering could loop, RFC 854 "rules of negotiation").
//!
//! A bare carriage return is sent as `CR NUL` (RFC 854); the NUL is dropped
//! here so it cannot start the next line.

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WONT: u8 = 252;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum State {
    #[default]
    Data,
    /// The previous data byte was CR: a NUL now is padding.
    Cr,
    /// Seen IAC.
    Iac,
    /// Seen IAC and one of WILL/WONT/DO/DONT: the option byte comes next.
    Negotiate(u8),
    /// Inside IAC SB ... : skipped up to IAC SE.
    Sub,
    SubIac,
}

/// Strips telnet commands from a byte stream, carrying its state across
/// reads so a command split between two reads is still recognised.
#[derive(Debug, Clone, Default)]
pub struct TelnetFilter {
    state: State,
}

impl TelnetFilter {
    pub fn new() -> TelnetFilter {
        TelnetFilter::default()
    }

    /// Removes commands from `buf` in place and returns the length of the
    /// data that is left; answers to option offers are appended to `reply`.
    pub fn filter(&mut self, buf: &mut [u8], reply: &mut Vec<u8>) -> usize {
        // Nearly all input is plain text: skip the byte loop when there is
        // nothing to remove.
        if self.state == State::Data && !buf.iter().any(|&b| b == IAC || b == 0) {
            if buf.last() == Some(&b'\r') {
                self.state = State::Cr;
            }
            return buf.len();
        }
        let mut out = 0;
        for i in 0..buf.len() {
            let b = buf[i];
            self.state = match (self.state, b) {
                (State::Cr, 0) => State::Data,
                (State::Data | State::Cr, IAC) => State::Iac,
                (State::Data | State::Cr, _) => {
                    buf[out] = b;
                    out += 1;
                    if b == b'\r' {
                        State::Cr
                    } else {
                        State::Data
                    }
                }
                (State::Iac, IAC) => {
                    buf[out] = IAC;
                    out += 1;
                    State::Data
                }
                (State::Iac, WILL | WONT | DO | DONT) => State::Negotiate(b),
                (State::Iac, SB) => State::Sub,
                // Any other command (IP, AYT, NOP, GA, ...) is two bytes.
                (State::Iac, _) => State::Data,
                (State::Negotiate(verb), option) => {
                    match verb {
                        DO => reply.extend_from_slice(&[IAC, WONT, option]),
                        WILL => reply.extend_from_slice(&[IAC, DONT, option]),
                        _ => {}
                    }
                    State::Data
                }
                (State::Sub, IAC) => State::SubIac,
                (State::Sub, _) => State::Sub,
                (State::SubIac, SE) => State::Data,
                (State::SubIac, _) => State::Sub,
            };
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(pieces: &[&[u8]]) -> (Vec<u8>, Vec<u8>) {
        let mut f = TelnetFilter::new();
        let (mut data, mut reply) = (Vec::new(), Vec::new());
        for piece in pieces {
            let mut buf = piece.to_vec();
            let n = f.filter(&mut buf, &mut reply);
            data.extend_from_slice(&buf[..n]);
        }
        (data, reply)
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(
            run(&[b"JOIN alice\r\n"]),
            (b"JOIN alice\r\n".to_vec(), vec![])
        );
    }

    #[test]
    fn offers_are_refused_and_removed() {
        let (data, reply) = run(&[&[IAC, DO, 1, b'h', b'i', IAC, WILL, 31, b'!']]);
        assert_eq!(data, b"hi!");
        assert_eq!(reply, vec![IAC, WONT, 1, IAC, DONT, 31]);
    }

    #[test]
    fn ctrl_c_then_timing_mark_is_answered() {
        // What inetutils telnet sends for Ctrl-C: IAC IP, IAC DO TIMING-MARK.
        let (data, reply) = run(&[&[IAC, 244, IAC, DO, 6]]);
        assert!(data.is_empty());
        assert_eq!(reply, vec![IAC, WONT, 6]);
    }

    #[test]
    fn refusals_get_no_answer() {
        assert_eq!(run(&[&[IAC, WONT, 1, IAC, DONT, 3]]), (vec![], vec![]));
    }

    #[test]
    fn iac_iac_is_a_literal_ff_and_subnegotiation_is_skipped() {
        let (data, _) = run(&[&[b'a', IAC, IAC, b'b', IAC, SB, 24, 0, b'x', IAC, SE, b'c']]);
        assert_eq!(data, vec![b'a', 0xFF, b'b', b'c']);
    }

    #[test]
    fn cr_nul_is_a_bare_cr() {
        assert_eq!(run(&[b"a\r", &[0], b"b"]).0, b"a\rb");
        assert_eq!(run(&[b"a\r\0b"]).0, b"a\rb");
    }

    #[test]
    fn a_command_split_across_reads_is_still_recognised() {
        let (data, reply) = run(&[b"x", &[IAC], &[DO], &[1], b"y"]);
        assert_eq!(data, b"xy");
        assert_eq!(reply, vec![IAC, WONT, 1]);
    }

    proptest! {
        #[test]
        fn output_does_not_depend_on_split_points(
            input in proptest::collection::vec(
                prop_oneof![Just(IAC), Just(DO), Just(WILL), Just(SB), Just(SE), Just(0u8), Just(b'\r'), any::<u8>()], 0..100),
            cut in 0usize..100,
        ) {
            let cut = cut.min(input.len());
            let whole = run(&[&input]);
            prop_assert_eq!(run(&[&input[..cut], &input[cut..]]), whole.clone());
            let bytes: Vec<&[u8]> = input.chunks(1).collect();
            prop_assert_eq!(run(&bytes), whole.clone());
            prop_assert!(whole.0.len() <= input.len());
        }
    }
}
