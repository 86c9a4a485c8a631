//! The mutations: each breaks one class of rules (or, for the equivalent
//! ones, none: a correct server or client whose bytes travel differently).

use super::proxy::{Act, Items, Mutation, Unit};
use std::time::{Duration, Instant};

/// A change to a chunk of what a client prints.
pub type Filter = fn(&[u8]) -> Vec<u8>;

/// Which side of a connection a mutant makes wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// It stands in front of a server (`--server`).
    Server,
    /// It stands in front of a client (`--client`).
    Client,
    /// Either.
    Both,
}

/// A mutant: its name, what it does, what it is for, whether it is meant
/// to break anything, and its mutation.
pub struct Kind {
    pub name: &'static str,
    pub does: &'static str,
    pub side: Side,
    /// The dialects whose rules it breaks (or, if equivalent, must leave
    /// unbroken): elsewhere it may break anything.
    pub dialects: &'static [&'static str],
    /// For an equivalent mutant every case must still pass.
    pub equivalent: bool,
    pub make: fn() -> Box<dyn Mutation>,
    /// For client mutants: a change to what the client prints.
    pub stdout: Option<Filter>,
    /// Every write toward a client, of every connection, one at a time
    /// and blocking: a single-threaded server that uses `sendall`.
    pub serialize: bool,
}

const ALL: &[&str] = &["mesg", "hello", "channels", "sendto", "miniserv"];
const LINES: &[&str] = &["mesg", "hello", "miniserv"];

const fn breaks(
    name: &'static str,
    side: Side,
    dialects: &'static [&'static str],
    does: &'static str,
    make: fn() -> Box<dyn Mutation>,
) -> Kind {
    Kind {
        name,
        does,
        side,
        dialects,
        equivalent: false,
        make,
        stdout: None,
        serialize: false,
    }
}

const fn equivalent(
    name: &'static str,
    dialects: &'static [&'static str],
    does: &'static str,
    make: fn() -> Box<dyn Mutation>,
) -> Kind {
    let mut k = breaks(name, Side::Both, dialects, does, make);
    k.equivalent = true;
    k
}

impl Kind {
    const fn printing(mut self, filter: Filter) -> Kind {
        self.stdout = Some(filter);
        self
    }

    const fn serialized(mut self) -> Kind {
        self.serialize = true;
        self
    }
}

use Side::{Client, Server};

