//! The real `pollchat-client hello` driven through pipes, against the real
//! server (and, where the real server cannot be made to say something, a
//! scripted one). Its output is checked line by line, exactly.
//!
//! Each test types a line and waits for the output it must cause before
//! typing the next, so nothing depends on timing; every wait has a timeout.
//! A test ends by closing stdin or typing `!quit`, then waits for the
//! client's stdout to close and checks its exit status.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

const WELCOME: &str = "Welcome to Chat Client. Enter your login:";

/// A running `pollchat-client hello`.
struct Chat {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Lines the client printed, read by a thread so a full pipe never
    /// blocks it; the channel closes when its stdout does.
    out: Receiver<String>,
}

impl Chat {
    fn start(addr: SocketAddr) -> Chat {
        let mut child = Command::new(CLIENT_BIN)
            .args(["hello", "--address", &addr.ip().to_string()])
            .args(["--port", &addr.port().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start pollchat-client");
        let stdout = child.stdout.take().unwrap();
        let (tx, out) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take();
        let mut chat = Chat { child, stdin, out };
        chat.expect(WELCOME);
        chat
    }

    fn type_text(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        stdin.write_all(text.as_bytes()).expect("type");
        stdin.flush().unwrap();
    }

    fn type_line(&mut self, line: &str) {
        self.type_text(&format!("{line}\n"));
    }

    fn expect(&mut self, want: &str) {
        match self.out.recv_timeout(TIMEOUT) {
            Ok(line) => assert_eq!(line, want),
            Err(e) => panic!("waiting for {want:?}: {e:?}"),
        }
    }

    fn expect_lines(&mut self, want: &[&str]) {
        for line in want {
            self.expect(line);
        }
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The client prints nothing more and exits with `code`.
    fn expect_exit(&mut self, code: i32) {
        match self.out.recv_timeout(TIMEOUT) {
            Ok(line) => panic!("unexpected output {line:?}"),
            Err(RecvTimeoutError::Timeout) => panic!("the client did not exit"),
            Err(RecvTimeoutError::Disconnected) => {}
        }
        // Its stdout is closed: it has exited, or is about to.
        let status = self.child.wait().expect("wait for the client");
        assert_eq!(status.code(), Some(code));
    }
}

impl Drop for Chat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(extra: &[&str]) -> Server {
    let mut args = vec!["--protocol", "hello"];
    args.extend_from_slice(extra);
    Server::start(&args)
}

/// A raw protocol user on the real server.
fn user(addr: SocketAddr, name: &str) -> Client {
    let mut c = Client::connect(addr);
    c.send(format!("HELLO-FROM {name}\n").as_bytes());
    assert_eq!(c.read_line_with(b"\n"), format!("HELLO {name}"));
    c
}

fn say(c: &mut Client, line: &str) {
    c.send(format!("{line}\n").as_bytes());
}

fn expect(c: &mut Client, want: &str) {
    assert_eq!(c.read_line_with(b"\n"), want);
}

#[test]
fn logs_in_lists_sends_receives_and_quits() {
    let server = start_server(&[]);
    let mut bob = user(server.addr(), "bob");
    let mut chat = Chat::start(server.addr());
    chat.type_line("alice");
    chat.expect("Successfully logged in as alice!");
    chat.type_line("!who");
    chat.expect_lines(&["There are 2 online users:", "bob", "alice"]);
    chat.type_line("@bob hello  there");
    expect(&mut bob, "DELIVERY alice hello  there");
    chat.expect("The message was sent successfully");
    say(&mut bob, "SEND alice hi back");
    chat.expect("From bob: hi back");
    expect(&mut bob, "SEND-OK");
    chat.type_line("@nobody hi");
    chat.expect("The destination user does not exist");
    chat.type_line("@bob");
    chat.expect("Error: Unknown issue in previous message body.");
    chat.type_line("hello?");
    chat.expect("Unknown command. Use !who, @<username> <message> or !quit.");
    chat.type_line("!quit");
    chat.expect_exit(0);
    // !quit closed the connection, which logged alice out.
    let line = server.wait_log("): HELLO-FROM alice");
    let fd = line
        .split("Client (")
        .nth(1)
        .unwrap()
        .split(')')
        .next()
        .unwrap();
    server.wait_log(&format!("Client ({fd}): Disconnecting User."));
    say(&mut bob, "LIST");
    expect(&mut bob, "LIST-OK bob");
}

#[test]
fn a_refused_name_is_asked_for_again() {
    let server = start_server(&[]);
    let mut alice = user(server.addr(), "alice");
    let mut chat = Chat::start(server.addr());
    chat.type_line("al ice");
    chat.expect("Cannot log in as al ice. That username contains disallowed characters.");
    chat.type_line("alice");
    chat.expect("Cannot log in as alice. That username is already in use.");
    // Letters and digits, but too long for the server.
    let long = "N4".repeat(17);
    chat.type_line(&long);
    chat.expect(&format!(
        "Cannot log in as {long}. That username contains disallowed characters."
    ));
    chat.type_line("bob");
    chat.expect("Successfully logged in as bob!");
    say(&mut alice, "LIST");
    expect(&mut alice, "LIST-OK alice,bob");
    // The local refusal cost no connection; each server refusal one. (The
    // log is read by another thread: wait for the fourth line first.)
    server.wait_log_count("Connection Accepted", 4);
    assert_eq!(server.count_log("Connection Accepted"), 4);
    chat.close_stdin();
    chat.expect_exit(0);
}

#[test]
fn a_full_server_ends_the_client() {
    let server = start_server(&["--max-users", "1"]);
    let _alice = user(server.addr(), "alice");
    let mut chat = Chat::start(server.addr());
    chat.type_line("bob");
    chat.expect("Cannot log in. The server is full!");
    chat.expect_exit(1);
}

#[test]
fn quit_at_the_login_prompt() {
    let server = start_server(&[]);
    let mut chat = Chat::start(server.addr());
    chat.type_line("!quit");
    chat.expect_exit(0);
}

#[test]
fn end_of_input_at_the_login_prompt_exits() {
    let server = start_server(&[]);
    let mut chat = Chat::start(server.addr());
    chat.close_stdin();
    chat.expect_exit(0);
}

#[test]
fn a_piped_script_runs_in_order_and_ends_when_answered() {
    let server = start_server(&[]);
    let mut bob = user(server.addr(), "bob");
    let mut chat = Chat::start(server.addr());
    // All typed at once, then end of input: the lines after a name wait
    // for its answer, even across the reconnect after IN-USE.
    chat.type_text("bob\nalice\n!who\n@bob hi from a script\n");
    chat.close_stdin();
    chat.expect_lines(&[
        "Cannot log in as bob. That username is already in use.",
        "Successfully logged in as alice!",
        "There are 2 online users:",
        "bob",
        "alice",
        "The message was sent successfully",
    ]);
    chat.expect_exit(0);
    expect(&mut bob, "DELIVERY alice hi from a script");
}

/// A scripted server: accepts the client and checks what it sends.
struct Scripted {
    conn: BufReader<TcpStream>,
}

impl Scripted {
    fn accept(listener: &TcpListener) -> Scripted {
        let (conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        conn.set_nodelay(true).unwrap();
        Scripted {
            conn: BufReader::new(conn),
        }
    }

    fn expect(&mut self, want: &str) {
        let mut line = String::new();
        self.conn.read_line(&mut line).expect("read from client");
        assert_eq!(line, format!("{want}\n"));
    }

    fn send(&mut self, bytes: &str) {
        self.conn.get_mut().write_all(bytes.as_bytes()).unwrap();
    }
}

#[test]
fn against_a_scripted_server_replies_print_whole_and_never_raw() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut chat = Chat::start(addr);
    let mut server = Scripted::accept(&listener);
    chat.type_line("alice");
    server.expect("HELLO-FROM alice");
    // The start of a DELIVERY rides along with the login's answer.
    server.send("HELLO alice\r\nDELIV");
    chat.expect("Successfully logged in as alice!");
    server.send("ERY bob hi there\n");
    chat.expect("From bob: hi there");
    chat.type_line("!who");
    server.expect("LIST");
    server.send("LIST-OK bob,");
    server.send("alice\n");
    chat.expect_lines(&["There are 2 online users:", "bob", "alice"]);
    chat.type_line("@bob x");
    server.expect("SEND bob x");
    server.send("NOT-A-REPLY\nBAD-RQST-HDR\n\nHELLO alice\nBAD-RQST-BODY\n");
    chat.expect_lines(&[
        "Error: Unknown issue in previous message header.",
        "Error: Unknown issue in previous message body.",
    ]);
    drop(server);
    chat.expect(&format!("Server at {addr} has disconnected"));
    chat.expect_exit(0);
}

/// A server that takes one `recv` for one message, as many a student's
/// does: two requests in one segment are one bad request to it. It answers
/// the login after `login_delay`. Returns its address and, once the client
/// has gone, every `recv` it made.
fn one_recv_per_message_server(
    login_delay: Duration,
) -> (SocketAddr, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            let reply = match got.as_str() {
                "HELLO-FROM alice\n" => {
                    // A slow server, not synchronisation.
                    std::thread::sleep(login_delay);
                    "HELLO alice\n"
                }
                "LIST\n" => "LIST-OK alice,bob\n",
                "SEND bob hi\n" => "SEND-OK\n",
                _ => "BAD-RQST-HDR\n",
            };
            received.push(got);
            conn.write_all(reply.as_bytes()).unwrap();
        }
        received
    });
    (addr, server)
}

