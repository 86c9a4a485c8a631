//! `pollchat-bench`: the load generator. Everything is in the library's
//! `bench` module; see `pollchat-bench --help`.

use std::process::ExitCode;

fn main() -> ExitCode {
    pollchat::bench::main(std::env::args_os().skip(1))
}