pub static KINDS: &[Kind] = &[
    equivalent("pass", ALL, "relays every byte as it is", || Box::new(Pass)),
    equivalent(
        "split",
        ALL,
        "writes each read on, both ways, in pieces of 1 to 3 bytes (past its first 512 bytes, of 1447)",
        || Box::new(Split(0)),
    ),
    equivalent(
        "merge",
        ALL,
        "holds bytes, both ways, until 20 ms pass without more, and writes them at once",
        || Box::new(Merge::default()),
    ),
    equivalent(
        "crlf",
        // Not miniserv: a CR before the LF is part of its line.
        &["mesg", "hello"],
        "ends every line the client sends in CR LF",
        || Box::new(Crlf),
    ),
    breaks(
        "drop-cr",
        Server,
        &["mesg"],
        "removes every CR the server sends: lines end in LF alone",
        || Box::new(DropCr),
    ),
    breaks(
        "lf-to-crlf",
        Server,
        &["hello"],
        "ends every line the server sends in CR LF",
        || Box::new(LfToCrlf),
    ),
    breaks(
        "send-ok-first",
        Server,
        &["hello"],
        "holds each DELIVERY back until the line after it, or a second: SEND-OK overtakes it",
        || Box::new(SendOkFirst::default()),
    ),
    breaks(
        "mesg-echo",
        Server,
        &["mesg"],
        "sends each BCST back to its sender too",
        || Box::new(MesgEcho::default()),
    ),
    breaks(
        "cut-at-recv",
        Server,
        LINES,
        "ends a line wherever a read from a client ends (each `recv` taken for whole lines)",
        || Box::new(CutAtRecv),
    ),
    breaks(
        "first-line-only",
        Server,
        LINES,
        "passes on only the first whole line of each read from a client: pipelined commands are lost",
        || Box::new(FirstLineOnly),
    ),
    breaks(
        "mesg-list-spaces",
        Server,
        &["mesg"],
        "writes the LIST table with spaces for its TABs",
        || Box::new(ListSpaces),
    ),
    breaks(
        "hello-close-on-error",
        Server,
        &["hello"],
        "hangs up on a logged-in user after BAD-RQST-HDR or BAD-RQST-BODY",
        || Box::new(CloseOnError::default()),
    ),
    breaks(
        "channels-recv-is-frame",
        Server,
        &["channels"],
        "takes each read from a client for whole frames, the last one padded (`recv(200)` taken for a frame)",
        || Box::new(RecvIsFrame),
    ),
    breaks(
        "channels-echo",
        Server,
        &["channels"],
        "sends each channel message back to its sender too",
        || Box::new(ChannelsEcho::default()),
    ),
    breaks(
        "channels-no-left",
        Server,
        &["channels"],
        "drops every `<name> has left` notice",
        || Box::new(NoLeft::default()),
    ),
    breaks(
        "channels-list-unsorted",
        Server,
        &["channels"],
        "sends /list's names in reverse order",
        || Box::new(ListReversed::default()),
    ),
    breaks(
        "miniserv-no-left",
        Server,
        &["miniserv"],
        "drops every `server: client <id> just left` notice",
        || Box::new(NoMiniservLeft::default()),
    ),
    breaks(
        "miniserv-partial-relayed",
        Server,
        &["miniserv"],
        "ends a client's partial last line with an LF when it leaves, so it is relayed",
        || Box::new(PartialRelayed::default()),
    ),
    breaks(
        "sendto-always-ok",
        Server,
        &["sendto"],
        "turns every RESPONSE 01 (failure) into 00",
        || Box::new(AlwaysOk::default()),
    ),
    breaks(
        "blocking",
        Server,
        ALL,
        "writes to clients one at a time, blocking: one that stops reading stops everyone (sendall in one thread)",
        || Box::new(Pass),
    )
    .serialized(),
    breaks(
        "close-early",
        Server,
        ALL,
        "hangs up on each client right after the server's first write to it",
        || Box::new(CloseEarly),
    ),
    breaks(
        "mute",
        Server,
        ALL,
        "never lets the server's bytes through: a server that accepts and never answers",
        || Box::new(Mute),
    ),
    breaks(
        "channels-client-unpadded",
        Client,
        &["channels"],
        "sends each typed line without the padding that makes it a frame",
        || Box::new(Unpadded::default()),
    ),
    breaks(
        "channels-client-no-wipe",
        Client,
        &["channels"],
        "prints server messages without rubbing out the prompt",
        || Box::new(Pass),
    )
    .printing(no_wipe),
    breaks(
        "client-no-goodbye",
        Client,
        ALL,
        "prints nothing when the server hangs up",
        || Box::new(Pass),
    )
    .printing(no_goodbye),
    breaks(
        "sendto-client-swapped",
        Client,
        &["sendto"],
        "the client reads RESPONSE 00 as failure and 01 as success",
        || Box::new(Swapped::default()),
    ),
];

pub fn find(name: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.name == name)
}

struct Pass;
impl Mutation for Pass {}

/// Cuts `bytes` into pieces of 1 to 3 bytes, `state` carrying the cycle
/// from read to read. Past the first 512 bytes of a read the pieces are
/// of 1447 bytes (a size no line or frame of the cases divides), so a
/// megabyte crosses in a few thousand writes, not half a million.
fn pieces(bytes: &[u8], state: &mut usize, to: fn(Vec<u8>) -> Act, acts: &mut Vec<Act>) {
    let mut rest = bytes;
    let mut sent = 0;
    while !rest.is_empty() {
        let n = if sent < 512 {
            *state = (*state + 1) % 3;
            *state + 1
        } else {
            1447
        };
        let n = n.min(rest.len());
        acts.push(to(rest[..n].to_vec()));
        rest = &rest[n..];
        sent += n;
    }
}

struct Split(usize);
impl Mutation for Split {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        pieces(bytes, &mut self.0, Act::Client, acts);
    }
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        pieces(bytes, &mut self.0, Act::Server, acts);
    }
}

#[derive(Default)]
struct Merge {
    down: Vec<u8>,
    up: Vec<u8>,
    last: Option<Instant>,
}
impl Merge {
    fn flush(&mut self, acts: &mut Vec<Act>) {
        if !self.down.is_empty() {
            acts.push(Act::Client(std::mem::take(&mut self.down)));
        }
        if !self.up.is_empty() {
            acts.push(Act::Server(std::mem::take(&mut self.up)));
        }
    }
}
impl Mutation for Merge {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        self.down.extend_from_slice(bytes);
        self.last = Some(Instant::now());
        if self.down.len() > 64 * 1024 {
            self.flush(acts);
        }
    }
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        self.up.extend_from_slice(bytes);
        self.last = Some(Instant::now());
        if self.up.len() > 64 * 1024 {
            self.flush(acts);
        }
    }
    fn tick(&mut self, end: bool, acts: &mut Vec<Act>) {
        if end
            || self
                .last
                .is_some_and(|t| t.elapsed() >= Duration::from_millis(20))
        {
            self.flush(acts);
        }
    }
}

