//! Which kernels `kernel-check` boots and where their images come from: pinned Debian
//! `-cloud-amd64` and `-cloud-arm64` packages (io_uring, the serial console — 8250 or
//! PL011 — and devtmpfs built in, so no modules are needed), downloaded with
//! `apt-get download` under a private `APT_CONFIG` and never installed; or a `vmlinuz`
//! the user names by path.

use super::arch::{self, GuestArch};
use crate::debian::Apt;
use crate::util::{self, Result, project_root};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A pinned Debian kernel package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pinned {
    /// The name users type (`6.1`).
    pub name: &'static str,
    /// Who runs it, for the help text.
    pub note: &'static str,
    pub suite: &'static str,
    pub package: &'static str,
    pub version: &'static str,
}

/// Every kernel `kernel-check` knows by name. Each package+version was checked to
/// download (several indexed ones 404: 5.10.0-43/-44 in bullseye-security, for one).
/// Find candidates with `APT_CONFIG=target/apt/kernels/apt.conf apt-cache madison NAME`.
pub const KNOWN: &[Pinned] = &[
    Pinned {
        name: "5.10",
        note: "Debian 11",
        suite: "bullseye-security",
        package: "linux-image-5.10.0-46-cloud-amd64",
        version: "5.10.262-1",
    },
    Pinned {
        name: "6.1",
        note: "Debian 12",
        suite: "bookworm-security",
        package: "linux-image-6.1.0-56-cloud-amd64",
        version: "6.1.192-2",
    },
    Pinned {
        name: "6.12",
        note: "Debian 13",
        suite: "trixie-security",
        package: "linux-image-6.12.118+deb13-cloud-amd64",
        version: "6.12.118-1",
    },
    Pinned {
        name: "6.16",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-image-6.16.12+deb13-cloud-amd64",
        version: "6.16.12-1~bpo13+1",
    },
    Pinned {
        name: "6.17",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-image-6.17.13+deb13-cloud-amd64",
        version: "6.17.13-1~bpo13+1",
    },
    Pinned {
        name: "6.18",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-image-6.18.15+deb13-cloud-amd64",
        version: "6.18.15-1~bpo13+1",
    },
    Pinned {
        name: "6.19",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-binary-6.19.14+deb13-cloud-amd64",
        version: "6.19.14-1~bpo13+1",
    },
    Pinned {
        name: "7.0",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-binary-7.0.13+deb13-cloud-amd64",
        version: "7.0.13-1~bpo13+1",
    },
    Pinned {
        name: "7.1",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-binary-7.1.13+deb13-cloud-amd64",
        version: "7.1.13-1~bpo13+1",
    },
    Pinned {
        name: "7.2",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-binary-7.2.12+deb13-cloud-amd64",
        version: "7.2.12-1~bpo13+1",
    },
    Pinned {
        name: "7.3",
        note: "trixie-backports, newest",
        suite: "trixie-backports",
        package: "linux-binary-7.3.4+deb13-cloud-amd64",
        version: "7.3.4-1~bpo13+1",
    },
];

/// What runs when no `--kernel` is given.
pub const DEFAULT_SET: &[&str] = &["5.10", "6.1", "6.12", "6.16", "6.18", "6.19", "7.0", "7.3"];

/// The arm64 kernels, pinned the same way. Every one was checked to download: the
/// archive's security mirror 404s for bullseye's arm64 5.10 updates, so 5.10 is the
/// newest bullseye point release's (5.10.223) from the main archive.
pub const KNOWN_ARM64: &[Pinned] = &[
    Pinned {
        name: "5.10",
        note: "Debian 11, oldest",
        suite: "bullseye",
        package: "linux-image-5.10.0-32-cloud-arm64",
        version: "5.10.223-1",
    },
    Pinned {
        name: "6.1",
        note: "Debian 12",
        suite: "bookworm-security",
        package: "linux-image-6.1.0-56-cloud-arm64",
        version: "6.1.192-2",
    },
    Pinned {
        name: "6.12",
        note: "Debian 13",
        suite: "trixie-security",
        package: "linux-image-6.12.118+deb13-cloud-arm64",
        version: "6.12.118-1",
    },
    Pinned {
        name: "6.16",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-image-6.16.12+deb13-cloud-arm64",
        version: "6.16.12-1~bpo13+1",
    },
    Pinned {
        name: "6.18",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-image-6.18.15+deb13-cloud-arm64",
        version: "6.18.15-1~bpo13+1",
    },
    Pinned {
        name: "7.0",
        note: "trixie-backports",
        suite: "trixie-backports",
        package: "linux-binary-7.0.13+deb13-cloud-arm64",
        version: "7.0.13-1~bpo13+1",
    },
    Pinned {
        name: "7.3",
        note: "trixie-backports, newest",
        suite: "trixie-backports",
        package: "linux-binary-7.3.4+deb13-cloud-arm64",
        version: "7.3.4-1~bpo13+1",
    },
];

