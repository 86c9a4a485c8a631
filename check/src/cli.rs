//! The command line of `pollchat-check`.

use crate::case::{Dialect, Role};
use crate::report::Format;
use lexopt::prelude::*;
use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

pub const USAGE: &str = "\
usage: pollchat-check server <dialect> (--spawn CMD | --addr HOST:PORT) [options]
       pollchat-check client <dialect> --spawn CMD [--pty] [options]
       pollchat-check list [server|client] [<dialect>] [--markdown]
       pollchat-check mutant <kind> ...        (pollchat-check mutant --help)

Checks a chat server or client against docs/PROTOCOLS.md, rule by rule:
<dialect> is mesg, hello, channels, sendto or miniserv.

server: pollchat-check plays the users. --spawn CMD starts the server for
        every case, on a free port given as {port} (and 127.0.0.1 as
        {host}), e.g.
          --spawn 'python3 server.py --address {host} --port {port}'
        --addr checks a server already running, one case at a time.
client: pollchat-check plays the server and the other users, and starts
        the client for every case with {host} {port} (and {name} for
        channels), e.g.
          --spawn 'python3 client.py {name} {host} {port}'

options:
  --only IDS       run only these cases (comma-separated; an id, an id
                   without its dialect like PR12, a prefix like mesg.join
                   or PR1*, or a tag: a stage, basic, robustness or load,
                   or assignment, choice, state, framing, ...)
  --skip IDS       leave these out (same patterns; e.g. --skip load)
  --ready TEXT     the server is ready once it prints TEXT and listens
                   (default: once it listens; hello also waits for
                   `Server is on` a while)
  --timeout SECS   how long one expected reply may take (default 2)
  --jobs N         cases run at once with --spawn (default 4)
  --pty            give the client a terminal instead of pipes
  --format F       text (default), json, junit, tap, gradescope
  --output FILE    write the report there (text progress still on stdout)
  --verbose        transcripts of passing cases too
  --allow-remote   allow --addr to name a host that is not loopback
  -h, --help       print this help

Exit status: 0 every case passed, 1 some failed, 2 bad usage or the
target could not be started.";

#[derive(Debug, Clone)]
pub enum Target {
    Spawn(String),
    Addr(SocketAddr),
}

#[derive(Debug, Clone)]
pub struct CheckArgs {
    pub role: Role,
    pub dialect: Dialect,
    pub target: Target,
    pub ready: Option<String>,
    pub only: Vec<String>,
    pub skip: Vec<String>,
    pub timeout: Duration,
    pub jobs: usize,
    pub pty: bool,
    pub format: Format,
    pub output: Option<PathBuf>,
    pub verbose: bool,
}

#[derive(Debug)]
pub enum Command {
    Check(CheckArgs),
    List {
        role: Option<Role>,
        dialect: Option<Dialect>,
        /// One Markdown table: ids by dialect, role and stage.
        markdown: bool,
    },
    Mutant(Vec<OsString>),
    Help,
}

fn bad(message: impl Into<String>) -> String {
    message.into()
}

fn dialect(name: &str) -> Result<Dialect, String> {
    Dialect::from_name(name).ok_or_else(|| {
        bad(format!(
            "unknown dialect {name:?} (mesg, hello, channels, sendto, miniserv)"
        ))
    })
}

