//! `cargo xtask vendor`: put liburing 2.15's source where `liburing-sys` builds it from.
//!
//! The source is upstream liburing at tag `liburing-2.15`. It is never committed to this
//! repository; this command fetches it and checks every file against the SHA-256 manifest
//! the project keeps (`liburing-sys/liburing-2.15.sha256`). Only the files the manifest
//! names are copied, and a single mismatch refuses the whole tree.

use crate::args;
use crate::codegen::recipe;
use crate::json;
use crate::util::{self, Result, project_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Upstream's tag and commit for the vendored release.
pub const TAG: &str = "liburing-2.15";
pub const COMMIT: &str = "d41bf9220ec39277ff235379e9089d9e0fd6c2a5";
/// Upstream's public repository.
const GIT_URL: &str = "https://github.com/axboe/liburing.git";
/// The crates.io package whose `src/` is byte for byte upstream's `src/` at [`TAG`].
const CRATE_NAME: &str = "axboe-liburing";
const CRATE_VERSION: &str = "2.15.3";
/// How long the git attempt may take before we fall back to crates.io.
const GIT_TIMEOUT: Duration = Duration::from_secs(30);

/// The vendored release, `2.15`: liburing-sys's build recipe says which.
pub fn release() -> String {
    format!("{}.{}", recipe::VERSION.0, recipe::VERSION.1)
}

/// Where `liburing-sys` expects the source.
pub fn default_dest() -> PathBuf {
    project_root().join("liburing-sys/liburing")
}

/// The project's manifest: `(sha256, path relative to the liburing tree)` pairs.
pub fn manifest() -> Result<Vec<(String, String)>> {
    manifest_at(&project_root().join(format!("liburing-sys/liburing-{}.sha256", release())))
}

/// The manifest in `path` (same format as liburing-sys's).
pub fn manifest_at(path: &Path) -> Result<Vec<(String, String)>> {
    let text = String::from_utf8(util::read(path)?)
        .map_err(|e| format!("{} is not UTF-8: {e}", path.display()))?;
    parse_manifest(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse_manifest(text: &str) -> Result<Vec<(String, String)>> {
    let mut entries = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let (hash, path) = line
            .split_once("  ")
            .ok_or_else(|| format!("line {}: expected `<sha256>  <path>`", n + 1))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("line {}: `{hash}` is not a SHA-256", n + 1));
        }
        if path.starts_with('/') || path.split('/').any(|c| c == ".." || c.is_empty()) {
            return Err(format!("line {}: unsafe path `{path}`", n + 1));
        }
        entries.push((hash.to_ascii_lowercase(), path.to_string()));
    }
    if entries.is_empty() {
        return Err("the manifest lists no files".into());
    }
    Ok(entries)
}

/// Checks every manifest file under `root`; the error names each missing or changed file.
pub fn verify(root: &Path, manifest: &[(String, String)]) -> Result {
    let mut problems = Vec::new();
    for (want, rel) in manifest {
        match std::fs::read(root.join(rel)) {
            Ok(data) => {
                let got = util::sha256_hex(&data);
                if &got != want {
                    problems.push(format!("{rel}: SHA-256 is {got}, the manifest says {want}"));
                }
            }
            Err(e) => problems.push(format!("{rel}: missing ({e})")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} does not match its manifest ({} of {} files wrong):\n  {}",
            root.display(),
            problems.len(),
            manifest.len(),
            problems.join("\n  ")
        ))
    }
}

/// Where the source comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// Upstream's git repository, falling back to crates.io.
    Auto,
    CratesIo,
    Git(String),
    Dir(PathBuf),
}

/// `cargo xtask vendor`'s options.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub source: Source,
    pub dest: PathBuf,
    /// Fetch again even when `dest` already holds a verified tree.
    pub force: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            source: Source::Auto,
            dest: default_dest(),
            force: false,
        }
    }
}

