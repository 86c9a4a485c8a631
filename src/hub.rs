//! The hub: who is here, under which name, in which channel, and who gets
//! which message.
//!
//! It is pure: requests come in as `(ConnId, Request)`, and the answer is a
//! list of [`Event`]s, each with the connections it goes to, in
//! [`Deliveries`]. It
//! never sees a socket or a byte of any protocol, so every rule of every
//! dialect that depends on shared state (names, limits, channels) is tested
//! here without a network.
//!
//! All listeners of a server share one hub, which is why a telnet user can
//! message a user who logged in over another dialect: the hub only knows
//! names and tokens; each recipient's dialect renders the event in its own
//! form.
//!
//! A failed request changes nothing: every check happens before any state
//! is touched.

use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;

/// A connection, as the hub knows it: a number the caller chose (the event
/// loop's slot for it), reused once the connection is [`Request::Gone`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);

/// What a connection asks of the hub, already parsed by its dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// A connection was accepted. Its registered users count against the
    /// limit of `pool` (see [`Hub::add_pool`]).
    Open { fd: i32, pool: Pool },
    /// Take a name (JOIN, HELLO-FROM, LOGIN, a channels client's first frame).
    Register { name: &'a str },
    /// Take the name `<prefix><n>`, `n` the hub's next number (from 0,
    /// never given twice), and from now on hear of every other user's
    /// arrival and departure ([`Event::Arrived`], [`Event::Departed`]): a
    /// `miniserv` client on connecting. The prefix must be one no dialect
    /// admits in a name, so the name is never taken.
    Arrive { prefix: &'a str },
    /// Give the name back but stay connected (`sendto` LOGOUT).
    Unregister,
    /// Who is registered, in registration order.
    List,
    /// A message to one user. With `receipt`, the sender is told when the
    /// message has been written into the recipient's socket (or that it
    /// never will be): see [`Event::Message`].
    Direct {
        to: &'a str,
        text: &'a [u8],
        receipt: bool,
    },
    /// A message to every other registered user.
    Broadcast { text: &'a [u8] },
    /// Create a channel and move into it.
    CreateChannel { name: &'a str },
    /// Move into an existing channel.
    JoinChannel { name: &'a str },
    /// The channels that exist, sorted.
    ListChannels,
    /// A message to the other members of the sender's channel.
    Say { text: &'a [u8] },
    /// The client said goodbye: free its name now; the loop closes it.
    Quit,
    /// The connection is gone (closed by either side). Always the last
    /// request for a connection.
    Gone,
}

impl Request<'_> {
    /// What kind of request this is, for the trace (never its text).
    pub fn name(&self) -> &'static str {
        match self {
            Request::Open { .. } => "open",
            Request::Register { .. } => "register",
            Request::Arrive { .. } => "arrive",
            Request::Unregister => "unregister",
            Request::List => "list",
            Request::Direct { .. } => "direct message",
            Request::Broadcast { .. } => "broadcast",
            Request::CreateChannel { .. } => "create channel",
            Request::JoinChannel { .. } => "join channel",
            Request::ListChannels => "list channels",
            Request::Say { .. } => "say in channel",
            Request::Quit => "quit",
            Request::Gone => "gone",
        }
    }
}

/// One registered user, as LIST shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub name: Rc<str>,
    pub fd: i32,
}

/// What the hub tells a connection.
/// Dialects turn these into bytes; the hub never does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The name was taken for this connection.
    Registered {
        name: Rc<str>,
    },
    /// This connection already has a name.
    AlreadyRegistered {
        name: Rc<str>,
        fd: i32,
    },
    /// Another connection (`fd`) holds the name.
    NameTaken {
        name: Rc<str>,
        fd: i32,
    },
    /// The listener's limit on registered users is reached.
    Full,
    /// The name was given back (`Unregister`).
    Unregistered,
    /// The request needs a name first.
    NotRegistered,
    /// The answer to `List`.
    Users(Vec<User>),
    /// A message for this connection, by any route (direct, broadcast,
    /// channel). `receipt` names the sender who wants to hear when it has
    /// been written out: the relay, which knows when that happens, tells
    /// it (see `relay::receipts`).
    Message {
        from: Rc<str>,
        text: Rc<[u8]>,
        receipt: Option<ConnId>,
    },
    /// `Direct` named nobody who is registered.
    UnknownRecipient {
        name: Rc<str>,
    },
    /// The answer to `ListChannels`.
    Channels(Vec<Rc<str>>),
    ChannelExists {
        name: Rc<str>,
    },
    /// No more channels can be created: [`crate::limits::MAX_CHANNELS`]
    /// exist and every one of them has members.
    TooManyChannels {
        name: Rc<str>,
    },
    NoSuchChannel {
        name: Rc<str>,
    },
    NotInChannel,
    /// Someone else entered this connection's channel.
    Joined {
        who: Rc<str>,
    },
    /// Someone else left this connection's channel.
    Left {
        who: Rc<str>,
    },
    /// The answer to `Quit`: the dialect says goodbye (or not) and hangs up.
    Bye,
    /// Another user took a name: sent only to those who came by
    /// [`Request::Arrive`].
    Arrived {
        who: Rc<str>,
    },
    /// Another user gave their name back or left (to the same).
    Departed {
        who: Rc<str>,
    },
}

/// Something said or done in public, for the transcript (`--transcript`):
/// what the room saw, not what each member was sent. Recorded only when
/// [`Deliveries::record_public`] asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Public {
    /// A user took a name: they are on the server.
    Arrived { who: Rc<str> },
    /// A user gave their name back or left.
    Departed { who: Rc<str> },
    /// A message to everyone (`BCST`, `SEND *`...), whoever was there.
    Broadcast { from: Rc<str>, text: Rc<[u8]> },
    /// A message to a channel's other members.
    Channel {
        from: Rc<str>,
        channel: Rc<str>,
        text: Rc<[u8]>,
    },
    /// A user entered a channel.
    Entered { who: Rc<str>, channel: Rc<str> },
    /// A user left a channel.
    Exited { who: Rc<str>, channel: Rc<str> },
    /// A message to one user: private, kept only with
    /// `--transcript-direct`.
    Direct {
        from: Rc<str>,
        to: Rc<str>,
        text: Rc<[u8]>,
    },
}

