//! `pollchat-bench` against the real server, with tiny counts: the tool
//! must report exactly what a correct server does. No timing is asserted;
//! these runs finish in milliseconds and every wait in the tool is bounded.

mod common;

use std::collections::HashMap;
use std::process::Command;

const BENCH_BIN: &str = env!("CARGO_BIN_EXE_pollchat-bench");

/// Runs the tool with `args` against a server it starts, and returns the
/// fields of its RESULT line.
fn bench(args: &[&str]) -> HashMap<String, String> {
    let out = Command::new(BENCH_BIN)
        .args(args)
        .args(["--spawn", "--server-bin"])
        .arg(common::server_bin())
        .output()
        .expect("run pollchat-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "pollchat-bench {args:?} failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .unwrap_or_else(|| panic!("no RESULT line in {stdout}"));
    line.split(' ')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn fanout_counts_every_delivery_and_finds_no_fault() {
    let r = bench(&["fanout", "--clients", "3", "--messages", "50"]);
    // 3 senders x 50 messages x 2 other clients.
    assert_eq!(r["sent"], "150");
    assert_eq!(r["deliveries"], "300");
    for fault in ["loss", "dup", "reorder", "garbled", "unexpected", "closed"] {
        assert_eq!(r[fault], "0", "{fault}");
    }
    assert!(r.contains_key("server_peak_rss_kb"));
}

#[test]
fn one_sender_at_a_fixed_rate() {
    let args = [
        "fanout",
        "--clients",
        "4",
        "--senders",
        "1",
        "--messages",
        "5",
    ];
    let r = bench(&[&args[..], &["--rate", "1000"]].concat());
    assert_eq!((r["sent"].as_str(), r["deliveries"].as_str()), ("5", "15"));
    assert_eq!(r["loss"], "0");
}

#[test]
fn dm_churn_and_idle_complete() {
    let r = bench(&["dm", "--pairs", "2", "--messages", "20"]);
    assert_eq!((r["round_trips"].as_str(), r["loss"].as_str()), ("40", "0"));
    let r = bench(&["churn", "--cycles", "20", "--concurrency", "2"]);
    assert_eq!((r["cycles"].as_str(), r["errors"].as_str()), ("20", "0"));
    let r = bench(&["idle", "--connections", "20"]);
    assert_eq!(
        (r["served"].as_str(), r["fresh_pong"].as_str()),
        ("20", "yes")
    );
}
