//! The client role: pollchat-check plays the server (and every other
//! user) on a free loopback port, starts the target client with
//! `{host} {port}` (and `{name}`), types into its stdin, and checks what
//! it sends and what it prints, as docs/PROTOCOLS.md's client subsections
//! say (1.8, 2.8, 3.7, 4.8).
//!
//! The cases do not depend on how the client splits what it sends into
//! writes, or on how fast it sends (a client may wait for each reply
//! before the next request): they read what arrives as a stream and
//! answer each request as a server would. A `mesg` client may end its
//! lines in LF or CR LF. After its input ends, a client gets a few seconds
//! for what it still prints.

pub mod channels;
pub mod hello;
pub mod mesg;
pub mod miniserv;
pub mod sendto;

use crate::case::{Case, Ctx, Dialect, Fail, R};
use crate::net::Conn;
use crate::target::{ClientRun, Standin};
use std::time::Duration;

pub fn cases(dialect: Dialect) -> &'static [Case] {
    match dialect {
        Dialect::Mesg => mesg::CASES,
        Dialect::Hello => hello::CASES,
        Dialect::Channels => channels::CASES,
        Dialect::Sendto => sendto::CASES,
        Dialect::Miniserv => miniserv::CASES,
    }
}

/// How long a client may take, after its input ends or its server goes,
/// to print what it still has and exit.
pub const WIND_DOWN: Duration = Duration::from_secs(5);

/// A client started against a stand-in server, and its connection.
pub struct Session {
    pub standin: Standin,
    pub client: ClientRun,
    pub server: Conn,
}

impl Session {
    /// The `Server at <host>:<port> has disconnected` line.
    pub fn disconnected(&self) -> String {
        format!("Server at 127.0.0.1:{} has disconnected", self.standin.port)
    }
}

/// Starts the client as `name` and accepts its connection.
pub fn session(ctx: &Ctx, name: &str) -> R<Session> {
    let standin = ctx.standin()?;
    let client = ctx.start_client(standin.port, name)?;
    let server = ctx.accept(&standin, "server")?;
    Ok(Session {
        standin,
        client,
        server,
    })
}

/// The client is started against a port where nothing listens: it says
/// `Unable to connect to <host>:<port>` and exits with status 1.
pub fn refused(ctx: &mut Ctx) -> R {
    let port =
        crate::net::free_port().map_err(|e| Fail::new(format!("no free port: {e}"), "", ""))?;
    let mut client = ctx.start_client(port, "Panda")?;
    client.expect_somewhere(format!("Unable to connect to 127.0.0.1:{port}\n").as_bytes())?;
    client.expect_exit_within(1, WIND_DOWN)
}

/// The stand-in server hangs up: the client prints `want` and exits 0.
pub fn closes_with(ctx: &Ctx, mut s: Session, want: &[u8]) -> R {
    ctx.note("the server closes the connection");
    drop(s.server);
    s.client.expect_somewhere(want)?;
    s.client.expect_exit_within(0, WIND_DOWN)
}
