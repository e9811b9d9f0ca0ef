//! How the bundled liburing is compiled, written down once.
//!
//! Read by liburing-sys's build script (`vendored.rs` compiles the library with it)
//! and by the xtask (`#[path]`-included: `bench` compiles the same library for the C
//! side of the benchmarks, `regen-bindings` hands bindgen the same include tree), so
//! the three cannot drift apart. Only `std` is used here, for that reason.

use std::io;
use std::path::Path;

/// The liburing release bundled: `(major, minor)`. The bindings describe it, the
/// build script compiles it, and dependents see it as `DEP_URING_BINDINGS_VERSION`.
pub const VERSION: (u32, u32) = (2, 15);

/// The library's sources in liburing's `src/` (`liburing_srcs` of its
/// `src/Makefile`, libc flavour): what a C program links as `liburing.a`.
pub const LIB_SOURCES: &[&str] = &["setup.c", "queue.c", "register.c", "syscall.c", "version.c"];

/// liburing's `ffi.c`: compiles every inline helper of `liburing.h` into a real
/// symbol (`liburing-ffi`), which the Rust bindings call.
pub const FFI_SOURCE: &str = "ffi.c";

/// Defines for anything compiled against liburing's headers (the library, C
/// programs using it, bindgen): `(name, value)`.
pub const HEADER_DEFINES: &[(&str, Option<&str>)] =
    &[("_GNU_SOURCE", None), ("_FILE_OFFSET_BITS", Some("64"))];

/// Further defines for the library's own sources, as its Makefile passes them.
pub const LIB_DEFINES: &[(&str, Option<&str>)] =
    &[("_LARGEFILE_SOURCE", None), ("LIBURING_INTERNAL", None)];

/// Compiler flags for the library's sources besides the defines (liburing's
/// Makefile builds with `-O3`, no stack protector).
pub const LIB_FLAGS: &[&str] = &["-O3", "-fno-stack-protector", "-Wno-unused-parameter"];

/// `-D` arguments for `defines`, for a `cc` command line. (The xtask's; the build
/// script hands the defines to the `cc` crate one by one.)
#[allow(dead_code)]
pub fn define_args(defines: &[(&str, Option<&str>)]) -> Vec<String> {
    defines
        .iter()
        .map(|(name, value)| match value {
            Some(v) => format!("-D{name}={v}"),
            None => format!("-D{name}"),
        })
        .collect()
}

/// Puts a complete include directory in `dest` (emptied first): liburing's
/// `src/include` (under `liburing_src`) plus the two headers its configure script
/// would generate, from this crate's `build/` directory (`build_dir`):
/// `liburing/compat.h`, and `liburing/io_uring_version.h` naming [`VERSION`].
pub fn assemble_include(liburing_src: &Path, build_dir: &Path, dest: &Path) -> io::Result<()> {
    match std::fs::remove_dir_all(dest) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(with_path(e, dest)),
        _ => {}
    }
    copy_dir(&liburing_src.join("include"), dest)?;
    let compat = build_dir.join("compat.h");
    std::fs::copy(&compat, dest.join("liburing/compat.h")).map_err(|e| with_path(e, &compat))?;
    let template = build_dir.join("io_uring_version.h.in");
    let version_h = std::fs::read_to_string(&template)
        .map_err(|e| with_path(e, &template))?
        .replace("@MAJOR@", &VERSION.0.to_string())
        .replace("@MINOR@", &VERSION.1.to_string());
    let out = dest.join("liburing/io_uring_version.h");
    std::fs::write(&out, version_h).map_err(|e| with_path(e, &out))
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to).map_err(|e| with_path(e, to))?;
    for entry in std::fs::read_dir(from).map_err(|e| with_path(e, from))? {
        let entry = entry?;
        let dest = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest).map_err(|e| with_path(e, &entry.path()))?;
        }
    }
    Ok(())
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