/// Typed all at once, then end of input: every request gets a write of
/// its own, each after the answer to the one before.
fn run_script_one_request_per_write(login_delay: Duration) {
    let (addr, server) = one_recv_per_message_server(login_delay);
    let mut chat = Chat::start(addr);
    chat.type_text("alice\n!who\n@bob hi\n!who\n");
    chat.close_stdin();
    chat.expect_lines(&[
        "Successfully logged in as alice!",
        "There are 2 online users:",
        "alice",
        "bob",
        "The message was sent successfully",
        "There are 2 online users:",
        "alice",
        "bob",
    ]);
    chat.expect_exit(0);
    assert_eq!(
        server.join().unwrap(),
        ["HELLO-FROM alice\n", "LIST\n", "SEND bob hi\n", "LIST\n"]
    );
}

#[test]
fn a_piped_script_goes_out_one_request_per_write() {
    run_script_one_request_per_write(Duration::ZERO);
}

/// A login answered later than the pace (0.5 s): the lines after it wait
/// for the answer all the same, and still go one per write.
#[test]
fn after_a_slow_login_still_one_request_per_write() {
    run_script_one_request_per_write(Duration::from_millis(800));
}

/// A request the server never answers, on a connection it never closes:
/// once input has ended, the client gives up when the server has been
/// quiet a few seconds, instead of waiting for ever.
#[test]
fn after_input_ends_an_unanswered_request_is_given_up_once_the_server_is_quiet() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut chat = Chat::start(listener.local_addr().unwrap());
    let mut server = Scripted::accept(&listener);
    chat.type_text("alice\n!who\n");
    chat.close_stdin();
    server.expect("HELLO-FROM alice");
    server.send("HELLO alice\n");
    chat.expect("Successfully logged in as alice!");
    server.expect("LIST");
    // No LIST-OK, ever, and the connection stays open.
    chat.expect_exit(0);
    drop(server);
}

/// A server that answers `IN-USE` with no LF and closes at once: it is
/// still the answer, so the client says so and asks for the next name on
/// a new connection.
#[test]
fn a_last_answer_without_its_lf_still_counts() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut chat = Chat::start(addr);
    let mut first = Scripted::accept(&listener);
    chat.type_line("bob");
    first.expect("HELLO-FROM bob");
    first.send("IN-USE");
    drop(first);
    chat.expect("Cannot log in as bob. That username is already in use.");
    let mut second = Scripted::accept(&listener);
    chat.type_line("alice");
    second.expect("HELLO-FROM alice");
    second.send("HELLO alice\n");
    chat.expect("Successfully logged in as alice!");
    chat.close_stdin();
    chat.expect_exit(0);
}
