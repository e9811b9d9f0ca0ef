//! PID 1 of a `cargo xtask kernel-check` guest.
//!
//! Compiled on its own by the xtask (`rustc --edition 2024 -C target-feature=+crt-static`,
//! std only, no crates) into a static binary that the initramfs holds as `/init`. It also
//! sits in the xtask's module tree under `cfg(test)`, so clippy and the unit tests see it.
//!
//! What it does, in order: mount `/proc`, `/sys`, devtmpfs on `/dev`, tmpfs on `/tmp`
//! and `/dev/shm`, devpts on `/dev/pts`; bring the loopback interface up; run every test binary listed in
//! `/kernel-check/tests` with a per-binary time limit, framing each with `@@kc` marker
//! lines on the console; report the verdict (0 = every binary passed, 1 = something
//! failed) to QEMU, which exits with `(verdict << 1) | 1`: through the `isa-debug-exit`
//! device (port 0xf4) on x86_64, through semihosting's exit call on arm64; power off.
//!
//! The host reads the markers back (see `kernel/log.rs`); the formats must agree.

use std::ffi::{CString, c_char, c_int, c_ulong, c_void};
use std::io::Write;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

unsafe extern "C" {
    fn mount(
        src: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: c_ulong,
        data: *const c_void,
    ) -> c_int;
    fn reboot(cmd: c_int) -> c_int;
    fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int;
    fn ioctl(fd: c_int, request: c_ulong, ...) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    #[cfg(target_arch = "x86_64")]
    fn ioperm(from: c_ulong, num: c_ulong, turn_on: c_int) -> c_int;
    fn sync();
    fn tcdrain(fd: c_int) -> c_int;
}

const RB_POWER_OFF: c_int = 0x4321_fedc;
const AF_INET: c_int = 2;
const SOCK_DGRAM: c_int = 2;
const SIOCGIFFLAGS: c_ulong = 0x8913;
const SIOCSIFFLAGS: c_ulong = 0x8914;
const IFF_UP: i16 = 0x1;
const SIGKILL: c_int = 9;
/// `isa-debug-exit`'s I/O port, as the xtask configures the device.
#[cfg(target_arch = "x86_64")]
const DEBUG_EXIT_PORT: u64 = 0xf4;

/// The marker every line meant for the host starts with.
pub const MARK: &str = "@@kc";

/// What the xtask tells the init, from `/kernel-check/config` (`key=value` lines).
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `--test-threads` for every test binary.
    pub threads: u32,
    /// Per-binary time limit in seconds.
    pub timeout_secs: u64,
    /// A libtest name filter, passed on to every binary.
    pub filter: Option<String>,
    /// libtest `--skip` patterns, passed on to every binary.
    pub skip: Vec<String>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            threads: 1,
            timeout_secs: 90,
            filter: None,
            skip: Vec::new(),
        }
    }
}

/// Parses the config file; unknown keys and malformed lines are reported, not fatal.
pub fn parse_config(text: &str) -> (Config, Vec<String>) {
    let mut config = Config::default();
    let mut warnings = Vec::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        let Some((key, value)) = line.split_once('=') else {
            warnings.push(format!("config line without `=`: {line:?}"));
            continue;
        };
        match key {
            "threads" => match value.parse() {
                Ok(n) if n > 0 => config.threads = n,
                _ => warnings.push(format!("bad threads value {value:?}")),
            },
            "timeout" => match value.parse() {
                Ok(n) if n > 0 => config.timeout_secs = n,
                _ => warnings.push(format!("bad timeout value {value:?}")),
            },
            "filter" if !value.is_empty() => config.filter = Some(value.to_string()),
            "filter" => {}
            "skip" if !value.is_empty() => config.skip.push(value.to_string()),
            "skip" => {}
            _ => warnings.push(format!("unknown config key {key:?}")),
        }
    }
    (config, warnings)
}

