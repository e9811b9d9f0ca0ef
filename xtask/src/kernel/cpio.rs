//! A writer (and, for tests, a reader) of the "newc" cpio format the kernel unpacks as an
//! initramfs: uncompressed, so no `cpio` or `gzip` tool is needed.
//!
//! Every entry is a 110-byte ASCII header (`070701` and thirteen 8-digit hex fields), the
//! NUL-terminated name padded to 4 bytes, then the data padded to 4 bytes; the archive
//! ends with an entry named `TRAILER!!!`.

use std::io::{self, Write};

const MAGIC: &[u8; 6] = b"070701";
pub const S_IFDIR: u32 = 0o040000;
pub const S_IFREG: u32 = 0o100000;
pub const S_IFCHR: u32 = 0o020000;
pub const S_IFLNK: u32 = 0o120000;

/// One entry's metadata, as the header carries it.
#[cfg(test)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub name: String,
}

/// Streams a newc archive into `out`.
pub struct Writer<W: Write> {
    out: W,
    next_ino: u32,
    written: u64,
}

impl<W: Write> Writer<W> {
    pub fn new(out: W) -> Writer<W> {
        Writer {
            out,
            next_ino: 1,
            written: 0,
        }
    }

    /// A directory (`name` without a leading `/`, e.g. `dev`).
    pub fn dir(&mut self, name: &str, perm: u32) -> io::Result<()> {
        self.entry(name, S_IFDIR | (perm & 0o7777), 2, &[], (0, 0))
    }

    /// A regular file with `data`.
    pub fn file(&mut self, name: &str, perm: u32, data: &[u8]) -> io::Result<()> {
        self.entry(name, S_IFREG | (perm & 0o7777), 1, data, (0, 0))
    }

    /// A character device node.
    pub fn char_dev(&mut self, name: &str, perm: u32, major: u32, minor: u32) -> io::Result<()> {
        self.entry(name, S_IFCHR | (perm & 0o7777), 1, &[], (major, minor))
    }

    /// A symbolic link whose contents are `target`.
    pub fn symlink(&mut self, name: &str, target: &str) -> io::Result<()> {
        self.entry(name, S_IFLNK | 0o777, 1, target.as_bytes(), (0, 0))
    }

    /// Writes the trailer and returns the sink.
    pub fn finish(mut self) -> io::Result<W> {
        self.entry("TRAILER!!!", 0, 1, &[], (0, 0))?;
        self.out.flush()?;
        Ok(self.out)
    }

    fn entry(
        &mut self,
        name: &str,
        mode: u32,
        nlink: u32,
        data: &[u8],
        rdev: (u32, u32),
    ) -> io::Result<()> {
        if name.is_empty() || name.contains('\0') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad cpio entry name {name:?}"),
            ));
        }
        let filesize = u32::try_from(data.len()).map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{name}: {} bytes is too big for cpio", data.len()),
            )
        })?;
        let ino = if name == "TRAILER!!!" {
            0
        } else {
            self.next_ino
        };
        self.next_ino += 1;
        let fields = [
            ino,
            mode,
            0,
            0,
            nlink,
            0,
            filesize,
            0,
            0,
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0,
        ];
        let mut header = Vec::with_capacity(110 + name.len() + 4);
        header.extend_from_slice(MAGIC);
        for f in fields {
            header.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        header.extend_from_slice(name.as_bytes());
        header.push(0);
        pad(&mut header, self.written);
        self.out.write_all(&header)?;
        self.written += header.len() as u64;
        self.out.write_all(data)?;
        self.written += data.len() as u64;
        let mut tail = Vec::new();
        pad(&mut tail, self.written);
        self.out.write_all(&tail)?;
        self.written += tail.len() as u64;
        Ok(())
    }
}

/// Appends NULs to `buf` until `offset + buf.len()` is a multiple of 4.
fn pad(buf: &mut Vec<u8>, offset: u64) {
    while (offset + buf.len() as u64) % 4 != 0 {
        buf.push(0);
    }
}

