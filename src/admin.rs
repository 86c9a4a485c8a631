//! The operator console's language (`--admin HOST:PORT`): the commands an
//! instructor types, the bans they set, and the answers, as text. The
//! console's sockets are in `server/admin.rs`; what it asks of the relay
//! is in `relay/operator.rs`. Nothing here does I/O.
//!
//! One command per line; the keyword in any case. Every answer ends with
//! a line that starts `OK` or `ERR`; the lines before it (STATS, WHO,
//! HELP) each start with a lowercase keyword, so never with either:
//!
//! ```text
//! STATS                      uptime, connections and users per dialect, bytes,
//!                            queued bytes, cut-offs, dropped log lines, bans
//! WHO                        one `conn` line per connection
//! KICK <name> [reason]       disconnect a user, telling them the reason
//! BAN <ip or CIDR> [minutes] refuse new connections from there (and close
//!                            those open now); no minutes: until UNBAN
//! UNBAN <ip or CIDR>         lift a ban, given as it was set
//! SAY <text>                 a message to every user, from `*server*`
//! HELP                       the commands
//! QUIT                       close the console
//! ```

use ipnet::IpNet;
use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

/// The sender of SAY and of a KICK's reason. The `*` is allowed in no
/// dialect's names (`text.rs`), so no user can ever register it and pose
/// as the operator, and a MESG or SEND to it reaches no one.
pub const OPERATOR_NAME: &str = "*server*";

/// One command, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    Stats,
    Who,
    Kick {
        name: &'a str,
        reason: Option<&'a str>,
    },
    Ban {
        net: IpNet,
        minutes: Option<u64>,
    },
    Unban {
        net: IpNet,
    },
    Say {
        text: &'a str,
    },
    Help,
    Quit,
}

pub const HELP: &str = "\
help STATS                       counts: uptime, connections, users, bytes, cut-offs
help WHO                         every connection: name, dialect, fd, peer, since, queued
help KICK <name> [reason]        disconnect a user, telling them why
help BAN <ip or CIDR> [minutes]  refuse that address (and close it now); no minutes: for good
help UNBAN <ip or CIDR>          lift a ban, written as it was set
help SAY <text>                  a message to every user, from *server*
help QUIT                        close this console
";

/// Parses one line (without its line end). `Err` is the text after `ERR `.
pub fn parse(line: &str) -> Result<Command<'_>, String> {
    let line = line.trim();
    let (word, rest) = match line.split_once(char::is_whitespace) {
        Some((word, rest)) => (word, rest.trim()),
        None => (line, ""),
    };
    let argument = |what: &str| {
        if rest.is_empty() {
            Err(format!("{} needs {what}", word.to_ascii_uppercase()))
        } else {
            Ok(rest)
        }
    };
    let no_argument = |command: Command<'static>| {
        if rest.is_empty() {
            Ok(command)
        } else {
            Err(format!("{} takes no argument", word.to_ascii_uppercase()))
        }
    };
    match word.to_ascii_uppercase().as_str() {
        "" => Err("empty line (try HELP)".to_string()),
        "STATS" => no_argument(Command::Stats),
        "WHO" => no_argument(Command::Who),
        "HELP" => no_argument(Command::Help),
        "QUIT" => no_argument(Command::Quit),
        "KICK" => {
            let rest = argument("a user name")?;
            let (name, reason) = match rest.split_once(char::is_whitespace) {
                Some((name, reason)) => (name, Some(reason.trim())),
                None => (rest, None),
            };
            Ok(Command::Kick { name, reason })
        }
        "BAN" => {
            let rest = argument("an address or a CIDR block")?;
            let (net, minutes) = match rest.split_once(char::is_whitespace) {
                Some((net, minutes)) => (net, Some(minutes.trim())),
                None => (rest, None),
            };
            let minutes = match minutes {
                None => None,
                Some(m) => match m.parse::<u64>() {
                    Ok(m) if m > 0 && m <= 525_600 => Some(m),
                    _ => return Err(format!("'{m}' is not a number of minutes (1 to 525600)")),
                },
            };
            Ok(Command::Ban {
                net: parse_net(net)?,
                minutes,
            })
        }
        "UNBAN" => Ok(Command::Unban {
            net: parse_net(argument("an address or a CIDR block")?)?,
        }),
        "SAY" => Ok(Command::Say {
            text: argument("some text")?,
        }),
        other => Err(format!("unknown command '{other}' (try HELP)")),
    }
}

