//! The guest architectures `kernel-check` boots: what differs between an x86_64 and an
//! arm64 guest is all here (Rust target, cross linker, Debian architecture and kernel
//! image format, QEMU machine, console and the device the verdict goes out through);
//! everything else is one code path.

use crate::util::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestArch {
    /// Rust's `target_arch` (`x86_64`, `aarch64`).
    pub name: &'static str,
    /// Debian's name (`amd64`, `arm64`): kernel package suffix, apt architecture, and the
    /// prefix of non-x86 labels in the matrix.
    pub debian: &'static str,
    /// The Rust target the guest's binaries are built for.
    pub target: &'static str,
    /// The C cross toolchain prefix (`aarch64-linux-gnu-`), `None` on the host's own.
    pub cross_prefix: Option<&'static str>,
    /// Debian packages that provide the cross gcc and glibc (static) for `target`.
    pub toolchain_packages: &'static [&'static str],
    /// The QEMU system emulator and the Debian package that has it.
    pub qemu: &'static str,
    pub qemu_package: &'static str,
    /// The kernel's serial console device.
    pub console: &'static str,
}

pub const X86_64: GuestArch = GuestArch {
    name: "x86_64",
    debian: "amd64",
    target: "x86_64-unknown-linux-gnu",
    cross_prefix: None,
    toolchain_packages: &["libc6-dev"],
    qemu: "qemu-system-x86_64",
    qemu_package: "qemu-system-x86",
    console: "ttyS0",
};

pub const AARCH64: GuestArch = GuestArch {
    name: "aarch64",
    debian: "arm64",
    target: "aarch64-unknown-linux-gnu",
    cross_prefix: Some("aarch64-linux-gnu-"),
    toolchain_packages: &["gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross"],
    qemu: "qemu-system-aarch64",
    qemu_package: "qemu-system-arm",
    console: "ttyAMA0",
};

pub const ALL: &[GuestArch] = &[X86_64, AARCH64];

impl GuestArch {
    /// `--arch` values: `x86_64`/`amd64`, `aarch64`/`arm64`, or `all`.
    pub fn parse(word: &str) -> Result<Vec<GuestArch>> {
        match word {
            "all" => Ok(ALL.to_vec()),
            w => ALL
                .iter()
                .find(|a| a.name == w || a.debian == w)
                .map(|a| vec![*a])
                .ok_or_else(|| {
                    format!("--arch {w}: expected x86_64 (amd64), aarch64 (arm64) or all")
                }),
        }
    }

    /// Whether this is the machine's own architecture (KVM is possible, no cross tools).
    pub fn is_host(&self) -> bool {
        self.name == std::env::consts::ARCH
    }

    /// The C compiler that links for `target`.
    pub fn linker(&self) -> Option<String> {
        self.cross_prefix.map(|p| format!("{p}gcc"))
    }

    /// The label of a kernel in the matrix: the kernel's own name for x86_64 (as
    /// always), `arm64/6.1` for the others.
    pub fn label(&self, kernel: &str) -> String {
        if *self == X86_64 {
            kernel.to_string()
        } else {
            format!("{}/{kernel}", self.debian)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(GuestArch::parse("arm64").unwrap(), [AARCH64]);
        assert_eq!(GuestArch::parse("x86_64").unwrap(), [X86_64]);
        assert_eq!(GuestArch::parse("all").unwrap().len(), 2);
        assert!(
            GuestArch::parse("riscv64")
                .unwrap_err()
                .contains("expected")
        );
        assert_eq!(AARCH64.label("6.1"), "arm64/6.1");
        assert_eq!(X86_64.label("6.1"), "6.1");
        assert_eq!(AARCH64.linker().as_deref(), Some("aarch64-linux-gnu-gcc"));
    }
}
