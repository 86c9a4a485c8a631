//! What a case is: an id from the spec, tags, a dialect, a role, and a
//! function that drives the target and says pass or fail, with what it
//! expected, what it got, and a transcript of every byte either way.

use crate::transcript::Transcript;
use std::fmt;
use std::time::{Duration, Instant};

/// The dialects of docs/PROTOCOLS.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    Mesg,
    Hello,
    Channels,
    Sendto,
    Miniserv,
}

impl Dialect {
    pub const ALL: [Dialect; 5] = [
        Dialect::Mesg,
        Dialect::Hello,
        Dialect::Channels,
        Dialect::Sendto,
        Dialect::Miniserv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Mesg => "mesg",
            Dialect::Hello => "hello",
            Dialect::Channels => "channels",
            Dialect::Sendto => "sendto",
            Dialect::Miniserv => "miniserv",
        }
    }

    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// Which side pollchat-check plays against: a server (it plays the
/// clients) or a client (it plays the server and the other users).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    Server,
    Client,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Server => "server",
            Role::Client => "client",
        }
    }
}

/// Why a case failed: what the rule wants, what the target did, and a
/// sentence that says which step it was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fail {
    pub why: String,
    pub expected: String,
    pub got: String,
}

impl Fail {
    pub fn new(
        why: impl Into<String>,
        expected: impl Into<String>,
        got: impl Into<String>,
    ) -> Fail {
        Fail {
            why: why.into(),
            expected: expected.into(),
            got: got.into(),
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.why)?;
        if !self.expected.is_empty() || !self.got.is_empty() {
            write!(f, " (expected {}, got {})", self.expected, self.got)?;
        }
        Ok(())
    }
}

/// What every step of a case returns.
pub type R<T = ()> = Result<T, Fail>;

/// Fails with `why` unless `cond`.
pub fn ensure(cond: bool, why: impl Into<String>, expected: &str, got: &str) -> R {
    if cond {
        Ok(())
    } else {
        Err(Fail::new(why, expected, got))
    }
}

/// Fails unless `got == want`, showing both.
pub fn same<T: PartialEq + fmt::Debug>(why: &str, want: T, got: T) -> R {
    if want == got {
        Ok(())
    } else {
        Err(Fail::new(why, format!("{want:?}"), format!("{got:?}")))
    }
}

/// One case.
pub struct Case {
    /// Stable: the assignment's rule id where it has one (`hello.PR12`,
    /// `channels.SERVER_CHANNEL_EXISTS`), else the rule's row in
    /// docs/PROTOCOLS.md (`mesg.join.taken`).
    pub id: &'static str,
    pub dialect: Dialect,
    pub role: Role,
    /// First the stage, exactly one of [`STAGES`]; then `assignment` (the
    /// assignment's text says it) or `choice` (a binding choice of
    /// docs/PROTOCOLS.md where the assignment is silent); then `state`,
    /// `framing`, `safety`, `heavy`, `spawn`, ...
    pub tags: &'static [&'static str],
    /// The rule, in one line.
    pub rule: &'static str,
    pub run: fn(&mut Ctx) -> R,
}

/// The stages an instructor can grade in, one per case: `basic` (the
/// protocol's rules, one client at a time or a few), `robustness` (bytes
/// split, coalesced, cut off, garbage, over-long input; servers and
/// clients going away) and `load` (many clients, pipelined floods, a
/// reader that stalls under one).
pub const STAGES: [&str; 3] = ["basic", "robustness", "load"];

impl Case {
    pub fn has_tag(&self, tag: &str) -> bool {
        self.tags.contains(&tag)
    }

    /// Its stage: the one tag of [`STAGES`] it carries.
    pub fn stage(&self) -> &'static str {
        self.tags
            .iter()
            .copied()
            .find(|t| STAGES.contains(t))
            .unwrap_or("basic")
    }
}

/// How long things may take, for one case.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// One expected reply, connection or output.
    pub wait: Duration,
    /// How long "nothing arrives" is watched where no barrier can prove it.
    pub quiet: Duration,
    /// The whole case.
    pub budget: Duration,
}

/// What a case runs against, and its transcript. Built by the runner.
pub struct Ctx {
    pub tr: Transcript,
    pub timing: Timing,
    pub started: Instant,
    pub deadline: Instant,
    pub target: crate::target::Target,
}

impl Ctx {
    /// How long the next wait may be: `wait`, but never past the case's
    /// deadline (and never zero, which sockets take as "forever").
    pub fn wait(&self) -> Duration {
        self.wait_for(self.timing.wait)
    }

    pub fn wait_for(&self, d: Duration) -> Duration {
        let left = self.deadline.saturating_duration_since(Instant::now());
        d.min(left).max(Duration::from_millis(1))
    }

    /// The instant by which one expected thing must have happened.
    pub fn until(&self) -> Instant {
        Instant::now() + self.wait()
    }

    pub fn note(&self, text: impl AsRef<str>) {
        self.tr.note(text.as_ref());
    }

    pub fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }
}