/// `cargo xtask vendor`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "vendor",
    synopsis: &["[--from crates-io|git[=URL]|DIR] [--dest DIR] [--force]"],
    summary: "put liburing 2.15's source in liburing-sys/liburing/, every\n\
              file checked against liburing-sys/liburing-2.15.sha256",
    options: &[
        args::Opt::value(
            "--from",
            "SRC",
            "crates-io (the axboe-liburing package), git (upstream's\n\
             repository), git=URL, or a directory holding the tree;\n\
             default: git, then crates-io if git fails",
        ),
        args::Opt::value(
            "--dest",
            "DIR",
            "where to put it (default liburing-sys/liburing)",
        ),
        args::Opt::flag("--force", "fetch again even when DIR already verifies"),
    ],
    notes: "",
};

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(m: &args::Matches) -> Result<Options> {
        let source = match m.value("--from").as_deref() {
            None => Source::Auto,
            Some("crates-io") => Source::CratesIo,
            Some("git") => Source::Git(GIT_URL.into()),
            Some(s) if s.starts_with("git=") => Source::Git(s[4..].into()),
            Some(s) => Source::Dir(PathBuf::from(s)),
        };
        Ok(Options {
            source,
            dest: m.value("--dest").map_or_else(default_dest, PathBuf::from),
            force: m.flag("--force"),
        })
    }
}

/// Runs `cargo xtask vendor`.
pub fn run(o: Options) -> Result {
    let Options {
        source,
        dest,
        force,
    } = o;
    let manifest = manifest()?;

    if !force && dest.exists() && verify(&dest, &manifest).is_ok() {
        eprintln!(
            "{} already holds verified liburing {}",
            dest.display(),
            release()
        );
        return Ok(());
    }

    let scratch = project_root().join("target/xtask/vendor");
    let _ = std::fs::remove_dir_all(&scratch);
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;

    let tree = match source {
        Source::Dir(dir) => dir,
        Source::CratesIo => crate_dir(CRATE_NAME, CRATE_VERSION, &scratch)?,
        Source::Git(url) => from_git(&url, &scratch)?,
        Source::Auto => match from_git(GIT_URL, &scratch) {
            Ok(t) => t,
            Err(e) => {
                eprintln!(
                    "upstream git not reachable ({e}); using crates.io's {CRATE_NAME} {CRATE_VERSION}"
                );
                crate_dir(CRATE_NAME, CRATE_VERSION, &scratch)?
            }
        },
    };
    install(&tree, &dest, &manifest)
}

/// Verifies `tree`, then copies exactly the manifest's files into `dest`, replacing it.
pub fn install(tree: &Path, dest: &Path, manifest: &[(String, String)]) -> Result {
    verify(tree, manifest)?;
    let staging = dest.with_extension("staging");
    let _ = std::fs::remove_dir_all(&staging);
    for (_, rel) in manifest {
        util::write(&staging.join(rel), util::read(&tree.join(rel))?)?;
    }
    // Check the copy too: it is what gets built.
    verify(&staging, manifest)?;
    let _ = std::fs::remove_dir_all(dest);
    std::fs::rename(&staging, dest).map_err(|e| {
        format!(
            "cannot move {} to {}: {e}",
            staging.display(),
            dest.display()
        )
    })?;
    eprintln!(
        "vendored liburing {} ({} files, all SHA-256 verified) into {}",
        release(),
        manifest.len(),
        dest.display()
    );
    Ok(())
}

/// Clones upstream at the pinned tag, giving up after [`GIT_TIMEOUT`].
fn from_git(url: &str, scratch: &Path) -> Result<PathBuf> {
    let dir = scratch.join("git");
    let mut child = Command::new("git")
        .args(["clone", "--quiet", "--depth", "1", "--branch", TAG, url])
        .arg(&dir)
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run git: {e}"))?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            break status;
        }
        if start.elapsed() > GIT_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "git clone {url} took over {}s",
                GIT_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    if !status.success() {
        return Err(format!("git clone {url} failed: {status}"));
    }
    let head = util::output(
        Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args(["rev-parse", "HEAD"]),
    )?;
    if head.trim() != COMMIT {
        return Err(format!(
            "{url} tag {TAG} is {}, expected {COMMIT}",
            head.trim()
        ));
    }
    Ok(dir)
}

