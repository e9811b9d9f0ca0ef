//! Reading and writing: plain, vectored; splice, tee.

use std::io;

use super::{BufResult, FileRef, IoVecs, read_into, set_filled};
use crate::cqueue::Cqe;
use crate::op as raw;
use crate::owned::buf::len32;
use crate::owned::imp::{Binding, Token};
use crate::owned::{IoBuf, IoBufMut, Op};
use crate::sqe::Sqe;

/// Reads into a buffer at an offset, like `pread(2)`: `IORING_OP_READ` (Linux
/// 5.6). The kernel fills the buffer from its start, up to its
/// [`bytes_total`](IoBuf::bytes_total) (a `Vec`'s capacity); a `Vec`'s length then
/// grows to cover what was read. An offset of `u64::MAX` reads at the file position.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{OwnedRing, ops::Read};
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// w.write_all(b"hi")?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Read::new(r, Vec::with_capacity(16), u64::MAX))?;
/// let (n, buf) = ring.wait_for(id)?;
/// assert_eq!((n?, &buf[..]), (2, &b"hi"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Read<B> {
    fd: FileRef,
    buf: B,
    offset: u64,
}

impl<B: IoBufMut> Read<B> {
    /// Read from `fd` at `offset` into `buf`.
    pub fn new(fd: impl Into<FileRef>, buf: B, offset: u64) -> Read<B> {
        Read {
            fd: fd.into(),
            buf,
            offset,
        }
    }

    /// The buffer back, from an operation that was not submitted (a
    /// [`SubmitError`](crate::owned::SubmitError)'s).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let mut other = OwnedRing::new(4)?;
    /// let held = other.hold_fd(std::fs::File::open("/dev/zero")?)?;
    /// let refused = ring.submit_op(ops::Read::new(held, vec![0u8; 8], 0)).unwrap_err();
    /// assert_eq!(refused.op.into_buf().len(), 8);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the entry names the buffer's stable memory (IoBufMut: exclusively owned,
// valid for bytes_total bytes, address unchanged by moves) and a descriptor the op's
// FileRef keeps open.
unsafe impl<B: IoBufMut> Op for Read<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_total());
        raw::Read::new(self.fd.target(), self.buf.stable_mut_ptr(), len)
            .offset(self.offset)
            .build()
    }
    #[inline]
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        // The file is dropped on its own: a reference count's slow path (which
        // takes its address) then sees that one field, not the whole op.
        let Read { buf, fd, .. } = self;
        drop(fd);
        // SAFETY: a read's count is of the bytes it stored from the buffer's
        // start.
        unsafe { read_into(buf, cqe) }
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
    #[inline(always)]
    unsafe fn complete_at(this: *mut Self, cqe: &Cqe, _: Token) -> BufResult<B> {
        // SAFETY: the caller's contract: `this` is a valid operation it gives
        // up; each field is read or dropped once, in place.
        let buf = unsafe {
            core::ptr::drop_in_place(&raw mut (*this).fd);
            (&raw const (*this).buf).read()
        };
        // SAFETY: as in `complete`.
        unsafe { read_into(buf, cqe) }
    }
    #[inline(always)]
    fn posts_more(_: Token) -> bool {
        false
    }
}

/// Writes a buffer's initialised bytes at an offset, like `pwrite(2)`:
/// `IORING_OP_WRITE` (Linux 5.6). An offset of `u64::MAX` writes at the file
/// position.
///
/// ```
/// use std::io::Read as _;
/// use uring::owned::{OwnedRing, IoBuf, ops::Write};
/// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Write::new(w, b"hello".to_vec().slice(1..), u64::MAX))?;
/// let (n, _buf) = ring.wait_for(id)?;
/// assert_eq!(n?, 4);
/// let mut got = [0u8; 4];
/// r.read_exact(&mut got)?;
/// assert_eq!(&got, b"ello");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Write<B> {
    fd: FileRef,
    buf: B,
    offset: u64,
}

impl<B: IoBuf> Write<B> {
    /// Write `buf` to `fd` at `offset`.
    pub fn new(fd: impl Into<FileRef>, buf: B, offset: u64) -> Write<B> {
        Write {
            fd: fd.into(),
            buf,
            offset,
        }
    }

