//! The command line of `pollchat-bench`.

use lexopt::prelude::*;
use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: pollchat-bench <workload> (--spawn | --addr HOST:PORT | --redis HOST:PORT) [options]

Load generator for pollchat (and, for fanout, Redis pub/sub). Every run is
bounded in messages and time, talks to this machine only, and exits by
itself, printing a summary and one machine-readable RESULT line.

workloads:
  fanout   --clients N registered clients, --senders K of them broadcasting;
           every client checks every delivery (loss, duplicates, order) and
           its latency
  dm       --pairs P pairs of clients bouncing MESG back and forth
  churn    connect, JOIN, QUIT, close, as fast as possible
  idle     open --connections N, then measure the server's memory per
           connection and whether a fresh client still gets PONG promptly

target (one of):
  --spawn              start pollchat-server on 127.0.0.1 (stopped at the end)
  --server-bin PATH    the server to --spawn (default: next to this binary)
  --addr HOST:PORT     a pollchat-server already running (mesg dialect)
  --redis HOST:PORT    fanout through Redis SUBSCRIBE/PUBLISH instead
  --server-pid PID     the server's pid, for its CPU time and memory

options:
  --clients N          fanout clients (default 10)
  --senders K          fanout clients that broadcast (default: all)
  --size BYTES         payload size (default 64, at least 32)
  --messages M         per sender (fanout) or per pair (dm) (default 1000)
  --window W           messages a sender may have in flight, not yet seen by
                       every receiver (default: fanout 8, dm 1 per pair)
  --rate R             fanout: each sender sends R messages per second
  --flood              fanout: send as fast as the server takes them
  --duration SECS      stop sending after this long (default 10)
  --pairs P            dm pairs (default 10)
  --cycles C           churn cycles (default 100000)
  --concurrency C      churn cycles at once (default 8); idle connects
                       in progress at once (default 100)
  --connections N      idle connections (default 1000)
  --protocol mesg      dm dialect (hello SEND lands with the hello dialect)
  -h, --help           print this help";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Fanout,
    Dm,
    Churn,
    Idle,
}

/// How fast senders send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// At most this many own messages in flight (not yet seen by every
    /// receiver): the closed-loop way to find the highest rate the server
    /// sustains without queueing without bound.
    Window(u32),
    /// This many messages per second per sender, whatever happens: the
    /// open-loop way to measure latency at a given load.
    Rate(f64),
    /// As fast as the server's socket takes them.
    Flood,
}

/// Where the load goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Start a pollchat-server for this run.
    Spawn(Option<PathBuf>),
    /// A pollchat-server already listening (mesg dialect).
    Pollchat(SocketAddr),
    /// A Redis server (fanout only).
    Redis(SocketAddr),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub workload: Workload,
    pub target: Target,
    pub server_pid: Option<u32>,
    pub clients: usize,
    pub senders: Option<usize>,
    pub size: usize,
    pub messages: u32,
    /// `None`: the workload's own default.
    pub pace: Option<Pace>,
    pub duration: Duration,
    pub pairs: usize,
    pub cycles: u64,
    pub concurrency: Option<usize>,
    pub connections: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgsError {
    Help,
    Invalid(String),
}

impl From<lexopt::Error> for ArgsError {
    fn from(e: lexopt::Error) -> ArgsError {
        ArgsError::Invalid(e.to_string())
    }
}

fn text(value: OsString) -> String {
    value.to_string_lossy().into_owned()
}

fn number<T: std::str::FromStr + PartialOrd + Default>(
    option: &str,
    value: OsString,
) -> Result<T, ArgsError> {
    let text = text(value);
    match text.parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(ArgsError::Invalid(format!(
            "invalid {option} '{text}': expected a positive number"
        ))),
    }
}

/// Resolves `HOST:PORT`, refusing anything but this machine: a load
/// generator pointed elsewhere by a typo is a flood on someone's network.
pub fn loopback_addr(option: &str, value: &str) -> Result<SocketAddr, ArgsError> {
    let addr = value
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| ArgsError::Invalid(format!("invalid {option} '{value}': want HOST:PORT")))?;
    if !addr.ip().is_loopback() {
        return Err(ArgsError::Invalid(format!(
            "{option} {addr}: only loopback addresses (127.0.0.0/8, ::1) are allowed"
        )));
    }
    Ok(addr)
}

