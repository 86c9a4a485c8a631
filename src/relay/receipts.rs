//! Delivery receipts: telling a sender that its message is in the
//! recipient's socket.
//!
//! Two dialects promise it. hello's `SEND-OK` may only be sent once the
//! `DELIVERY` line has been written into the recipient's socket (PR12), and
//! sendto's `0` for a SENDTO means the same. Their dialects ask the hub for
//! a receipt (`Request::Direct { receipt: true }`); the hub's message event
//! names the sender; and this module does the rest:
//!
//! 1. When the message is queued for the recipient, a *mark* is placed at
//!    the end of it: a position in the recipient's send queue.
//! 2. The sender is paused (`Pause::Receipt`): its next request waits, so
//!    its answers keep the order of its requests.
//! 3. When the loop reports that the recipient's socket has taken bytes up
//!    to the mark, the sender is answered [`Receipt::Delivered`]; if the
//!    recipient goes away (or is cut off) first, [`Receipt::Undelivered`].
//!    Either way the sender goes on with its next request.
//!
//! A sender that has itself gone by then is not answered: its slot may
//! hold a new connection, which the serial in its [`Tag`] tells apart.

use super::{ConnId, Effect, Relay, Tag};
use crate::dialect::{Receipt, Then};
use std::collections::VecDeque;

/// The receipts placed in one connection's send queue, in order: (the
/// position the mark waits for, the sender to tell).
#[derive(Debug, Default)]
pub struct Marks {
    marks: VecDeque<(u64, Tag)>,
}

impl Marks {
    pub fn place(&mut self, at: u64, sender: Tag) {
        self.marks.push_back((at, sender));
    }

    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// The next sender whose mark `sent` bytes have passed, if any.
    pub fn reached(&mut self, sent: u64) -> Option<Tag> {
        match self.marks.front() {
            Some(&(at, sender)) if at <= sent => {
                self.marks.pop_front();
                Some(sender)
            }
            _ => None,
        }
    }

    /// Every sender still waiting: the recipient is going.
    pub fn abandon(&mut self) -> Vec<Tag> {
        self.marks.drain(..).map(|(_, sender)| sender).collect()
    }
}

impl Relay {
    /// A message that asked for a receipt has been handled for
    /// `recipient`: marked in its queue if `queued`, or answered at once
    /// as undelivered (the recipient is closing, or was cut off for it).
    pub(super) fn expect_receipt(&mut self, sender: ConnId, recipient: ConnId, queued: bool) {
        let Some(tag) = self.tag(sender) else {
            return;
        };
        if let Some(s) = self.open_peer(sender) {
            s.await_receipt();
        }
        match self.open_peer(recipient).filter(|_| queued) {
            Some(r) => {
                let at = r.out.queued();
                r.marks.place(at, tag);
            }
            None => self.answer(tag, Receipt::Undelivered),
        }
    }

    /// Answers the senders whose marks in `recipient`'s queue its socket
    /// has now passed.
    pub(super) fn receipts_reached(&mut self, recipient: ConnId) {
        while let Some(sender) = self.peers[recipient.0].as_mut().and_then(|r| {
            let sent = r.out.sent();
            r.marks.reached(sent)
        }) {
            self.answer(sender, Receipt::Delivered);
        }
    }

    /// The recipient is going: everyone waiting on it hears the message
    /// never arrived.
    pub(super) fn receipts_lost(&mut self, recipient: ConnId) {
        let lost = match self.peers[recipient.0].as_mut() {
            Some(r) => r.marks.abandon(),
            None => return,
        };
        for sender in lost {
            self.answer(sender, Receipt::Undelivered);
        }
    }

    /// Gives `sender` its receipt and lets it go on (next turn), unless it
    /// has gone.
    fn answer(&mut self, sender: Tag, receipt: Receipt) {
        let Some(s) = self.open_peer(sender.0) else {
            return;
        };
        if s.serial != sender.1 {
            return;
        }
        let protocol = s.protocol;
        self.reply.clear();
        let then = (protocol.render_receipt)(receipt, &mut self.reply);
        let reply = std::mem::take(&mut self.reply);
        self.queue_own(sender.0, &reply);
        self.reply = reply;
        if then == Then::HangUp {
            self.close(sender.0, super::Hangup::Goodbye);
        }
        if self
            .open_peer(sender.0)
            .is_some_and(|s| s.receipt_answered())
        {
            self.effects.push(Effect::Serve(sender.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_reached_in_order_only_when_written_past() {
        let a = (ConnId(1), 1);
        let b = (ConnId(2), 2);
        let mut marks = Marks::default();
        marks.place(5, a);
        marks.place(11, b);
        assert_eq!(marks.reached(4), None);
        assert_eq!(marks.reached(5), Some(a));
        assert_eq!(marks.reached(10), None);
        assert_eq!(marks.abandon(), vec![b]);
        assert!(marks.is_empty());
    }
}
