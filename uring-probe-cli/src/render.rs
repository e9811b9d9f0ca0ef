//! Turning facts into text: the tables and the JSON object.

use crate::facts::{self, RegisterMethod, SetupFlag};
use liburing_sys as sys;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::io;
use uring::probe::{FEATURES, OPCODES, Probe, opcode};

/// The two cells of a yes/no column.
#[derive(Clone, Copy)]
pub struct Marks {
    yes: &'static str,
    no: &'static str,
}

impl Marks {
    /// ✅/❌, or `yes`/`no` with `ascii`.
    pub fn new(ascii: bool) -> Marks {
        if ascii {
            Marks {
                yes: "yes",
                no: "no",
            }
        } else {
            Marks {
                yes: "✅",
                no: "❌",
            }
        }
    }

    fn get(self, b: bool) -> &'static str {
        if b { self.yes } else { self.no }
    }
}

/// `"5.1"`.
fn version((major, minor): (u8, u8)) -> String {
    format!("{major}.{minor}")
}

/// One row of the opcode table.
pub struct Row {
    /// The opcode number.
    pub code: u8,
    /// Its C name, or `IORING_OP_UNKNOWN_<n>` for a number this crate cannot name.
    pub name: String,
    /// Whether the kernel supports it.
    pub supported: bool,
    /// The first Linux release with it, if known.
    pub since: Option<(u8, u8)>,
}

/// Every opcode row: 0 through the kernel's `last_op` or the crate's last known opcode,
/// whichever is larger.
pub fn opcode_rows(probe: &Probe) -> Vec<Row> {
    let last_known = (OPCODES.len() - 1) as u8;
    (0..=probe.last_op().max(last_known))
        .map(|code| {
            let op = opcode(code);
            Row {
                code,
                name: op.map_or_else(
                    || format!("IORING_OP_UNKNOWN_{code}"),
                    |op| op.name.to_string(),
                ),
                supported: probe.is_supported(code),
                since: op.map(|op| op.since),
            }
        })
        .collect()
}

/// A table with a header, a rule and `name  mark  note` rows.
fn table(
    out: &mut String,
    release: &str,
    (left, right, width): (&str, &str, usize),
    rows: impl IntoIterator<Item = (String, &'static str, String)>,
) {
    let _ = writeln!(out, "io_uring on Kernel {release}");
    let _ = writeln!(out, "{left:width$}{right}");
    let _ = writeln!(out, "{}", "=".repeat(width + right.len()));
    for (name, mark, note) in rows {
        if note.is_empty() {
            let _ = writeln!(out, "{name:width$}{mark}");
        } else {
            let _ = writeln!(out, "{name:width$}{mark}  ({note})");
        }
    }
}

/// The default output: the opcode table, then the NOP line.
pub fn opcodes_text(release: &str, probe: &Probe, nop_res: i32, marks: Marks) -> String {
    let mut out = String::new();
    let rows = opcode_rows(probe)
        .into_iter()
        .map(|row| (row.name, marks.get(row.supported), String::new()));
    table(&mut out, release, ("OPCODE", "SUPPORTED", 30), rows);
    let _ = writeln!(out, "Nop completed with {nop_res}");
    out
}

/// `--features`: every IORING_FEAT_* flag, present or not.
pub fn features_text(release: &str, probe: &Probe, marks: Marks) -> String {
    let mut out = String::new();
    let rows = FEATURES.iter().map(|f| {
        let present = probe.features().bits() & f.bit != 0;
        let note = if present {
            String::new()
        } else {
            format!("since Linux {}", version(f.since))
        };
        (f.name.to_string(), marks.get(present), note)
    });
    table(&mut out, release, ("FEATURE", "PRESENT", 34), rows);
    let unknown = unknown_feature_bits(probe);
    if unknown != 0 {
        let _ = writeln!(out, "unnamed feature bits also present: {unknown:#x}");
    }
    out
}

fn unknown_feature_bits(probe: &Probe) -> u32 {
    FEATURES
        .iter()
        .fold(probe.features().bits(), |bits, f| bits & !f.bit)
}

/// `--setup-flags`: which IORING_SETUP_* flags a ring can be set up with.
pub fn setup_text(release: &str, results: &[(&SetupFlag, io::Result<()>)], marks: Marks) -> String {
    let mut out = String::new();
    let rows = results.iter().map(|(flag, result)| {
        let mut notes = Vec::new();
        if flag.with != 0 {
            notes.push(format!(
                "with {}",
                facts::setup_flag_names(flag.with).join(" | ")
            ));
        }
        if let Err(e) = result {
            notes.push(error_name(e));
            notes.push(format!("since Linux {}", version(flag.since)));
        }
        (
            flag.name.to_string(),
            marks.get(result.is_ok()),
            notes.join("; "),
        )
    });
    table(&mut out, release, ("SETUP FLAG", "ACCEPTED", 34), rows);
    out
}

fn error_name(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => facts::errno_name(errno),
        None => e.to_string(),
    }
}

