//! Directory entries: unlink, mkdir, rename, link, symlink.

use std::ffi::CString;
use std::io;
use std::path::Path;

use super::{c_path, dir_of, unit};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::{Op, SharedFd};
use crate::sqe::Sqe;

/// Removes a file (or, with `AT_REMOVEDIR`, a directory), like `unlinkat(2)`:
/// `IORING_OP_UNLINKAT` (Linux 5.11).
#[derive(Debug)]
pub struct UnlinkAt {
    dir: Option<SharedFd>,
    path: CString,
    flags: i32,
}

impl UnlinkAt {
    /// Remove `path` with `flags` (0 or `AT_REMOVEDIR`).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(path: impl AsRef<Path>, flags: i32) -> io::Result<UnlinkAt> {
        Ok(UnlinkAt {
            dir: None,
            path: c_path(path.as_ref())?,
            flags,
        })
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> UnlinkAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (CString heap bytes) and a directory descriptor the op's
// SharedFd keeps open.
unsafe impl Op for UnlinkAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::UnlinkAt::new(dir_of(&self.dir), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Makes a directory, like `mkdirat(2)`: `IORING_OP_MKDIRAT` (Linux 5.15).
#[derive(Debug)]
pub struct MkDirAt {
    dir: Option<SharedFd>,
    path: CString,
    mode: libc::mode_t,
}

impl MkDirAt {
    /// Make directory `path` with permissions `mode` (less the umask).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when the path contains a NUL byte.
    pub fn new(path: impl AsRef<Path>, mode: libc::mode_t) -> io::Result<MkDirAt> {
        Ok(MkDirAt {
            dir: None,
            path: c_path(path.as_ref())?,
            mode,
        })
    }

    /// Resolve a relative path against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> MkDirAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names the path (CString heap bytes) and a directory descriptor the op's
// SharedFd keeps open.
unsafe impl Op for MkDirAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::MkDirAt::new(dir_of(&self.dir), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}

/// Two paths, each relative to its own directory (or the current one): what
/// `renameat2(2)` and `linkat(2)` name.
#[derive(Debug)]
struct PathPair {
    old_dir: Option<SharedFd>,
    old: CString,
    new_dir: Option<SharedFd>,
    new: CString,
}

impl PathPair {
    fn new(old: &Path, new: &Path) -> io::Result<PathPair> {
        Ok(PathPair {
            old_dir: None,
            old: c_path(old)?,
            new_dir: None,
            new: c_path(new)?,
        })
    }

    fn set_dirs(&mut self, old_dir: SharedFd, new_dir: SharedFd) {
        self.old_dir = Some(old_dir);
        self.new_dir = Some(new_dir);
    }
}

/// An operation on a [`PathPair`] with flags: the struct (with `$attr` as its docs),
/// `new(old, new)`, `dirs(old_dir, new_dir)`, `flags(..)` (of type `$flags`, with
/// `$flags_doc`), and an [`Op`] whose entry is `raw::$name` on the two directories and
/// paths. [`RenameAt`] and [`LinkAt`] differ only in these.
macro_rules! path_pair_op {
    (
        $(#[$attr:meta])*
        pub struct $name:ident;
        $(#[$new_doc:meta])*
        fn new;
        $(#[$flags_doc:meta])*
        fn flags($flags:ty);
    ) => {
        $(#[$attr])*
        #[derive(Debug)]
        pub struct $name {
            paths: PathPair,
            flags: $flags,
        }

        impl $name {
            $(#[$new_doc])*
            ///
            /// # Errors
            ///
            /// `InvalidInput` when a path contains a NUL byte.
            pub fn new(old: impl AsRef<Path>, new: impl AsRef<Path>) -> io::Result<$name> {
                Ok($name {
                    paths: PathPair::new(old.as_ref(), new.as_ref())?,
                    flags: 0,
                })
            }

            /// Resolve the relative paths against these directories.
            pub fn dirs(
                mut self,
                old_dir: impl Into<SharedFd>,
                new_dir: impl Into<SharedFd>,
            ) -> $name {
                self.paths.set_dirs(old_dir.into(), new_dir.into());
                self
            }

            $(#[$flags_doc])*
            pub fn flags(mut self, flags: $flags) -> $name {
                self.flags = flags;
                self
            }
        }

        // SAFETY: names two paths (CString heap bytes, never mutated) and directory
        // descriptors the op's SharedFds keep open (with LinkAt's AT_EMPTY_PATH the
        // kernel uses the old directory's descriptor itself, which is kept open the
        // same way).
        unsafe impl Op for $name {
            type Output = io::Result<()>;
            fn sqe(&mut self) -> Sqe {
                let p = &self.paths;
                raw::$name::new(
                    dir_of(&p.old_dir),
                    p.old.as_ptr(),
                    dir_of(&p.new_dir),
                    p.new.as_ptr(),
                )
                .flags(self.flags)
                .build()
            }
            fn complete(self, cqe: &Cqe) -> io::Result<()> {
                unit(cqe)
            }
        }
    };
}

path_pair_op! {
    /// Renames a file, like `renameat2(2)`: `IORING_OP_RENAMEAT` (Linux 5.11).
    pub struct RenameAt;
    /// Rename `old` to `new` (both relative to the current directory unless
    /// directories are given).
    fn new;
    /// `RENAME_*` flags (`RENAME_NOREPLACE`, `RENAME_EXCHANGE`).
    fn flags(u32);
}

path_pair_op! {
    /// Makes a hard link, like `linkat(2)`: `IORING_OP_LINKAT` (Linux 5.15). The op
    /// owns both paths.
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops::LinkAt};
    /// # if !uring::probe::probe()?.is_supported(uring::op::LinkAt::CODE) { return Ok(()) } // older kernel
    /// let dir = std::env::temp_dir().join(format!("uring-doc-linkat-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir)?;
    /// std::fs::write(dir.join("a"), b"data")?;
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(LinkAt::new(dir.join("a"), dir.join("b"))?)?;
    /// ring.wait_for(id)??;
    /// assert_eq!(std::fs::read(dir.join("b"))?, b"data");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "io_uring_prep_linkat")]
    pub struct LinkAt;
    /// Link `new` to the file `old` names (both relative to the current directory
    /// unless directories are given).
    fn new;
    /// `AT_SYMLINK_FOLLOW` (link to what a symlink `old` points at) or
    /// `AT_EMPTY_PATH` (with an empty `old`: link the old directory descriptor's
    /// file itself).
    fn flags(i32);
}

/// Makes a symbolic link, like `symlinkat(2)`: `IORING_OP_SYMLINKAT` (Linux 5.15).
/// The op owns the target and the link's path.
///
/// ```
/// use uring::owned::{OwnedRing, ops::SymlinkAt};
/// # if !uring::probe::probe()?.is_supported(uring::op::SymlinkAt::CODE) { return Ok(()) } // older kernel
/// let link = std::env::temp_dir().join(format!("uring-doc-symlink-{}", std::process::id()));
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(SymlinkAt::new("/dev/null", &link)?)?;
/// ring.wait_for(id)??;
/// assert_eq!(std::fs::read_link(&link)?, std::path::Path::new("/dev/null"));
/// # std::fs::remove_file(&link)?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_symlinkat")]
#[derive(Debug)]
pub struct SymlinkAt {
    target: CString,
    dir: Option<SharedFd>,
    link: CString,
}

impl SymlinkAt {
    /// Make `link` (relative to the current directory unless [`dir`](Self::dir) is
    /// given) a symbolic link holding `target` (not resolved: it may dangle).
    ///
    /// # Errors
    ///
    /// `InvalidInput` when a path contains a NUL byte.
    pub fn new(target: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<SymlinkAt> {
        Ok(SymlinkAt {
            target: c_path(target.as_ref())?,
            dir: None,
            link: c_path(link.as_ref())?,
        })
    }

    /// Resolve a relative `link` against this directory.
    pub fn dir(mut self, dir: impl Into<SharedFd>) -> SymlinkAt {
        self.dir = Some(dir.into());
        self
    }
}

// SAFETY: names two strings (CString heap bytes, never mutated) and a directory
// descriptor the op's SharedFd keeps open.
unsafe impl Op for SymlinkAt {
    type Output = io::Result<()>;
    fn sqe(&mut self) -> Sqe {
        raw::SymlinkAt::new(dir_of(&self.dir), self.target.as_ptr(), self.link.as_ptr()).build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<()> {
        unit(cqe)
    }
}
