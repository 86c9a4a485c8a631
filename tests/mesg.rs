//! The `mesg` dialect over real sockets: every row of docs/PROTOCOLS.md section 1.

mod common;
use common::*;

const UNREGISTERED: &str = "Unregistered User. Use \"JOIN <username>\" to Register.";
const INVALID_USERNAME: &str =
    "Invalid Username. Use \"JOIN <username>\" with letters and digits only.";
const INVALID_MESG: &str = "Invalid MESG. Use \"MESG <username> <message>\".";
const UNKNOWN: &str = "Unknown Message. Discarding UNKNOWN Message.";

#[test]
fn join_is_accepted_and_the_server_logs_it() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    sync(&mut alice);
    server.wait_log("JOIN alice");
    server.wait_log("Connection Accepted");
}

#[test]
fn join_twice_names_this_connection_and_its_fd() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let fd = list(&mut alice)[0].1.clone();
    alice.send_line("JOIN bob");
    alice.expect_line(&format!(
        "User Already Registered: Username (alice), FD ({fd})"
    ));
    // Already registered comes before the name check.
    alice.send_line("JOIN b-b");
    alice.expect_line(&format!(
        "User Already Registered: Username (alice), FD ({fd})"
    ));
    assert_eq!(list(&mut alice), vec![("alice".to_string(), fd)]);
}

#[test]
fn join_with_a_taken_name_names_the_holder() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let alice_fd = list(&mut alice)[0].1.clone();
    let mut other = Client::connect(server.addr());
    other.send_line("JOIN alice");
    other.expect_line(&format!(
        "User Already Registered: Username (alice), FD ({alice_fd})"
    ));
    // Still unregistered, and still connected.
    other.send_line("LIST");
    other.expect_line(UNREGISTERED);
    other.send_line("JOIN Alice");
    other.expect_line("JOIN Alice Request Accepted");
}

#[test]
fn join_without_a_valid_name_is_refused() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    let too_long = format!("JOIN {}", "a".repeat(33));
    for line in [
        "JOIN",
        "JOIN ",
        "JOIN bob smith",
        "JOIN bob!",
        too_long.as_str(),
    ] {
        c.send_line(line);
        c.expect_line(INVALID_USERNAME);
    }
    let longest = "Z9".repeat(16);
    c.send_line(&format!("JOIN {longest}"));
    c.expect_line(&format!("JOIN {longest} Request Accepted"));
}

#[test]
fn the_list_table_is_byte_exact_in_registration_order() {
    let server = Server::start(&[]);
    let mut bob = joined(server.addr(), "bob");
    let mut alice = joined(server.addr(), "alice");
    let users = list(&mut bob);
    assert_eq!(
        users.iter().map(|u| u.0.as_str()).collect::<Vec<_>>(),
        ["bob", "alice"]
    );
    // The raw bytes, all of them.
    alice.send_line("LIST");
    let (b, a) = (&users[0].1, &users[1].1);
    let want = format!("USERNAME\tFD\r\n{RULE}\r\nbob\t{b}\r\nalice\t{a}\r\n{RULE}\r\n");
    assert_eq!(alice.read_bytes(want.len()), want.as_bytes());
    sync(&mut alice);
}

#[test]
fn mesg_reaches_only_its_recipient_and_keeps_the_text_as_typed() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    let mut carol = joined(server.addr(), "carol");
    alice.send_line("MESG bob  two  spaces, punctuation! ");
    bob.expect_line("FROM alice:  two  spaces, punctuation! ");
    sync(&mut alice);
    sync(&mut carol);
    alice.assert_nothing_buffered();
    carol.assert_nothing_buffered();
}

#[test]
fn mesg_to_an_unknown_user_is_discarded() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    alice.send_line("MESG zed hello?");
    alice.expect_line("Unknown Recipient (zed). MESG Discarded.");
    server.wait_log("Unable to Locate Recipient (zed) in Database. Discarding MESG.");
}

#[test]
fn mesg_without_text_is_invalid() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    for line in ["MESG", "MESG alice", "MESG alice "] {
        alice.send_line(line);
        alice.expect_line(INVALID_MESG);
    }
}

#[test]
fn bcst_reaches_every_other_user_but_not_the_sender() {
    let server = Server::start(&[]);
    let mut users: Vec<Client> = ["a", "b", "c", "d"]
        .iter()
        .map(|n| joined(server.addr(), n))
        .collect();
    let mut lurker = Client::connect(server.addr());
    users[1].send_line("BCST hello, everyone");
    for (i, user) in users.iter_mut().enumerate() {
        if i != 1 {
            user.expect_line("FROM b: hello, everyone");
        }
        sync(user);
        user.assert_nothing_buffered();
    }
    // Connected but not registered: not a recipient.
    sync(&mut lurker);
    lurker.assert_nothing_buffered();
}

