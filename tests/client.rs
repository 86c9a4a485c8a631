//! `pollchat-client` (the `mesg` front end) driven through pipes against the
//! real server.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;

fn client(port: u16) -> Command {
    let mut cmd = Command::new(CLIENT_BIN);
    cmd.args(["127.0.0.1", &port.to_string()]);
    cmd
}

/// Waits for the client to exit (it must, by itself) and returns its output.
fn finish(child: Child) -> Output {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    rx.recv_timeout(TIMEOUT)
        .expect("client did not exit")
        .expect("wait")
}

fn stdout_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

fn run_with_stdin(port: u16, input: &[u8]) -> Output {
    let mut child = client(port)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    finish(child)
}

#[test]
fn typed_lines_are_sent_and_every_reply_printed_until_the_server_closes() {
    let server = Server::start(&[]);
    let port = server.addr().port();
    let out = run_with_stdin(port, b"JOIN ann\nLIST\nMESG nobody hi\nQUIT\n");
    assert_eq!(out.status.code(), Some(0));
    let lines = stdout_lines(&out);
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert_eq!(
        lines[..3],
        ["JOIN ann Request Accepted", "USERNAME\tFD", RULE]
    );
    assert!(lines[3].starts_with("ann\t"), "{lines:?}");
    assert_eq!(
        lines[4..],
        [
            RULE.to_string(),
            "Unknown Recipient (nobody). MESG Discarded.".to_string(),
            format!("Server at 127.0.0.1:{port} has disconnected"),
        ]
    );
}

#[test]
fn stdin_from_a_regular_file_works() {
    let server = Server::start(&[]);
    let port = server.addr().port();
    let path = std::env::temp_dir().join(format!("pollchat-client-input-{}", std::process::id()));
    std::fs::write(&path, b"PING\nJOIN file\nQUIT\n").unwrap();
    let child = client(port)
        .stdin(std::fs::File::open(&path).unwrap())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let out = finish(child);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout_lines(&out),
        [
            "PONG",
            "JOIN file Request Accepted",
            &format!("Server at 127.0.0.1:{port} has disconnected")
        ]
    );
}

#[test]
fn end_of_input_without_quit_still_prints_the_replies() {
    let server = Server::start(&[]);
    let port = server.addr().port();
    // No newline after the last command either.
    let out = run_with_stdin(port, b"JOIN eof\nPING");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout_lines(&out),
        [
            "JOIN eof Request Accepted",
            "PONG",
            &format!("Server at 127.0.0.1:{port} has disconnected")
        ]
    );
}

#[test]
fn messages_are_printed_as_they_arrive_while_idle() {
    let server = Server::start(&[]);
    let port = server.addr().port();
    let mut child = client(port)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let next = || rx.recv_timeout(TIMEOUT).expect("a line from the client");
    stdin.write_all(b"JOIN idle\n").unwrap();
    assert_eq!(next(), "JOIN idle Request Accepted");
    let mut other = joined(server.addr(), "other");
    other.send_line("MESG idle are you there?");
    assert_eq!(next(), "FROM other: are you there?");
    other.send_line("BCST and again");
    assert_eq!(next(), "FROM other: and again");
    drop(stdin);
    assert_eq!(
        next(),
        format!("Server at 127.0.0.1:{port} has disconnected")
    );
    assert_eq!(finish(child).status.code(), Some(0));
}

#[test]
fn a_refused_connection_is_reported() {
    // A port that was free a moment ago and has nothing listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = run_with_stdin(port, b"");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_lines(&out),
        [format!("Unable to connect to 127.0.0.1:{port}")]
    );
}

#[test]
fn the_shared_stdin_is_never_made_non_blocking() {
    // On a terminal fds 0, 1 and 2 share one description with the shell:
    // O_NONBLOCK on it would make stdout fail under a burst of output. The
    // client reads its own non-blocking copy instead.
    let server = Server::start(&[]);
    let mut fds = [0; 2];
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // Our copy of the read end shares its description with the client's stdin.
    let ours = read_end.try_clone().unwrap();
    let flags = || unsafe { libc::fcntl(ours.as_raw_fd(), libc::F_GETFL) };
    let mut child = client(server.addr().port())
        .stdin(Stdio::from(read_end))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = std::fs::File::from(write_end);
    input.write_all(b"JOIN flags\n").unwrap();
    // Once it has answered, the client is in its loop, reading stdin.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "JOIN flags Request Accepted\n");
    assert_eq!(flags() & libc::O_NONBLOCK, 0);
    input.write_all(b"QUIT\n").unwrap();
    drop(input);
    let out = finish(child);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(flags() & libc::O_NONBLOCK, 0);
}

/// A server as students write and grade it with telnet (one public UNT
/// `prog3svr.c`): it takes the last two bytes of every line for telnet's
/// CR LF and cuts them off. Sent LF alone, `JOIN alice` would register
/// `alic` and `QUIT` would be an unknown `QUI`.
#[test]
fn lines_end_in_cr_lf_as_telnet_sends_them() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut out = conn.try_clone().unwrap();
        let mut received = Vec::new();
        for line in BufReader::new(conn).split(b'\n') {
            let line = line.expect("read from the client");
            // `split` took the LF; the student's code cuts one more byte.
            let text = String::from_utf8_lossy(&line[..line.len().saturating_sub(1)]).into_owned();
            received.push(String::from_utf8_lossy(&line).into_owned());
            match text.split_once(' ') {
                Some(("JOIN", name)) => {
                    write!(out, "JOIN {name} Request Accepted\r\n").unwrap();
                }
                _ if text == "QUIT" => break,
                _ => out.write_all(b"Unknown Message\r\n").unwrap(),
            }
        }
        received
    });
    // A typed CR LF, and a last line with no end at all: both go out
    // ended in CR LF.
    let out = run_with_stdin(port, b"JOIN alice\r\nQUIT");
    assert_eq!(
        stdout_lines(&out),
        [
            "JOIN alice Request Accepted",
            &format!("Server at 127.0.0.1:{port} has disconnected")
        ]
    );
    assert_eq!(server.join().unwrap(), ["JOIN alice\r", "QUIT\r"]);
}

