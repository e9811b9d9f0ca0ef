//! Which io_uring operations and features the running kernel supports.
//!
//! Two halves:
//!
//! * a static table, [`OPCODES`], of every `IORING_OP_*` this crate knows (the 65 of
//!   liburing 2.15, `NOP` through `URING_CMD128`) with its number, its names and the
//!   first Linux release that has it; [`FEATURES`] does the same for the
//!   `IORING_FEAT_*` bits the kernel reports at ring setup;
//! * a [`Probe`]: what *this* kernel says it supports, asked with
//!   `IORING_REGISTER_PROBE` (available since Linux 5.6). A probe is indexed by raw
//!   opcode number up to the kernel's [`last_op`](Probe::last_op), so an operation newer
//!   than this crate still shows up, just without a name.
//!
//! ```
//! use uring::probe;
//!
//! let probe = probe::probe()?;
//! let read = probe::opcode_by_name("read").unwrap();
//! if probe.is_supported(read.code) {
//!     println!("{} works here (since Linux {}.{})", read.name, read.since.0, read.since.1);
//! }
//! for (code, supported, op) in probe.iter() {
//!     let name = op.map_or("(newer than this crate)", |op| op.name);
//!     println!("{code:3} {name:30} {supported}");
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Errors
//!
//! Asking the kernel can fail; the error is the `io::Error` of the failing system call,
//! errno intact ([`io::Error::raw_os_error`]):
//!
//! * `ENOSYS`: the kernel has no io_uring (built without `CONFIG_IO_URING`), or a
//!   seccomp policy (containers, sandboxes) hides it;
//! * `EPERM`: io_uring is switched off by `/proc/sys/kernel/io_uring_disabled` (Linux
//!   6.6+: `2` for everyone, `1` for processes outside `kernel.io_uring_group`), or
//!   refused by a security policy;
//! * `EINVAL` from the probe itself: the kernel predates Linux 5.6, which added
//!   `IORING_REGISTER_PROBE`;
//! * `ENOMEM` / `EMFILE`: no memory (locked-memory limit on kernels before 5.12) or no
//!   free file descriptor for the temporary ring.

use crate::sys;
use crate::{Features, Ring};
use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

/// One io_uring operation as this crate knows it: an entry of [`OPCODES`].
///
/// ```
/// let op = uring::probe::opcode_by_name("IORING_OP_READ").unwrap();
/// assert_eq!((op.code, op.name, op.short_name, op.since), (22, "IORING_OP_READ", "read", (5, 6)));
/// assert_eq!(op.to_string(), "IORING_OP_READ");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Opcode {
    /// The opcode number, as in the SQE's `opcode` field and the kernel's
    /// `enum io_uring_op`.
    pub code: u8,
    /// The C name, `"IORING_OP_NOP"`.
    pub name: &'static str,
    /// The name without the `IORING_OP_` prefix, in lower case: `"nop"`.
    pub short_name: &'static str,
    /// The first Linux release, `(major, minor)`, that supports the operation.
    pub since: (u8, u8),
}

impl fmt::Display for Opcode {
    /// Writes the C name, `IORING_OP_NOP`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! opcode_table {
    ($($code:literal $name:ident $short:literal $since:expr;)*) => {
        &[$(Opcode {
            code: $code,
            name: stringify!($name),
            short_name: $short,
            since: $since,
        },)*]
    };
}

