//! `channels`: fixed 200-byte messages, with channels (docs/PROTOCOLS.md
//! section 3; the CEG 4188 assignment, after Berkeley's
//! CS168 chat project).
//!
//! Every message, both ways, is exactly [`FRAME_LEN`] bytes, right-padded
//! with spaces. The first frame a client sends is its name; after that a
//! frame is either a control message (`/create`, `/join`, `/list`) or text
//! for the client's channel. The hub keeps the channels; this module only
//! parses frames and renders events, with every string exact (the
//! assignment's `utils.py` constants, and two of ours where it has none:
//! `Name <name> is already in use.` and the too-many-channels reply).
//!
//! The client front end (`client/channels.rs`) uses [`put_frame`] and
//! [`strip`] from here, so both ends pad, cut and strip the same way.

use super::{Action, Dialect, Protocol, Sender, Then};
use crate::framing::fixed::FixedFramer;
use crate::framing::{Frame, Framer};
use crate::hub::{Event, Request};
use crate::text::{has_control, is_channel_name, sanitize, shown, split_word};
use log::info;
use std::rc::Rc;

/// Every message, both ways, is exactly this many bytes.
pub const FRAME_LEN: usize = crate::limits::CHANNELS_FRAME_LEN;

pub const CREATE_REQUIRES_ARGUMENT: &str =
    "/create command must be followed by the name of a channel to create";
pub const JOIN_REQUIRES_ARGUMENT: &str =
    "/join command must be followed by the name of a channel to join.";
pub const NOT_IN_CHANNEL: &str =
    "Not currently in any channel. Must join a channel before sending messages.";
/// Follows the first word of an unknown control message.
pub const INVALID_CONTROL_SUFFIX: &str =
    " is not a valid control message. Valid messages are /create, /list, and /join.";

/// Appends one frame to `out`: the concatenation of `parts`, cut to
/// [`FRAME_LEN`] bytes and padded with spaces to exactly that.
///
/// A message can be longer than a frame: `[name] text` when the text
/// already filled its own frame, or a 4096-byte line from a `mesg` user.
/// It is cut, never split over two frames, because each frame is a message
/// of its own to the receiver. The cut backs off to the start of a UTF-8
/// character it would split; bytes that are not UTF-8 are cut where they
/// are. Only a frame's worth of `parts` is ever copied.
pub fn put_frame(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let start = out.len();
    for part in parts {
        // One byte beyond the frame tells whether the cut splits a character.
        let room = (FRAME_LEN + 1).saturating_sub(out.len() - start);
        out.extend_from_slice(&part[..part.len().min(room)]);
    }
    let len = cut_point(&out[start..], FRAME_LEN);
    out.truncate(start + len);
    out.resize(start + FRAME_LEN, b' ');
}

/// [`put_frame`] for a message that holds text a peer chose: the frame is
/// sanitised in place (crate::text), so an LF cannot show the rest as a
/// line of its own and no escape sequence reaches the terminal.
fn put_relayed_frame(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let start = out.len();
    put_frame(out, parts);
    sanitize(&mut out[start..]);
}

/// Where to cut `bytes` to keep at most `max`: at `max`, or earlier at the
/// start of a UTF-8 character that would straddle the cut.
fn cut_point(bytes: &[u8], max: usize) -> usize {
    let is_continuation = |b: u8| b & 0xC0 == 0x80;
    if bytes.len() <= max || !is_continuation(bytes[max]) {
        return bytes.len().min(max);
    }
    // A character is at most 4 bytes, so its first byte is at most 3
    // before the cut. Anything but a lead byte there is not UTF-8: cut at
    // `max` as for any other bytes.
    (max.saturating_sub(3)..max)
        .rev()
        .find(|&i| !is_continuation(bytes[i]))
        .filter(|&i| bytes[i] >= 0xC0)
        .unwrap_or(max)
}

/// A received frame without its padding.
///
/// The protocol pads with spaces; we strip any trailing ASCII whitespace,
/// as the assignment's Python receivers do (`rstrip()`). The tolerance is
/// for clients that pad a line read with `readline()` and so send its
/// `\n` too: `/join tas\n` must still join `tas`.
pub fn strip(frame: &[u8]) -> &[u8] {
    let end = frame
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &frame[..end]
}

