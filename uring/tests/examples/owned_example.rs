//! Runs `examples/cat.rs` on files and checks the bytes it writes.

use crate::support;

use std::path::PathBuf;
use std::process::Command;

fn cat_example() -> PathBuf {
    support::example("cat", &[])
}

fn temp_file(tag: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("uring-owned-cat-{tag}-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

/// Runs the example with `flags` on three files and checks it wrote their bytes.
fn concatenates(tag: &str, flags: &[&str]) {
    // Bigger than one chain of reads (4 × 4 × 16 KiB), not a multiple of anything.
    let big: Vec<u8> = (0..300_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let small = b"a small file\n".to_vec();
    let empty = Vec::new();
    let paths = [
        temp_file(&format!("{tag}-big"), &big),
        temp_file(&format!("{tag}-empty"), &empty),
        temp_file(&format!("{tag}-small"), &small),
    ];
    let out = Command::new(cat_example())
        .args(flags)
        .args(&paths)
        .output()
        .unwrap();
    for p in &paths {
        let _ = std::fs::remove_file(p);
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let want: Vec<u8> = [&big[..], &empty[..], &small[..]].concat();
    assert_eq!(out.stdout.len(), want.len());
    assert!(out.stdout == want, "output differs from the files' bytes");
}

#[test]
fn cat_example_concatenates_files_byte_for_byte() {
    concatenates("plain", &[]);
}

#[test]
fn cat_example_with_sqpoll_concatenates_files_too() {
    if let Err(e) = uring::Ring::builder().sqpoll().build(4) {
        println!("skipped: cat --sqpoll because this kernel refuses an SQPOLL ring ({e})");
        return;
    }
    concatenates("sqpoll", &["--sqpoll"]);
}

#[test]
fn cat_example_reports_a_missing_file() {
    let out = Command::new(cat_example())
        .arg("/nonexistent/uring-owned-cat")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/uring-owned-cat"), "{err}");
    assert!(out.stdout.is_empty());
}