/// `10.0.0.7` (one address) or `10.0.0.0/8`, IPv4 or IPv6; host bits
/// are cleared (`10.1.2.3/8` is `10.0.0.0/8`), and an IPv4 address mapped
/// into IPv6 is the IPv4 address.
pub fn parse_net(text: &str) -> Result<IpNet, String> {
    let net = match text.parse::<IpAddr>() {
        Ok(ip) => IpNet::from(ip.to_canonical()),
        Err(_) => text
            .parse::<IpNet>()
            .map_err(|_| format!("'{text}' is not an IP address or a CIDR block"))?,
    };
    Ok(net.trunc())
}

/// Addresses refused at accept, each until a time or for good.
#[derive(Debug, Default)]
pub struct Bans {
    list: Vec<(IpNet, Option<Instant>)>,
}

impl Bans {
    /// Bans `net` until `until` (`None`: until unbanned). Banning it again
    /// sets the new end. True if it was not banned before.
    pub fn add(&mut self, net: IpNet, until: Option<Instant>) -> bool {
        match self.list.iter_mut().find(|(n, _)| *n == net) {
            Some(entry) => {
                entry.1 = until;
                false
            }
            None => {
                self.list.push((net, until));
                true
            }
        }
    }

    /// Lifts the ban on exactly `net`; false if there was none.
    pub fn remove(&mut self, net: IpNet) -> bool {
        let before = self.list.len();
        self.list.retain(|(n, _)| *n != net);
        self.list.len() < before
    }

    /// The ban that covers `ip`, if any (expired ones do not count).
    pub fn covering(&self, ip: IpAddr, now: Instant) -> Option<IpNet> {
        let ip = ip.to_canonical();
        self.list
            .iter()
            .find(|(net, until)| net.contains(&ip) && until.is_none_or(|t| now < t))
            .map(|(net, _)| *net)
    }

    /// Forgets the bans whose time is up, and returns them.
    pub fn expire(&mut self, now: Instant) -> Vec<IpNet> {
        let (gone, kept) = self
            .list
            .drain(..)
            .partition(|(_, until)| until.is_some_and(|t| now >= t));
        self.list = kept;
        gone.into_iter().map(|(net, _)| net).collect()
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// What STATS shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stats {
    pub uptime: Duration,
    /// (dialect, connections, registered users), every dialect.
    pub dialects: Vec<(&'static str, usize, usize)>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub queued_bytes: usize,
    pub cut_offs: u64,
    pub log_lines_dropped: u64,
    pub bans: usize,
}

impl Stats {
    /// The answer: `key value` lines, then `OK`.
    pub fn render(&self, out: &mut String) {
        let connections: usize = self.dialects.iter().map(|d| d.1).sum();
        let users: usize = self.dialects.iter().map(|d| d.2).sum();
        let _ = writeln!(out, "uptime_s {}", self.uptime.as_secs());
        let _ = writeln!(out, "connections {connections}");
        let _ = writeln!(out, "users {users}");
        for (name, connections, users) in &self.dialects {
            let _ = writeln!(
                out,
                "dialect {name} connections {connections} users {users}"
            );
        }
        let _ = writeln!(out, "bytes_in {}", self.bytes_in);
        let _ = writeln!(out, "bytes_out {}", self.bytes_out);
        let _ = writeln!(out, "queued_bytes {}", self.queued_bytes);
        let _ = writeln!(out, "cut_offs {}", self.cut_offs);
        let _ = writeln!(out, "log_lines_dropped {}", self.log_lines_dropped);
        let _ = writeln!(out, "bans {}", self.bans);
        out.push_str("OK\n");
    }
}

/// One WHO line's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhoLine<'a> {
    /// `None`: not registered (shown as `*`, which no name can be).
    pub name: Option<&'a str>,
    pub dialect: &'static str,
    pub fd: i32,
    pub peer: SocketAddr,
    pub since: SystemTime,
    pub queued: usize,
}

impl WhoLine<'_> {
    /// `conn <name> <dialect> <fd> <peer> <since> <queued>`.
    pub fn render(&self, out: &mut String) {
        let peer = SocketAddr::new(self.peer.ip().to_canonical(), self.peer.port());
        let secs = self
            .since
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let _ = writeln!(
            out,
            "conn {} {} {} {peer} {}Z {}",
            self.name.unwrap_or("*"),
            self.dialect,
            self.fd,
            crate::logger::seconds_stamp(secs),
            self.queued
        );
    }
}