/// Every io_uring operation of liburing 2.15, indexed by opcode number:
/// `OPCODES[n].code == n`.
///
/// The kernel may know more (see [`Probe::last_op`]); those have no entry here.
///
/// ```
/// use uring::probe::OPCODES;
///
/// assert_eq!(OPCODES.len(), 65);
/// assert_eq!(OPCODES[0].name, "IORING_OP_NOP");
/// assert_eq!(OPCODES[64].short_name, "uring_cmd128");
/// let new_in_6_15 = OPCODES.iter().filter(|op| op.since == (6, 15)).count();
/// assert_eq!(new_in_6_15, 4);
/// ```
#[doc(alias = "io_uring_op")]
pub const OPCODES: &[Opcode] = opcode_table! {
    0 IORING_OP_NOP "nop" (5, 1);
    1 IORING_OP_READV "readv" (5, 1);
    2 IORING_OP_WRITEV "writev" (5, 1);
    3 IORING_OP_FSYNC "fsync" (5, 1);
    4 IORING_OP_READ_FIXED "read_fixed" (5, 1);
    5 IORING_OP_WRITE_FIXED "write_fixed" (5, 1);
    6 IORING_OP_POLL_ADD "poll_add" (5, 1);
    7 IORING_OP_POLL_REMOVE "poll_remove" (5, 1);
    8 IORING_OP_SYNC_FILE_RANGE "sync_file_range" (5, 2);
    9 IORING_OP_SENDMSG "sendmsg" (5, 3);
    10 IORING_OP_RECVMSG "recvmsg" (5, 3);
    11 IORING_OP_TIMEOUT "timeout" (5, 4);
    12 IORING_OP_TIMEOUT_REMOVE "timeout_remove" (5, 5);
    13 IORING_OP_ACCEPT "accept" (5, 5);
    14 IORING_OP_ASYNC_CANCEL "async_cancel" (5, 5);
    15 IORING_OP_LINK_TIMEOUT "link_timeout" (5, 5);
    16 IORING_OP_CONNECT "connect" (5, 5);
    17 IORING_OP_FALLOCATE "fallocate" (5, 6);
    18 IORING_OP_OPENAT "openat" (5, 6);
    19 IORING_OP_CLOSE "close" (5, 6);
    20 IORING_OP_FILES_UPDATE "files_update" (5, 6);
    21 IORING_OP_STATX "statx" (5, 6);
    22 IORING_OP_READ "read" (5, 6);
    23 IORING_OP_WRITE "write" (5, 6);
    24 IORING_OP_FADVISE "fadvise" (5, 6);
    25 IORING_OP_MADVISE "madvise" (5, 6);
    26 IORING_OP_SEND "send" (5, 6);
    27 IORING_OP_RECV "recv" (5, 6);
    28 IORING_OP_OPENAT2 "openat2" (5, 6);
    29 IORING_OP_EPOLL_CTL "epoll_ctl" (5, 6);
    30 IORING_OP_SPLICE "splice" (5, 7);
    31 IORING_OP_PROVIDE_BUFFERS "provide_buffers" (5, 7);
    32 IORING_OP_REMOVE_BUFFERS "remove_buffers" (5, 7);
    33 IORING_OP_TEE "tee" (5, 8);
    34 IORING_OP_SHUTDOWN "shutdown" (5, 11);
    35 IORING_OP_RENAMEAT "renameat" (5, 11);
    36 IORING_OP_UNLINKAT "unlinkat" (5, 11);
    37 IORING_OP_MKDIRAT "mkdirat" (5, 15);
    38 IORING_OP_SYMLINKAT "symlinkat" (5, 15);
    39 IORING_OP_LINKAT "linkat" (5, 15);
    40 IORING_OP_MSG_RING "msg_ring" (5, 18);
    41 IORING_OP_FSETXATTR "fsetxattr" (5, 19);
    42 IORING_OP_SETXATTR "setxattr" (5, 19);
    43 IORING_OP_FGETXATTR "fgetxattr" (5, 19);
    44 IORING_OP_GETXATTR "getxattr" (5, 19);
    45 IORING_OP_SOCKET "socket" (5, 19);
    46 IORING_OP_URING_CMD "uring_cmd" (5, 19);
    47 IORING_OP_SEND_ZC "send_zc" (6, 0);
    48 IORING_OP_SENDMSG_ZC "sendmsg_zc" (6, 1);
    49 IORING_OP_READ_MULTISHOT "read_multishot" (6, 7);
    50 IORING_OP_WAITID "waitid" (6, 7);
    51 IORING_OP_FUTEX_WAIT "futex_wait" (6, 7);
    52 IORING_OP_FUTEX_WAKE "futex_wake" (6, 7);
    53 IORING_OP_FUTEX_WAITV "futex_waitv" (6, 7);
    54 IORING_OP_FIXED_FD_INSTALL "fixed_fd_install" (6, 8);
    55 IORING_OP_FTRUNCATE "ftruncate" (6, 9);
    56 IORING_OP_BIND "bind" (6, 11);
    57 IORING_OP_LISTEN "listen" (6, 11);
    58 IORING_OP_RECV_ZC "recv_zc" (6, 15);
    59 IORING_OP_EPOLL_WAIT "epoll_wait" (6, 15);
    60 IORING_OP_READV_FIXED "readv_fixed" (6, 15);
    61 IORING_OP_WRITEV_FIXED "writev_fixed" (6, 15);
    62 IORING_OP_PIPE "pipe" (6, 16);
    63 IORING_OP_NOP128 "nop128" (6, 19);
    64 IORING_OP_URING_CMD128 "uring_cmd128" (6, 19);
};