/// The spec sets no rules for names. Ours: the name frame with its padding
/// and any leading whitespace removed, 1 to 32 ASCII letters, digits, `-`,
/// `_` or `.` (crate::text). Names are shared with every dialect: a space
/// could forge a `<name> has joined` notice, a comma split `hello`'s
/// `LIST-OK`, a newline a line.
fn parse_name(text: &[u8]) -> Option<&str> {
    let text = text.trim_ascii_start();
    if !crate::text::is_channels_name(text) {
        return None;
    }
    // ASCII only, so this cannot fail.
    std::str::from_utf8(text).ok()
}

#[derive(Debug)]
pub struct Parser {
    /// A frame cut short by the client hanging up is not a message: "only
    /// write the message once all 200 characters have been received".
    frames: FixedFramer,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::new()
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser {
            frames: FixedFramer::new(FRAME_LEN),
        }
    }
}

impl Dialect for Parser {
    fn protocol(&self) -> &'static Protocol {
        &PROTOCOL
    }

    fn framer(&mut self) -> &mut dyn Framer {
        &mut self.frames
    }

    /// One frame from the client. Until the hub has a name for this
    /// connection, the frame is the name; registering either succeeds or
    /// closes the connection, so "no name yet" means "first frame".
    fn on_frame<'a>(
        &mut self,
        frame: Frame<'a>,
        from: Sender<'_>,
        reply: &mut Vec<u8>,
    ) -> Action<'a> {
        let fd = from.fd;
        // A fixed-width framer never reports an over-long frame.
        let Frame::Data(frame) = frame else {
            return Action::Done(Then::Stay);
        };
        let text = strip(frame);
        if from.name.is_none() {
            return match parse_name(text) {
                Some(name) => {
                    info!("Client ({fd}): NAME {}", shown(name.as_bytes()));
                    Action::Request(Request::Register { name })
                }
                None => {
                    // No reply: the assignment has no message for it.
                    info!("Client ({fd}): Invalid Name. Disconnecting User.");
                    Action::Done(Then::HangUp)
                }
            };
        }
        if text.is_empty() {
            // A frame of padding only says nothing; our choice is to relay
            // nothing and answer nothing.
            info!("Client ({fd}): Empty Message. Discarding Message.");
            return Action::Done(Then::Stay);
        }
        if text[0] != b'/' {
            info!("Client ({fd}): Message ({} bytes)", text.len());
            return Action::Request(Request::Say { text });
        }
        control(text, fd, reply)
    }
}

/// A control message: `/create`, `/join`, `/list`, or an unknown one.
fn control<'a>(text: &'a [u8], fd: i32, reply: &mut Vec<u8>) -> Action<'a> {
    // A channel name is everything after the command and one space.
    // Stripping already removed trailing spaces, so an argument that is
    // present is never empty; the filter keeps that true regardless.
    let (command, arg) = split_word(text);
    let arg = arg.filter(|a| !a.is_empty());
    // Channel names are printable ASCII (crate::text): `/list` joins
    // them with `\n` and notices print them, so a name with a control
    // character would forge a line. Anything else names no channel
    // that exists, and cannot name one to create.
    let channel = arg.map(|a| (a, channel_name(a)));
    match (command, channel) {
        (b"/create", Some((_, Some(name)))) => {
            info!("Client ({fd}): /create {}", shown(name.as_bytes()));
            return Action::Request(Request::CreateChannel { name });
        }
        (b"/create", None) => {
            info!("Client ({fd}): /create without a channel. Discarding Message.");
            put_frame(reply, &[CREATE_REQUIRES_ARGUMENT.as_bytes()]);
        }
        (b"/create", Some((raw, None))) => {
            let raw = shown(raw);
            info!("Client ({fd}): /create {raw}: not printable ASCII. Discarding Message.");
            put_frame(reply, &[CREATE_REQUIRES_ARGUMENT.as_bytes()]);
        }
        (b"/join", Some((_, Some(name)))) => {
            info!("Client ({fd}): /join {}", shown(name.as_bytes()));
            return Action::Request(Request::JoinChannel { name });
        }
        (b"/join", Some((raw, None))) if has_control(raw) => {
            let raw = shown(raw);
            info!("Client ({fd}): /join {raw}: a control character. Discarding Message.");
            put_frame(reply, &[JOIN_REQUIRES_ARGUMENT.as_bytes()]);
        }
        (b"/join", Some((raw, None))) => {
            let name = shown(raw);
            info!("Client ({fd}): /join {name}: not printable ASCII. Discarding Message.");
            no_such_channel(reply, raw);
        }
        (b"/join", None) => {
            info!("Client ({fd}): /join without a channel. Discarding Message.");
            put_frame(reply, &[JOIN_REQUIRES_ARGUMENT.as_bytes()]);
        }
        // Our choice: words after /list are ignored, as /list takes none.
        (b"/list", _) => {
            info!("Client ({fd}): /list");
            return Action::Request(Request::ListChannels);
        }
        _ => {
            let word = shown(command);
            info!("Client ({fd}): Invalid Control Message ({word}). Discarding Message.");
            put_relayed_frame(reply, &[command, INVALID_CONTROL_SUFFIX.as_bytes()]);
        }
    }
    Action::Done(Then::Stay)
}

