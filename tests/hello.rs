//! The `hello` dialect over real sockets: every row of docs/PROTOCOLS.md
//! section 2, SEND-OK held back until the DELIVERY is in the recipient's
//! socket, the user limit, and users who vanish.
//!
//! Every server line ends in `\n` alone: lines are read up to `\n` and
//! compared whole, so a stray `\r` fails the comparison.

mod common;
use common::*;
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;

fn start(extra: &[&str]) -> Server {
    let mut args = vec!["--protocol", "hello"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// Line helpers for a protocol whose lines end in `\n`.
trait Hello {
    fn say(&mut self, line: &str);
    fn line(&mut self) -> String;
    fn expect(&mut self, want: &str);
    /// The reply is `want`, and then the server hangs up.
    fn expect_last(&mut self, want: &str);
}

impl Hello for Client {
    fn say(&mut self, line: &str) {
        self.send(format!("{line}\n").as_bytes());
    }

    fn line(&mut self) -> String {
        self.read_line_with(b"\n")
    }

    fn expect(&mut self, want: &str) {
        assert_eq!(self.line(), want);
    }

    fn expect_last(&mut self, want: &str) {
        self.expect(want);
        self.expect_closed();
    }
}

fn login(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr);
    c.say(&format!("HELLO-FROM {name}"));
    c.expect(&format!("HELLO {name}"));
    c
}

/// A fresh connection sends `line` before logging in.
fn first_line(addr: SocketAddr, line: &str) -> Client {
    let mut c = Client::connect(addr);
    c.say(line);
    c
}

/// A barrier and a check at once: LIST's answer comes next, so whatever
/// the server sent this client before it has been read by then.
fn expect_list(c: &mut Client, names: &str) {
    c.say("LIST");
    c.expect(&format!("LIST-OK {names}"));
    c.assert_nothing_buffered();
}

/// The fd the server logged for `name`'s connection.
fn fd_of(server: &Server, name: &str) -> i32 {
    let line = server.wait_log(&format!("): HELLO-FROM {name}"));
    let fd = line
        .split("Client (")
        .nth(1)
        .and_then(|s| s.split(')').next());
    fd.and_then(|fd| fd.parse().ok())
        .unwrap_or_else(|| panic!("no fd in {line:?}"))
}

/// Closes `c` without a word and waits until the server has dropped it.
fn vanish(server: &Server, name: &str, c: Client) {
    let gone = format!("Client ({}): Disconnecting User.", fd_of(server, name));
    assert_eq!(
        server.count_log(&gone),
        0,
        "fd reused; the wait below would pass early"
    );
    drop(c);
    server.wait_log(&gone);
}

// ----- logging in ---------------------------------------------------------

#[test]
fn hello_from_logs_in_and_tolerates_crlf_and_empty_lines() {
    let server = start(&[]);
    let mut alice = Client::connect(server.addr());
    // What a grader sends.
    alice.send(b"HELLO-FROM alice\r\n\n");
    alice.expect("HELLO alice");
    alice.send(b"\n\r\nLIST\r\n");
    alice.expect("LIST-OK alice");
    let mut bob = Client::connect(server.addr());
    for &b in b"HELLO-FROM bob\n" {
        bob.send(&[b]);
    }
    bob.expect("HELLO bob");
    expect_list(&mut bob, "alice,bob");
}

#[test]
fn a_bad_name_is_a_body_error_and_closes() {
    let server = start(&[]);
    let longest = "N4".repeat(16);
    let _longest = login(server.addr(), &longest);
    for line in [
        "HELLO-FROM".to_string(),
        "HELLO-FROM ".to_string(),
        "HELLO-FROM al ice".to_string(),
        "HELLO-FROM al,ice".to_string(),
        "HELLO-FROM al-ice".to_string(),
        "HELLO-FROM  alice".to_string(),
        "HELLO-FROM \u{e9}mile".to_string(),
        format!("HELLO-FROM {longest}x"),
    ] {
        first_line(server.addr(), &line).expect_last("BAD-RQST-BODY");
    }
    // None of them took a name.
    expect_list(
        &mut login(server.addr(), "alice"),
        &format!("{longest},alice"),
    );
}

#[test]
fn a_name_in_use_is_refused_and_closes() {
    let server = start(&[]);
    let mut bob = login(server.addr(), "bob");
    first_line(server.addr(), "HELLO-FROM bob").expect_last("IN-USE");
    // Names are case-sensitive.
    let _bob2 = login(server.addr(), "Bob");
    expect_list(&mut bob, "bob,Bob");
    server.wait_log("Username (bob) in use (IN-USE).");
}

#[test]
fn the_name_is_checked_first_then_in_use_then_busy() {
    let server = start(&["--max-users", "1"]);
    let mut alice = login(server.addr(), "alice");
    first_line(server.addr(), "HELLO-FROM al,ice").expect_last("BAD-RQST-BODY");
    first_line(server.addr(), "HELLO-FROM alice").expect_last("IN-USE");
    first_line(server.addr(), "HELLO-FROM bob").expect_last("BUSY");
    expect_list(&mut alice, "alice");
}

#[test]
fn sixteen_users_fit_and_the_seventeenth_is_busy() {
    let server = start(&[]);
    let mut users: Vec<Client> = (0..16)
        .map(|i| login(server.addr(), &format!("user{i}")))
        .collect();
    first_line(server.addr(), "HELLO-FROM late").expect_last("BUSY");
    server.wait_log("Server full (BUSY).");
    let all: Vec<String> = (0..16).map(|i| format!("user{i}")).collect();
    expect_list(&mut users[0], &all.join(","));
    // A freed place can be taken again.
    let user3 = users.remove(3);
    vanish(&server, "user3", user3);
    let mut late = login(server.addr(), "late");
    let mut now: Vec<String> = all.into_iter().filter(|n| n != "user3").collect();
    now.push("late".into());
    expect_list(&mut late, &now.join(","));
}

#[test]
fn hello_from_when_logged_in_is_a_header_error_and_stays_open() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    alice.say("HELLO-FROM alice2");
    alice.expect("BAD-RQST-HDR");
    alice.say("HELLO-FROM bad,name");
    alice.expect("BAD-RQST-HDR");
    expect_list(&mut alice, "alice");
    // alice2 was not taken.
    login(server.addr(), "alice2");
}

