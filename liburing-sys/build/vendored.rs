//! Builds the vendored liburing 2.15 with `cc`: an explicit file list and defines, as
//! liburing's own Makefile would, without running its configure script or make.

use crate::{Found, VENDORED_VERSION};
use std::path::{Path, PathBuf};

/// The library sources (`liburing_srcs` in liburing's `src/Makefile`, libc flavour)
/// plus `ffi.c`, which turns every inline helper of `liburing.h` into a real symbol.
const SOURCES: &[&str] = &[
    "setup.c",
    "queue.c",
    "register.c",
    "syscall.c",
    "version.c",
    "ffi.c",
];

pub fn build() -> Found {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest_dir.join("liburing/src");
    if !src.join("include/liburing.h").exists() {
        let lines = [
            String::new(),
            "liburing-sys: the bundled liburing 2.15 source is not in place:".into(),
            format!("  {} is missing.", src.join("include/liburing.h").display()),
            String::new(),
            "In a git checkout of the uring workspace, fetch it (from upstream git or crates.io,"
                .into(),
            "every file checked against liburing-sys/liburing-2.15.sha256) with:".into(),
            String::new(),
            "    cargo xtask vendor".into(),
            String::new(),
            "Or link the system's liburing-ffi (>= 2.4) instead: build liburing-sys with".into(),
            "`default-features = false` (or set LIBURING_NO_VENDOR=1).".into(),
        ];
        for line in lines {
            eprintln!("{line}");
        }
        std::process::exit(1);
    }
    for f in SOURCES {
        println!("cargo:rerun-if-changed={}", src.join(f).display());
    }
    println!("cargo:rerun-if-changed={}", src.join("include").display());

    // A complete include directory for us and for dependents (DEP_URING_INCLUDE):
    // liburing's headers plus the two that its configure script would generate.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let include = out.join("include");
    copy_dir(&src.join("include"), &include);
    let build_dir = manifest_dir.join("build");
    std::fs::copy(
        build_dir.join("compat.h"),
        include.join("liburing/compat.h"),
    )
    .expect("copy compat.h");
    let version_h = std::fs::read_to_string(build_dir.join("io_uring_version.h.in"))
        .expect("read io_uring_version.h.in")
        .replace("@MAJOR@", &VENDORED_VERSION.major.to_string())
        .replace("@MINOR@", &VENDORED_VERSION.minor.to_string());
    std::fs::write(include.join("liburing/io_uring_version.h"), version_h)
        .expect("write io_uring_version.h");

    let mut cc = cc::Build::new();
    cc.include(&include)
        .include(&src)
        .define("_GNU_SOURCE", None)
        .define("_LARGEFILE_SOURCE", None)
        .define("_FILE_OFFSET_BITS", "64")
        .define("LIBURING_INTERNAL", None)
        .flag_if_supported("-fno-stack-protector")
        .flag_if_supported("-Wno-unused-parameter")
        .warnings(false)
        .pic(true)
        .opt_level(3);
    for f in SOURCES {
        cc.file(src.join(f));
    }
    // `uring-ffi`: liburing plus its inline helpers, the static twin of liburing-ffi.a.
    cc.compile("uring-ffi");

    Found {
        version: VENDORED_VERSION,
        include,
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("create {}: {e}", to.display()));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("read {}: {e}", from.display()))
    {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), &dest)
                .unwrap_or_else(|e| panic!("copy {}: {e}", entry.path().display()));
        }
    }
}