// The table is indexed by opcode number and covers the whole header enum.
const _: () = {
    assert!(OPCODES.len() == sys::IORING_OP_LAST as usize);
    let mut i = 0;
    while i < OPCODES.len() {
        assert!(OPCODES[i].code as usize == i);
        i += 1;
    }
};

/// The operation with number `code`, if this crate knows it.
///
/// ```
/// assert_eq!(uring::probe::opcode(22).map(|op| op.short_name), Some("read"));
/// assert_eq!(uring::probe::opcode(200), None);
/// ```
pub fn opcode(code: u8) -> Option<&'static Opcode> {
    OPCODES.get(usize::from(code))
}

/// The C name (`"IORING_OP_READ"`) of operation `code`, if this crate knows it.
///
/// ```
/// assert_eq!(uring::probe::opcode_name(0), Some("IORING_OP_NOP"));
/// assert_eq!(uring::probe::opcode_name(255), None);
/// ```
pub fn opcode_name(code: u8) -> Option<&'static str> {
    opcode(code).map(|op| op.name)
}

/// Looks an operation up by name: the C name or the short one, in any case, with or
/// without the `IORING_OP_` prefix. Surrounding whitespace is not accepted.
///
/// ```
/// use uring::probe::opcode_by_name;
///
/// for name in ["IORING_OP_SEND_ZC", "send_zc", "SEND_ZC", "ioring_op_send_zc"] {
///     assert_eq!(opcode_by_name(name).map(|op| op.code), Some(47));
/// }
/// assert!(opcode_by_name("sendzc").is_none());
/// assert!(opcode_by_name("IORING_OP_").is_none());
/// ```
pub fn opcode_by_name(name: &str) -> Option<&'static Opcode> {
    let short = strip_prefix_ignore_case(name, "IORING_OP_").unwrap_or(name);
    OPCODES
        .iter()
        .find(|op| op.short_name.eq_ignore_ascii_case(short))
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// One `IORING_FEAT_*` bit: an entry of [`FEATURES`].
///
/// ```
/// let f = uring::probe::FEATURES.iter().find(|f| f.short_name == "nodrop").unwrap();
/// assert_eq!((f.bit, f.name, f.since), (uring::sys::IORING_FEAT_NODROP, "IORING_FEAT_NODROP", (5, 5)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Feature {
    /// The flag's value in `io_uring_params.features` (a single bit).
    pub bit: u32,
    /// The C name, `"IORING_FEAT_SINGLE_MMAP"`.
    pub name: &'static str,
    /// The name without the `IORING_FEAT_` prefix, in lower case: `"single_mmap"`.
    pub short_name: &'static str,
    /// The first Linux release, `(major, minor)`, that reports the flag.
    pub since: (u8, u8),
}