#[test]
fn anything_but_hello_from_before_login_is_a_header_error_and_closes() {
    let server = start(&[]);
    let mut bob = login(server.addr(), "bob");
    for line in [
        "LIST",
        "SEND bob hi",
        "hello-from carol",
        "HELLO carol",
        "SEND-OK",
    ] {
        first_line(server.addr(), line).expect_last("BAD-RQST-HDR");
    }
    expect_list(&mut bob, "bob");
    server.wait_log("Not logged in (BAD-RQST-HDR).");
}

#[test]
fn a_line_without_its_newline_is_not_a_message() {
    let server = start(&[]);
    let mut c = Client::connect(server.addr());
    c.send(b"HELLO-FROM carol");
    c.shutdown_write();
    c.expect_closed();
    expect_list(&mut login(server.addr(), "carol"), "carol");
}

// ----- LIST and SEND ------------------------------------------------------

#[test]
fn list_is_comma_separated_in_login_order() {
    let server = start(&[]);
    let mut zed = login(server.addr(), "zed");
    let _amy = login(server.addr(), "amy");
    let mut max = login(server.addr(), "max");
    expect_list(&mut zed, "zed,amy,max");
    max.say("LIST all");
    max.expect("BAD-RQST-BODY");
    expect_list(&mut max, "zed,amy,max");
}

#[test]
fn send_delivers_then_confirms() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    let mut bob = login(server.addr(), "bob");
    alice.say("SEND bob  hi,  bob! ");
    bob.expect("DELIVERY alice  hi,  bob! ");
    alice.expect("SEND-OK");
    // To oneself: the DELIVERY is written before its SEND-OK.
    bob.send(b"SEND bob note to self\r\n");
    bob.expect("DELIVERY bob note to self");
    bob.expect("SEND-OK");
    expect_list(&mut alice, "alice,bob");
    expect_list(&mut bob, "alice,bob");
}

#[test]
fn send_without_a_name_or_text_is_a_body_error_before_any_lookup() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    let mut bob = login(server.addr(), "bob");
    for line in [
        "SEND",
        "SEND ",
        "SEND bob",
        "SEND bob ",
        "SEND  hi",
        "SEND nobody",
        "SEND nobody ",
    ] {
        alice.say(line);
        alice.expect("BAD-RQST-BODY");
    }
    expect_list(&mut alice, "alice,bob");
    // Nothing reached bob.
    expect_list(&mut bob, "alice,bob");
}

