//! `pollchat-bench`: the load generator (issue 8).
//!
//! One process, one `mio` poll, thousands of connections: the same shape
//! as the server it measures, so it can keep up with it. Every workload is
//! bounded in count and in time, talks to loopback addresses only, and
//! ends by itself with a summary for people and one `RESULT` line for
//! scripts.
//!
//! * [`fanout`]: broadcast to many, with every delivery checked for loss,
//!   duplicates, order and latency; against pollchat or Redis pub/sub.
//! * [`dm`]: pairs bouncing direct messages: round trips per second.
//! * [`churn`]: connect, JOIN, QUIT, close: cycles per second.
//! * [`idle`]: many idle connections: the server's memory per connection,
//!   and whether a fresh client is still served promptly.
//!
//! The tool has to be cheaper than what it measures, or it measures
//! itself: it reads into one shared buffer, cuts the usual line without
//! searching it, reads the clock once per read rather than per message,
//! and reports its own CPU time per delivery next to the server's.

mod args;
mod churn;
mod clients;
mod dm;
mod fanout;
mod histogram;
mod idle;
mod net;
mod payload;
mod procstat;
mod report;
mod resp;
mod wire;

use args::{ArgsError, Options, Target, Workload};
use std::net::SocketAddr;
use std::process::ExitCode;
use wire::Wire;

/// The server a run talks to.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub wire: Wire,
    /// Its process, for CPU time and memory from `/proc`.
    pub pid: Option<u32>,
    /// `pollchat` or `redis`, for the reports.
    pub name: &'static str,
}

/// The users a spawned server must admit for a workload.
fn users_needed(o: &Options) -> usize {
    match o.workload {
        Workload::Fanout => o.clients,
        Workload::Dm => 2 * o.pairs,
        Workload::Churn => o.concurrency.unwrap_or(churn::DEFAULT_CONCURRENCY),
        Workload::Idle => 1,
    }
}

/// Runs the command line; see `pollchat-bench --help`.
fn main() -> ExitCode {
    let o = match args::parse(std::env::args_os().skip(1)) {
        Ok(o) => o,
        Err(ArgsError::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(ArgsError::Invalid(message)) => {
            eprintln!("pollchat-bench: {message}");
            eprintln!("(pollchat-bench --help lists the workloads and options)");
            return ExitCode::from(2);
        }
    };
    match run(&o) {
        Ok(report) => {
            report.print();
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("pollchat-bench: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one workload against the target the options name, starting (and
/// afterwards stopping) a server if asked to.
fn run(o: &Options) -> Result<report::Report, String> {
    // A spawned server inherits our limit on open files: raise it first,
    // for its sockets as well as ours.
    let sockets = match o.workload {
        Workload::Fanout => o.clients,
        Workload::Dm => 2 * o.pairs,
        Workload::Churn => o.concurrency.unwrap_or(churn::DEFAULT_CONCURRENCY),
        Workload::Idle => o.connections,
    };
    procstat::raise_open_files(sockets as u64 + 256);
    let spawned;
    let endpoint = match &o.target {
        Target::Spawn(bin) => {
            let bin = bin.clone().unwrap_or_else(net::sibling_server_bin);
            spawned = net::SpawnedServer::start(&bin, users_needed(o))
                .map_err(|e| format!("cannot start the server: {e}"))?;
            Endpoint {
                addr: spawned.addr,
                wire: Wire::Mesg,
                pid: Some(spawned.pid()),
                name: "pollchat",
            }
        }
        Target::Pollchat(addr) => Endpoint {
            addr: *addr,
            wire: Wire::Mesg,
            pid: o.server_pid,
            name: "pollchat",
        },
        Target::Redis(addr) => Endpoint {
            addr: *addr,
            wire: Wire::Redis,
            pid: o.server_pid,
            name: "redis",
        },
    };
    match o.workload {
        Workload::Fanout => fanout::run(o, &endpoint),
        Workload::Dm => dm::run(o, &endpoint),
        Workload::Churn => churn::run(o, &endpoint),
        Workload::Idle => idle::run(o, &endpoint),
    }
}
