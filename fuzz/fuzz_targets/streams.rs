//! Arbitrary byte streams from several connections of every dialect,
//! through the dialects and the hub (`pollchat::sim`): no panic, the hub's
//! invariants hold, limits are respected, kept partial frames are bounded.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pollchat::dialect::Protocol;
use pollchat::sim::Sim;

fuzz_target!(|data: &[u8]| {
    // First bytes: how many connections and their dialects; then chunks,
    // each a header byte (connection, length, hang-up) and its bytes.
    let Some((&n, mut rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 6) + 1;
    if rest.len() < n {
        return;
    }
    let mut sim = Sim::new();
    let conns: Vec<usize> = rest[..n]
        .iter()
        .map(|&p| sim.connect(Protocol::ALL[usize::from(p) % Protocol::ALL.len()], 3))
        .collect();
    rest = &rest[n..];
    while let Some((&head, tail)) = rest.split_first() {
        let conn = conns[usize::from(head) % n];
        let len = (usize::from(head >> 3) * 13).min(tail.len());
        sim.feed(conn, &tail[..len]);
        if head & 0x80 != 0 && len % 5 == 0 {
            sim.close(conn);
        }
        sim.hub().check_invariants();
        assert!(sim.hub().registered() <= 3);
        rest = &tail[len..];
    }
    assert!(sim.max_partial <= 70_005 + 13 * 31);
});
