/work/main/bench/target/poll/debug/deps/signal_hook_mio-9f2fccc8b90683e2.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/signal-hook-mio-0.3.0/src/lib.rs

/work/main/bench/target/poll/debug/deps/libsignal_hook_mio-9f2fccc8b90683e2.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/signal-hook-mio-0.3.0/src/lib.rs

/work/main/bench/target/poll/debug/deps/libsignal_hook_mio-9f2fccc8b90683e2.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/signal-hook-mio-0.3.0/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/signal-hook-mio-0.3.0/src/lib.rs:
