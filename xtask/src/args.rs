//! The one command-line parser of every xtask command.
//!
//! A command declares its arguments once, as a [`Spec`]: its synopsis, a summary, and
//! each [`Opt`] (a flag, an option taking a value, or one that may be given again and
//! collects every value). [`parse`] reads the command line against that spec and hands
//! the [`Matches`] to the command's [`Args::from_matches`], which builds its typed
//! options struct; `--help` (and the top-level command list) is rendered from the same
//! spec, so the help cannot name an option the parser does not know or miss one it does.
//!
//! The grammar, the same for every command:
//! - `--name VALUE` and `--name=VALUE` for an option with a value (a value is taken
//!   as it is, even when it starts with `-`); `-x VALUE` for its short alias;
//! - `--name` for a flag (`--name=VALUE` is refused: a flag takes no value);
//! - an option that is not repeatable keeps its last value; a repeatable one keeps all;
//! - `-h` or `--help` anywhere an option may stand prints the command's help;
//! - anything else (an unknown option, a missing value, a stray word) is an error
//!   naming that argument, followed by the command's usage.

use crate::util::Result;
use std::cell::RefCell;
use std::fmt::Write as _;
use std::str::FromStr;

/// One command's arguments, declared once for the parser and the help.
pub struct Spec {
    /// The command's name (`kernel-check`).
    pub name: &'static str,
    /// What follows `cargo xtask NAME` in the usage, one line per form of the command.
    pub synopsis: &'static [&'static str],
    /// What the command does, wrapped to fit the top-level help (lines ≤ 64 columns).
    pub summary: &'static str,
    /// Its options, in the order the help lists them.
    pub options: &'static [Opt],
    /// Printed after the options in `--help` (requirements, where output goes); may be
    /// empty.
    pub notes: &'static str,
}

/// One option of a [`Spec`].
pub struct Opt {
    /// The long name, with its dashes (`--kernel`).
    pub name: &'static str,
    /// A short alias (`-j`), if any.
    pub short: Option<&'static str>,
    /// The value's placeholder in the help (`N`); `None` for a flag.
    pub value: Option<&'static str>,
    /// Whether it may be given more than once, each value kept.
    pub repeat: bool,
    /// Its help, wrapped (lines ≤ 60 columns).
    pub help: &'static str,
}

impl Opt {
    /// A flag: present or not.
    pub const fn flag(name: &'static str, help: &'static str) -> Opt {
        Opt {
            name,
            short: None,
            value: None,
            repeat: false,
            help,
        }
    }

    /// An option taking one value (the last one counts when given twice).
    pub const fn value(name: &'static str, value: &'static str, help: &'static str) -> Opt {
        Opt {
            name,
            short: None,
            value: Some(value),
            repeat: false,
            help,
        }
    }

    /// An option taking a value that may be given again, every value kept in order.
    pub const fn repeated(name: &'static str, value: &'static str, help: &'static str) -> Opt {
        Opt {
            repeat: true,
            ..Opt::value(name, value, help)
        }
    }

    /// The same option with a short alias.
    pub const fn short(self, short: &'static str) -> Opt {
        Opt {
            short: Some(short),
            ..self
        }
    }
}

/// A command's typed options, built from what [`parse`] matched.
pub trait Args: Sized {
    /// The spec the command line is read against.
    const SPEC: &'static Spec;

    /// Builds the options from the matched arguments; an error names the option and
    /// what was wrong with its value.
    fn from_matches(m: &Matches) -> Result<Self>;
}

/// What the command line asked for.
#[derive(Debug, PartialEq)]
pub enum Parsed<A> {
    Run(A),
    /// `-h` or `--help`: print [`help`] and do nothing else.
    Help,
}

/// The arguments given for one [`Spec`], in command-line order: each option's long
/// name and its value (`None` for a flag).
pub struct Matches {
    spec: &'static Spec,
    given: Vec<(&'static str, Option<String>)>,
    /// The options a [`Args::from_matches`] asked about (to test that it asks about
    /// every one its spec declares).
    asked: RefCell<Vec<&'static str>>,
}

impl Matches {
    fn opt(&self, name: &str, value: bool, repeat: bool) -> &'static Opt {
        let opt = self.spec.options.iter().find(|o| o.name == name);
        let opt = opt.unwrap_or_else(|| panic!("{}: no option {name}", self.spec.name));
        assert!(
            opt.value.is_some() == value && (!repeat || opt.repeat),
            "{}: {name} is read as the wrong kind of option",
            self.spec.name
        );
        self.asked.borrow_mut().push(opt.name);
        opt
    }

    fn all(&self, opt: &Opt) -> impl Iterator<Item = &Option<String>> {
        self.given
            .iter()
            .filter(move |(n, _)| *n == opt.name)
            .map(|(_, v)| v)
    }

    /// Whether flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        let opt = self.opt(name, false, false);
        self.all(opt).next().is_some()
    }

    /// The value of option `name` (its last, if given more than once).
    pub fn value(&self, name: &str) -> Option<String> {
        let opt = self.opt(name, true, false);
        self.all(opt).last().cloned().flatten()
    }

    /// Every value of repeatable option `name`, in order.
    pub fn values(&self, name: &str) -> Vec<String> {
        let opt = self.opt(name, true, true);
        self.all(opt).flatten().cloned().collect()
    }

    /// The value of option `name` as a whole number ≥ 1.
    pub fn positive<T: FromStr + PartialOrd + From<u8>>(&self, name: &str) -> Result<Option<T>> {
        let Some(v) = self.value(name) else {
            return Ok(None);
        };
        match v.parse::<T>() {
            Ok(n) if n >= T::from(1) => Ok(Some(n)),
            _ => Err(format!("{name} {v}: expected a positive whole number")),
        }
    }
}

/// Reads `argv` (the arguments after the command's name) against `A`'s spec.
///
/// An error names the argument that was wrong and ends with the command's usage.
pub fn parse<A: Args>(argv: &[String]) -> Result<Parsed<A>> {
    let spec = A::SPEC;
    let with_usage = |e: String| format!("{e}\n\n{}", usage(spec));
    let Some(matches) = matches(spec, argv).map_err(with_usage)? else {
        return Ok(Parsed::Help);
    };
    A::from_matches(&matches)
        .map(Parsed::Run)
        .map_err(with_usage)
}

/// Parses `argv` for `A` and runs `run` with the result, or prints the help.
pub fn run<A: Args>(argv: &[String], run: fn(A) -> Result) -> Result {
    match parse::<A>(argv)? {
        Parsed::Run(a) => run(a),
        Parsed::Help => {
            print!("{}", help(A::SPEC));
            Ok(())
        }
    }
}

/// The matching step of [`parse`]; `None` when the help was asked for.
fn matches(spec: &'static Spec, argv: &[String]) -> Result<Option<Matches>> {
    let mut given = Vec::new();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        let (name, inline) = match arg.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (arg.as_str(), None),
        };
        let opt = spec
            .options
            .iter()
            .find(|o| o.name == name || o.short == Some(name));
        let Some(opt) = opt else {
            return Err(if arg.starts_with('-') {
                format!("unknown option `{name}`")
            } else {
                format!("unexpected argument `{arg}`")
            });
        };
        let value = match (opt.value, inline) {
            (None, None) => None,
            (None, Some(v)) => {
                return Err(format!("{name} takes no value (got `{name}={v}`)"));
            }
            (Some(_), Some(v)) => Some(v.to_string()),
            (Some(meta), None) => match it.next() {
                Some(v) => Some(v.clone()),
                None => return Err(format!("{name} needs a value ({name} {meta})")),
            },
        };
        given.push((opt.name, value));
    }
    Ok(Some(Matches {
        spec,
        given,
        asked: RefCell::new(Vec::new()),
    }))
}

/// `usage: cargo xtask NAME …` (each form), and where the full help is.
pub fn usage(spec: &Spec) -> String {
    let mut s = forms(spec, "usage: cargo xtask ", "       cargo xtask ");
    let _ = writeln!(
        s,
        "`cargo xtask {} --help` describes every option",
        spec.name
    );
    s
}

/// Each form of the command after `lead` (`then` for the second on), wrapped to
/// [`WIDTH`] columns at the gaps between `[…]` groups, continuation lines indented
/// past the command's name.
fn forms(spec: &Spec, lead: &str, then: &str) -> String {
    let mut s = String::new();
    for (i, form) in spec.synopsis.iter().enumerate() {
        let head = format!("{}{}", if i == 0 { lead } else { then }, spec.name);
        let indent = head.chars().count() + 1;
        let mut line = head;
        for group in groups(form) {
            if line.chars().count() + 1 + group.chars().count() > WIDTH && !line.trim().is_empty() {
                let _ = writeln!(s, "{line}");
                line = " ".repeat(indent - 1);
            }
            line.push(' ');
            line.push_str(group);
        }
        let _ = writeln!(s, "{line}");
    }
    s
}

/// Lines of help are wrapped to this many columns.
const WIDTH: usize = 88;