    /// The buffer back, from an operation that was not submitted (a
    /// [`SubmitError`](crate::owned::SubmitError)'s).
    ///
    /// ```
    /// use uring::owned::{OwnedRing, ops};
    /// let mut ring = OwnedRing::new(4)?;
    /// let mut other = OwnedRing::new(4)?;
    /// let held = other.hold_fd(std::fs::File::open("/dev/null")?)?;
    /// let refused = ring.submit_op(ops::Write::new(held, b"abc".to_vec(), 0)).unwrap_err();
    /// assert_eq!(refused.op.into_buf(), b"abc");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn into_buf(self) -> B {
        self.buf
    }
}

// SAFETY: the entry names the buffer's stable, initialised memory (IoBuf: not
// written by anyone while owned) and a descriptor the op's FileRef keeps open.
unsafe impl<B: IoBuf> Op for Write<B> {
    type Output = BufResult<B>;
    fn sqe(&mut self) -> Sqe {
        let len = len32(self.buf.bytes_init());
        raw::Write::new(self.fd.target(), self.buf.stable_ptr(), len)
            .offset(self.offset)
            .build()
    }
    #[inline]
    fn complete(self, cqe: &Cqe) -> BufResult<B> {
        (cqe.result().map(|n| n as usize), self.buf)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
    #[inline(always)]
    fn posts_more(_: Token) -> bool {
        false
    }
}

/// Reads into several buffers in turn, like `preadv(2)`: `IORING_OP_READV`
/// (Linux 5.1). The op builds the iovec array and keeps it alive; each buffer's
/// initialised length grows over what landed in it.
///
/// ```
/// use std::io::Write as _;
/// use uring::owned::{OwnedRing, ops::Readv};
/// let (r, mut w) = std::os::unix::net::UnixStream::pair()?;
/// w.write_all(b"abcdef")?;
/// let mut ring = OwnedRing::new(2)?;
/// let bufs = vec![Vec::with_capacity(2), Vec::with_capacity(8)];
/// let id = ring.submit_op(Readv::new(r, bufs, u64::MAX))?;
/// let (n, bufs) = ring.wait_for(id)?;
/// assert_eq!(n?, 6);
/// assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"ab"[..], &b"cdef"[..]));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Readv<B> {
    fd: FileRef,
    bufs: Vec<B>,
    iovecs: IoVecs,
    offset: u64,
}

impl<B: IoBufMut> Readv<B> {
    /// Read from `fd` (plain or direct) at `offset` into `bufs`, in order.
    pub fn new(fd: impl Into<FileRef>, bufs: Vec<B>, offset: u64) -> Readv<B> {
        Readv {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs::empty(),
            offset,
        }
    }
}

// SAFETY: the entry names the iovec array (its own heap Vec, not touched again
// until completion) whose entries name the buffers' stable, exclusively owned
// memory, and a descriptor the op's FileRef keeps open.
unsafe impl<B: IoBufMut> Op for Readv<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        self.iovecs = IoVecs(
            self.bufs
                .iter_mut()
                .map(|b| libc::iovec {
                    iov_base: b.stable_mut_ptr().cast(),
                    iov_len: b.bytes_total(),
                })
                .collect(),
        );
        let iov = &self.iovecs.0;
        raw::Readv::new(self.fd.target(), iov.as_ptr(), len32(iov.len()))
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        let Readv { mut bufs, .. } = self;
        let res = cqe.result().map(|n| n as usize);
        if let Ok(n) = res {
            // SAFETY: readv stored n bytes, filling the iovecs in order, each
            // completely before the next.
            unsafe { set_filled(&mut bufs, n) };
        }
        (res, bufs)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Writes several buffers' initialised bytes in turn, like `pwritev(2)`:
/// `IORING_OP_WRITEV` (Linux 5.1).
#[derive(Debug)]
pub struct Writev<B> {
    fd: FileRef,
    bufs: Vec<B>,
    iovecs: IoVecs,
    offset: u64,
}

