//! The `channels` client binary, driven through pipes as a grader drives
//! it: lines are written to its stdin, and its stdout is compared exactly,
//! both as written and with every `[Me]` removed.
//!
//! Every wait is for output that must come (with a timeout); a client is
//! ended by closing its stdin, after which it prints what the server still
//! sends and exits when the server hangs up.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Instant;

const FRAME: usize = 200;
/// What the client prints for each message from the server: the prompt
/// rubbed out, the message, a new prompt.
const WIPE: &str = "\r    \r";

/// What a client has printed so far, and whether its stdout has closed.
#[derive(Default)]
struct Output {
    state: Mutex<(Vec<u8>, bool)>,
    changed: Condvar,
}

struct ChatClient {
    child: Child,
    stdin: Option<ChildStdin>,
    output: Arc<Output>,
}

impl ChatClient {
    fn start(name: &str, addr: SocketAddr) -> ChatClient {
        let port = addr.port().to_string();
        let mut child = Command::new(CLIENT_BIN)
            .args(["channels", name, "127.0.0.1", &port])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start pollchat-client");
        let mut stdout = child.stdout.take().unwrap();
        let output = Arc::new(Output::default());
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            loop {
                let n = stdout.read(&mut chunk).unwrap_or(0);
                let mut state = sink.state.lock().unwrap();
                if n == 0 {
                    state.1 = true;
                } else {
                    state.0.extend_from_slice(&chunk[..n]);
                }
                sink.changed.notify_all();
                if n == 0 {
                    return;
                }
            }
        });
        ChatClient {
            stdin: child.stdin.take(),
            child,
            output,
        }
    }

    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        stdin.write_all(format!("{line}\n").as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// Waits until the client has printed as much as `want`, then checks
    /// that what it printed is exactly `want`.
    fn expect_output(&self, want: &str) {
        let deadline = Instant::now() + TIMEOUT;
        let mut state = self.output.state.lock().unwrap();
        while state.0.len() < want.len() && !state.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out; have {:?}, want {want:?}",
                String::from_utf8_lossy(&state.0)
            );
            state = self.output.changed.wait_timeout(state, left).unwrap().0;
        }
        assert_eq!(String::from_utf8_lossy(&state.0), want);
    }

    /// Closes stdin, waits for the client to exit, and checks everything it
    /// printed, before and after removing every `[Me]`.
    fn finish(mut self, want: &str, without_prompts: &str) -> ExitStatus {
        drop(self.stdin.take());
        self.finish_open(want, without_prompts)
    }

    /// Waits for the client to exit on its own; checks as `finish` does.
    fn finish_open(mut self, want: &str, without_prompts: &str) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        let mut state = self.output.state.lock().unwrap();
        while !state.1 {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "client did not exit");
            state = self.output.changed.wait_timeout(state, left).unwrap().0;
        }
        let printed = String::from_utf8_lossy(&state.0).into_owned();
        drop(state);
        assert_eq!(printed, want);
        assert_eq!(printed.replace("[Me]", ""), without_prompts);
        // Its stdout is closed: the process is exiting, so this returns.
        self.child.wait().unwrap()
    }
}

impl Drop for ChatClient {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn two_clients_talk_in_a_channel() {
    let server = Server::start(&["--protocol", "channels"]);
    let gone = format!("Server at {} has disconnected\n", server.addr());

    let mut alice = ChatClient::start("Alice", server.addr());
    alice.expect_output("[Me] ");
    alice.type_line("/create tas");
    // /list answers, so Alice's channel exists before Kay looks for it.
    alice.type_line("/list");
    let mut a = format!("[Me] [Me] [Me] {WIPE}tas\n[Me] ");
    alice.expect_output(&a);

    let mut kay = ChatClient::start("Kay", server.addr());
    kay.expect_output("[Me] ");
    kay.type_line("/join tas");
    a += &format!("{WIPE}Kay has joined\n[Me] ");
    alice.expect_output(&a);

    kay.type_line("Hi!");
    a += &format!("{WIPE}[Kay] Hi!\n[Me] ");
    alice.expect_output(&a);

    alice.type_line("Hello!");
    let k = format!("[Me] [Me] [Me] {WIPE}[Alice] Hello!\n[Me] ");
    kay.expect_output(&k);
    a += "[Me] ";
    alice.expect_output(&a);

    // Kay leaves first, so Alice hears of it.
    let status = kay.finish(
        &format!("{k}{WIPE}{gone}"),
        &format!("   {WIPE}[Alice] Hello!\n {WIPE}{gone}"),
    );
    assert!(status.success());
    a += &format!("{WIPE}Kay has left\n[Me] ");
    alice.expect_output(&a);

