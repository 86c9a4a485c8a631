//! Arbitrary byte streams from several connections of every dialect,
//! through the relay the server runs (`pollchat::sim` drives it with fake
//! sockets and a fake clock): no panic, the hub's invariants hold, limits
//! are respected, kept input is bounded.
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
    let mut sim = Sim::with_max_users(3);
    let conns: Vec<usize> = rest[..n]
        .iter()
        .map(|&p| sim.connect(Protocol::ALL[usize::from(p) % Protocol::ALL.len()]))
        .collect();
    rest = &rest[n..];
    while let Some((&head, tail)) = rest.split_first() {
        let conn = conns[usize::from(head) % n];
        let len = (usize::from(head >> 3) * 13).min(tail.len());
        sim.feed(conn, &tail[..len]);
        if head & 0x80 != 0 && len % 5 == 0 {
            sim.close(conn);
        }
        // Readers that stop and start again, and time passing: receipts,
        // back-pressure, stalls and timeouts, through the real relay.
        if head & 0x40 != 0 {
            sim.set_room(conn, if len % 2 == 0 { 0 } else { usize::MAX });
        }
        if len % 7 == 3 {
            sim.advance(std::time::Duration::from_secs(1));
        }
        sim.hub().check_invariants();
        assert!(sim.hub().registered() <= 3);
        rest = &tail[len..];
    }
    // The largest frame is a miniserv line and its CR.
    let largest = pollchat::limits::MINISERV_MAX_LINE + 1;
    assert!(sim.max_partial <= largest + pollchat::limits::READ_CHUNK);
});
