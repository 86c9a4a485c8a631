//! Runs the selected cases: each against a fresh target when
//! pollchat-check starts it (`--spawn`), several at once, each bounded in
//! time; one at a time against a server already running (`--addr`).

use crate::case::{Case, Ctx, Fail, Timing};
use crate::spawn::{self, Capture, Io, Ready};
use crate::target::{ClientTarget, ServerTarget, Target};
use crate::transcript::{Dir, Transcript};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the cases run against.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Start the server command for every case (`{port}` filled in).
    SpawnServer { template: String, ready: Ready },
    /// A server already running.
    Addr(SocketAddr),
    /// Start the client command in every case.
    Client { template: String, io: Io },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Pass,
    Fail(Fail),
    Skip(String),
    /// The case could not be run: the target did not start, or
    /// pollchat-check itself went wrong.
    Error(String),
}

impl Status {
    pub fn word(&self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Fail(_) => "fail",
            Status::Skip(_) => "skip",
            Status::Error(_) => "error",
        }
    }
}

pub struct Outcome {
    pub case: &'static Case,
    pub status: Status,
    pub duration: Duration,
    pub transcript: Transcript,
    /// The end of what the target printed (a spawned server's stderr and
    /// stdout), for a case that did not pass.
    pub target_output: Option<String>,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        self.status == Status::Pass
    }
}

pub struct Plan {
    pub cases: Vec<&'static Case>,
    pub mode: Mode,
    pub timing: Timing,
    pub jobs: usize,
}

/// Cases that move megabytes or many clients run one at a time, so two of
/// them never share the machine's cores with each other.
static HEAVY: Mutex<()> = Mutex::new(());

/// Starts the target once, before any case, to tell "the target does not
/// start" (exit status 2) from "the cases fail".
pub fn preflight(plan: &Plan) -> Result<(), String> {
    match &plan.mode {
        Mode::SpawnServer { template, ready } => {
            let tr = Transcript::new();
            let mut server = spawn::start_server(template, ready, plan.timing.wait, &tr)?;
            server.proc.stop();
            Ok(())
        }
        Mode::Addr(addr) => std::net::TcpStream::connect_timeout(addr, plan.timing.wait)
            .map(|_| ())
            .map_err(|e| format!("cannot connect to {addr}: {e}")),
        Mode::Client { .. } => Ok(()),
    }
}

/// Against a server already running (`--addr`), this many cases in a row
/// that failed without a byte or a close from it end the run: the rest
/// fail unrun. One at a time, each case waits its full `--timeout` on a
/// server that accepts and never answers, so a whole run would take
/// minutes; with `--spawn` each case has a server of its own, and they
/// run several at once.
const SILENT_CASES: usize = 3;

/// Whether a case that did not pass heard nothing at all from the target.
fn silent(o: &Outcome) -> bool {
    if o.passed() || matches!(o.status, Status::Skip(_)) {
        return false;
    }
    let (events, dropped) = o.transcript.events();
    dropped == 0
        && !events
            .iter()
            .any(|e| matches!(e.dir, Dir::Received | Dir::Closed))
}