    let status = alice.finish(
        &format!("{a}{WIPE}{gone}"),
        &format!(
            "   {WIPE}tas\n {WIPE}Kay has joined\n {WIPE}[Kay] Hi!\n  {WIPE}Kay has left\n {WIPE}{gone}"
        ),
    );
    assert!(status.success());
}

#[test]
fn errors_from_the_server_are_printed_as_they_come() {
    let server = Server::start(&["--protocol", "channels"]);
    let mut panda = ChatClient::start("Panda", server.addr());
    panda.type_line("Hello world!");
    let mut out = format!(
        "[Me] [Me] {WIPE}Not currently in any channel. Must join a channel before sending messages.\n[Me] "
    );
    panda.expect_output(&out);
    panda.type_line("/list");
    panda.type_line("/join");
    out += &format!(
        "[Me] [Me] {WIPE}/join command must be followed by the name of a channel to join.\n[Me] "
    );
    panda.expect_output(&out);
    panda.type_line("/create 168_tas");
    panda.type_line("/create 168_tas");
    out += &format!("[Me] [Me] {WIPE}Room 168_tas already exists, so cannot be created.\n[Me] ");
    panda.expect_output(&out);

    // A second client with the same name is turned away.
    let gone = format!("Server at {} has disconnected\n", server.addr());
    let twin = ChatClient::start("Panda", server.addr());
    let status = twin.finish_open(
        &format!("[Me] {WIPE}Name Panda is already in use.\n[Me] {WIPE}{gone}"),
        &format!(" {WIPE}Name Panda is already in use.\n {WIPE}{gone}"),
    );
    assert!(status.success());
}

#[test]
fn no_server_means_unable_to_connect() {
    // A port that was free a moment ago and has no listener now.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let client = ChatClient::start("Panda", addr);
    let want = format!("Unable to connect to 127.0.0.1:{port}\n");
    let status = client.finish(&want, &want);
    assert_eq!(status.code(), Some(1));
}

/// `text` padded with spaces to a whole frame.
fn padded(text: &[u8]) -> Vec<u8> {
    let mut frame = text.to_vec();
    frame.resize(FRAME, b' ');
    frame
}

fn read_frame(peer: &mut TcpStream) -> Vec<u8> {
    let mut frame = vec![0; FRAME];
    peer.read_exact(&mut frame).expect("a whole frame");
    frame
}

/// A stand-in server shows exactly what the client puts on the wire, and
/// feeds it frames cut at awkward places.
#[test]
fn the_client_speaks_whole_frames_both_ways() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = ChatClient::start("Panda", addr);
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();

    // The name, then each typed line: one frame each, cut to fit.
    assert_eq!(read_frame(&mut peer), padded(b"Panda"));
    client.type_line(&"x".repeat(300));
    assert_eq!(read_frame(&mut peer), vec![b'x'; FRAME]);
    client.type_line("/join 168_tas");
    assert_eq!(read_frame(&mut peer), padded(b"/join 168_tas"));
    let mut out = String::from("[Me] [Me] [Me] ");
    client.expect_output(&out);

    // Half a frame prints nothing; the rest of it, a second frame and the
    // start of a third print two messages; the third's end prints it.
    let mut stream = padded(b"A");
    stream.extend(padded(b"Alice has joined"));
    stream.extend(padded(b"[Alice] hi"));
    peer.write_all(&stream[..150]).unwrap();
    client.type_line("sync");
    assert_eq!(read_frame(&mut peer), padded(b"sync"));
    out += "[Me] ";
    client.expect_output(&out);
    peer.write_all(&stream[150..500]).unwrap();
    out += &format!("{WIPE}A\n[Me] {WIPE}Alice has joined\n[Me] ");
    client.expect_output(&out);
    peer.write_all(&stream[500..]).unwrap();
    out += &format!("{WIPE}[Alice] hi\n[Me] ");
    client.expect_output(&out);

    // When stdin ends the client stops sending, still prints what comes,
    // and goes when the server does; half a frame at the end is dropped.
    drop(client.stdin.take());
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "nothing more was sent");
    let mut last = padded(b"bye");
    last.extend(&padded(b"cut short")[..100]);
    peer.write_all(&last).unwrap();
    drop(peer);
    let gone = format!("{WIPE}Server at {addr} has disconnected\n");
    let status = client.finish_open(
        &format!("{out}{WIPE}bye\n[Me] {gone}"),
        &format!("    {WIPE}A\n {WIPE}Alice has joined\n {WIPE}[Alice] hi\n {WIPE}bye\n {gone}"),
    );
    assert!(status.success());
}

/// A server that never closes, not even after the client's half-close:
/// once input has ended, the client leaves when the server has been quiet
/// a few seconds, with no disconnect line (nobody disconnected).
#[test]
fn after_input_ends_a_server_that_never_closes_is_left_once_quiet() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = ChatClient::start("Panda", listener.local_addr().unwrap());
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert_eq!(read_frame(&mut peer), padded(b"Panda"));
    peer.write_all(&padded(b"welcome")).unwrap();
    let out = format!("[Me] {WIPE}welcome\n[Me] ");
    client.expect_output(&out);
    drop(client.stdin.take());
    // The client's half-close; the server stays.
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).unwrap();
    let status = client.finish_open(&out, &format!(" {WIPE}welcome\n "));
    assert!(status.success());
    drop(peer);
}

/// Several public servers answer an empty `/list` with a frame of 200
/// spaces: no message, so nothing is printed for it (as the reference
/// clients print nothing).
#[test]
fn a_frame_of_padding_alone_prints_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut client = ChatClient::start("Panda", addr);
    let (mut peer, _) = listener.accept().unwrap();
    peer.set_read_timeout(Some(TIMEOUT)).unwrap();
    assert_eq!(read_frame(&mut peer), padded(b"Panda"));
    client.type_line("/list");
    assert_eq!(read_frame(&mut peer), padded(b"/list"));
    let mut answers = padded(b"");
    answers.extend(padded(b"bye"));
    peer.write_all(&answers).unwrap();
    drop(peer);
    let gone = format!("{WIPE}Server at {addr} has disconnected\n");
    let status = client.finish(
        &format!("[Me] [Me] {WIPE}bye\n[Me] {gone}"),
        &format!("  {WIPE}bye\n {gone}"),
    );
    assert!(status.success());
}
