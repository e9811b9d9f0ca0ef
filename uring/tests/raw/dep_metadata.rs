//! liburing-sys's `links` metadata reaches a dependent's build script intact.

#[test]
fn dep_uring_version_matches_the_linked_library() {
    let (major, minor) = (
        uring::sys::LIBURING_VERSION_MAJOR,
        uring::sys::LIBURING_VERSION_MINOR,
    );
    assert_eq!(env!("URING_LIBURING_VERSION"), format!("{major}.{minor}"));
    // SAFETY: plain getters.
    let loaded = unsafe {
        (
            uring::sys::io_uring_major_version(),
            uring::sys::io_uring_minor_version(),
        )
    };
    assert_eq!((loaded.0 as u32, loaded.1 as u32), (major, minor));
}

#[test]
fn dep_uring_include_holds_the_headers() {
    let include = std::path::Path::new(env!("URING_LIBURING_INCLUDE"));
    if !include.exists() {
        // `cargo xtask kernel-check` runs this binary inside a VM without the build tree.
        eprintln!(
            "skipped: dep_uring_include_holds_the_headers because the build's include dir {} is not on this machine",
            include.display()
        );
        return;
    }
    let header =
        std::fs::read_to_string(include.join("liburing.h")).expect("DEP_URING_INCLUDE/liburing.h");
    assert!(header.contains("io_uring_prep_nop"));
    let version_h = std::fs::read_to_string(include.join("liburing/io_uring_version.h")).unwrap();
    assert!(version_h.contains(&format!(
        "IO_URING_VERSION_MINOR {}",
        uring::sys::LIBURING_VERSION_MINOR
    )));
}

#[cfg(liburing_vendored)]
#[test]
fn vendored_build_is_2_15() {
    assert_eq!(env!("URING_LIBURING_VERSION"), "2.15");
}
