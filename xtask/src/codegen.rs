//! `cargo xtask regen-bindings [--check]`: liburing-sys's checked-in bindings, per
//! architecture (chosen by `cfg(target_arch)`): `liburing-sys/src/bindings/<arch>.rs`,
//! which `include!`s its parts: those in `bindings/common/`, holding the items that
//! bindgen's output for every architecture has word for word (in x86_64's order), and its
//! own in `bindings/<arch>/`, holding the rest (in bindgen's order). Types (the types,
//! constants and layout assertions, `types*.rs`) come before functions (the extern blocks,
//! `functions*.rs`). [`shared`] decides what is common, says why each architecture still
//! compiles exactly bindgen's output for it, and checks that it does; as that is decided
//! from every architecture's output at once, every run generates all of them. Parts are
//! cut between top-level items only (a type keeps its nested types, `impl`s and layout
//! assertions; see [`split`]) and have at most [`PART_LINES`] lines, so no checked-in file
//! outgrows the project's limit of 1,500.
//!
//! bindgen reads liburing 2.15's `liburing.h` (and the uapi headers it ships) with
//! `IOURINGINLINE` defined empty, exactly as liburing's own `ffi.c` compiles it, so every
//! inline helper is declared as the real function `liburing-ffi` exports. The result is
//! checked against liburing's two linker maps, and each function newer than 2.4 gets a
//! `#[cfg(liburing_2_N)]` naming the release that first exported it, so a user linking
//! an older system liburing gets "not found" at compile time instead of a link error.
//!
//! Each architecture is generated with clang targeting it and that target's glibc and
//! kernel headers: the host's own for the host's architecture, otherwise Debian's cross
//! headers in `/usr/<triple>/include` (`libc6-dev-arm64-cross`, …) and nothing of the
//! host's. Struct layouts, `c_long`-sized fields and the uapi types come out per target,
//! and bindgen's compile-time layout assertions are checked by building for it.

use crate::args;
use crate::util::{self, Result, project_root};
use crate::vendor;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// How the bundled liburing is compiled: liburing-sys's own file, shared with its
/// build script so the two cannot drift apart.
#[path = "../../liburing-sys/build/recipe.rs"]
#[allow(dead_code)] // FFI_SOURCE: the library the xtask builds is plain liburing
pub mod recipe;

mod shared;
mod split;
use split::{even_runs, extern_block, fit_item, follows_its_type, items};

/// The checked-in bindings, from the workspace root.
const DIR: &str = "liburing-sys/src/bindings";

/// The most lines a generated file may have: the project allows 1,500 a file, and the
/// rest leaves bindgen's output room to grow before a part must be added.
pub const PART_LINES: usize = 1200;

/// The directory beside the architectures' files that holds the parts they all include.
const COMMON: &str = "common";

/// The file liburing-sys includes for one architecture: it includes the common parts and
/// that one's own.
fn output(arch: &Arch) -> String {
    format!("{DIR}/{}.rs", arch.name)
}

/// Where a part lives: `dir` is [`COMMON`] or an architecture's name, `part` the file's
/// name without `.rs`.
fn part_path(dir: &str, part: &str) -> String {
    format!("{DIR}/{dir}/{part}.rs")
}

/// Every file of the checked-in bindings as it is on disk, relative to liburing-sys
/// (`src/bindings/…`): what its package must carry.
pub fn checked_in() -> Result<Vec<String>> {
    let crate_dir = project_root().join("liburing-sys");
    let files = util::files_under(&project_root().join(DIR))?;
    Ok(files
        .iter()
        .filter_map(|f| f.strip_prefix(&crate_dir).ok())
        .map(|f| f.to_string_lossy().into_owned())
        .collect())
}

/// One architecture liburing-sys carries bindings for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arch {
    /// Rust's `target_arch` and the file's name.
    pub name: &'static str,
    /// The Rust target triple.
    pub target: &'static str,
    /// clang's name for it.
    pub clang_target: &'static str,
    /// Debian's GNU triple: cross headers live in `/usr/<triple>/include`.
    pub gnu_triple: &'static str,
    /// The Debian package that puts them there.
    pub headers_package: &'static str,
}

