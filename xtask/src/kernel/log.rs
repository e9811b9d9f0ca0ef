//! Reading a guest's serial console back: the init's `@@kc` markers, libtest's output,
//! the project's `skipped:` lines, and signs of kernel trouble, combined with how QEMU
//! ended into one verdict per kernel.
//!
//! The verdict is deliberately suspicious: a pass needs QEMU's `isa-debug-exit` code for
//! "guest value 0" *and* a complete, consistent log. An exit of 0 means the guest never
//! reported (panic, hang, no debug-exit device) and is never a pass.

use std::collections::{BTreeMap, BTreeSet};

/// The prefix of the init's marker lines (`kernel/init.rs` has the same constant).
pub const MARK: &str = "@@kc";

/// How the QEMU process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Exited by itself with this code (`None`: killed by a signal).
    Exited(Option<i32>),
    /// Outlived the wall-clock limit and was killed by us.
    TimedOut,
    /// Killed by us because the init had not printed its first marker (`@@kc init`)
    /// this many seconds after QEMU started: the kernel hung while booting, which TCG
    /// occasionally does and a test cannot cause (no test has run yet).
    NeverStarted(u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Timeout,
    NoReport,
    /// The kernel image could not be obtained; nothing was booted.
    Unavailable,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Timeout => "TIMEOUT",
            Verdict::NoReport => "NO REPORT",
            Verdict::Unavailable => "UNAVAILABLE",
        }
    }
}

/// One test that printed a `skipped:` line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Skip {
    pub binary: String,
    pub test: String,
    pub reason: String,
}

/// One test binary's run, from its `begin`/`end` markers and libtest's summary.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BinaryRun {
    pub name: String,
    /// `exit=0`, `exit=101`, `signal=9`, `timeout`; empty when the `end` marker is missing.
    pub status: String,
    pub passed: u32,
    pub failed: u32,
    pub ignored: u32,
    /// Whether libtest's `test result:` line was seen.
    pub summary: bool,
    pub failed_tests: Vec<String>,
    /// Tests libtest said had "been running for over 60 seconds" (hang suspects).
    pub slow_tests: Vec<String>,
    pub secs: Option<f64>,
}

impl BinaryRun {
    fn ok(&self) -> bool {
        self.status == "exit=0" && self.failed == 0
    }
}

/// Everything one kernel's run says.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub verdict: Verdict,
    /// Why the verdict is not a pass (empty for a pass).
    pub reason: String,
    /// `uname -r` inside the guest, when the init got that far.
    pub release: Option<String>,
    pub binaries: Vec<BinaryRun>,
    /// Tests that passed without printing `skipped:`.
    pub passed: u32,
    pub failed: u32,
    pub ignored: u32,
    /// Tests that printed `skipped:` and did not fail: skipped by probe.
    pub skipped: Vec<Skip>,
    /// `binary::test` of each failed test, or `binary (status)` for a binary that failed
    /// without naming a test.
    pub failures: Vec<String>,
    /// Kernel panics, oopses, BUGs and warnings seen on the console (first lines).
    pub kernel_trouble: Vec<String>,
    /// For each entry of `failures` naming a test: where and why it panicked
    /// (`uring/tests/ring.rs:187:5: assertion failed`), when the log says.
    pub why: BTreeMap<String, String>,
}

impl Report {
    /// The row of a kernel that could not be obtained.
    pub fn unavailable(reason: String) -> Report {
        Report {
            verdict: Verdict::Unavailable,
            reason,
            release: None,
            binaries: Vec::new(),
            passed: 0,
            failed: 0,
            ignored: 0,
            skipped: Vec::new(),
            failures: Vec::new(),
            kernel_trouble: Vec::new(),
            why: BTreeMap::new(),
        }
    }
}

/// Signs of kernel trouble worth showing, whatever the verdict.
const TROUBLE: &[&str] = &[
    "Kernel panic",
    "BUG:",
    "Oops:",
    "WARNING: CPU:",
    "general protection fault",
    "Unable to handle",
    "Kernel Offset:",
    "blocked for more than",
    "RIP:",
];

/// Removes ANSI escape sequences and carriage returns.
fn clean(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // CSI: parameters then one final byte in @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
            }
            '\r' => {}
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

