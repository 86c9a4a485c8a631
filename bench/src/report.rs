//! The two forms of a result: a few lines for a person, and one `RESULT`
//! line of `key=value` pairs for scripts (`bench/compare-redis.sh` reads
//! it with `grep` and `sed`).

use super::histogram::Histogram;
use super::procstat::{OwnCpu, Sample};
use std::fmt::Display;
use std::time::Duration;

/// Builds both forms at once, field by field, in the order given.
#[derive(Debug, Default)]
pub struct Report {
    fields: Vec<(String, String)>,
    lines: Vec<String>,
}

impl Report {
    pub fn new(workload: &str, target: &str) -> Report {
        let mut report = Report::default();
        report.field("workload", workload);
        report.field("target", target);
        report
    }

    /// Adds `key=value` to the machine-readable line.
    pub fn field(&mut self, key: &str, value: impl Display) {
        self.fields.push((key.to_string(), value.to_string()));
    }

    /// Adds a line to the human summary.
    pub fn line(&mut self, text: impl Into<String>) {
        self.lines.push(text.into());
    }

    /// Latency quantiles in microseconds, both forms. `what` names them in
    /// the summary ("latency", "round trip").
    pub fn latency(&mut self, what: &str, h: &Histogram) {
        let us = |ns: u64| ns as f64 / 1000.0;
        let (p50, p99, max) = (us(h.quantile(0.5)), us(h.quantile(0.99)), us(h.max()));
        self.field("p50_us", format!("{p50:.1}"));
        self.field("p99_us", format!("{p99:.1}"));
        self.field("max_us", format!("{max:.1}"));
        self.line(format!(
            "{what}: p50 {p50:.1} us, p99 {p99:.1} us, max {max:.1} us ({} samples)",
            h.count()
        ));
    }

    /// The server's CPU time over the measured phase and its memory, and
    /// ours: the tool must not be what limits the rate.
    pub fn costs(
        &mut self,
        elapsed: Duration,
        server: Option<(Sample, Sample)>,
        own_cpu: OwnCpu,
        per: Option<(&str, u64)>,
    ) {
        let secs = elapsed.as_secs_f64().max(1e-9);
        if let Some((before, after)) = server {
            let cpu = after.cpu.saturating_sub(before.cpu).as_secs_f64();
            self.field("server_cpu_s", format!("{cpu:.3}"));
            self.field("server_rss_kb", after.rss_kb);
            self.field("server_peak_rss_kb", after.peak_rss_kb);
            self.line(format!(
                "server: {cpu:.2} s CPU ({:.0} % of one core), RSS {} KiB, peak {} KiB",
                100.0 * cpu / secs,
                after.rss_kb,
                after.peak_rss_kb
            ));
        } else {
            self.line("server: no pid (use --spawn or --server-pid for its CPU and memory)");
        }
        let own = own_cpu.total().as_secs_f64();
        self.field("tool_cpu_s", format!("{own:.3}"));
        let mut text = format!(
            "tool: {own:.2} s CPU ({:.0} % of one core, {:.0} % of it in the kernel)",
            100.0 * own / secs,
            100.0 * own_cpu.system.as_secs_f64() / own.max(1e-9)
        );
        if let Some((unit, count)) = per.filter(|&(_, n)| n > 0) {
            let ns = own_cpu.total().as_nanos() as f64 / count as f64;
            let user = own_cpu.user.as_nanos() as f64 / count as f64;
            self.field(&format!("tool_ns_per_{unit}"), format!("{ns:.1}"));
            self.field(&format!("tool_user_ns_per_{unit}"), format!("{user:.1}"));
            text.push_str(&format!(
                ", {ns:.1} ns per {unit} ({user:.1} ns of it our own code)"
            ));
        }
        self.line(text);
    }

    /// The machine-readable line.
    pub fn result_line(&self) -> String {
        let pairs: Vec<String> = self
            .fields
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "_")))
            .collect();
        format!("RESULT {}", pairs.join(" "))
    }

    /// Both forms: the summary first, the `RESULT` line last.
    pub fn print(&self) {
        for line in &self.lines {
            println!("{line}");
        }
        println!("{}", self.result_line());
    }
}

/// A rate per second, rounded for reading.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    count as f64 / elapsed.as_secs_f64().max(1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_result_line_keeps_field_order_and_has_no_spaces_in_values() {
        let mut r = Report::new("fanout", "pollchat");
        r.field("clients", 3);
        r.field("note", "two words");
        assert_eq!(
            r.result_line(),
            "RESULT workload=fanout target=pollchat clients=3 note=two_words"
        );
    }

    #[test]
    fn costs_per_unit_are_reported_in_nanoseconds() {
        let mut r = Report::new("x", "y");
        r.costs(
            Duration::from_secs(1),
            None,
            OwnCpu {
                user: Duration::from_millis(20),
                system: Duration::from_millis(30),
            },
            Some(("delivery", 1_000_000)),
        );
        let line = r.result_line();
        assert!(line.contains("tool_ns_per_delivery=50.0"), "{line}");
        assert!(line.contains("tool_user_ns_per_delivery=20.0"), "{line}");
    }
}
