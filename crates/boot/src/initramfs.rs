//! A gzip'd newc cpio archive, written in memory: the guest's whole root
//! file system. Built without cpio(1), mknod(2) or root: device nodes are
//! just archive entries.

use std::collections::BTreeSet;
use std::io::Write;

/// An initramfs being written. Parent directories are added on demand,
/// so entries can come in any order.
pub struct Initramfs {
    buf: Vec<u8>,
    dirs: BTreeSet<String>,
    next_ino: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

impl Default for Initramfs {
    fn default() -> Self {
        Self::new()
    }
}

impl Initramfs {
    /// An empty archive.
    pub fn new() -> Initramfs {
        Initramfs { buf: Vec::new(), dirs: BTreeSet::new(), next_ino: 1 }
    }

    /// A directory (and its parents).
    pub fn dir(&mut self, path: &str) {
        let path = path.trim_matches('/');
        if path.is_empty() || self.dirs.contains(path) {
            return;
        }
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        self.dirs.insert(path.to_string());
        self.entry(path, S_IFDIR | 0o755, 2, (0, 0), &[]);
    }

    /// A regular file; `executable` gives it mode 0755 instead of 0644.
    pub fn file(&mut self, path: &str, data: &[u8], executable: bool) {
        let path = self.parent_of(path);
        self.entry(&path, S_IFREG | if executable { 0o755 } else { 0o644 }, 1, (0, 0), data);
    }

    /// A symbolic link at `path` to `target`.
    pub fn symlink(&mut self, path: &str, target: &str) {
        let path = self.parent_of(path);
        self.entry(&path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes());
    }

    /// A character device node.
    pub fn char_dev(&mut self, path: &str, major: u32, minor: u32) {
        let path = self.parent_of(path);
        self.entry(&path, S_IFCHR | 0o600, 1, (major, minor), &[]);
    }

    /// The archive, gzip-compressed (level 1: the archive is rebuilt on
    /// every run and the kernel inflates it in a few milliseconds anyway).
    pub fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&self.buf).expect("writing to memory");
        gz.finish().expect("writing to memory")
    }

    /// The size of the uncompressed archive so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Nothing has been added yet.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn parent_of(&mut self, path: &str) -> String {
        let path = path.trim_start_matches('/').to_string();
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        path
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        let ino = if name == "TRAILER!!!" { 0 } else { self.next_ino };
        self.next_ino += 1;
        let fields = [ino, mode, 0, 0, nlink, 0, data.len() as u32, 0, 0, rdev.0, rdev.1, name.len() as u32 + 1, 0];
        self.buf.extend_from_slice(b"070701");
        for f in fields {
            self.buf.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        self.buf.extend_from_slice(name.as_bytes());
        self.buf.push(0);
        self.pad();
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.buf.len().is_multiple_of(4) {
            self.buf.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    type Entry = (String, u32, (u32, u32), Vec<u8>);

    /// Entries as (name, mode, rdev, data), read back with the format's
    /// own rules (the kernel's initramfs unpacker reads the same fields).
    fn entries(gz: &[u8]) -> Vec<Entry> {
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(gz).read_to_end(&mut raw).unwrap();
        let mut out = Vec::new();
        let mut at = 0;
        let field = |raw: &[u8], at: usize, i: usize| {
            u32::from_str_radix(std::str::from_utf8(&raw[at + 6 + i * 8..at + 14 + i * 8]).unwrap(), 16).unwrap()
        };
        loop {
            assert_eq!(&raw[at..at + 6], b"070701", "magic at {at}");
            let (mode, size, maj, min, namesize) =
                (field(&raw, at, 1), field(&raw, at, 6), field(&raw, at, 9), field(&raw, at, 10), field(&raw, at, 11));
            let name = String::from_utf8(raw[at + 110..at + 110 + namesize as usize - 1].to_vec()).unwrap();
            let data_at = (at + 110 + namesize as usize).next_multiple_of(4);
            let data = raw[data_at..data_at + size as usize].to_vec();
            at = (data_at + size as usize).next_multiple_of(4);
            if name == "TRAILER!!!" {
                assert_eq!(at, raw.len());
                return out;
            }
            out.push((name, mode, (maj, min), data));
        }
    }

    #[test]
    fn parents_first_and_device_nodes() {
        let mut ir = Initramfs::new();
        ir.file("/bin/busybox", b"ELF", true);
        ir.symlink("/bin/sh", "busybox");
        ir.char_dev("/dev/console", 5, 1);
        ir.file("/lib/modules/x.ko", b"12345", false);
        let e = entries(&ir.finish());
        let names: Vec<&str> = e.iter().map(|x| x.0.as_str()).collect();
        assert_eq!(names, ["bin", "bin/busybox", "bin/sh", "dev", "dev/console", "lib", "lib/modules", "lib/modules/x.ko"]);
        assert_eq!(e[1].1, 0o100755);
        assert_eq!(e[2].1 & 0o170000, S_IFLNK);
        assert_eq!(e[2].3, b"busybox");
        assert_eq!((e[4].1 & 0o170000, e[4].2), (S_IFCHR, (5, 1)));
        assert_eq!(e[7].3, b"12345");
    }
}
