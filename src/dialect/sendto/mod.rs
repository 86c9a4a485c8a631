//! `sendto`: login / list / sendto / logout in length-prefixed binary
//! packets (docs/PROTOCOLS.md section 4; the CS3560 "Chatroom" group project).
//!
//! The length-prefix example beside the delimiter (`mesg`, `hello`) and
//! fixed-width (`channels`) dialects. Its one rule that shapes everything:
//! every client packet gets exactly one reply. LIST gets a LIST packet;
//! everything else a RESPONSE of `0` (ok), `1` (failure) or `2` (malformed
//! packet). A malformed packet is answered by this module alone; a
//! well-formed one becomes one hub request, and the hub's one answer to the
//! sender is rendered as the reply.
//!
//! The byte layout lives in [`packet`], shared with the client.

pub mod packet;

use super::{Action, Dialect, Protocol, Receipt, Sender, Then};
use crate::framing::length::LengthFramer;
use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use crate::text::shown;
use log::info;
use packet::{ClientPacket, Malformed, Status, MAX_BODY};

#[derive(Debug)]
pub struct Parser {
    /// A packet cut short by the peer closing is not a packet: dropped.
    packets: LengthFramer,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            packets: LengthFramer::new(MAX_BODY),
        }
    }
}

impl Dialect for Parser {
    fn protocol(&self) -> &'static Protocol {
        &PROTOCOL
    }

    fn framer(&mut self) -> &mut dyn Framer {
        &mut self.packets
    }

    /// One whole packet from the client. Malformed ones are answered `2`
    /// here and skipped; the rest go to the hub, whose answer is the reply.
    fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        from: Sender<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a> {
        let fd = from.fd;
        let Frame::Data(bytes) = frame else {
            // Refused on its header; its body is never read into memory.
            // After a lie that size the stream cannot be trusted: hang up.
            let (kind, len) = self.packets.rejected().map_or((0, 0), |h| (h.kind, h.len));
            info!(
                "Client ({fd}): Packet type {kind:#04x} declares {len} bytes, over {MAX_BODY}. Answering 2 and disconnecting."
            );
            packet::put_response(reply, Status::Malformed);
            return Action::Done(Then::HangUp);
        };
        // The framer yields whole packets, header included: never empty.
        let kind = bytes.first().copied().unwrap_or_default();
        let type_name = packet::type_name(kind);
        let malformed = |reply: &mut Vec<u8>, why: &dyn std::fmt::Display| {
            info!("Client ({fd}): Malformed {type_name} packet (type {kind:#04x}): {why}. Answering 2.");
            packet::put_response(reply, Status::Malformed);
            Action::Done(Then::Stay)
        };
        match ClientPacket::decode(bytes) {
            Err(Malformed::UnknownType(kind)) => {
                info!("Client ({fd}): Unknown packet type {kind:#04x}. Answering 2.");
                packet::put_response(reply, Status::Malformed);
                Action::Done(Then::Stay)
            }
            Err(why) => malformed(reply, &why),
            Ok(ClientPacket::Login { name }) => {
                info!("Client ({fd}): LOGIN {}", shown(name.as_bytes()));
                // A name against the rules is a packet no correct client
                // sends (the client checks names before sending), which is
                // what `2` means in the seed: "something wrong with your
                // code". `1` is kept for what the client cannot know:
                // logged in already, name taken, server full.
                if packet::valid_name(name) {
                    Action::Request(Request::Register { name })
                } else {
                    malformed(
                        reply,
                        &"the name is not 1 to 20 ASCII letters, digits, '-', '_' or '.'",
                    )
                }
            }
            Ok(ClientPacket::List) => {
                info!("Client ({fd}): LIST");
                Action::Request(Request::List)
            }
            Ok(ClientPacket::Sendto { to, text }) => sendto(to, text, fd, reply),
            Ok(ClientPacket::Logout) => {
                info!("Client ({fd}): LOGOUT");
                Action::Request(Request::Unregister)
            }
        }
    }
}

/// A SENDTO packet.
fn sendto<'a>(to: &'a str, text: &'a str, fd: i32, reply: &mut Vec<u8>) -> Action<'a> {
    info!(
        "Client ({fd}): SENDTO to {} ({} bytes)",
        shown(to.as_bytes()),
        text.len()
    );
    // The recipient is not held to this dialect's name rules: users of
    // other dialects may have longer names (docs/PROTOCOLS.md, "Across
    // dialects"). Only an empty one can name nobody at all.
    if to.is_empty() {
        let kind = packet::SENDTO;
        info!(
            "Client ({fd}): Malformed SENDTO packet (type {kind:#04x}): the recipient's name is empty. Answering 2."
        );
        packet::put_response(reply, Status::Malformed);
        return Action::Done(Then::Stay);
    }
    // With a receipt, the `0` is sent only once the message is in the
    // recipient's socket, and a recipient who vanishes first turns it into
    // `1`: "ok" means delivered, and every SENDTO still gets one reply.
    Action::Request(Request::Direct {
        to,
        text: text.as_bytes(),
        receipt: true,
    })
}

/// The `sendto` entry of the dialect table.
pub static PROTOCOL: Protocol = Protocol {
    name: "sendto",
    default_max_users: usize::MAX,
    default_address: "0.0.0.0",
    min_max_queue: 0,
    start: || Box::new(Parser::new()),
    render,
    render_receipt,
    log_event,
};

/// The one reply to a SENDTO: `0` once the message is in the recipient's
/// socket, `1` if it never will be.
pub fn render_receipt(receipt: Receipt, out: &mut Vec<u8>) -> Then {
    let status = match receipt {
        Receipt::Delivered => Status::Ok,
        Receipt::Undelivered => Status::Failure,
    };
    packet::put_response(out, status);
    Then::Stay
}

/// How a `sendto` client sees each hub event. Each answer to one of its own
/// requests is that request's one reply.
pub fn render(event: &Event, out: &mut Vec<u8>) -> Then {
    match event {
        // LOGIN, LOGOUT and SENDTO succeeded.
        Event::Registered { .. } | Event::Unregistered => packet::put_response(out, Status::Ok),
        // LOGIN: logged in already, name taken, server full (which closes
        // the connection in `mesg` but not here: LOGIN simply fails).
        // SENDTO: not logged in, no such user, recipient gone before the
        // message could be written. LOGOUT: not logged in.
        Event::AlreadyRegistered { .. }
        | Event::NameTaken { .. }
        | Event::Full
        | Event::NotRegistered
        | Event::UnknownRecipient { .. } => packet::put_response(out, Status::Failure),
        Event::Users(users) => packet::put_list(out, users.iter().map(|u| &*u.name)),
        // From a user of any dialect, by any route (direct, broadcast,
        // channel). Other dialects' text need not be UTF-8, which a string
        // here must be: bad bytes become U+FFFD. Controls but TAB become
        // spaces (crate::text): the client prints the text as it is. The
        // result is cut to what a u16 can count.
        Event::Message { from, text, .. } => {
            let text = String::from_utf8_lossy(text);
            let text = crate::text::relayed_str(&text);
            packet::put_message(out, from, packet::truncate(&text, packet::MAX_STRING));
        }
        Event::Bye => return Then::HangUp,
        // Answers to channel requests, which this dialect never makes, and
        // channel notices, which reach only channel members: none of them
        // can come to a `sendto` client.
        Event::Channels(_)
        | Event::ChannelExists { .. }
        | Event::TooManyChannels { .. }
        | Event::NoSuchChannel { .. }
        | Event::NotInChannel
        | Event::Joined { .. }
        | Event::Left { .. } => {}
        // Told only to `miniserv` clients.
        Event::Arrived { .. } | Event::Departed { .. } => {}
    }
    Then::Stay
}

