//! Reads the metadata liburing-sys publishes (`links = "uring"`) so `uring` knows which
//! liburing it is linked against: `cfg(liburing_2_N)` for every minor release the linked
//! liburing is at least, and `URING_LIBURING_VERSION` / `URING_LIBURING_INCLUDE` for code
//! and tests.

fn main() {
    let version = std::env::var("DEP_URING_VERSION").expect("liburing-sys sets DEP_URING_VERSION");
    let include = std::env::var("DEP_URING_INCLUDE").unwrap_or_default();
    let minor: u32 = std::env::var("DEP_URING_VERSION_MINOR")
        .ok()
        .and_then(|m| m.parse().ok())
        .expect("liburing-sys sets DEP_URING_VERSION_MINOR");
    let mut check = String::from("cargo::rustc-check-cfg=cfg(liburing_vendored");
    for m in 0..=15 {
        check.push_str(&format!(", liburing_2_{m}"));
    }
    check.push(')');
    println!("{check}");
    for m in 0..=minor.min(15) {
        println!("cargo:rustc-cfg=liburing_2_{m}");
    }
    if std::env::var("DEP_URING_VENDORED").is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg=liburing_vendored");
    }
    println!("cargo:rustc-env=URING_LIBURING_VERSION={version}");
    println!("cargo:rustc-env=URING_LIBURING_INCLUDE={include}");
}
