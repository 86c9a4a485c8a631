//! Every limit the server enforces, in one place, with where it comes from.
//!
//! A limit that is not written down here is a bug: every buffer the network
//! can fill must be bounded by one of these.

/// Longest line a line-based dialect accepts, not counting its terminator
/// (docs/PROTOCOLS.md sections 1 and 2). A longer line is answered with the
/// dialect's "too long" reply and discarded up to its end.
pub const MAX_LINE: usize = 4096;

/// Longest `miniserv` line relayed, not counting its `\n` nor a `\r`
/// before it (docs/PROTOCOLS.md section 5). The issue asks for lines of at
/// least 1 MiB relayed whole (a public tester sends one of 364 KB). It is
/// also the bound on the partial line a `miniserv` connection keeps while
/// the rest arrives (64 KiB a turn, `READ_BUDGET`), so idle senders of
/// half lines cost at most this each, all of them within
/// `--max-total-queue`. A longer line is discarded up to its `\n`. Not
/// more: a line of L bytes to N clients is N copies of L in the send
/// queues at once (100 clients, 100 MiB), and a `mesg` or `hello`
/// recipient of it must still fit its 1 MiB `--max-queue`.
pub const MINISERV_MAX_LINE: usize = 1 << 20;

/// The least `--max-queue` means for a `miniserv` client: "if they don't
/// read your message you must NOT disconnect them" (the subject). A lazy
/// reader is not cut off below this much unread output, unless the server
/// as a whole is past half its `--max-total-queue` (then every limit
/// shrinks, see `relay/flow.rs`); eight of the longest lines.
pub const MINISERV_MIN_QUEUE: usize = 8 << 20;

/// `mesg`: how long a whole command that came in one read without a line
/// end waits for more before it is taken as a line (from clients that send
/// each command as one `send()` with no CR or LF, and read the answer
/// before the next, about 300 ms later). Short enough to answer them well
/// before that; a line being typed arrives a keystroke per read and never
/// counts (docs/PROTOCOLS.md 1.1).
pub const UNTERMINATED_PAUSE_MS: u64 = 150;

/// Longest user name in `mesg` and `hello` (docs/PROTOCOLS.md sections 1 and 2).
pub const MAX_NAME: usize = 32;

/// Longest `sendto` name, in bytes (docs/PROTOCOLS.md section 4; the
/// assignment's client calls "more than 20 characters" a bad username).
pub const SENDTO_MAX_NAME: usize = 20;

/// Longest `sendto` packet body the server reads: a header declaring more
/// gets `2` and the connection is closed (docs/PROTOCOLS.md section 4). The
/// largest legal client packet, a SENDTO with a 65535-byte text, is 65559
/// bytes with a 20-byte name and stays under it even naming a user of
/// another dialect (names are at most 32 bytes).
pub const SENDTO_MAX_BODY: usize = 70_000;

/// Every `channels` message, both ways, is exactly this many bytes: "use
/// fixed length messages that have 200 characters for all messages
/// (including messages from the server to the client)" (the assignment).
pub const CHANNELS_FRAME_LEN: usize = 200;

/// Characters of a peer-chosen string a status line shows at most, so a
/// 4 KiB "name" does not become a 4 KiB log line.
pub const MAX_SHOWN: usize = 40;

/// Status lines waiting for stderr to drain, at most. Past it, lines are
/// dropped (and counted) rather than held (see logger.rs).
pub const LOG_PENDING_MAX: usize = 64 * 1024;

/// The part of [`LOG_PENDING_MAX`] only warnings and errors may fill: under
/// a flood of info lines (a line per request) the queue fills with them,
/// and the lines an operator needs most (who was cut off, and why) would
/// be the ones dropped.
pub const LOG_WARN_RESERVE: usize = 16 * 1024;

/// Room a status line needs, about: with less left in the log queue, a
/// line that stderr cannot take is dropped unformatted.
pub const LOG_LINE_ROOM: usize = 512;

/// Status lines are written in batches of about this much, or at the end
/// of each loop turn, whichever comes first.
pub const LOG_WRITE_BATCH: usize = 16 * 1024;

/// Transcript lines (`--transcript`) waiting for the file, at most: past
/// it, lines are dropped and counted (a full disk; see transcript.rs).
pub const TRANSCRIPT_PENDING_MAX: usize = 1024 * 1024;

