//! Broken and hostile clients: idle connections, descriptor exhaustion,
//! floods.

mod common;
use common::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[test]
fn a_client_that_never_registers_is_closed_after_the_login_timeout() {
    let server = Server::start(&["--login-timeout", "0.3"]);
    // Registered at once: the login timeout does not apply to it.
    let mut registered = joined(server.addr(), "early");
    let mut silent = Client::connect(server.addr());
    silent.expect_closed();
    server.wait_log("Not registered after");
    // The registered client, older than the silent one, is still served.
    sync(&mut registered);
}

#[test]
fn a_silent_registered_client_is_closed_after_the_idle_timeout() {
    let server = Server::start(&["--idle-timeout", "0.3", "--login-timeout", "0"]);
    let mut c = joined(server.addr(), "sleepy");
    c.expect_closed();
    server.wait_log("Idle for");
    // Its name is free again.
    let _again = joined(server.addr(), "sleepy");
}

#[test]
fn out_of_descriptors_clients_wait_and_are_served_when_others_leave() {
    // 48 descriptors, 32 kept for the server: 16 connections at once.
    let server = Server::start_with(
        &[
            "--address",
            "127.0.0.1",
            "--port",
            "0",
            "--max-users",
            "100",
        ],
        limit_fds(48),
    );
    server.wait_log("up to 16 connections");
    let mut first: Vec<Client> = (0..16)
        .map(|i| joined(server.addr(), &format!("a{i}")))
        .collect();
    // These connect (the kernel queues them) but are not accepted yet.
    let mut waiting: Vec<Client> = (0..8).map(|_| Client::connect(server.addr())).collect();
    for (i, c) in waiting.iter_mut().enumerate() {
        c.send_line(&format!("JOIN b{i}"));
    }
    server.wait_log("not accepting until one closes");
    sync(&mut first[0]);
    // As the first ones leave, the waiting ones are accepted and answered.
    for mut c in first.drain(8..) {
        c.send_line("QUIT");
        c.expect_closed();
    }
    for (i, c) in waiting.iter_mut().enumerate() {
        c.expect_line(&format!("JOIN b{i} Request Accepted"));
    }
    sync(&mut first[0]);
}

#[test]
fn a_waiting_client_is_accepted_when_the_last_connection_closes() {
    // 33 descriptors, 32 kept: one connection at a time.
    let server = Server::start_with(&["--address", "127.0.0.1", "--port", "0"], limit_fds(33));
    server.wait_log("up to 1 connections");
    let mut first = joined(server.addr(), "first");
    let mut second = Client::connect(server.addr());
    second.send_line("JOIN second");
    server.wait_log("not accepting until one closes");
    // Nothing else happens after this close: no event would wake the loop.
    first.send_line("QUIT");
    first.expect_closed();
    second.expect_line("JOIN second Request Accepted");
}

#[test]
fn a_flooding_client_does_not_starve_the_others() {
    let server = Server::start(&["--max-queue", "100000000"]);
    let flooder = joined(server.addr(), "flood");
    let mut calm = joined(server.addr(), "calm");
    let stop = Arc::new(AtomicBool::new(false));
    let flooding = {
        let stop = stop.clone();
        let mut stream = flooder.stream.try_clone().unwrap();
        std::thread::spawn(move || {
            use std::io::Write;
            // Unknown commands: each costs the server a parse and a reply.
            let burst = b"FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD FLOOD\r\n".repeat(1000);
            while !stop.load(Ordering::Relaxed) {
                if stream.write_all(&burst).is_err() {
                    break;
                }
            }
        })
    };
    // The flood never pauses until we have our answers: if the server read
    // the flooder until its socket was empty, these would never come.
    for _ in 0..20 {
        sync(&mut calm);
    }
    stop.store(true, Ordering::Relaxed);
    // Drain the flooder's replies so its writer can finish.
    flooder.stream.shutdown(std::net::Shutdown::Both).unwrap();
    flooding.join().unwrap();
    sync(&mut calm);
}

#[test]
fn a_stderr_nobody_reads_never_blocks_the_server() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    // A port that was free a moment ago: we will not read the Listening line.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(server_bin())
        .args(["--address", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "Server is on\n");
    let stderr = child.stderr.take().unwrap();
    let addr = ([127, 0, 0, 1], port).into();
    // Every PING logs a status line: 5000 of them are far more than a
    // pipe holds. A server that blocked on its log would stop answering.
    let mut c = joined(addr, "chatty");
    for _ in 0..5000 {
        sync(&mut c);
    }
    // Now read stderr: once it drains, the server says what it dropped.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut stderr = BufReader::new(stderr);
        let mut all = String::new();
        let mut buf = Vec::new();
        while let Ok(n) = stderr.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            all.push_str(&String::from_utf8_lossy(&buf));
            buf.clear();
            if all.contains("log lines dropped") {
                let _ = tx.send(all.clone());
            }
        }
        let _ = stderr.read_to_end(&mut buf);
    });
    // A few more log lines, so the count is written once there is room.
    let mut waited = 0;
    let text = loop {
        sync(&mut c);
        match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(text) => break text,
            Err(_) => {
                waited += 1;
                assert!(waited < 100, "no dropped-lines count");
            }
        }
    };
    assert!(
        text.contains("WARN  [pollchat::logger]"),
        "{}",
        &text[text.len().saturating_sub(300)..]
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
