//! `uring-probe`: what this kernel's io_uring can do.
//!
//! Prints the kernel release, a table of every io_uring operation with whether this
//! kernel supports it, then submits one NOP through a real ring and prints its result.
//! Options add JSON output, the feature flags, the setup flags a ring accepts, and a
//! `--require` mode for scripts. Run `uring-probe --help` for the details, including
//! the exit codes and the JSON field names.

mod facts;
mod render;
mod suggest;

use clap::{ArgGroup, CommandFactory, FromArgMatches, Parser};
use liburing_sys as sys;
use render::Marks;
use std::io::{self, Write};
use std::process::ExitCode;
use uring::probe::{self, Probe};

/// Exit status: all good.
const EXIT_OK: u8 = 0;
/// Exit status: `--require` found unsupported opcodes, or the NOP failed.
const EXIT_MISSING: u8 = 1;
/// Exit status: bad command line, or an unknown opcode name.
const EXIT_USAGE: u8 = 2;
/// Exit status: io_uring is unavailable (disabled, not built in, or forbidden).
const EXIT_UNAVAILABLE: u8 = 3;

/// The epilogue of `-h`: examples and exit codes.
macro_rules! after_help {
    () => {
        "\
Examples:
  uring-probe                      table of every opcode, then one NOP
  uring-probe --ascii | grep ' no$'  the opcodes this kernel lacks
  uring-probe --require read,send_zc,IORING_OP_FUTEX_WAIT && echo ok
  uring-probe --json | jq '.opcodes[] | select(.supported | not) | .name'
  uring-probe --setup-flags        which IORING_SETUP_* flags a ring accepts

Exit status:
  0  success (with --require: every named opcode is supported)
  1  --require: some opcode is not supported (one line each on stdout);
     default mode: the NOP completed with an error
  2  usage error, or --require named an unknown opcode (close matches are listed)
  3  io_uring is unavailable: /proc/sys/kernel/io_uring_disabled, no io_uring in the
     kernel, or a seccomp/security policy (one line on stderr)

Output has no colour and is the same whether stdout is a terminal or a pipe."
    };
}

