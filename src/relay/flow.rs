//! Flow control: how much one client may make the server hold or do.
//!
//! * **The queue limit.** A client is cut off as not reading only if what
//!   others sent it is still over its limit after the loop has offered its
//!   socket everything: judged at the end of a turn, after the flush,
//!   never while the turn's output is being built. Answers to its own
//!   requests never count: a reply always gets through. A dialect may
//!   raise the limit for its clients (`miniserv`: 8 MiB, lazy readers
//!   are allowed); such a client never holds a sender back.
//! * **Back-pressure.** A sender that fills a recipient past the high
//!   water mark is paused until the recipient drains to the low water
//!   mark, so a flooder is slowed to its readers' speed instead of its
//!   readers being cut off. Only a sender that has done much lately is
//!   held; someone who typed a line is not.
//! * **Stalls.** A client that keeps someone waiting while its socket
//!   takes nothing for `--stall-timeout` is cut off (see `Relay::tick`).
//! * **The total budget.** Output queues and input tails of every
//!   connection together stay within `--max-total-queue`: past half of
//!   it the per-connection limit shrinks, past all of it the connection
//!   holding the most unread bytes is cut off.
//! * **Work per turn.** A connection's requests stop for the turn once
//!   they have caused [`TURN_WORK`], and the relay's once all of them have
//!   caused [`TURN_WORK_TOTAL`]: one broadcast storm cannot make a turn
//!   last seconds.

use super::peer::{Input, Pause};
use super::LOG_TARGET;
use super::{ConnId, Effect, Hangup, Relay};
use crate::limits::{
    HIGH_WATER_DIV, HOLD_MIN_WORK, LOW_WATER_DIV, MIN_QUEUE, TURN_WORK, TURN_WORK_TOTAL,
};
use log::warn;

impl Relay {
    /// The limit on one connection's unread output now: `--max-queue`
    /// (raised to `floor`, its dialect's `Protocol::min_max_queue`: a
    /// `miniserv` client may read lazily) while the server as a whole has
    /// room, shrinking towards [`MIN_QUEUE`] as the total passes half its
    /// budget.
    pub(super) fn limit_with(&self, floor: usize) -> usize {
        let max_queue = self.settings.max_queue.max(floor);
        let max_total = self.settings.max_total_queue;
        let half = max_total / 2;
        if self.total <= half || half == 0 {
            return max_queue;
        }
        let left = max_total.saturating_sub(self.total) as u128;
        let scaled = max_queue as u128 * left / half as u128;
        (scaled as usize).max(MIN_QUEUE.min(max_queue))
    }

    /// Counts what `id`'s buffers hold now into the total.
    pub(super) fn account(&mut self, id: ConnId) {
        if let Some(p) = self.peers[id.0].as_mut() {
            let now = p.memory();
            self.total = self.total - p.footprint + now;
            self.total_peak = self.total_peak.max(self.total);
            p.footprint = now;
        }
    }

    /// Counts work done for the request being handled.
    pub(super) fn charge(&mut self, sender: ConnId, cost: usize) {
        let turn = self.turn;
        self.turn_work += cost;
        if let Some(p) = self.peers[sender.0].as_mut() {
            if p.work_turn != turn {
                p.work_turn = turn;
                p.work = 0;
            }
            p.work += cost;
            p.recent_work = p.recent_work.saturating_add(cost);
        }
    }

    /// Whether `id` has had its share of this turn, or the turn all it may
    /// do.
    pub(super) fn out_of_work(&self, id: ConnId) -> bool {
        let own = self.peers[id.0]
            .as_ref()
            .is_some_and(|p| p.work_turn == self.turn && p.work >= TURN_WORK);
        own || self.turn_work >= TURN_WORK_TOTAL
    }

    /// Back-pressure: `recipient`'s queue is over its high water mark, so
    /// the sender of the request being handled stops being read until the
    /// recipient drains (or is cut off).
    pub(super) fn hold_if_backed_up(&mut self, recipient: ConnId) {
        let Some(sender) = self.sender else {
            return;
        };
        let Some(r) = self.open_peer(recipient) else {
            return;
        };
        // A client that may read lazily never holds anyone back: held for
        // it, its senders would go quiet to everyone, and the stall
        // timeout would cut it off far below its limit.
        let (floor, r_tag, r_pending) = (
            r.protocol.min_max_queue,
            (recipient, r.serial),
            r.out.pending(),
        );
        if floor > 0 || r_pending <= self.limit_with(floor) / HIGH_WATER_DIV {
            return;
        }
        let Some(s) = self.open_peer(sender) else {
            return;
        };
        let busy = sender == recipient || s.recent_work >= HOLD_MIN_WORK;
        if s.input != Input::Open || !busy {
            return;
        }
        s.input = Input::Paused(Pause::Backlog(r_tag));
        let s_tag = (sender, s.serial);
        crate::trace_line!(
            "Client ({}): held back: a recipient it fills has {r_pending} bytes waiting",
            s.fd
        );
        if let Some(r) = self.open_peer(recipient) {
            r.waiters.push(s_tag);
        }
    }