/// arm64's default: the oldest and newest kernels Debian serves for it, and Debian 12's
/// and 13's in between (all under TCG; see `kernel.rs` for the cost).
pub const DEFAULT_SET_ARM64: &[&str] = &["5.10", "6.1", "6.12", "7.3"];

/// The pinned kernels of `arch`.
pub fn known(arch: &GuestArch) -> &'static [Pinned] {
    if *arch == arch::AARCH64 {
        KNOWN_ARM64
    } else {
        KNOWN
    }
}

/// What runs on `arch` when no `--kernel` is given.
pub fn default_set(arch: &GuestArch) -> &'static [&'static str] {
    if *arch == arch::AARCH64 {
        DEFAULT_SET_ARM64
    } else {
        DEFAULT_SET
    }
}

/// A kernel to boot, as the user asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    Pinned(Pinned),
    Path(PathBuf),
}

impl Spec {
    /// The label in the matrix.
    pub fn label(&self) -> String {
        match self {
            Spec::Pinned(p) => p.name.to_string(),
            Spec::Path(p) => {
                // `vmlinuz-6.1.0-56-cloud-amd64` says enough; a bare `vmlinuz` or
                // `bzImage` gets its folder's name too.
                let file = p.file_name().map(|f| f.to_string_lossy().into_owned());
                let parent = p
                    .parent()
                    .and_then(|d| d.file_name())
                    .map(|d| d.to_string_lossy());
                match (file, parent) {
                    (Some(f), Some(d)) if f == "vmlinuz" || f == "bzImage" => format!("{d}/{f}"),
                    (Some(f), _) => f,
                    (None, _) => p.display().to_string(),
                }
            }
        }
    }
}