/// Every architecture with checked-in bindings.
pub const ARCHES: &[Arch] = &[
    Arch {
        name: "x86_64",
        target: "x86_64-unknown-linux-gnu",
        clang_target: "x86_64-unknown-linux-gnu",
        gnu_triple: "x86_64-linux-gnu",
        headers_package: "libc6-dev-amd64-cross",
    },
    Arch {
        name: "aarch64",
        target: "aarch64-unknown-linux-gnu",
        clang_target: "aarch64-unknown-linux-gnu",
        gnu_triple: "aarch64-linux-gnu",
        headers_package: "libc6-dev-arm64-cross",
    },
    Arch {
        name: "riscv64",
        target: "riscv64gc-unknown-linux-gnu",
        clang_target: "riscv64-unknown-linux-gnu",
        gnu_triple: "riscv64-linux-gnu",
        headers_package: "libc6-dev-riscv64-cross",
    },
];

/// C types that the `libc` crate already defines: the bindings use libc's, so values
/// pass between the two crates without casts.
const LIBC_TYPES: &[&str] = &[
    "iovec",
    "msghdr",
    "cmsghdr",
    "sockaddr",
    "socklen_t",
    "statx",
    "epoll_event",
    "cpu_set_t",
    "sigset_t",
    "mode_t",
    "off_t",
    "pid_t",
    "id_t",
    "idtype_t",
    "siginfo_t",
    "timespec",
    "size_t",
    "ssize_t",
    "sock_filter",
    "sock_fprog",
];

/// `cargo xtask regen-bindings`'s options.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Options {
    /// Fail if a checked-in file differs instead of rewriting it.
    pub check: bool,
}

/// `cargo xtask regen-bindings`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "regen-bindings",
    synopsis: &["[--check]"],
    summary: "regenerate liburing-sys/src/bindings/<arch>.rs and the parts it\n\
              includes, those in bindings/common/ (the items every architecture\n\
              shares) and its own in bindings/<arch>/, and remove files no longer\n\
              generated; --check fails if a file is stale, missing or no longer\n\
              generated. Every architecture (x86_64, aarch64, riscv64) is always\n\
              done: what they share is decided from all of them. Needs libclang-dev\n\
              and the other targets' headers: libc6-dev-arm64-cross,\n\
              libc6-dev-riscv64-cross, or libc6-dev-amd64-cross off x86_64",
    options: &[args::Opt::flag(
        "--check",
        "fail if a checked-in file is stale, missing or left over; write nothing",
    )],
    notes: "",
};

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(m: &args::Matches) -> Result<Options> {
        Ok(Options {
            check: m.flag("--check"),
        })
    }
}

/// Runs `cargo xtask regen-bindings`: every architecture, always, as the common parts are
/// decided from all their outputs.
pub fn run(o: Options) -> Result {
    let check = o.check;
    let root = project_root();
    // Every architecture is generated even when one fails, so one run names every failure.
    let (mut outputs, mut problems) = (Vec::new(), Vec::new());
    for arch in ARCHES {
        eprintln!("bindings for {} ({})", arch.name, arch.target);
        match generate(arch) {
            Ok(text) => outputs.push((arch, text)),
            Err(e) => problems.push(format!("{}: {e}", arch.name)),
        }
    }
    if !problems.is_empty() {
        problems.push(
            "nothing was written or checked: what the architectures share is decided from \
             all of them"
                .to_string(),
        );
        return Err(problems.join("\n"));
    }
    // Every file is looked at even when one is stale, so one run names them all.
    let mut expected = BTreeSet::new();
    for (path, contents) in lay_out(&outputs, PART_LINES)? {
        let path = root.join(path);
        if let Err(e) = util::ensure_file_contents(&path, &contents, check) {
            problems.push(e);
        }
        expected.insert(path);
    }
    for path in leftovers(&root.join(DIR), &expected)? {
        if check {
            problems.push(format!(
                "{} is not generated any more: run `cargo xtask regen-bindings`, which \
                 removes it, and commit the result",
                path.display()
            ));
        } else {
            std::fs::remove_file(&path)
                .map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
            eprintln!("removed {}", path.display());
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems.join("\n"))
    }
}

/// Compiles liburing-sys, uring and uring-probe-cli (libraries and tests) for every architecture but the
/// host's, which the rest of CI builds: bindgen's layout assertions are `const` items,
/// so a wrong size, alignment or offset in a target's bindings fails this build.
/// `DOCS_RS=1` makes liburing-sys's build script skip compiling C, so no C cross
/// compiler is needed; nothing is linked (`cargo check`).
pub fn check_other_arches() -> Result {
    let root = project_root();
    for arch in ARCHES.iter().filter(|a| a.name != std::env::consts::ARCH) {
        ensure_rust_target(arch.target)?;
        util::run(
            util::cargo()
                .current_dir(&root)
                .args([
                    "check",
                    "--quiet",
                    "-p",
                    "liburing-sys",
                    "-p",
                    "uring",
                    "-p",
                    "uring-probe-cli",
                    "--tests",
                    "--all-features",
                    "--target",
                    arch.target,
                    "--target-dir",
                ])
                .arg(root.join("target/ci/cross-check"))
                .env("DOCS_RS", "1"),
        )?;
    }
    Ok(())
}

