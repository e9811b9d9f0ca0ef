//! Finds the system's liburing: `LIBURING_DIR`, else pkg-config's `liburing-ffi`.
//!
//! Bindings name inline helpers as functions, so what we link must export them: that is
//! `liburing-ffi` (liburing >= 2.4). An older or absent liburing stops the build with a
//! message that says what was found, what is needed, and how to vendor instead.

use crate::{Found, MIN_SYSTEM_VERSION, VENDORED_VERSION, Version, env, env_flag};
use std::path::{Path, PathBuf};

pub fn find(why_system: &str) -> Found {
    let statik = env_flag("LIBURING_STATIC");
    let mut tried = Vec::new();

    if let Some(dir) = env("LIBURING_DIR") {
        match from_dir(Path::new(&dir), statik) {
            Ok(found) => return found,
            Err(e) => fail(why_system, &[format!("LIBURING_DIR={dir}: {e}")]),
        }
    }

    let mut cfg = pkg_config::Config::new();
    cfg.statik(statik).cargo_metadata(false);
    match cfg.probe("liburing-ffi") {
        Ok(lib) => {
            let version = Version::parse(&lib.version);
            match version {
                Some(v) if v >= MIN_SYSTEM_VERSION => {
                    // Now emit the link lines for real.
                    cfg.cargo_metadata(true).probe("liburing-ffi").expect("second probe");
                    let include = lib
                        .include_paths
                        .iter()
                        .find(|p| p.join("liburing.h").exists())
                        .cloned()
                        .unwrap_or_else(|| PathBuf::from("/usr/include"));
                    return Found { version: check_header_version(&include, v), include };
                }
                _ => tried.push(format!(
                    "pkg-config found liburing-ffi {} in {:?}, but liburing-sys needs >= {MIN_SYSTEM_VERSION}",
                    lib.version, lib.link_paths
                )),
            }
        }
        Err(e) => tried.push(format!(
            "pkg-config liburing-ffi: {}",
            pkg_config_reason(&e.to_string())
        )),
    }

    // Say what *is* installed, if anything: the usual case is a liburing too old for ffi.
    match pkg_config::Config::new().cargo_metadata(false).probe("liburing") {
        Ok(lib) => tried.push(format!(
            "pkg-config found liburing {} (without liburing-ffi, which first shipped in liburing {MIN_SYSTEM_VERSION})",
            lib.version
        )),
        Err(_) => tried.push("pkg-config liburing: not found either".into()),
    }
    fail(why_system, &tried)
}

fn from_dir(dir: &Path, statik: bool) -> Result<Found, String> {
    let include = dir.join("include");
    if !include.join("liburing.h").exists() {
        return Err(format!("no {}", include.join("liburing.h").display()));
    }
    let version = match header_version(&include) {
        Some(v) => v,
        // Releases before 2.4 have no io_uring_version.h; the shared library's file
        // name (liburing.so.2.3) still tells which one it is.
        None => {
            let found = LIB_DIRS.iter().find_map(|d| soname_version(&dir.join(d)));
            return Err(match found {
                Some(v) => format!(
                    "it holds liburing {v} (no liburing/io_uring_version.h, no liburing-ffi); liburing-sys needs >= {MIN_SYSTEM_VERSION}"
                ),
                None => format!(
                    "no IO_URING_VERSION_MAJOR/MINOR in {}: a liburing older than {MIN_SYSTEM_VERSION}",
                    include.join("liburing/io_uring_version.h").display()
                ),
            });
        }
    };
    if version < MIN_SYSTEM_VERSION {
        return Err(format!(
            "it holds liburing {version}; liburing-sys needs >= {MIN_SYSTEM_VERSION}"
        ));
    }
    let libname = if statik {
        "liburing-ffi.a"
    } else {
        "liburing-ffi.so"
    };
    let libdir = [
        "lib",
        "lib64",
        "lib/x86_64-linux-gnu",
        "lib/aarch64-linux-gnu",
        "lib/riscv64-linux-gnu",
    ]
    .iter()
    .map(|d| dir.join(d))
    .find(|d| d.join(libname).exists())
    .ok_or_else(|| format!("no {libname} under {}/lib*", dir.display()))?;
    println!("cargo:rustc-link-search=native={}", libdir.display());
    println!(
        "cargo:rustc-link-lib={}=uring-ffi",
        if statik { "static" } else { "dylib" }
    );
    Ok(Found { version, include })
}