/// Reads a newc archive back: every entry before the trailer, with its data.
#[cfg(test)]
pub fn read(archive: &[u8]) -> Result<Vec<(Header, Vec<u8>)>, String> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        let h = archive
            .get(pos..pos + 110)
            .ok_or(format!("truncated header at {pos}"))?;
        if &h[..6] != MAGIC {
            return Err(format!("bad magic at {pos}"));
        }
        let at = pos;
        let field = |i: usize| -> Result<u32, String> {
            let s = std::str::from_utf8(&h[6 + i * 8..14 + i * 8]).map_err(|e| e.to_string())?;
            u32::from_str_radix(s, 16).map_err(|e| format!("field {i} at {at}: {e}"))
        };
        let namesize = field(11)? as usize;
        let name_bytes = archive
            .get(pos + 110..pos + 110 + namesize)
            .ok_or("truncated name")?;
        if name_bytes.last() != Some(&0) {
            return Err(format!("name at {pos} is not NUL-terminated"));
        }
        let name =
            String::from_utf8(name_bytes[..namesize - 1].to_vec()).map_err(|e| e.to_string())?;
        let data_start = (pos + 110 + namesize).next_multiple_of(4);
        let filesize = field(6)? as usize;
        let data = archive
            .get(data_start..data_start + filesize)
            .ok_or("truncated data")?
            .to_vec();
        pos = (data_start + filesize).next_multiple_of(4);
        if name == "TRAILER!!!" {
            if pos != archive.len() {
                return Err(format!("{} bytes after the trailer", archive.len() - pos));
            }
            return Ok(out);
        }
        let header = Header {
            ino: field(0)?,
            mode: field(1)?,
            uid: field(2)?,
            gid: field(3)?,
            nlink: field(4)?,
            mtime: field(5)?,
            filesize: filesize as u32,
            rdevmajor: field(9)?,
            rdevminor: field(10)?,
            name,
        };
        out.push((header, data));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_header_fields_and_data() {
        let mut w = Writer::new(Vec::new());
        w.dir("dev", 0o755).unwrap();
        w.char_dev("dev/console", 0o600, 5, 1).unwrap();
        w.file("init", 0o755, b"#!init").unwrap();
        w.file("tests/a", 0o755, &[]).unwrap();
        w.file("odd", 0o644, b"12345").unwrap();
        let bytes = w.finish().unwrap();
        assert_eq!(bytes.len() % 4, 0);
        let entries = read(&bytes).unwrap();
        let names: Vec<_> = entries.iter().map(|(h, _)| h.name.as_str()).collect();
        assert_eq!(names, ["dev", "dev/console", "init", "tests/a", "odd"]);
        let (dev, _) = &entries[0];
        assert_eq!((dev.mode, dev.nlink), (S_IFDIR | 0o755, 2));
        let (console, _) = &entries[1];
        assert_eq!(
            (console.mode, console.rdevmajor, console.rdevminor),
            (S_IFCHR | 0o600, 5, 1)
        );
        let (init, data) = &entries[2];
        assert_eq!(
            (init.mode, init.filesize, data.as_slice()),
            (S_IFREG | 0o755, 6, &b"#!init"[..])
        );
        assert_eq!(entries[4].1, b"12345");
        let inos: std::collections::HashSet<_> = entries.iter().map(|(h, _)| h.ino).collect();
        assert_eq!(inos.len(), entries.len(), "inode numbers are unique");
        assert!(
            entries
                .iter()
                .all(|(h, _)| h.uid == 0 && h.gid == 0 && h.mtime == 0)
        );
    }

    #[test]
    fn symlinks_carry_their_target_as_data() {
        let mut w = Writer::new(Vec::new());
        w.symlink("bin/sh", "busybox").unwrap();
        let entries = read(&w.finish().unwrap()).unwrap();
        let (h, data) = &entries[0];
        assert_eq!(
            (h.name.as_str(), h.mode, h.filesize, data.as_slice()),
            ("bin/sh", S_IFLNK | 0o777, 7, &b"busybox"[..])
        );
    }

    #[test]
    fn header_layout_is_exact() {
        let bytes = Writer::new(Vec::new()).finish().unwrap();
        // One trailer entry: 110-byte header + "TRAILER!!!\0" (11) = 121, padded to 124.
        assert_eq!(bytes.len(), 124);
        assert_eq!(&bytes[..6], b"070701");
        assert_eq!(
            &bytes[6 + 11 * 8..14 + 11 * 8],
            b"0000000b",
            "namesize counts the NUL"
        );
        assert_eq!(&bytes[110..121], b"TRAILER!!!\0");
    }

    #[test]
    fn bad_names_are_refused() {
        let mut w = Writer::new(Vec::new());
        assert!(w.file("", 0o644, b"").is_err());
        assert!(w.file("a\0b", 0o644, b"").is_err());
    }

    #[test]
    fn reader_rejects_garbage() {
        assert!(read(b"not a cpio archive at all, but long enough to hold a header? no").is_err());
        let mut bytes = Writer::new(Vec::new()).finish().unwrap();
        bytes[0] = b'1';
        assert!(read(&bytes).is_err());
    }
}