    /// After a write: lets go the senders held behind `id`'s backlog once
    /// it is down to its low water mark.
    pub(super) fn wake_if_drained(&mut self, id: ConnId) {
        let Some(floor) = self.peer(id).map(|p| p.protocol.min_max_queue) else {
            return;
        };
        let low_water = self.limit_with(floor) / LOW_WATER_DIV;
        if self
            .open_peer(id)
            .is_some_and(|p| p.out.pending() <= low_water)
        {
            self.wake_waiters(id);
        }
    }

    /// Lets go the senders held behind `id`'s backlog.
    pub(super) fn wake_waiters(&mut self, id: ConnId) {
        let Some(p) = self.peers[id.0].as_mut() else {
            return;
        };
        let me = (id, p.serial);
        for (w, serial) in std::mem::take(&mut p.waiters) {
            let Some(waiter) = self.peers[w.0].as_mut() else {
                continue;
            };
            if waiter.serial == serial && waiter.input == Input::Paused(Pause::Backlog(me)) {
                waiter.input = Input::Paused(Pause::NextTurn);
                self.effects.push(Effect::Serve(w));
            }
        }
    }

    /// Whether a sender really waits on `id`: a receipt, or a held sender
    /// that is still the connection it was and still held by it. Stale
    /// entries are dropped on the way.
    pub(super) fn is_waited_on(&mut self, id: ConnId) -> bool {
        let Some(p) = self.peers[id.0].as_mut() else {
            return false;
        };
        let me = (id, p.serial);
        let mut waiters = std::mem::take(&mut p.waiters);
        waiters.retain(|&(w, serial)| {
            self.peers[w.0]
                .as_ref()
                .is_some_and(|c| c.serial == serial && c.input == Input::Paused(Pause::Backlog(me)))
        });
        let p = self.peers[id.0].as_mut().expect("checked above");
        p.waiters = waiters;
        !p.marks.is_empty() || !p.waiters.is_empty()
    }

    /// End of turn, after the flush: every connection that others sent
    /// output this turn and that still has more of it waiting than its
    /// limit is not reading, and is cut off.
    pub(super) fn judge_limits(&mut self) {
        for id in std::mem::take(&mut self.fed) {
            let Some(floor) = self.peer(id).map(|p| p.protocol.min_max_queue) else {
                continue;
            };
            let limit = self.limit_with(floor);
            let Some(p) = self.open_peer(id) else {
                continue;
            };
            if p.pending_from_others() > limit {
                warn!(
                    target: LOG_TARGET,
                    "Client ({}): Output queue over {limit} bytes (client not reading). Disconnecting User.",
                    p.fd
                );
                self.cut_off(id);
            }
        }
    }

    /// Keeps the buffers of all connections within `--max-total-queue`:
    /// while over it, the connection with the most unread bytes is cut
    /// off, so one attacker's thousands of connections cannot take the
    /// machine's memory, and the clients that read (holding little) are
    /// the last to go.
    pub(super) fn enforce_budget(&mut self) {
        while self.total > self.settings.max_total_queue {
            let largest = self
                .peers
                .iter()
                .enumerate()
                .filter_map(|(i, p)| Some((i, p.as_ref().filter(|p| !p.closing)?)))
                .max_by_key(|(_, p)| p.unread())
                .map(|(i, p)| (ConnId(i), p.fd, p.unread()));
            let Some((id, fd, unread)) = largest else {
                return;
            };
            warn!(
                target: LOG_TARGET,
                "Client ({fd}): Server over its {} byte budget; this client has {unread} bytes unread, the most. Disconnecting User.",
                self.settings.max_total_queue
            );
            self.cut_off(id);
        }
    }

    /// Closes a client that is not reading: what it was sent is thrown away
    /// now (its memory counts no more), and senders waiting on it hear that
    /// their messages never arrived.
    pub(super) fn cut_off(&mut self, id: ConnId) {
        if let Some(p) = self.open_peer(id) {
            p.out.discard();
            p.tail = Vec::new();
            self.counters.cut_offs += 1;
            self.account(id);
            self.close(id, Hangup::NotReading);
        }
    }
}