/// Where a prefix keeps its libraries, in the order searched.
const LIB_DIRS: &[&str] = &[
    "lib",
    "lib64",
    "lib/x86_64-linux-gnu",
    "lib/aarch64-linux-gnu",
    "lib/riscv64-linux-gnu",
];

/// The version in a `liburing.so.2.3`-style file name in `dir`, if any.
fn soname_version(dir: &Path) -> Option<Version> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        Version::parse(name.strip_prefix("liburing.so.")?)
    })
}

/// Reads `IO_URING_VERSION_MAJOR`/`MINOR` from `liburing/io_uring_version.h`.
fn header_version(include: &Path) -> Option<Version> {
    let text = std::fs::read_to_string(include.join("liburing/io_uring_version.h")).ok()?;
    let get = |name: &str| -> Option<u32> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("#define")?.trim().strip_prefix(name))
            .find_map(|rest| rest.trim().parse().ok())
    };
    Some(Version {
        major: get("IO_URING_VERSION_MAJOR")?,
        minor: get("IO_URING_VERSION_MINOR")?,
    })
}

/// Prefers the header's version over pkg-config's when both exist and disagree, since
/// the header is what the bindings are compared against; warns about the mismatch.
fn check_header_version(include: &Path, pc: Version) -> Version {
    match header_version(include) {
        Some(h) if h != pc => {
            println!(
                "cargo:warning=liburing-sys: pkg-config says liburing {pc} but {} says {h}; using {h}",
                include.join("liburing/io_uring_version.h").display()
            );
            h
        }
        _ => pc,
    }
}

/// The informative line of a pkg-config error ("Package … was not found …").
fn pkg_config_reason(s: &str) -> &str {
    s.lines()
        .map(str::trim)
        .find(|l| l.contains("not found") || l.contains("No package"))
        .or_else(|| s.lines().map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or(s)
}

fn fail(why_system: &str, tried: &[String]) -> ! {
    let host = std::env::var("HOST").unwrap_or_default();
    let target = std::env::var("TARGET").unwrap_or_default();
    let lines = [
        String::new(),
        format!("liburing-sys: no usable system liburing ({why_system}, so the system copy is required)."),
        String::new(),
        format!("Needed: liburing-ffi >= {MIN_SYSTEM_VERSION} (these bindings describe liburing {VENDORED_VERSION};"),
        "        releases before 2.4 have no liburing-ffi exporting the inline helpers).".into(),
        "Tried:".into(),
    ]
    .into_iter()
    .chain(tried.iter().map(|t| format!("  - {t}")))
    .chain([
        String::new(),
        "Fix it one of these ways:".into(),
        format!("  - use the bundled liburing {VENDORED_VERSION}: enable the `vendored` feature of liburing-sys"),
        "    (it is on by default: it was turned off by `default-features = false`, or".into(),
        "    LIBURING_NO_VENDOR=1 is set);".into(),
        "  - install liburing >= 2.4 with its development files: Debian 13+ / Ubuntu 24.04+:".into(),
        "    `apt-get install liburing-dev`; Fedora: `dnf install liburing-devel`;".into(),
        "    Arch: `pacman -S liburing`;".into(),
        "  - point PKG_CONFIG_PATH at the directory holding liburing-ffi.pc;".into(),
        "  - set LIBURING_DIR to a prefix with include/liburing.h and lib/liburing-ffi.so".into(),
        "    (or lib/liburing-ffi.a with LIBURING_STATIC=1).".into(),
        String::new(),
        format!("host: {host}, target: {target}"),
    ]);
    for line in lines {
        eprintln!("{line}");
    }
    std::process::exit(1);
}