/// Runs every case of the plan; `report` sees each outcome in the plan's
/// order as soon as it and every case before it are done.
pub fn run(plan: &Plan, mut report: impl FnMut(&Outcome)) -> Vec<Outcome> {
    let n = plan.cases.len();
    let jobs = match plan.mode {
        // A server already running is shared: one case at a time.
        Mode::Addr(_) => 1,
        _ => plan.jobs.clamp(1, n.max(1)),
    };
    let slots: Arc<(Mutex<Vec<Option<Outcome>>>, Condvar)> =
        Arc::new((Mutex::new((0..n).map(|_| None).collect()), Condvar::new()));
    let next = Arc::new(AtomicUsize::new(0));
    // The silent cases in a row (only counted with --addr, one at a time),
    // and the first of them.
    let streak: Mutex<(usize, Option<&'static str>)> = Mutex::new((0, None));
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            let slots = slots.clone();
            let next = next.clone();
            let streak = &streak;
            scope.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    return;
                }
                let case = plan.cases[i];
                let outcome = match &plan.mode {
                    Mode::Addr(_) => {
                        let given_up = {
                            let s = streak.lock().unwrap_or_else(|e| e.into_inner());
                            s.1.filter(|_| s.0 >= SILENT_CASES)
                        };
                        match given_up {
                            Some(first) if !case.has_tag("spawn") => not_run(case, first),
                            _ => {
                                let o = run_one(plan, case);
                                // Let the shared server notice the case's
                                // connections close.
                                std::thread::sleep(Duration::from_millis(200));
                                let mut s = streak.lock().unwrap_or_else(|e| e.into_inner());
                                if silent(&o) {
                                    *s = (s.0 + 1, s.1.or(Some(case.id)));
                                } else if !matches!(o.status, Status::Skip(_)) {
                                    *s = (0, None);
                                }
                                o
                            }
                        }
                    }
                    _ => run_one(plan, case),
                };
                let (lock, cv) = &*slots;
                lock.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(outcome);
                cv.notify_all();
            });
        }
        // Report in order, as each prefix completes.
        let (lock, cv) = &*slots;
        let mut done = 0;
        let mut guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        while done < n {
            if let Some(outcome) = guard[done].as_ref() {
                report(outcome);
                done += 1;
            } else {
                guard = cv.wait(guard).unwrap_or_else(|e| e.into_inner());
            }
        }
    });
    let slots = Arc::try_unwrap(slots).ok().expect("every worker is done");
    slots
        .0
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|o| o.expect("every case ran"))
        .collect()
}

/// A case not run: the server has answered nothing since case `first`.
fn not_run(case: &'static Case, first: &str) -> Outcome {
    Outcome {
        case,
        status: Status::Fail(Fail::new(
            format!(
                "not run: the server has sent nothing, not even a close, in {SILENT_CASES} cases in a row from {first}"
            ),
            "an answer",
            "nothing",
        )),
        duration: Duration::ZERO,
        transcript: Transcript::new(),
        target_output: None,
    }
}

fn run_one(plan: &Plan, case: &'static Case) -> Outcome {
    let tr = Transcript::new();
    let started = Instant::now();
    let _heavy = case
        .has_tag("heavy")
        .then(|| HEAVY.lock().unwrap_or_else(|e| e.into_inner()));
    let outcome = |status, target_output| Outcome {
        case,
        status,
        duration: started.elapsed(),
        transcript: tr.clone(),
        target_output,
    };
    if case.has_tag("spawn") && !matches!(plan.mode, Mode::SpawnServer { .. }) {
        return outcome(
            Status::Skip("needs a server pollchat-check starts (--spawn)".into()),
            None,
        );
    }
    if case.has_tag("pipes") && matches!(plan.mode, Mode::Client { io: Io::Pty, .. }) {
        return outcome(
            Status::Skip(
                "needs pipes: a terminal cannot carry this input (a line over 4095 bytes, a CR)"
                    .into(),
            ),
            None,
        );
    }
    let groups = Arc::new(Mutex::new(Vec::new()));
    let mut server = None;
    let target = match &plan.mode {
        Mode::SpawnServer { template, ready } => {
            match spawn::start_server(template, ready, plan.timing.wait, &tr) {
                Ok(s) => {
                    tr.note(&format!("the server is ready on 127.0.0.1:{}", s.port));
                    let t = Target::Server(ServerTarget {
                        addr: SocketAddr::from(([127, 0, 0, 1], s.port)),
                        stdout: Some(s.proc.stdout.clone()),
                    });
                    server = Some(s);
                    t
                }
                Err(e) => return outcome(Status::Error(e), None),
            }
        }
        Mode::Addr(addr) => Target::Server(ServerTarget {
            addr: *addr,
            stdout: None,
        }),
        Mode::Client { template, io } => Target::Client(ClientTarget {
            template: template.clone(),
            io: *io,
            groups: groups.clone(),
        }),
    };
    let case_started = Instant::now();
    let mut ctx = Ctx {
        tr: tr.clone(),
        timing: plan.timing,
        started: case_started,
        deadline: case_started + plan.timing.budget,
        target,
    };
    let (tx, rx) = mpsc::channel();
    let body = std::thread::Builder::new()
        .name(case.id.to_string())
        .spawn(move || {
            let result =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (case.run)(&mut ctx)));
            // The case's processes and sockets go before the result is
            // reported, so the next case starts clean.
            drop(ctx);
            let _ = tx.send(result);
        });
    if let Err(e) = body {
        return outcome(Status::Error(format!("cannot start a thread: {e}")), None);
    }
    let grace = Duration::from_secs(3);
    let status = match rx.recv_timeout(plan.timing.budget + grace) {
        Ok(Ok(Ok(()))) => Status::Pass,
        Ok(Ok(Err(fail))) => Status::Fail(fail),
        Ok(Err(panic)) => {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Status::Error(format!("pollchat-check went wrong in this case: {what}"))
        }
        Err(_) => {
            // Stop whatever it started; its sockets close with the target.
            for group in groups.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                // SAFETY: the process groups of clients this case started.
                unsafe { libc::kill(-(*group as i32), libc::SIGKILL) };
            }
            Status::Fail(Fail::new(
                "the case did not finish in time",
                format!("done within {:.0} s", plan.timing.budget.as_secs_f64()),
                "still waiting",
            ))
        }
    };
    let mut target_output = None;
    if let Some(mut s) = server {
        if let Some(exit) = s.proc.exited() {
            tr.note(&format!("the server had exited during the case: {exit}"));
        }
        s.proc.stop();
        if status != Status::Pass {
            target_output = Some(output_tail(&s.proc.stderr, &s.proc.stdout));
        }
    }
    outcome(status, target_output)
}

