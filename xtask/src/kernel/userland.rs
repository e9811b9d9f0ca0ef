//! A minimal userland for the guest: tests spawn `sh -c …`, `true` or `sleep`, and a
//! bare initramfs has none of them. A guest of the host's architecture borrows the
//! host's programs, each with the shared libraries `ldd` names, at the same paths, so
//! the host's dynamic loader finds them inside the guest too. Any other guest gets
//! Debian's static busybox for its architecture (`busybox-static`, downloaded under a
//! private `APT_CONFIG`) as `/bin/busybox`, with each program a symlink to it.

use super::arch::GuestArch;
use crate::debian::{self, Apt};
use crate::util::{Result, project_root};
use std::path::{Path, PathBuf};
use std::process::Command;

/// What tests may reasonably spawn; missing ones are left out, never an error.
const PROGRAMS: &[&str] = &["sh", "true", "false", "sleep", "cat", "echo", "env", "kill"];

/// One file to put in the guest: where it goes (absolute) and where its bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub guest: PathBuf,
    pub host: PathBuf,
}

/// What goes into the guest: files, and symlinks (guest path, target).
#[derive(Debug, Default)]
pub struct Userland {
    pub files: Vec<Item>,
    pub links: Vec<(PathBuf, String)>,
}

/// The userland for `arch`.
pub fn for_arch(arch: &GuestArch) -> Result<Userland> {
    if arch.is_host() {
        return Ok(Userland {
            files: collect(),
            links: Vec::new(),
        });
    }
    let busybox = busybox(arch)?;
    Ok(Userland {
        files: vec![Item {
            guest: PathBuf::from("/bin/busybox"),
            host: busybox,
        }],
        links: PROGRAMS
            .iter()
            .map(|p| (Path::new("/bin").join(p), "busybox".to_string()))
            .collect(),
    })
}

/// Debian 12's static busybox for `arch`, downloaded once and kept in `target/`.
fn busybox(arch: &GuestArch) -> Result<PathBuf> {
    let dir = project_root()
        .join("target/kernel-check/userland")
        .join(arch.debian);
    let bin = dir.join("bin/busybox");
    if bin.is_file() {
        return Ok(bin);
    }
    let apt = Apt::for_arch(
        &format!("userland-{}", arch.debian),
        &["bookworm"],
        "main",
        arch.debian,
    )?;
    let debs = apt.download(&["busybox-static"], &dir.join("debs"))?;
    debian::extract(&debs[0], &dir)?;
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(format!(
            "busybox-static ({}) has no bin/busybox",
            arch.debian
        ))
    }
}

/// `bin/<program>` for each program found on the host, plus every library they load.
fn collect() -> Vec<Item> {
    let mut out: Vec<Item> = Vec::new();
    let mut add = |guest: PathBuf, host: PathBuf| {
        if !out.iter().any(|i| i.guest == guest) {
            out.push(Item { guest, host });
        }
    };
    for name in PROGRAMS {
        let Some(host) = find(name) else { continue };
        for lib in libraries(&host) {
            add(lib.clone(), lib);
        }
        add(Path::new("/bin").join(name), host);
    }
    out
}

fn find(name: &str) -> Option<PathBuf> {
    ["/bin", "/usr/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .and_then(|p| p.canonicalize().ok())
}

/// The libraries `ldd` lists for `program` (none for a static one, or without `ldd`).
fn libraries(program: &Path) -> Vec<PathBuf> {
    match Command::new("ldd").arg(program).output() {
        Ok(out) if out.status.success() => parse_ldd(&String::from_utf8_lossy(&out.stdout)),
        _ => Vec::new(),
    }
}

/// `libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x…)` → the absolute paths; the vDSO has none.
pub fn parse_ldd(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let path = match line.split_once("=>") {
                Some((_, rest)) => rest.trim(),
                None => line,
            };
            let path = path.split_whitespace().next()?;
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_lines() {
        let text = "\tlinux-vdso.so.1 (0x00007ffd)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f56)\n\
            \t/lib64/ld-linux-x86-64.so.2 (0x00007f56)\n\
            \tlibgone.so.1 => not found\n";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2")
            ]
        );
        assert!(parse_ldd("\tnot a dynamic executable\n").is_empty());
    }

    #[test]
    fn collected_items_are_absolute_and_unique() {
        let items = collect();
        for i in &items {
            assert!(i.guest.is_absolute() && i.host.is_file(), "{i:?}");
        }
        let mut guests: Vec<_> = items.iter().map(|i| &i.guest).collect();
        guests.dedup();
        assert_eq!(guests.len(), items.len());
    }
}
