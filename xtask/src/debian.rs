//! Debian packages without touching the system: a private `APT_CONFIG` (own sources list,
//! lists, cache and status), `apt-get download`, and `dpkg -x` into a folder of ours.
//!
//! The mirror is the one this machine's own apt sources use; the archive keyring is the
//! system's. `/etc/apt` is only read, never written, and nothing is installed.

use crate::util::{self, Result, project_root};
use std::path::{Path, PathBuf};
use std::process::Command;

const KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";

/// A private apt configuration for a set of suites (`trixie`, `sid`, `bookworm-security`…).
pub struct Apt {
    dir: PathBuf,
}

impl Apt {
    /// Sets up (or reuses) `target/apt/<name>/` for `suites` of `components`, and runs
    /// `apt-get update` there unless its lists are less than a day old.
    pub fn new(name: &str, suites: &[&str], components: &str) -> Result<Apt> {
        Apt::for_arch(name, suites, components, "amd64")
    }

    /// As [`Apt::new`], for Debian architecture `arch` (`amd64`, `arm64`): the sources
    /// say `[arch=…]` and `APT::Architectures` is that one alone.
    pub fn for_arch(name: &str, suites: &[&str], components: &str, arch: &str) -> Result<Apt> {
        let dir = project_root().join("target/apt").join(name);
        let (main, security) = system_mirrors()?;
        let mut sources = String::new();
        for suite in suites {
            let uri = if suite.ends_with("-security") {
                security.as_deref().ok_or_else(|| {
                    format!("no debian-security mirror in /etc/apt sources for suite {suite}")
                })?
            } else {
                main.as_str()
            };
            sources.push_str(&format!(
                "deb [arch={arch} signed-by={KEYRING}] {uri} {suite} {components}\n"
            ));
        }
        for sub in ["lists/partial", "cache/archives/partial", "parts", "prefs"] {
            std::fs::create_dir_all(dir.join(sub))
                .map_err(|e| format!("create {}: {e}", dir.join(sub).display()))?;
        }
        let conf = format!(
            "Dir::Etc::SourceList \"{d}/sources.list\";\n\
             Dir::Etc::SourceParts \"{d}/parts\";\n\
             Dir::Etc::Preferences \"{d}/prefs/none\";\n\
             Dir::Etc::PreferencesParts \"{d}/prefs\";\n\
             Dir::State::Lists \"{d}/lists\";\n\
             Dir::State::status \"{d}/status\";\n\
             Dir::Cache \"{d}/cache\";\n\
             APT::Architecture \"{arch}\";\n\
             APT::Architectures \"{arch}\";\n\
             Acquire::Languages \"none\";\n\
             Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled \"false\";\n\
             Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled \"false\";\n\
             Acquire::Retries \"3\";\n\
             APT::Sandbox::User \"root\";\n",
            d = dir.display()
        );
        util::write(&dir.join("apt.conf"), conf)?;
        if !dir.join("status").exists() {
            util::write(&dir.join("status"), "")?;
        }
        let old_sources = std::fs::read_to_string(dir.join("sources.list")).unwrap_or_default();
        util::write(&dir.join("sources.list"), &sources)?;
        let apt = Apt { dir };
        let fresh = old_sources == sources
            && std::fs::metadata(apt.dir.join("lists/lock"))
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age.as_secs() < 86_400)
            && has_package_lists(&apt.dir.join("lists"));
        if !fresh {
            util::run(apt.command("apt-get").args(["update", "-q"]))?;
        }
        Ok(apt)
    }

    /// A command with this configuration's `APT_CONFIG`.
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("APT_CONFIG", self.dir.join("apt.conf"));
        c
    }

    /// `apt-get download` of `packages` (`name` or `name=version`) into `dest`, reusing
    /// files already there. Returns the paths of the `.deb` files, in order.
    pub fn download(&self, packages: &[&str], dest: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dest).map_err(|e| format!("create {}: {e}", dest.display()))?;
        let mut debs = Vec::new();
        for pkg in packages {
            let (name, version) = match pkg.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (*pkg, None),
            };
            if let Some(found) = find_deb(dest, name, version) {
                debs.push(found);
                continue;
            }
            util::run(
                self.command("apt-get")
                    .current_dir(dest)
                    .args(["download", "-q", pkg]),
            )?;
            debs.push(find_deb(dest, name, version).ok_or_else(|| {
                format!(
                    "apt-get download {pkg} succeeded but no {name}_*.deb is in {}",
                    dest.display()
                )
            })?);
        }
        Ok(debs)
    }
}

fn has_package_lists(lists: &Path) -> bool {
    std::fs::read_dir(lists)
        .map(|rd| {
            rd.flatten()
                .any(|e| e.file_name().to_string_lossy().ends_with("_Packages"))
        })
        .unwrap_or(false)
}

fn find_deb(dir: &Path, name: &str, version: Option<&str>) -> Option<PathBuf> {
    let prefix = match version {
        // apt encodes ':' of epochs as %3a in file names.
        Some(v) => format!("{name}_{}_", v.replace(':', "%3a")),
        None => format!("{name}_"),
    };
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let f = p.file_name().unwrap_or_default().to_string_lossy();
            f.starts_with(&prefix) && f.ends_with(".deb")
        })
        .collect();
    found.sort();
    found.pop()
}

/// Unpacks a `.deb`'s files under `into` (like installing into a chroot, without scripts).
pub fn extract(deb: &Path, into: &Path) -> Result {
    std::fs::create_dir_all(into).map_err(|e| format!("create {}: {e}", into.display()))?;
    util::run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(into))
}

/// The Debian mirrors this machine's apt already uses: (main archive, security archive).
fn system_mirrors() -> Result<(String, Option<String>)> {
    let mut uris = Vec::new();
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(rd) = std::fs::read_dir("/etc/apt/sources.list.d") {
        files.extend(rd.flatten().map(|e| e.path()));
    }
    for f in files {
        let name = f.to_string_lossy().into_owned();
        if !(name.ends_with(".list") || name.ends_with(".sources")) {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&f) else {
            continue;
        };
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("URIs:") {
                uris.extend(rest.split_whitespace().map(str::to_string));
            } else if let Some(rest) = line.strip_prefix("deb ") {
                // One-line format: deb [options] URI suite components…
                let mut words = rest.split_whitespace().skip_while(|w| w.starts_with('['));
                if let Some(uri) = words.find(|w| w.contains("://")) {
                    uris.push(uri.to_string());
                }
            }
        }
    }
    let debian: Vec<_> = uris.into_iter().filter(|u| u.contains("debian")).collect();
    let security = debian
        .iter()
        .find(|u| u.contains("debian-security"))
        .cloned();
    let main = debian
        .iter()
        .find(|u| !u.contains("security"))
        .cloned()
        .ok_or("no Debian archive among this machine's apt sources (/etc/apt/sources.list*)")?;
    Ok((main, security))
}
