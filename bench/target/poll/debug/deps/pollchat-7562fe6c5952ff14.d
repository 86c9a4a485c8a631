/work/main/bench/target/poll/debug/deps/pollchat-7562fe6c5952ff14.d: src/lib.rs src/cli.rs src/client/mod.rs src/client/channels.rs src/client/cli.rs src/client/hello.rs src/client/mesg.rs src/client/sendto.rs src/client/stdin.rs src/dialect/mod.rs src/dialect/channels.rs src/dialect/hello.rs src/dialect/mesg.rs src/dialect/sendto/mod.rs src/dialect/sendto/packet.rs src/framing/mod.rs src/framing/fixed.rs src/framing/length.rs src/framing/line.rs src/framing/telnet.rs src/hub.rs src/limits.rs src/logger.rs src/relay/mod.rs src/relay/flow.rs src/relay/peer.rs src/relay/receipts.rs src/relay/send_queue.rs src/server/mod.rs src/server/accept.rs src/server/cli.rs src/server/config.rs src/server/connection.rs src/sim.rs src/text.rs src/trace.rs

/work/main/bench/target/poll/debug/deps/libpollchat-7562fe6c5952ff14.rlib: src/lib.rs src/cli.rs src/client/mod.rs src/client/channels.rs src/client/cli.rs src/client/hello.rs src/client/mesg.rs src/client/sendto.rs src/client/stdin.rs src/dialect/mod.rs src/dialect/channels.rs src/dialect/hello.rs src/dialect/mesg.rs src/dialect/sendto/mod.rs src/dialect/sendto/packet.rs src/framing/mod.rs src/framing/fixed.rs src/framing/length.rs src/framing/line.rs src/framing/telnet.rs src/hub.rs src/limits.rs src/logger.rs src/relay/mod.rs src/relay/flow.rs src/relay/peer.rs src/relay/receipts.rs src/relay/send_queue.rs src/server/mod.rs src/server/accept.rs src/server/cli.rs src/server/config.rs src/server/connection.rs src/sim.rs src/text.rs src/trace.rs

/work/main/bench/target/poll/debug/deps/libpollchat-7562fe6c5952ff14.rmeta: src/lib.rs src/cli.rs src/client/mod.rs src/client/channels.rs src/client/cli.rs src/client/hello.rs src/client/mesg.rs src/client/sendto.rs src/client/stdin.rs src/dialect/mod.rs src/dialect/channels.rs src/dialect/hello.rs src/dialect/mesg.rs src/dialect/sendto/mod.rs src/dialect/sendto/packet.rs src/framing/mod.rs src/framing/fixed.rs src/framing/length.rs src/framing/line.rs src/framing/telnet.rs src/hub.rs src/limits.rs src/logger.rs src/relay/mod.rs src/relay/flow.rs src/relay/peer.rs src/relay/receipts.rs src/relay/send_queue.rs src/server/mod.rs src/server/accept.rs src/server/cli.rs src/server/config.rs src/server/connection.rs src/sim.rs src/text.rs src/trace.rs

src/lib.rs:
src/cli.rs:
src/client/mod.rs:
src/client/channels.rs:
src/client/cli.rs:
src/client/hello.rs:
src/client/mesg.rs:
src/client/sendto.rs:
src/client/stdin.rs:
src/dialect/mod.rs:
src/dialect/channels.rs:
src/dialect/hello.rs:
src/dialect/mesg.rs:
src/dialect/sendto/mod.rs:
src/dialect/sendto/packet.rs:
src/framing/mod.rs:
src/framing/fixed.rs:
src/framing/length.rs:
src/framing/line.rs:
src/framing/telnet.rs:
src/hub.rs:
src/limits.rs:
src/logger.rs:
src/relay/mod.rs:
src/relay/flow.rs:
src/relay/peer.rs:
src/relay/receipts.rs:
src/relay/send_queue.rs:
src/server/mod.rs:
src/server/accept.rs:
src/server/cli.rs:
src/server/config.rs:
src/server/connection.rs:
src/sim.rs:
src/text.rs:
src/trace.rs:
