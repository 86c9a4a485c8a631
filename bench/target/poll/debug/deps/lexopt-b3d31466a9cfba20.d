/work/main/bench/target/poll/debug/deps/lexopt-b3d31466a9cfba20.d: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lexopt-0.3.2/src/lib.rs

/work/main/bench/target/poll/debug/deps/liblexopt-b3d31466a9cfba20.rlib: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lexopt-0.3.2/src/lib.rs

/work/main/bench/target/poll/debug/deps/liblexopt-b3d31466a9cfba20.rmeta: /root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lexopt-0.3.2/src/lib.rs

/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/lexopt-0.3.2/src/lib.rs:
