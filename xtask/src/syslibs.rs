//! `cargo xtask system-libs`: real distribution builds of liburing, for testing
//! `liburing-sys` without `vendored` against what users actually have installed.
//!
//! Debian's packages give 2.3 (refused), 2.9 and 2.15. Releases no reachable
//! distribution ships — 2.4–2.7, whose private `int_flags` layout differs from
//! 2.8's, among them Ubuntu 24.04's 2.5 — are built from upstream's source as a
//! crates.io package carries it ([`SOURCE_LIBS`]): every file checked against a
//! SHA-256 manifest the project keeps (`xtask/liburing-<release>.sha256`, taken
//! from upstream's tag), then liburing's own `configure` and `make` into a prefix.

use crate::args;
use crate::debian::{self, Apt};
use crate::util::{self, Result, project_root};
use crate::vendor;
use std::path::{Path, PathBuf};
use std::process::Command;

/// liburing releases built from source: (release, crates.io package whose
/// `liburing/` directory holds upstream's tree at tag `liburing-<release>`, its
/// version). uring-sys2 0.9.1's `liburing/` matches the tag file for file.
pub const SOURCE_LIBS: &[(&str, &str, &str)] = &[("2.5", "uring-sys2", "0.9.1")];

/// The prefix a [`SOURCE_LIBS`] release is installed in (`include/`, `lib/`), for
/// `LIBURING_DIR`.
pub fn built_prefix(version: &str) -> PathBuf {
    project_root()
        .join("target/system-liburing")
        .join(format!("built-{version}"))
}

/// (liburing version, Debian suite, package version).
pub const SYSTEM_LIBS: &[(&str, &str, &str)] = &[
    ("2.3", "bookworm", "2.3-3"),
    ("2.9", "trixie", "2.9-1"),
    ("2.15", "sid", "2.15-1"),
];

/// The prefix `system-libs` unpacks liburing `version` into (holding `usr/`).
pub fn prefix(version: &str) -> PathBuf {
    project_root().join("target/system-liburing").join(version)
}

/// The `PKG_CONFIG_PATH` that finds the unpacked liburing `version`.
pub fn pkg_config_dir(version: &str) -> PathBuf {
    prefix(version).join("usr/lib/x86_64-linux-gnu/pkgconfig")
}

/// `cargo xtask system-libs` takes no options.
#[derive(Debug, PartialEq)]
pub struct Options;

/// `cargo xtask system-libs`'s arguments, for the parser and the help.
pub const SPEC: args::Spec = args::Spec {
    name: "system-libs",
    synopsis: &[""],
    summary: "download Debian's liburing-dev packages (2.3, 2.9, 2.15) into\n\
              target/system-liburing/<version>/ (apt-get download, private\n\
              APT_CONFIG; /etc/apt is not touched), and build liburing 2.5\n\
              (from crates.io's uring-sys2 0.9.1, checked against\n\
              xtask/liburing-2.5.sha256) into target/system-liburing/built-2.5/",
    options: &[],
    notes: "",
};

impl args::Args for Options {
    const SPEC: &'static args::Spec = &SPEC;

    fn from_matches(_: &args::Matches) -> Result<Options> {
        Ok(Options)
    }
}

/// Runs `cargo xtask system-libs`.
pub fn run(_: Options) -> Result {
    fetch_all().map(|_| ())
}

/// Downloads and unpacks every [`SYSTEM_LIBS`] entry and builds every
/// [`SOURCE_LIBS`] one; returns their prefixes.
pub fn fetch_all() -> Result<Vec<PathBuf>> {
    let mut out = fetch_debian()?;
    for (version, krate, krate_version) in SOURCE_LIBS {
        out.push(build_from_source(version, krate, krate_version)?);
    }
    Ok(out)
}

/// Builds liburing `version` from the copy of its source in crates.io package
/// `krate` `krate_version`, verified against `xtask/liburing-<version>.sha256`,
/// with its own configure and Makefile, into [`built_prefix`].
fn build_from_source(version: &str, krate: &str, krate_version: &str) -> Result<PathBuf> {
    let root = project_root();
    let manifest = vendor::manifest_at(&root.join(format!("xtask/liburing-{version}.sha256")))?;
    let scratch = root.join("target/system-liburing/fetch");
    let tree = vendor::crate_dir(krate, krate_version, &scratch)?.join("liburing");
    vendor::verify(&tree, &manifest).map_err(|e| {
        format!("{krate} {krate_version} does not carry liburing {version} as pinned: {e}")
    })?;
    // Only the manifest's files, copied out of cargo's registry (never built in place).
    let src = root.join(format!("target/system-liburing/src-{version}"));
    let _ = std::fs::remove_dir_all(&src);
    for (_, rel) in &manifest {
        util::write(&src.join(rel), util::read(&tree.join(rel))?)?;
    }
    vendor::verify(&src, &manifest)?;
    let prefix = built_prefix(version);
    let _ = std::fs::remove_dir_all(&prefix);
    let p = prefix.display().to_string();
    util::run(
        Command::new("sh")
            .arg("./configure")
            .arg(format!("--prefix={p}"))
            .current_dir(&src),
    )?;
    util::run(
        Command::new("make")
            .args(["-C", "src", "-j2"])
            .current_dir(&src),
    )?;
    util::run(
        Command::new("make")
            .args(["-C", "src", "install"])
            .arg(format!("prefix={p}"))
            .arg(format!("includedir={p}/include"))
            .arg(format!("libdir={p}/lib"))
            .arg(format!("libdevdir={p}/lib"))
            .current_dir(&src),
    )?;
    check_built(&prefix, version)?;
    eprintln!(
        "liburing {version} (from {krate} {krate_version}) built into {}",
        prefix.display()
    );
    Ok(prefix)
}