#[test]
fn ping_is_answered_registered_or_not() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    sync(&mut c);
    c.send_line("JOIN p");
    c.expect_line("JOIN p Request Accepted");
    sync(&mut c);
}

#[test]
fn quit_closes_and_frees_the_name_at_once() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    alice.send_line("QUIT");
    alice.expect_closed();
    assert_eq!(list(&mut bob).len(), 1);
    let _again = joined(server.addr(), "alice");
    server.wait_log("QUIT");
}

#[test]
fn quit_from_an_unregistered_client_closes_it() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    c.send_line("QUIT");
    c.expect_closed();
}

#[test]
fn lines_after_quit_in_the_same_packet_are_ignored() {
    let server = Server::start(&[]);
    let mut bob = joined(server.addr(), "bob");
    let mut alice = joined(server.addr(), "alice");
    alice.send(b"QUIT\r\nMESG bob too late\r\n");
    alice.expect_closed();
    sync(&mut bob);
    bob.assert_nothing_buffered();
}

#[test]
fn unknown_commands_depend_on_registration() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    for line in ["LIST", "MESG a b", "BCST hi", "HELLO", "join c"] {
        c.send_line(line);
        c.expect_line(UNREGISTERED);
    }
    c.send_line("JOIN c");
    c.expect_line("JOIN c Request Accepted");
    for line in ["HELLO", "join c", "list", "BCST", "BCST ", "LIST\tx"] {
        c.send_line(line);
        c.expect_line(UNKNOWN);
    }
    server.wait_log("Unrecognizable Message. Discarding UNKNOWN Message.");
}

#[test]
fn commands_split_across_writes_and_coalesced_in_one_work() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    for piece in [&b"JO"[..], b"IN sp", b"lit\r", b"\n"] {
        c.send(piece);
    }
    c.expect_line("JOIN split Request Accepted");
    c.send(b"PING\r\nPING\nPING\rPING\r\n\r\n\nPING\r\n");
    c.expect_lines(&["PONG"; 5]);
    sync(&mut c);
    c.assert_nothing_buffered();
}

#[test]
fn a_line_byte_by_byte_is_one_command() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    for b in b"JOIN slow\r\n" {
        c.send(&[*b]);
    }
    c.expect_line("JOIN slow Request Accepted");
}

#[test]
fn over_long_lines_are_answered_and_discarded_to_their_end() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    // 4096 bytes exactly is allowed.
    let text = "x".repeat(4096 - "BCST ".len());
    alice.send_line(&format!("BCST {text}"));
    bob.expect_line(&format!("FROM alice: {text}"));
    // One byte more is not, and none of it is acted on.
    alice.send_line(&format!("BCST {text}y"));
    alice.expect_line("Message Too Long. Discarding Message.");
    // A long line in many pieces: one reply, then the next line works.
    let long = format!("BCST {}", "z".repeat(20_000));
    for piece in long.as_bytes().chunks(3000) {
        alice.send(piece);
    }
    alice.send(b"\r\nPING\r\n");
    alice.expect_line("Message Too Long. Discarding Message.");
    alice.expect_line("PONG");
    sync(&mut bob);
    bob.assert_nothing_buffered();
}

const IAC: u8 = 255;

#[test]
fn telnet_option_offers_are_refused_and_stripped() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    // DO ECHO, WILL NAWS, then a command with the IAC bytes around it.
    c.send(&[IAC, 253, 1, IAC, 251, 31]);
    c.send(b"JOIN t\r\n");
    assert_eq!(c.read_bytes(6), [IAC, 252, 1, IAC, 254, 31]);
    c.expect_line("JOIN t Request Accepted");
}

#[test]
fn telnet_ctrl_c_gets_its_timing_mark_answered() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    // What telnet sends for Ctrl-C: IAC IP, IAC DO TIMING-MARK.
    c.send(&[IAC, 244, IAC, 253, 6]);
    assert_eq!(c.read_bytes(3), [IAC, 252, 6]);
    sync(&mut c);
}

#[test]
fn iac_iac_is_relayed_as_one_ff_byte() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    let mut line = b"MESG bob a".to_vec();
    line.extend_from_slice(&[IAC, IAC]);
    line.extend_from_slice(b"b\r\n");
    alice.send(&line);
    // Bob is a telnet user too: the one data byte reaches him as IAC IAC,
    // which his telnet reads as one 0xFF (RFC 854), not as a command.
    let mut want = b"FROM alice: a".to_vec();
    want.extend_from_slice(&[IAC, IAC]);
    want.extend_from_slice(b"b\r\n");
    assert_eq!(bob.read_bytes(want.len()), want);
}

