//! Limits: registered users, slow consumers (`--max-queue`).

mod common;
use common::*;
use std::io::Read;

#[test]
fn the_eleventh_user_is_refused_and_disconnected() {
    let server = Server::start(&[]);
    let mut users: Vec<Client> = (0..10)
        .map(|i| joined(server.addr(), &format!("u{i}")))
        .collect();
    let mut late = Client::connect(server.addr());
    late.send_line("JOIN late");
    late.expect_line("Too Many Users. Disconnecting User.");
    late.expect_closed();
    server.wait_log("Database Full. Disconnecting User.");
    // Connecting is still fine, and a freed slot is taken by the next JOIN.
    let mut waiting = Client::connect(server.addr());
    sync(&mut waiting);
    users[3].send_line("QUIT");
    users[3].expect_closed();
    waiting.send_line("JOIN late");
    waiting.expect_line("JOIN late Request Accepted");
    sync(&mut users[0]);
}

#[test]
fn a_slot_freed_by_a_dropped_connection_is_reused() {
    let server = Server::start(&["--max-users", "2"]);
    let _a = joined(server.addr(), "a");
    let b = joined(server.addr(), "b");
    let mut c = Client::connect(server.addr());
    c.send_line("JOIN c");
    c.expect_line("Too Many Users. Disconnecting User.");
    c.expect_closed();
    drop(b);
    // c's disconnect, then b's.
    server.wait_log_count("Disconnecting User.", 2);
    let _c = joined(server.addr(), "c");
}

#[test]
fn a_client_that_never_reads_is_cut_off_and_the_others_keep_receiving() {
    let server = Server::start(&["--max-queue", "1048576", "--stall-timeout", "1"]);
    let mut sender = joined(server.addr(), "sender");
    let mut reader = joined(server.addr(), "reader");
    let _stuck = joined(server.addr(), "stuck");
    // 20 MB in all: more than the stuck client's socket buffers plus its
    // 1 MiB queue. The reader reads on its own thread; the sender waits
    // for it every batch, so the reader is never the one that falls behind.
    let (batches, batch) = (100, 70);
    let text = "y".repeat(3000);
    let want = format!("FROM sender: {text}");
    let (done, batch_read) = std::sync::mpsc::channel();
    let reading = std::thread::spawn(move || {
        for i in 0..batches * batch {
            assert_eq!(reader.read_line(), want, "line {i}");
            if i % batch == batch - 1 {
                done.send(()).unwrap();
            }
        }
        reader
    });
    for _ in 0..batches {
        for _ in 0..batch {
            sender.send_line(&format!("BCST {text}"));
        }
        batch_read.recv().expect("the reader got the whole batch");
    }
    let mut reader = reading.join().expect("the reader got every line");
    // Its backlog holds the sender back; once it has read nothing for the
    // stall timeout, it is cut off and the sender goes on.
    server.wait_log("Not reading while a sender waits on it.");
    sync(&mut reader);
    let names: Vec<String> = list(&mut sender)
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(names, ["sender", "reader"]);
}

#[test]
fn a_cut_off_client_sees_its_connection_end() {
    let server = Server::start(&["--max-queue", "4096"]);
    let mut sender = joined(server.addr(), "sender");
    let mut stuck = joined(server.addr(), "stuck");
    let text = "z".repeat(4000);
    for _ in 0..3000 {
        sender.send_line(&format!("BCST {text}"));
    }
    sync(&mut sender);
    // Cut off as not reading: over its limit once the socket took what it
    // would, or (when its backlog held the sender back just below the
    // limit) for keeping the sender waiting while it takes nothing.
    server.wait_log_any(&[
        "Output queue over 4096 bytes",
        "Not reading while a sender waits on it.",
    ]);
    // Whatever it had received, its stream ends.
    let mut sink = vec![0u8; 1 << 16];
    loop {
        match stuck.stream.read(&mut sink) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

#[test]
fn a_refused_user_gets_its_reason_even_with_unread_input_behind_it() {
    let server = Server::start(&["--max-users", "1"]);
    let _first = joined(server.addr(), "first");
    let mut late = Client::connect(server.addr());
    // The server hangs up after the JOIN with 60 KB it never reads still
    // queued behind it. The reply must be written before the hang-up, and
    // the hang-up must not cost the client the reply.
    let mut burst = b"JOIN late\r\n".to_vec();
    burst.extend(std::iter::repeat_n(b'j', 60_000));
    late.send(&burst);
    // Read only once the server has closed the connection.
    server.wait_log("Disconnecting User.");
    late.expect_line("Too Many Users. Disconnecting User.");
}