/// `name` as a hub channel name, if it may be one.
fn channel_name(name: &[u8]) -> Option<&str> {
    if !is_channel_name(name) {
        return None;
    }
    // Printable ASCII only, so this cannot fail.
    std::str::from_utf8(name).ok()
}

fn no_such_channel(out: &mut Vec<u8>, name: &[u8]) {
    put_relayed_frame(
        out,
        &[
            b"No channel named ",
            name,
            b" exists. Try '/create ",
            name,
            b"'?",
        ],
    );
}

/// `/list`: the channel names, sorted (the hub keeps them so), joined by
/// `\n` in one frame; nothing at all when there are none.
///
/// One frame holds 200 bytes. Our choice for more names than that: as many
/// frames as needed, each with whole names, so no channel is ever cut off
/// or lost. The client prints them one after the other, as the same lines.
fn put_channel_list(out: &mut Vec<u8>, names: &[Rc<str>]) {
    let mut body: Vec<u8> = Vec::with_capacity(FRAME_LEN);
    for name in names {
        let name = name.as_bytes();
        if !body.is_empty() && body.len() + 1 + name.len() > FRAME_LEN {
            put_frame(out, &[&body]);
            body.clear();
        }
        if !body.is_empty() {
            body.push(b'\n');
        }
        body.extend_from_slice(name);
    }
    if !body.is_empty() {
        put_frame(out, &[&body]);
    }
}

/// The `channels` entry of the dialect table.
pub static PROTOCOL: Protocol = Protocol {
    name: "channels",
    default_max_users: usize::MAX,
    default_address: "0.0.0.0",
    min_max_queue: 0,
    start: || Box::new(Parser::new()),
    render,
    render_receipt: super::no_receipts,
    log_event,
};