/// The events produced by one request, each with its recipients.
///
/// A broadcast is one event with many recipients, not many events, so the
/// event loop renders it once per dialect and copies the bytes to each
/// recipient.
#[derive(Debug, Default)]
pub struct Deliveries {
    items: Vec<(Event, std::ops::Range<usize>)>,
    recipients: Vec<ConnId>,
    /// What happened in public, and who did it; only when `recording`.
    public: Vec<(ConnId, Public)>,
    recording: bool,
}

impl Deliveries {
    pub fn new() -> Deliveries {
        Deliveries::default()
    }

    /// From now on, also keep what happens in public ([`Public`]).
    pub fn record_public(&mut self) {
        self.recording = true;
    }

    fn record(&mut self, by: ConnId, what: impl FnOnce() -> Public) {
        if self.recording {
            self.public.push((by, what()));
        }
    }

    /// What happened in public since the last [`Deliveries::clear`].
    pub fn public(&self) -> &[(ConnId, Public)] {
        &self.public
    }

    fn send(&mut self, to: ConnId, event: Event) {
        self.send_many(std::iter::once(to), event);
    }

    fn send_many(&mut self, to: impl IntoIterator<Item = ConnId>, event: Event) {
        let start = self.recipients.len();
        self.recipients.extend(to);
        if self.recipients.len() > start {
            self.items.push((event, start..self.recipients.len()));
        }
    }

    /// The events in order, each with its recipients.
    pub fn iter(&self) -> impl Iterator<Item = (&Event, &[ConnId])> {
        self.items
            .iter()
            .map(|(event, range)| (event, &self.recipients[range.clone()]))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Empties the outbox, keeping its memory for the next request.
    pub fn clear(&mut self) {
        self.items.clear();
        self.recipients.clear();
        self.public.clear();
    }

    /// Every (recipient, event) pair, for tests.
    pub fn flatten(&self) -> Vec<(ConnId, Event)> {
        self.iter()
            .flat_map(|(event, to)| to.iter().map(move |t| (*t, event.clone())))
            .collect()
    }
}

/// A limit on registered users shared by the connections opened with it:
/// one per dialect by default, so one dialect's users can never lock
/// another's out, or one for the whole server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pool(usize);

#[derive(Debug)]
struct PoolCount {
    max: usize,
    registered: usize,
}

/// One channel: its members in the order they entered, and, while it has
/// none, when it became empty (its key in [`Hub::empty`]).
#[derive(Debug, Default)]
struct Channel {
    members: Vec<ConnId>,
    emptied: Option<u64>,
}

#[derive(Debug)]
struct Member {
    fd: i32,
    pool: Pool,
    name: Option<Rc<str>>,
    channel: Option<Rc<str>>,
    /// Came by `Arrive`: is told of arrivals and departures.
    watches: bool,
}

fn message(from: Rc<str>, text: &[u8], receipt: Option<ConnId>) -> Event {
    Event::Message {
        from,
        text: text.into(),
        receipt,
    }
}

/// The shared state of one server.
#[derive(Debug)]
pub struct Hub {
    /// Indexed by token: tokens are slab keys, so this stays dense.
    members: Vec<Option<Member>>,
    by_name: HashMap<Rc<str>, ConnId>,
    /// Registered tokens in registration order (LIST order, BCST order).
    order: Vec<ConnId>,
    /// Channels by name (sorted, for `/list`). A channel outlives its
    /// members; only a `/create` at the limit removes one, the one empty
    /// longest.
    channels: BTreeMap<Rc<str>, Channel>,
    /// The empty channels, keyed by when they became empty (a counter):
    /// the first is the one to remove. Keeps every step O(log n).
    empty: BTreeMap<u64, Rc<str>>,
    /// The next key for `empty`.
    emptied_count: u64,
    /// [`crate::limits::MAX_CHANNELS`]; smaller in tests.
    max_channels: usize,
    pools: Vec<PoolCount>,
    /// The number the next `Arrive` takes.
    next_number: u64,
}

impl Default for Hub {
    fn default() -> Hub {
        Hub {
            members: Vec::new(),
            by_name: HashMap::new(),
            order: Vec::new(),
            channels: BTreeMap::new(),
            empty: BTreeMap::new(),
            emptied_count: 0,
            max_channels: crate::limits::MAX_CHANNELS,
            pools: Vec::new(),
            next_number: 0,
        }
    }
}

impl Hub {
    pub fn new() -> Hub {
        Hub::default()
    }

    /// A hub that holds at most `max` channels, to reach the limit in tests.
    #[cfg(test)]
    fn with_max_channels(max: usize) -> Hub {
        Hub {
            max_channels: max,
            ..Hub::default()
        }
    }

    /// The name `token` is registered under, if any.
    pub fn name(&self, token: ConnId) -> Option<&Rc<str>> {
        self.member(token)?.name.as_ref()
    }

    /// The token holding `name`, if any.
    pub fn lookup(&self, name: &str) -> Option<ConnId> {
        self.by_name.get(name).copied()
    }

    /// A new limit of `max` registered users, for the connections opened
    /// with it.
    pub fn add_pool(&mut self, max: usize) -> Pool {
        self.pools.push(PoolCount { max, registered: 0 });
        Pool(self.pools.len() - 1)
    }

    /// How many users are registered on the whole server.
    pub fn registered(&self) -> usize {
        self.order.len()
    }

    /// How many connections are open.
    pub fn connections(&self) -> usize {
        self.members.iter().filter(|m| m.is_some()).count()
    }