/// Makes sure rustup has `target`'s standard library, adding it when missing.
pub fn ensure_rust_target(target: &str) -> Result {
    let installed =
        util::output(std::process::Command::new("rustup").args(["target", "list", "--installed"]))
            .unwrap_or_default();
    if installed.lines().any(|l| l.trim() == target) {
        return Ok(());
    }
    util::run(std::process::Command::new("rustup").args(["target", "add", target])).map_err(|e| {
        format!("{e}\n(the {target} standard library is needed: rustup target add {target})")
    })
}

/// clang arguments that make `arch`'s system headers the only ones seen: none for the
/// host's own architecture; otherwise Debian's cross headers in place of the host's.
fn header_args(arch: &Arch) -> Result<Vec<String>> {
    if arch.name == std::env::consts::ARCH {
        return Ok(Vec::new());
    }
    let dir = Path::new("/usr").join(arch.gnu_triple).join("include");
    if !dir.join("sys/socket.h").is_file() || !dir.join("linux/types.h").is_file() {
        return Err(format!(
            "no {} glibc and kernel headers in {} (apt-get install {})",
            arch.name,
            dir.display(),
            arch.headers_package
        ));
    }
    // -nostdlibinc drops the host's /usr/include but keeps clang's own stddef.h & co.
    Ok(vec![
        "-nostdlibinc".to_string(),
        format!("-isystem{}", dir.display()),
    ])
}

/// The files under `dir` that a run which wrote `expected` would not write: parts a
/// regeneration dropped, common or an architecture's, an older layout's files, anything
/// of an architecture no longer carried.
fn leftovers(dir: &Path, expected: &BTreeSet<PathBuf>) -> Result<Vec<PathBuf>> {
    Ok(util::files_under(dir)?
        .into_iter()
        .filter(|path| !expected.contains(path))
        .collect())
}

/// bindgen's output for `arch`, each function gated on the liburing release that first
/// exported it.
fn generate(arch: &Arch) -> Result<String> {
    let root = project_root();
    let liburing = vendor::default_dest();
    vendor::verify(&liburing, &vendor::manifest()?)
        .map_err(|e| format!("{e}\n(run `cargo xtask vendor` first)"))?;
    let src = liburing.join("src");

    let include = root.join("target/xtask/bindgen-include");
    assemble_include(&include)?;

    let mut builder = bindgen::Builder::default()
        .header_contents(
            "wrapper.h",
            "#define IOURINGINLINE\n#include <liburing.h>\n",
        )
        .clang_arg(format!("-I{}", include.display()))
        .clang_args(recipe::define_args(recipe::HEADER_DEFINES))
        .clang_arg(format!("--target={}", arch.clang_target))
        .clang_args(header_args(arch)?)
        .rust_target(bindgen::RustTarget::stable(85, 0).map_err(|e| e.to_string())?)
        .rust_edition(bindgen::RustEdition::Edition2024)
        .allowlist_file(".*/liburing\\.h")
        .allowlist_file(".*/liburing/.*\\.h")
        .default_enum_style(bindgen::EnumVariation::Consts)
        .prepend_enum_name(false)
        .derive_default(true)
        .derive_debug(true)
        .impl_debug(false)
        .layout_tests(true)
        .generate_comments(true)
        .merge_extern_blocks(false)
        .sort_semantically(false)
        .use_core()
        .ctypes_prefix("::core::ffi")
        .formatter(bindgen::Formatter::Rustfmt);
    for t in LIBC_TYPES {
        builder = builder.blocklist_type(t);
    }
    // Pieces of the libc types above that bindgen would otherwise still emit.
    for t in [
        "siginfo_t_.*",
        "sigval",
        "__sigval_t",
        "__sigset_t",
        "__cpu_mask",
    ] {
        builder = builder.blocklist_type(t);
    }
    let bindings = builder.generate().map_err(|e| {
        format!("bindgen failed: {e} (is libclang installed? apt-get install libclang-dev)")
    })?;
    let text = bindings.to_string();

    let since = function_versions(&src)?;
    let (text, declared) = gate_functions(&text, &since)?;
    check_against_maps(&declared, &since)?;
    Ok(text)
}

