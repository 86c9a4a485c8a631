//! The real `pollchat-client sendto` binary, driven through pipes: what the
//! user types goes to its stdin, what it prints is read from its stdout,
//! line by line with a timeout, against the real server (or, for replies a
//! correct server never sends, a scripted one).
//!
//! Every session ends deterministically: by `exit`, or by closing stdin,
//! after which the client waits for the replies it is owed and exits.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};

/// One running client.
struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Its stdout, a line at a time, collected by a thread; the channel
    /// closes when stdout does, i.e. when the client exits.
    lines: Receiver<String>,
}

impl Chat {
    fn start(addr: SocketAddr) -> Chat {
        let mut child = Command::new(CLIENT_BIN)
            .args(["sendto", &addr.ip().to_string(), &addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pollchat-client");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                let Ok(line) = line else { break };
                if tx
                    .send(String::from_utf8_lossy(&line).into_owned())
                    .is_err()
                {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        Chat {
            child,
            stdin,
            lines,
        }
    }

    /// Types `line` and Enter.
    fn type_line(&mut self, line: &str) {
        self.type_raw(format!("{line}\n").as_bytes());
    }

    fn type_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin already closed");
        stdin.write_all(bytes).expect("write to the client");
        stdin.flush().unwrap();
    }

    /// The next line printed must be `want`.
    fn expect(&self, want: &str) {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => assert_eq!(line, want),
            Err(e) => panic!("waiting for {want:?}: {e:?}"),
        }
    }

    fn expect_lines(&self, want: &[&str]) {
        for line in want {
            self.expect(line);
        }
    }

    /// Ends input, as Ctrl-D would.
    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The client prints nothing more and exits with `code`. Returns what
    /// it wrote on stderr.
    fn expect_exit(mut self, code: i32) -> String {
        match self.lines.recv_timeout(TIMEOUT) {
            Ok(line) => panic!("unexpected output {line:?}"),
            Err(RecvTimeoutError::Timeout) => panic!("the client did not exit"),
            // Stdout closed: the process is ending.
            Err(RecvTimeoutError::Disconnected) => {}
        }
        let status = self.child.wait().unwrap();
        assert_eq!(status.code(), Some(code));
        let mut stderr = String::new();
        let _ = self
            .child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr);
        stderr
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    Server::start(&["--protocol", "sendto"])
}

/// A client that has logged in as `name`.
fn logged_in(server: &Server, name: &str) -> Chat {
    let mut chat = Chat::start(server.addr());
    chat.type_line(&format!("login {name}"));
    chat.expect("Success");
    chat
}

#[test]
fn login_list_sendto_logout_and_exit() {
    let server = start();
    let mut alice = logged_in(&server, "alice");
    let mut bob = logged_in(&server, "bob");
    alice.type_line("list");
    alice.expect_lines(&["alice", "bob"]);
    alice.type_line("sendto bob Hi how are you?");
    bob.expect("alice: Hi how are you?");
    alice.expect("Success");
    bob.type_line("sendto alice  fine,  thanks ");
    alice.expect("bob:  fine,  thanks ");
    bob.expect("Success");
    alice.type_line("logout");
    alice.expect("Success");
    // Still connected: list and login work after logout.
    alice.type_line("list");
    alice.expect("bob");
    alice.type_line("login alice");
    alice.expect("Success");
    alice.type_line("exit");
    alice.expect_exit(0);
    bob.type_line("exit");
    bob.expect_exit(0);
}

#[test]
fn failures_print_failure() {
    let server = start();
    let mut alice = logged_in(&server, "alice");
    let mut other = Chat::start(server.addr());
    other.type_line("login alice");
    other.expect("Failure");
    other.type_line("sendto alice hi");
    other.expect("Failure");
    other.type_line("logout");
    other.expect("Failure");
    alice.type_line("login again");
    alice.expect("Failure");
    alice.type_line("sendto nobody hi");
    alice.expect("Failure");
    alice.type_line("exit");
    alice.expect_exit(0);
    other.type_line("exit");
    other.expect_exit(0);
}

#[test]
fn every_check_prints_its_error_and_sends_nothing() {
    let server = start();
    let mut c = logged_in(&server, "alice");
    let checks = [
        ("login", "Bad username"),
        ("login John Doe", "Bad username"),
        ("login abcdefghijklmnopqrstu", "Bad username"),
        ("sendto", "Bad username"),
        ("sendto JohnHello", "Bad username"),
        ("sendto John ", "Bad username"),
        ("sendto abcdefghijklmnopqrstu hi", "Bad username"),
        ("list bob", "Invalid command"),
        ("logout Joe", "Invalid command"),
        ("exit client", "Invalid command"),
        ("LIST", "Invalid command"),
        ("hello there", "Invalid command"),
    ];
    for (line, error) in checks {
        c.type_line(line);
        c.expect(error);
    }
    let too_long = format!("sendto alice {}", "x".repeat(65536));
    c.type_line(&too_long);
    c.expect("Bad message");
    // The server saw the login and now this LIST, nothing in between.
    c.type_line("list");
    c.expect("alice");
    server.wait_log("): LIST");
    for packet in ["SENDTO", "LOGOUT", "Malformed"] {
        assert_eq!(server.count_log(packet), 0, "{packet} reached the server");
    }
    assert_eq!(server.count_log("LOGIN"), 1);
    c.type_line("exit");
    c.expect_exit(0);
}

#[test]
fn the_longest_message_is_sent_whole() {
    let server = start();
    let mut c = logged_in(&server, "me");
    let longest = "y".repeat(65535);
    c.type_line(&format!("sendto me {longest}"));
    c.expect(&format!("me: {longest}"));
    c.expect("Success");
    c.type_line("exit");
    c.expect_exit(0);
}

#[test]
fn a_message_is_printed_while_the_user_is_typing() {
    let server = start();
    let mut alice = logged_in(&server, "alice");
    let mut bob = logged_in(&server, "bob");
    // Half a command, no Enter yet.
    alice.type_raw(b"sendto bo");
    bob.type_line("sendto alice are you there?");
    alice.expect("bob: are you there?");
    bob.expect("Success");
    alice.type_raw(b"b yes\n");
    bob.expect("alice: yes");
    alice.expect("Success");
    alice.type_line("exit");
    alice.expect_exit(0);
    bob.type_line("exit");
    bob.expect_exit(0);
}

#[test]
fn end_of_input_waits_for_every_reply_then_exits() {
    let server = start();
    let mut c = Chat::start(server.addr());
    // All at once, then end of input: every reply still arrives, in order.
    c.type_raw(b"list\nlogin al\nsendto al note\nlist\nlogout\nlogout\n");
    c.close_stdin();
    c.expect_lines(&["Success", "al: note", "Success", "al", "Success", "Failure"]);
    c.expect_exit(0);
    server.wait_log("Disconnecting User.");
}

#[test]
fn exit_closes_the_connection_and_frees_the_name() {
    let server = start();
    let mut c = logged_in(&server, "alice");
    c.type_line("exit");
    c.expect_exit(0);
    server.wait_log("Disconnecting User.");
    let mut d = logged_in(&server, "alice");
    d.type_line("exit");
    d.expect_exit(0);
}

/// A server that answers each packet the client sends with the next of
/// `replies` (raw bytes), then closes once the replies run out.
fn scripted_server(replies: Vec<Vec<u8>>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        for reply in replies {
            let mut header = [0u8; 5];
            if socket.read_exact(&mut header).is_err() {
                return;
            }
            let len = u32::from_be_bytes([header[1], header[2], header[3], header[4]]);
            let mut body = vec![0; len as usize];
            if socket.read_exact(&mut body).is_err() {
                return;
            }
            socket.write_all(&reply).unwrap();
        }
    });
    addr
}

