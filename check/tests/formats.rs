//! The reports for tools: JSON, JUnit XML, TAP and Gradescope's
//! `results.json`, each with its shape checked, and the exit status (0 all
//! passed, 1 some failed whatever the format, 2 usage or setup errors).
//! The failing case comes from a mutant whose LIST table has spaces for
//! TABs: `mesg.list.table` fails, `mesg.join.accepted` passes.

mod common;
use common::*;
use serde_json::Value;
use std::process::Command;

/// A server for which one case of the two selected fails.
fn half_broken() -> String {
    format!(
        "{CHECK} mutant mesg-list-spaces --listen {{host}}:{{port}} --server '{} --protocol mesg --address 127.0.0.1 --port {{inner_port}}'",
        server_bin().display()
    )
}

const TWO: &str = "join.accepted,list.table";

/// Runs the checker; its exit status, stdout and stderr.
fn run(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(CHECK).args(args).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn report(format: &str, only: &str) -> (Option<i32>, String) {
    let spawn = half_broken();
    let (code, out, err) = run(&[
        "server", "mesg", "--spawn", &spawn, "--only", only, "--format", format,
    ]);
    // Text ends in the summary; for the others it goes to stderr, so
    // stdout is the report alone.
    if format != "text" {
        assert!(err.contains("mesg server: "), "{format}: {err}");
    }
    (code, out)
}

#[test]
fn json_lists_every_case_with_its_outcome() {
    let (code, out) = report("json", TWO);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["tool"], "pollchat-check");
    assert_eq!(v["role"], "server");
    assert_eq!(v["dialect"], "mesg");
    assert_eq!(v["summary"]["cases"], 2);
    assert_eq!(v["summary"]["passed"], 1);
    assert_eq!(v["summary"]["failed"], 1);
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases[0]["id"], "mesg.join.accepted");
    assert_eq!(cases[0]["status"], "pass");
    assert_eq!(cases[0]["tags"][0], "basic");
    assert!(cases[0].get("transcript").is_none());
    let failed = &cases[1];
    assert_eq!(failed["id"], "mesg.list.table");
    assert_eq!(failed["status"], "fail");
    for field in ["why", "expected", "got", "rule"] {
        assert!(
            failed[field].as_str().is_some_and(|s| !s.is_empty()),
            "{field}"
        );
    }
    // The transcript shows the bytes: the row with a space for its TAB.
    let transcript = failed["transcript"].as_array().unwrap();
    assert!(transcript.iter().any(|e| e["dir"] == "received"
        && e["bytes"]
            .as_str()
            .is_some_and(|b| b.contains("USERNAME FD"))));
}

#[test]
fn gradescope_results_have_the_autograder_schema() {
    let (code, out) = report("gradescope", TWO);
    assert_eq!(code, Some(1));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["score"], 1);
    let tests = v["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 2);
    for t in tests {
        assert!(t["name"].as_str().is_some_and(|n| !n.is_empty()));
        assert!(t["score"].is_number() && t["max_score"] == 1);
        assert!(t["output"].is_string());
    }
    assert!(tests[0]["name"]
        .as_str()
        .unwrap()
        .starts_with("mesg.join.accepted"));
    assert_eq!(tests[0]["status"], "passed");
    assert_eq!(tests[0]["score"], 1);
    assert_eq!(tests[1]["status"], "failed");
    assert_eq!(tests[1]["score"], 0);
    let output = tests[1]["output"].as_str().unwrap();
    assert!(output.contains("expected:") && output.contains("transcript:"));
    // Everything passed: full marks, exit 0.
    let (code, out) = report("gradescope", "join.accepted");
    assert_eq!(code, Some(0));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["score"], 1);
    assert_eq!(v["tests"][0]["status"], "passed");
}

#[test]
fn junit_has_one_testcase_each_and_a_failure_element() {
    let (code, out) = report("junit", TWO);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "));
    assert!(out.contains("<testsuites tests=\"2\" failures=\"1\" errors=\"0\" skipped=\"0\""));
    assert!(out.contains("<testsuite name=\"pollchat-check.server.mesg\" tests=\"2\""));
    let passed = out
        .lines()
        .find(|l| l.contains("name=\"mesg.join.accepted\""))
        .unwrap();
    assert!(passed.trim_end().ends_with("/>"), "{passed}");
    let failed = out.split("name=\"mesg.list.table\"").nth(1).unwrap();
    let failed = &failed[..failed.find("</testcase>").unwrap()];
    assert!(failed.contains("<failure message=\""), "{failed}");
    // The transcript is inside, escaped: no stray markup.
    assert!(!failed.contains("<-") && failed.contains("&lt;-"));
    assert_eq!(out.matches("<testcase ").count(), 2);
    assert!(out.trim_end().ends_with("</testsuites>"));
}