/// The first lines of every generated file.
const GENERATED: &str = "\
// Generated by `cargo xtask regen-bindings` from liburing 2.15 (tag liburing-2.15,
// commit d41bf9220ec39277ff235379e9089d9e0fd6c2a5) with bindgen 0.72.1. Do not edit:
// `cargo xtask regen-bindings --check` fails CI when this file is stale.
";

/// Lays bindgen's `outputs` out as files (`(path from the workspace root, contents)`),
/// none longer than `limit` lines: the parts of the items every architecture shares, in
/// `common/`, and the parts of each architecture's own items, in `<arch>/` (see
/// [`shared`]); for each, the types (everything but extern blocks) first, then the
/// functions, each kind in its order and cut into as few parts as fit, of even sizes.
/// Each architecture's index includes the common types, its own, the common functions,
/// its own. Then [`check_layout`].
fn lay_out(outputs: &[(&Arch, String)], limit: usize) -> Result<Vec<(String, String)>> {
    let grouped = outputs
        .iter()
        .map(|(_, text)| items(text, follows_its_type))
        .collect::<Result<Vec<_>>>()?;
    let shared = shared::share(&grouped);
    let indexes: Vec<String> = outputs
        .iter()
        .map(|(arch, _)| format!("../{}.rs", arch.name))
        .collect();
    let by_all = match indexes.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    };
    let common = parts(COMMON, &shared.common, limit, |which| {
        format!(
            "of the items every architecture's bindings share ({which}),\n// included by {by_all}."
        )
    })?;
    let mut files = Vec::new();
    for ((arch, _), own) in outputs.iter().zip(&shared.own) {
        let own = parts(arch.name, own, limit, |which| {
            format!(
                "of the {0} bindings' own items ({which}), those not in\n// {COMMON}/, included by ../{0}.rs.",
                arch.name
            )
        })?;
        let mut index = format!(
            "{GENERATED}// Target: {} (liburing-sys picks this file when target_arch = \"{}\").\n\
             // bindgen's output for it is in the parts included below: {} from {COMMON}/, the\n\
             // items every architecture's bindings share, and {} from {1}/, its own.\n\n\
             #[allow(unused_imports)]\nuse libc::{{{}}};\n\n",
            arch.target,
            arch.name,
            common.len(),
            own.len(),
            LIBC_TYPES.join(", ")
        );
        for kind in ["types", "functions"] {
            for part in common.iter().chain(&own).filter(|p| p.kind == kind) {
                index.push_str(&format!("include!(\"{}\");\n", part.include));
            }
        }
        files.extend(own.into_iter().map(|p| (p.path, p.contents)));
        files.push((output(arch), index));
    }
    files.extend(common.into_iter().map(|p| (p.path, p.contents)));
    if let Some((path, contents)) = files.iter().find(|(_, c)| c.lines().count() > limit) {
        return Err(format!(
            "{path} would have {} lines, more than {limit}",
            contents.lines().count()
        ));
    }
    check_layout(outputs, &files)?;
    Ok(files)
}

/// Fails unless what each architecture's index in `files` includes has the same items as
/// bindgen's output for it: the check that makes the common parts sound (see [`shared`]).
fn check_layout(outputs: &[(&Arch, String)], files: &[(String, String)]) -> Result {
    let by_path: BTreeMap<&str, &str> = files
        .iter()
        .map(|(path, contents)| (path.as_str(), contents.as_str()))
        .collect();
    for (arch, text) in outputs {
        let index = by_path
            .get(output(arch).as_str())
            .ok_or_else(|| format!("{}: no index", arch.name))?;
        shared::included(index, |path| {
            by_path.get(format!("{DIR}/{path}").as_str()).copied()
        })
        .and_then(|module| shared::same_items(text, &module))
        .map_err(|e| {
            format!(
                "{}: the laid out files would not compile bindgen's output for it: {e}",
                arch.name
            )
        })?;
    }
    Ok(())
}

/// One generated part.
#[derive(Debug)]
struct Part {
    /// `types` or `functions`.
    kind: &'static str,
    /// The path its index includes it by: `<dir>/<name>.rs`.
    include: String,
    /// Its path from the workspace root.
    path: String,
    contents: String,
}