#[test]
fn send_to_someone_not_logged_in_is_a_bad_destination() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    alice.say("SEND nobody hi");
    alice.expect("BAD-DEST-USER");
    alice.say("SEND ALICE hi");
    alice.expect("BAD-DEST-USER");
    expect_list(&mut alice, "alice");
    server.wait_log("Unknown recipient (nobody) (BAD-DEST-USER).");
}

#[test]
fn any_other_header_is_a_header_error_and_stays_open() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    for line in [
        "list",
        "send alice hi",
        "FOO bar",
        "DELIVERY alice hi",
        "QUIT",
    ] {
        alice.say(line);
        alice.expect("BAD-RQST-HDR");
    }
    expect_list(&mut alice, "alice");
}

#[test]
fn an_over_long_line_is_a_body_error_and_is_discarded_to_its_end() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    let mut bob = login(server.addr(), "bob");
    let header = "SEND bob ";
    let longest = "x".repeat(4096 - header.len());
    // 4096 bytes is the longest line, with either ending.
    alice.say(&format!("{header}{longest}"));
    bob.expect(&format!("DELIVERY alice {longest}"));
    alice.expect("SEND-OK");
    alice.send(format!("{header}{longest}\r\n").as_bytes());
    bob.expect(&format!("DELIVERY alice {longest}"));
    alice.expect("SEND-OK");
    // One byte more is too long, and so is a line far longer than any
    // buffer: one reply each, and the rest of the line is dropped.
    alice.say(&format!("{header}{longest}y"));
    alice.expect("BAD-RQST-BODY");
    alice.say(&format!("{header}{}", "z".repeat(200_000)));
    alice.expect("BAD-RQST-BODY");
    expect_list(&mut alice, "alice,bob");
    expect_list(&mut bob, "alice,bob");
    server.wait_log("Message too long (BAD-RQST-BODY)");
}

#[test]
fn an_over_long_line_before_login_closes() {
    let server = start(&[]);
    first_line(server.addr(), &format!("HELLO-FROM {}", "a".repeat(5000)))
        .expect_last("BAD-RQST-BODY");
}

#[test]
fn ten_quick_sends_arrive_whole_and_in_order() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    let mut bob = login(server.addr(), "bob");
    let texts: Vec<String> = (0..10)
        .map(|i| {
            let len = 256 + i * 28;
            let fill = char::from(b'a' + i as u8);
            format!("{i} {}", fill.to_string().repeat(len - 2))
        })
        .collect();
    // All ten in one write: the server sees them in a single read.
    let burst: String = texts.iter().map(|t| format!("SEND bob {t}\n")).collect();
    alice.send(burst.as_bytes());
    for text in &texts {
        bob.expect(&format!("DELIVERY alice {text}"));
    }
    for _ in &texts {
        alice.expect("SEND-OK");
    }
    expect_list(&mut alice, "alice,bob");
    expect_list(&mut bob, "alice,bob");
}

#[test]
fn a_user_who_vanishes_is_logged_out() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    let carol = login(server.addr(), "carol");
    expect_list(&mut alice, "alice,carol");
    vanish(&server, "carol", carol);
    expect_list(&mut alice, "alice");
    alice.say("SEND carol are you there?");
    alice.expect("BAD-DEST-USER");
    // The name is free again.
    login(server.addr(), "carol");
}

#[test]
fn status_lines_name_the_command_never_the_text() {
    let server = start(&[]);
    let mut alice = login(server.addr(), "alice");
    let mut bob = login(server.addr(), "bob");
    alice.say("SEND bob the secret is 42");
    bob.expect("DELIVERY alice the secret is 42");
    alice.expect("SEND-OK");
    let fd = fd_of(&server, "alice");
    server.wait_log(&format!("Client ({fd}): SEND bob"));
    server.wait_log(&format!("Client ({fd}): Logged in as alice."));
    assert_eq!(server.count_log("secret"), 0, "{:?}", server.log_lines());
}

// ----- SEND-OK waits for the DELIVERY to be written ------------------------