/// Turns `--kernel` values into specs for `arch`: a known name, `all`, or a path to a
/// kernel image.
pub fn resolve(args: &[String], arch: &GuestArch) -> Result<Vec<Spec>> {
    let known = known(arch);
    let names: Vec<&str> = if args.is_empty() {
        default_set(arch).to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    let mut out = Vec::new();
    for arg in names {
        if arg == "all" {
            out.extend(known.iter().map(|p| Spec::Pinned(*p)));
        } else if let Some(p) = known.iter().find(|p| p.name == arg) {
            out.push(Spec::Pinned(*p));
        } else if arg.contains('/') || Path::new(arg).is_file() {
            let path = PathBuf::from(arg);
            if !path.is_file() {
                return Err(format!("--kernel {arg}: no such file"));
            }
            out.push(Spec::Path(path));
        } else {
            let names: Vec<&str> = known.iter().map(|p| p.name).collect();
            return Err(format!(
                "--kernel {arg}: not an {} kernel this xtask knows ({}), `all`, or a path to a vmlinuz",
                arch.debian,
                names.join(", ")
            ));
        }
    }
    let mut seen = Vec::new();
    out.retain(|s| {
        let new = !seen.contains(s);
        seen.push(s.clone());
        new
    });
    Ok(out)
}

fn cache_dir() -> PathBuf {
    project_root().join("target/kernel-check/kernels")
}

/// The cached image of a pinned kernel (whether or not it is there yet).
pub fn cached_image(p: &Pinned) -> PathBuf {
    cache_dir()
        .join(format!("{}_{}", p.package, p.version).replace(['~', '+', ':'], "_"))
        .join("vmlinuz")
}

/// The private apt configuration's name for `arch`'s kernels.
fn apt_name(arch: &GuestArch) -> String {
    if *arch == arch::X86_64 {
        "kernels".to_string()
    } else {
        format!("kernels-{}", arch.debian)
    }
}

/// The kernel image for each spec, downloading and unpacking pinned ones not yet cached.
/// One result per spec: a kernel the archive no longer has does not stop the others.
pub fn obtain(specs: &[Spec], arch: &GuestArch) -> Vec<Result<PathBuf>> {
    let missing = specs
        .iter()
        .any(|s| matches!(s, Spec::Pinned(p) if !cached_image(p).is_file()));
    let apt = if missing {
        // Always the same suite list, so the private apt lists are shared between runs
        // whatever subset of kernels is asked for.
        let mut suites: Vec<&str> = known(arch).iter().map(|p| p.suite).collect();
        suites.sort();
        suites.dedup();
        Some(Apt::for_arch(&apt_name(arch), &suites, "main", arch.debian))
    } else {
        None
    };
    specs
        .iter()
        .map(|s| match s {
            Spec::Pinned(p) if cached_image(p).is_file() => Ok(cached_image(p)),
            Spec::Pinned(p) => match &apt {
                Some(Ok(apt)) => download(apt, p, arch).map(|()| cached_image(p)),
                Some(Err(e)) => Err(format!("cannot set up apt for the kernel packages: {e}")),
                None => Err(format!("kernel {} is not cached", p.name)),
            },
            Spec::Path(path) => check_image(path, arch).map(|()| path.clone()),
        })
        .collect()
}

fn download(apt: &Apt, p: &Pinned, arch: &GuestArch) -> Result {
    let debs = project_root().join("target/kernel-check/debs");
    let spec = format!("{}={}", p.package, p.version);
    let deb = apt.download(&[&spec], &debs).map_err(|e| {
        format!(
            "{e}\nkernel {} ({spec}) could not be downloaded; the archive may have dropped it. \
             List what exists with `APT_CONFIG={} apt-cache madison {}` and update the pin in \
             xtask/src/kernel/kernels.rs",
            p.name,
            project_root()
                .join("target/apt")
                .join(apt_name(arch))
                .join("apt.conf")
                .display(),
            p.package
        )
    })?;
    let deb = deb
        .first()
        .ok_or_else(|| format!("apt-get download {spec} returned nothing"))?;
    extract_vmlinuz(deb, &cached_image(p), arch)?;
    // The image is what we keep; the .deb (up to 50 MB) is not needed again.
    let _ = std::fs::remove_file(deb);
    Ok(())
}

/// Pulls the one kernel image out of a kernel package: `./boot/vmlinuz-*` up to 7.0,
/// `./usr/lib/modules/<version>/vmlinuz` from 7.2 on.
fn extract_vmlinuz(deb: &Path, dest: &Path, arch: &GuestArch) -> Result {
    let mut fsys = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run dpkg-deb: {e}"))?;
    let tar_in = fsys.stdout.take().ok_or("dpkg-deb gave no stdout")?;
    let listing = Command::new("tar")
        .args(["-t", "-f", "-"])
        .stdin(tar_in)
        .output();
    let _ = fsys.wait();
    let listing = listing.map_err(|e| format!("cannot run tar: {e}"))?;
    let names = String::from_utf8_lossy(&listing.stdout);
    let image = names
        .lines()
        .find(|n| {
            let n = n.trim_start_matches("./");
            (n.starts_with("boot/vmlinuz-")
                || (n.starts_with("usr/lib/modules/") && n.ends_with("/vmlinuz")))
                && !n.ends_with('/')
        })
        .ok_or_else(|| {
            format!(
                "{}: no boot/vmlinuz-* or usr/lib/modules/*/vmlinuz inside",
                deb.display()
            )
        })?
        .to_string();

    let mut fsys = Command::new("dpkg-deb")
        .arg("--fsys-tarfile")
        .arg(deb)
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run dpkg-deb: {e}"))?;
    let tar_in = fsys.stdout.take().ok_or("dpkg-deb gave no stdout")?;
    let out = Command::new("tar")
        .args(["-x", "-O", "-f", "-", &image])
        .stdin(tar_in)
        .output();
    let status = fsys.wait().map_err(|e| format!("dpkg-deb: {e}"))?;
    let out = out.map_err(|e| format!("cannot run tar: {e}"))?;
    if !status.success() || !out.status.success() {
        return Err(format!(
            "extracting {image} from {} failed: {}",
            deb.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    check_image_bytes(&out.stdout, arch)
        .map_err(|e| format!("{image} in {}: {e}", deb.display()))?;
    let tmp = dest.with_extension("partial");
    util::write(&tmp, &out.stdout)?;
    std::fs::rename(&tmp, dest)
        .map_err(|e| format!("rename {} -> {}: {e}", tmp.display(), dest.display()))?;
    eprintln!(
        "kernel image {} ({} bytes)",
        dest.display(),
        out.stdout.len()
    );
    Ok(())
}

/// A bzImage carries `HdrS` at offset 0x202 (the x86 boot protocol header); an arm64
/// `Image` carries `ARM\x64` at 0x38, and Debian may ship it gzip-compressed (QEMU
/// unpacks that itself).
fn check_image_bytes(data: &[u8], arch: &GuestArch) -> Result {
    if *arch == arch::AARCH64 {
        if data.get(0x38..0x3c) == Some(b"ARM\x64") || data.starts_with(&[0x1f, 0x8b]) {
            Ok(())
        } else {
            Err("not an arm64 Image (no ARM\\x64 magic at 0x38, not gzip)".to_string())
        }
    } else if data.get(0x202..0x206) == Some(b"HdrS") {
        Ok(())
    } else {
        Err("not an x86 bzImage (no HdrS boot header at 0x202)".to_string())
    }
}

fn check_image(path: &Path, arch: &GuestArch) -> Result {
    let data = util::read(path)?;
    check_image_bytes(&data, arch).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_is_known_and_newest_is_last() {
        for arch in arch::ALL {
            for name in default_set(arch) {
                assert!(known(arch).iter().any(|p| p.name == *name), "{name}");
            }
            assert_eq!(
                default_set(arch).last(),
                known(arch).last().map(|p| &p.name)
            );
            assert_eq!(
                default_set(arch).first(),
                known(arch).first().map(|p| &p.name)
            );
            for p in known(arch) {
                assert!(p.package.ends_with(arch.debian), "{}", p.package);
            }
        }
    }

    #[test]
    fn resolve_names_all_and_paths() {
        let x86 = &arch::X86_64;
        let d = resolve(&[], x86).unwrap();
        assert_eq!(d.len(), DEFAULT_SET.len());
        let two = resolve(&["6.1".into(), "7.3".into(), "6.1".into()], x86).unwrap();
        assert_eq!(
            two.iter().map(Spec::label).collect::<Vec<_>>(),
            ["6.1", "7.3"]
        );
        assert_eq!(resolve(&["all".into()], x86).unwrap().len(), KNOWN.len());
        let arm = resolve(&["all".into()], &arch::AARCH64).unwrap();
        assert_eq!(
            arm,
            KNOWN_ARM64
                .iter()
                .map(|p| Spec::Pinned(*p))
                .collect::<Vec<_>>()
        );
        assert!(
            resolve(&["6.19".into()], &arch::AARCH64)
                .unwrap_err()
                .contains("not an arm64 kernel")
        );
        assert!(
            resolve(&["4.19".into()], x86)
                .unwrap_err()
                .contains("not an amd64 kernel")
        );
        assert!(
            resolve(&["/no/such/vmlinuz".into()], x86)
                .unwrap_err()
                .contains("no such file")
        );
        let me = std::env::current_exe().unwrap();
        let spec = resolve(&[me.display().to_string()], x86).unwrap();
        assert_eq!(spec, vec![Spec::Path(me.clone())]);
        assert_eq!(spec[0].label(), me.file_name().unwrap().to_string_lossy());
        let bare = Spec::Path(PathBuf::from("/x/linux-7.4/vmlinuz"));
        assert_eq!(bare.label(), "linux-7.4/vmlinuz");
    }

    #[test]
    fn image_check() {
        let (x86, arm) = (&arch::X86_64, &arch::AARCH64);
        let mut img = vec![0u8; 0x300];
        assert!(check_image_bytes(&img, x86).is_err());
        assert!(check_image_bytes(&img, arm).is_err());
        img[0x202..0x206].copy_from_slice(b"HdrS");
        assert!(check_image_bytes(&img, x86).is_ok());
        assert!(
            check_image_bytes(&img, arm).is_err(),
            "a bzImage is no arm64 Image"
        );
        assert!(check_image_bytes(b"short", x86).is_err());
        let mut a64 = vec![0u8; 0x40];
        a64[0x38..0x3c].copy_from_slice(b"ARM\x64");
        assert!(check_image_bytes(&a64, arm).is_ok());
        assert!(check_image_bytes(&a64, x86).is_err());
        assert!(
            check_image_bytes(&[0x1f, 0x8b, 8, 0], arm).is_ok(),
            "gzipped Image"
        );
    }

    #[test]
    fn cache_names_are_plain() {
        for p in KNOWN.iter().chain(KNOWN_ARM64) {
            let dir = cached_image(p)
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            assert!(
                dir.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)),
                "{dir}"
            );
        }
    }
}