impl<B: IoBuf> Writev<B> {
    /// Write `bufs` to `fd` (plain or direct) at `offset`, in order.
    ///
    /// ```
    /// use std::io::Read as _;
    /// use uring::owned::{OwnedRing, ops::Writev};
    /// let (mut r, w) = std::os::unix::net::UnixStream::pair()?;
    /// let mut ring = OwnedRing::new(2)?;
    /// let id = ring.submit_op(Writev::new(w, vec![b"ab".to_vec(), b"cd".to_vec()], u64::MAX))?;
    /// assert_eq!(ring.wait_for(id)?.0?, 4);
    /// let mut got = [0u8; 4];
    /// r.read_exact(&mut got)?;
    /// assert_eq!(&got, b"abcd");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new(fd: impl Into<FileRef>, bufs: Vec<B>, offset: u64) -> Writev<B> {
        Writev {
            fd: fd.into(),
            bufs,
            iovecs: IoVecs::empty(),
            offset,
        }
    }
}

// SAFETY: as for Readv, with the kernel only reading the buffers' initialised bytes.
unsafe impl<B: IoBuf> Op for Writev<B> {
    type Output = BufResult<Vec<B>>;
    fn sqe(&mut self) -> Sqe {
        self.iovecs = IoVecs(
            self.bufs
                .iter()
                .map(|b| libc::iovec {
                    iov_base: b.stable_ptr().cast_mut().cast(),
                    iov_len: b.bytes_init(),
                })
                .collect(),
        );
        let iov = &self.iovecs.0;
        raw::Writev::new(self.fd.target(), iov.as_ptr(), len32(iov.len()))
            .offset(self.offset)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> BufResult<Vec<B>> {
        (cqe.result().map(|n| n as usize), self.bufs)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd.binding()
    }
}

/// Moves data between a pipe and another file without copying it to user space,
/// like `splice(2)`: `IORING_OP_SPLICE` (Linux 5.7). One side must be a pipe. Output:
/// the bytes moved. Either side may be a direct descriptor (`SPLICE_F_FD_IN_FIXED`
/// for the input); an operation naming direct descriptors of two rings is
/// refused by both.
///
/// ```
/// use std::io::{Read as _, Write as _};
/// use std::os::unix::net::UnixStream;
/// use uring::owned::{DirectTable, OwnedRing, ops::Splice};
/// let mut ring = OwnedRing::new(4)?;
/// # let Ok(table) = DirectTable::new(&mut ring, 2, 0) else { return Ok(()) }; // < 6.0
/// # /*
/// let table = DirectTable::new(&mut ring, 2, 0)?;
/// # */
/// let (mut theirs, sock) = UnixStream::pair()?;
/// let sock = table.insert(sock)?; // direct: the input
/// let (mut out, to_out) = UnixStream::pair()?;
/// let mut fds = [0; 2];
/// // SAFETY: fds has room for the two descriptors pipe2 makes.
/// assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
/// // SAFETY: two new descriptors nothing else owns.
/// let (r, w) = unsafe {
///     use std::os::fd::FromRawFd;
///     (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1]))
/// };
/// let r = table.insert(r)?; // a direct read end; the write end stays plain
/// theirs.write_all(b"through a pipe")?;
/// let id = ring.submit_op(Splice::new(&sock, None, w, None, 64))?; // direct to plain
/// assert_eq!(ring.wait_for(id)??, 14);
/// let id = ring.submit_op(Splice::new(&r, None, to_out, None, 64))?; // and on
/// assert_eq!(ring.wait_for(id)??, 14);
/// let mut got = [0u8; 14];
/// out.read_exact(&mut got)?;
/// assert_eq!(&got, b"through a pipe");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Splice {
    fd_in: FileRef,
    off_in: Option<u64>,
    fd_out: FileRef,
    off_out: Option<u64>,
    len: u32,
    flags: u32,
}

impl Splice {
    /// Move up to `len` bytes from `fd_in` (at `off_in`, or its position for
    /// `None`, which a pipe needs) to `fd_out` (likewise).
    pub fn new(
        fd_in: impl Into<FileRef>,
        off_in: Option<u64>,
        fd_out: impl Into<FileRef>,
        off_out: Option<u64>,
        len: u32,
    ) -> Splice {
        Splice {
            fd_in: fd_in.into(),
            off_in,
            fd_out: fd_out.into(),
            off_out,
            len,
            flags: 0,
        }
    }