/// `form` split at the spaces outside brackets: `[--arch A]` stays whole.
fn groups(form: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in form.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth -= 1,
            ' ' if depth == 0 => {
                if i > start {
                    out.push(&form[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if start < form.len() {
        out.push(&form[start..]);
    }
    out
}

/// The command's `--help`: its usage, summary, options and notes.
pub fn help(spec: &Spec) -> String {
    let mut s = forms(spec, "usage: cargo xtask ", "       cargo xtask ");
    s.push('\n');
    for line in spec.summary.lines() {
        let _ = writeln!(s, "{line}");
    }
    if !spec.options.is_empty() {
        s.push_str("\noptions:\n");
    }
    for opt in spec.options {
        let mut left = match opt.short {
            Some(short) => format!("{short}, {}", opt.name),
            None => opt.name.to_string(),
        };
        if let Some(v) = opt.value {
            left.push(' ');
            left.push_str(v);
        }
        if opt.repeat {
            left.push('…');
        }
        s.push_str(&two_columns(&left, opt.help, 22));
    }
    if !spec.notes.is_empty() {
        s.push('\n');
        for line in spec.notes.lines() {
            let _ = writeln!(s, "{line}");
        }
    }
    s
}

/// The top-level help: every command's forms and summary.
pub fn overview(specs: &[&Spec]) -> String {
    let mut s = String::from("usage: cargo xtask <command> [options]\n\ncommands:\n");
    for spec in specs {
        s.push_str(&forms(spec, "  ", "  "));
        s.push_str(&two_columns("", spec.summary, 25));
    }
    s.push_str("\n`cargo xtask <command> --help` describes each command's options\n");
    s
}

/// `left` in a column of `width` (on a line of its own when longer), then `text`'s lines
/// indented to `width`.
fn two_columns(left: &str, text: &str, width: usize) -> String {
    let mut s = String::new();
    let mut lines = text.lines();
    if left.is_empty() {
    } else if left.chars().count() + 4 <= width {
        let pad = width - 2 - left.chars().count();
        let _ = writeln!(s, "  {left}{:pad$}{}", "", lines.next().unwrap_or(""));
    } else {
        let _ = writeln!(s, "  {left}");
    }
    for line in lines {
        let _ = writeln!(s, "{:width$}{line}", "");
    }
    s
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    /// Parses `line` for `A`, expecting options (not `--help`).
    pub fn parse_ok<A: Args>(line: &str) -> A {
        match parse::<A>(&argv(line)) {
            Ok(Parsed::Run(a)) => a,
            Ok(Parsed::Help) => panic!("{line}: took it for --help"),
            Err(e) => panic!("{line}: {e}"),
        }
    }

    /// The error `line` gets, for `A`.
    pub fn parse_err<A: Args>(line: &str) -> String {
        match parse::<A>(&argv(line)) {
            Err(e) => e,
            Ok(_) => panic!("{line}: accepted"),
        }
    }

    /// Checks that `A::from_matches` asks about every option its spec declares when
    /// given `line` (which should use them all), so no declared option is ignored.
    pub fn reads_every_option<A: Args>(line: &str) {
        let m = matches(A::SPEC, &argv(line)).unwrap().unwrap();
        A::from_matches(&m).unwrap();
        let asked = m.asked.borrow();
        for opt in A::SPEC.options {
            assert!(
                asked.contains(&opt.name),
                "{}: {} is declared but never read",
                A::SPEC.name,
                opt.name
            );
        }
        let given: Vec<&str> = m.given.iter().map(|(n, _)| *n).collect();
        for opt in A::SPEC.options {
            assert!(
                given.contains(&opt.name),
                "{line}: does not use {}",
                opt.name
            );
        }
    }

    /// A command with every kind of option.
    #[derive(Debug, PartialEq)]
    struct Demo {
        check: bool,
        arch: Option<String>,
        kernels: Vec<String>,
        jobs: Option<u32>,
    }

    const DEMO: Spec = Spec {
        name: "demo",
        synopsis: &["[--check] [--arch A] [--kernel K]… [--jobs N]"],
        summary: "a command for the parser's tests",
        options: &[
            Opt::flag("--check", "check only"),
            Opt::value("--arch", "A", "the architecture"),
            Opt::repeated("--kernel", "K", "a kernel\n(repeatable)"),
            Opt::value("--jobs", "N", "at once").short("-j"),
        ],
        notes: "Notes go last.",
    };

    impl Args for Demo {
        const SPEC: &'static Spec = &DEMO;
        fn from_matches(m: &Matches) -> Result<Demo> {
            Ok(Demo {
                check: m.flag("--check"),
                arch: m.value("--arch"),
                kernels: m.values("--kernel"),
                jobs: m.positive("--jobs")?,
            })
        }
    }

    #[test]
    fn every_kind_of_option() {
        assert_eq!(
            parse_ok::<Demo>(""),
            Demo {
                check: false,
                arch: None,
                kernels: vec![],
                jobs: None
            }
        );
        assert_eq!(
            parse_ok::<Demo>("--kernel 6.1 --check --arch=arm64 --kernel=7.3 -j 3 --kernel -x"),
            Demo {
                check: true,
                arch: Some("arm64".into()),
                kernels: vec!["6.1".into(), "7.3".into(), "-x".into()],
                jobs: Some(3)
            }
        );
        reads_every_option::<Demo>("--check --arch a --kernel k --jobs 1");
    }

    #[test]
    fn a_value_given_twice_keeps_the_last() {
        let d = parse_ok::<Demo>("--arch a --jobs 2 --arch b -j 4");
        assert_eq!((d.arch.as_deref(), d.jobs), (Some("b"), Some(4)));
        // `=` splits once: the value may hold more.
        assert_eq!(
            parse_ok::<Demo>("--arch=git=x=y").arch.as_deref(),
            Some("git=x=y")
        );
        assert_eq!(parse_ok::<Demo>("--arch=").arch.as_deref(), Some(""));
    }

    #[test]
    fn errors_name_the_argument_and_show_the_usage() {
        let e = parse_err::<Demo>("--check --bogus");
        assert!(e.starts_with("unknown option `--bogus`\n\n"), "{e}");
        assert!(
            e.contains("usage: cargo xtask demo [--check] [--arch A]"),
            "{e}"
        );
        assert!(e.contains("`cargo xtask demo --help`"), "{e}");
        assert!(parse_err::<Demo>("--bogus=1").starts_with("unknown option `--bogus`"));
        assert!(parse_err::<Demo>("-x").starts_with("unknown option `-x`"));
        assert!(parse_err::<Demo>("-j=3").starts_with("unknown option `-j=3`"));
        let e = parse_err::<Demo>("--check --kernel");
        assert!(e.starts_with("--kernel needs a value (--kernel K)"), "{e}");
        let e = parse_err::<Demo>("--check=yes");
        assert!(
            e.starts_with("--check takes no value (got `--check=yes`)"),
            "{e}"
        );
        let e = parse_err::<Demo>("stray");
        assert!(e.starts_with("unexpected argument `stray`"), "{e}");
        let e = parse_err::<Demo>("--jobs 0");
        assert!(
            e.starts_with("--jobs 0: expected a positive whole number\n\nusage:"),
            "{e}"
        );
        assert!(parse_err::<Demo>("-j x").contains("-jobs x: expected a positive"));
    }

    #[test]
    fn help_anywhere() {
        for line in ["--help", "-h", "--check -h", "--kernel 6.1 --help --bogus"] {
            assert_eq!(parse::<Demo>(&argv(line)).unwrap(), Parsed::Help, "{line}");
        }
        // As an option's value it is a value.
        assert_eq!(
            parse_ok::<Demo>("--arch --help").arch.as_deref(),
            Some("--help")
        );
    }

    #[test]
    fn help_is_rendered_from_the_spec() {
        let h = help(&DEMO);
        assert_eq!(
            h,
            "usage: cargo xtask demo [--check] [--arch A] [--kernel K]… [--jobs N]\n\
             \n\
             a command for the parser's tests\n\
             \n\
             options:\n\
             \x20 --check             check only\n\
             \x20 --arch A            the architecture\n\
             \x20 --kernel K…         a kernel\n\
             \x20                     (repeatable)\n\
             \x20 -j, --jobs N        at once\n\
             \n\
             Notes go last.\n"
        );
        let o = overview(&[&DEMO]);
        assert!(
            o.contains("  demo [--check] [--arch A] [--kernel K]… [--jobs N]\n                         a command for the parser's tests\n"),
            "{o}"
        );
    }

    #[test]
    #[should_panic = "no option --nope"]
    fn reading_an_undeclared_option_is_a_bug() {
        let m = matches(&DEMO, &[]).unwrap().unwrap();
        m.flag("--nope");
    }

    #[test]
    #[should_panic = "wrong kind of option"]
    fn reading_a_flag_as_a_value_is_a_bug() {
        let m = matches(&DEMO, &[]).unwrap().unwrap();
        m.value("--check");
    }
}
