//! The command line of `pollchat-server`, and the [`Config`] it describes.
//!
//! The help text is built from the defaults in `limits.rs` and the dialect
//! table, so it can never say one thing while the server does another.

use super::{Config, ListenerConfig};
use crate::cli::{
    parse_count, parse_level, parse_limit, parse_port, parse_protocol, parse_timeout, resolve,
    CliError,
};
use crate::dialect::Protocol;
use crate::limits::{
    DEFAULT_LOGIN_TIMEOUT_SECS, DEFAULT_MAX_PER_IP, DEFAULT_MAX_QUEUE, DEFAULT_MAX_TOTAL_QUEUE,
    DEFAULT_STALL_TIMEOUT_SECS, MINISERV_MIN_QUEUE,
};
use lexopt::prelude::*;
use log::LevelFilter;
use std::ffi::OsString;
use std::time::Duration;

/// The line graders look for when the server is started wrong.
pub const SERVER_USAGE: &str = "usage: pollchat-server <svr_port>";

/// `--help`, and what a start without a port prints after the usage line.
pub fn server_help() -> String {
    let names: Vec<_> = Protocol::ALL.iter().map(|p| p.name).collect();
    let limits: Vec<_> = Protocol::ALL
        .iter()
        .map(|p| match p.default_max_users {
            usize::MAX => format!("{} none", p.name),
            n => format!("{} {n}", p.name),
        })
        .collect();
    let limits = wrap(&limits.join(", "), 23, 54);
    let protocols = format!(
        "protocol to speak: {} (default {})",
        names.join(", "),
        Protocol::DEFAULT.name
    );
    let protocols = wrap(&protocols, 23, 57);
    format!(
        "{SERVER_USAGE}
       pollchat-server [options] [<svr_port>]
       pollchat-server [options] --listen <dialect>=[<host>]:<port> ...

A single-threaded chat server for the classroom chat protocols.

options:
  --address <addr>     address to listen on (default 0.0.0.0: every IPv4
                       address; :: is every IPv6 and IPv4 address; miniserv
                       127.0.0.1, as its subject says)
  --port <port>        port to listen on, instead of <svr_port>; 0 picks a free one
  --protocol <name>    {protocols}
  --listen <d>=[<host>]:<port>
                       also serve dialect <d> on <host>:<port> (repeatable;
                       no host means all interfaces). All listeners share one
                       hub: users of every dialect can talk to each other.
  --max-users <n>      registered users allowed at once, over the whole server,
                       every dialect together (default: each dialect its own
                       limit over its own users:
                       {limits})
  --max-queue <bytes>  output a client may leave unread before it is
                       disconnected (default {DEFAULT_MAX_QUEUE}; miniserv clients:
                       at least {MINISERV_MIN_QUEUE})
  --max-total-queue <bytes>
                       bytes all clients' buffers may hold together; past it
                       the clients with the most unread are disconnected
                       (default {DEFAULT_MAX_TOTAL_QUEUE})
  --max-per-ip <n>     connections open at once from one address (default
                       {DEFAULT_MAX_PER_IP}; 0: no limit)
  --idle-timeout <s>   disconnect a registered client silent this many
                       seconds (default 0: never)
  --login-timeout <s>  disconnect a client that has not registered this many
                       seconds after connecting (default {DEFAULT_LOGIN_TIMEOUT_SECS}; 0: never)
  --stall-timeout <s>  disconnect a client that keeps a sender waiting (for a
                       delivery receipt such as hello SEND-OK, or held back
                       by its backlog) while reading nothing for this many
                       seconds (default {DEFAULT_STALL_TIMEOUT_SECS}; 0: never)
  --admin <host>:<port>
                       an operator console there: STATS, WHO, KICK, BAN,
                       UNBAN, SAY (README, \"Hosting a class\"); loopback
                       addresses only, unless --admin-allow-remote
  --admin-allow-remote let --admin listen where other machines can reach it
                       (the console has no password)
  --transcript <file>  append every public message, join and leave to <file>,
                       with the time, dialect and sender (`tail -f` it)
  --transcript-direct  put direct messages in the transcript too
  --log-level <level>  off, error, warn, info (default), debug or trace
  --trace              a status line for every step of every poll turn: events,
                       reads, frames, queued bytes, writes, closes (at least
                       info level); SIGUSR1 turns it on and off while running
  -h, --help           print this help

Status lines go to stderr; `Server is on` goes to stdout once listening.

Under systemd: given listening sockets (LISTEN_PID and LISTEN_FDS set for
this process), it serves them instead of binding, one per listener in the
order above (<svr_port> or --port first, then each --listen); one socket
needs no port. It sends READY=1 and STOPPING=1 to $NOTIFY_SOCKET if set.",
    )
}

/// `text` cut into lines of at most `width`, each after the first
/// indented by `indent` spaces.
fn wrap(text: &str, indent: usize, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            out.push_str(&line);
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out + &line
}

/// What `pollchat-server` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerArgs {
    /// The listener given by `<svr_port>`/`--port`, `--address` and
    /// `--protocol`, if a port was given.
    pub address: String,
    pub port: Option<u16>,
    pub protocol: &'static Protocol,
    /// Listeners given with `--listen`.
    pub listen: Vec<Listen>,
    pub max_users: Option<usize>,
    pub max_queue: usize,
    pub max_total_queue: usize,
    /// `None`: no limit (`--max-per-ip 0`).
    pub max_per_ip: Option<usize>,
    pub idle_timeout: Option<Duration>,
    pub login_timeout: Option<Duration>,
    pub stall_timeout: Option<Duration>,
    pub log_level: LevelFilter,
    /// `--trace`: trace every loop turn from the start.
    pub trace: bool,
    /// `--admin`, as given, and whether it may be a non-loopback address.
    pub admin: Option<String>,
    pub admin_allow_remote: bool,
    pub transcript: Option<std::path::PathBuf>,
    pub transcript_direct: bool,
    /// Listening sockets systemd passed us (socket activation), one per
    /// listener, in order.
    pub sockets: usize,
}

