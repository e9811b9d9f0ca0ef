//! Runs `examples/cat.rs` on files and checks the bytes it writes.

use std::path::PathBuf;
use std::process::Command;

/// The built `cat` example, building it if this test run did not.
fn cat_example() -> PathBuf {
    // This test runs from <target>/<profile>/deps/; examples live beside deps/.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let built = profile_dir.join("examples").join("cat");
    if built.exists() {
        return built;
    }
    // Built into its own target directory, so as not to wait on the lock of the
    // one running this test. <target>/[<triple>/]debug: built with `--target` when
    // this run used one, so that RUSTFLAGS such as a sanitizer reach only it (and
    // not the dev-dependencies' proc macros).
    let parent = profile_dir.parent().unwrap();
    let triple = parent
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| n.contains("-linux-"))
        .map(str::to_owned);
    let root = if triple.is_some() {
        parent.parent().unwrap()
    } else {
        parent
    };
    let target = root.join("owned-example");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args([
        "build",
        "--quiet",
        "-p",
        "uring",
        "--example",
        "cat",
        "--target-dir",
    ])
    .arg(&target)
    .current_dir(env!("CARGO_MANIFEST_DIR"));
    if let Some(t) = &triple {
        cmd.args(["--target", t]);
    }
    let status = cmd.status().expect("cargo build --example cat");
    assert!(status.success());
    let out = match &triple {
        Some(t) => target.join(t),
        None => target,
    };
    out.join("debug").join("examples").join("cat")
}

fn temp_file(tag: &str, data: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("uring-owned-cat-{tag}-{}", std::process::id()));
    std::fs::write(&path, data).unwrap();
    path
}

#[test]
fn cat_example_concatenates_files_byte_for_byte() {
    // Bigger than one chain of reads (4 × 4 × 16 KiB), not a multiple of anything.
    let big: Vec<u8> = (0..300_001u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let small = b"a small file\n".to_vec();
    let empty = Vec::new();
    let paths = [
        temp_file("big", &big),
        temp_file("empty", &empty),
        temp_file("small", &small),
    ];
    let out = Command::new(cat_example()).args(&paths).output().unwrap();
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
