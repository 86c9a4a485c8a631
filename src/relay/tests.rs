//! The relay without sockets: receipts, pausing behind a receipt,
//! back-pressure and half-close, through the simulator (`sim.rs`), which
//! drives the relay as the event loop does.

use crate::dialect::{hello, mesg, sendto, Protocol};
use crate::sim::Sim;
use std::time::Duration;

fn login(sim: &mut Sim, protocol: &'static Protocol, line: &str) -> usize {
    let c = sim.connect(protocol);
    sim.feed(c, line.as_bytes());
    sim.clear_output(c);
    c
}

fn hello_user(sim: &mut Sim, name: &str) -> usize {
    login(sim, &hello::PROTOCOL, &format!("HELLO-FROM {name}\n"))
}

fn said(sim: &Sim, conn: usize) -> String {
    String::from_utf8_lossy(sim.output(conn)).into_owned()
}

#[test]
fn send_ok_waits_until_the_delivery_is_written() {
    let mut sim = Sim::new();
    let (alice, bob) = (hello_user(&mut sim, "alice"), hello_user(&mut sim, "bob"));
    sim.set_room(bob, 0);
    sim.feed(alice, b"SEND bob hi\n");
    assert_eq!(said(&sim, alice), "", "not written yet: no SEND-OK");
    sim.set_room(bob, usize::MAX);
    sim.settle();
    sim.turn();
    assert_eq!(said(&sim, bob), "DELIVERY alice hi\n");
    assert_eq!(said(&sim, alice), "SEND-OK\n");
}

#[test]
fn requests_behind_a_receipt_are_answered_in_their_order() {
    let mut sim = Sim::new();
    let (alice, bob) = (hello_user(&mut sim, "alice"), hello_user(&mut sim, "bob"));
    sim.set_room(bob, 0);
    sim.feed(alice, b"SEND bob first\nLIST\nSEND alice self\n");
    assert_eq!(said(&sim, alice), "", "the LIST waits behind the SEND");
    sim.set_room(bob, usize::MAX);
    for _ in 0..5 {
        sim.turn();
    }
    assert_eq!(
        said(&sim, alice),
        "SEND-OK\nLIST-OK alice,bob\nDELIVERY alice self\nSEND-OK\n"
    );
}

#[test]
fn a_recipient_that_goes_away_first_means_undelivered_and_no_send_ok() {
    let mut sim = Sim::new();
    let (alice, bob) = (hello_user(&mut sim, "alice"), hello_user(&mut sim, "bob"));
    sim.set_room(bob, 0);
    sim.feed(alice, b"SEND bob are you there?\nLIST\n");
    sim.close(bob);
    sim.turn();
    assert_eq!(said(&sim, alice), "BAD-DEST-USER\nLIST-OK alice\n");
}

#[test]
fn a_recipient_that_stops_reading_is_cut_off_after_the_stall_timeout() {
    let mut sim = Sim::new();
    let (alice, bob) = (hello_user(&mut sim, "alice"), hello_user(&mut sim, "bob"));
    sim.set_room(bob, 0);
    sim.feed(alice, b"SEND bob hello?\n");
    sim.advance(Duration::from_secs(4));
    assert!(!sim.is_closed(bob), "4 s: still within the stall timeout");
    assert_eq!(said(&sim, alice), "");
    sim.advance(Duration::from_secs(2));
    assert!(
        sim.is_closed(bob),
        "it kept a sender waiting 5 s taking nothing"
    );
    assert_eq!(said(&sim, alice), "BAD-DEST-USER\n");
}

#[test]
fn a_sendto_receipt_is_the_one_reply_zero_then_one() {
    let mut sim = Sim::new();
    let login = |name: &str| {
        let mut p = vec![0x01];
        p.extend(((name.len() + 2) as u32).to_be_bytes());
        p.extend((name.len() as u16).to_be_bytes());
        p.extend(name.as_bytes());
        p
    };
    let sendto = |to: &str, text: &str| {
        let mut body = (to.len() as u16).to_be_bytes().to_vec();
        body.extend(to.as_bytes());
        body.extend((text.len() as u16).to_be_bytes());
        body.extend(text.as_bytes());
        let mut p = vec![0x03];
        p.extend((body.len() as u32).to_be_bytes());
        p.extend(body);
        p
    };
    let a = sim.connect(&sendto::PROTOCOL);
    let b = sim.connect(&sendto::PROTOCOL);
    sim.feed(a, &login("ann"));
    sim.feed(b, &login("ben"));
    sim.clear_output(a);
    sim.set_room(b, 0);
    sim.feed(a, &sendto("ben", "hi"));
    assert_eq!(sim.output(a), b"", "no 0 before the message is written");
    sim.set_room(b, usize::MAX);
    sim.turn();
    sim.turn();
    assert_eq!(sim.output(a), [0x82, 0, 0, 0, 1, 0]);
    sim.clear_output(a);
    sim.set_room(b, 0);
    sim.feed(a, &sendto("ben", "again"));
    sim.close(b);
    sim.turn();
    assert_eq!(sim.output(a), [0x82, 0, 0, 0, 1, 1], "never written: 1");
}

#[test]
fn a_half_closed_client_gets_every_answer_then_is_closed() {
    let mut sim = Sim::new();
    let alice = hello_user(&mut sim, "alice");
    sim.send(alice, b"SEND alice note\nLIST\nSEND alice again\n");
    sim.shut(alice);
    for _ in 0..5 {
        sim.turn();
    }
    assert_eq!(
        said(&sim, alice),
        "DELIVERY alice note\nSEND-OK\nLIST-OK alice\nDELIVERY alice again\nSEND-OK\n"
    );
    assert!(sim.is_closed(alice));
}

#[test]
fn a_half_closed_mesg_client_has_its_last_unterminated_line_handled() {
    let mut sim = Sim::new();
    let c = sim.connect(&mesg::PROTOCOL);
    sim.send(c, b"PING\r\nPING");
    sim.shut(c);
    sim.turn();
    assert_eq!(said(&sim, c), "PONG\r\nPONG\r\n");
    assert!(sim.is_closed(c));
}

#[test]
fn a_flooder_is_held_by_a_slow_reader_and_nothing_is_lost() {
    let mut sim = Sim::new();
    let flooder = login(&mut sim, &mesg::PROTOCOL, "JOIN flood\r\n");
    let reader = login(&mut sim, &mesg::PROTOCOL, "JOIN reader\r\n");
    // The reader takes 16 KiB at a time; the flooder sends 2 MB at once,
    // of which a turn reads 64 KiB.
    sim.set_room(reader, 16 * 1024);
    let line = format!("BCST {}\r\n", "x".repeat(100));
    let lines = 20_000;
    sim.send(flooder, line.repeat(lines).as_bytes());
    let mut received = 0;
    let mut held_at_some_point = false;
    for _ in 0..10_000 {
        sim.turn();
        received += sim.output(reader).len();
        sim.clear_output(reader);
        held_at_some_point |= sim.is_held(flooder);
        if received == lines * "FROM flood: \r\n".len() + lines * 100 {
            break;
        }
    }
    assert!(held_at_some_point, "the flooder was never held back");
    assert!(
        !sim.is_closed(reader),
        "the reader keeps up and is never cut off"
    );
    assert_eq!(received, lines * (100 + "FROM flood: \r\n".len()));
}
