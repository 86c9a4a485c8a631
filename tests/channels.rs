//! The `channels` dialect over real sockets: every row of docs/PROTOCOLS.md
//! section 3, who gets each notice (and who does not), and frames that
//! arrive in pieces or several at once.
//!
//! "Nothing arrived" is proved with a barrier: a bare `/join` is always
//! answered with exactly one frame and changes nothing, so when that answer
//! is the next frame read, nothing was sent before it.

mod common;
use common::*;
use std::net::SocketAddr;

const FRAME: usize = 200;
const JOIN_REQUIRES: &str = "/join command must be followed by the name of a channel to join.";
const CREATE_REQUIRES: &str = "/create command must be followed by the name of a channel to create";
const NOT_IN_CHANNEL: &str =
    "Not currently in any channel. Must join a channel before sending messages.";

/// `text` padded with spaces to a whole frame.
fn padded(text: &[u8]) -> Vec<u8> {
    assert!(text.len() <= FRAME, "a test frame must fit");
    let mut frame = text.to_vec();
    frame.resize(FRAME, b' ');
    frame
}

fn send(c: &mut Client, text: &str) {
    c.send(&padded(text.as_bytes()));
}

/// Reads one frame and checks it is exactly `want`, padded.
fn expect_bytes(c: &mut Client, want: &[u8]) {
    let got = c.read_bytes(FRAME);
    assert_eq!(
        String::from_utf8_lossy(&got).trim_end(),
        String::from_utf8_lossy(want),
        "frame text"
    );
    assert_eq!(got, padded(want), "frame bytes, padding included");
}

fn expect(c: &mut Client, want: &str) {
    expect_bytes(c, want.as_bytes());
}

/// Proves that nothing was sent to `c` before this point (see the top).
fn barrier(c: &mut Client) {
    send(c, "/join");
    expect(c, JOIN_REQUIRES);
}

/// A client that has sent its name.
fn named(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr);
    send(&mut c, name);
    c
}

fn start() -> Server {
    Server::start(&["--protocol", "channels"])
}

#[test]
fn the_name_gets_no_reply_and_is_logged() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    barrier(&mut alice);
    server.wait_log("Registered as alice.");
}

#[test]
fn a_name_in_use_is_refused_then_the_connection_closes() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    barrier(&mut alice);
    let mut again = named(server.addr(), "alice");
    expect(&mut again, "Name alice is already in use.");
    again.expect_closed();
    // The holder is untouched and the refused one never joined anything.
    send(&mut alice, "/create room");
    send(&mut alice, "/list");
    expect(&mut alice, "room");
}

#[test]
fn frames_sent_after_a_refused_name_are_never_handled() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    send(&mut alice, "/create room");
    barrier(&mut alice);
    let mut again = Client::connect(server.addr());
    let mut both = padded(b"alice");
    both.extend(padded(b"/create other"));
    again.send(&both);
    expect(&mut again, "Name alice is already in use.");
    again.expect_closed();
    send(&mut alice, "/list");
    expect(&mut alice, "room");
}

#[test]
fn names_are_trimmed_and_case_sensitive() {
    let server = start();
    let mut watcher = named(server.addr(), "watcher");
    send(&mut watcher, "/create room");
    barrier(&mut watcher);
    let mut ana = Client::connect(server.addr());
    ana.send(&padded(b"  Ana.Lu\n"));
    send(&mut ana, "/join room");
    expect(&mut watcher, "Ana.Lu has joined");
    let mut other = named(server.addr(), "ana.lu");
    send(&mut other, "/join room");
    expect(&mut watcher, "ana.lu has joined");
}

#[test]
fn a_blank_or_unprintable_name_is_hung_up_on_without_a_word() {
    let server = start();
    for name in [&b""[..], b"   ", b"\xff\xfeab", b"a\nb", b"Ana Lu"] {
        let mut c = Client::connect(server.addr());
        c.send(&padded(name));
        c.expect_closed();
    }
    server.wait_log("Invalid Name. Disconnecting User.");
}