#[test]
fn every_reply_prints_as_the_seed_says() {
    let response = |code| vec![0x82, 0, 0, 0, 1, code];
    let mut list = vec![0x81, 0, 0, 0, 14, 0, 2];
    list.extend_from_slice(b"\x00\x05alice\x00\x03bob");
    let message = b"\x83\x00\x00\x00\x16\x00\x03Bob\x00\x0fHi how are you?".to_vec();
    let addr = scripted_server(vec![
        response(0),
        response(1),
        response(2),
        list,
        // A message, then a reply to the last command.
        [message, response(0)].concat(),
        // Garbage: no line on stdout, a note on stderr.
        vec![0x82, 0, 0, 0, 1, 9],
    ]);
    let mut c = Chat::start(addr);
    c.type_line("login a");
    c.expect("Success");
    c.type_line("list");
    c.expect("Failure");
    c.type_line("logout");
    c.expect("Malformed packet");
    c.type_line("list");
    c.expect_lines(&["alice", "bob"]);
    c.type_line("sendto Bob hi");
    c.expect_lines(&["Bob: Hi how are you?", "Success"]);
    c.type_line("list");
    // The server closes after its last reply.
    c.expect(&format!("Server at {addr} has disconnected"));
    let stderr = c.expect_exit(0);
    assert!(
        stderr.contains("malformed packet from the server: unknown response code 9"),
        "{stderr}"
    );
}

#[test]
fn no_server_means_unable_to_connect() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let c = Chat::start(addr);
    c.expect(&format!("Unable to connect to {addr}"));
    c.expect_exit(1);
}

#[test]
fn end_of_input_waits_even_for_much_output() {
    let server = start();
    let mut c = Chat::start(server.addr());
    let text = "m".repeat(60_000);
    let mut typed = String::from("login me\n");
    for _ in 0..40 {
        typed.push_str(&format!("sendto me {text}\n"));
    }
    typed.push_str("list\n");
    // Typed from another thread: the client may not read all of it before
    // its output fills the pipe we have not started reading yet.
    let mut stdin = c.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(typed.as_bytes()));
    c.expect("Success");
    let line = format!("me: {text}");
    for _ in 0..40 {
        c.expect(&line);
        c.expect("Success");
    }
    c.expect("me");
    writer.join().unwrap().unwrap();
    c.expect_exit(0);
}

/// A server that answers the login but never the LIST, and never closes:
/// once input has ended, the client stops waiting for the reply when the
/// server has been quiet a few seconds.
#[test]
fn after_input_ends_an_unanswered_packet_is_given_up_once_the_server_is_quiet() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (hold, held) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket.set_read_timeout(Some(TIMEOUT)).unwrap();
        // LOGIN "al" is 9 bytes, LIST 5; only the first is answered.
        let mut login = [0u8; 9];
        socket.read_exact(&mut login).unwrap();
        socket.write_all(&[0x82, 0, 0, 0, 1, 0]).unwrap();
        let mut list = [0u8; 5];
        socket.read_exact(&mut list).unwrap();
        assert_eq!(list, [0x02, 0, 0, 0, 0]);
        let _ = held.recv();
    });
    let mut c = Chat::start(addr);
    c.type_raw(b"login al\nlist\n");
    c.close_stdin();
    c.expect("Success");
    c.expect_exit(0);
    drop(hold);
}
