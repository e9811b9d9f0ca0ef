//! Booting one kernel under QEMU with the initramfs, a wall-clock limit and the
//! device the init reports its verdict through: `isa-debug-exit` on x86_64; on arm64's
//! `virt` machine, which has none, semihosting's `SYS_EXIT_EXTENDED` (allowed from the
//! guest's user space). Either way QEMU exits with `(verdict << 1) | 1` — 1 or 3 — which
//! a guest that crashes, panics or powers off (exit 0) cannot produce.

use super::arch::{self, GuestArch};
use super::log::Outcome;
use crate::util::Result;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

impl Accel {
    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// `--accel tcg|kvm|auto`: KVM only for a guest of the host's own architecture, when
/// `/dev/kvm` opens and the CPU has vmx or svm (some hosts offer a `/dev/kvm` whose
/// guests crawl or die without them).
pub fn choose_accel(arg: &str, guest: &GuestArch) -> Result<Accel> {
    if !guest.is_host() {
        return match arg {
            "tcg" | "auto" => Ok(Accel::Tcg),
            "kvm" => Err(format!(
                "--accel kvm: an {} guest on an {} host runs under TCG only",
                guest.debian,
                std::env::consts::ARCH
            )),
            other => Err(format!("--accel {other}: expected tcg, kvm or auto")),
        };
    }
    match arg {
        "tcg" => Ok(Accel::Tcg),
        "kvm" => {
            if kvm_usable() {
                Ok(Accel::Kvm)
            } else {
                Err(
                    "--accel kvm: /dev/kvm does not open read-write or the CPU lacks vmx/svm"
                        .to_string(),
                )
            }
        }
        "auto" => Ok(if kvm_usable() { Accel::Kvm } else { Accel::Tcg }),
        other => Err(format!("--accel {other}: expected tcg, kvm or auto")),
    }
}

fn kvm_usable() -> bool {
    let opens = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    opens && cpu_has_virt(&cpuinfo)
}

fn cpu_has_virt(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

/// The QEMU for `guest` (`qemu-system-x86_64`, `qemu-system-aarch64`): `$QEMU` (x86_64)
/// or `$QEMU_AARCH64`, else the one on `PATH`.
pub fn binary(guest: &GuestArch) -> Result<PathBuf> {
    let var = if *guest == arch::X86_64 {
        "QEMU".to_string()
    } else {
        format!("QEMU_{}", guest.name.to_uppercase())
    };
    if let Some(q) = std::env::var_os(&var) {
        return Ok(PathBuf::from(q));
    }
    let name = guest.qemu;
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            format!(
                "{name} not found on PATH: apt-get install -y --no-install-recommends {} (or set {var}=/path/to/{name})",
                guest.qemu_package
            )
        })
}

/// One boot.
pub struct Boot<'a> {
    pub arch: &'a GuestArch,
    pub qemu: &'a Path,
    pub kernel: &'a Path,
    pub initramfs: &'a Path,
    pub log: &'a Path,
    pub accel: Accel,
    pub smp: u32,
    pub memory_mib: u32,
    pub limit: Duration,
    /// How long the kernel may take to start the init (its first console marker)
    /// before the boot counts as hung and is killed, long before `limit`.
    pub boot_limit: Duration,
}

