//! `pollchat-check`: checks a classroom chat server or client against
//! docs/PROTOCOLS.md, rule by rule, and says which rules it breaks, with
//! the bytes to show for it.
//!
//! * [`case`]: what a case is; [`server`] and [`client`]: the cases, one
//!   module per dialect and role.
//! * [`runner`]: selection, a fresh target per case, several at once,
//!   every case bounded in time; [`report`]: text, JSON, JUnit, TAP,
//!   Gradescope.
//! * [`spawn`], [`pty`], [`net`], [`target`]: processes, terminals and
//!   connections, each wait bounded, each byte in the case's
//!   [`transcript`].
//! * [`mutant`]: deliberately wrong servers and clients (a mutating proxy
//!   in front of a real one), to show that the cases catch what they are
//!   meant to.

mod case;
mod cli;
mod client;
mod mutant;
mod net;
mod pty;
mod report;
mod runner;
mod server;
mod spawn;
mod target;
mod transcript;

use case::{Case, Dialect, Role, Timing};
use cli::{CheckArgs, Command, Target};
use report::Format;
use runner::{Mode, Plan};
use spawn::{Io, Ready};
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Every case of a role and dialect, in the order they run.
pub fn all_cases(role: Role, dialect: Dialect) -> Vec<&'static Case> {
    match role {
        Role::Server => server::cases(dialect).iter().collect(),
        Role::Client => client::cases(dialect).iter().collect(),
    }
}

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    match cli::parse(args) {
        Ok(Command::Help) => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::List { role, dialect }) => {
            list(role, dialect);
            ExitCode::SUCCESS
        }
        Ok(Command::Mutant(args)) => mutant::main(args),
        Ok(Command::Check(args)) => check(&args),
        Err(message) => {
            eprintln!("pollchat-check: {message}");
            eprintln!("(pollchat-check --help for usage)");
            ExitCode::from(2)
        }
    }
}

fn list(role: Option<Role>, dialect: Option<Dialect>) {
    for r in [Role::Server, Role::Client] {
        if role.is_some_and(|x| x != r) {
            continue;
        }
        for d in Dialect::ALL {
            if dialect.is_some_and(|x| x != d) {
                continue;
            }
            for c in all_cases(r, d) {
                println!(
                    "{:<8} {:<44} {:<28} {}",
                    r.name(),
                    c.id,
                    c.tags.join(","),
                    c.rule
                );
            }
        }
    }
}

fn check(args: &CheckArgs) -> ExitCode {
    let cases = runner::select(all_cases(args.role, args.dialect), &args.only, &args.skip);
    if cases.is_empty() {
        eprintln!("pollchat-check: --only/--skip leave no case to run");
        return ExitCode::from(2);
    }
    let mode = match (&args.target, args.role) {
        (Target::Spawn(cmd), Role::Server) => Mode::SpawnServer {
            template: cmd.clone(),
            ready: match (&args.ready, args.dialect) {
                (Some(text), _) => Ready {
                    text: Some(text.clone()),
                    required: true,
                },
                // hello's TR5: the VU tests wait for it. Not required, so
                // a server that forgets it fails TR5, not every case.
                (None, Dialect::Hello) => Ready {
                    text: Some("Server is on".into()),
                    required: false,
                },
                (None, _) => Ready {
                    text: None,
                    required: false,
                },
            },
        },
        (Target::Spawn(cmd), Role::Client) => Mode::Client {
            template: cmd.clone(),
            io: if args.pty { Io::Pty } else { Io::Pipes },
        },
        (Target::Addr(addr), _) => Mode::Addr(*addr),
    };
    let plan = Plan {
        cases,
        mode,
        timing: Timing {
            wait: args.timeout,
            quiet: Duration::from_millis(300),
            budget: (args.timeout * 10).max(Duration::from_secs(20)),
        },
        jobs: args.jobs,
    };
    let target = match &args.target {
        Target::Spawn(cmd) => cmd.clone(),
        Target::Addr(a) => a.to_string(),
    };
    if let Err(e) = runner::preflight(&plan) {
        eprintln!("pollchat-check: the target cannot be checked: {e}");
        return ExitCode::from(2);
    }
    let started = Instant::now();
    let live = args.format == Format::Text || args.output.is_some();
    let outcomes = runner::run(&plan, |o| {
        if live {
            print!("{}", report::text_line(o, args.verbose));
            let _ = std::io::stdout().flush();
        }
    });
    let run = report::Run {
        role: args.role.name(),
        dialect: args.dialect.name(),
        target: &target,
        elapsed: started.elapsed(),
        verbose: args.verbose,
    };
    let summary = report::text_summary(&outcomes, &run);
    let rendered = report::render(args.format, &outcomes, &run);
    match (&args.output, args.format) {
        (Some(path), _) => {
            if let Err(e) = std::fs::write(path, rendered) {
                eprintln!("pollchat-check: cannot write {}: {e}", path.display());
                return ExitCode::from(2);
            }
            println!("{summary}");
        }
        (None, Format::Text) => println!("{summary}"),
        (None, _) => {
            print!("{rendered}");
            eprintln!("{summary}");
        }
    }
    let c = report::counts(&outcomes);
    if c.errors > 0 && c.passed == 0 && c.failed == 0 {
        ExitCode::from(2)
    } else if c.failed > 0 || c.errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