struct Crlf;
impl Mutation for Crlf {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        let mut out = Vec::with_capacity(bytes.len() + 8);
        for &b in bytes {
            if b == b'\n' && out.last() != Some(&b'\r') {
                out.push(b'\r');
            }
            out.push(b);
        }
        acts.push(Act::Server(out));
    }
}

struct DropCr;
impl Mutation for DropCr {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Client(
            bytes.iter().copied().filter(|&b| b != b'\r').collect(),
        ));
    }
}

struct LfToCrlf;
impl Mutation for LfToCrlf {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        let mut out = Vec::with_capacity(bytes.len() + 8);
        for &b in bytes {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
        acts.push(Act::Client(out));
    }
}

#[derive(Default)]
struct SendOkFirst {
    lines: Items,
    held: Option<(Vec<u8>, Instant)>,
}
impl Mutation for SendOkFirst {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for line in self.lines.push(bytes, Unit::Line) {
            if line.starts_with(b"DELIVERY ") {
                // DELIVERYs keep their order among themselves.
                if let Some((held, _)) = self.held.take() {
                    acts.push(Act::Client(held));
                }
                self.held = Some((line, Instant::now()));
                continue;
            }
            acts.push(Act::Client(line));
            if let Some((held, _)) = self.held.take() {
                acts.push(Act::Client(held));
            }
        }
    }
    fn tick(&mut self, end: bool, acts: &mut Vec<Act>) {
        if self
            .held
            .as_ref()
            .is_some_and(|(_, t)| end || t.elapsed() >= Duration::from_secs(1))
        {
            if let Some((held, _)) = self.held.take() {
                acts.push(Act::Client(held));
            }
        }
    }
}

/// The line without its line end.
fn text(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[derive(Default)]
struct MesgEcho {
    lines: Items,
    name: Option<Vec<u8>>,
}
impl Mutation for MesgEcho {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Server(bytes.to_vec()));
        for line in self.lines.push(bytes, Unit::Line) {
            let t = text(&line);
            if let Some(name) = t.strip_prefix(b"JOIN ") {
                self.name.get_or_insert_with(|| name.to_vec());
            } else if let (Some(msg), Some(name)) = (t.strip_prefix(b"BCST "), &self.name) {
                if msg.is_empty() {
                    // `BCST ` is no broadcast: the server refuses it.
                    continue;
                }
                acts.push(Act::Client(
                    [b"FROM ", &name[..], b": ", msg, b"\r\n"].concat(),
                ));
            }
        }
    }
}

/// Whether a line dialect's reader sees a line end here (mesg ends lines
/// at CR too; hello's own CR LF ends at the LF).
fn ends_line(b: u8) -> bool {
    b == b'\n' || b == b'\r'
}

/// A server that splits each `recv` into lines and takes what is left at
/// its end for a line too.
struct CutAtRecv;
impl Mutation for CutAtRecv {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        let mut out = bytes.to_vec();
        if out.last().is_some_and(|&b| !ends_line(b)) {
            out.push(b'\n');
        }
        acts.push(Act::Server(out));
    }
}

/// A server that handles one line per `recv`: of each read, the bytes up
/// to its first LF and those after its last pass; the whole lines between
/// are lost. A read without an LF passes whole, so partial lines (and
/// telnet commands) still reach the server's own buffer.
struct FirstLineOnly;
impl Mutation for FirstLineOnly {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        let first = bytes.iter().position(|&b| b == b'\n');
        let last = bytes.iter().rposition(|&b| b == b'\n');
        match (first, last) {
            (Some(f), Some(l)) => {
                acts.push(Act::Server([&bytes[..=f], &bytes[l + 1..]].concat()));
            }
            _ => acts.push(Act::Server(bytes.to_vec())),
        }
    }
}

struct ListSpaces;
impl Mutation for ListSpaces {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Client(
            bytes
                .iter()
                .map(|&b| if b == b'\t' { b' ' } else { b })
                .collect(),
        ));
    }
}

