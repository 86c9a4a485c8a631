//! Every case is bounded in time, so a whole run against a broken target
//! ends within about a minute (issue 14) and says why each case failed.

mod common;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// The bound for a whole run against a broken target.
const A_MINUTE: Duration = Duration::from_secs(60);

/// A server that accepts every connection and never says a word: the
/// connections are held open, not closed, so every read must time out.
fn holding_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

#[test]
fn a_server_that_accepts_and_never_answers_fails_every_case_within_a_minute() {
    let runs: Vec<_> = ["mesg", "hello", "channels", "sendto", "miniserv"]
        .into_iter()
        .map(|d| {
            let addr = format!("127.0.0.1:{}", holding_server());
            std::thread::spawn(move || (d, check(&["server", d, "--addr", &addr])))
        })
        .collect();
    for r in runs {
        let (d, run) = r.join().unwrap();
        assert_eq!(run.code, Some(1), "{d}: {}", run.stderr);
        let statuses = run.statuses();
        // Nothing passes; hello.TR5 needs --spawn and is skipped.
        assert!(
            statuses.values().all(|s| s == "fail" || s == "skip"),
            "{d}: {statuses:?}"
        );
        // One at a time on a shared server, the cases after three silent
        // ones are failed unrun, saying so.
        let cases = run.json["cases"].as_array().unwrap();
        let unrun = cases
            .iter()
            .filter(|c| c["why"].as_str().is_some_and(|w| w.starts_with("not run:")))
            .count();
        assert!(unrun + 4 >= cases.len(), "{d}: {unrun} of {}", cases.len());
        assert!(run.elapsed < A_MINUTE, "{d}: {:?}", run.elapsed);
    }
}

#[test]
fn a_client_that_never_connects_fails_every_case_within_a_minute() {
    for d in ["mesg", "channels"] {
        // `sh` runs `sleep`; the placeholders it must hold are a comment.
        let run = check(&[
            "client",
            d,
            "--spawn",
            "exec sleep 600 # {host} {port} {name}",
        ]);
        assert_eq!(run.code, Some(1), "{d}: {}", run.stderr);
        let statuses = run.statuses();
        assert!(statuses.values().all(|s| s == "fail"), "{d}: {statuses:?}");
        assert!(run.elapsed < A_MINUTE, "{d}: {:?}", run.elapsed);
    }
}