/// The receive buffer asked for on the client that stops reading. Small,
/// so the server needs only a few MB to fill the path to it, but not tiny:
/// a window under two segments makes every round trip wait for a delayed
/// ACK, and reading back the megabytes would take minutes.
const RECEIVE_BUFFER: usize = 64 * 1024;

/// Sets `stream`'s receive buffer to [`RECEIVE_BUFFER`] and returns the
/// size the kernel settled on (Linux doubles the request for bookkeeping).
fn shrink_receive_buffer(stream: &TcpStream) -> usize {
    let fd = stream.as_raw_fd();
    let mut size = RECEIVE_BUFFER as libc::c_int;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: plain socket options on a socket we own, with pointers to
    // locals of the size we pass.
    unsafe {
        let p = &mut size as *mut libc::c_int as *mut libc::c_void;
        assert_eq!(
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, p, len),
            0
        );
        assert_eq!(
            libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, p, &mut len),
            0
        );
    }
    size as usize
}

/// The most the kernel can hold between the server and a client that has
/// stopped reading: the server socket's send buffer, which Linux grows up
/// to the third `tcp_wmem` value, plus the client's receive buffer, plus a
/// margin for what its window had let through before it was shrunk.
fn kernel_buffering(receive_buffer: usize) -> usize {
    let send_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(16 << 20);
    let window_margin = 1 << 20;
    send_max + receive_buffer + window_margin
}

/// A server with a stalled recipient: `bob` (hello) stopped reading and his
/// socket is full; `filler`, a `mesg` user on a second listener, filled it
/// (a `mesg` MESG needs no receipt, so nothing holds the filler back);
/// `alice`, whose SEND is the test; and `carol`, whose message to alice is
/// the barrier.
struct Stalled {
    server: Server,
    bob: Client,
    alice: Client,
    carol: Client,
    /// Kept connected: it is in every LIST.
    _filler: Client,
    filler_text: String,
    filler_sends: usize,
}

fn stalled_recipient() -> Stalled {
    stalled_recipient_with(&[])
}

fn stalled_recipient_with(extra: &[&str]) -> Stalled {
    const TEXT_LEN: usize = 4000;
    // The server is started once the bytes to send are known, so that
    // --max-queue can be set above them and bob is not cut off.
    let filler_text = "f".repeat(TEXT_LEN);
    let line = format!("MESG bob {filler_text}\r\n");
    // The receive buffer is only set after connecting, and the server must
    // be started first; the kernel never makes it more than twice the
    // request.
    let receive_estimate = 2 * RECEIVE_BUFFER;
    let filler_sends = kernel_buffering(receive_estimate) / line.len() + 1;
    let max_queue = (2 * filler_sends * line.len()).to_string();
    let mut args = vec!["--max-queue", &max_queue, "--listen", "mesg=127.0.0.1:0"];
    args.extend_from_slice(extra);
    let server = start(&args);
    let hello = server.addr_of("hello");

    let mut bob = Client::connect(hello);
    let receive_buffer = shrink_receive_buffer(&bob.stream);
    assert!(receive_buffer <= receive_estimate, "{receive_buffer}");
    bob.say("HELLO-FROM bob");
    bob.expect("HELLO bob");
    let alice = login(hello, "alice");
    let carol = login(hello, "carol");

    let mut filler = joined(server.addr_of("mesg"), "filler");
    filler.send(line.repeat(filler_sends).as_bytes());
    // PONG comes after every MESG before it has been handled: bob's queue
    // now holds all that did not fit in his socket.
    sync(&mut filler);
    Stalled {
        server,
        bob,
        alice,
        carol,
        _filler: filler,
        filler_text,
        filler_sends,
    }
}

/// Alice's SEND to the stalled bob is handled; then carol's message to
/// alice reaches her. Returns once alice has it: had a SEND-OK been sent
/// for her SEND, it would have come before it.
fn send_to_stalled_bob(st: &mut Stalled, text: &str) {
    let alice_fd = fd_of(&st.server, "alice");
    st.alice.say(&format!("SEND bob {text}"));
    st.server
        .wait_log(&format!("Client ({alice_fd}): SEND bob"));
    st.carol.say("SEND alice are you there?");
    st.carol.expect("SEND-OK");
    st.alice.expect("DELIVERY carol are you there?");
    st.alice.assert_nothing_buffered();
}