/// The JSON field list, added to the epilogue of `--help`.
macro_rules! json_help {
    () => {
        "\n\nJSON (--json) fields, stable:
  kernel.release             uname -r
  kernel.io_uring_disabled   0, 1, 2 from /proc/sys/kernel/io_uring_disabled, or null
  liburing.linked            version of the liburing linked in (\"2.15\")
  liburing.built_against     version of the liburing headers built against
  last_op                    highest opcode number the kernel knows
  opcodes[]                  {name, code, supported, since}: one per opcode, 0 through
                             max(last_op, 64); unnamed ones are IORING_OP_UNKNOWN_<n> with
                             since null; since is the first Linux release (\"5.6\")
  features                   {bits, present[] (IORING_FEAT_* names), unknown_bits}
  setup_flags[]              {name, bit, accepted, with[] (companion flags the trial
                             ring also had), error (errno name or null), since}
  register_opcodes           {method (\"query\", \"opcode-check\" or \"none\"),
                             ops[] {name, code, answers (true, false or null = unknown)}}
  query                      IORING_REGISTER_QUERY's answer (Linux 6.18+) or null:
                             {nr_request_opcodes, nr_register_opcodes, feature_flags,
                             setup_flags, enter_flags, sqe_flags}
  nop_result                 the res of the NOP's completion (0 on success)"
    };
}

/// What this kernel's io_uring can do: every opcode with ✅ or ❌, then one NOP.
#[derive(Parser, Debug)]
#[command(name = "uring-probe", after_help = after_help!(), after_long_help = concat!(after_help!(), json_help!()))]
#[command(group(ArgGroup::new("mode").args(["json", "features", "setup_flags", "require"])))]
struct Cli {
    /// Print everything as one JSON object (fields: see --help).
    #[arg(long)]
    json: bool,

    /// Print the IORING_FEAT_* flags the kernel reports.
    #[arg(long)]
    features: bool,

    /// Try each IORING_SETUP_* flag on a throw-away ring; print which are accepted.
    #[arg(long)]
    setup_flags: bool,

    /// Check that these opcodes are supported; the exit status says (see below).
    ///
    /// Names are case-insensitive, with or without the IORING_OP_ prefix (or opcode
    /// numbers), comma-separated; the option may repeat. Prints one line per missing
    /// opcode on stdout and nothing when all are there.
    #[arg(long, value_name = "OP[,OP...]", value_delimiter = ',', num_args = 1)]
    require: Vec<String>,

    /// Print yes/no instead of ✅/❌.
    #[arg(long)]
    ascii: bool,
}

fn version_string() -> String {
    // SAFETY: io_uring_major_version/minor_version only return constants.
    let linked = unsafe { (sys::io_uring_major_version(), sys::io_uring_minor_version()) };
    let built = (sys::LIBURING_VERSION_MAJOR, sys::LIBURING_VERSION_MINOR);
    if (linked.0 as u32, linked.1 as u32) == built {
        format!(
            "{} (liburing {}.{})",
            env!("CARGO_PKG_VERSION"),
            built.0,
            built.1
        )
    } else {
        format!(
            "{} (built against liburing {}.{}, running with {}.{})",
            env!("CARGO_PKG_VERSION"),
            built.0,
            built.1,
            linked.0,
            linked.1
        )
    }
}

fn main() -> ExitCode {
    let matches = Cli::command().version(version_string()).get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    ExitCode::from(run(&cli))
}

/// Writes to stdout; a closed pipe ends the program quietly with `code`.
fn emit(text: &str, code: u8) -> u8 {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            complain(&format!("cannot write output: {e}"));
            EXIT_MISSING.max(code)
        }
    }
}

/// One line on stderr, prefixed with the program name. Failure to write it is ignored:
/// there is nowhere left to report it.
fn complain(line: &str) {
    let _ = writeln!(io::stderr().lock(), "uring-probe: {line}");
}

fn unavailable(err: &io::Error) -> u8 {
    complain(&facts::unavailable_message(err));
    EXIT_UNAVAILABLE
}

fn run(cli: &Cli) -> u8 {
    let marks = Marks::new(cli.ascii);
    if !cli.require.is_empty() {
        return require(&cli.require);
    }
    let release = facts::kernel_release();
    let probe = match probe::probe() {
        Ok(p) => p,
        Err(e) => return unavailable(&e),
    };
    if cli.features {
        return emit(&render::features_text(&release, &probe, marks), EXIT_OK);
    }
    if cli.setup_flags {
        let results = setup_trials();
        return emit(&render::setup_text(&release, &results, marks), EXIT_OK);
    }
    let nop_res = match facts::nop() {
        Ok(res) => res,
        Err(e) => return unavailable(&e),
    };
    let code = if nop_res == 0 { EXIT_OK } else { EXIT_MISSING };
    if cli.json {
        return json(&release, &probe, nop_res, code);
    }
    emit(
        &render::opcodes_text(&release, &probe, nop_res, marks),
        code,
    )
}

fn setup_trials() -> Vec<(&'static facts::SetupFlag, io::Result<()>)> {
    facts::SETUP_FLAGS
        .iter()
        .map(|flag| (flag, facts::try_setup_flag(flag)))
        .collect()
}

fn json(release: &str, probe: &Probe, nop_res: i32, code: u8) -> u8 {
    let setup = setup_trials();
    let query = facts::query();
    let (method, answers) = facts::register_ops(query.as_ref());
    let report = render::JsonReport {
        release,
        probe,
        setup: &setup,
        query: query.as_ref(),
        register: (method, &answers),
        nop_res,
    };
    emit(&render::json(&report), code)
}

/// `--require`: names first (no kernel needed to reject a typo), then the probe.
fn require(names: &[String]) -> u8 {
    let mut codes = Vec::new();
    let mut unknown = false;
    for name in names {
        match resolve(name) {
            Some(code) => codes.push(code),
            None => {
                unknown = true;
                let close: Vec<&str> = suggest::closest(name, 3)
                    .iter()
                    .map(|op| op.short_name)
                    .collect();
                complain(&format!(
                    "unknown opcode `{}`; closest known names: {} (`uring-probe` lists them all)",
                    name.escape_debug(),
                    close.join(", ")
                ));
            }
        }
    }
    if unknown {
        return EXIT_USAGE;
    }
    let probe = match probe::probe() {
        Ok(p) => p,
        Err(e) => return unavailable(&e),
    };
    let mut report = String::new();
    for code in codes {
        if !probe.is_supported(code) {
            report.push_str(&match probe::opcode(code) {
                Some(op) => format!(
                    "{} is not supported by this kernel (needs Linux {}.{})\n",
                    op.name, op.since.0, op.since.1
                ),
                None => format!("IORING_OP_UNKNOWN_{code} is not supported by this kernel\n"),
            });
        }
    }
    let code = if report.is_empty() {
        EXIT_OK
    } else {
        EXIT_MISSING
    };
    emit(&report, code)
}

/// An opcode by name (see [`probe::opcode_by_name`]) or by decimal number.
fn resolve(name: &str) -> Option<u8> {
    probe::opcode_by_name(name).map(|op| op.code).or_else(|| {
        name.parse()
            .ok()
            .filter(|_| name.bytes().all(|b| b.is_ascii_digit()))
    })
}
