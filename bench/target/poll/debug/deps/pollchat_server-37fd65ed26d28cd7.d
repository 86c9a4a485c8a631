/work/main/bench/target/poll/debug/deps/pollchat_server-37fd65ed26d28cd7.d: src/bin/pollchat-server.rs

/work/main/bench/target/poll/debug/deps/pollchat_server-37fd65ed26d28cd7: src/bin/pollchat-server.rs

src/bin/pollchat-server.rs:
