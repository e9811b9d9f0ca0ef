//! Builds the vendored liburing 2.15 with `cc`: the file list, defines and include
//! tree of [`recipe`](crate::recipe) (shared with the xtask), as liburing's own
//! Makefile would, without running its configure script or make.

use crate::recipe;
use crate::{Found, VENDORED_VERSION};
use std::path::PathBuf;

pub fn build() -> Found {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest_dir.join("liburing/src");
    if !src.join("include/liburing.h").exists() {
        let lines = [
            String::new(),
            format!(
                "liburing-sys: the bundled liburing {VENDORED_VERSION} source is not in place:"
            ),
            format!("  {} is missing.", src.join("include/liburing.h").display()),
            String::new(),
            "In a git checkout of the uring workspace, fetch it (from upstream git or crates.io,"
                .into(),
            format!(
                "every file checked against liburing-sys/liburing-{VENDORED_VERSION}.sha256) with:"
            ),
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
    let sources = || recipe::LIB_SOURCES.iter().chain([&recipe::FFI_SOURCE]);
    for f in sources() {
        println!("cargo:rerun-if-changed={}", src.join(f).display());
    }
    println!("cargo:rerun-if-changed={}", src.join("include").display());

    // A complete include directory for us and for dependents (DEP_URING_INCLUDE):
    // liburing's headers plus the two that its configure script would generate.
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let include = out.join("include");
    recipe::assemble_include(&src, &manifest_dir.join("build"), &include)
        .unwrap_or_else(|e| panic!("assembling liburing's include directory: {e}"));

    let mut cc = cc::Build::new();
    cc.include(&include).include(&src);
    for (name, value) in recipe::HEADER_DEFINES.iter().chain(recipe::LIB_DEFINES) {
        cc.define(name, *value);
    }
    for flag in recipe::LIB_FLAGS {
        cc.flag_if_supported(flag);
    }
    cc.warnings(false).pic(true).opt_level(3);
    for f in sources() {
        cc.file(src.join(f));
    }
    // `uring-ffi`: liburing plus its inline helpers, the static twin of liburing-ffi.a.
    cc.compile("uring-ffi");

    Found {
        version: VENDORED_VERSION,
        include,
    }
}