impl fmt::Display for Feature {
    /// Writes the C name, `IORING_FEAT_NODROP`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

macro_rules! feature_table {
    ($($name:ident $short:literal $since:expr;)*) => {
        &[$(Feature {
            bit: sys::$name,
            name: stringify!($name),
            short_name: $short,
            since: $since,
        },)*]
    };
}

/// Every `IORING_FEAT_*` flag of liburing 2.15, in bit order.
///
/// The kernel reports the features it has in `io_uring_params.features` when a ring is
/// set up; [`Probe::features`] and [`Ring::features`] carry that word as
/// [`Features`].
///
/// ```
/// use uring::probe::FEATURES;
///
/// assert_eq!(FEATURES.len(), 18);
/// assert_eq!(FEATURES[0].name, "IORING_FEAT_SINGLE_MMAP");
/// assert!(FEATURES.iter().all(|f| f.bit.is_power_of_two()));
/// ```
pub const FEATURES: &[Feature] = feature_table! {
    IORING_FEAT_SINGLE_MMAP "single_mmap" (5, 4);
    IORING_FEAT_NODROP "nodrop" (5, 5);
    IORING_FEAT_SUBMIT_STABLE "submit_stable" (5, 5);
    IORING_FEAT_RW_CUR_POS "rw_cur_pos" (5, 6);
    IORING_FEAT_CUR_PERSONALITY "cur_personality" (5, 6);
    IORING_FEAT_FAST_POLL "fast_poll" (5, 7);
    IORING_FEAT_POLL_32BITS "poll_32bits" (5, 9);
    IORING_FEAT_SQPOLL_NONFIXED "sqpoll_nonfixed" (5, 11);
    IORING_FEAT_EXT_ARG "ext_arg" (5, 11);
    IORING_FEAT_NATIVE_WORKERS "native_workers" (5, 12);
    IORING_FEAT_RSRC_TAGS "rsrc_tags" (5, 13);
    IORING_FEAT_CQE_SKIP "cqe_skip" (5, 17);
    IORING_FEAT_LINKED_FILE "linked_file" (5, 17);
    IORING_FEAT_REG_REG_RING "reg_reg_ring" (6, 3);
    IORING_FEAT_RECVSEND_BUNDLE "recvsend_bundle" (6, 10);
    IORING_FEAT_MIN_TIMEOUT "min_timeout" (6, 12);
    IORING_FEAT_RW_ATTR "rw_attr" (6, 13);
    IORING_FEAT_NO_IOWAIT "no_iowait" (6, 15);
};

const _: () = {
    let mut i = 1;
    while i < FEATURES.len() {
        assert!(FEATURES[i].bit == FEATURES[i - 1].bit << 1);
        i += 1;
    }
};

/// What the running kernel supports: the answer to `IORING_REGISTER_PROBE`, plus the
/// `IORING_FEAT_*` word of the ring it was asked through.
///
/// Made by [`probe()`], which needs no ring, or by [`Ring::probe`]. It is a plain value
/// (about 40 bytes) and holds no ring or descriptor.
///
/// ```
/// use uring::{probe, sys};
///
/// let p = probe::probe()?;
/// assert!(p.is_supported(sys::IORING_OP_NOP as u8));
/// assert!(p.last_op() >= 29); // every kernel with a probe knows EPOLL_CTL
/// assert!(p.features().contains(uring::Features::SINGLE_MMAP));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[doc(alias = "io_uring_free_probe")]
pub struct Probe {
    last_op: u8,
    /// Bit `n` set: opcode `n` is supported.
    supported: [u64; 4],
    features: u32,
}

/// The buffer `IORING_REGISTER_PROBE` fills: the header and room for every possible
/// opcode (the kernel writes at most `IORING_OP_LAST` of them).
#[repr(C)]
pub(crate) struct RawProbe {
    pub(crate) hdr: sys::io_uring_probe,
    pub(crate) ops: [sys::io_uring_probe_op; 256],
}

// `ops` must sit exactly where the header's flexible array member starts.
const _: () = assert!(
    core::mem::offset_of!(RawProbe, ops) == core::mem::offset_of!(sys::io_uring_probe, ops)
);

impl RawProbe {
    pub(crate) fn zeroed() -> Box<RawProbe> {
        // SAFETY: both structs are plain integers; all-zero is a valid value and is what
        // the kernel requires of the buffer it is handed (non-zero bytes get EINVAL).
        Box::new(unsafe { core::mem::zeroed() })
    }

