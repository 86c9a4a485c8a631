//! pollchat: a chat server on one thread and one `mio` poll loop, speaking
//! the classroom chat protocols, and a client for each.
//!
//! The picture (docs/DESIGN.md):
//!
//! ```text
//!  server/ (the loop)          relay/ (no sockets)                  hub.rs
//!  read ──► input(id, bytes) ──► dialect ─► framer ─► Request ───► Hub (pure)
//!                                                                   │
//!  write ◄── outgoing(id) ◄── send queue ◄── render per dialect ◄── Deliveries
//!    └──► wrote(id, n) ──► receipts, back-pressure, limits ──► effects
//! ```
//!
//! A reading order: [`server`] (the loop, `server/mod.rs`: what a poll
//! server does, turn by turn), then [`relay`] (what the bytes mean: the
//! pipeline in `relay/mod.rs`, receipts, flow control), then [`framing`],
//! [`dialect`] and [`hub`].
//!
//! * [`server`]: the event loop. The only place that does socket I/O on the
//!   server side; it knows no protocol.
//! * [`relay`]: the sans-I/O core between the loop and the hub: dialect
//!   parsers, kept input, send queues, receipts, back-pressure, limits.
//! * [`framing`]: cutting byte streams into messages.
//! * [`dialect`]: the protocols, one module each, and their table.
//! * [`hub`]: names, user limits, channels and routing, with no I/O at all.
//! * [`text`]: what users may call themselves and their channels, and how
//!   one user's text is made harmless before another user or the log sees it.
//! * [`admin`]: the operator console's commands, bans and answers
//!   (`--admin`; its sockets are in `server/admin.rs`).
//! * [`limits`]: every bound the server enforces.
//! * [`logger`]: status lines on stderr that never block the loop.
//! * [`trace`]: `--trace`, a status line for every step of every turn.
//! * [`transcript`]: `--transcript`, the class chat as a file to `tail -f`.
//! * [`client`]: the interactive client, one poll loop over stdin and the
//!   socket, with a front end per protocol.
//! * [`cli`]: what the two command lines share (`server/cli.rs` and
//!   `client/cli.rs` are the command lines themselves).
//! * `sim`: the relay driven without sockets, for fuzzing and properties.

pub mod admin;
pub mod cli;
pub mod client;
pub mod dialect;
pub mod framing;
pub mod hub;
pub mod limits;
pub mod logger;
pub mod relay;
pub mod server;
#[doc(hidden)]
pub mod sim;
pub mod text;
pub mod trace;
pub mod transcript;