/// A server as a whole course writes it (Sacramento State CSC138, UNT):
/// each `recv` is one command, and a command counts only if it ends in
/// telnet's CR LF. MESG and BCST get no reply; QUIT closes. Returns its
/// port and, once it closes, every `recv` it made.
fn one_recv_per_command_server() -> (u16, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut received = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n @ 1..) = conn.read(&mut buf) {
            let got = String::from_utf8_lossy(&buf[..n]).into_owned();
            received.push(got.clone());
            let reply = match got.strip_suffix("\r\n") {
                Some("QUIT") => break,
                Some(cmd) if cmd.starts_with("MESG ") || cmd.starts_with("BCST ") => continue,
                Some("JOIN ann") => "JOIN ann Request Accepted\r\n".to_string(),
                Some("LIST") => format!("USERNAME\tFD\r\n{RULE}\r\nann\t4\r\n{RULE}\r\n"),
                Some("PING") => "PONG\r\n".to_string(),
                _ => "Unknown Message\r\n".to_string(),
            };
            conn.write_all(reply.as_bytes()).unwrap();
        }
        received
    });
    (port, server)
}

#[test]
fn piped_commands_go_out_one_per_write_each_after_its_reply() {
    let (port, server) = one_recv_per_command_server();
    // The README's kind of script, all in the pipe at once. MESG and BCST
    // are never answered: PING after them still gets its own write.
    let out = run_with_stdin(port, b"JOIN ann\nLIST\nMESG bob hi\nBCST all\nPING\nQUIT\n");
    assert_eq!(
        server.join().unwrap(),
        [
            "JOIN ann\r\n",
            "LIST\r\n",
            "MESG bob hi\r\n",
            "BCST all\r\n",
            "PING\r\n",
            "QUIT\r\n"
        ]
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        stdout_lines(&out),
        [
            "JOIN ann Request Accepted",
            "USERNAME\tFD",
            RULE,
            "ann\t4",
            RULE,
            "PONG",
            &format!("Server at 127.0.0.1:{port} has disconnected")
        ]
    );
}

/// A server that answers late and never closes, not even when the client
/// has shut its side down (many student servers ignore a half-close).
/// It keeps the connection open until `hold` is dropped; returns its port.
fn never_closing_server(hold: mpsc::Receiver<()>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut out = conn.try_clone().unwrap();
        let mut lines = BufReader::new(conn).lines();
        assert_eq!(lines.next().unwrap().unwrap(), "JOIN ann");
        // A slow server, not synchronisation: the reply comes after the
        // client's input has ended, and must still be printed.
        std::thread::sleep(std::time::Duration::from_secs(1));
        out.write_all(b"JOIN ann Request Accepted\r\n").unwrap();
        // The client's half-close, then nothing: the socket stays open.
        assert!(lines.next().is_none());
        let _ = hold.recv();
    });
    port
}

#[test]
fn after_input_ends_a_server_that_never_closes_is_left_once_quiet() {
    let (hold, held) = mpsc::channel();
    let port = never_closing_server(held);
    let out = run_with_stdin(port, b"JOIN ann\n");
    drop(hold);
    assert_eq!(out.status.code(), Some(0));
    // No disconnect line: the server did not disconnect.
    assert_eq!(stdout_lines(&out), ["JOIN ann Request Accepted"]);
}

/// A server that prompts without a line end, as telnet-era servers do
/// (`Enter name: `), reads the answer, and ends with a last line of no
/// line end either before it closes (two public CSC138 servers do both).
fn prompting_server(last: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(TIMEOUT)).unwrap();
        conn.write_all(b"Enter name: ").unwrap();
        let mut name = String::new();
        BufReader::new(conn.try_clone().unwrap())
            .read_line(&mut name)
            .unwrap();
        assert_eq!(name, "ann\r\n");
        conn.write_all(last).unwrap();
    });
    port
}

#[test]
fn a_last_line_without_a_line_end_is_printed_when_the_server_closes() {
    let port = prompting_server(b"Hello ann, bye");
    let out = run_with_stdin(port, b"ann\n");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Enter name: Hello ann, bye\nServer at 127.0.0.1:{port} has disconnected\n")
    );
}

#[test]
fn a_prompt_without_a_line_end_shows_at_once_and_its_line_only_once() {
    let port = prompting_server(b"welcome!\r\n");
    let mut child = client(port)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut chunk) {
            if tx.send(chunk[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    // The prompt must be on the screen before anyone can answer it.
    let mut seen = Vec::new();
    while seen != b"Enter name: " {
        assert!(seen.len() < 12, "{:?}", String::from_utf8_lossy(&seen));
        seen.extend(rx.recv_timeout(TIMEOUT).expect("the prompt, shown"));
    }
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"ann\n").unwrap();
    drop(stdin);
    // The rest of the prompt's line comes after the answer: the line is
    // on the screen once, prompt and rest.
    while let Ok(more) = rx.recv_timeout(TIMEOUT) {
        seen.extend(more);
    }
    assert_eq!(
        String::from_utf8_lossy(&seen),
        format!("Enter name: welcome!\nServer at 127.0.0.1:{port} has disconnected\n")
    );
    assert_eq!(finish(child).status.code(), Some(0));
}