#[test]
fn the_user_limit_hangs_up_without_a_word() {
    let server = Server::start(&["--protocol", "channels", "--max-users", "1"]);
    let mut alice = named(server.addr(), "alice");
    barrier(&mut alice);
    let mut bob = named(server.addr(), "bob");
    bob.expect_closed();
    server.wait_log("Server Full. Disconnecting User.");
}

#[test]
fn text_outside_a_channel_is_refused() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    send(&mut alice, "Hello world!");
    expect(&mut alice, NOT_IN_CHANNEL);
}

#[test]
fn create_join_and_their_errors() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    // Creating answers nothing: the barrier's answer comes first.
    send(&mut alice, "/create 168_tas");
    barrier(&mut alice);
    send(&mut bob, "/create 168_tas");
    expect(
        &mut bob,
        "Room 168_tas already exists, so cannot be created.",
    );
    send(&mut bob, "/create");
    expect(&mut bob, CREATE_REQUIRES);
    send(&mut bob, "/create    ");
    expect(&mut bob, CREATE_REQUIRES);
    send(&mut bob, "/join");
    expect(&mut bob, JOIN_REQUIRES);
    send(&mut bob, "/join nope");
    expect(
        &mut bob,
        "No channel named nope exists. Try '/create nope'?",
    );
    send(&mut bob, "/join 168_tas");
    barrier(&mut bob);
    expect(&mut alice, "bob has joined");
}

#[test]
fn a_channel_name_is_everything_after_one_space() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    send(&mut alice, "/create 168 tas");
    barrier(&mut alice);
    send(&mut bob, "/join 168");
    expect(&mut bob, "No channel named 168 exists. Try '/create 168'?");
    send(&mut bob, "/join 168 tas   ");
    expect(&mut alice, "bob has joined");
    send(&mut bob, "/list");
    expect(&mut bob, "168 tas");
}

#[test]
fn unknown_control_messages_name_their_first_word_only() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let suffix = " is not a valid control message. Valid messages are /create, /list, and /join.";
    for (sent, word) in [
        ("/leave", "/leave"),
        ("/leave now please", "/leave"),
        ("/", "/"),
        ("/LIST", "/LIST"),
    ] {
        send(&mut alice, sent);
        expect(&mut alice, &format!("{word}{suffix}"));
    }
}

#[test]
fn list_is_nothing_when_empty_and_one_sorted_frame_otherwise() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    send(&mut alice, "/list");
    barrier(&mut alice);
    send(&mut alice, "/create zeta");
    send(&mut alice, "/create Alpha");
    send(&mut alice, "/create 168_tas");
    send(&mut alice, "/list");
    expect(&mut alice, "168_tas\nAlpha\nzeta");
    // Words after /list are ignored; channels outlive their members.
    drop(alice);
    let mut bob = named(server.addr(), "bob");
    send(&mut bob, "/list them");
    expect(&mut bob, "168_tas\nAlpha\nzeta");
}

/// The channel names `/list` gives, read up to a barrier's answer.
fn listed(c: &mut Client) -> Vec<String> {
    send(c, "/list");
    send(c, "/join");
    let mut names = Vec::new();
    loop {
        let frame = c.read_bytes(FRAME);
        let text = String::from_utf8(frame).unwrap();
        let text = text.trim_end();
        if text == JOIN_REQUIRES {
            return names;
        }
        names.extend(text.split('\n').map(String::from));
    }
}