/// Everything `--json` prints.
pub struct JsonReport<'a> {
    /// `uname -r`.
    pub release: &'a str,
    /// The probe.
    pub probe: &'a Probe,
    /// Each setup flag's trial.
    pub setup: &'a [(&'static SetupFlag, io::Result<()>)],
    /// `IORING_REGISTER_QUERY`'s answer, if the kernel has it.
    pub query: Option<&'a sys::io_uring_query_opcode>,
    /// How the register opcodes were found, and per opcode whether it answers.
    pub register: (RegisterMethod, &'a [Option<bool>]),
    /// The NOP's CQE result.
    pub nop_res: i32,
}

/// The `--json` object (field names documented in `--help`).
pub fn json(r: &JsonReport<'_>) -> String {
    // SAFETY: io_uring_major_version/minor_version only return constants.
    let linked = unsafe { (sys::io_uring_major_version(), sys::io_uring_minor_version()) };
    let opcodes: Vec<Value> = opcode_rows(r.probe)
        .into_iter()
        .map(|row| {
            json!({
                "name": row.name,
                "code": row.code,
                "supported": row.supported,
                "since": row.since.map(version),
            })
        })
        .collect();
    let present: Vec<&str> = FEATURES
        .iter()
        .filter(|f| r.probe.features().bits() & f.bit != 0)
        .map(|f| f.name)
        .collect();
    let setup: Vec<Value> = r
        .setup
        .iter()
        .map(|(flag, result)| {
            json!({
                "name": flag.name,
                "bit": flag.bit,
                "accepted": result.is_ok(),
                "with": facts::setup_flag_names(flag.with),
                "error": result.as_ref().err().map(error_name),
                "since": version(flag.since),
            })
        })
        .collect();
    let (method, answers) = r.register;
    let register: Vec<Value> = facts::REGISTER_OPS
        .iter()
        .zip(answers)
        .map(|(op, answers)| json!({ "name": op.name, "code": op.code, "answers": answers }))
        .collect();
    let query = r.query.map(|q| {
        json!({
            "nr_request_opcodes": q.nr_request_opcodes,
            "nr_register_opcodes": q.nr_register_opcodes,
            "feature_flags": q.feature_flags,
            "setup_flags": q.ring_setup_flags,
            "enter_flags": q.enter_flags,
            "sqe_flags": q.sqe_flags,
        })
    });
    let value = json!({
        "kernel": {
            "release": r.release,
            "io_uring_disabled": facts::io_uring_disabled(),
        },
        "liburing": {
            "linked": format!("{}.{}", linked.0, linked.1),
            "built_against": format!("{}.{}", sys::LIBURING_VERSION_MAJOR, sys::LIBURING_VERSION_MINOR),
        },
        "last_op": r.probe.last_op(),
        "opcodes": opcodes,
        "features": {
            "bits": r.probe.features().bits(),
            "present": present,
            "unknown_bits": unknown_feature_bits(r.probe),
        },
        "setup_flags": setup,
        "register_opcodes": { "method": method.as_str(), "ops": register },
        "query": query,
        "nop_result": r.nop_res,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}
