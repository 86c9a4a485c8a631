//! Every limit the server enforces, in one place, with where it comes from.
//!
//! A limit that is not written down here is a bug: every buffer the network
//! can fill must be bounded by one of these.

/// Longest line a line-based dialect accepts, not counting its terminator
/// (PROTOCOLS.md sections 1 and 2). A longer line is answered with the
/// dialect's "too long" reply and discarded up to its end.
pub const MAX_LINE: usize = 4096;

/// Longest user name in `mesg` and `hello` (PROTOCOLS.md sections 1 and 2).
pub const MAX_NAME: usize = 32;

/// Registered users allowed on a `mesg` listener: "up to and including 10"
/// (seeds/mesg-python-assignment.txt).
pub const MESG_MAX_USERS: usize = 10;

/// Logged-in users allowed on a `hello` listener (PROTOCOLS.md section 2):
/// the 17th login gets `BUSY`.
pub const HELLO_MAX_USERS: usize = 16;

/// Default bound on the bytes queued for one client that it has not read
/// yet. A client that falls this far behind is disconnected rather than
/// allowed to grow the server's memory (Redis calls this the client output
/// buffer limit). 1 MiB holds thousands of chat lines, far more than any
/// live reader falls behind by.
pub const DEFAULT_MAX_QUEUE: usize = 1 << 20;

/// Bytes read from one connection per loop turn before the loop moves on to
/// the others. A client that floods cannot starve the rest: what it sent
/// beyond this waits in its socket until the next turn.
pub const READ_BUDGET: usize = 64 * 1024;

/// Size of the one read buffer the loop shares between all connections.
/// Only a partial frame is ever copied out of it into a connection.
pub const READ_CHUNK: usize = 16 * 1024;

/// An output buffer that has drained and then stayed quiet for a sweep
/// interval keeps at most this much capacity, so a burst (a long LIST, a
/// flood of broadcasts) does not pin memory for ever on a connection that
/// then goes idle.
pub const OUTBUF_KEEP: usize = 16 * 1024;

/// How long to wait before accepting again after the process ran out of
/// file descriptors (EMFILE/ENFILE). Pending connections wait in the
/// kernel's backlog meanwhile; retrying at once would spin.
pub const ACCEPT_RETRY_MS: u64 = 100;

/// On SIGINT/SIGTERM, how long the server keeps flushing queued output to
/// clients before it exits anyway.
pub const SHUTDOWN_FLUSH_MS: u64 = 1000;

/// Default for `--login-timeout`: a connection that has not registered and
/// has sent nothing for this long is closed. A port scanner, a half-written
/// student client or a forgotten `nc` then cannot hold a slot for ever,
/// while a person typing JOIN in telnet has ample time.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = 60;

/// How often the loop sweeps its connections: closing those idle past a
/// timeout (honoured to within this much) and trimming the output buffers
/// of those gone quiet.
pub const IDLE_SWEEP_MS: u64 = 250;

/// File descriptors kept free for the server itself (the poll, the signal
/// pipe, the listeners, stdio, the log): the connection limit is the
/// descriptor limit minus these, so `accept` never fails for lack of one.
pub const RESERVED_FDS: usize = 32;

/// Default for `--stall-timeout`: a client whose unread output has kept a
/// sender waiting for a delivery receipt (hello's SEND-OK) this long is not
/// reading, and is cut off like one over `--max-queue`; the sender then
/// hears BAD-DEST-USER. Without it one stalled reader would hold its
/// senders paused for ever.
pub const DEFAULT_STALL_TIMEOUT_SECS: u64 = 30;

/// Channels that may exist at once (`channels` dialect). Channels outlive
/// their members, so without a bound one client could grow the server's
/// memory with `/create` for ever; at the bound, a `/create` removes the
/// channel that has been empty longest, and is refused only when every
/// channel has members, so nobody can fill the server for good. 4096 keeps
/// the largest `/list` (one 200-byte frame per channel at worst: 819,200
/// bytes) under the default `--max-queue` of 1 MiB.
pub const MAX_CHANNELS: usize = 4096;