#[derive(Default)]
struct CloseOnError {
    lines: Items,
    logged_in: bool,
}
impl Mutation for CloseOnError {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for line in self.lines.push(bytes, Unit::Line) {
            let t = text(&line).to_vec();
            acts.push(Act::Client(line));
            if t.starts_with(b"HELLO ") {
                self.logged_in = true;
            } else if self.logged_in && (t == b"BAD-RQST-HDR" || t == b"BAD-RQST-BODY") {
                acts.push(Act::Close);
                return;
            }
        }
    }
}

fn padded(text: &[u8]) -> Vec<u8> {
    let mut f = text[..text.len().min(200)].to_vec();
    f.resize(200, b' ');
    f
}

fn stripped(frame: &[u8]) -> &[u8] {
    let end = frame
        .iter()
        .rposition(|&b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &frame[..end]
}

/// `recv(200)` taken for a frame: each read is cut into frames of 200
/// bytes, the last padded with spaces.
struct RecvIsFrame;
impl Mutation for RecvIsFrame {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        let mut out = Vec::with_capacity(bytes.len() + 200);
        for chunk in bytes.chunks(200) {
            out.extend_from_slice(chunk);
            out.resize(out.len() + 200 - chunk.len(), b' ');
        }
        acts.push(Act::Server(out));
    }
}

#[derive(Default)]
struct ChannelsEcho {
    frames: Items,
    name: Option<Vec<u8>>,
    /// A /join or /create was sent: the client is (probably) in a channel.
    in_channel: bool,
}
impl Mutation for ChannelsEcho {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Server(bytes.to_vec()));
        for frame in self.frames.push(bytes, Unit::Frame) {
            let t = stripped(&frame);
            match &self.name {
                None => self.name = Some(t.to_vec()),
                Some(_) if t.starts_with(b"/join ") || t.starts_with(b"/create ") => {
                    self.in_channel = true
                }
                Some(name) if self.in_channel && !t.is_empty() && !t.starts_with(b"/") => {
                    acts.push(Act::Client(padded(&[b"[", &name[..], b"] ", t].concat())));
                }
                Some(_) => {}
            }
        }
    }
}

#[derive(Default)]
struct NoLeft {
    frames: Items,
}
impl Mutation for NoLeft {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for frame in self.frames.push(bytes, Unit::Frame) {
            if !stripped(&frame).ends_with(b" has left") {
                acts.push(Act::Client(frame));
            }
        }
    }
}

#[derive(Default)]
struct ListReversed {
    frames: Items,
}
impl Mutation for ListReversed {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for frame in self.frames.push(bytes, Unit::Frame) {
            let t = stripped(&frame);
            if t.contains(&b'\n') {
                let mut names: Vec<&[u8]> = t.split(|&b| b == b'\n').collect();
                names.reverse();
                acts.push(Act::Client(padded(&names.join(&b'\n'))));
            } else {
                acts.push(Act::Client(frame));
            }
        }
    }
}

#[derive(Default)]
struct NoMiniservLeft {
    lines: Items,
}
impl Mutation for NoMiniservLeft {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for line in self.lines.push(bytes, Unit::Line) {
            if !(line.starts_with(b"server: client ") && line.ends_with(b" just left\n")) {
                acts.push(Act::Client(line));
            }
        }
    }
}

/// What one of the public testers expects: a half line at the end is
/// relayed, as if its LF had come.
#[derive(Default)]
struct PartialRelayed {
    /// The last byte passed to the server was not an LF.
    partial: bool,
}
impl Mutation for PartialRelayed {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        if let Some(&last) = bytes.last() {
            self.partial = last != b'\n';
        }
        acts.push(Act::Server(bytes.to_vec()));
    }
    fn tick(&mut self, end: bool, acts: &mut Vec<Act>) {
        if end && std::mem::take(&mut self.partial) {
            acts.push(Act::Server(b"\n".to_vec()));
        }
    }
}

#[derive(Default)]
struct AlwaysOk {
    packets: Items,
}
impl Mutation for AlwaysOk {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for mut p in self.packets.push(bytes, Unit::Packet) {
            if p == [0x82, 0, 0, 0, 1, 1] {
                p[5] = 0;
            }
            acts.push(Act::Client(p));
        }
    }
}

#[derive(Default)]
struct Swapped {
    packets: Items,
}
impl Mutation for Swapped {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for mut p in self.packets.push(bytes, Unit::Packet) {
            if p.len() == 6 && p[..5] == [0x82, 0, 0, 0, 1] && p[5] < 2 {
                p[5] ^= 1;
            }
            acts.push(Act::Client(p));
        }
    }
}

struct CloseEarly;
impl Mutation for CloseEarly {
    fn down(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        acts.push(Act::Client(bytes.to_vec()));
        acts.push(Act::Close);
    }
}