    pub(crate) fn to_probe(&self, features: u32) -> Probe {
        let mut supported = [0u64; 4];
        let len = usize::from(self.hdr.ops_len)
            .min(usize::from(self.hdr.last_op) + 1)
            .min(self.ops.len());
        for (code, op) in self.ops[..len].iter().enumerate() {
            if u32::from(op.flags) & sys::IO_URING_OP_SUPPORTED != 0 {
                supported[code / 64] |= 1 << (code % 64);
            }
        }
        Probe {
            last_op: self.hdr.last_op,
            supported,
            features,
        }
    }
}

/// Turns liburing's `-errno` return convention into an `io::Result`.
fn check(ret: i32) -> io::Result<i32> {
    if ret < 0 {
        Err(io::Error::from_raw_os_error(-ret))
    } else {
        Ok(ret)
    }
}

/// Asks the running kernel which operations it supports, without needing a ring: a
/// small temporary ring is set up, probed with `IORING_REGISTER_PROBE` and closed.
///
/// See the [module documentation](self#errors) for what the errors mean. When io_uring
/// itself is unavailable this is the error a program sees first, so
/// `probe()` doubles as an "is io_uring usable here?" check.
///
/// ```
/// match uring::probe::probe() {
///     Ok(p) => println!("{} operations supported", p.iter().filter(|e| e.1).count()),
///     Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => println!("no io_uring in this kernel"),
///     Err(e) if e.raw_os_error() == Some(libc::EPERM) => println!("io_uring is disabled: {e}"),
///     Err(e) => println!("cannot probe: {e}"),
/// }
/// ```
#[doc(alias = "io_uring_get_probe")]
pub fn probe() -> io::Result<Probe> {
    // SAFETY: io_uring_params is plain integers; all-zero asks for a default ring.
    let mut params: sys::io_uring_params = unsafe { core::mem::zeroed() };
    // SAFETY: `params` is a valid, writable io_uring_params for the duration of the call.
    let fd = check(unsafe { sys::io_uring_setup(2, &mut params) })?;
    // SAFETY: io_uring_setup succeeded, so `fd` is a new descriptor that nothing else
    // owns; OwnedFd closes it (and with it the ring) when dropped.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    register_probe(fd.as_fd(), params.features)
}

/// `IORING_REGISTER_PROBE` on the ring `fd`.
fn register_probe(fd: BorrowedFd<'_>, features: u32) -> io::Result<Probe> {
    let mut raw = RawProbe::zeroed();
    let nr = raw.ops.len() as u32;
    // SAFETY: `raw` is a zeroed, writable buffer with room for the header and `nr` ops,
    // laid out as `struct io_uring_probe` with its flexible array; the kernel writes
    // only within it. `fd` is a live io_uring descriptor.
    check(unsafe {
        sys::io_uring_register(
            fd.as_raw_fd() as u32,
            sys::IORING_REGISTER_PROBE,
            (&raw mut *raw).cast(),
            nr,
        )
    })?;
    Ok(raw.to_probe(features))
}

impl Probe {
    /// Whether the kernel supports operation `code`. A number past
    /// [`last_op`](Probe::last_op) is unsupported.
    ///
    /// The kernel marks an operation unsupported when it is newer than the kernel or
    /// compiled out (no `CONFIG_NET`, no epoll, …). Support in the probe does not promise
    /// that every flag or variant of the operation works.
    ///
    /// ```
    /// let p = uring::probe::probe()?;
    /// let read = uring::probe::opcode_by_name("read").unwrap();
    /// assert!(p.is_supported(read.code)); // Linux 5.6+
    /// assert!(!p.is_supported(255));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_opcode_supported")]
    pub fn is_supported(&self, code: u8) -> bool {
        self.supported[usize::from(code / 64)] & (1 << (code % 64)) != 0
    }