    fn member(&self, token: ConnId) -> Option<&Member> {
        self.members.get(token.0)?.as_ref()
    }

    fn member_mut(&mut self, token: ConnId) -> Option<&mut Member> {
        self.members.get_mut(token.0)?.as_mut()
    }

    /// Handles one request from `token`, appending the answers to `out`.
    pub fn handle(&mut self, token: ConnId, request: Request<'_>, out: &mut Deliveries) {
        if let Request::Open { fd, pool } = request {
            return self.open(token, fd, pool, out);
        }
        let Some(member) = self.member(token) else {
            // A request for a connection the hub does not know (already
            // closed): nothing to do, and nothing to answer.
            return;
        };
        let me = member.name.clone();
        match (request, me) {
            (Request::Open { .. }, _) => unreachable!("handled above"),
            (Request::Gone, _) => {
                self.unregister(token, out);
                self.members[token.0] = None;
            }
            (Request::Quit, _) => {
                self.unregister(token, out);
                out.send(token, Event::Bye);
            }
            (Request::Register { name }, None) => self.register(token, name, out),
            (Request::Arrive { prefix }, None) => self.arrive(token, prefix, out),
            (Request::Register { .. } | Request::Arrive { .. }, Some(name)) => {
                let fd = self.member(token).map_or(-1, |m| m.fd);
                out.send(token, Event::AlreadyRegistered { name, fd });
            }
            (Request::List, _) => out.send(token, Event::Users(self.users())),
            (Request::ListChannels, _) => {
                let names = self.channels.keys().cloned().collect();
                out.send(token, Event::Channels(names));
            }
            (_, None) => out.send(token, Event::NotRegistered),
            (Request::Unregister, Some(_)) => {
                self.unregister(token, out);
                out.send(token, Event::Unregistered);
            }
            (Request::Direct { to, text, receipt }, Some(from)) => {
                self.direct(token, from, to, text, receipt, out)
            }
            (Request::Broadcast { text }, Some(from)) => {
                let event = message(from.clone(), text, None);
                if let Event::Message { text, .. } = &event {
                    let text = text.clone();
                    out.record(token, || Public::Broadcast { from, text });
                }
                let others = self.order.iter().copied().filter(|&t| t != token);
                out.send_many(others, event);
            }
            (Request::CreateChannel { name }, Some(me)) => self.create(token, me, name, out),
            (Request::JoinChannel { name }, Some(me)) => match self.channels.get_key_value(name) {
                Some((channel, _)) => {
                    let channel = channel.clone();
                    self.enter(token, me, channel, out);
                }
                None => out.send(token, Event::NoSuchChannel { name: name.into() }),
            },
            (Request::Say { text }, Some(from)) => self.say(token, from, text, out),
        }
    }

    /// A message from the operator (`from`, a name no user can take) to
    /// every registered user, in registration order. Recorded as a
    /// broadcast by `by`, which names no connection.
    pub fn announce(&mut self, by: ConnId, from: &str, text: &[u8], out: &mut Deliveries) {
        let event = message(from.into(), text, None);
        if let Event::Message { from, text, .. } = &event {
            let (from, text) = (from.clone(), text.clone());
            out.record(by, || Public::Broadcast { from, text });
        }
        out.send_many(self.order.iter().copied(), event);
    }

    /// A message from the operator to one connection only (why it is
    /// being disconnected). Not recorded: it is no one else's business.
    pub fn notify(&mut self, to: ConnId, from: &str, text: &[u8], out: &mut Deliveries) {
        if self.member(to).is_some() {
            out.send(to, message(from.into(), text, None));
        }
    }

    fn open(&mut self, token: ConnId, fd: i32, pool: Pool, out: &mut Deliveries) {
        // A slot is only reused after its Gone; should that ever be
        // skipped, the old connection's name must not outlive it.
        self.unregister(token, out);
        if self.members.len() <= token.0 {
            self.members.resize_with(token.0 + 1, || None);
        }
        self.members[token.0] = Some(Member {
            fd,
            pool,
            name: None,
            channel: None,
            watches: false,
        });
    }

    /// `Arrive`: the next number's name, unless the pool is full (the
    /// number is then not used up, so the ids of those let in stay
    /// consecutive).
    fn arrive(&mut self, token: ConnId, prefix: &str, out: &mut Deliveries) {
        let full = self
            .member(token)
            .and_then(|m| self.pools.get(m.pool.0))
            .is_some_and(|count| count.registered >= count.max);
        if full {
            out.send(token, Event::Full);
            return;
        }
        let mut name = format!("{prefix}{}", self.next_number);
        // Never taken by a prefix no dialect admits; but a name is never
        // given twice whatever the caller chose.
        while self.by_name.contains_key(name.as_str()) {
            self.next_number += 1;
            name = format!("{prefix}{}", self.next_number);
        }
        self.next_number += 1;
        if let Some(m) = self.member_mut(token) {
            m.watches = true;
        }
        self.register(token, &name, out);
    }

    /// Those told of arrivals and departures, but `token`.
    fn watchers_but(&self, token: ConnId) -> Vec<ConnId> {
        self.order
            .iter()
            .copied()
            .filter(|&t| t != token && self.member(t).is_some_and(|m| m.watches))
            .collect()
    }

    /// Who is registered, in registration order, as LIST shows them.
    fn users(&self) -> Vec<User> {
        self.order
            .iter()
            .filter_map(|&t| {
                let m = self.member(t)?;
                Some(User {
                    name: m.name.clone()?,
                    fd: m.fd,
                })
            })
            .collect()
    }

    fn direct(
        &mut self,
        token: ConnId,
        from: Rc<str>,
        to: &str,
        text: &[u8],
        receipt: bool,
        out: &mut Deliveries,
    ) {
        match self.lookup(to) {
            Some(recipient) => {
                let receipt = receipt.then_some(token);
                let event = message(from.clone(), text, receipt);
                if let (Event::Message { text, .. }, Some(to)) = (&event, self.name(recipient)) {
                    let (text, to) = (text.clone(), to.clone());
                    out.record(token, || Public::Direct { from, to, text });
                }
                out.send(recipient, event);
            }
            None => out.send(token, Event::UnknownRecipient { name: to.into() }),
        }
    }