/// Bytes of transcript written in one loop turn, at most, so that a
/// backlog never makes one turn long.
pub const TRANSCRIPT_WRITE_MAX: usize = 64 * 1024;

/// Operator console sessions (`--admin`) open at once, at most.
pub const ADMIN_MAX_SESSIONS: usize = 4;

/// The longest operator command line; a longer one is refused whole.
pub const ADMIN_LINE_MAX: usize = 4096;

/// Commands one console session runs in one loop turn, and reads it
/// makes: the rest waits for the next turn, as a client's input does.
pub const ADMIN_COMMANDS_PER_TURN: usize = 64;
pub const ADMIN_READS_PER_TURN: usize = 16;

/// Answers a console session may leave unread (WHO on a full server is a
/// few megabytes) before it is closed.
pub const ADMIN_OUT_MAX: usize = 16 * 1024 * 1024;

/// Registered users allowed on a `mesg` listener: "up to and including 10"
/// (the `mesg` assignment).
pub const MESG_MAX_USERS: usize = 10;

/// Logged-in users allowed on a `hello` listener (docs/PROTOCOLS.md section 2):
/// the 17th login gets `BUSY`.
pub const HELLO_MAX_USERS: usize = 16;

/// Default bound on the bytes queued for one client that it has not read
/// yet. A client that falls this far behind is disconnected rather than
/// allowed to grow the server's memory (Redis calls this the client output
/// buffer limit). 1 MiB holds thousands of chat lines, far more than any
/// live reader falls behind by. The limit is judged only after the socket
/// has been offered what is queued (a turn's output is built before it is
/// written), and a client's answers to its own requests never count
/// against it: a reply always gets through to a client that reads.
pub const DEFAULT_MAX_QUEUE: usize = 1 << 20;

/// Back-pressure: once a recipient has more than `limit / HIGH_WATER_DIV`
/// bytes waiting, a sender that keeps filling it stops being read until
/// the recipient is down to `limit / LOW_WATER_DIV`. Half the limit leaves
/// the other half for what other senders add in the turn before the
/// sender stops; at a quarter, 1,000 clients each with 4 broadcasts in
/// flight (the load tool's fanout1000) were held back for nothing. The sender is slowed
/// to the speed of its readers instead of the readers being cut off (the
/// way brokers protect subscribers from one fast publisher).
pub const HIGH_WATER_DIV: usize = 2;
pub const LOW_WATER_DIV: usize = 4;

/// A sender is held back only if it queued at least this much output
/// recently (a decaying count, halved every sweep). People typing are
/// never held back because someone else flooded a shared reader; a
/// flooder, a script or a `/join` hopper is.
pub const HOLD_MIN_WORK: usize = 64 * 1024;

/// Default for `--max-total-queue`: the bytes all connections together may
/// hold in output queues and partial input. It fits a small VM. Past half
/// of it the per-connection limit shrinks; past all of it the connections
/// with the most unread bytes are cut off, largest first.
pub const DEFAULT_MAX_TOTAL_QUEUE: usize = 256 << 20;

/// The per-connection limit never shrinks below this under global memory
/// pressure (nor above `--max-queue`): room for a few screens of chat.
pub const MIN_QUEUE: usize = 64 * 1024;

/// Work one connection's requests may cause in one loop turn: bytes queued
/// to all recipients, plus [`DELIVERY_COST`] per recipient. Past it the
/// rest of its input waits for the next turn, so one broadcast storm to
/// thousands of recipients cannot make a turn last seconds.
pub const TURN_WORK: usize = 8 << 20;

/// Work the whole loop does in one turn before deferring the connections
/// not yet served to the next one (in order, ahead of newcomers): about
/// tens of milliseconds of copying, whatever one user does.
pub const TURN_WORK_TOTAL: usize = 64 << 20;

/// What a delivery costs besides its bytes (the bookkeeping of one
/// recipient), in the same units as [`TURN_WORK`].
pub const DELIVERY_COST: usize = 16;

/// Connections accepted from one listener in one loop turn. The listen
/// backlog below is deep so a burst of connects is never lost; accepting
/// it a slice per turn keeps a connection flood from starving the clients
/// already connected.
pub const ACCEPT_BUDGET: usize = 64;