/// The closing line of a WHO answer.
pub fn who_end(count: usize, out: &mut String) {
    let s = if count == 1 { "" } else { "s" };
    let _ = writeln!(out, "OK {count} connection{s}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_in_any_case_with_their_arguments() {
        assert_eq!(parse("stats"), Ok(Command::Stats));
        assert_eq!(parse("  WHO  "), Ok(Command::Who));
        assert_eq!(
            parse("KICK alice"),
            Ok(Command::Kick {
                name: "alice",
                reason: None
            })
        );
        assert_eq!(
            parse("kick alice  spamming the class"),
            Ok(Command::Kick {
                name: "alice",
                reason: Some("spamming the class")
            })
        );
        assert_eq!(
            parse("BAN 10.1.2.3/8 30"),
            Ok(Command::Ban {
                net: "10.0.0.0/8".parse().unwrap(),
                minutes: Some(30)
            })
        );
        assert_eq!(
            parse("ban ::ffff:192.0.2.7"),
            Ok(Command::Ban {
                net: "192.0.2.7/32".parse().unwrap(),
                minutes: None
            })
        );
        assert_eq!(
            parse("UNBAN 2001:db8::/32"),
            Ok(Command::Unban {
                net: "2001:db8::/32".parse().unwrap()
            })
        );
        assert_eq!(
            parse("SAY class ends in 5 minutes"),
            Ok(Command::Say {
                text: "class ends in 5 minutes"
            })
        );
    }

    #[test]
    fn bad_commands_say_what_is_wrong() {
        assert_eq!(parse("FOO"), Err("unknown command 'FOO' (try HELP)".into()));
        assert_eq!(parse(""), Err("empty line (try HELP)".into()));
        assert_eq!(parse("KICK"), Err("KICK needs a user name".into()));
        assert_eq!(parse("STATS now"), Err("STATS takes no argument".into()));
        assert_eq!(
            parse("BAN example.com"),
            Err("'example.com' is not an IP address or a CIDR block".into())
        );
        assert_eq!(
            parse("BAN 10.0.0.1 soon"),
            Err("'soon' is not a number of minutes (1 to 525600)".into())
        );
        assert_eq!(parse("SAY"), Err("SAY needs some text".into()));
    }

    #[test]
    fn a_ban_covers_its_block_until_it_ends() {
        let now = Instant::now();
        let mut bans = Bans::default();
        let block = parse_net("10.0.0.0/8").unwrap();
        assert!(bans.add(block, Some(now + Duration::from_secs(60))));
        assert_eq!(bans.covering("10.9.8.7".parse().unwrap(), now), Some(block));
        assert_eq!(
            bans.covering("::ffff:10.9.8.7".parse().unwrap(), now),
            Some(block)
        );
        assert_eq!(bans.covering("11.0.0.1".parse().unwrap(), now), None);
        let later = now + Duration::from_secs(61);
        assert_eq!(bans.covering("10.9.8.7".parse().unwrap(), later), None);
        assert_eq!(bans.expire(later), vec![block]);
        assert!(bans.is_empty());
        assert!(!bans.remove(block));
    }

    #[test]
    fn no_data_line_can_pass_for_the_end_of_an_answer() {
        let mut out = String::new();
        Stats {
            uptime: Duration::from_secs(5),
            dialects: vec![("mesg", 2, 1), ("hello", 1, 1)],
            bytes_in: 10,
            bytes_out: 20,
            queued_bytes: 0,
            cut_offs: 0,
            log_lines_dropped: 0,
            bans: 0,
        }
        .render(&mut out);
        WhoLine {
            name: Some("OK"),
            dialect: "mesg",
            fd: 8,
            peer: "[::ffff:127.0.0.1]:4000".parse().unwrap(),
            since: SystemTime::UNIX_EPOCH,
            queued: 0,
        }
        .render(&mut out);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1], "connections 3");
        assert_eq!(lines[3], "dialect mesg connections 2 users 1");
        assert_eq!(
            lines.last().unwrap(),
            &"conn OK mesg 8 127.0.0.1:4000 1970-01-01T00:00:00Z 0"
        );
        for line in lines.iter().chain(HELP.lines().collect::<Vec<_>>().iter()) {
            assert!(
                *line == "OK" || !(line.starts_with("OK") || line.starts_with("ERR")),
                "{line}"
            );
        }
    }
}