pub fn parse<I>(args: I) -> Result<Options, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    let mut workload = None;
    let mut spawn = false;
    let mut server_bin = None;
    let mut target = None;
    let mut o = Options {
        workload: Workload::Fanout,
        target: Target::Spawn(None),
        server_pid: None,
        clients: 10,
        senders: None,
        size: 64,
        messages: 1000,
        pace: None,
        duration: Duration::from_secs(10),
        pairs: 10,
        cycles: 100_000,
        concurrency: None,
        connections: 1000,
    };
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(ArgsError::Help),
            Long("spawn") => spawn = true,
            Long("server-bin") => server_bin = Some(PathBuf::from(parser.value()?)),
            Long("addr") => {
                let addr = loopback_addr("--addr", &text(parser.value()?))?;
                target = Some(Target::Pollchat(addr));
            }
            Long("redis") => {
                let addr = loopback_addr("--redis", &text(parser.value()?))?;
                target = Some(Target::Redis(addr));
            }
            Long("server-pid") => o.server_pid = Some(number("--server-pid", parser.value()?)?),
            Long("clients") => o.clients = number("--clients", parser.value()?)?,
            Long("senders") => o.senders = Some(number("--senders", parser.value()?)?),
            Long("size") => o.size = number("--size", parser.value()?)?,
            Long("messages") => o.messages = number("--messages", parser.value()?)?,
            Long("window") => o.pace = Some(Pace::Window(number("--window", parser.value()?)?)),
            Long("rate") => o.pace = Some(Pace::Rate(number("--rate", parser.value()?)?)),
            Long("flood") => o.pace = Some(Pace::Flood),
            Long("duration") => {
                let secs: f64 = number("--duration", parser.value()?)?;
                o.duration = Duration::from_secs_f64(secs);
            }
            Long("pairs") => o.pairs = number("--pairs", parser.value()?)?,
            Long("cycles") => o.cycles = number("--cycles", parser.value()?)?,
            Long("concurrency") => o.concurrency = Some(number("--concurrency", parser.value()?)?),
            Long("connections") => o.connections = number("--connections", parser.value()?)?,
            Long("protocol") => {
                let name = text(parser.value()?);
                if name != "mesg" {
                    return Err(ArgsError::Invalid(format!(
                        "--protocol {name}: only mesg for now (hello SEND lands with the hello dialect)"
                    )));
                }
            }
            Value(value) if workload.is_none() => {
                workload = Some(match text(value).as_str() {
                    "fanout" => Workload::Fanout,
                    "dm" => Workload::Dm,
                    "churn" => Workload::Churn,
                    "idle" => Workload::Idle,
                    other => {
                        return Err(ArgsError::Invalid(format!(
                            "unknown workload '{other}': expected fanout, dm, churn or idle"
                        )))
                    }
                })
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    o.workload = workload.ok_or_else(|| ArgsError::Invalid("no workload given".into()))?;
    o.target = match (spawn, target) {
        (true, None) => Target::Spawn(server_bin),
        (false, Some(target)) => target,
        (false, None) => {
            return Err(ArgsError::Invalid(
                "no target: give --spawn, --addr HOST:PORT or --redis HOST:PORT".into(),
            ))
        }
        (true, Some(_)) => {
            return Err(ArgsError::Invalid(
                "--spawn starts its own server: leave out --addr and --redis".into(),
            ))
        }
    };
    if matches!(o.target, Target::Redis(_)) && o.workload != Workload::Fanout {
        return Err(ArgsError::Invalid(
            "--redis is for the fanout workload only".into(),
        ));
    }
    if o.senders.is_some_and(|k| k > o.clients) {
        return Err(ArgsError::Invalid(
            "--senders is more than --clients".into(),
        ));
    }
    if o.clients < 2 && o.workload == Workload::Fanout {
        return Err(ArgsError::Invalid(
            "fanout needs at least 2 clients: a broadcast goes to the others".into(),
        ));
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let o = parse(["fanout", "--spawn"]).unwrap();
        assert_eq!((o.clients, o.size, o.pace), (10, 64, None));
        assert_eq!(o.target, Target::Spawn(None));
        let o = parse([
            "fanout",
            "--redis",
            "127.0.0.1:6379",
            "--clients",
            "100",
            "--senders",
            "1",
            "--rate",
            "100",
        ])
        .unwrap();
        assert_eq!(o.target, Target::Redis("127.0.0.1:6379".parse().unwrap()));
        assert_eq!(
            (o.clients, o.senders, o.pace),
            (100, Some(1), Some(Pace::Rate(100.0)))
        );
    }

    #[test]
    fn only_this_machine_is_a_target() {
        assert!(parse(["fanout", "--addr", "127.0.0.9:1"]).is_ok());
        assert!(matches!(
            parse(["fanout", "--addr", "192.0.2.1:9000"]),
            Err(ArgsError::Invalid(_))
        ));
    }

    #[test]
    fn contradictions_are_refused() {
        for args in [
            vec!["fanout"],
            vec!["--spawn"],
            vec!["dm", "--redis", "127.0.0.1:1"],
            vec!["fanout", "--spawn", "--addr", "127.0.0.1:1"],
            vec!["fanout", "--spawn", "--clients", "3", "--senders", "4"],
            vec!["fanout", "--spawn", "--clients", "1"],
            vec!["fanout", "--spawn", "--window", "0"],
            vec!["dm", "--spawn", "--protocol", "hello"],
            vec!["stress", "--spawn"],
        ] {
            assert!(
                matches!(parse(args.clone()), Err(ArgsError::Invalid(_))),
                "{args:?}"
            );
        }
    }
}