/// The prefix holds liburing-ffi and a version header naming `version`.
fn check_built(prefix: &Path, version: &str) -> Result {
    for f in [
        "lib/liburing-ffi.so",
        "lib/liburing-ffi.a",
        "include/liburing.h",
    ] {
        if !prefix.join(f).exists() {
            return Err(format!(
                "liburing {version}: no {f} in {}",
                prefix.display()
            ));
        }
    }
    let header = prefix.join("include/liburing/io_uring_version.h");
    let text = String::from_utf8(util::read(&header)?).map_err(|e| e.to_string())?;
    let minor = version.split('.').nth(1).unwrap_or(version);
    if !text.contains(&format!("IO_URING_VERSION_MINOR {minor}")) {
        return Err(format!(
            "{} does not name liburing {version}",
            header.display()
        ));
    }
    Ok(())
}

/// Downloads and unpacks every [`SYSTEM_LIBS`] entry; returns their prefixes.
fn fetch_debian() -> Result<Vec<PathBuf>> {
    let suites: Vec<&str> = SYSTEM_LIBS.iter().map(|(_, s, _)| *s).collect();
    let apt = Apt::new("liburing", &suites, "main")?;
    let mut out = Vec::new();
    for (version, _suite, pkgver) in SYSTEM_LIBS {
        let root = prefix(version);
        let debs = apt.download(
            &[
                &format!("liburing-dev={pkgver}"),
                &format!("liburing2={pkgver}"),
            ],
            &project_root().join("target/system-liburing/debs"),
        )?;
        let _ = std::fs::remove_dir_all(&root);
        for deb in &debs {
            debian::extract(deb, &root)?;
        }
        // Debian's .pc files name /usr (prefix=, libdir=, includedir=); point every such
        // variable at the unpacked tree.
        let pc_dir = pkg_config_dir(version);
        for pc in ["liburing.pc", "liburing-ffi.pc"] {
            let path = pc_dir.join(pc);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let fixed = rebase_pc(&text, &root.display().to_string());
                if fixed == text {
                    return Err(format!(
                        "{}: no `var=/usr…` line to rewrite",
                        path.display()
                    ));
                }
                util::write(&path, fixed)?;
            }
        }
        eprintln!(
            "liburing {version} ({pkgver}) unpacked in {}",
            root.display()
        );
        out.push(root);
    }
    Ok(out)
}

/// Rewrites `name=/usr…` variable lines of a pkg-config file to `name=<root>/usr…`.
fn rebase_pc(text: &str, root: &str) -> String {
    let mut out = String::with_capacity(text.len() + 256);
    for line in text.lines() {
        match line.split_once('=') {
            Some((name, value))
                if !name.contains(':') && (value == "/usr" || value.starts_with("/usr/")) =>
            {
                out.push_str(&format!("{name}={root}{value}"));
            }
            _ => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn source_lib_manifests_pin_what_configure_and_make_need() {
        for (version, _, _) in super::SOURCE_LIBS {
            let path = crate::util::project_root().join(format!("xtask/liburing-{version}.sha256"));
            let manifest = crate::vendor::manifest_at(&path).unwrap();
            for needed in [
                "configure",
                "Makefile.common",
                "liburing.spec",
                "src/Makefile",
                "src/setup.c",
                "src/ffi.c",
                "src/liburing-ffi.map",
                "src/include/liburing.h",
            ] {
                assert!(
                    manifest.iter().any(|(_, rel)| rel == needed),
                    "{} lacks {needed}",
                    path.display()
                );
            }
        }
    }

    #[test]
    fn pc_variables_under_usr_are_rebased_and_nothing_else() {
        let pc = "prefix=/usr\nlibdir=/usr/lib/x86_64-linux-gnu\nincludedir=${prefix}/include\nURL: https://x/usr\nLibs: -L${libdir} -luring-ffi\n";
        let got = super::rebase_pc(pc, "/t");
        assert_eq!(
            got,
            "prefix=/t/usr\nlibdir=/t/usr/lib/x86_64-linux-gnu\nincludedir=${prefix}/include\nURL: https://x/usr\nLibs: -L${libdir} -luring-ffi\n"
        );
    }
}
