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

/// `print!`, but a closed stdout (`pollchat-check ... | head`) is not a
/// panic: the run goes on to stop what it started and exit with its
/// status.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout(), $($arg)*);
    }};
}

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
            out!("{}\n", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(Command::List {
            role,
            dialect,
            markdown,
        }) => {
            if markdown {
                out!("{}", markdown_table(role, dialect));
            } else {
                list(role, dialect);
            }
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
                out!(
                    "{:<8} {:<44} {:<28} {}\n",
                    r.name(),
                    c.id,
                    c.tags.join(","),
                    c.rule
                );
            }
        }
    }
}

/// The ids (without their dialect, as `--only` takes them) of every
/// dialect and role, by stage: the README's table.
fn markdown_table(role: Option<Role>, dialect: Option<Dialect>) -> String {
    let mut out = String::from("| dialect | role | cases | basic | robustness | load |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for d in Dialect::ALL {
        if dialect.is_some_and(|x| x != d) {
            continue;
        }
        for r in [Role::Server, Role::Client] {
            if role.is_some_and(|x| x != r) {
                continue;
            }
            let cases = all_cases(r, d);
            let mut row = format!("| `{}` | {} | {} |", d.name(), r.name(), cases.len());
            for stage in case::STAGES {
                let ids: Vec<String> = cases
                    .iter()
                    .filter(|c| c.stage() == stage)
                    .map(|c| {
                        let short = c.id.split_once('.').map_or(c.id, |(_, s)| s);
                        format!("`{short}`")
                    })
                    .collect();
                row.push_str(&format!(" {} |", ids.join(" ")));
            }
            out.push_str(&row);
            out.push('\n');
        }
    }
    out
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
            out!("{}", report::text_line(o, args.verbose));
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
            out!("{summary}\n");
        }
        (None, Format::Text) => out!("{summary}\n"),
        (None, _) => {
            out!("{rendered}");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn every_case() -> Vec<&'static Case> {
        [Role::Server, Role::Client]
            .into_iter()
            .flat_map(|r| Dialect::ALL.into_iter().flat_map(move |d| all_cases(r, d)))
            .collect()
    }

    #[test]
    fn every_case_has_exactly_one_stage() {
        for c in every_case() {
            let stages: Vec<&str> = c
                .tags
                .iter()
                .copied()
                .filter(|t| case::STAGES.contains(t))
                .collect();
            assert_eq!(stages.len(), 1, "{}: {:?}", c.id, c.tags);
            assert_eq!(c.tags[0], stages[0], "{}: the stage comes first", c.id);
        }
    }

    #[test]
    fn ids_are_unique_and_name_their_dialect() {
        let mut ids: Vec<&str> = every_case().iter().map(|c| c.id).collect();
        for c in every_case() {
            assert!(
                c.id.starts_with(&format!("{}.", c.dialect.name())),
                "{}",
                c.id
            );
        }
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
    }

    #[test]
    fn the_stages_select_the_cases_in_stages() {
        for role in [Role::Server, Role::Client] {
            for d in Dialect::ALL {
                let all = all_cases(role, d);
                let pick = |only: &[&str], skip: &[&str]| {
                    let own = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
                    runner::select(all.clone(), &own(only), &own(skip))
                };
                let mut total = 0;
                for stage in case::STAGES {
                    let chosen = pick(&[stage], &[]);
                    assert!(chosen.iter().all(|c| c.stage() == stage));
                    total += chosen.len();
                }
                assert_eq!(total, all.len(), "{} {}", role.name(), d.name());
                let no_load = pick(&[], &["load"]);
                assert_eq!(no_load.len(), all.len() - pick(&["load"], &[]).len());
                // Every dialect's server is graded on every stage.
                if role == Role::Server {
                    for stage in case::STAGES {
                        assert!(!pick(&[stage], &[]).is_empty(), "{} {stage}", d.name());
                    }
                }
            }
        }
    }
}