/// One `--listen <dialect>=[<host>]:<port>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listen {
    pub protocol: &'static Protocol,
    pub host: String,
    pub port: u16,
}

fn parse_listen(value: OsString) -> Result<Listen, CliError> {
    let text = value.to_string_lossy().into_owned();
    let invalid = |why: &str| {
        CliError::Invalid(format!(
            "invalid --listen '{text}': {why} (expected <dialect>=[<host>]:<port>)"
        ))
    };
    let (dialect, addr) = text.split_once('=').ok_or_else(|| invalid("no '='"))?;
    let protocol = parse_protocol(dialect.into())?;
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
    let port = parse_port(port.into())?;
    // "[::1]:9000": the brackets only separate the address from the port.
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let host = if host.is_empty() { "0.0.0.0" } else { host };
    Ok(Listen {
        protocol,
        host: host.to_string(),
        port,
    })
}

pub fn parse_server_args<I>(args: I) -> Result<ServerArgs, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    parse_server_args_with(args, 0)
}

/// The command line of a server that was passed `sockets` listening
/// sockets (systemd's socket activation, `systemd::listen_fds`): with
/// one, no port is needed.
pub fn parse_server_args_with<I>(args: I, sockets: usize) -> Result<ServerArgs, CliError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    let mut parser = lexopt::Parser::from_args(args);
    // Unless given, the address is the dialect's default (0.0.0.0, or
    // miniserv's 127.0.0.1): known once every option has been read.
    let mut address = None;
    let mut port = None;
    let mut protocol = Protocol::DEFAULT;
    let mut listen = Vec::new();
    let mut max_users = None;
    let mut max_queue = DEFAULT_MAX_QUEUE;
    let mut max_total_queue = DEFAULT_MAX_TOTAL_QUEUE;
    let mut max_per_ip = Some(DEFAULT_MAX_PER_IP);
    let mut idle_timeout = None;
    let mut login_timeout = Some(Duration::from_secs(DEFAULT_LOGIN_TIMEOUT_SECS));
    let mut stall_timeout = Some(Duration::from_secs(DEFAULT_STALL_TIMEOUT_SECS));
    let mut log_level = LevelFilter::Info;
    let mut trace = false;
    let mut admin = None;
    let mut admin_allow_remote = false;
    let mut transcript = None;
    let mut transcript_direct = false;
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => return Err(CliError::Help),
            Long("address") => address = Some(parser.value()?.to_string_lossy().into_owned()),
            Long("port") => port = Some(parse_port(parser.value()?)?),
            Long("protocol") => protocol = parse_protocol(parser.value()?)?,
            Long("listen") => listen.push(parse_listen(parser.value()?)?),
            Long("max-users") => max_users = Some(parse_count("--max-users", parser.value()?)?),
            Long("max-queue") => max_queue = parse_count("--max-queue", parser.value()?)?,
            Long("max-total-queue") => {
                max_total_queue = parse_count("--max-total-queue", parser.value()?)?
            }
            Long("max-per-ip") => max_per_ip = parse_limit("--max-per-ip", parser.value()?)?,
            Long("idle-timeout") => {
                idle_timeout = parse_timeout("--idle-timeout", parser.value()?)?
            }
            Long("login-timeout") => {
                login_timeout = parse_timeout("--login-timeout", parser.value()?)?
            }
            Long("stall-timeout") => {
                stall_timeout = parse_timeout("--stall-timeout", parser.value()?)?
            }
            Long("log-level") => log_level = parse_level(parser.value()?)?,
            Long("trace") => trace = true,
            Long("admin") => admin = Some(parser.value()?.to_string_lossy().into_owned()),
            Long("admin-allow-remote") => admin_allow_remote = true,
            Long("transcript") => transcript = Some(parser.value()?.into()),
            Long("transcript-direct") => transcript_direct = true,
            Value(value) if port.is_none() => port = Some(parse_port(value)?),
            _ => return Err(arg.unexpected().into()),
        }
    }
    if port.is_none() && listen.is_empty() && sockets == 0 {
        return Err(CliError::Usage);
    }
    if trace {
        // Trace lines are info lines; asking for them means showing them.
        log_level = log_level.max(LevelFilter::Info);
    }
    Ok(ServerArgs {
        address: address.unwrap_or_else(|| protocol.default_address.to_string()),
        port,
        protocol,
        listen,
        max_users,
        max_queue,
        max_total_queue,
        max_per_ip,
        idle_timeout,
        login_timeout,
        stall_timeout,
        log_level,
        trace,
        admin,
        admin_allow_remote,
        transcript,
        transcript_direct,
        sockets,
    })
}