/// Parses the test list: `display-name<TAB>path` lines.
pub fn parse_tests(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .map(|(name, path)| (name.trim().to_string(), path.trim().to_string()))
        .filter(|(name, path)| !name.is_empty() && !path.is_empty())
        .collect()
}

/// How a test binary ended, as the `end` marker spells it.
pub fn describe_status(status: Option<ExitStatus>) -> String {
    match status {
        None => "timeout".to_string(),
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exit={code}"),
            (None, Some(sig)) => format!("signal={sig}"),
            (None, None) => "exit=unknown".to_string(),
        },
    }
}

#[allow(dead_code)] // Only the guest binary calls it; the xtask includes this file for tests.
fn main() {
    let started = Instant::now();
    say(&format!("{MARK} init"));
    mount_filesystems();
    if let Err(e) = loopback_up() {
        say(&format!("{MARK} warn loopback: {e}"));
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let (config, warnings) =
        parse_config(&std::fs::read_to_string("/kernel-check/config").unwrap_or_default());
    for w in warnings {
        say(&format!("{MARK} warn {w}"));
    }
    let tests = parse_tests(&std::fs::read_to_string("/kernel-check/tests").unwrap_or_default());
    say(&format!(
        "{MARK} start release={} binaries={}",
        release.trim(),
        tests.len()
    ));
    let failed = run_all(&tests, &config);
    let verdict = if failed == 0 && !tests.is_empty() {
        "pass"
    } else {
        "fail"
    };
    say(&format!(
        "{MARK} finish {verdict} failed={failed} binaries={} secs={:.2}",
        tests.len(),
        started.elapsed().as_secs_f64()
    ));
    // SAFETY: sync() takes no arguments and only flushes kernel buffers.
    unsafe { sync() };
    // The console is a UART: what the tty layer still holds would be lost when QEMU
    // exits on the port write, so wait until it has all gone out.
    // SAFETY: tcdrain(3) on our stdout; it only waits.
    unsafe { tcdrain(1) };
    std::thread::sleep(Duration::from_millis(50));
    if let Err(e) = report_verdict(u8::from(verdict != "pass")) {
        say(&format!("{MARK} warn verdict not reported: {e}"));
    }
    // Reached only when the report channel is absent; the host then sees exit 0,
    // which never counts as a pass.
    // SAFETY: reboot(RB_POWER_OFF) has no memory-safety preconditions; PID 1 may call it.
    unsafe { reboot(RB_POWER_OFF) };
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Mounts /proc, /sys, devtmpfs /dev (with devpts and a /dev/shm tmpfs) and a /tmp
/// tmpfs; a failure is reported as a warning and the run goes on.
fn mount_filesystems() {
    for (src, target, fstype) in [
        ("proc", "/proc", "proc"),
        ("sysfs", "/sys", "sysfs"),
        ("devtmpfs", "/dev", "devtmpfs"),
        ("tmpfs", "/tmp", "tmpfs"),
        // openpty(3) needs devpts behind devtmpfs's /dev/ptmx; shm_open(3) needs /dev/shm.
        ("devpts", "/dev/pts", "devpts"),
        ("tmpfs", "/dev/shm", "tmpfs"),
    ] {
        // The test binaries sit at their host paths, which may be under /tmp (a checkout
        // in /tmp): a tmpfs mounted there would hide them. The initramfs root is
        // writable already, so /tmp then simply stays part of it.
        if target == "/tmp" && std::fs::read_dir("/tmp").is_ok_and(|mut d| d.next().is_some()) {
            say(&format!(
                "{MARK} note /tmp holds test binaries: left on the initramfs root"
            ));
            continue;
        }
        if let Err(e) = mount_fs(src, target, fstype) {
            say(&format!("{MARK} warn mount {target}: {e}"));
        }
    }
}

/// Runs each test binary between its `begin` and `end` markers; returns how many
/// failed.
fn run_all(tests: &[(String, String)], config: &Config) -> u32 {
    let mut failed = 0;
    for (name, path) in tests {
        say(&format!("{MARK} begin {name}"));
        let t0 = Instant::now();
        let status = match run_one(path, config) {
            Ok(status) => status,
            Err(e) => {
                say(&format!("{MARK} warn cannot run {path}: {e}"));
                Some(ExitStatus::from_raw(127 << 8))
            }
        };
        if !status.is_some_and(|s| s.success()) {
            failed += 1;
        }
        say(&format!(
            "{MARK} end {name} {} secs={:.2}",
            describe_status(status),
            t0.elapsed().as_secs_f64()
        ));
    }
    failed
}

/// Prints a whole line on the console, starting on a fresh line.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "\n{line}\n");
    let _ = out.flush();
}

fn mount_fs(src: &str, target: &str, fstype: &str) -> Result<(), String> {
    std::fs::create_dir_all(target).map_err(|e| format!("mkdir: {e}"))?;
    let c = |s: &str| CString::new(s).map_err(|e| e.to_string());
    let (src, target, fstype) = (c(src)?, c(target)?, c(fstype)?);
    // SAFETY: the three strings are NUL-terminated and live across the call; data may be
    // NULL for these file systems.
    let rc = unsafe {
        mount(
            src.as_ptr(),
            target.as_ptr(),
            fstype.as_ptr(),
            0,
            std::ptr::null(),
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

/// `struct ifreq` with the `ifr_flags` member of its union.
#[repr(C)]
struct IfReqFlags {
    name: [u8; 16],
    flags: i16,
    _pad: [u8; 22],
}

fn loopback_up() -> Result<(), String> {
    // SAFETY: plain socket(2) call with constant arguments.
    let fd = unsafe { socket(AF_INET, SOCK_DGRAM, 0) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    let mut req = IfReqFlags {
        name: [0; 16],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: `req` is a valid, writable `struct ifreq` (40 bytes) for the whole call.
    let mut rc = unsafe { ioctl(fd, SIOCGIFFLAGS, &mut req as *mut IfReqFlags) };
    if rc == 0 {
        req.flags |= IFF_UP;
        // SAFETY: as above; the kernel only reads the name and flags.
        rc = unsafe { ioctl(fd, SIOCSIFFLAGS, &mut req as *mut IfReqFlags) };
    }
    let err = std::io::Error::last_os_error();
    // SAFETY: `fd` is the socket opened above, closed exactly once.
    unsafe { close(fd) };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!("ioctl: {err}"))
    }
}

/// Runs one test binary; `None` when it outlived the time limit and was killed.
fn run_one(path: &str, config: &Config) -> std::io::Result<Option<ExitStatus>> {
    let mut cmd = Command::new(path);
    cmd.arg(format!("--test-threads={}", config.threads))
        .args(["--show-output", "--color", "never"])
        .args(config.filter.as_deref())
        .args(config.skip.iter().flat_map(|s| ["--skip", s.as_str()]))
        .env_clear()
        .env("PATH", "/bin:/usr/bin")
        .env("HOME", "/tmp")
        .env("TMPDIR", "/tmp")
        .env("RUST_BACKTRACE", "1")
        .env("URING_KERNEL_CHECK", "1")
        .current_dir("/tmp")
        .process_group(0);
    let mut child = cmd.spawn()?;
    let deadline = Instant::now() + Duration::from_secs(config.timeout_secs);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        if Instant::now() >= deadline {
            let pgid = child.id() as c_int;
            // SAFETY: signals the process group we created for this child (process_group(0)
            // made its pgid equal to its pid); no memory is involved.
            unsafe { kill(-pgid, SIGKILL) };
            let _ = child.kill();
            let _ = child.wait();
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes `value` to the `isa-debug-exit` port; QEMU then exits with `(value << 1) | 1`.
///
/// Straight `outb` after `ioperm` (PID 1 has CAP_SYS_RAWIO); `/dev/port` as a fallback,
/// since Debian's cloud kernels are built without it.
#[cfg(target_arch = "x86_64")]
fn report_verdict(value: u8) -> std::io::Result<()> {
    use std::io::{Seek, SeekFrom};
    // SAFETY: ioperm(2) only changes this process's I/O permission bitmap.
    let rc = unsafe { ioperm(DEBUG_EXIT_PORT as c_ulong, 4, 1) };
    if rc == 0 {
        // SAFETY: port 0xf4 is QEMU's isa-debug-exit, which this process was just given
        // access to; the write touches no memory.
        unsafe {
            std::arch::asm!("out dx, al", in("dx") DEBUG_EXIT_PORT as u16, in("al") value, options(nomem, nostack));
        }
    } else {
        let mut port = std::fs::OpenOptions::new().write(true).open("/dev/port")?;
        port.seek(SeekFrom::Start(DEBUG_EXIT_PORT))?;
        port.write_all(&[value])?;
    }
    // QEMU exits on the write; give it a moment before the fallback power-off.
    std::thread::sleep(Duration::from_secs(2));
    Err(std::io::Error::other(
        "the write to port 0xf4 did not end the VM",
    ))
}

/// Asks QEMU to exit with `(value << 1) | 1` through Arm semihosting: `SYS_EXIT`
/// (0x18), which on A64 takes a parameter block of (reason, subcode); for the reason
/// `ADP_Stopped_ApplicationExit` QEMU exits with the subcode. QEMU runs with
/// `-semihosting-config enable=on,userspace=on`, so the trap (`hlt #0xf000`) is honoured
/// from EL0. Without it the instruction is undefined: the init dies, the kernel panics
/// and QEMU exits 0, which never counts as a pass.
#[cfg(target_arch = "aarch64")]
fn report_verdict(value: u8) -> std::io::Result<()> {
    const SYS_EXIT: u64 = 0x18;
    const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, (u64::from(value) << 1) | 1];
    // SAFETY: the semihosting call only reads the 16-byte block, alive on our stack for
    // the whole instruction, and ends the VM; x0 is the only register it writes.
    unsafe {
        std::arch::asm!(
            "hlt #0xf000",
            inout("x0") SYS_EXIT => _,
            in("x1") block.as_ptr(),
            options(nostack),
        );
    }
    std::thread::sleep(Duration::from_secs(2));
    Err(std::io::Error::other(
        "the semihosting exit call did not end the VM",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_defaults_and_overrides() {
        let (c, w) = parse_config("");
        assert_eq!(c, Config::default());
        assert!(w.is_empty());
        let (c, w) = parse_config("threads=2\ntimeout=30\nfilter=nop\n# comment\nskip=a\nskip=b\n");
        assert_eq!(
            c,
            Config {
                threads: 2,
                timeout_secs: 30,
                filter: Some("nop".into()),
                skip: vec!["a".into(), "b".into()],
            }
        );
        assert!(w.is_empty());
    }

    #[test]
    fn bad_config_lines_are_warnings() {
        let (c, w) = parse_config("threads=0\ntimeout=x\nnonsense\ncolour=red\n");
        assert_eq!(c, Config::default());
        assert_eq!(w.len(), 4, "{w:?}");
    }

    #[test]
    fn test_list_lines() {
        let list = parse_tests("a/lib\t/tests/0\nbroken line\n\t/x\nb/ffi\t/tests/1\n");
        assert_eq!(
            list,
            vec![
                ("a/lib".into(), "/tests/0".into()),
                ("b/ffi".into(), "/tests/1".into())
            ]
        );
    }

    #[test]
    fn status_words() {
        assert_eq!(describe_status(None), "timeout");
        assert_eq!(describe_status(Some(ExitStatus::from_raw(0))), "exit=0");
        assert_eq!(
            describe_status(Some(ExitStatus::from_raw(101 << 8))),
            "exit=101"
        );
        assert_eq!(describe_status(Some(ExitStatus::from_raw(9))), "signal=9");
    }
}
