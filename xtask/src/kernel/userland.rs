//! A minimal userland for the guest, borrowed from the host: tests spawn `sh -c …`,
//! `true` or `sleep`, and a bare initramfs has none of them. Each program comes with the
//! shared libraries `ldd` names, at the same paths, so the host's dynamic loader finds
//! them inside the guest too.

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

/// `bin/<program>` for each program found on the host, plus every library they load.
pub fn collect() -> Vec<Item> {
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
