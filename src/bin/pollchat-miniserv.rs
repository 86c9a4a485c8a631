//! `pollchat-miniserv <port>`: the `miniserv` dialect started the way the
//! 42 subject starts `mini_serv`, so a tester written for `./mini_serv`
//! runs against it unchanged.
//!
//! `pollchat-server` with no port already means its usage line and exit
//! status 2 (graders of the `mesg` assignment look for them), so the
//! subject's own errors live here: no port (or more than one argument) is
//! `Wrong number of arguments`, and any system call failing before the
//! server runs (the port is taken, the port is not a port) is
//! `Fatal error`, each on stderr with exit status 1. Otherwise it is
//! `pollchat-server --protocol miniserv --address 127.0.0.1 <port>`, with
//! every default, except that nothing is printed on stdout: the subject's
//! server prints nothing. Status lines still go to stderr.

use pollchat::dialect::miniserv;
use pollchat::server::{Config, Server};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

const WRONG_ARGUMENTS: &str = "Wrong number of arguments\n";
const FATAL: &str = "Fatal error\n";

/// Writes the subject's error and exits 1.
fn fail(message: &str) -> ExitCode {
    // Status lines are written in batches: any still waiting go first.
    log::logger().flush();
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(message.as_bytes());
    let _ = stderr.flush();
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let [port] = &args[..] else {
        return fail(WRONG_ARGUMENTS);
    };
    // The subject takes the port with atoi(); a number that is no port
    // cannot be bound, which is a failed system call to its server.
    let Some(port) = port.to_str().and_then(|p| p.parse::<u16>().ok()) else {
        return fail(FATAL);
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let config = Config::single(&miniserv::PROTOCOL, addr);
    // Bound before logging starts, so a failure prints the subject's line
    // and nothing else (testers compare stderr).
    let Ok(mut server) = Server::bind(&config) else {
        return fail(FATAL);
    };
    if let Err(e) = pollchat::logger::Logger::init(log::LevelFilter::Info) {
        eprintln!("pollchat-miniserv: cannot start logging: {e}");
    }
    for (protocol, addr) in server.local_addrs() {
        log::info!("Listening on {addr} ({protocol})");
    }
    log::logger().flush();
    match server.run() {
        Ok(()) => {
            log::logger().flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            log::error!("poll failed: {e}");
            fail(FATAL)
        }
    }
}