/// `items` as the parts of `dir` (`common` or an architecture's name), none longer than
/// `limit` lines: the types (everything but extern blocks) then the functions, each kind in
/// the order given and cut into as few parts as fit, of even sizes; none for a kind
/// without items. Each starts with [`GENERATED`] and `// Part K of N {about(which)}`.
fn parts(
    dir: &str,
    items: &[&str],
    limit: usize,
    about: impl Fn(&str) -> String,
) -> Result<Vec<Part>> {
    let header = |k: usize, total: usize, which: &str| {
        format!("{GENERATED}// Part {k} of {total} {}\n\n", about(which))
    };
    let budget = limit
        .checked_sub(header(1, 1, "types, 1 of 1").lines().count())
        .ok_or_else(|| format!("a part of {limit} lines has no room for its header"))?;
    let (functions, types): (Vec<&str>, Vec<&str>) =
        items.iter().partition(|item| extern_block(item).is_some());
    let mut bodies = Vec::new();
    for (kind, items) in [("types", types), ("functions", functions)] {
        let mut pieces = Vec::new();
        for item in items {
            pieces.extend(fit_item(item, budget)?);
        }
        let sizes: Vec<usize> = pieces.iter().map(|p| p.lines().count()).collect();
        let runs = even_runs(&sizes, budget)?;
        let n = runs.len();
        for (i, run) in runs.into_iter().enumerate() {
            let (name, which) = match n {
                1 => (kind.to_string(), kind.to_string()),
                n => (
                    format!("{kind}_{}", i + 1),
                    format!("{kind}, {} of {n}", i + 1),
                ),
            };
            bodies.push((kind, name, which, pieces[run].concat()));
        }
    }
    let total = bodies.len();
    Ok(bodies
        .into_iter()
        .enumerate()
        .map(|(k, (kind, name, which, body))| Part {
            kind,
            include: format!("{dir}/{name}.rs"),
            path: part_path(dir, &name),
            contents: header(k + 1, total, &which) + &body,
        })
        .collect())
}

/// Puts liburing's headers plus the two its configure script would generate
/// (`compat.h`, `io_uring_version.h`, from liburing-sys/build/) in `dest`: the same
/// include directory liburing-sys's build script assembles, by the same code.
pub fn assemble_include(dest: &Path) -> Result {
    recipe::assemble_include(
        &vendor::default_dest().join("src"),
        &project_root().join("liburing-sys/build"),
        dest,
    )
    .map_err(|e| format!("assembling liburing's include directory: {e}"))
}

/// Maps each exported function to the liburing minor release whose linker map first
/// lists it (`liburing.map` for the library proper, `liburing-ffi.map` for helpers).
fn function_versions(src: &Path) -> Result<BTreeMap<String, u32>> {
    let mut since = BTreeMap::new();
    for map in ["liburing.map", "liburing-ffi.map"] {
        let text = String::from_utf8(util::read(&src.join(map))?).map_err(|e| e.to_string())?;
        let mut current: Option<u32> = None;
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("LIBURING_2.") {
                let minor = rest.trim_end_matches(['{', ' ']).trim();
                current = Some(
                    minor
                        .parse()
                        .map_err(|_| format!("{map}: bad block `{line}`"))?,
                );
            } else if let Some(name) = line.strip_suffix(';') {
                if name.is_empty()
                    || name.contains(':')
                    || name.contains('*')
                    || name.starts_with('}')
                {
                    continue;
                }
                let minor =
                    current.ok_or_else(|| format!("{map}: `{name}` outside a version block"))?;
                let e = since.entry(name.to_string()).or_insert(minor);
                *e = (*e).min(minor);
            }
        }
    }
    Ok(since)
}

/// Puts `#[cfg(liburing_2_N)]` on the extern block of each function first exported in a
/// release newer than 2.4 (everything in 2.4 is guaranteed: liburing-sys requires it).
/// Returns the new text and the set of function names bindgen declared.
fn gate_functions(text: &str, since: &BTreeMap<String, u32>) -> Result<(String, BTreeSet<String>)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::with_capacity(lines.len() + 200);
    let mut declared = BTreeSet::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        if line.starts_with("unsafe extern \"C\" {") {
            // Find the function this block declares.
            let name = lines[i + 1..]
                .iter()
                .take_while(|l| !l.starts_with('}'))
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("pub fn ")
                        .and_then(|r| r.split('(').next())
                })
                .ok_or_else(|| format!("extern block at line {} declares no function", i + 1))?;
            declared.insert(name.to_string());
            match since.get(name) {
                Some(&minor) if minor > 4 => out.push(format!("#[cfg(liburing_2_{minor})]")),
                Some(_) => {}
                // An inline helper liburing-ffi.map forgot: a shared liburing-ffi hides
                // it, so only the static vendored build can be relied on to have it.
                None => out.push("#[cfg(liburing_vendored)]".to_string()),
            }
        }
        out.push(line.to_string());
        i += 1;
    }
    let mut s = out.join("\n");
    s.push('\n');
    Ok((s, declared))
}

