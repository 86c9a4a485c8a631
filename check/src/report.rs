//! The outcomes, for people (text, live) and for tools: JSON, JUnit XML,
//! TAP and Gradescope's `results.json`.

use crate::runner::{Outcome, Status};
use crate::transcript::{escape, Dir};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Junit,
    Tap,
    Gradescope,
}

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        Some(match name {
            "text" => Format::Text,
            "json" => Format::Json,
            "junit" => Format::Junit,
            "tap" => Format::Tap,
            "gradescope" => Format::Gradescope,
            _ => return None,
        })
    }
}

/// What the run was, for the headers of every format.
pub struct Run<'a> {
    pub role: &'a str,
    pub dialect: &'a str,
    pub target: &'a str,
    pub elapsed: Duration,
    /// Transcripts of passing cases too.
    pub verbose: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub errors: usize,
}

pub fn counts(outcomes: &[Outcome]) -> Counts {
    let mut c = Counts::default();
    for o in outcomes {
        match o.status {
            Status::Pass => c.passed += 1,
            Status::Fail(_) => c.failed += 1,
            Status::Skip(_) => c.skipped += 1,
            Status::Error(_) => c.errors += 1,
        }
    }
    c
}

/// One outcome as text, as the run goes.
pub fn text_line(o: &Outcome, verbose: bool) -> String {
    let word = match o.status {
        Status::Pass => "ok",
        Status::Fail(_) => "FAIL",
        Status::Skip(_) => "SKIP",
        Status::Error(_) => "ERROR",
    };
    let ms = o.duration.as_millis();
    let mut out = format!("{word:<5} {:<44} {} ({ms} ms)\n", o.case.id, o.case.rule);
    match &o.status {
        Status::Pass => {}
        Status::Skip(why) | Status::Error(why) => {
            let _ = writeln!(out, "      {why}");
        }
        Status::Fail(f) => {
            let _ = writeln!(out, "      {}", f.why);
            if !f.expected.is_empty() {
                let _ = writeln!(out, "      expected: {}", f.expected);
            }
            if !f.got.is_empty() {
                let _ = writeln!(out, "      got:      {}", f.got);
            }
        }
    }
    if !o.passed() && !matches!(o.status, Status::Skip(_)) || verbose {
        let transcript = o.transcript.render();
        if !transcript.is_empty() {
            out.push_str("      transcript:\n");
            for line in transcript.lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
        if let Some(target) = &o.target_output {
            for line in target.lines() {
                let _ = writeln!(out, "      {line}");
            }
        }
    }
    out
}

pub fn text_summary(outcomes: &[Outcome], run: &Run) -> String {
    let c = counts(outcomes);
    let mut line = format!(
        "{} {}: {} cases, {} passed, {} failed",
        run.dialect,
        run.role,
        outcomes.len(),
        c.passed,
        c.failed
    );
    if c.skipped > 0 {
        let _ = write!(line, ", {} skipped", c.skipped);
    }
    if c.errors > 0 {
        let _ = write!(line, ", {} could not run", c.errors);
    }
    let _ = write!(line, " ({:.1} s)", run.elapsed.as_secs_f64());
    line
}

fn transcript_json(o: &Outcome) -> Value {
    let (events, dropped) = o.transcript.events();
    let mut list: Vec<Value> = events
        .iter()
        .map(|e| {
            let dir = match e.dir {
                Dir::Sent => "sent",
                Dir::Received => "received",
                Dir::Closed => "closed",
                Dir::Typed => "typed",
                Dir::Printed => "printed",
                Dir::Stderr => "stderr",
                Dir::Note => "note",
            };
            let mut v = json!({
                "t": (e.at.as_secs_f64() * 1000.0).round() / 1000.0,
                "dir": dir,
            });
            if !e.who.is_empty() {
                v["who"] = json!(e.who);
            }
            if e.dir == Dir::Note {
                v["text"] = json!(String::from_utf8_lossy(&e.bytes));
            } else if e.dir != Dir::Closed {
                v["bytes"] = json!(escape(&e.bytes));
            }
            if e.more > 0 {
                v["more_bytes"] = json!(e.more);
            }
            v
        })
        .collect();
    if dropped > 0 {
        list.push(json!({ "dir": "note", "text": format!("{dropped} more events not kept") }));
    }
    Value::Array(list)
}

fn case_json(o: &Outcome, verbose: bool) -> Value {
    let mut v = json!({
        "id": o.case.id,
        "dialect": o.case.dialect.name(),
        "role": o.case.role.name(),
        "tags": o.case.tags,
        "rule": o.case.rule,
        "status": o.status.word(),
        "ms": o.duration.as_millis() as u64,
    });
    match &o.status {
        Status::Fail(f) => {
            v["why"] = json!(f.why);
            v["expected"] = json!(f.expected);
            v["got"] = json!(f.got);
        }
        Status::Skip(why) | Status::Error(why) => v["why"] = json!(why),
        Status::Pass => {}
    }
    if verbose || matches!(o.status, Status::Fail(_) | Status::Error(_)) {
        v["transcript"] = transcript_json(o);
        if let Some(t) = &o.target_output {
            v["target_output"] = json!(t);
        }
    }
    v
}

pub fn json(outcomes: &[Outcome], run: &Run) -> String {
    let c = counts(outcomes);
    let v = json!({
        "tool": "pollchat-check",
        "role": run.role,
        "dialect": run.dialect,
        "target": run.target,
        "summary": {
            "cases": outcomes.len(),
            "passed": c.passed,
            "failed": c.failed,
            "skipped": c.skipped,
            "errors": c.errors,
            "seconds": (run.elapsed.as_secs_f64() * 10.0).round() / 10.0,
        },
        "cases": outcomes.iter().map(|o| case_json(o, run.verbose)).collect::<Vec<_>>(),
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

/// What a failed case says, as plain text (JUnit, TAP, Gradescope).
fn failure_text(o: &Outcome) -> String {
    let mut out = String::new();
    match &o.status {
        Status::Fail(f) => {
            let _ = writeln!(out, "{}", f.why);
            let _ = writeln!(out, "expected: {}", f.expected);
            let _ = writeln!(out, "got:      {}", f.got);
        }
        Status::Skip(why) | Status::Error(why) => {
            let _ = writeln!(out, "{why}");
        }
        Status::Pass => {}
    }
    let transcript = o.transcript.render();
    if !transcript.is_empty() {
        out.push_str("transcript:\n");
        out.push_str(&transcript);
    }
    if let Some(t) = &o.target_output {
        out.push_str(t);
    }
    out
}

fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no way to write these at all.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

pub fn junit(outcomes: &[Outcome], run: &Run) -> String {
    let c = counts(outcomes);
    let suite = format!("pollchat-check.{}.{}", run.role, run.dialect);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        outcomes.len(),
        c.failed,
        c.errors,
        c.skipped,
        run.elapsed.as_secs_f64()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        xml(&suite),
        outcomes.len(),
        c.failed,
        c.errors,
        c.skipped,
        run.elapsed.as_secs_f64()
    );
    for o in outcomes {
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            xml(&suite),
            xml(o.case.id),
            o.duration.as_secs_f64()
        );
        match &o.status {
            Status::Pass => out.push_str("/>\n"),
            Status::Skip(why) => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    xml(why)
                );
            }
            Status::Fail(f) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>",
                    xml(&f.why),
                    xml(&failure_text(o))
                );
            }
            Status::Error(why) => {
                let _ = writeln!(
                    out,
                    ">\n      <error message=\"{}\">{}</error>\n    </testcase>",
                    xml(why),
                    xml(&failure_text(o))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

pub fn tap(outcomes: &[Outcome], _run: &Run) -> String {
    let mut out = format!("TAP version 13\n1..{}\n", outcomes.len());
    for (i, o) in outcomes.iter().enumerate() {
        let n = i + 1;
        match &o.status {
            Status::Pass => {
                let _ = writeln!(out, "ok {n} - {} {}", o.case.id, o.case.rule);
            }
            Status::Skip(why) => {
                let _ = writeln!(out, "ok {n} - {} # SKIP {why}", o.case.id);
            }
            Status::Fail(_) | Status::Error(_) => {
                let _ = writeln!(out, "not ok {n} - {} {}", o.case.id, o.case.rule);
                out.push_str("  ---\n");
                if let Status::Fail(f) = &o.status {
                    let _ = writeln!(
                        out,
                        "  message: {}",
                        serde_json::to_string(&f.why).unwrap_or_default()
                    );
                    let _ = writeln!(
                        out,
                        "  expected: {}",
                        serde_json::to_string(&f.expected).unwrap_or_default()
                    );
                    let _ = writeln!(
                        out,
                        "  got: {}",
                        serde_json::to_string(&f.got).unwrap_or_default()
                    );
                } else if let Status::Error(why) = &o.status {
                    let _ = writeln!(
                        out,
                        "  message: {}",
                        serde_json::to_string(why).unwrap_or_default()
                    );
                }
                out.push_str("  transcript: |\n");
                for line in o.transcript.render().lines() {
                    let _ = writeln!(out, "    {line}");
                }
                out.push_str("  ...\n");
            }
        }
    }
    out
}

/// Gradescope's autograder `results.json`: one test per case, worth one
/// point, each with an `output` (the rule for a case that passed; what
/// went wrong, with the transcript, for one that did not); skipped cases
/// are left out.
pub fn gradescope(outcomes: &[Outcome], run: &Run) -> String {
    let tests: Vec<Value> = outcomes
        .iter()
        .filter(|o| !matches!(o.status, Status::Skip(_)))
        .map(|o| {
            let passed = o.passed();
            let mut t = json!({
                "name": format!("{}: {}", o.case.id, o.case.rule),
                "number": o.case.id,
                "score": if passed { 1 } else { 0 },
                "max_score": 1,
                "status": if passed { "passed" } else { "failed" },
                "tags": o.case.tags,
                "visibility": "visible",
            });
            t["output"] = if passed {
                json!(format!("ok: {}", o.case.rule))
            } else {
                json!(failure_text(o))
            };
            t
        })
        .collect();
    let score: u64 = tests.iter().filter_map(|t| t["score"].as_u64()).sum();
    let v = json!({
        "score": score,
        "execution_time": run.elapsed.as_secs_f64().round() as u64,
        "output": format!("pollchat-check {} {}: {} of {} cases passed", run.role, run.dialect, score, tests.len()),
        "tests": tests,
    });
    serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
}

pub fn render(format: Format, outcomes: &[Outcome], run: &Run) -> String {
    match format {
        Format::Text => {
            let mut out = String::new();
            for o in outcomes {
                out.push_str(&text_line(o, run.verbose));
            }
            out.push_str(&text_summary(outcomes, run));
            out.push('\n');
            out
        }
        Format::Json => json(outcomes, run),
        Format::Junit => junit(outcomes, run),
        Format::Tap => tap(outcomes, run),
        Format::Gradescope => gradescope(outcomes, run),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            xml("<a href=\"x\">&'\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;\\x1b"
        );
    }
}
