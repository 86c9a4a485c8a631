//! `pollchat-check mutant`: deliberately wrong servers and clients, made
//! from correct ones by a relay that changes what passes (and, for a
//! client, what it prints). Each breaks one class of rules, so the tests
//! can show that the cases meant to catch it fail, and only those;
//! equivalent mutants (`pass`, `split`, `merge`, `crlf`) break nothing and
//! show that the cases do not mistake legal variation for a fault.
//!
//! ```text
//! pollchat-check mutant <kind> --listen HOST:PORT --server CMD   # CMD with {inner_port}
//! pollchat-check mutant <kind> --to HOST:PORT --client CMD       # CMD with {inner_host} {inner_port}
//! pollchat-check mutant --list
//! ```
//!
//! With `--server` the mutant starts the server on a free port of its own
//! and listens on `--listen` in front of it. With `--client` it starts the
//! client against a port of its own and relays to `--to`; what the client
//! prints passes through, with the mutant's port written back as `--to`'s.
//! Either way the mutant and what it started share a process group, so
//! stopping the group stops both.

mod kinds;
mod proxy;

use crate::spawn::fill;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: pollchat-check mutant <kind> --listen HOST:PORT --server CMD
       pollchat-check mutant <kind> --to HOST:PORT --client CMD
       pollchat-check mutant --list

A wrong server (or client) made from a correct one: the mutant starts CMD
and relays its connections, changing what passes. In CMD, {inner_port}
(and {inner_host}) is where the mutant puts the real server, or where the
real client must connect.";

enum Mode {
    Server { listen: SocketAddr, cmd: String },
    Client { to: SocketAddr, cmd: String },
}

fn addr(value: OsString) -> Result<SocketAddr, String> {
    let text = value.to_string_lossy().into_owned();
    text.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("{text:?}: not HOST:PORT"))
}

fn parse(args: Vec<OsString>) -> Result<Option<(&'static kinds::Kind, Mode)>, String> {
    let mut p = lexopt::Parser::from_args(args);
    let (mut kind, mut listen, mut to, mut server, mut client) = (None, None, None, None, None);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("list") => {
                for k in kinds::KINDS {
                    let what = if k.equivalent { "equivalent" } else { "breaks" };
                    let side = match k.side {
                        kinds::Side::Server => "server",
                        kinds::Side::Client => "client",
                        kinds::Side::Both => "both",
                    };
                    println!(
                        "{:<24} {:<7} {:<11} {:<27} {}",
                        k.name,
                        side,
                        what,
                        k.dialects.join(","),
                        k.does
                    );
                }
                return Ok(None);
            }
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(None);
            }
            Long("listen") => listen = Some(addr(p.value().map_err(|e| e.to_string())?)?),
            Long("to") => to = Some(addr(p.value().map_err(|e| e.to_string())?)?),
            Long("server") => server = Some(p.value().map_err(|e| e.to_string())?),
            Long("client") => client = Some(p.value().map_err(|e| e.to_string())?),
            Value(v) if kind.is_none() => {
                let name = v.to_string_lossy().into_owned();
                kind =
                    Some(kinds::find(&name).ok_or_else(|| {
                        format!("no mutant {name:?} (pollchat-check mutant --list)")
                    })?);
            }
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    let kind = kind.ok_or("which mutant? (pollchat-check mutant --list)")?;
    let mode = match (listen, server, to, client) {
        (Some(listen), Some(cmd), None, None) => Mode::Server {
            listen,
            cmd: cmd.to_string_lossy().into_owned(),
        },
        (None, None, Some(to), Some(cmd)) => Mode::Client {
            to,
            cmd: cmd.to_string_lossy().into_owned(),
        },
        _ => return Err("either --listen and --server, or --to and --client".into()),
    };
    let fits = match (&mode, kind.side) {
        (_, kinds::Side::Both) => true,
        (Mode::Server { .. }, side) => side == kinds::Side::Server,
        (Mode::Client { .. }, side) => side == kinds::Side::Client,
    };
    if !fits {
        return Err(format!(
            "{} changes a {}: use it with --{}",
            kind.name,
            if matches!(mode, Mode::Server { .. }) {
                "client"
            } else {
                "server"
            },
            if matches!(mode, Mode::Server { .. }) {
                "client"
            } else {
                "server"
            },
        ));
    }
    Ok(Some((kind, mode)))
}