struct Mute;
impl Mutation for Mute {
    fn down(&mut self, _bytes: &[u8], _acts: &mut Vec<Act>) {}
}

/// Typed lines sent as they are, not padded to a frame; the name frame
/// goes whole, so the cases of the name stand apart from those of lines.
#[derive(Default)]
struct Unpadded {
    frames: Items,
    named: bool,
}
impl Mutation for Unpadded {
    fn up(&mut self, bytes: &[u8], acts: &mut Vec<Act>) {
        for frame in self.frames.push(bytes, Unit::Frame) {
            if std::mem::replace(&mut self.named, true) {
                acts.push(Act::Server(stripped(&frame).to_vec()));
            } else {
                acts.push(Act::Server(frame));
            }
        }
    }
}

/// Removes every `CR, 4 spaces, CR` from what a client prints.
fn no_wipe(out: &[u8]) -> Vec<u8> {
    let wipe = b"\r    \r";
    let mut res = Vec::with_capacity(out.len());
    let mut i = 0;
    while i < out.len() {
        if out[i..].starts_with(wipe) {
            i += wipe.len();
        } else {
            res.push(out[i]);
            i += 1;
        }
    }
    res
}

/// Removes every line that says `Server at ... has disconnected` (in
/// channels, after the CR and spaces that rub out the prompt). A client
/// prints such a line in one write, so it never straddles two reads.
fn no_goodbye(out: &[u8]) -> Vec<u8> {
    let goodbye = |l: &[u8]| {
        let at = l.windows(10).position(|w| w == b"Server at ");
        at.is_some_and(|i| l[i..].windows(17).any(|w| w == b" has disconnected"))
    };
    out.split_inclusive(|&b| b == b'\n')
        .filter(|l| !goodbye(l))
        .flatten()
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(m: &mut dyn Mutation, down: &[u8]) -> Vec<Act> {
        let mut acts = Vec::new();
        m.down(down, &mut acts);
        m.tick(true, &mut acts);
        acts
    }

    /// What `m` makes of the reads `ups` from a client, then its end.
    fn upward(m: &mut dyn Mutation, ups: &[&[u8]]) -> Vec<u8> {
        let mut acts = Vec::new();
        for up in ups {
            m.up(up, &mut acts);
        }
        m.tick(true, &mut acts);
        acts.into_iter()
            .flat_map(|a| match a {
                Act::Server(b) => b,
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn the_line_mutants_cut_and_lose_where_they_say() {
        assert_eq!(
            upward(&mut CutAtRecv, &[b"JOIN a\r\nMESG z", b"oe hi\r\n"]),
            b"JOIN a\r\nMESG z\noe hi\r\n"
        );
        assert_eq!(
            upward(
                &mut FirstLineOnly,
                &[b"one\ntwo\nthree\nfo", b"ur\n", b"no end"]
            ),
            b"one\nfour\nno end"
        );
        assert_eq!(
            upward(&mut RecvIsFrame, &[b"ab"]),
            [&b"ab"[..], &[b' '; 198]].concat()
        );
        assert_eq!(
            upward(&mut PartialRelayed::default(), &[b"a\nhalf"]),
            b"a\nhalf\n"
        );
        assert_eq!(
            upward(&mut PartialRelayed::default(), &[b"whole\n"]),
            b"whole\n"
        );
        let acts = run(
            &mut NoMiniservLeft::default(),
            b"server: client 1 just left\nclient 2: just left\n",
        );
        assert_eq!(acts, vec![Act::Client(b"client 2: just left\n".to_vec())]);
    }

    #[test]
    fn send_ok_overtakes_the_delivery() {
        let acts = run(&mut SendOkFirst::default(), b"DELIVERY a x\nSEND-OK\n");
        assert_eq!(
            acts,
            vec![
                Act::Client(b"SEND-OK\n".to_vec()),
                Act::Client(b"DELIVERY a x\n".to_vec())
            ]
        );
    }

    #[test]
    fn the_filters_remove_what_they_say() {
        assert_eq!(no_wipe(b"[Me] \r    \rhi\n[Me] "), b"[Me] hi\n[Me] ");
        assert_eq!(no_goodbye(b"a\nServer at x:1 has disconnected\nb"), b"a\nb");
        assert_eq!(
            no_goodbye(b"[Me] \r    \rServer at x:1 has disconnected\n"),
            b""
        );
    }

    #[test]
    fn every_kind_has_a_unique_name() {
        let mut names: Vec<&str> = KINDS.iter().map(|k| k.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), KINDS.len());
    }
}