/// Has cargo download crates.io package `name` at exactly `version` (through a
/// scratch project in `scratch`, so cargo checks the package's checksum against the
/// registry's index) and returns the directory it unpacked.
pub fn crate_dir(name: &str, version: &str, scratch: &Path) -> Result<PathBuf> {
    let proj = scratch.join(format!("fetch-{name}-{version}"));
    util::write(
        &proj.join("Cargo.toml"),
        format!(
            "[package]\nname = \"uring-vendor-fetch\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
             [lib]\npath = \"lib.rs\"\n[dependencies]\n{name} = {{ version = \"={version}\", default-features = false }}\n\
             [workspace]\n"
        ),
    )?;
    util::write(&proj.join("lib.rs"), "")?;
    let meta = util::output(
        util::cargo()
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(proj.join("Cargo.toml")),
    )?;
    let wanted = format!("/{name}-{version}/Cargo.toml");
    let meta = json::parse(&meta).map_err(|e| format!("cargo metadata printed bad JSON: {e}"))?;
    let packages = meta.get("packages").and_then(json::Json::as_array);
    let manifest_path = packages
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("manifest_path")?.as_str())
        .find(|p| p.ends_with(&wanted))
        .ok_or_else(|| format!("cargo metadata did not report {name} {version}"))?;
    let root = Path::new(manifest_path)
        .parent()
        .expect("a manifest has a parent")
        .to_path_buf();
    eprintln!("using {}", root.display());
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_sources_name_the_release_of_the_build_recipe() {
        let release = release();
        assert_eq!(TAG, format!("liburing-{release}"));
        assert!(
            CRATE_VERSION.starts_with(&format!("{release}.")),
            "{CRATE_VERSION}"
        );
        assert!(
            project_root()
                .join(format!("liburing-sys/liburing-{release}.sha256"))
                .exists()
        );
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("xtask-vendor-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn fake_tree(root: &Path) -> Vec<(String, String)> {
        let files = [
            ("src/a.c", "int a;\n"),
            ("src/include/b.h", "#define B 1\n"),
        ];
        files
            .iter()
            .map(|(rel, body)| {
                util::write(&root.join(rel), body).unwrap();
                (util::sha256_hex(body.as_bytes()), rel.to_string())
            })
            .collect()
    }

    #[test]
    fn the_projects_manifest_parses_and_names_liburing_sources() {
        let m = manifest().unwrap();
        assert_eq!(m.len(), 30);
        for f in [
            "src/queue.c",
            "src/ffi.c",
            "src/include/liburing.h",
            "src/liburing-ffi.map",
        ] {
            assert!(
                m.iter().any(|(_, p)| p == f),
                "{f} missing from the manifest"
            );
        }
    }

    #[test]
    fn a_verified_tree_installs_only_the_manifest_files() {
        let src = tmp("ok-src");
        let m = fake_tree(&src);
        util::write(&src.join("src/extra.c"), "not listed").unwrap();
        let dest = tmp("ok-dest").join("liburing");
        install(&src, &dest, &m).unwrap();
        assert_eq!(
            std::fs::read_to_string(dest.join("src/a.c")).unwrap(),
            "int a;\n"
        );
        assert!(!dest.join("src/extra.c").exists());
    }

    #[test]
    fn one_changed_byte_is_refused_and_named() {
        let src = tmp("bad-src");
        let m = fake_tree(&src);
        util::write(&src.join("src/include/b.h"), "#define B 2\n").unwrap();
        let dest = tmp("bad-dest").join("liburing");
        let err = install(&src, &dest, &m).unwrap_err();
        assert!(err.contains("src/include/b.h: SHA-256 is"), "{err}");
        assert!(err.contains("1 of 2 files wrong"), "{err}");
        assert!(!dest.exists(), "a refused tree must not be installed");
    }

    #[test]
    fn a_missing_file_is_refused() {
        let src = tmp("missing-src");
        let m = fake_tree(&src);
        std::fs::remove_file(src.join("src/a.c")).unwrap();
        let err = verify(&src, &m).unwrap_err();
        assert!(err.contains("src/a.c: missing"), "{err}");
    }

    #[test]
    fn malformed_manifests_are_refused() {
        assert!(parse_manifest("").is_err());
        assert!(
            parse_manifest("abc  src/a.c")
                .unwrap_err()
                .contains("not a SHA-256")
        );
        let h = "0".repeat(64);
        assert!(
            parse_manifest(&format!("{h}  ../etc/passwd"))
                .unwrap_err()
                .contains("unsafe path")
        );
        assert!(
            parse_manifest(&format!("{h} src/a.c"))
                .unwrap_err()
                .contains("expected")
        );
    }
}