/// `accept` calls on one listener in one turn, at most: connections
/// refused at once (over `--max-per-ip`) do not count towards
/// [`ACCEPT_BUDGET`], but cannot keep a turn accepting for ever either.
pub const ACCEPT_CALLS: usize = 1024;

/// `listen(2)` backlog: connections the kernel completes and queues before
/// we accept them. With mio's default of 128, 10,000 connects in a quarter
/// of a second lost hundreds that the clients believed connected. The
/// kernel caps it at `net.core.somaxconn` (4096 on current Linux).
pub const LISTEN_BACKLOG: i32 = 4096;

/// Default for `--max-per-ip`: connections open at once from one address.
/// A class of 100 behind one NAT, two clients each, plus a grader's few
/// dozen on 127.0.0.1 fit; one address can then hold about 1% of the
/// 20,000 descriptors a server typically gets, not all of them.
pub const DEFAULT_MAX_PER_IP: usize = 256;

/// When the server is at its connection limit and clients wait to be
/// accepted, at most this many of the oldest connections that have not
/// registered are closed per turn to make room for them.
pub const EVICT_PER_TURN: usize = 16;

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

/// Readiness events taken from the poll at once. More wait for the next
/// turn: the kernel keeps them.
pub const EVENT_CAPACITY: usize = 1024;

/// Reads of 4 KiB made to drain what a client sent before we hang up on
/// it (see `server::hang_up`): enough for a reply to survive, bounded so a
/// flood cannot hold the loop.
pub const HANG_UP_DRAIN_READS: usize = 16;

/// After a burst, memory is handed back to the system (`malloc_trim`) once
/// the buffers, which held at least this much, are down to a quarter.
pub const HEAP_TRIM_MIN: usize = 16 << 20;

/// How long to wait before accepting again after the process ran out of
/// file descriptors (EMFILE/ENFILE). Pending connections wait in the
/// kernel's backlog meanwhile; retrying at once would spin.
pub const ACCEPT_RETRY_MS: u64 = 100;

/// On SIGINT/SIGTERM, how long the server keeps flushing queued output to
/// clients before it exits anyway.
pub const SHUTDOWN_FLUSH_MS: u64 = 1000;

/// Default for `--login-timeout`: a connection that has not registered
/// this long after connecting is closed, whatever it sends meanwhile (a
/// deadline, not an inactivity timer, or a slowloris sending a byte a
/// minute holds its slot for ever). A port scanner, a half-written student
/// client or a forgotten `nc` cannot hold a slot, while a person typing
/// JOIN in telnet has ample time.
pub const DEFAULT_LOGIN_TIMEOUT_SECS: u64 = 60;

/// How often the loop sweeps its connections: closing those idle past a
/// timeout (honoured to within this much) and trimming the output buffers
/// of those gone quiet.
pub const IDLE_SWEEP_MS: u64 = 250;

/// File descriptors kept free for the server itself (the poll, the signal
/// pipe, the listeners, stdio, the log): the connection limit is the
/// descriptor limit minus these, so `accept` never fails for lack of one.
pub const RESERVED_FDS: usize = 32;

/// Default for `--stall-timeout`: a client that keeps someone waiting (a
/// sender for a delivery receipt such as hello's SEND-OK, or senders held
/// back by its backlog) while its socket has taken nothing for this long
/// is not reading, and is cut off; a receipt's sender then hears
/// BAD-DEST-USER. Counted from the last byte the client took, not from
/// when the wait began, so a slow reader is never cut off for being slow;
/// one that stopped costs its senders at most this long.
pub const DEFAULT_STALL_TIMEOUT_SECS: u64 = 5;

/// Channels that may exist at once (`channels` dialect). Channels outlive
/// their members, so without a bound one client could grow the server's
/// memory with `/create` for ever; at the bound, a `/create` removes the
/// channel that has been empty longest, and is refused only when every
/// channel has members, so nobody can fill the server for good. 4096 keeps
/// the largest `/list` (one 200-byte frame per channel at worst: 819,200
/// bytes) under the default `--max-queue` of 1 MiB.
pub const MAX_CHANNELS: usize = 4096;