/// Inline helpers that liburing 2.15's `liburing-ffi.map` does not list. `ffi.c` still
/// compiles them into `liburing-ffi.a`, but a shared `liburing-ffi.so` hides them.
const UNMAPPED_HELPERS: &[&str] = &[
    "__io_uring_prep_uring_cmd",
    "_io_uring_get_sqe",
    "io_uring_cqe_shift",
    "io_uring_cqe_shift_from_flags",
    "io_uring_initialize_sqe",
    "io_uring_load_sq_head",
    "io_uring_prep_cmd_sock",
    "io_uring_prep_futex_wait",
    "io_uring_prep_futex_waitv",
    "io_uring_prep_futex_wake",
    "io_uring_prep_read_multishot",
    "io_uring_prep_waitid",
    "io_uring_sqe_shift",
    "io_uring_sqe_shift_from_flags",
];

/// Every function liburing exports must be declared; the only others allowed are the
/// known [`UNMAPPED_HELPERS`].
fn check_against_maps(declared: &BTreeSet<String>, since: &BTreeMap<String, u32>) -> Result {
    let exported: BTreeSet<String> = since.keys().cloned().collect();
    let missing: Vec<_> = exported.difference(declared).collect();
    let extra: BTreeSet<&str> = declared.difference(&exported).map(String::as_str).collect();
    let known: BTreeSet<&str> = UNMAPPED_HELPERS.iter().copied().collect();
    if missing.is_empty() && extra == known {
        eprintln!(
            "bindings declare {} functions: all {} of liburing.map and liburing-ffi.map, plus {} unmapped inline helpers",
            declared.len(),
            exported.len(),
            known.len()
        );
        return Ok(());
    }
    Err(format!(
        "bindings and liburing's linker maps disagree:\n  exported but not declared: {missing:?}\n  \
         declared, not exported, not known as unmapped: {:?}\n  known unmapped but not declared: {:?}",
        extra.difference(&known).collect::<Vec<_>>(),
        known.difference(&extra).collect::<Vec<_>>()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use split::tests::SAMPLE;

    /// liburing-sys's `lib.rs` includes each architecture's file under its own
    /// `target_arch` and refuses every other architecture; each of those files includes
    /// every common part and every part of its own, once, and nothing else; and nothing
    /// else, nor anything too long, is in bindings/.
    #[test]
    fn lib_rs_selects_every_generated_file() {
        let root = project_root();
        let lib = std::fs::read_to_string(root.join("liburing-sys/src/lib.rs")).unwrap();
        let common = util::files_under(&root.join(DIR).join(COMMON)).unwrap();
        assert!(!common.is_empty(), "no common part");
        let mut expected: BTreeSet<PathBuf> = common.iter().cloned().collect();
        for arch in ARCHES {
            assert_ne!(arch.name, COMMON);
            let lines = format!(
                "    #[cfg(target_arch = \"{}\")]\n    include!(\"bindings/{}.rs\");",
                arch.name, arch.name
            );
            assert!(lib.contains(&lines), "lib.rs lacks `{lines}`");
            assert!(
                lib.contains(&format!("target_arch = \"{}\"\n", arch.name))
                    || lib.contains(&format!("target_arch = \"{}\",\n", arch.name)),
                "the compile_error! guard does not list {}",
                arch.name
            );
            let index = std::fs::read_to_string(root.join(output(arch))).unwrap();
            let uses = index
                .lines()
                .filter(|l| l.starts_with("use libc::"))
                .count();
            assert_eq!(uses, 1, "{}", arch.name);
            let mut parts: Vec<PathBuf> = index
                .lines()
                .filter_map(|l| l.strip_prefix("include!(\"")?.strip_suffix("\");"))
                .map(|part| root.join(DIR).join(part))
                .collect();
            parts.sort();
            let mut wanted = common.clone();
            wanted.extend(util::files_under(&root.join(DIR).join(arch.name)).unwrap());
            wanted.sort();
            assert_eq!(
                parts, wanted,
                "{} includes other files than the common parts and its own",
                arch.name
            );
            expected.insert(root.join(output(arch)));
            expected.extend(parts);
        }
        for file in &expected {
            let lines = std::fs::read_to_string(file).unwrap().lines().count();
            assert!(lines <= PART_LINES, "{} has {lines} lines", file.display());
        }
        // What the packaging check requires of liburing-sys's package: the same files.
        let packaged = checked_in().unwrap();
        assert_eq!(packaged.len(), expected.len(), "{packaged:?}");
        for f in ["src/bindings/x86_64.rs", "src/bindings/common/types_1.rs"] {
            assert!(packaged.iter().any(|p| p == f), "{f}: {packaged:?}");
        }
        assert_eq!(
            leftovers(&root.join(DIR), &expected).unwrap(),
            [] as [PathBuf; 0]
        );
        assert_eq!(lib.matches("include!(\"bindings/").count(), ARCHES.len());
    }

    /// A whole layout of outputs alike in every architecture, with parts so small that the
    /// types take two and the big extern block is cut: every item is common, every file
    /// fits, each index includes the common parts in order, and the parts hold the items,
    /// types first, each kind in its order.
    #[test]
    fn parts_hold_every_item_types_first() {
        let items = items(SAMPLE, follows_its_type).unwrap();
        let outputs: Vec<(&Arch, String)> =
            ARCHES.iter().map(|a| (a, SAMPLE.to_string())).collect();
        let limit = 6 + items[0].lines().count();
        let files = lay_out(&outputs, limit).unwrap();
        let (parts, indexes): (Vec<_>, Vec<_>) = files
            .iter()
            .partition(|(path, _)| path.starts_with(&format!("{DIR}/{COMMON}/")));
        let paths: Vec<String> = ARCHES.iter().map(output).collect();
        assert_eq!(
            indexes.iter().map(|(p, _)| p).collect::<Vec<_>>(),
            paths.iter().collect::<Vec<_>>()
        );
        let includes: Vec<String> = parts
            .iter()
            .map(|(path, _)| format!("include!(\"{}\");", &path[DIR.len() + 1..]))
            .collect();
        for (_, index) in &indexes {
            let included: Vec<&str> = index
                .lines()
                .filter(|l| l.starts_with("include!"))
                .collect();
            assert_eq!(included, includes, "{index}");
        }
        let mut bodies = String::new();
        for (path, contents) in &parts {
            assert!(contents.lines().count() <= limit, "{path}:\n{contents}");
            assert!(contents.starts_with(GENERATED), "{contents}");
            bodies.push_str(contents.split_once("\n\n").unwrap().1);
        }
        assert_eq!(
            parts[..2].iter().map(|(p, _)| p).collect::<Vec<_>>(),
            [&part_path(COMMON, "types_1"), &part_path(COMMON, "types_2")]
        );
        assert!(parts[2].0.contains("/functions_"), "{parts:?}");
        // Put back together: the types in their order, then the extern blocks, the pieces
        // of the cut one (the same attributes) joined again.
        let (types, functions): (Vec<&str>, Vec<&str>) =
            items.iter().partition(|i| extern_block(i).is_none());
        let (mut joined, mut previous) = (String::new(), None);
        for item in super::items(&bodies, |_, _| false).unwrap() {
            let block = extern_block(item);
            match block {
                Some((open, inner, _)) if previous == Some(open) => {
                    joined.truncate(joined.len() - "}\n".len());
                    joined.push_str(inner);
                    joined.push_str("}\n");
                }
                _ => joined.push_str(item),
            }
            previous = block.map(|(open, _, _)| open);
        }
        assert_eq!(joined, types.concat() + &functions.concat());
        assert!(
            bodies.matches("#[link(name = \"x\")]").count() > 1,
            "{bodies}"
        );
        assert!(lay_out(&outputs, limit - 1).is_err());
    }

    /// Three small outputs: an item all have, one that differs (bindgen's numbering of an
    /// anonymous enum), one twice in two architectures and once in the third. Common is
    /// what all have, as many times as all have it; each architecture's index includes
    /// exactly its items; and the check catches an index that includes too little or too
    /// much.
    #[test]
    fn each_architecture_includes_exactly_its_items() {
        let shared_item = "#[repr(C)]\npub struct s {\n    pub a: u32,\n}\nconst _: () = {\n    \
                           [\"Size of s\"][::core::mem::size_of::<s>() - 4usize];\n};\n";
        let numbered = |n: u32| format!("pub const X: _bindgen_ty_{n} = 1;\n");
        let twice = "unsafe extern \"C\" {\n    pub fn f();\n}\n";
        let outputs = vec![
            (
                &ARCHES[0],
                format!("{shared_item}{}{twice}{twice}", numbered(2)),
            ),
            (&ARCHES[1], format!("{}{twice}{shared_item}", numbered(1))),
            (
                &ARCHES[2],
                format!("{twice}{shared_item}{twice}{}", numbered(1)),
            ),
        ];
        let files = lay_out(&outputs, PART_LINES).unwrap();
        let body = |files: &[(String, String)], dir: &str, name: &str| {
            let path = part_path(dir, name);
            let file = files.iter().find(|(p, _)| *p == path);
            file.map(|(_, contents)| contents.split_once("\n\n").unwrap().1.to_string())
        };
        assert_eq!(body(&files, COMMON, "types").unwrap(), shared_item);
        assert_eq!(body(&files, COMMON, "functions").unwrap(), twice);
        assert_eq!(body(&files, "x86_64", "types"), Some(numbered(2)));
        assert_eq!(body(&files, "x86_64", "functions").unwrap(), twice);
        assert_eq!(body(&files, "aarch64", "types"), Some(numbered(1)));
        assert_eq!(body(&files, "aarch64", "functions"), None);
        assert_eq!(body(&files, "riscv64", "types"), Some(numbered(1)));
        assert_eq!(body(&files, "riscv64", "functions").unwrap(), twice);
        assert_eq!(files.len(), 2 + 2 + 1 + 2 + 3);
        assert_eq!(check_layout(&outputs, &files), Ok(()));

        let tampered = |arch: &Arch, edit: &dyn Fn(&str) -> String| {
            let mut files = files.clone();
            let index = files.iter_mut().find(|(p, _)| *p == output(arch)).unwrap();
            index.1 = edit(&index.1);
            check_layout(&outputs, &files).unwrap_err()
        };
        let e = tampered(&ARCHES[1], &|index| {
            index.replace("include!(\"common/functions.rs\");\n", "")
        });
        assert!(e.starts_with("aarch64: "), "{e}");
        assert!(
            e.contains("1 in bindgen's output, 0 included: `unsafe extern \"C\" {`"),
            "{e}"
        );
        let e = tampered(&ARCHES[0], &|index| {
            format!("{index}include!(\"x86_64/functions.rs\");\n")
        });
        assert!(e.contains("2 in bindgen's output, 3 included"), "{e}");
        let e = tampered(&ARCHES[2], &|index| {
            index.replace("riscv64/types", "x86_64/types")
        });
        assert!(
            e.contains("0 in bindgen's output, 1 included: `pub const X: _bindgen_ty_2"),
            "{e}"
        );
    }

    #[test]
    fn leftovers_are_files_no_longer_generated() {
        let dir = project_root().join("target/xtask/test-leftovers");
        let _ = std::fs::remove_dir_all(&dir);
        let files = [
            "x86_64.rs",
            "x86_64/types.rs",
            "x86_64/part9.rs",
            "aarch64.rs",
            "aarch64/types.rs",
            "common/types.rs",
            "common/types_3.rs",
            "mips.rs",
        ];
        for f in files {
            util::write(&dir.join(f), "").unwrap();
        }
        let expected = [
            dir.join("x86_64.rs"),
            dir.join("x86_64/types.rs"),
            dir.join("aarch64.rs"),
            dir.join("common/types.rs"),
        ]
        .into();
        assert_eq!(
            leftovers(&dir, &expected).unwrap(),
            [
                dir.join("aarch64/types.rs"),
                dir.join("common/types_3.rs"),
                dir.join("mips.rs"),
                dir.join("x86_64/part9.rs")
            ]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn host_headers_for_the_host_and_only_cross_headers_otherwise() {
        for arch in ARCHES {
            let native = arch.name == std::env::consts::ARCH;
            match header_args(arch) {
                Ok(args) if native => assert!(args.is_empty(), "{args:?}"),
                Ok(args) => assert_eq!(
                    args,
                    [
                        "-nostdlibinc".to_string(),
                        format!("-isystem/usr/{}/include", arch.gnu_triple)
                    ]
                ),
                Err(e) => {
                    assert!(!native, "{e}");
                    assert!(e.contains(arch.headers_package), "{e}");
                }
            }
        }
    }
}