    fn create(&mut self, token: ConnId, me: Rc<str>, name: &str, out: &mut Deliveries) {
        if let Some((existing, _)) = self.channels.get_key_value(name) {
            let name = existing.clone();
            out.send(token, Event::ChannelExists { name });
        } else if self.channels.len() >= self.max_channels && !self.remove_oldest_empty() {
            // Every channel has members: refused, and nothing changed.
            let name = name.into();
            out.send(token, Event::TooManyChannels { name });
        } else {
            let channel: Rc<str> = name.into();
            self.channels.insert(channel.clone(), Channel::default());
            self.enter(token, me, channel, out);
        }
    }

    fn say(&mut self, token: ConnId, from: Rc<str>, text: &[u8], out: &mut Deliveries) {
        let channel_name = self.member(token).and_then(|m| m.channel.clone());
        match channel_name.as_ref().and_then(|c| self.channels.get(c)) {
            Some(channel) => {
                let event = message(from.clone(), text, None);
                if let (Event::Message { text, .. }, Some(name)) = (&event, &channel_name) {
                    let (text, channel) = (text.clone(), name.clone());
                    out.record(token, || Public::Channel {
                        from,
                        channel,
                        text,
                    });
                }
                let others = channel.members.iter().copied().filter(|&t| t != token);
                out.send_many(others, event);
            }
            None => out.send(token, Event::NotInChannel),
        }
    }

    fn register(&mut self, token: ConnId, name: &str, out: &mut Deliveries) {
        if let Some((held, &holder)) = self.by_name.get_key_value(name) {
            let fd = self.member(holder).map_or(-1, |m| m.fd);
            out.send(
                token,
                Event::NameTaken {
                    name: held.clone(),
                    fd,
                },
            );
            return;
        }
        let Some(pool) = self.member(token).map(|m| m.pool) else {
            return;
        };
        // A pool never added is no limit at all.
        if let Some(count) = self.pools.get_mut(pool.0) {
            if count.registered >= count.max {
                out.send(token, Event::Full);
                return;
            }
            count.registered += 1;
        }
        let name: Rc<str> = name.into();
        self.by_name.insert(name.clone(), token);
        self.order.push(token);
        if let Some(m) = self.member_mut(token) {
            m.name = Some(name.clone());
        }
        out.record(token, || Public::Arrived { who: name.clone() });
        let watchers = self.watchers_but(token);
        out.send_many(watchers, Event::Arrived { who: name.clone() });
        out.send(token, Event::Registered { name });
    }

    /// Frees the name of `token` and takes it out of its channel, telling
    /// the channel. Does nothing for a connection without a name.
    fn unregister(&mut self, token: ConnId, out: &mut Deliveries) {
        let Some(m) = self.member_mut(token) else {
            return;
        };
        let Some(name) = m.name.take() else {
            return;
        };
        let pool = m.pool;
        if let Some(count) = self.pools.get_mut(pool.0) {
            count.registered -= 1;
        }
        self.leave_channel(token, &name, out);
        self.by_name.remove(&name);
        self.order.retain(|&t| t != token);
        let watchers = self.watchers_but(token);
        out.send_many(watchers, Event::Departed { who: name.clone() });
        out.record(token, || Public::Departed { who: name });
    }

    /// Removes the channel that has been empty longest, if any is empty.
    fn remove_oldest_empty(&mut self) -> bool {
        match self.empty.pop_first() {
            Some((_, name)) => {
                self.channels.remove(&name);
                true
            }
            None => false,
        }
    }

    /// Moves `token` into `channel`: leaves its current one (telling those
    /// members), then tells the new channel's members.
    fn enter(&mut self, token: ConnId, me: Rc<str>, channel: Rc<str>, out: &mut Deliveries) {
        self.leave_channel(token, &me, out);
        let entered = self.channels.entry(channel.clone()).or_default();
        // Occupied again: no longer a channel to remove.
        if let Some(key) = entered.emptied.take() {
            self.empty.remove(&key);
        }
        out.record(token, || Public::Entered {
            who: me.clone(),
            channel: channel.clone(),
        });
        out.send_many(entered.members.iter().copied(), Event::Joined { who: me });
        entered.members.push(token);
        if let Some(m) = self.member_mut(token) {
            m.channel = Some(channel);
        }
    }