/// `test result: ok. 3 passed; 1 failed; 2 ignored; …` → (passed, failed, ignored).
fn parse_summary(line: &str) -> Option<(u32, u32, u32)> {
    let rest = line.trim().strip_prefix("test result: ")?;
    let (_, counts) = rest.split_once(". ")?;
    let mut found = (None, None, None);
    for part in counts.split(';') {
        let mut words = part.split_whitespace();
        let (Some(n), Some(what)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(n) = n.parse::<u32>() else { continue };
        match what {
            "passed" => found.0 = Some(n),
            "failed" => found.1 = Some(n),
            "ignored" => found.2 = Some(n),
            _ => {}
        }
    }
    Some((found.0?, found.1?, found.2?))
}

/// `test name ... ok` → (name, Some("ok")); `test name ... ` → (name, None).
fn parse_test_line(line: &str) -> Option<(&str, Option<&str>)> {
    let rest = line.strip_prefix("test ")?;
    if rest.starts_with("result: ") {
        return None;
    }
    let (name, result) = rest.split_once(" ...")?;
    let result = result.trim();
    Some((name.trim(), (!result.is_empty()).then_some(result)))
}

/// Reads the console log of one guest and decides, with how QEMU ended.
///
/// `expected` names the test binaries the initramfs holds, in order.
pub fn analyse(log: &str, outcome: Outcome, expected: &[String]) -> Report {
    let mut console = Console::default();
    for raw in log.lines() {
        console.line(&clean(raw));
    }
    let skipped = skipped_by_probe(console.skips, &console.binaries);
    let (failures, why) = failures(&console.binaries, &console.panics);
    let ended = Ended {
        outcome,
        started: console.started,
        finish: console.finish.as_deref(),
        binaries: &console.binaries,
        expected,
        failures: &failures,
        trouble: &console.trouble,
    };
    let (verdict, mut reason) = ended.verdict();
    if verdict != Verdict::Pass && !console.warnings.is_empty() {
        reason.push_str(&format!("; init warnings: {}", console.warnings.join("; ")));
    }
    let b = &console.binaries;
    let total_passed: u32 = b.iter().map(|b| b.passed).sum();
    Report {
        verdict,
        reason,
        release: console.release,
        passed: total_passed.saturating_sub(skipped.len() as u32),
        failed: b
            .iter()
            .map(|b| b.failed.max(b.failed_tests.len() as u32))
            .sum(),
        ignored: b.iter().map(|b| b.ignored).sum(),
        binaries: console.binaries,
        skipped,
        failures,
        kernel_trouble: console.trouble,
        why,
    }
}

/// What the console said, line by line.
#[derive(Default)]
struct Console {
    release: Option<String>,
    /// Whether the init's `start` marker was seen.
    started: bool,
    /// The `finish` marker's word (`pass`, `fail`).
    finish: Option<String>,
    binaries: Vec<BinaryRun>,
    /// The binary between its `begin` and `end` markers, and its test now printing.
    current: Option<usize>,
    current_test: Option<String>,
    skips: BTreeSet<Skip>,
    trouble: Vec<String>,
    /// The init's `warn` markers.
    warnings: Vec<String>,
    /// (binary, test) → "file:line: message" of its first panic.
    panics: BTreeMap<(String, String), String>,
    /// The panic whose message is on the next line.
    panic_needs_message: Option<(String, String)>,
}

impl Console {
    fn line(&mut self, line: &str) {
        if TROUBLE.iter().any(|t| line.contains(t)) && self.trouble.len() < 12 {
            self.trouble.push(line.trim().to_string());
        }
        if let Some(at) = line.find(&format!("{MARK} ")) {
            self.marker(&line[at + MARK.len() + 1..]);
        } else if self.current.is_some() {
            self.test_output(line.trim());
        }
    }

    /// One of the init's `@@kc` lines (without the prefix).
    fn marker(&mut self, marker: &str) {
        let mut words = marker.split_whitespace();
        match words.next() {
            Some("start") => {
                self.started = true;
                self.release = words
                    .find_map(|w| w.strip_prefix("release="))
                    .filter(|r| !r.is_empty())
                    .map(str::to_string);
            }
            Some("begin") => {
                let name = words.next().unwrap_or("?").to_string();
                self.binaries.push(BinaryRun {
                    name,
                    ..BinaryRun::default()
                });
                self.current = Some(self.binaries.len() - 1);
                self.current_test = None;
            }
            Some("end") => {
                let name = words.next().unwrap_or("?");
                let status = words.next().unwrap_or("").to_string();
                let secs = words
                    .find_map(|w| w.strip_prefix("secs="))
                    .and_then(|s| s.parse().ok());
                let current = self.current.map(|i| &mut self.binaries[i]);
                if let Some(b) = current.filter(|b| b.name == name) {
                    b.status = status;
                    b.secs = secs;
                }
                self.current = None;
                self.current_test = None;
            }
            Some("finish") => self.finish = words.next().map(str::to_string),
            Some("warn") => self
                .warnings
                .push(marker["warn".len()..].trim().to_string()),
            _ => {}
        }
    }

    /// A line the running test binary printed.
    fn test_output(&mut self, line: &str) {
        let Some(b) = self.current.map(|i| &mut self.binaries[i]) else {
            return;
        };
        // Since Rust 1.73: "thread 'name' panicked at file:line:col:" then the message.
        if let Some(key) = self.panic_needs_message.take() {
            if let Some(at) = self.panics.get_mut(&key) {
                at.push(' ');
                at.push_str(line);
            }
        }
        if let Some((_, at)) = line.split_once(" panicked at ") {
            if let Some(test) = &self.current_test {
                let key = (b.name.clone(), test.clone());
                if !self.panics.contains_key(&key) {
                    self.panics.insert(key.clone(), at.to_string());
                    if at.ends_with(':') {
                        self.panic_needs_message = Some(key);
                    }
                }
            }
        } else if let Some((p, f, i)) = parse_summary(line) {
            b.passed += p;
            b.failed += f;
            b.ignored += i;
            b.summary = true;
        } else if let Some(name) = line
            .strip_prefix("test ")
            .and_then(|r| r.split_once(" has been running for over "))
            .map(|(name, _)| name)
        {
            b.slow_tests.push(name.to_string());
        } else if let Some((name, result)) = parse_test_line(line) {
            self.current_test = Some(name.to_string());
            if result.is_some_and(|r| r.starts_with("FAILED"))
                && !b.failed_tests.iter().any(|t| t == name)
            {
                b.failed_tests.push(name.to_string());
            }
        } else if let Some(name) = line
            .strip_prefix("---- ")
            .and_then(|r| r.strip_suffix(" stdout ----"))
        {
            self.current_test = Some(name.to_string());
        } else if let Some(reason) = line.strip_prefix("skipped:") {
            self.skips.insert(Skip {
                binary: b.name.clone(),
                test: self.current_test.clone().unwrap_or_else(|| "?".to_string()),
                reason: reason.trim().to_string(),
            });
        }
    }
}

/// The tests skipped by probe: those that printed `skipped:` and did not fail (a
/// failure counts as one), one entry per test however many lines it printed.
fn skipped_by_probe(skips: BTreeSet<Skip>, binaries: &[BinaryRun]) -> Vec<Skip> {
    let failed = |s: &Skip| {
        binaries
            .iter()
            .any(|b| b.name == s.binary && b.failed_tests.contains(&s.test))
    };
    let mut out: Vec<Skip> = Vec::new();
    for s in skips.into_iter().filter(|s| !failed(s)) {
        if !out.iter().any(|o| o.binary == s.binary && o.test == s.test) {
            out.push(s);
        }
    }
    out
}

/// `binary::test` of each failed test (with where it panicked, when the log says), and
/// `binary (status)` of each binary that failed without naming a test.
fn failures(
    binaries: &[BinaryRun],
    panics: &BTreeMap<(String, String), String>,
) -> (Vec<String>, BTreeMap<String, String>) {
    let mut failures = Vec::new();
    let mut why = BTreeMap::new();
    for b in binaries {
        for t in &b.failed_tests {
            let name = format!("{}::{t}", b.name);
            if let Some(at) = panics.get(&(b.name.clone(), t.clone())) {
                why.insert(name.clone(), at.clone());
            }
            failures.push(name);
        }
        if b.failed_tests.is_empty() && !b.ok() {
            let mut status = if b.status.is_empty() {
                "no end marker".to_string()
            } else {
                b.status.clone()
            };
            if !b.slow_tests.is_empty() {
                status.push_str(&format!("; still running: {}", b.slow_tests.join(", ")));
            }
            failures.push(format!("{} ({status})", b.name));
        }
    }
    (failures, why)
}

/// How a guest's run ended, as far as the verdict needs it.
struct Ended<'a> {
    outcome: Outcome,
    started: bool,
    finish: Option<&'a str>,
    binaries: &'a [BinaryRun],
    expected: &'a [String],
    failures: &'a [String],
    trouble: &'a [String],
}

