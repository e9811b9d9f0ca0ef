//! Reads the metadata liburing-sys publishes (`links = "uring"`) so `uring` knows which
//! liburing it is linked against: `cfg(liburing_2_N)` for every minor release the linked
//! liburing is at least, and `URING_LIBURING_VERSION` / `URING_LIBURING_MINOR` /
//! `URING_LIBURING_INCLUDE` for code and tests.
//!
//! Both numbers come from liburing-sys alone: `DEP_URING_VERSION_MINOR` (the linked
//! release) and `DEP_URING_BINDINGS_VERSION_MINOR` (the newest release its bindings
//! describe, which bounds the cfg names), so nothing here changes when the bundled
//! liburing does.

fn main() {
    let version = dep("VERSION");
    let include = std::env::var("DEP_URING_INCLUDE").unwrap_or_default();
    let minor = dep_minor("VERSION_MINOR");
    let newest = dep_minor("BINDINGS_VERSION_MINOR");
    let mut check = String::from("cargo::rustc-check-cfg=cfg(liburing_vendored");
    for m in 0..=newest {
        check.push_str(&format!(", liburing_2_{m}"));
    }
    check.push(')');
    println!("{check}");
    for m in 0..=minor.min(newest) {
        println!("cargo:rustc-cfg=liburing_2_{m}");
    }
    if std::env::var("DEP_URING_VENDORED").is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg=liburing_vendored");
    }
    println!("cargo:rustc-env=URING_LIBURING_VERSION={version}");
    println!("cargo:rustc-env=URING_LIBURING_MINOR={minor}");
    println!("cargo:rustc-env=URING_LIBURING_INCLUDE={include}");
    write_doc_aliases();
    copy_header(&include);
}

/// Copies the linked liburing's `liburing.h` to `$OUT_DIR/liburing.h` for
/// `tests/raw/liburing_names.rs` (compiled in, since `kernel-check`'s guests have no
/// source tree). Without an include directory (liburing-sys under `DOCS_RS`, as the
/// cross-architecture compile checks build it) the copy is empty: the test then fails
/// saying it read no name, and such builds only compile it.
fn copy_header(include: &str) {
    let out =
        std::path::Path::new(&std::env::var("OUT_DIR").expect("set by cargo")).join("liburing.h");
    let text = if include.is_empty() {
        String::new()
    } else {
        let path = std::path::Path::new(include).join("liburing.h");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
    };
    std::fs::write(&out, text).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// Writes every `doc(alias = "io_uring_…")` of `src/` to `$OUT_DIR/doc_aliases.txt`,
/// one a line, for `tests/raw/liburing_names.rs` (which must also run where there is no
/// source tree, inside `kernel-check`'s guests).
fn write_doc_aliases() {
    fn walk(dir: &std::path::Path, out: &mut Vec<String>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
            .map(|e| e.expect("a directory entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path)
                    .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
                let marker = "doc(alias = \"";
                let mut rest = text.as_str();
                while let Some(at) = rest.find(marker) {
                    rest = &rest[at + marker.len()..];
                    let end = rest.find('"').unwrap_or(0);
                    if rest[..end].starts_with("io_uring_") {
                        out.push(rest[..end].to_string());
                    }
                }
            }
        }
    }
    let src = std::path::Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"))
        .join("src");
    let mut aliases = Vec::new();
    walk(&src, &mut aliases);
    aliases.sort();
    aliases.dedup();
    let out = std::path::Path::new(&std::env::var("OUT_DIR").expect("set by cargo"))
        .join("doc_aliases.txt");
    std::fs::write(&out, aliases.join("\n"))
        .unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// `DEP_URING_<name>`, which liburing-sys's build script always sets.
fn dep(name: &str) -> String {
    std::env::var(format!("DEP_URING_{name}"))
        .unwrap_or_else(|_| panic!("liburing-sys sets DEP_URING_{name} (its `links` metadata)"))
}

fn dep_minor(name: &str) -> u32 {
    let v = dep(name);
    v.parse()
        .unwrap_or_else(|_| panic!("DEP_URING_{name} is `{v}`, not a number"))
}