#[test]
fn at_the_limit_the_channel_empty_longest_makes_room() {
    const MAX_CHANNELS: usize = 4096;
    let server = start();
    let mut filler = named(server.addr(), "filler");
    // Each /create leaves the channel before it, which stays (channels
    // outlive their members): c0000 to c4094 are empty, c0000 the longest.
    let mut burst = Vec::new();
    for i in 0..MAX_CHANNELS {
        burst.extend(padded(format!("/create c{i:04}").as_bytes()));
    }
    filler.send(&burst);
    barrier(&mut filler);
    // Another user can still create one; the oldest empty channel made room.
    let mut late = named(server.addr(), "late");
    send(&mut late, "/create new");
    barrier(&mut late);
    let names = listed(&mut late);
    assert_eq!(names.len(), MAX_CHANNELS);
    assert!(
        !names.contains(&"c0000".to_string()),
        "c0000 is still there"
    );
    assert!(names.contains(&"c0001".to_string()) && names.contains(&"new".to_string()));
}

#[test]
fn channel_text_reaches_the_other_members_only() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    let mut carol = named(server.addr(), "carol");
    let mut dave = named(server.addr(), "dave");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
    send(&mut carol, "/join tas");
    expect(&mut alice, "carol has joined");
    expect(&mut bob, "carol has joined");
    send(&mut dave, "/create elsewhere");
    send(&mut bob, "Hi everyone!");
    expect(&mut alice, "[bob] Hi everyone!");
    expect(&mut carol, "[bob] Hi everyone!");
    // Not the sender, and not another channel.
    barrier(&mut bob);
    barrier(&mut dave);
    // Nor anyone about their own actions.
    barrier(&mut carol);
}

#[test]
fn leaving_by_join_create_or_disconnect_tells_the_rest() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    let mut carol = named(server.addr(), "carol");
    send(&mut alice, "/create one");
    send(&mut alice, "/create two");
    send(&mut alice, "/join one");
    barrier(&mut alice);
    send(&mut bob, "/join one");
    expect(&mut alice, "bob has joined");
    send(&mut carol, "/join one");
    expect(&mut alice, "carol has joined");
    expect(&mut bob, "carol has joined");

    // By /join: the old channel hears "left", the new one "joined".
    send(&mut bob, "/join two");
    expect(&mut alice, "bob has left");
    expect(&mut carol, "bob has left");
    barrier(&mut bob);

    // By /create: the old channel hears "left"; the new one is empty.
    send(&mut carol, "/create three");
    expect(&mut alice, "carol has left");
    barrier(&mut carol);
    barrier(&mut bob);

    // By disconnecting, even with half a frame sent.
    send(&mut carol, "/join two");
    expect(&mut bob, "carol has joined");
    carol.send(&padded(b"never finished")[..150]);
    drop(carol);
    expect(&mut bob, "carol has left");
    barrier(&mut bob);
    barrier(&mut alice);
}

#[test]
fn a_disconnect_outside_a_channel_tells_nobody_and_frees_the_name() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    send(&mut alice, "/create tas");
    let mut bob = named(server.addr(), "bob");
    barrier(&mut bob);
    bob.shutdown_write();
    bob.expect_closed();
    barrier(&mut alice);
    // The server hangs up and frees the name in one go, and accepts the
    // next connection only after that: the name is free now.
    let mut bob = named(server.addr(), "bob");
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
}

#[test]
fn joining_the_channel_you_are_in_leaves_and_joins_again() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has left");
    expect(&mut alice, "bob has joined");
    barrier(&mut bob);
}

#[test]
fn a_failed_command_changes_nothing() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    send(&mut bob, "/create other");
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
    send(&mut bob, "/join missing");
    expect(
        &mut bob,
        "No channel named missing exists. Try '/create missing'?",
    );
    send(&mut bob, "/create tas");
    expect(&mut bob, "Room tas already exists, so cannot be created.");
    send(&mut bob, "/create");
    expect(&mut bob, CREATE_REQUIRES);
    send(&mut bob, "/nonsense");
    expect(
        &mut bob,
        "/nonsense is not a valid control message. Valid messages are /create, /list, and /join.",
    );
    // Still in tas, and no notices were sent for any of it.
    send(&mut bob, "still here?");
    expect(&mut alice, "[bob] still here?");
    send(&mut alice, "/list");
    expect(&mut alice, "other\ntas");
}