fn output_tail(stderr: &Capture, stdout: &Capture) -> String {
    let (err, _) = stderr.snapshot();
    let (out, _) = stdout.snapshot();
    let mut text = String::new();
    for (name, bytes) in [("stderr", err), ("stdout", out)] {
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        let start = lines.len().saturating_sub(12);
        let tail: Vec<String> = lines[start..]
            .iter()
            .filter(|l| !l.is_empty())
            .map(|l| crate::transcript::escape(&l[..l.len().min(300)]))
            .collect();
        if !tail.is_empty() {
            text.push_str(&format!("server {name} (last lines):\n"));
            for line in tail {
                text.push_str(&format!("  {line}\n"));
            }
        }
    }
    text
}

/// Whether a selection pattern picks `case`: its id, its id without the
/// dialect (`PR12`), a prefix of dotted parts (`mesg.join`), a prefix
/// ending in `*`, or one of its tags.
pub fn matches(pattern: &str, case: &Case) -> bool {
    let id = case.id;
    let short = id.split_once('.').map_or(id, |(_, rest)| rest);
    if let Some(prefix) = pattern.strip_suffix('*') {
        return id.starts_with(prefix) || short.starts_with(prefix);
    }
    id == pattern
        || short == pattern
        || id.ends_with(&format!(".{pattern}"))
        || id.starts_with(&format!("{pattern}."))
        || short.starts_with(&format!("{pattern}."))
        || case.has_tag(pattern)
}

/// The cases `--only` and `--skip` leave.
pub fn select(cases: Vec<&'static Case>, only: &[String], skip: &[String]) -> Vec<&'static Case> {
    cases
        .into_iter()
        .filter(|c| only.is_empty() || only.iter().any(|p| matches(p, c)))
        .filter(|c| !skip.iter().any(|p| matches(p, c)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::case::{Dialect, Role, R};

    fn nothing(_: &mut Ctx) -> R {
        Ok(())
    }

    static CASE: Case = Case {
        id: "hello.PR12",
        dialect: Dialect::Hello,
        role: Role::Server,
        tags: &["assignment", "heavy"],
        rule: "",
        run: nothing,
    };

    #[test]
    fn patterns_match_ids_prefixes_and_tags() {
        for yes in ["hello.PR12", "PR12", "hello", "hello.PR*", "PR1*", "heavy"] {
            assert!(matches(yes, &CASE), "{yes}");
        }
        for no in ["PR1", "hello.PR1", "mesg", "choice", "hello.P"] {
            assert!(!matches(no, &CASE), "{no}");
        }
    }
}
