//! Build script of `liburing-sys`: decides where liburing comes from, and says so.
//!
//! * `vendored` feature on (the default) and `LIBURING_NO_VENDOR` unset: build liburing
//!   2.15 from `liburing/src/` with the `cc` crate ([`vendored`]).
//! * otherwise: find the system's `liburing-ffi` >= 2.4 through `LIBURING_DIR` or
//!   pkg-config ([`system`]).
//!
//! Either way it prints `cargo:include=` and `cargo:version=` (read by dependents as
//! `DEP_URING_INCLUDE` / `DEP_URING_VERSION`), `cargo:bindings_version=` (the release
//! the bindings describe, `DEP_URING_BINDINGS_VERSION`), and one `liburing_2_N` cfg
//! for every liburing minor version the linked library is at least.

mod recipe;
mod system;
mod vendored;

use std::path::PathBuf;

/// The liburing release the checked-in bindings describe and `vendored` builds.
pub const VENDORED_VERSION: Version = Version {
    major: recipe::VERSION.0,
    minor: recipe::VERSION.1,
};
/// The oldest liburing with `liburing-ffi`, the library that exports the inline helpers.
pub const MIN_SYSTEM_VERSION: Version = Version { major: 2, minor: 4 };

/// A liburing release, `major.minor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// 2 for every release this crate knows.
    pub major: u32,
    /// The minor release: 4 … 15.
    pub minor: u32,
}

impl Version {
    /// Parses `2.9`, `2.9.1` or `2.15-1` (anything after the minor number is ignored).
    pub fn parse(s: &str) -> Option<Version> {
        let mut parts = s.trim().split(['.', '-', '+', '~']);
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next()?.parse().ok()?;
        Some(Version { major, minor })
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// What a successful search or build produced.
pub struct Found {
    /// The liburing release found or built.
    pub version: Version,
    /// Directory holding `liburing.h` and `liburing/`.
    pub include: PathBuf,
}

/// Reads a configuration variable the way openssl-sys does: the target-specific name
/// first (`X86_64_UNKNOWN_LINUX_GNU_LIBURING_DIR`), then the plain one; every name read
/// is registered with cargo so a change reruns the script.
pub fn env(name: &str) -> Option<String> {
    let target = std::env::var("TARGET").unwrap_or_default();
    let prefixed = format!("{}_{name}", target.to_uppercase().replace('-', "_"));
    for var in [prefixed.as_str(), name] {
        println!("cargo:rerun-if-env-changed={var}");
        if let Ok(v) = std::env::var(var) {
            println!("cargo:warning=liburing-sys: using {var}={v}");
            return Some(v);
        }
    }
    None
}

/// True for the values people use to mean "yes": anything but unset, empty, `0`, `false`, `no`.
pub fn env_flag(name: &str) -> bool {
    env(name).is_some_and(|v| {
        !matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "0" | "false" | "no" | "off"
        )
    })
}

fn main() {
    println!("cargo:rerun-if-changed=build");
    let mut check_cfg =
        String::from("cargo::rustc-check-cfg=cfg(liburing_docs_rs, liburing_vendored");
    for minor in 0..=VENDORED_VERSION.minor {
        check_cfg.push_str(&format!(", liburing_2_{minor}"));
    }
    check_cfg.push(')');
    println!("{check_cfg}");

    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        panic!(
            "\n\nliburing-sys: io_uring exists only on Linux; this build targets `{target_os}`.\n\
             Depend on liburing-sys (or uring) only under [target.'cfg(target_os = \"linux\")'.dependencies].\n"
        );
    }

    // docs.rs builds documentation only: nothing to link.
    if std::env::var_os("DOCS_RS").is_some() {
        println!("cargo:rustc-cfg=liburing_docs_rs");
        println!("cargo:rustc-cfg=liburing_vendored");
        emit_version(VENDORED_VERSION);
        return;
    }

    let want_vendored = cfg!(feature = "vendored") && !env_flag("LIBURING_NO_VENDOR");
    let found = if want_vendored {
        println!("cargo:rustc-cfg=liburing_vendored");
        println!("cargo:vendored=1");
        vendored::build()
    } else {
        let reason = if cfg!(feature = "vendored") {
            "LIBURING_NO_VENDOR is set"
        } else {
            "the `vendored` feature is off"
        };
        system::find(reason)
    };
    println!("cargo:include={}", found.include.display());
    emit_version(found.version);
}

fn emit_version(v: Version) {
    // The newest release the bindings describe: dependents bound their own
    // `liburing_2_N` cfgs by it instead of repeating the number.
    println!("cargo:bindings_version={VENDORED_VERSION}");
    println!("cargo:bindings_version_minor={}", VENDORED_VERSION.minor);
    println!("cargo:version={v}");
    println!("cargo:version_major={}", v.major);
    println!("cargo:version_minor={}", v.minor);
    println!("cargo:rustc-env=LIBURING_SYS_VERSION_MAJOR={}", v.major);
    println!("cargo:rustc-env=LIBURING_SYS_VERSION_MINOR={}", v.minor);
    if v.major == 2 {
        for minor in 0..=v.minor.min(VENDORED_VERSION.minor) {
            println!("cargo:rustc-cfg=liburing_2_{minor}");
        }
    }
}