impl Ended<'_> {
    /// The verdict and why it is not a pass: QEMU's exit code, checked against a
    /// complete, consistent log (every expected binary ran, in order, and ended).
    fn verdict(&self) -> (Verdict, String) {
        let ran: Vec<&str> = self.binaries.iter().map(|b| b.name.as_str()).collect();
        let missing: Vec<&String> = self
            .expected
            .iter()
            .filter(|e| !ran.contains(&e.as_str()))
            .collect();
        let all_ok = self.binaries.iter().all(BinaryRun::ok);
        let complete = self.started && missing.is_empty() && self.finish.is_some();
        let inconsistency = || inconsistency(self.started, &missing, self.finish, all_ok);
        match self.outcome {
            Outcome::TimedOut => (Verdict::Timeout, self.timeout_reason()),
            Outcome::Exited(Some(1)) if complete && all_ok && self.finish == Some("pass") => {
                (Verdict::Pass, String::new())
            }
            Outcome::Exited(Some(1)) => (
                Verdict::Fail,
                format!(
                    "the guest reported success but the log disagrees ({})",
                    inconsistency()
                ),
            ),
            Outcome::Exited(Some(3)) => (
                Verdict::Fail,
                if self.failures.is_empty() {
                    format!("the guest reported failure ({})", inconsistency())
                } else {
                    format!("{} failing", self.failures.len())
                },
            ),
            Outcome::Exited(Some(0)) => (
                Verdict::NoReport,
                format!(
                    "QEMU exited 0: the guest powered off or died without reporting{}",
                    if self.trouble.iter().any(|t| t.contains("Kernel panic")) {
                        " (kernel panic)"
                    } else {
                        ""
                    }
                ),
            ),
            Outcome::Exited(Some(code)) => (
                Verdict::NoReport,
                format!("QEMU exited with {code}, not a guest report"),
            ),
            Outcome::Exited(None) => (Verdict::NoReport, "QEMU was killed by a signal".to_string()),
            Outcome::NeverStarted(secs) => (
                Verdict::NoReport,
                format!("the kernel did not start the init within {secs} s (a boot hang); killed"),
            ),
        }
    }

    fn timeout_reason(&self) -> String {
        match self.binaries.iter().find(|b| b.status.is_empty()) {
            Some(b) => format!("wall-clock limit exceeded while running {}", b.name),
            None if !self.started => "wall-clock limit exceeded before the init started".into(),
            None => "wall-clock limit exceeded".to_string(),
        }
    }
}