impl ServerArgs {
    /// The server configuration these arguments describe.
    pub fn config(&self) -> Result<Config, String> {
        let mut config = Config::default();
        // One socket from systemd and no --listen: it is the one listener.
        let only_socket = self.sockets == 1 && self.listen.is_empty();
        let single = (self.port)
            .or(only_socket.then_some(0))
            .map(|port| (self.protocol, self.address.as_str(), port));
        let listens = self
            .listen
            .iter()
            .map(|l| (l.protocol, l.host.as_str(), l.port));
        for (protocol, host, port) in single.into_iter().chain(listens) {
            config.listeners.push(ListenerConfig {
                protocol,
                addr: resolve(host, port)?,
                inherited: None,
            });
        }
        super::systemd::assign(&mut config.listeners, self.sockets)?;
        config.relay.max_users = self.max_users;
        config.relay.max_queue = self.max_queue;
        config.relay.max_total_queue = self.max_total_queue;
        config.max_per_ip = self.max_per_ip;
        config.relay.idle_timeout = self.idle_timeout;
        config.relay.login_timeout = self.login_timeout;
        config.relay.stall_timeout = self.stall_timeout;
        if let Some(admin) = &self.admin {
            config.admin = Some(admin_addr(admin, self.admin_allow_remote)?);
        }
        if self.transcript_direct && self.transcript.is_none() {
            return Err("--transcript-direct needs --transcript <file>".to_string());
        }
        config.transcript = self.transcript.clone();
        config.relay.transcript_direct = self.transcript_direct;
        Ok(config)
    }
}