    /// `SPLICE_F_*` flags (`SPLICE_F_MOVE`, `SPLICE_F_NONBLOCK`, …);
    /// `SPLICE_F_FD_IN_FIXED` is dropped (it follows from the input's kind).
    pub fn flags(mut self, flags: u32) -> Splice {
        self.flags = flags & !crate::sys::SPLICE_F_FD_IN_FIXED;
        self
    }
}

// SAFETY: names only two descriptors the op's FileRefs keep open (the input is
// fixed exactly when it is direct: the raw builder sets SPLICE_F_FD_IN_FIXED from
// it, the caller's flag is masked out), bound to the ring of any direct one.
unsafe impl Op for Splice {
    type Output = io::Result<usize>;
    fn sqe(&mut self) -> Sqe {
        let off = |o: Option<u64>| o.map_or(-1, |o| o as i64);
        raw::Splice::new(
            self.fd_in.target(),
            off(self.off_in),
            self.fd_out.target(),
            off(self.off_out),
            self.len,
        )
        .flags(self.flags)
        .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<usize> {
        cqe.result().map(|n| n as usize)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd_in.binding().and(self.fd_out.binding())
    }
}

/// Duplicates up to `len` bytes from one pipe into another without consuming
/// them, like `tee(2)`: `IORING_OP_TEE` (Linux 5.8). Output: the bytes duplicated.
///
/// ```
/// use std::io::{Read as _, Write as _};
/// use std::os::fd::FromRawFd;
/// use uring::owned::{OwnedRing, ops::Tee};
/// # if !uring::probe::probe()?.is_supported(uring::op::Tee::CODE) { return Ok(()) } // older kernel
/// fn pipe() -> std::io::Result<(std::fs::File, std::fs::File)> {
///     let mut fds = [0; 2];
///     // SAFETY: fds has room for the two descriptors pipe2 makes.
///     if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
///         return Err(std::io::Error::last_os_error());
///     }
///     // SAFETY: two new descriptors nothing else owns.
///     Ok(unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) })
/// }
/// let ((mut r1, mut w1), (mut r2, w2)) = (pipe()?, pipe()?);
/// w1.write_all(b"copy me")?;
/// let mut ring = OwnedRing::new(2)?;
/// let id = ring.submit_op(Tee::new(r1.try_clone()?, w2, 64))?;
/// assert_eq!(ring.wait_for(id)??, 7);
/// let mut a = [0u8; 7];
/// let mut b = [0u8; 7];
/// r1.read_exact(&mut a)?; // still in the first pipe
/// r2.read_exact(&mut b)?; // and now in the second
/// assert_eq!((&a, &b), (b"copy me", b"copy me"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "io_uring_prep_tee")]
#[derive(Debug)]
pub struct Tee {
    fd_in: FileRef,
    fd_out: FileRef,
    len: u32,
    flags: u32,
}

impl Tee {
    /// Duplicate up to `len` bytes from pipe `fd_in` into pipe `fd_out` (either
    /// plain or direct).
    pub fn new(fd_in: impl Into<FileRef>, fd_out: impl Into<FileRef>, len: u32) -> Tee {
        Tee {
            fd_in: fd_in.into(),
            fd_out: fd_out.into(),
            len,
            flags: 0,
        }
    }

    /// `SPLICE_F_*` flags (`SPLICE_F_NONBLOCK`, …); `SPLICE_F_FD_IN_FIXED` is
    /// dropped (it follows from the input's kind).
    pub fn flags(mut self, flags: u32) -> Tee {
        self.flags = flags & !crate::sys::SPLICE_F_FD_IN_FIXED;
        self
    }
}

// SAFETY: as for Splice.
unsafe impl Op for Tee {
    type Output = io::Result<usize>;
    fn sqe(&mut self) -> Sqe {
        raw::Tee::new(self.fd_in.target(), self.fd_out.target(), self.len)
            .flags(self.flags)
            .build()
    }
    fn complete(self, cqe: &Cqe) -> io::Result<usize> {
        cqe.result().map(|n| n as usize)
    }
    fn bound_ring(&self, _: Token) -> Binding {
        self.fd_in.binding().and(self.fd_out.binding())
    }
}