#[test]
fn a_message_too_long_for_a_frame_is_cut_to_fit() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
    let long = "x".repeat(FRAME);
    send(&mut bob, &long);
    // "[bob] " takes 6 of the 200 bytes.
    expect(&mut alice, &format!("[bob] {}", &long[..FRAME - 6]));
    // A character is never split: "é" (2 bytes) would straddle the cut.
    let accented = format!("{}é", "y".repeat(FRAME - 7));
    send(&mut bob, &accented);
    expect(&mut alice, &format!("[bob] {}", "y".repeat(FRAME - 7)));
}

#[test]
fn bytes_that_are_not_utf8_are_relayed_as_they_are() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
    // Only control characters are not relayed (a NUL is a space).
    bob.send(&padded(b"caf\xe9 \xff\xfe\x00ok"));
    expect_bytes(&mut alice, b"[bob] caf\xe9 \xff\xfe ok");
    bob.send(&padded(b"/join \xff"));
    expect_bytes(
        &mut bob,
        b"No channel named \xff exists. Try '/create \xff'?",
    );
    bob.send(&padded(b"/create \xff"));
    expect(&mut bob, CREATE_REQUIRES);
}

/// A small deterministic generator: the same pieces on every run.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// Sends `bytes` in pieces of 1 to 23 bytes. After each piece a barrier on
/// `pacer` (another connection, in no channel) makes the server go round
/// its loop, so the pieces really do reach it in separate reads instead of
/// merging in the socket.
fn send_in_pieces(c: &mut Client, bytes: &[u8], rng: &mut XorShift, pacer: &mut Client) {
    let mut rest = bytes;
    while !rest.is_empty() {
        let n = (1 + rng.below(23)).min(rest.len());
        c.send(&rest[..n]);
        rest = &rest[n..];
        barrier(pacer);
    }
}

#[test]
fn frames_sent_in_small_pieces_are_reassembled() {
    let server = start();
    let mut rng = XorShift(0x5eed_1234_abcd_0001);
    let mut pacer = named(server.addr(), "pacer");
    let mut watcher = named(server.addr(), "watcher");
    let mut splitter = Client::connect(server.addr());
    for text in ["splitter", "/create split"] {
        send_in_pieces(
            &mut splitter,
            &padded(text.as_bytes()),
            &mut rng,
            &mut pacer,
        );
    }
    barrier(&mut splitter);
    send(&mut watcher, "/join split");
    expect(&mut splitter, "watcher has joined");
    for i in 0..5 {
        let text = format!("message {i}:{}", " abc".repeat(i * 9));
        send_in_pieces(
            &mut splitter,
            &padded(text.as_bytes()),
            &mut rng,
            &mut pacer,
        );
        expect(&mut watcher, &format!("[splitter] {text}"));
    }
    // Nothing came back to the splitter for any of it.
    barrier(&mut splitter);
}

#[test]
fn several_frames_in_one_write_are_each_handled() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    let mut bob = Client::connect(server.addr());
    // Name, join, two messages, and the start of a third, in one write.
    let mut burst = Vec::new();
    for text in ["bob", "/join tas", "one", "two"] {
        burst.extend(padded(text.as_bytes()));
    }
    let third = padded(b"three");
    burst.extend(&third[..120]);
    bob.send(&burst);
    expect(&mut alice, "bob has joined");
    expect(&mut alice, "[bob] one");
    expect(&mut alice, "[bob] two");
    barrier(&mut alice);
    bob.send(&third[120..]);
    expect(&mut alice, "[bob] three");
}

#[test]
fn a_frame_of_padding_only_is_ignored() {
    let server = start();
    let mut alice = named(server.addr(), "alice");
    let mut bob = named(server.addr(), "bob");
    send(&mut alice, "/create tas");
    barrier(&mut alice);
    send(&mut bob, "/join tas");
    expect(&mut alice, "bob has joined");
    send(&mut bob, "");
    barrier(&mut bob);
    barrier(&mut alice);
}