pub fn main(args: Vec<OsString>) -> ExitCode {
    match parse(args) {
        Ok(None) => ExitCode::SUCCESS,
        Ok(Some((kind, Mode::Server { listen, cmd }))) => server(kind, listen, &cmd),
        Ok(Some((kind, Mode::Client { to, cmd }))) => client(kind, to, &cmd),
        Err(e) => {
            eprintln!("pollchat-check mutant: {e}");
            ExitCode::from(2)
        }
    }
}

fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    use std::os::unix::process::ExitStatusExt;
    let code = status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1);
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// A wrong server: the real one on a port of our own, the mutant in front.
fn server(kind: &'static kinds::Kind, listen: SocketAddr, cmd: &str) -> ExitCode {
    let Ok(inner) = crate::net::free_port() else {
        return ExitCode::from(2);
    };
    let cmdline = fill(
        cmd,
        &[
            ("inner_port", &inner.to_string()),
            ("inner_host", "127.0.0.1"),
        ],
    );
    // In our process group, with our stdout and stderr: `Server is on`
    // passes through.
    let mut child = match Command::new("/bin/sh").arg("-c").arg(&cmdline).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pollchat-check mutant: cannot run {cmdline:?}: {e}");
            return ExitCode::from(2);
        }
    };
    let until = Instant::now() + Duration::from_secs(10);
    // SAFETY: getpgrp cannot fail. The server is in our process group.
    let group = unsafe { libc::getpgrp() } as u32;
    while crate::net::listening_in_group(inner, group) != Some(true) {
        if let Ok(Some(status)) = child.try_wait() {
            return exit_code(status);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            return ExitCode::from(2);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let listener = match TcpListener::bind(listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("pollchat-check mutant: cannot listen on {listen}: {e}");
            let _ = child.kill();
            return ExitCode::from(2);
        }
    };
    let upstream = SocketAddr::from(([127, 0, 0, 1], inner));
    let make = kind.make;
    let serialize = kind.serialize;
    std::thread::spawn(move || proxy::serve(listener, upstream, serialize, make));
    match child.wait() {
        Ok(status) => exit_code(status),
        Err(_) => ExitCode::from(2),
    }
}

/// A wrong client: the real one against our port, the mutant relaying to
/// the server it was meant for.
fn client(kind: &'static kinds::Kind, to: SocketAddr, cmd: &str) -> ExitCode {
    let Ok(listener) = TcpListener::bind("127.0.0.1:0") else {
        return ExitCode::from(2);
    };
    let Ok(ours) = listener.local_addr() else {
        return ExitCode::from(2);
    };
    // Nothing listening there: nothing listens here either, so the client
    // sees its connection refused as it would have.
    let reachable = crate::net::listening(to.port()) != Some(false);
    if reachable {
        let make = kind.make;
        let serialize = kind.serialize;
        std::thread::spawn(move || proxy::serve(listener, to, serialize, make));
    } else {
        drop(listener);
    }
    let cmdline = fill(
        cmd,
        &[
            ("inner_host", "127.0.0.1"),
            ("inner_port", &ours.port().to_string()),
        ],
    );
    let mut child = match Command::new("/bin/sh")
        .arg("-c")
        .arg(&cmdline)
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pollchat-check mutant: cannot run {cmdline:?}: {e}");
            return ExitCode::from(2);
        }
    };
    let Some(mut from) = child.stdout.take() else {
        return ExitCode::from(2);
    };
    let (theirs, mine) = (to.to_string().into_bytes(), ours.to_string().into_bytes());
    let filter = kind.stdout;
    let printer = std::thread::spawn(move || {
        let mut chunk = [0u8; 16 * 1024];
        let mut out = std::io::stdout();
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            let mut text = replace(&chunk[..n], &mine, &theirs);
            if let Some(f) = filter {
                text = f(&text);
            }
            if out.write_all(&text).and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    });
    let status = child.wait();
    let _ = printer.join();
    match status {
        Ok(status) => exit_code(status),
        Err(_) => ExitCode::from(2),
    }
}

fn replace(bytes: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}
