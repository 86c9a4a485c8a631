//! What the operator console (`--admin`, `server/admin.rs`) asks of the
//! relay: counts for STATS, the connections for WHO, and the two things an
//! operator does to users, KICK and SAY. The console's commands and answers
//! are in `admin.rs`; nothing here knows their wording.

use super::{ConnId, Counters, Hangup, Relay, LOG_TARGET};
use crate::admin::OPERATOR_NAME;
use crate::dialect::Protocol;
use log::warn;
use std::rc::Rc;
use std::time::Instant;

/// The connection a SAY is recorded as coming from: none.
const OPERATOR: ConnId = ConnId(usize::MAX);

/// One protocol's connections and registered users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialectCount {
    pub protocol: &'static Protocol,
    pub connections: usize,
    pub users: usize,
}

/// One connection, as WHO shows it (the loop adds its peer address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub id: ConnId,
    pub name: Option<Rc<str>>,
    pub protocol: &'static Protocol,
    pub fd: i32,
    pub connected_at: Instant,
    /// Bytes waiting to be written to it.
    pub queued: usize,
}

impl Relay {
    /// Connections and users per protocol, every protocol in the table
    /// (those with no one too), in the table's order.
    pub fn dialect_counts(&self) -> Vec<DialectCount> {
        let mut counts: Vec<DialectCount> = Protocol::ALL
            .iter()
            .map(|&protocol| DialectCount {
                protocol,
                connections: 0,
                users: 0,
            })
            .collect();
        for (i, p) in self.peers.iter().enumerate() {
            let Some(p) = p.as_ref().filter(|p| !p.closing) else {
                continue;
            };
            if let Some(c) = counts.iter_mut().find(|c| c.protocol == p.protocol) {
                c.connections += 1;
                c.users += usize::from(self.hub.name(ConnId(i)).is_some());
            }
        }
        counts
    }

    /// Totals since the start.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Every open connection, in slot order.
    pub fn who(&self) -> Vec<Who> {
        let peers = self.peers.iter().enumerate();
        peers
            .filter_map(|(i, p)| {
                let p = p.as_ref().filter(|p| !p.closing)?;
                Some(Who {
                    id: ConnId(i),
                    name: self.hub.name(ConnId(i)).cloned(),
                    protocol: p.protocol,
                    fd: p.fd,
                    connected_at: p.connected_at,
                    queued: p.out.pending(),
                })
            })
            .collect()
    }

    /// Disconnects the user called `name`, telling them `reason` first (a
    /// message from [`OPERATOR_NAME`] in their dialect), if there is one.
    /// Returns their fd, or `None` if no one has that name.
    pub fn kick(&mut self, name: &str, reason: Option<&str>) -> Option<i32> {
        let id = self.hub.lookup(name)?;
        let fd = self.open_peer(id)?.fd;
        warn!(
            target: LOG_TARGET,
            "Client ({fd}): kicked by the operator{}",
            reason.map_or(String::new(), |r| format!(": {}", crate::text::shown(r.as_bytes())))
        );
        if let Some(reason) = reason {
            self.hub
                .notify(id, OPERATOR_NAME, reason.as_bytes(), &mut self.deliveries);
            self.deliver();
        }
        self.close(id, Hangup::Goodbye);
        Some(fd)
    }

    /// Sends `text` to every registered user, from [`OPERATOR_NAME`], each
    /// in their own dialect's message form; returns how many.
    pub fn announce(&mut self, text: &str) -> usize {
        let users = self.hub.registered();
        self.hub.announce(
            OPERATOR,
            OPERATOR_NAME,
            text.as_bytes(),
            &mut self.deliveries,
        );
        self.deliver();
        users
    }
}
