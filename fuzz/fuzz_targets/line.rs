//! The line framer behind the telnet filter: whatever the bytes and however
//! they are split, no panic, the same lines, none longer than the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollchat::framing::line::LineFramer;
use pollchat::framing::split_all;
use pollchat::framing::telnet::TelnetFilter;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let filtered = |pieces: &[&[u8]]| {
        let mut telnet = TelnetFilter::new();
        let (mut out, mut reply) = (Vec::new(), Vec::new());
        for piece in pieces {
            let mut buf = piece.to_vec();
            let n = telnet.filter(&mut buf, &mut reply);
            out.extend_from_slice(&buf[..n]);
        }
        out
    };
    let at = usize::from(cut) % (input.len() + 1);
    let text = filtered(&[input]);
    assert_eq!(filtered(&[&input[..at], &input[at..]]), text);
    let whole = split_all(&mut LineFramer::new(64), &text, &[]);
    let cuts: Vec<usize> = (0..text.len()).step_by(usize::from(cut % 7) + 1).collect();
    assert_eq!(split_all(&mut LineFramer::new(64), &text, &cuts), whole);
    for line in whole.iter().flatten() {
        assert!(!line.is_empty() && line.len() <= 64);
    }
});