/// Status lines for the hub's answers to one client: what was decided, by
/// fd, never a message's text.
pub fn log_event(fd: i32, event: &Event) {
    match event {
        Event::Registered { name } => {
            info!("Client ({fd}): Logged in as {}.", shown(name.as_bytes()))
        }
        Event::AlreadyRegistered { name, .. } => {
            info!(
                "Client ({fd}): Already logged in as {}. LOGIN failed.",
                shown(name.as_bytes())
            )
        }
        Event::NameTaken { name, fd: holder } => info!(
            "Client ({fd}): Username ({}) in use by client ({holder}). LOGIN failed.",
            shown(name.as_bytes())
        ),
        Event::Full => info!("Client ({fd}): Server full. LOGIN failed."),
        Event::Unregistered => info!("Client ({fd}): Logged out."),
        Event::NotRegistered => info!("Client ({fd}): Not logged in. Request failed."),
        Event::UnknownRecipient { name } => {
            info!(
                "Client ({fd}): Unknown recipient ({}). SENDTO failed.",
                shown(name.as_bytes())
            )
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::packet::{ServerPacket, LIST, LOGIN, LOGOUT, SENDTO};
    use super::*;
    use crate::hub::User;

    fn raw(kind: u8, body: &[u8]) -> Vec<u8> {
        let mut p = vec![kind];
        p.extend_from_slice(&(body.len() as u32).to_be_bytes());
        p.extend_from_slice(body);
        p
    }

    fn string(s: &[u8]) -> Vec<u8> {
        let mut f = (s.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(s);
        f
    }

    const MALFORMED: [u8; 6] = [0x82, 0, 0, 0, 1, 2];

    /// Feeds one whole packet to a fresh session: the dialect's own reply
    /// and what it asks of the hub.
    fn frame(packet: Vec<u8>, name: Option<&str>) -> (Vec<u8>, Option<Request<'static>>) {
        let packet: &'static [u8] = Box::leak(packet.into_boxed_slice());
        let mut reply = Vec::new();
        let from = Sender { fd: 7, name };
        match Parser::new().on_frame(Frame::Data(packet), from, &mut reply) {
            Action::Request(r) => (reply, Some(r)),
            Action::Done(Then::Stay) => (reply, None),
            Action::Done(Then::HangUp) => panic!("only an over-long packet closes"),
        }
    }

    fn rendered(event: Event) -> (Vec<u8>, Then) {
        let mut out = Vec::new();
        let after = render(&event, &mut out);
        (out, after)
    }

    #[test]
    fn well_formed_packets_go_to_the_hub() {
        assert_eq!(
            frame(raw(LOGIN, &string(b"alice")), None),
            (vec![], Some(Request::Register { name: "alice" }))
        );
        assert_eq!(frame(raw(LIST, &[]), None), (vec![], Some(Request::List)));
        let mut body = string(b"bob");
        body.extend(string(b"hi there"));
        let direct = Request::Direct {
            to: "bob",
            text: b"hi there",
            receipt: true,
        };
        assert_eq!(frame(raw(SENDTO, &body), None), (vec![], Some(direct)));
        assert_eq!(
            frame(raw(LOGOUT, &[]), Some("a")),
            (vec![], Some(Request::Unregister))
        );
    }

    #[test]
    fn malformed_packets_are_answered_2_and_kept_from_the_hub() {
        let mut empty_recipient = string(b"");
        empty_recipient.extend(string(b"hi"));
        for bad in [
            raw(0x09, &[]),
            raw(LIST, b"x"),
            raw(LOGIN, &[0, 9, b'a']),
            raw(LOGIN, &string(b"a\xff")),
            raw(LOGIN, &[]),
            raw(SENDTO, &empty_recipient),
            [0x02, 0, 0, 0, 1].to_vec(),
        ] {
            assert_eq!(
                frame(bad.clone(), None),
                (MALFORMED.to_vec(), None),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_login_name_against_the_rules_is_malformed() {
        for bad in [&b""[..], b"al ice", b"a\tb", &[b'a'; 21]] {
            assert_eq!(
                frame(raw(LOGIN, &string(bad)), None),
                (MALFORMED.to_vec(), None),
                "{bad:?}"
            );
        }
        let twenty = raw(LOGIN, &string(&[b'a'; 20]));
        assert!(frame(twenty, None).1.is_some());
    }

    #[test]
    fn a_recipient_with_another_dialects_name_is_looked_up() {
        let name = "a".repeat(32);
        let mut body = string(name.as_bytes());
        body.extend(string(b"hi"));
        assert!(matches!(
            frame(raw(SENDTO, &body), None).1,
            Some(Request::Direct { to, .. }) if to == name
        ));
    }

    #[test]
    fn an_over_long_packet_is_answered_2_and_closes() {
        let mut session = Parser::new();
        let header = [0x03, 0, 1, 0x11, 0x71]; // 70001 bytes
        let (used, frame) = session.framer().next_frame(&header);
        assert_eq!((used, frame), (5, Some(Frame::TooLong)));
        let mut reply = Vec::new();
        let from = Sender { fd: 7, name: None };
        let action = session.on_frame(Frame::TooLong, from, &mut reply);
        assert_eq!(action, Action::Done(Then::HangUp));
        assert_eq!(reply, MALFORMED);
    }

    #[test]
    fn every_hub_answer_is_one_response() {
        let ok = [0x82, 0, 0, 0, 1, 0];
        let failure = [0x82, 0, 0, 0, 1, 1];
        for event in [Event::Registered { name: "a".into() }, Event::Unregistered] {
            assert_eq!(rendered(event), (ok.to_vec(), Then::Stay));
        }
        let mut out = Vec::new();
        render_receipt(Receipt::Delivered, &mut out);
        assert_eq!(out, ok);
        for event in [
            Event::AlreadyRegistered {
                name: "a".into(),
                fd: 1,
            },
            Event::NameTaken {
                name: "a".into(),
                fd: 1,
            },
            Event::Full,
            Event::NotRegistered,
            Event::UnknownRecipient { name: "b".into() },
        ] {
            assert_eq!(rendered(event), (failure.to_vec(), Then::Stay));
        }
        let mut out = Vec::new();
        render_receipt(Receipt::Undelivered, &mut out);
        assert_eq!(out, failure);
    }

    #[test]
    fn users_render_as_a_list_packet_in_order() {
        let users = vec![
            User {
                name: "bob".into(),
                fd: 5,
            },
            User {
                name: "al".into(),
                fd: 4,
            },
        ];
        let (bytes, _) = rendered(Event::Users(users));
        assert_eq!(
            ServerPacket::decode(&bytes),
            Ok(ServerPacket::List(vec!["bob", "al"]))
        );
        assert_eq!(rendered(Event::Users(vec![])).0, [0x81, 0, 0, 0, 2, 0, 0]);
    }

    #[test]
    fn messages_of_every_kind_render_as_sendto_packets() {
        for _route in ["channel", "direct", "broadcast"] {
            let message = Event::Message {
                from: "al".into(),
                text: b"hi".as_slice().into(),
                receipt: None,
            };
            assert_eq!(
                rendered(message).0,
                [0x83, 0, 0, 0, 8, 0, 2, b'a', b'l', 0, 2, b'h', b'i']
            );
        }
    }

    #[test]
    fn text_that_is_not_utf8_still_makes_a_valid_packet() {
        let message = Event::Message {
            from: "tel".into(),
            text: b"caf\xe9".as_slice().into(),
            receipt: None,
        };
        let (bytes, _) = rendered(message);
        assert_eq!(
            ServerPacket::decode(&bytes),
            Ok(ServerPacket::Sendto {
                from: "tel",
                text: "caf\u{fffd}"
            })
        );
    }

    #[test]
    fn relayed_text_has_no_controls_but_tab() {
        let message = Event::Message {
            from: "ch".into(),
            text: b"a\nb\x1b[2J\tc\xc2\x9b".as_slice().into(),
            receipt: None,
        };
        let (bytes, _) = rendered(message);
        assert_eq!(
            ServerPacket::decode(&bytes),
            Ok(ServerPacket::Sendto {
                from: "ch",
                text: "a b [2J\tc  "
            })
        );
    }

    #[test]
    fn channel_events_render_nothing_and_bye_closes() {
        for event in [
            Event::Channels(vec![]),
            Event::NotInChannel,
            Event::Joined { who: "a".into() },
            Event::Left { who: "a".into() },
        ] {
            assert_eq!(rendered(event), (vec![], Then::Stay));
        }
        assert_eq!(rendered(Event::Bye), (vec![], Then::HangUp));
    }
}