impl Boot<'_> {
    pub fn command(&self) -> Command {
        let mut c = Command::new(self.qemu);
        c.args([
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
            "-no-reboot",
        ])
        .arg("-serial")
        .arg(format!("file:{}", self.log.display()))
        .args(["-accel", self.accel.name()]);
        let cpu = match (self.accel, *self.arch == arch::AARCH64) {
            (Accel::Kvm, _) => "host",
            // Armv8.x with LSE atomics, like Graviton and Ampere; pointer authentication
            // with QEMU's cheap algorithm instead of the architected one, which TCG
            // spends most of its time on otherwise.
            (Accel::Tcg, true) => "max,pauth-impdef=on",
            (Accel::Tcg, false) => "max",
        };
        c.args(["-cpu", cpu]).args([
            "-m",
            &format!("{}M", self.memory_mib),
            "-smp",
            &self.smp.to_string(),
        ]);
        if *self.arch == arch::AARCH64 {
            // `virt` has no isa-debug-exit: the init reports through semihosting, which
            // QEMU must allow from EL0 (the init is a user process).
            c.args(["-machine", "virt"]).args([
                "-semihosting-config",
                "enable=on,target=native,userspace=on",
            ]);
        } else {
            c.args(["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        }
        c.arg("-kernel")
            .arg(self.kernel)
            .arg("-initrd")
            .arg(self.initramfs)
            .arg("-append")
            .arg(format!(
                "console={} panic=-1 quiet loglevel=4 mitigations=off random.trust_cpu=on",
                self.arch.console
            ));
        c
    }

    /// Boots, waits at most `limit`, and returns how QEMU ended and how long it ran.
    pub fn run(&self) -> Result<(Outcome, Duration)> {
        let _ = std::fs::remove_file(self.log);
        let stderr_path = self.log.with_extension("qemu-stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(|e| format!("cannot create {}: {e}", stderr_path.display()))?;
        let mut cmd = self.command();
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let start = Instant::now();
        let mut init_seen = false;
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", self.qemu.display()))?;
        let outcome = loop {
            match child.try_wait() {
                Ok(Some(status)) => break Outcome::Exited(status.code()),
                Ok(None) => {}
                Err(e) => return Err(format!("waiting for QEMU: {e}")),
            }
            let elapsed = start.elapsed();
            if !init_seen && elapsed >= self.boot_limit {
                init_seen = self.init_started();
                if !init_seen {
                    // Our own child, by its handle.
                    let _ = child.kill();
                    let _ = child.wait();
                    break Outcome::NeverStarted(self.boot_limit.as_secs());
                }
            }
            if elapsed >= self.limit {
                // Our own child, by its handle.
                let _ = child.kill();
                let _ = child.wait();
                break Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let elapsed = start.elapsed();
        Ok((outcome, elapsed))
    }

    /// Whether the console shows the init's first marker.
    fn init_started(&self) -> bool {
        let text = std::fs::read(self.log).unwrap_or_default();
        let marker = format!("{} init", super::log::MARK);
        text.windows(marker.len()).any(|w| w == marker.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accel_words() {
        let host = arch::ALL.iter().find(|a| a.is_host()).unwrap();
        assert_eq!(choose_accel("tcg", host), Ok(Accel::Tcg));
        assert!(choose_accel("hvf", host).unwrap_err().contains("expected"));
        assert!(matches!(
            choose_accel("auto", host),
            Ok(Accel::Tcg | Accel::Kvm)
        ));
        let other = arch::ALL.iter().find(|a| !a.is_host()).unwrap();
        assert_eq!(choose_accel("auto", other), Ok(Accel::Tcg));
        assert!(choose_accel("kvm", other).unwrap_err().contains("TCG only"));
    }

    #[test]
    fn virt_flags() {
        assert!(cpu_has_virt("processor: 0\nflags\t\t: fpu vme vmx sse\n"));
        assert!(cpu_has_virt("flags\t\t: fpu svm\n"));
        assert!(!cpu_has_virt(
            "flags\t\t: fpu vmxnet sse\nmodel name: svm-like\n"
        ));
    }

    #[test]
    fn command_line_has_the_report_device_and_no_reboot() {
        let boot = Boot {
            arch: &arch::X86_64,
            qemu: Path::new("qemu-system-x86_64"),
            kernel: Path::new("/k/vmlinuz"),
            initramfs: Path::new("/k/initramfs.cpio"),
            log: Path::new("/k/log"),
            accel: Accel::Tcg,
            smp: 1,
            memory_mib: 1024,
            limit: Duration::from_secs(1),
            boot_limit: Duration::from_secs(1),
        };
        let line = crate::util::show(&boot.command());
        for part in [
            "-no-reboot",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
            "-accel tcg",
            "file:/k/log",
            "console=ttyS0",
            "panic=-1",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        let arm = Boot {
            arch: &arch::AARCH64,
            qemu: Path::new("qemu-system-aarch64"),
            ..boot
        };
        let line = crate::util::show(&arm.command());
        for part in [
            "-no-reboot",
            "-machine virt",
            "enable=on,target=native,userspace=on",
            "console=ttyAMA0",
            "panic=-1",
        ] {
            assert!(line.contains(part), "{part} missing from {line}");
        }
        assert!(!line.contains("isa-debug-exit"), "{line}");
    }
}