#[test]
fn a_client_gone_without_quit_is_removed_at_once() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let bob = joined(server.addr(), "bob");
    drop(bob);
    server.wait_log("Disconnecting User.");
    assert_eq!(list(&mut alice).len(), 1);
    alice.send_line("MESG bob still there?");
    alice.expect_line("Unknown Recipient (bob). MESG Discarded.");
    let _bob = joined(server.addr(), "bob");
}

#[test]
fn a_last_line_without_newline_counts_when_the_client_closes() {
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    let mut bob = joined(server.addr(), "bob");
    bob.send(b"BCST bye for now");
    bob.shutdown_write();
    alice.expect_line("FROM bob: bye for now");
    bob.expect_closed();
}

#[test]
fn a_half_closed_client_still_gets_its_replies() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    c.send(b"JOIN half\r\nPING\r\n");
    c.shutdown_write();
    c.expect_line("JOIN half Request Accepted");
    c.expect_line("PONG");
    c.expect_closed();
}

#[test]
fn garbage_bytes_do_not_hurt_the_server() {
    let server = Server::start(&[]);
    let mut c = Client::connect(server.addr());
    let garbage: Vec<u8> = (0..20_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    c.send(&garbage);
    c.send(b"\r\n");
    let mut other = joined(server.addr(), "other");
    sync(&mut other);
    drop(c);
    sync(&mut other);
}

// ----- clients that send no line ends (docs/PROTOCOLS.md 1.1) -------------

/// Reads what arrives within `wait`, all of it.
fn read_for(c: &mut Client, wait: std::time::Duration) -> String {
    let mut lines = Vec::new();
    while let Some(line) = c.try_read_line(wait) {
        lines.push(line);
    }
    lines.join("\n")
}

#[test]
fn commands_sent_without_line_ends_are_answered() {
    use std::time::Duration;
    let server = Server::start(&[]);
    let mut bob = joined(server.addr(), "bob");
    // A course's clients send each command as one write, with no CR or LF,
    // and the next about 300 ms later. The pause between is the shape of
    // the client, not a synchronisation.
    let mut alice = Client::connect(server.addr());
    let pause = Duration::from_millis(300);
    alice.send(b"JOIN alice");
    alice.expect_line("JOIN alice Request Accepted");
    std::thread::sleep(pause);
    alice.send(b"LIST");
    assert_eq!(
        list_after_header(&mut alice),
        [("bob".to_string()), ("alice".to_string())]
    );
    std::thread::sleep(pause);
    alice.send(b"MESG bob hi bob");
    bob.expect_line("FROM alice: hi bob");
    std::thread::sleep(pause);
    alice.send(b"BCST hello all");
    bob.expect_line("FROM alice: hello all");
    std::thread::sleep(pause);
    alice.send(b"QUIT");
    alice.expect_closed();
    sync(&mut bob);
    assert_eq!(read_for(&mut bob, Duration::from_millis(50)), "");
}

/// The rows of a LIST table whose command was already sent.
fn list_after_header(c: &mut Client) -> Vec<String> {
    c.expect_line("USERNAME\tFD");
    c.expect_line(RULE);
    let mut names = Vec::new();
    loop {
        let line = c.read_line();
        if line == RULE {
            return names;
        }
        names.push(line.split('\t').next().unwrap().to_string());
    }
}

#[test]
fn a_line_typed_a_byte_at_a_time_is_still_one_command() {
    use std::time::Duration;
    let server = Server::start(&[]);
    let mut alice = Client::connect(server.addr());
    // Telnet in character mode: a keystroke per segment, slower than the
    // pause. Nothing may be taken before the line end.
    for &b in b"JOIN alice" {
        alice.send(&[b]);
        std::thread::sleep(Duration::from_millis(250));
    }
    alice.send(b"\r\n");
    alice.expect_line("JOIN alice Request Accepted");
    sync(&mut alice);
}

#[test]
fn a_client_that_sent_a_line_end_never_has_a_bare_command_taken() {
    use std::time::Duration;
    let server = Server::start(&[]);
    let mut alice = joined(server.addr(), "alice");
    alice.send(b"LIST");
    // Well past the pause: a line client's half line waits for its end.
    assert_eq!(alice.try_read_line(Duration::from_millis(600)), None);
    alice.send(b"\r\n");
    assert_eq!(list_after_header(&mut alice), ["alice".to_string()]);
}

#[test]
fn join_tolerates_stray_spaces_around_the_name() {
    let server = Server::start(&[]);
    let mut a = Client::connect(server.addr());
    a.send_line("JOIN ann ");
    a.expect_line("JOIN ann Request Accepted");
    let mut b = Client::connect(server.addr());
    b.send_line("JOIN  bob");
    b.expect_line("JOIN bob Request Accepted");
    let mut c = Client::connect(server.addr());
    c.send_line("JOIN  ");
    c.expect_line("Invalid Username. Use \"JOIN <username>\" with letters and digits only.");
}