fn inconsistency(started: bool, missing: &[&String], finish: Option<&str>, all_ok: bool) -> String {
    if !started {
        return "the init never started".to_string();
    }
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        return format!("binaries never ran: {}", names.join(", "));
    }
    match finish {
        None => "no finish marker".to_string(),
        Some(f) if f != "pass" => format!("finish marker says {f}"),
        _ if !all_ok => "a binary failed".to_string(),
        _ => "no failing binary named".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    const BOOT_NOISE: &str = "[    0.000000] Linux version 6.1.0-56-cloud-amd64\r\n\
        SeaBIOS (version 1.16.2-debian-1.16.2-1)\r\nBooting from ROM..\r\n";

    fn clean_pass_log() -> String {
        format!(
            "{BOOT_NOISE}\n@@kc init\n\n@@kc start release=6.1.0-56-cloud-amd64 binaries=2\n\
             \n@@kc begin liburing-sys/ffi\n\nrunning 3 tests\n\
             test nop_round_trip ... ok\r\n\
             test send_zc ... ok\r\n\
             test old_thing ... ignored, needs root\r\n\
             \nsuccesses:\n\n---- send_zc stdout ----\nskipped: IORING_OP_SEND_ZC needs 6.0\n\n\
             successes:\n    nop_round_trip\n    send_zc\n\n\
             test result: ok. 2 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.01s\n\
             \n@@kc end liburing-sys/ffi exit=0 secs=0.05\n\
             \n@@kc begin uring/lib\n\nrunning 1 test\n\x1b[32mtest probe ... ok\x1b[0m\n\
             \ntest result: \x1b[32mok\x1b[0m. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\
             \n@@kc end uring/lib exit=0 secs=0.01\n\
             \n@@kc finish pass failed=0 binaries=2 secs=0.07\n"
        )
    }

    #[test]
    fn a_clean_pass() {
        let r = analyse(
            &clean_pass_log(),
            Outcome::Exited(Some(1)),
            &names(&["liburing-sys/ffi", "uring/lib"]),
        );
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.reason);
        assert_eq!(r.release.as_deref(), Some("6.1.0-56-cloud-amd64"));
        assert_eq!((r.passed, r.failed, r.ignored), (2, 0, 1));
        assert_eq!(
            r.skipped,
            vec![Skip {
                binary: "liburing-sys/ffi".into(),
                test: "send_zc".into(),
                reason: "IORING_OP_SEND_ZC needs 6.0".into()
            }]
        );
        assert!(r.failures.is_empty() && r.kernel_trouble.is_empty());
        assert_eq!(r.binaries[0].secs, Some(0.05));
    }

    #[test]
    fn exit_zero_is_never_a_pass() {
        let r = analyse(
            &clean_pass_log(),
            Outcome::Exited(Some(0)),
            &names(&["liburing-sys/ffi", "uring/lib"]),
        );
        assert_eq!(r.verdict, Verdict::NoReport);
    }

    #[test]
    fn a_pass_code_with_a_missing_binary_is_a_failure() {
        let r = analyse(
            &clean_pass_log(),
            Outcome::Exited(Some(1)),
            &names(&["liburing-sys/ffi", "uring/lib", "uring/extra"]),
        );
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.reason.contains("uring/extra"), "{}", r.reason);
    }

    #[test]
    fn a_failing_test() {
        let log = "@@kc start release=5.10.0-46-cloud-amd64 binaries=1\n@@kc begin uring/ops\n\
            running 2 tests\ntest read_works ... ok\ntest futex_wake ... FAILED\n\nfailures:\n\n\
            ---- futex_wake stdout ----\nskipped: not really\n\
            thread 'futex_wake' panicked at uring/tests/ops.rs:10:5:\nres = -22\n\n\
            failures:\n    futex_wake\n\n\
            test result: FAILED. 1 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n\
            error: test failed\n@@kc end uring/ops exit=101 secs=0.20\n@@kc finish fail failed=1 binaries=1 secs=0.3\n";
        let r = analyse(log, Outcome::Exited(Some(3)), &names(&["uring/ops"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!((r.passed, r.failed), (1, 1));
        assert_eq!(r.failures, vec!["uring/ops::futex_wake".to_string()]);
        assert_eq!(
            r.why.get("uring/ops::futex_wake").map(String::as_str),
            Some("uring/tests/ops.rs:10:5: res = -22")
        );
        assert!(
            r.skipped.is_empty(),
            "a failed test is not a skip: {:?}",
            r.skipped
        );
    }

    #[test]
    fn a_binary_that_crashes_without_a_summary() {
        let log = "@@kc start release=6.12.1 binaries=1\n@@kc begin uring/ops\nrunning 2 tests\n\
            test a ... ok\n@@kc end uring/ops signal=11 secs=0.1\n@@kc finish fail failed=1 binaries=1 secs=0.2\n";
        let r = analyse(log, Outcome::Exited(Some(3)), &names(&["uring/ops"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.failures, vec!["uring/ops (signal=11)".to_string()]);
    }

    #[test]
    fn a_kernel_panic() {
        let log = "@@kc start release=6.1.0-56-cloud-amd64 binaries=1\n@@kc begin uring/ops\nrunning 1 test\n\
            [    3.120000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
            [    3.121000] Oops: 0000 [#1] PREEMPT SMP NOPTI\n\
            [    3.122000] RIP: 0010:io_submit_sqes+0x1f/0x4a0\n\
            [    3.130000] Kernel panic - not syncing: Fatal exception\n\
            [    3.131000] Kernel Offset: disabled\n";
        let r = analyse(log, Outcome::Exited(Some(0)), &names(&["uring/ops"]));
        assert_eq!(r.verdict, Verdict::NoReport);
        assert!(r.reason.contains("kernel panic"), "{}", r.reason);
        assert_eq!(r.kernel_trouble.len(), 5);
        assert!(r.kernel_trouble[0].contains("NULL pointer"));
    }

    #[test]
    fn a_hang_past_the_limit() {
        let log = "@@kc start release=7.3.4+deb13-cloud-amd64 binaries=2\n@@kc begin uring/a\n\
            test result: ok. 1 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out\n@@kc end uring/a exit=0 secs=0.1\n\
            @@kc begin uring/b\nrunning 1 test\ntest waits_forever ... ";
        let r = analyse(log, Outcome::TimedOut, &names(&["uring/a", "uring/b"]));
        assert_eq!(r.verdict, Verdict::Timeout);
        assert!(r.reason.contains("uring/b"), "{}", r.reason);
        assert_eq!(r.passed, 1);
        // A hang before the init even started.
        let r = analyse(
            "SeaBIOS\nBooting from ROM..\n",
            Outcome::TimedOut,
            &names(&["uring/a"]),
        );
        assert_eq!(r.verdict, Verdict::Timeout);
        assert!(r.reason.contains("before the init"), "{}", r.reason);
    }

    #[test]
    fn a_per_binary_timeout_inside_the_guest() {
        let log = "@@kc start release=6.1 binaries=1\n@@kc begin uring/b\nrunning 1 test\ntest waits_forever ... \n\
            @@kc end uring/b timeout secs=120.00\n@@kc finish fail failed=1 binaries=1 secs=120.1\n";
        let r = analyse(log, Outcome::Exited(Some(3)), &names(&["uring/b"]));
        assert_eq!(r.verdict, Verdict::Fail);
        assert_eq!(r.failures, vec!["uring/b (timeout)".to_string()]);
        let log = log.replace(
            "test waits_forever ... \n",
            "test waits_forever has been running for over 60 seconds\n",
        );
        let r = analyse(&log, Outcome::Exited(Some(3)), &names(&["uring/b"]));
        assert_eq!(
            r.failures,
            vec!["uring/b (timeout; still running: waits_forever)".to_string()]
        );
    }

    #[test]
    fn garbage_on_the_console() {
        let garbage = "\u{0}\u{7f}\u{1b}[2J\u{1b}c\u{fffd}\u{fffd} test result: maybe. lots passed\n\
            @@kc\n@@kc begin\n@@kc end\n@@kc bogus words\n---- stdout ----\nskipped:\n\
            test  ... \ntest result: ok. x passed; y failed; z ignored\n";
        for outcome in [
            Outcome::Exited(Some(0)),
            Outcome::Exited(Some(1)),
            Outcome::Exited(Some(3)),
            Outcome::Exited(None),
            Outcome::Exited(Some(42)),
            Outcome::TimedOut,
            Outcome::NeverStarted(180),
        ] {
            let r = analyse(garbage, outcome, &names(&["uring/a"]));
            assert_ne!(r.verdict, Verdict::Pass, "{outcome:?}");
            assert!(!r.reason.is_empty());
        }
        // Garbage interleaved into an otherwise good log does not spoil it.
        let noisy = clean_pass_log().replace(
            "\n@@kc begin uring/lib",
            "\n\u{1b}[0m\u{0}junk\n@@kc begin uring/lib",
        );
        let r = analyse(
            &noisy,
            Outcome::Exited(Some(1)),
            &names(&["liburing-sys/ffi", "uring/lib"]),
        );
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.reason);
    }

    #[test]
    fn markers_survive_a_kernel_message_in_front() {
        let log = clean_pass_log().replace(
            "\n@@kc end uring/lib",
            "\n[    1.5] random: crng init done@@kc end uring/lib",
        );
        let r = analyse(
            &log,
            Outcome::Exited(Some(1)),
            &names(&["liburing-sys/ffi", "uring/lib"]),
        );
        assert_eq!(r.verdict, Verdict::Pass, "{}", r.reason);
    }

    #[test]
    fn summary_and_test_lines() {
        assert_eq!(
            parse_summary(
                "test result: FAILED. 3 passed; 1 failed; 2 ignored; 0 measured; 0 filtered out; finished in 1.00s"
            ),
            Some((3, 1, 2))
        );
        assert_eq!(parse_summary("test result: ok. 3 passed"), None);
        assert_eq!(
            parse_test_line("test a::b ... ok"),
            Some(("a::b", Some("ok")))
        );
        assert_eq!(parse_test_line("test a ... "), Some(("a", None)));
        assert_eq!(parse_test_line("test result: ok. 1 passed"), None);
        assert_eq!(clean("\u{1b}[32mok\u{1b}[0m\r"), "ok");
    }
}
