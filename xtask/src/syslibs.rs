//! `cargo xtask system-libs`: real distribution builds of liburing, for testing
//! `liburing-sys` without `vendored` against what users actually have installed.

use crate::debian::{self, Apt};
use crate::util::{self, Result, project_root};
use std::path::PathBuf;

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

pub fn run(args: &[String]) -> Result {
    if !args.is_empty() {
        return Err(format!("unexpected arguments {args:?}"));
    }
    fetch_all().map(|_| ())
}

/// Downloads and unpacks every [`SYSTEM_LIBS`] entry; returns their prefixes.
pub fn fetch_all() -> Result<Vec<PathBuf>> {
    let suites: Vec<&str> = SYSTEM_LIBS.iter().map(|(_, s, _)| *s).collect();
    let apt = Apt::new("liburing", &suites, "main")?;
    let mut out = Vec::new();
    for (version, _suite, pkgver) in SYSTEM_LIBS {
        let root = prefix(version);
        let debs = apt.download(
            &[&format!("liburing-dev={pkgver}"), &format!("liburing2={pkgver}")],
            &project_root().join("target/system-liburing/debs"),
        )?;
        let _ = std::fs::remove_dir_all(&root);
        for deb in &debs {
            debian::extract(deb, &root)?;
        }
        // Debian's .pc files say prefix=/usr; point them at the unpacked tree.
        let pc_dir = pkg_config_dir(version);
        for pc in ["liburing.pc", "liburing-ffi.pc"] {
            let path = pc_dir.join(pc);
            if let Ok(text) = std::fs::read_to_string(&path) {
                let fixed = text.replace("prefix=/usr\n", &format!("prefix={}/usr\n", root.display()));
                if fixed == text {
                    return Err(format!("{}: no `prefix=/usr` line to rewrite", path.display()));
                }
                util::write(&path, fixed)?;
            }
        }
        eprintln!("liburing {version} ({pkgver}) unpacked in {}", root.display());
        out.push(root);
    }
    Ok(out)
}
