//! The fixed-width framer: frames do not depend on split points.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollchat::framing::fixed::FixedFramer;
use pollchat::framing::split_all;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = split_all(&mut FixedFramer::new(200), input, &[]);
    assert_eq!(whole.len(), input.len() / 200);
    let cuts: Vec<usize> = (0..input.len()).step_by(usize::from(cut) + 1).collect();
    assert_eq!(split_all(&mut FixedFramer::new(200), input, &cuts), whole);
});