    fn leave_channel(&mut self, token: ConnId, me: &Rc<str>, out: &mut Deliveries) {
        let Some(name) = self.member_mut(token).and_then(|m| m.channel.take()) else {
            return;
        };
        out.record(token, || Public::Exited {
            who: me.clone(),
            channel: name.clone(),
        });
        if let Some(channel) = self.channels.get_mut(&name) {
            channel.members.retain(|&t| t != token);
            out.send_many(
                channel.members.iter().copied(),
                Event::Left { who: me.clone() },
            );
            if channel.members.is_empty() {
                let key = self.emptied_count;
                self.emptied_count += 1;
                channel.emptied = Some(key);
                self.empty.insert(key, name);
            }
        }
    }
}

impl Hub {
    /// Panics unless the hub's indexes agree with each other: every name
    /// maps to exactly one open connection and back, channel members are
    /// open and registered, and no limit is exceeded. For tests and fuzzing.
    #[doc(hidden)]
    pub fn check_invariants(&self) {
        assert_eq!(self.by_name.len(), self.order.len(), "names vs order");
        for (name, &token) in &self.by_name {
            let member = self.member(token).expect("a registered token is open");
            assert_eq!(member.name.as_deref(), Some(&**name), "name maps back");
            assert_eq!(self.order.iter().filter(|&&t| t == token).count(), 1);
        }
        for (i, member) in self.members.iter().enumerate() {
            let Some(member) = member else { continue };
            if let Some(name) = &member.name {
                assert_eq!(self.by_name.get(name), Some(&ConnId(i)));
            }
            if let Some(channel) = &member.channel {
                let members = &self.channels[channel].members;
                assert_eq!(members.iter().filter(|&&t| t == ConnId(i)).count(), 1);
            }
        }
        for (name, channel) in &self.channels {
            for &t in &channel.members {
                let m = self.member(t).expect("a channel member is open");
                assert!(m.name.is_some(), "a channel member has a name");
                assert_eq!(m.channel.as_ref(), Some(name), "a member is in its channel");
            }
            // Empty exactly when listed as empty, under its own key.
            match channel.emptied {
                Some(key) => {
                    assert!(channel.members.is_empty(), "an empty channel is empty");
                    assert_eq!(self.empty.get(&key), Some(name), "empty maps back");
                }
                None => assert!(!channel.members.is_empty(), "an empty channel is listed"),
            }
        }
        assert_eq!(
            self.empty.len(),
            self.channels
                .values()
                .filter(|c| c.emptied.is_some())
                .count(),
            "every listed empty channel exists"
        );
        assert!(self.empty.keys().all(|&k| k < self.emptied_count));
        assert!(self.channels.len() <= self.max_channels, "channel limit");
        for (i, count) in self.pools.iter().enumerate() {
            let registered = self
                .members
                .iter()
                .flatten()
                .filter(|m| m.pool == Pool(i) && m.name.is_some())
                .count();
            assert_eq!(count.registered, registered, "pool {i} counted right");
            assert!(count.registered <= count.max, "pool {i} within its limit");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: ConnId = ConnId(0);
    const B: ConnId = ConnId(1);
    const C: ConnId = ConnId(2);

    /// A hub with `n` open connections (fds 10, 11, ...) sharing limit `max`.
    fn hub(n: usize, max: usize) -> Hub {
        let mut hub = Hub::new();
        let pool = hub.add_pool(max);
        for i in 0..n {
            let open = Request::Open {
                fd: 10 + i as i32,
                pool,
            };
            hub.handle(ConnId(i), open, &mut Deliveries::new());
        }
        hub
    }

    fn ask(hub: &mut Hub, token: ConnId, request: Request<'_>) -> Vec<(ConnId, Event)> {
        let mut out = Deliveries::new();
        hub.handle(token, request, &mut out);
        out.flatten()
    }

    fn join(hub: &mut Hub, token: ConnId, name: &str) {
        let got = ask(hub, token, Request::Register { name });
        assert_eq!(got, vec![(token, Event::Registered { name: name.into() })]);
    }

    /// What `request` recorded as public, with recording on.
    fn public(hub: &mut Hub, token: ConnId, request: Request<'_>) -> Vec<(ConnId, Public)> {
        let mut out = Deliveries::new();
        out.record_public();
        hub.handle(token, request, &mut out);
        out.public().to_vec()
    }

    fn arrive(hub: &mut Hub, token: ConnId) -> Vec<(ConnId, Event)> {
        ask(hub, token, Request::Arrive { prefix: "c#" })
    }

    #[test]
    fn arrivals_are_numbered_from_0_and_numbers_are_never_reused() {
        let mut hub = hub(3, 10);
        let got = arrive(&mut hub, A);
        assert_eq!(got, vec![(A, Event::Registered { name: "c#0".into() })]);
        let got = arrive(&mut hub, B);
        let arrived = Event::Arrived { who: "c#1".into() };
        assert_eq!(
            got,
            vec![(A, arrived), (B, Event::Registered { name: "c#1".into() })]
        );
        ask(&mut hub, B, Request::Gone);
        hub.handle(
            B,
            Request::Open {
                fd: 20,
                pool: Pool(0),
            },
            &mut Deliveries::new(),
        );
        assert_eq!(
            arrive(&mut hub, B).last(),
            Some(&(B, Event::Registered { name: "c#2".into() }))
        );
        // Arriving twice is registering twice.
        let again = arrive(&mut hub, A);
        assert!(matches!(&again[..], [(A, Event::AlreadyRegistered { .. })]));
        hub.check_invariants();
    }

    #[test]
    fn only_arrivals_hear_of_arrivals_and_departures_and_of_everyone() {
        let mut hub = hub(3, 10);
        join(&mut hub, A, "ann");
        arrive(&mut hub, B);
        // B hears of C's name being taken; ann hears nothing.
        let got = ask(&mut hub, C, Request::Register { name: "cy" });
        assert_eq!(
            got,
            vec![
                (B, Event::Arrived { who: "cy".into() }),
                (C, Event::Registered { name: "cy".into() })
            ]
        );
        let got = ask(&mut hub, A, Request::Gone);
        assert_eq!(got, vec![(B, Event::Departed { who: "ann".into() })]);
        // Its own departure is told to no one who does not watch.
        assert!(ask(&mut hub, B, Request::Gone).is_empty());
    }

    #[test]
    fn a_full_pool_refuses_an_arrival_without_using_its_number() {
        let mut hub = hub(3, 1);
        arrive(&mut hub, A);
        assert_eq!(arrive(&mut hub, B), vec![(B, Event::Full)]);
        ask(&mut hub, A, Request::Gone);
        assert_eq!(
            arrive(&mut hub, C),
            vec![(C, Event::Registered { name: "c#1".into() })]
        );
    }

    #[test]
    fn public_events_are_recorded_only_when_asked_and_only_when_they_happen() {
        let mut hub = hub(3, 10);
        // Off by default: nothing kept.
        let mut out = Deliveries::new();
        hub.handle(A, Request::Register { name: "ann" }, &mut out);
        assert!(out.public().is_empty());
        let arrived = public(&mut hub, B, Request::Register { name: "bob" });
        assert_eq!(arrived, vec![(B, Public::Arrived { who: "bob".into() })]);
        // Refused requests are not events.
        assert!(public(&mut hub, C, Request::Broadcast { text: b"x" }).is_empty());
        assert!(public(&mut hub, C, Request::Register { name: "ann" }).is_empty());
        assert!(public(&mut hub, A, Request::Say { text: b"x" }).is_empty());
        let said = public(&mut hub, A, Request::Broadcast { text: b"hi" });
        assert_eq!(
            said,
            vec![(
                A,
                Public::Broadcast {
                    from: "ann".into(),
                    text: b"hi".as_slice().into()
                }
            )]
        );
        let created = public(&mut hub, A, Request::CreateChannel { name: "168" });
        assert_eq!(
            created,
            vec![(
                A,
                Public::Entered {
                    who: "ann".into(),
                    channel: "168".into()
                }
            )]
        );
        let direct = public(
            &mut hub,
            A,
            Request::Direct {
                to: "bob",
                text: b"psst",
                receipt: false,
            },
        );
        assert!(matches!(&direct[..], [(A, Public::Direct { to, .. })] if &**to == "bob"));
        let gone = public(&mut hub, A, Request::Gone);
        assert_eq!(
            gone,
            vec![
                (
                    A,
                    Public::Exited {
                        who: "ann".into(),
                        channel: "168".into()
                    }
                ),
                (A, Public::Departed { who: "ann".into() }),
            ]
        );
    }

    fn message(from: &str, text: &str, receipt: Option<ConnId>) -> Event {
        Event::Message {
            from: from.into(),
            text: text.as_bytes().into(),
            receipt,
        }
    }

    #[test]
    fn a_name_is_held_by_one_connection_at_a_time() {
        let mut h = hub(2, 10);
        join(&mut h, A, "alice");
        let got = ask(&mut h, B, Request::Register { name: "alice" });
        assert_eq!(
            got,
            vec![(
                B,
                Event::NameTaken {
                    name: "alice".into(),
                    fd: 10
                }
            )]
        );
        assert_eq!(h.name(B), None);
        assert_eq!(h.lookup("alice"), Some(A));
    }

    #[test]
    fn names_are_case_sensitive() {
        let mut h = hub(2, 10);
        join(&mut h, A, "alice");
        join(&mut h, B, "Alice");
    }

    #[test]
    fn a_registered_connection_cannot_register_again() {
        let mut h = hub(1, 10);
        join(&mut h, A, "alice");
        let got = ask(&mut h, A, Request::Register { name: "bob" });
        assert_eq!(
            got,
            vec![(
                A,
                Event::AlreadyRegistered {
                    name: "alice".into(),
                    fd: 10
                }
            )]
        );
        assert_eq!(h.lookup("bob"), None);
    }

    #[test]
    fn the_limit_counts_registered_users_and_a_freed_slot_is_reused() {
        let mut h = hub(3, 2);
        join(&mut h, A, "a");
        join(&mut h, B, "b");
        assert_eq!(
            ask(&mut h, C, Request::Register { name: "c" }),
            vec![(C, Event::Full)]
        );
        assert_eq!(h.registered(), 2);
        assert!(ask(&mut h, A, Request::Gone).is_empty());
        join(&mut h, C, "c");
    }

    #[test]
    fn each_pool_counts_only_its_own_users() {
        let mut h = Hub::new();
        let (one, two) = (h.add_pool(1), h.add_pool(2));
        for (token, fd, pool) in [(A, 1, one), (B, 2, two), (C, 3, one), (ConnId(3), 4, two)] {
            h.handle(token, Request::Open { fd, pool }, &mut Deliveries::new());
        }
        join(&mut h, A, "a");
        assert_eq!(
            ask(&mut h, C, Request::Register { name: "c" }),
            vec![(C, Event::Full)],
            "pool one is full"
        );
        // Pool two's users are not counted against pool one, nor the reverse.
        join(&mut h, B, "b");
        join(&mut h, ConnId(3), "d");
        ask(&mut h, A, Request::Unregister);
        join(&mut h, C, "c");
        h.check_invariants();
    }

    #[test]
    fn list_is_in_registration_order_with_fds() {
        let mut h = hub(3, 10);
        join(&mut h, B, "bob");
        join(&mut h, A, "alice");
        let users = vec![
            User {
                name: "bob".into(),
                fd: 11,
            },
            User {
                name: "alice".into(),
                fd: 10,
            },
        ];
        assert_eq!(
            ask(&mut h, C, Request::List),
            vec![(C, Event::Users(users))]
        );
    }

    #[test]
    fn requests_that_need_a_name_are_refused_without_one() {
        let mut h = hub(2, 10);
        join(&mut h, B, "bob");
        for request in [
            Request::Direct {
                to: "bob",
                text: b"hi",
                receipt: false,
            },
            Request::Broadcast { text: b"hi" },
            Request::Unregister,
            Request::CreateChannel { name: "x" },
            Request::JoinChannel { name: "x" },
            Request::Say { text: b"hi" },
        ] {
            assert_eq!(ask(&mut h, A, request), vec![(A, Event::NotRegistered)]);
        }
    }

    #[test]
    fn a_direct_message_reaches_only_its_recipient() {
        let mut h = hub(3, 10);
        join(&mut h, A, "alice");
        join(&mut h, B, "bob");
        join(&mut h, C, "carol");
        let got = ask(
            &mut h,
            A,
            Request::Direct {
                to: "bob",
                text: b"hi there",
                receipt: false,
            },
        );
        assert_eq!(got, vec![(B, message("alice", "hi there", None))]);
        let got = ask(
            &mut h,
            A,
            Request::Direct {
                to: "bob",
                text: b"x",
                receipt: true,
            },
        );
        assert_eq!(got, vec![(B, message("alice", "x", Some(A)))]);
    }

    #[test]
    fn a_direct_message_to_nobody_is_reported() {
        let mut h = hub(1, 10);
        join(&mut h, A, "alice");
        let got = ask(
            &mut h,
            A,
            Request::Direct {
                to: "zed",
                text: b"hi",
                receipt: true,
            },
        );
        assert_eq!(
            got,
            vec![(A, Event::UnknownRecipient { name: "zed".into() })]
        );
    }

    #[test]
    fn a_broadcast_reaches_every_other_registered_user() {
        let mut h = hub(4, 10);
        join(&mut h, A, "alice");
        join(&mut h, B, "bob");
        join(&mut h, C, "carol");
        let mut out = Deliveries::new();
        h.handle(B, Request::Broadcast { text: b"hello all" }, &mut out);
        let items: Vec<_> = out.iter().collect();
        assert_eq!(
            items.len(),
            1,
            "one event, rendered once, for all recipients"
        );
        assert_eq!(items[0].0, &message("bob", "hello all", None));
        assert_eq!(items[0].1, &[A, C]);
    }

    #[test]
    fn a_broadcast_with_nobody_else_sends_nothing() {
        let mut h = hub(1, 10);
        join(&mut h, A, "alice");
        assert!(ask(&mut h, A, Request::Broadcast { text: b"anyone?" }).is_empty());
    }

    #[test]
    fn quit_frees_the_name_at_once_and_says_bye() {
        let mut h = hub(2, 10);
        join(&mut h, A, "alice");
        assert_eq!(ask(&mut h, A, Request::Quit), vec![(A, Event::Bye)]);
        assert_eq!(h.lookup("alice"), None);
        join(&mut h, B, "alice");
        // The connection stays known until it is closed.
        assert_eq!(h.connections(), 2);
        ask(&mut h, A, Request::Gone);
        assert_eq!(h.connections(), 1);
    }

    #[test]
    fn close_frees_the_name_and_later_requests_are_ignored() {
        let mut h = hub(2, 10);
        join(&mut h, A, "alice");
        ask(&mut h, A, Request::Gone);
        assert_eq!(h.lookup("alice"), None);
        assert_eq!(h.registered(), 0);
        assert!(ask(&mut h, A, Request::List).is_empty());
        let got = ask(&mut h, B, Request::List);
        assert_eq!(got, vec![(B, Event::Users(vec![]))]);
    }

    #[test]
    fn unregister_frees_the_name_and_keeps_the_connection() {
        let mut h = hub(1, 10);
        join(&mut h, A, "alice");
        assert_eq!(
            ask(&mut h, A, Request::Unregister),
            vec![(A, Event::Unregistered)]
        );
        assert_eq!(
            ask(&mut h, A, Request::Unregister),
            vec![(A, Event::NotRegistered)]
        );
        join(&mut h, A, "alice2");
    }

    #[test]
    fn channels_create_join_say_and_leave() {
        let mut h = hub(3, 10);
        join(&mut h, A, "alice");
        join(&mut h, B, "bob");
        join(&mut h, C, "carol");
        assert_eq!(
            ask(&mut h, A, Request::Say { text: b"x" }),
            vec![(A, Event::NotInChannel)]
        );
        assert!(ask(&mut h, A, Request::CreateChannel { name: "tas" }).is_empty());
        let got = ask(&mut h, B, Request::CreateChannel { name: "tas" });
        assert_eq!(got, vec![(B, Event::ChannelExists { name: "tas".into() })]);
        let got = ask(&mut h, B, Request::JoinChannel { name: "nope" });
        assert_eq!(
            got,
            vec![(
                B,
                Event::NoSuchChannel {
                    name: "nope".into()
                }
            )]
        );
        let got = ask(&mut h, B, Request::JoinChannel { name: "tas" });
        assert_eq!(got, vec![(A, Event::Joined { who: "bob".into() })]);
        let got = ask(&mut h, C, Request::JoinChannel { name: "tas" });
        assert_eq!(
            got,
            vec![
                (
                    A,
                    Event::Joined {
                        who: "carol".into()
                    }
                ),
                (
                    B,
                    Event::Joined {
                        who: "carol".into()
                    }
                )
            ]
        );
        let got = ask(&mut h, B, Request::Say { text: b"hey" });
        let said = message("bob", "hey", None);
        assert_eq!(got, vec![(A, said.clone()), (C, said)]);
        // Creating another channel leaves this one.
        let got = ask(&mut h, C, Request::CreateChannel { name: "abc" });
        assert_eq!(
            got,
            vec![
                (
                    A,
                    Event::Left {
                        who: "carol".into()
                    }
                ),
                (
                    B,
                    Event::Left {
                        who: "carol".into()
                    }
                )
            ]
        );
        let got = ask(&mut h, A, Request::ListChannels);
        assert_eq!(
            got,
            vec![(A, Event::Channels(vec!["abc".into(), "tas".into()]))]
        );
        // Disconnecting leaves too.
        let got = ask(&mut h, A, Request::Gone);
        assert_eq!(
            got,
            vec![(
                B,
                Event::Left {
                    who: "alice".into()
                }
            )]
        );
    }

    fn channel_names(h: &mut Hub, token: ConnId) -> Vec<String> {
        match &ask(h, token, Request::ListChannels)[..] {
            [(_, Event::Channels(names))] => names.iter().map(|n| n.to_string()).collect(),
            other => panic!("not a channel list: {other:?}"),
        }
    }

    #[test]
    fn at_the_limit_the_channel_empty_longest_makes_room() {
        let max = crate::limits::MAX_CHANNELS;
        let mut h = hub(2, 10);
        join(&mut h, A, "alice");
        join(&mut h, B, "bob");
        // Each /create leaves the channel before: all but the last are
        // empty, c0000 the longest.
        for i in 0..max {
            let name = format!("c{i:04}");
            ask(&mut h, A, Request::CreateChannel { name: &name });
        }
        // bob makes c0001 busy again: it is no longer one to remove.
        let got = ask(&mut h, B, Request::JoinChannel { name: "c0001" });
        assert!(got.is_empty());
        h.check_invariants();
        assert!(ask(&mut h, B, Request::CreateChannel { name: "new" }).is_empty());
        let names = channel_names(&mut h, A);
        assert_eq!(names.len(), max);
        assert!(!names.contains(&"c0000".to_string()), "c0000 made room");
        assert!(names.contains(&"new".to_string()));
        // bob left c0001 for "new", so it is empty again, but newly: c0002
        // goes next.
        assert!(ask(&mut h, A, Request::CreateChannel { name: "newer" }).is_empty());
        let names = channel_names(&mut h, A);
        assert!(names.contains(&"c0001".to_string()));
        assert!(!names.contains(&"c0002".to_string()), "c0002 made room");
        h.check_invariants();
    }

    #[test]
    fn a_create_is_refused_only_when_every_channel_has_members() {
        let max = 3;
        let mut h = Hub::with_max_channels(max);
        for i in 0..=max {
            let open = Request::Open {
                fd: i as i32,
                pool: Pool(0),
            };
            h.handle(ConnId(i), open, &mut Deliveries::new());
            join(&mut h, ConnId(i), &format!("u{i}"));
        }
        for i in 0..max {
            let name = format!("c{i}");
            ask(&mut h, ConnId(i), Request::CreateChannel { name: &name });
        }
        let late = ConnId(max);
        let got = ask(&mut h, late, Request::CreateChannel { name: "one-more" });
        let refused = Event::TooManyChannels {
            name: "one-more".into(),
        };
        assert_eq!(got, vec![(late, refused)]);
        let got = ask(&mut h, late, Request::JoinChannel { name: "one-more" });
        let missing = Event::NoSuchChannel {
            name: "one-more".into(),
        };
        assert_eq!(got, vec![(late, missing)]);
        assert_eq!(channel_names(&mut h, late), ["c0", "c1", "c2"]);
        // Once one channel is empty (its member left), it makes the room.
        ask(&mut h, ConnId(1), Request::Gone);
        assert!(ask(&mut h, late, Request::CreateChannel { name: "one-more" }).is_empty());
        assert_eq!(channel_names(&mut h, late), ["c0", "c2", "one-more"]);
        h.check_invariants();
    }

    #[test]
    fn a_channel_emptied_and_entered_again_is_kept() {
        let mut h = Hub::with_max_channels(2);
        let open = |h: &mut Hub, t: ConnId| {
            let open = Request::Open {
                fd: t.0 as i32,
                pool: Pool(0),
            };
            h.handle(t, open, &mut Deliveries::new());
        };
        open(&mut h, A);
        join(&mut h, A, "alice");
        ask(&mut h, A, Request::CreateChannel { name: "one" });
        ask(&mut h, A, Request::CreateChannel { name: "two" });
        // "one" is empty. Going back to it takes it off the list to remove
        // (also when re-joined, which leaves and enters), and empties "two".
        ask(&mut h, A, Request::JoinChannel { name: "one" });
        ask(&mut h, A, Request::JoinChannel { name: "one" });
        h.check_invariants();
        ask(&mut h, A, Request::CreateChannel { name: "three" });
        assert_eq!(channel_names(&mut h, A), ["one", "three"]);
        h.check_invariants();
    }

    #[test]
    fn a_failed_channel_command_changes_nothing() {
        let mut h = hub(2, 10);
        join(&mut h, A, "alice");
        join(&mut h, B, "bob");
        ask(&mut h, A, Request::CreateChannel { name: "one" });
        ask(&mut h, B, Request::JoinChannel { name: "one" });
        ask(&mut h, A, Request::JoinChannel { name: "missing" });
        let got = ask(
            &mut h,
            B,
            Request::Say {
                text: b"still here?",
            },
        );
        assert_eq!(got, vec![(A, message("bob", "still here?", None))]);
    }

    /// One request from one of four connections, over a few names.
    fn any_step() -> impl Strategy<Value = (usize, u8, usize)> {
        (0usize..4, 0u8..11, 0usize..3)
    }

    const NAMES: [&str; 3] = ["ann", "bob", "cat"];

    proptest! {
        #[test]
        fn invariants_hold_whatever_the_requests(
            steps in proptest::collection::vec(any_step(), 0..200),
            max_channels in 1usize..4,
        ) {
            // Three names: a limit of 3 is never reached, 1 and 2 are.
            let mut h = Hub::with_max_channels(max_channels);
            let pools = [h.add_pool(2), h.add_pool(1)];
            let mut open = [false; 4];
            let mut out = Deliveries::new();
            for (who, what, arg) in steps {
                let token = ConnId(who);
                let name = NAMES[arg];
                let request = match what {
                    0 => Request::Open { fd: who as i32, pool: pools[who % 2] },
                    1 => Request::Register { name },
                    2 => Request::Unregister,
                    3 => Request::List,
                    4 => Request::Direct { to: name, text: b"x", receipt: arg == 0 },
                    5 => Request::Broadcast { text: b"y" },
                    6 => Request::CreateChannel { name },
                    7 => Request::JoinChannel { name },
                    8 => Request::Say { text: b"z" },
                    9 => Request::Quit,
                    _ => Request::Gone,
                };
                match what {
                    0 => open[who] = true,
                    10 => open[who] = false,
                    _ => {}
                }
                out.clear();
                h.handle(token, request, &mut out);
                h.check_invariants();
                // A /create is refused only when no channel is empty.
                if out.iter().any(|(e, _)| matches!(e, Event::TooManyChannels { .. })) {
                    prop_assert!(h.empty.is_empty());
                    prop_assert_eq!(h.channels.len(), max_channels);
                }
                // Nothing is ever sent to a connection that is not open.
                for (to, _) in out.flatten() {
                    prop_assert!(open[to.0], "event for closed {to:?}");
                }
            }
        }
    }
}