/// The console's address: `<host>:<port>` (`[::1]:9100` for IPv6),
/// refused unless it is loopback or `allow_remote` says otherwise.
fn admin_addr(text: &str, allow_remote: bool) -> Result<std::net::SocketAddr, String> {
    let invalid = |why: &str| format!("invalid --admin '{text}': {why} (expected <host>:<port>)");
    let (host, port) = text.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
    let port = port.parse::<u16>().map_err(|_| invalid("bad port"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(invalid("no host"));
    }
    let addr = resolve(host, port)?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "--admin {text} is not a loopback address, and the console has no password: \
             use 127.0.0.1 (reach it with ssh), or add --admin-allow-remote"
        ));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The text of `option`'s entry in the help, its lines joined.
    fn entry(help: &str, option: &str) -> String {
        let start = help.find(&format!("  {option} ")).expect(option);
        let rest = &help[start + 2..];
        let end = rest.find("\n  --").unwrap_or(rest.len());
        rest[..end].split_whitespace().collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn help_says_the_defaults_the_server_uses() {
        let help = server_help();
        let d = Config::default();
        let secs = |t: Option<std::time::Duration>| t.map_or(0, |t| t.as_secs());
        for (option, default) in [
            ("--max-queue", d.relay.max_queue.to_string()),
            ("--max-total-queue", d.relay.max_total_queue.to_string()),
            ("--max-per-ip", d.max_per_ip.unwrap_or(0).to_string()),
            ("--idle-timeout", secs(d.relay.idle_timeout).to_string()),
            ("--login-timeout", secs(d.relay.login_timeout).to_string()),
            ("--stall-timeout", secs(d.relay.stall_timeout).to_string()),
        ] {
            let text = entry(&help, option);
            assert!(
                text.contains(&format!("default {default}")),
                "{option}: {text:?} should say default {default}"
            );
        }
        for protocol in Protocol::ALL {
            let limit = match protocol.default_max_users {
                usize::MAX => format!("{} none", protocol.name),
                n => format!("{} {n}", protocol.name),
            };
            assert!(entry(&help, "--max-users").contains(&limit), "{limit}");
        }
        // And no option given means exactly those defaults.
        let config = parse_server_args(["1"]).unwrap().config().unwrap();
        assert_eq!(
            config,
            Config::single(
                &crate::dialect::mesg::PROTOCOL,
                "0.0.0.0:1".parse().unwrap()
            )
        );
    }

    #[test]
    fn a_bare_port_serves_mesg_on_all_interfaces() {
        let args = parse_server_args(["9000"]).unwrap();
        assert_eq!(
            (args.address.as_str(), args.port, args.protocol),
            ("0.0.0.0", Some(9000), &crate::dialect::mesg::PROTOCOL)
        );
        let config = args.config().unwrap();
        // The command line's defaults are Config's defaults.
        let want = Config::single(
            &crate::dialect::mesg::PROTOCOL,
            "0.0.0.0:9000".parse().unwrap(),
        );
        assert_eq!(config, want);
    }

    #[test]
    fn options_override_defaults() {
        let args = parse_server_args([
            "--address",
            "127.0.0.1",
            "--port=0",
            "--protocol",
            "mesg",
            "--max-users",
            "3",
            "--max-queue",
            "100",
            "--log-level",
            "warn",
        ])
        .unwrap();
        assert_eq!(args.port, Some(0));
        assert_eq!(args.max_users, Some(3));
        assert_eq!(args.max_queue, 100);
        assert_eq!(args.log_level, LevelFilter::Warn);
        assert_eq!(args.config().unwrap().relay.max_users, Some(3));
        let args = parse_server_args(["9", "--max-per-ip", "0", "--max-total-queue", "5"]).unwrap();
        let config = args.config().unwrap();
        assert_eq!((config.max_per_ip, config.relay.max_total_queue), (None, 5));
    }

    #[test]
    fn listen_adds_listeners_that_share_the_limits() {
        let args = parse_server_args([
            "--listen",
            "mesg=0.0.0.0:9000",
            "--listen",
            "hello=127.0.0.1:5378",
            "--listen=channels=:55555",
            "--listen",
            "sendto=[::1]:9100",
        ])
        .unwrap();
        let config = args.config().unwrap();
        let got: Vec<_> = config
            .listeners
            .iter()
            .map(|l| (l.protocol, l.addr.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                (&crate::dialect::mesg::PROTOCOL, "0.0.0.0:9000".to_string()),
                (
                    &crate::dialect::hello::PROTOCOL,
                    "127.0.0.1:5378".to_string()
                ),
                (
                    &crate::dialect::channels::PROTOCOL,
                    "0.0.0.0:55555".to_string()
                ),
                (&crate::dialect::sendto::PROTOCOL, "[::1]:9100".to_string()),
            ]
        );
        // Each dialect its own limit, unless one is given for all.
        assert_eq!(config.relay.max_users, None);
        let args =
            parse_server_args(["9000", "--listen", "hello=:5378", "--max-users", "3"]).unwrap();
        assert_eq!(args.config().unwrap().relay.max_users, Some(3));
        for bad in ["mesg", "irc=:1", "mesg=:x", "mesg=host"] {
            assert!(
                matches!(
                    parse_server_args(["--listen", bad]),
                    Err(CliError::Invalid(_))
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn miniserv_listens_on_loopback_unless_told_otherwise() {
        let miniserv = &crate::dialect::miniserv::PROTOCOL;
        let args = parse_server_args(["--protocol", "miniserv", "8081"]).unwrap();
        assert_eq!(
            args.config().unwrap().listeners[0].addr,
            "127.0.0.1:8081".parse().unwrap()
        );
        assert_eq!(args.protocol, miniserv);
        let args = parse_server_args(["8081", "--protocol", "miniserv"]).unwrap();
        assert_eq!(args.address, "127.0.0.1");
        let args =
            parse_server_args(["--address", "0.0.0.0", "--protocol", "miniserv", "1"]).unwrap();
        assert_eq!(args.address, "0.0.0.0");
        // Every other dialect keeps its default.
        let args = parse_server_args(["--protocol", "hello", "1"]).unwrap();
        assert_eq!(args.address, "0.0.0.0");
    }

    #[test]
    fn no_port_is_a_usage_error() {
        assert_eq!(
            parse_server_args(Vec::<String>::new()),
            Err(CliError::Usage)
        );
        assert_eq!(parse_server_args(["--address", "::"]), Err(CliError::Usage));
    }

    #[test]
    fn sockets_from_systemd_need_no_port_and_go_to_the_listeners_in_order() {
        use crate::dialect::{hello, mesg};
        let got = |args: &[&str], sockets| {
            let config = parse_server_args_with(args, sockets)
                .unwrap()
                .config()
                .unwrap();
            config
                .listeners
                .iter()
                .map(|l| (l.protocol, l.inherited))
                .collect::<Vec<_>>()
        };
        // One socket and no port: it speaks --protocol's dialect.
        assert_eq!(got(&[], 1), [(&mesg::PROTOCOL, Some(3))]);
        assert_eq!(
            got(&["--protocol", "hello"], 1),
            [(&hello::PROTOCOL, Some(3))]
        );
        // A port given as well says what the socket unit binds.
        assert_eq!(got(&["9000"], 1), [(&mesg::PROTOCOL, Some(3))]);
        let both = ["--listen", "mesg=:9000", "--listen", "hello=:5378"];
        assert_eq!(
            got(&both, 2),
            [(&mesg::PROTOCOL, Some(3)), (&hello::PROTOCOL, Some(4))]
        );
        // Without sockets, the same command line binds, as always.
        assert_eq!(
            got(&both, 0),
            [(&mesg::PROTOCOL, None), (&hello::PROTOCOL, None)]
        );
        // A socket for every listener and a listener for every socket.
        for (args, sockets) in [(&[][..], 2), (&both[..2], 2), (&both[..], 1)] {
            let error = parse_server_args_with(args, sockets)
                .unwrap()
                .config()
                .unwrap_err();
            assert!(error.contains("LISTEN_FDS"), "{args:?}: {error}");
        }
        assert_eq!(
            parse_server_args_with(Vec::<String>::new(), 0),
            Err(CliError::Usage)
        );
    }

    #[test]
    fn bad_values_are_named() {
        for args in [
            vec!["99999"],
            vec!["--port", "x"],
            vec!["--max-users", "0", "1"],
            vec!["--protocol", "irc", "1"],
            vec!["1", "2"],
        ] {
            match parse_server_args(args.clone()) {
                Err(CliError::Invalid(message)) => assert!(!message.is_empty()),
                other => panic!("{args:?} gave {other:?}"),
            }
        }
        let args = parse_server_args(["--address", "no such host.invalid", "1"]).unwrap();
        assert!(args.config().is_err());
    }
}