    /// The highest operation number this kernel knows (its `IORING_OP_LAST - 1`),
    /// supported or not. It can be below or above `OPCODES.len() - 1`: older kernels
    /// know fewer operations, newer ones more than this crate.
    ///
    /// ```
    /// let p = uring::probe::probe()?;
    /// let newer = (u16::from(p.last_op()) + 1).saturating_sub(uring::probe::OPCODES.len() as u16);
    /// println!("this kernel knows {newer} operations this crate has no name for");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn last_op(&self) -> u8 {
        self.last_op
    }

    /// Every operation number from 0 through [`last_op`](Probe::last_op), as
    /// `(code, supported, the crate's entry for it if any)`.
    ///
    /// ```
    /// let p = uring::probe::probe()?;
    /// let missing: Vec<String> = p
    ///     .iter()
    ///     .filter(|&(_, supported, _)| !supported)
    ///     .map(|(code, _, op)| op.map_or(format!("#{code}"), |op| op.short_name.to_string()))
    ///     .collect();
    /// println!("unsupported here: {}", missing.join(", "));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn iter(
        &self,
    ) -> impl ExactSizeIterator<Item = (u8, bool, Option<&'static Opcode>)> + DoubleEndedIterator + '_
    {
        (0..=self.last_op).map(move |code| (code, self.is_supported(code), opcode(code)))
    }

    /// The `IORING_FEAT_*` flags the kernel reported when the probed ring was set up
    /// (`io_uring_params.features`). Bits this crate has no name for are kept.
    ///
    /// ```
    /// use uring::Features;
    ///
    /// let p = uring::probe::probe()?;
    /// assert!(p.features().contains(Features::NODROP)); // Linux 5.5+
    /// for f in uring::probe::FEATURES {
    ///     println!("{:32} {}", f.name, p.features().bits() & f.bit != 0);
    /// }
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn features(&self) -> Features {
        Features::from_bits_retain(self.features)
    }
}

/// Probing through a ring that already exists.
impl Ring {
    /// Which operations the running kernel supports, asked through this ring's
    /// descriptor (no new ring is set up); [`Probe::features`] are this ring's.
    ///
    /// A ring without a plain descriptor (`REGISTERED_FD_ONLY`) is answered through a
    /// temporary ring, as by [`probe()`]: the kernel's answer does not depend on the
    /// ring. Errors are as for [`probe()`].
    ///
    /// ```
    /// let ring = uring::Ring::new(4)?;
    /// let p = ring.probe()?;
    /// assert!(p.is_supported(uring::sys::IORING_OP_NOP as u8));
    /// assert_eq!(p.features(), ring.features());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_get_probe_ring")]
    #[doc(alias = "io_uring_register_probe")]
    pub fn probe(&self) -> io::Result<Probe> {
        let features = self.features().bits();
        match self.fd() {
            Some(fd) => register_probe(fd, features),
            None => Ok(Probe {
                features,
                ..probe()?
            }),
        }
    }
}

impl fmt::Debug for Probe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Code(u8);
        impl fmt::Debug for Code {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match opcode(self.0) {
                    Some(op) => f.write_str(op.short_name),
                    None => write!(f, "#{}", self.0),
                }
            }
        }
        f.debug_struct("Probe")
            .field("last_op", &self.last_op)
            .field(
                "supported",
                &self
                    .iter()
                    .filter(|e| e.1)
                    .map(|e| Code(e.0))
                    .collect::<Vec<_>>(),
            )
            .field("features", &format_args!("{:#x}", self.features))
            .finish()
    }
}