/// Bob reads everything the filler sent.
fn bob_reads_the_filler(st: &mut Stalled) {
    let from_filler = format!("DELIVERY filler {}", st.filler_text);
    for _ in 0..st.filler_sends {
        assert!(
            st.bob.line() == from_filler,
            "a filler DELIVERY was damaged"
        );
    }
}

#[test]
fn send_ok_waits_until_a_stalled_recipient_reads() {
    let mut st = stalled_recipient();
    send_to_stalled_bob(&mut st, "the last word");
    // Now bob reads everything, in order, and only then alice hears.
    bob_reads_the_filler(&mut st);
    st.bob.expect("DELIVERY alice the last word");
    st.alice.expect("SEND-OK");
    expect_list(&mut st.alice, "bob,alice,carol,filler");
    expect_list(&mut st.bob, "bob,alice,carol,filler");
}

#[test]
fn a_stalled_recipient_who_leaves_means_bad_dest_user_and_no_send_ok() {
    let mut st = stalled_recipient();
    send_to_stalled_bob(&mut st, "never read");
    // bob goes with his socket full of unread DELIVERYs.
    let Stalled {
        server,
        bob,
        mut alice,
        ..
    } = st;
    vanish(&server, "bob", bob);
    alice.expect("BAD-DEST-USER");
    expect_list(&mut alice, "alice,carol,filler");
}

#[test]
fn replies_come_in_request_order_while_a_send_waits() {
    let mut st = stalled_recipient();
    // SEND, then LIST in the same write: the LIST is answered only after
    // the SEND, however long that takes.
    st.alice.send(b"SEND bob first\nLIST\n");
    bob_reads_the_filler(&mut st);
    st.bob.expect("DELIVERY alice first");
    st.alice.expect("SEND-OK");
    st.alice.expect("LIST-OK bob,alice,carol,filler");
}

#[test]
fn a_client_that_half_closes_after_a_send_still_gets_every_reply() {
    let server = start(&[]);
    for _ in 0..20 {
        let mut alice = login(server.addr(), "alice");
        // SEND waits for its receipt; LIST is held behind it; then EOF.
        alice.send(b"SEND alice note to self\nLIST\nSEND alice again\n");
        alice.shutdown_write();
        alice.expect("DELIVERY alice note to self");
        alice.expect("SEND-OK");
        alice.expect("LIST-OK alice");
        alice.expect("DELIVERY alice again");
        alice.expect("SEND-OK");
        alice.expect_closed();
        server.wait_log("Disconnecting User.");
        let gone = server.count_log("Disconnecting User.");
        server.wait_log_count("Disconnecting User.", gone);
    }
}

#[test]
fn a_recipient_that_keeps_a_sender_waiting_too_long_is_cut_off() {
    let mut st = stalled_recipient_with(&["--stall-timeout", "1"]);
    send_to_stalled_bob(&mut st, "are you reading?");
    // bob reads nothing; the server gives up on him, not on alice.
    st.alice.expect("BAD-DEST-USER");
    st.server
        .wait_log("Not reading while a sender waits on it.");
    expect_list(&mut st.alice, "alice,carol,filler");
}

#[test]
fn a_reader_that_stopped_costs_its_senders_at_most_the_default_stall_timeout() {
    // The default: a recipient that keeps a sender waiting while taking
    // nothing for 5 s is cut off (it used to be 30 s from the SEND).
    let mut st = stalled_recipient();
    send_to_stalled_bob(&mut st, "are you reading?");
    st.alice.expect("BAD-DEST-USER");
    st.server
        .wait_log("Not reading while a sender waits on it.");
    expect_list(&mut st.alice, "alice,carol,filler");
    // Coming back under the same name to do it again costs the same, no
    // more: bob is cut off each time he stops reading.
    let mut bob = Client::connect(st.server.addr_of("hello"));
    shrink_receive_buffer(&bob.stream);
    bob.say("HELLO-FROM bob");
    bob.expect("HELLO bob");
    let line = format!("MESG bob {}\r\n", st.filler_text);
    st._filler.send(line.repeat(st.filler_sends).as_bytes());
    sync(&mut st._filler);
    st.alice.say("SEND bob still there?");
    st.alice.expect("BAD-DEST-USER");
    st.server
        .wait_log_count("Not reading while a sender waits on it.", 2);
}