/// How a `channels` client sees each hub event.
pub fn render(event: &Event, out: &mut Vec<u8>) -> Then {
    match event {
        Event::NameTaken { name, .. } => {
            let name = name.as_bytes();
            put_frame(out, &[b"Name ", name, b" is already in use."]);
            return Then::HangUp;
        }
        // Only reachable with --max-users. The assignment has no message
        // for it, so the client is simply disconnected.
        Event::Full => return Then::HangUp,
        // A message from anyone, by any route (a channel, or a MESG or BCST
        // from another dialect), looks the same.
        Event::Message { from, text, .. } => {
            put_relayed_frame(out, &[b"[", from.as_bytes(), b"] ", text]);
        }
        Event::Channels(names) => put_channel_list(out, names),
        // Our wording: the assignment never runs out of channels.
        Event::TooManyChannels { name } => {
            let name = name.as_bytes();
            put_frame(
                out,
                &[b"Room ", name, b" cannot be created: too many channels."],
            );
        }
        Event::ChannelExists { name } => {
            let name = name.as_bytes();
            put_frame(
                out,
                &[b"Room ", name, b" already exists, so cannot be created."],
            );
        }
        Event::NoSuchChannel { name } => no_such_channel(out, name.as_bytes()),
        Event::NotInChannel => put_frame(out, &[NOT_IN_CHANNEL.as_bytes()]),
        Event::Joined { who } => put_frame(out, &[who.as_bytes(), b" has joined"]),
        Event::Left { who } => put_frame(out, &[who.as_bytes(), b" has left"]),
        Event::Bye => return Then::HangUp,
        // Registering succeeds silently. The rest answer requests this
        // dialect never makes (a name is registered at most once, and every
        // later request comes from a registered connection).
        Event::Registered { .. }
        | Event::AlreadyRegistered { .. }
        | Event::Unregistered
        | Event::NotRegistered
        | Event::Users(_)
        | Event::UnknownRecipient { .. } => {}
        // Told only to `miniserv` clients.
        Event::Arrived { .. } | Event::Departed { .. } => {}
    }
    Then::Stay
}

