//! Runs `examples/cp.rs` on files and checks the copies: bytes and permissions.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn cp_example() -> PathBuf {
    support::example("cp", &[])
}

fn temp_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("uring-owned-cp-{tag}-{}", std::process::id()))
}

fn run_cp(src: &Path, dst: &Path) -> Output {
    Command::new(cp_example())
        .arg(src)
        .arg(dst)
        .output()
        .unwrap()
}

/// Writes `data` to a source file with permissions `mode`, copies it, and checks
/// the copy.
fn copies(tag: &str, data: &[u8], mode: u32) {
    copies_over(tag, data, mode, None);
}

/// As [`copies`], onto a destination that already holds `old` when given.
fn copies_over(tag: &str, data: &[u8], mode: u32, old: Option<&[u8]>) {
    let src = temp_path(&format!("{tag}-src"));
    let dst = temp_path(&format!("{tag}-dst"));
    let _ = std::fs::remove_file(&dst);
    if let Some(old) = old {
        std::fs::write(&dst, old).unwrap();
    }
    std::fs::write(&src, data).unwrap();
    std::fs::set_permissions(&src, std::fs::Permissions::from_mode(mode)).unwrap();
    let out = run_cp(&src, &dst);
    let got = std::fs::read(&dst);
    let got_mode = std::fs::metadata(&dst).map(|m| m.permissions().mode() & 0o7777);
    let _ = std::fs::remove_file(&src);
    let _ = std::fs::remove_file(&dst);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = got.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "the copy's bytes differ from the source's");
    assert_eq!(got_mode.unwrap(), mode, "permission bits differ");
}

/// Pseudo-random bytes (xorshift), reproducible.
fn noise(len: usize) -> Vec<u8> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn cp_example_copies_a_large_file_byte_for_byte() {
    // Eight 128 KiB blocks and a short tail: more blocks than are in flight.
    copies("big", &noise((1 << 20) + 123), 0o640);
}

#[test]
fn cp_example_copies_a_file_of_whole_blocks() {
    // Ends exactly at a block boundary: the chain after the last one reads 0 bytes.
    copies("whole", &noise(5 * 128 * 1024), 0o644);
}

#[test]
fn cp_example_shortens_a_longer_destination() {
    let old = noise(700 * 1024);
    copies_over("shorter", &noise(200 * 1024 + 7), 0o644, Some(&old));
}

#[test]
fn cp_example_copies_an_empty_file() {
    copies("empty", &[], 0o600);
}

#[test]
fn cp_example_copies_a_file_smaller_than_a_block() {
    copies("small", b"a small file, well under one block\n", 0o754);
}

#[test]
fn cp_example_reports_a_missing_source() {
    let dst = temp_path("missing-dst");
    let out = run_cp(Path::new("/nonexistent/uring-owned-cp"), &dst);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/uring-owned-cp"), "{err}");
    assert!(
        !dst.exists(),
        "no destination is created for a missing source"
    );
}

#[test]
fn cp_example_reports_an_unwritable_destination() {
    let src = temp_path("unwritable-src");
    std::fs::write(&src, b"data").unwrap();
    let out = run_cp(&src, Path::new("/nonexistent/uring-owned-cp-dst"));
    let _ = std::fs::remove_file(&src);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/uring-owned-cp-dst"), "{err}");
}