fn patterns(value: OsString) -> Vec<String> {
    value
        .to_string_lossy()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

/// The value of the option just read.
macro_rules! value {
    ($p:expr) => {
        $p.value().map_err(|e| e.to_string())?
    };
}

pub fn parse(args: Vec<OsString>) -> Result<Command, String> {
    let Some(first) = args.first().map(|a| a.to_string_lossy().into_owned()) else {
        return Err(bad("no command"));
    };
    match first.as_str() {
        "-h" | "--help" | "help" => return Ok(Command::Help),
        "mutant" => return Ok(Command::Mutant(args[1..].to_vec())),
        "list" => return parse_list(&args[1..]),
        "server" | "client" => {}
        other => return Err(bad(format!("unknown command {other:?}"))),
    }
    let role = if first == "server" {
        Role::Server
    } else {
        Role::Client
    };
    let mut p = lexopt::Parser::from_args(args[1..].iter().cloned());
    let mut d = None;
    let mut spawn = None;
    let mut addr = None;
    let mut out = CheckArgs {
        role,
        dialect: Dialect::Mesg,
        target: Target::Spawn(String::new()),
        ready: None,
        only: Vec::new(),
        skip: Vec::new(),
        timeout: Duration::from_secs(2),
        jobs: 4,
        pty: false,
        format: Format::Text,
        output: None,
        verbose: false,
    };
    let mut allow_remote = false;
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') | Long("help") => return Ok(Command::Help),
            Long("spawn") => spawn = Some(value!(p).to_string_lossy().into_owned()),
            Long("addr") => addr = Some(value!(p).to_string_lossy().into_owned()),
            Long("ready") => out.ready = Some(value!(p).to_string_lossy().into_owned()),
            Long("only") => out.only.extend(patterns(value!(p))),
            Long("skip") => out.skip.extend(patterns(value!(p))),
            Long("timeout") => {
                let v = value!(p).to_string_lossy().into_owned();
                let secs: f64 = v
                    .parse()
                    .map_err(|_| bad(format!("--timeout {v:?}: not a number")))?;
                if !(0.05..=600.0).contains(&secs) {
                    return Err(bad("--timeout must be between 0.05 and 600 seconds"));
                }
                out.timeout = Duration::from_secs_f64(secs);
            }
            Long("jobs") => {
                let v = value!(p).to_string_lossy().into_owned();
                out.jobs = v
                    .parse()
                    .ok()
                    .filter(|&n| (1..=64).contains(&n))
                    .ok_or_else(|| bad(format!("--jobs {v:?}: 1 to 64")))?;
            }
            Long("pty") => out.pty = true,
            Long("format") => {
                let v = value!(p).to_string_lossy().into_owned();
                out.format = Format::from_name(&v).ok_or_else(|| {
                    bad(format!(
                        "--format {v:?}: text, json, junit, tap or gradescope"
                    ))
                })?;
            }
            Long("output") => out.output = Some(PathBuf::from(value!(p))),
            Long("verbose") => out.verbose = true,
            Long("allow-remote") => allow_remote = true,
            Value(v) if d.is_none() => d = Some(dialect(&v.to_string_lossy())?),
            _ => return Err(arg.unexpected().to_string()),
        }
    }
    out.dialect =
        d.ok_or_else(|| bad("which dialect? (mesg, hello, channels, sendto, miniserv)"))?;
    out.target = match (spawn, addr, role) {
        (Some(_), Some(_), _) => return Err(bad("--spawn and --addr: one or the other")),
        (Some(cmd), None, _) => {
            let needs: &[&str] = match (role, out.dialect) {
                (Role::Server, _) => &["{port}"],
                (Role::Client, Dialect::Channels) => &["{port}", "{host}", "{name}"],
                (Role::Client, _) => &["{port}", "{host}"],
            };
            if let Some(missing) = needs.iter().find(|n| !cmd.contains(**n)) {
                return Err(bad(format!("--spawn: the command must contain {missing}")));
            }
            Target::Spawn(cmd)
        }
        (None, Some(a), Role::Server) => {
            let resolved = a
                .to_socket_addrs()
                .ok()
                .and_then(|mut it| it.next())
                .ok_or_else(|| bad(format!("--addr {a:?}: not HOST:PORT")))?;
            if !resolved.ip().is_loopback() && !allow_remote {
                return Err(bad(format!(
                    "--addr {resolved} is not a loopback address: pass --allow-remote to check another host"
                )));
            }
            Target::Addr(resolved)
        }
        (None, Some(_), Role::Client) => return Err(bad("a client is always started: --spawn")),
        (None, None, _) => return Err(bad("what to check? --spawn CMD or --addr HOST:PORT")),
    };
    Ok(Command::Check(out))
}

fn parse_list(args: &[OsString]) -> Result<Command, String> {
    let mut role = None;
    let mut dialect_ = None;
    let mut markdown = false;
    for a in args {
        let a = a.to_string_lossy();
        match a.as_ref() {
            "server" => role = Some(Role::Server),
            "client" => role = Some(Role::Client),
            "--markdown" => markdown = true,
            other => dialect_ = Some(dialect(other)?),
        }
    }
    Ok(Command::List {
        role,
        dialect: dialect_,
        markdown,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<OsString> {
        s.iter().map(OsString::from).collect()
    }

    #[test]
    fn a_server_check_with_spawn() {
        let Ok(Command::Check(a)) = parse(args(&[
            "server",
            "hello",
            "--spawn",
            "srv --port {port}",
            "--only",
            "PR1,PR2",
            "--skip",
            "heavy",
            "--timeout",
            "0.5",
            "--format",
            "json",
        ])) else {
            panic!()
        };
        assert_eq!(a.dialect, Dialect::Hello);
        assert_eq!(a.only, ["PR1", "PR2"]);
        assert_eq!(a.skip, ["heavy"]);
        assert_eq!(a.timeout, Duration::from_millis(500));
        assert_eq!(a.format, Format::Json);
    }

    #[test]
    fn remote_addresses_need_to_be_allowed() {
        let e = parse(args(&["server", "mesg", "--addr", "192.0.2.1:9000"])).unwrap_err();
        assert!(e.contains("--allow-remote"), "{e}");
        assert!(parse(args(&[
            "server",
            "mesg",
            "--addr",
            "192.0.2.1:9000",
            "--allow-remote"
        ]))
        .is_ok());
        assert!(parse(args(&["server", "mesg", "--addr", "127.0.0.1:9000"])).is_ok());
    }

    #[test]
    fn placeholders_are_required() {
        let e = parse(args(&["server", "mesg", "--spawn", "srv 9000"])).unwrap_err();
        assert!(e.contains("{port}"), "{e}");
        let e = parse(args(&["client", "channels", "--spawn", "cl {host} {port}"])).unwrap_err();
        assert!(e.contains("{name}"), "{e}");
    }
}
