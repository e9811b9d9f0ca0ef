//! Every `io_uring_*` name of the linked `liburing.h` finds its Rust home: a doc
//! alias on its counterpart, or an alias and a row on the `uring::liburing` page.
//! A new liburing cannot add a name that this crate's docs are silent about.

/// The linked liburing's header, read at compile time (the test also runs inside
/// `kernel-check`'s guests, which have no source tree).
const HEADER: &str = include_str!(concat!(env!("OUT_DIR"), "/liburing.h"));
/// The `io_uring_*` doc aliases of `src/`, collected by the build script.
const ALIASES: &str = include_str!(concat!(env!("OUT_DIR"), "/doc_aliases.txt"));
/// The `liburing → uring` page.
const TABLE: &str = include_str!("../../src/liburing.rs");

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The `io_uring_*` identifiers of `text` that are called or declared (followed by
/// `(`), sorted and without repeats: the functions, inline helpers and macros.
fn called_names(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut names = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("io_uring_") {
        let start = from + at;
        let mut end = start;
        while end < bytes.len() && is_name_byte(bytes[end]) {
            end += 1;
        }
        from = end;
        if start > 0 && is_name_byte(bytes[start - 1]) {
            continue; // inside a longer identifier (__io_uring_…)
        }
        let mut next = end;
        while next < bytes.len() && (bytes[next] == b' ' || bytes[next] == b'\t') {
            next += 1;
        }
        if bytes.get(next) == Some(&b'(') {
            names.push(&text[start..end]);
        }
    }
    names.sort_unstable();
    names.dedup();
    names
}

/// The aliases this page gives itself (`#![doc(alias = "…")]`).
fn page_aliases() -> Vec<&'static str> {
    TABLE
        .lines()
        .filter_map(|l| l.strip_prefix("#![doc(alias = \""))
        .filter_map(|l| l.strip_suffix("\")]"))
        .collect()
}

#[test]
fn the_header_is_read() {
    let names = called_names(HEADER);
    for known in [
        "io_uring_queue_init",
        "io_uring_prep_read",
        "io_uring_submit",
    ] {
        assert!(names.contains(&known), "{known} not found in liburing.h");
    }
    // liburing 2.4 already declares well over a hundred of them.
    assert!(names.len() > 150, "only {} names read", names.len());
}

#[test]
fn every_liburing_name_has_a_rust_home() {
    let aliases: Vec<&str> = ALIASES.lines().collect();
    let missing: Vec<&str> = called_names(HEADER)
        .into_iter()
        .filter(|n| aliases.binary_search(n).is_err())
        .collect();
    assert!(
        missing.is_empty(),
        "{} name(s) of {}/liburing.h have no doc alias in uring: {missing:?}. Put \
         #[doc(alias = \"…\")] on the Rust counterpart, or an alias and a row in \
         src/liburing.rs",
        missing.len(),
        env!("URING_LIBURING_INCLUDE"),
    );
}

#[test]
fn every_alias_of_the_table_page_has_its_row() {
    let rows: Vec<&str> = TABLE.lines().filter(|l| l.starts_with("//! | `")).collect();
    let page = page_aliases();
    assert!(page.len() >= 20, "the page's aliases were not read");
    for name in page {
        let quoted = format!("`{name}`");
        let row = rows.iter().find(|r| {
            let first = r
                .trim_start_matches("//! |")
                .split(" | ")
                .next()
                .unwrap_or("");
            first.split(", ").any(|c| c.trim() == quoted)
        });
        assert!(
            row.is_some(),
            "{name} is an alias of the liburing page without a row there"
        );
    }
}

#[test]
fn the_scanner_finds_only_calls_and_declarations() {
    let text = "int io_uring_a(int x);\n#define io_uring_b (x)\nstruct io_uring_c {};\n\
                __io_uring_d(); io_uring_a (1); /* io_uring_e */";
    assert_eq!(called_names(text), ["io_uring_a", "io_uring_b"]);
}
