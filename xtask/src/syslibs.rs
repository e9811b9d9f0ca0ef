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
    fn pc_variables_under_usr_are_rebased_and_nothing_else() {
        let pc = "prefix=/usr\nlibdir=/usr/lib/x86_64-linux-gnu\nincludedir=${prefix}/include\nURL: https://x/usr\nLibs: -L${libdir} -luring-ffi\n";
        let got = super::rebase_pc(pc, "/t");
        assert_eq!(
            got,
            "prefix=/t/usr\nlibdir=/t/usr/lib/x86_64-linux-gnu\nincludedir=${prefix}/include\nURL: https://x/usr\nLibs: -L${libdir} -luring-ffi\n"
        );
    }
}