#[test]
fn tap_has_a_plan_and_one_line_each() {
    let (code, out) = report("tap", TWO);
    assert_eq!(code, Some(1));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "TAP version 13");
    assert_eq!(lines[1], "1..2");
    assert!(lines[2].starts_with("ok 1 - mesg.join.accepted "));
    assert!(lines[3].starts_with("not ok 2 - mesg.list.table "));
    // The diagnostics: a YAML block between `---` and `...`.
    assert_eq!(lines[4], "  ---");
    assert!(lines[5].starts_with("  message: \""));
    assert_eq!(*lines.last().unwrap(), "  ...");
    assert_eq!(report("tap", "join.accepted").0, Some(0));
}

#[test]
fn text_is_a_line_a_case_and_the_score_last() {
    let (code, out) = report("text", TWO);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("ok    mesg.join.accepted "));
    assert!(out.contains("\nFAIL  mesg.list.table "));
    assert!(out.contains("      expected: ") && out.contains("      transcript:\n"));
    let last = out.trim_end().lines().last().unwrap();
    assert!(
        last.starts_with("mesg server: 2 cases, 1 passed, 1 failed"),
        "{last}"
    );
}

#[test]
fn output_writes_the_report_to_a_file_and_keeps_the_exit_status() {
    let dir = std::env::temp_dir().join(format!("pollchat-check-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("results.json");
    let spawn = half_broken();
    let (code, out, _) = run(&[
        "server",
        "mesg",
        "--spawn",
        &spawn,
        "--only",
        TWO,
        "--format",
        "gradescope",
        "--output",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(1));
    // Text progress on stdout, the report in the file.
    assert!(out.contains("FAIL  mesg.list.table"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(v["tests"].as_array().unwrap().len(), 2);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn usage_and_setup_errors_exit_2() {
    let server = server_cmd("mesg");
    for args in [
        &["server", "mesg", "--spawn", &server, "--format", "xml"][..],
        &["server", "--spawn", &server],
        &["server", "mesg"],
        &["server", "mesg", "--spawn", "pollchat-server 9000"],
        &[
            "server",
            "mesg",
            "--spawn",
            &server,
            "--only",
            "no.such.case",
        ],
        &["client", "mesg", "--addr", "127.0.0.1:9"],
        &["server", "mesg", "--addr", "192.0.2.1:9"],
        &["server", "mesg", "--bogus"],
        // The server cannot start.
        &["server", "mesg", "--spawn", "exit 3 # {port}"],
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.starts_with("pollchat-check: "), "{args:?}: {err}");
    }
}

#[test]
fn the_stages_select_their_cases() {
    let server = server_cmd("channels");
    let run = check(&[
        "server",
        "channels",
        "--spawn",
        &server,
        "--only",
        "robustness",
    ]);
    assert_eq!(run.code, Some(0), "{}", run.explain());
    let cases = run.json["cases"].as_array().unwrap();
    assert!(!cases.is_empty());
    assert!(cases.iter().all(|c| c["tags"][0] == "robustness"));
    let (_, list, _) = list_server("channels");
    let robustness = list
        .lines()
        .filter(|l| {
            l.split_whitespace()
                .nth(2)
                .is_some_and(|t| t.starts_with("robustness"))
        })
        .count();
    assert_eq!(cases.len(), robustness);
    // And --skip: everything but load.
    let run = check(&["server", "channels", "--spawn", &server, "--skip", "load"]);
    let cases = run.json["cases"].as_array().unwrap();
    assert!(cases.iter().all(|c| c["tags"][0] != "load"));
    assert!(cases.iter().any(|c| c["tags"][0] == "basic"));
}

/// `pollchat-check list server <dialect>`.
fn list_server(dialect: &str) -> (Option<i32>, String, String) {
    run(&["list", "server", dialect])
}