/// Status lines for the hub's answers to one client.
pub fn log_event(fd: i32, event: &Event) {
    match event {
        Event::Registered { name } => {
            info!("Client ({fd}): Registered as {}.", shown(name.as_bytes()))
        }
        Event::NameTaken { name, .. } => {
            let name = shown(name.as_bytes());
            info!("Client ({fd}): Name ({name}) in use. Disconnecting User.")
        }
        Event::Full => info!("Client ({fd}): Server Full. Disconnecting User."),
        Event::ChannelExists { name } => {
            let name = shown(name.as_bytes());
            info!("Client ({fd}): Channel ({name}) exists. Discarding /create.")
        }
        Event::TooManyChannels { name } => {
            let name = shown(name.as_bytes());
            info!("Client ({fd}): Too many channels for ({name}). Discarding /create.")
        }
        Event::NoSuchChannel { name } => {
            let name = shown(name.as_bytes());
            info!("Client ({fd}): No channel ({name}). Discarding /join.")
        }
        Event::NotInChannel => info!("Client ({fd}): Not in a channel. Discarding Message."),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::framing::split_all;
    use proptest::prelude::*;

    fn padded(text: &[u8]) -> Vec<u8> {
        let mut frame = text.to_vec();
        frame.resize(FRAME_LEN, b' ');
        frame
    }

    /// Feeds one frame (`text` padded) to a session whose connection is
    /// registered as `name`; returns the reply's text and the request.
    fn frame(text: &[u8], name: Option<&str>) -> (Vec<u8>, Action<'static>) {
        let frame: &'static [u8] = Box::leak(padded(text).into_boxed_slice());
        let mut reply = Vec::new();
        let from = Sender { fd: 7, name };
        let action = Parser::new().on_frame(Frame::Data(frame), from, &mut reply);
        (reply, action)
    }

    fn reply_to(text: &str) -> Vec<u8> {
        let (reply, action) = frame(text.as_bytes(), Some("ana"));
        assert_eq!(action, Action::Done(Then::Stay), "{text:?}");
        reply
    }

    fn request(text: &[u8], name: Option<&str>) -> Request<'static> {
        match frame(text, name) {
            (reply, Action::Request(r)) if reply.is_empty() => r,
            other => panic!("{:?} gave {other:?}", String::from_utf8_lossy(text)),
        }
    }

    fn rendered(event: Event) -> (Vec<u8>, Then) {
        let mut out = Vec::new();
        let after = render(&event, &mut out);
        (out, after)
    }

    #[test]
    fn frames_are_padded_to_exactly_200_bytes() {
        let mut out = b"x".to_vec();
        put_frame(&mut out, &[b"ab", b"", b"c"]);
        assert_eq!(out.len(), 1 + FRAME_LEN);
        assert_eq!(&out[..4], b"xabc");
        assert!(out[4..].iter().all(|&b| b == b' '));
        let mut empty = Vec::new();
        put_frame(&mut empty, &[]);
        assert_eq!(empty, vec![b' '; FRAME_LEN]);
    }

    #[test]
    fn long_messages_are_cut_never_splitting_a_character() {
        let mut out = Vec::new();
        put_frame(&mut out, &[b"[al] ", &[b'x'; 4096]]);
        assert_eq!(out, [b"[al] ".as_slice(), &[b'x'; FRAME_LEN - 5]].concat());
        // "é" is two bytes: one at 199 and one at 200 would split it.
        let text = format!("{}é", "a".repeat(FRAME_LEN - 1));
        let mut out = Vec::new();
        put_frame(&mut out, &[text.as_bytes()]);
        assert_eq!(&out[..FRAME_LEN - 1], "a".repeat(FRAME_LEN - 1).as_bytes());
        assert_eq!(out[FRAME_LEN - 1], b' ');
        // A four-byte character straddling the cut goes whole.
        let text = format!("{}😀", "a".repeat(FRAME_LEN - 2));
        let mut out = Vec::new();
        put_frame(&mut out, &[text.as_bytes()]);
        assert_eq!(strip(&out), "a".repeat(FRAME_LEN - 2).as_bytes());
        // Bytes that are not UTF-8 are cut where they are.
        let mut out = Vec::new();
        put_frame(&mut out, &[&[0x80; 300]]);
        assert_eq!(out, vec![0x80; FRAME_LEN]);
    }

    #[test]
    fn strip_removes_padding_and_a_readline_newline() {
        assert_eq!(strip(b"hi   "), b"hi");
        assert_eq!(strip(b"/join tas\n   "), b"/join tas");
        assert_eq!(strip(b"  a b  "), b"  a b");
        assert_eq!(strip(b"    "), b"");
    }

    #[test]
    fn the_first_frame_is_the_name() {
        assert_eq!(request(b"alice", None), Request::Register { name: "alice" });
        assert_eq!(
            request(b"  Ana.Lu-2_x\n", None),
            Request::Register { name: "Ana.Lu-2_x" }
        );
        let longest = "a".repeat(32);
        assert_eq!(
            request(longest.as_bytes(), None),
            Request::Register {
                name: &*longest.leak()
            }
        );
    }

    #[test]
    fn a_blank_or_unprintable_name_hangs_up_without_a_word() {
        let long = [b'a'; 33];
        for bad in [
            &b""[..],
            b"   ",
            b"\xff\xfe",
            b"a\x07b",
            b"a\nb",
            b"Ana Lu",
            b"a,b",
            "Zo\u{eb}".as_bytes(),
            b"/list",
            &long,
        ] {
            let (reply, action) = frame(bad, None);
            assert_eq!(
                (reply, action),
                (vec![], Action::Done(Then::HangUp)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn text_goes_to_the_channel_as_sent() {
        assert_eq!(
            request(b"Hello  world!", Some("ana")),
            Request::Say {
                text: b"Hello  world!"
            }
        );
        assert_eq!(
            request(b" /not a command", Some("ana")),
            Request::Say {
                text: b" /not a command"
            }
        );
        assert_eq!(
            request(b"caf\xe9", Some("ana")),
            Request::Say { text: b"caf\xe9" }
        );
        assert_eq!(reply_to(""), b"");
    }

    #[test]
    fn create_and_join_take_everything_after_one_space() {
        assert_eq!(
            request(b"/create 168 tas", Some("a")),
            Request::CreateChannel { name: "168 tas" }
        );
        assert_eq!(
            request(b"/join  spaced", Some("a")),
            Request::JoinChannel { name: " spaced" }
        );
        assert_eq!(request(b"/list", Some("a")), Request::ListChannels);
        assert_eq!(request(b"/list all", Some("a")), Request::ListChannels);
    }

    #[test]
    fn control_messages_without_a_channel_are_refused() {
        assert_eq!(
            reply_to("/create"),
            padded(CREATE_REQUIRES_ARGUMENT.as_bytes())
        );
        assert_eq!(
            reply_to("/create   "),
            padded(CREATE_REQUIRES_ARGUMENT.as_bytes())
        );
        assert_eq!(reply_to("/join"), padded(JOIN_REQUIRES_ARGUMENT.as_bytes()));
        let (reply, _) = frame(b"/create \xff", Some("a"));
        assert_eq!(reply, padded(CREATE_REQUIRES_ARGUMENT.as_bytes()));
        let (reply, _) = frame(b"/join \xff", Some("a"));
        assert_eq!(
            reply,
            padded(b"No channel named \xff exists. Try '/create \xff'?")
        );
    }

    #[test]
    fn a_channel_name_is_printable_ascii() {
        for bad in [
            &b"/create a\nb"[..],
            b"/create a\tb",
            b"/create \x1b[2J",
            b"/create zo\xc3\xab",
            b"/create a\xc2\x9b",
        ] {
            let (reply, action) = frame(bad, Some("a"));
            assert_eq!(action, Action::Done(Then::Stay));
            assert_eq!(
                reply,
                padded(CREATE_REQUIRES_ARGUMENT.as_bytes()),
                "{bad:?}"
            );
        }
        for bad in [
            &b"/join a\nb"[..],
            b"/join a\tb",
            b"/join a\x7f",
            b"/join a\xc2\x85",
        ] {
            let (reply, action) = frame(bad, Some("a"));
            assert_eq!(action, Action::Done(Then::Stay));
            assert_eq!(reply, padded(JOIN_REQUIRES_ARGUMENT.as_bytes()), "{bad:?}");
        }
        let (reply, _) = frame("/join zoë".as_bytes(), Some("a"));
        assert_eq!(
            reply,
            padded("No channel named zoë exists. Try '/create zoë'?".as_bytes())
        );
        assert_eq!(
            request(b"/create  ~!x", Some("a")),
            Request::CreateChannel { name: " ~!x" }
        );
    }

    #[test]
    fn unknown_control_messages_name_their_first_word() {
        assert_eq!(
            reply_to("/leave now please"),
            padded(b"/leave is not a valid control message. Valid messages are /create, /list, and /join.")
        );
        assert_eq!(
            reply_to("/"),
            padded(
                b"/ is not a valid control message. Valid messages are /create, /list, and /join."
            )
        );
        assert_eq!(
            strip(&reply_to("/JOIN x")),
            b"/JOIN is not a valid control message. Valid messages are /create, /list, and /join."
        );
    }

    #[test]
    fn events_render_exactly() {
        let cases: Vec<(Event, &str)> = vec![
            (
                Event::ChannelExists { name: "tas".into() },
                "Room tas already exists, so cannot be created.",
            ),
            (
                Event::NoSuchChannel { name: "x y".into() },
                "No channel named x y exists. Try '/create x y'?",
            ),
            (Event::NotInChannel, NOT_IN_CHANNEL),
            (Event::Joined { who: "Kay".into() }, "Kay has joined"),
            (Event::Left { who: "Kay".into() }, "Kay has left"),
        ];
        for (event, want) in cases {
            assert_eq!(rendered(event), (padded(want.as_bytes()), Then::Stay));
        }
        for _route in ["channel", "direct", "broadcast"] {
            let message = Event::Message {
                from: "Kay".into(),
                text: b"Hi!".as_slice().into(),
                receipt: None,
            };
            assert_eq!(rendered(message), (padded(b"[Kay] Hi!"), Then::Stay));
        }
    }

    #[test]
    fn relayed_text_cannot_forge_a_line_or_drive_the_terminal() {
        let message = Event::Message {
            from: "Kay".into(),
            text: b"hi\n[Bob] forged\x1b[2J\xc2\x9b\tcaf\xe9"
                .as_slice()
                .into(),
            receipt: None,
        };
        let want = padded(b"[Kay] hi [Bob] forged [2J  \tcaf\xe9");
        assert_eq!(rendered(message), (want, Then::Stay));
        let (reply, _) = frame(b"/x\x07y more", Some("a"));
        assert_eq!(
            strip(&reply),
            [b"/x y", INVALID_CONTROL_SUFFIX.as_bytes()].concat()
        );
    }

    #[test]
    fn a_taken_name_is_said_then_the_connection_closes() {
        let taken = Event::NameTaken {
            name: "Kay".into(),
            fd: 9,
        };
        assert_eq!(
            rendered(taken),
            (padded(b"Name Kay is already in use."), Then::HangUp)
        );
        assert_eq!(rendered(Event::Full), (vec![], Then::HangUp));
        assert_eq!(rendered(Event::Bye), (vec![], Then::HangUp));
        let registered = Event::Registered { name: "Kay".into() };
        assert_eq!(rendered(registered), (vec![], Then::Stay));
    }

    #[test]
    fn the_channel_list_is_one_frame_or_nothing() {
        assert_eq!(rendered(Event::Channels(vec![])), (vec![], Then::Stay));
        let names = vec!["168_tas".into(), "abc".into()];
        assert_eq!(rendered(Event::Channels(names)).0, padded(b"168_tas\nabc"));
    }

    #[test]
    fn a_long_channel_list_takes_more_frames_with_whole_names() {
        let names: Vec<Rc<str>> = (0..30).map(|i| format!("channel{i:02}").into()).collect();
        let (out, _) = rendered(Event::Channels(names.clone()));
        assert_eq!(out.len() % FRAME_LEN, 0);
        let listed: Vec<String> = out
            .chunks(FRAME_LEN)
            .flat_map(|f| {
                let body = String::from_utf8(strip(f).to_vec()).unwrap();
                assert!(!body.is_empty());
                body.split('\n').map(String::from).collect::<Vec<_>>()
            })
            .collect();
        let want: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        assert_eq!(listed, want);
    }

    proptest! {
        /// Whatever the message, a frame is exactly 200 bytes, and it is a
        /// prefix of the message, padded (stripping gives back the prefix
        /// without its trailing whitespace).
        #[test]
        fn every_frame_is_a_padded_prefix(
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..4),
        ) {
            let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
            let whole = parts.concat();
            let mut out = Vec::new();
            put_frame(&mut out, &parts);
            prop_assert_eq!(out.len(), FRAME_LEN);
            // At most 3 bytes (part of one character) are given up.
            let cut = cut_point(&whole, FRAME_LEN);
            prop_assert!(whole.len().min(FRAME_LEN).saturating_sub(3) <= cut);
            prop_assert_eq!(&out[..cut], &whole[..cut]);
            prop_assert!(out[cut..].iter().all(|&b| b == b' '));
        }

        /// Cutting a valid UTF-8 message leaves valid UTF-8.
        #[test]
        fn a_cut_message_stays_utf8(text in "\\PC{0,250}") {
            let mut out = Vec::new();
            put_frame(&mut out, &[text.as_bytes()]);
            prop_assert!(std::str::from_utf8(&out).is_ok());
            prop_assert!(text.as_bytes().starts_with(strip(&out)));
        }

        /// Frames from a stream of padded messages come out the same
        /// however the stream is split.
        #[test]
        fn frames_do_not_depend_on_split_points(
            texts in proptest::collection::vec("[ -~]{0,200}", 0..5),
            mut cuts in proptest::collection::vec(0usize..1000, 0..30),
        ) {
            let mut stream = Vec::new();
            for text in &texts {
                put_frame(&mut stream, &[text.as_bytes()]);
            }
            cuts.sort_unstable();
            let frames = split_all(&mut FixedFramer::new(FRAME_LEN), &stream, &cuts);
            let got: Vec<Vec<u8>> = frames.into_iter().map(|f| strip(&f.unwrap()).to_vec()).collect();
            let want: Vec<Vec<u8>> = texts.iter().map(|t| strip(t.as_bytes()).to_vec()).collect();
            prop_assert_eq!(got, want);
        }

        /// No frame, registered or not, panics the session, and a reply is
        /// always whole frames.
        #[test]
        fn any_frame_is_handled(bytes in proptest::collection::vec(any::<u8>(), FRAME_LEN), named in any::<bool>()) {
            let mut reply = Vec::new();
            let from = Sender { fd: 3, name: named.then_some("ana") };
            let _ = Parser::new().on_frame(Frame::Data(&bytes), from, &mut reply);
            prop_assert_eq!(reply.len() % FRAME_LEN, 0);
        }
    }
}
