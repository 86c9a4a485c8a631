//! `--trace`: a status line for every step of every loop turn, so a student
//! can watch the poll loop work (README.md and docs/WALKTHROUGH.md, "Watching the loop").
//!
//! The lines go through the same non-blocking logger as every status line,
//! at `info` level under the target `pollchat::trace`, so they never block
//! the loop; when stderr is not read they are dropped and counted like any
//! other. Off, each place that would trace costs one relaxed load of an
//! atomic flag and a branch the processor predicts: nothing is formatted.
//! SIGUSR1 turns it on and off on a running server.

use std::sync::atomic::{AtomicBool, Ordering};

static ON: AtomicBool = AtomicBool::new(false);

/// Whether tracing is on.
#[inline]
pub fn on() -> bool {
    ON.load(Ordering::Relaxed)
}

pub fn set(on: bool) {
    ON.store(on, Ordering::Relaxed);
}

/// Turns tracing on if it was off and off if it was on; returns the new
/// state.
pub fn toggle() -> bool {
    !ON.fetch_xor(true, Ordering::Relaxed)
}

/// A trace line, formatted only when tracing is on.
#[macro_export]
macro_rules! trace_line {
    ($($arg:tt)*) => {
        if $crate::trace::on() {
            log::info!(target: "pollchat::trace", $($arg)*);
        }
    };
}
