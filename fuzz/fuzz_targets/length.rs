//! The length-prefix framer and the sendto packet decoder: no panic, frames
//! do not depend on split points, and what decodes re-encodes the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollchat::framing::length::LengthFramer;
use pollchat::framing::split_all;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = split_all(&mut LengthFramer::new(1000), input, &[]);
    let cuts: Vec<usize> = (0..input.len()).step_by(usize::from(cut) + 1).collect();
    let split = split_all(&mut LengthFramer::new(1000), input, &cuts);
    // After a too-long header the framer stops (the server hangs up), so
    // compare up to and including the first TooLong.
    let upto = |frames: &[Option<Vec<u8>>]| {
        let end = frames
            .iter()
            .position(Option::is_none)
            .map_or(frames.len(), |i| i + 1);
        frames[..end].to_vec()
    };
    assert_eq!(upto(&split), upto(&whole));
    for frame in whole.iter().flatten() {
        assert!(frame.len() <= 1000 + 5);
    }
});
