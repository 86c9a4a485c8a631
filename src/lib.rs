//! pollchat: a chat server on one thread and one `mio` poll loop, speaking
//! the classroom chat protocols, and a client for each.
//!
//! The picture (DESIGN.md):
//!
//! ```text
//!  TCP bytes --> shared read buffer --> framing --> dialect --> Request
//!                                                               |
//!                                                       Hub::handle (pure)
//!                                                               |
//!  TCP bytes <-- Connection output <-- dialect render <-- Outbox of Events
//! ```
//!
//! * [`server`]: the event loop and the connections. The only place that
//!   does socket I/O on the server side; it knows no protocol.
//! * [`framing`]: cutting byte streams into messages.
//! * [`dialect`]: the protocols, one module each.
//! * [`hub`]: names, limits, channels and routing, with no I/O at all.
//! * [`client`]: the interactive client, one poll loop over stdin and the
//!   socket, with a front end per protocol.
//! * [`limits`]: every bound the server enforces.
//! * [`logger`]: status lines on stderr that never block the loop.
//! * [`text`]: what users may call themselves and their channels, and how
//!   one user's text is made harmless before another user or the log sees it.
//! * [`cli`]: the command lines of the server and the client.
//! * `sim`: the loop's path without sockets, for fuzzing and properties.

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
