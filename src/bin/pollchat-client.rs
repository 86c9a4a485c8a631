//! `pollchat-client`: parse the command line and run the client loop.

use pollchat::cli::CliError;
use pollchat::client::cli;
use std::process::ExitCode;

fn main() -> ExitCode {
    match cli::parse_client_args(std::env::args_os().skip(1)) {
        Ok(args) => ExitCode::from(pollchat::client::run(&args) as u8),
        Err(CliError::Help) => {
            println!("{}", cli::CLIENT_HELP);
            ExitCode::SUCCESS
        }
        Err(CliError::Usage) => {
            eprintln!("{}", cli::CLIENT_HELP);
            ExitCode::from(2)
        }
        Err(CliError::Invalid(message)) => {
            eprintln!("pollchat-client: {message}");
            ExitCode::from(2)
        }
    }
}
