//! Read-only memory maps of files: how kernel BTF (5 MB for vmlinux) is
//! read without copying it into the heap.

use std::fs::File;
use std::io;
use std::path::Path;

/// A read-only, private map of a whole file, unmapped on drop; or, where
/// the file cannot be mapped, its contents read into memory.
#[derive(Debug)]
pub struct FileMap {
    contents: Contents,
}

#[derive(Debug)]
enum Contents {
    Mapped(memmap2::Mmap),
    Read(Vec<u8>),
}

impl FileMap {
    /// Maps `path` read-only, as libbpf 1.7 maps `/sys/kernel/btf/vmlinux`
    /// (one system call instead of a `read()` per 4 KiB page that sysfs
    /// allows).
    ///
    /// Where a file cannot be mapped (a kernel before 6.16 refuses to map
    /// sysfs BTF, size 0 as procfs reports, a pipe), its contents are read
    /// instead.
    pub fn open(path: &Path) -> io::Result<FileMap> {
        let f = File::open(path)?;
        if f.metadata()?.len() > 0 {
            // MAP_PRIVATE: sysfs BTF refuses shared mappings (EACCES).
            // SAFETY: the mapping is read-only and private; if another
            // process truncates the file while it is mapped, reads past the
            // new end would fault. BTF and kernel files are not truncated
            // in place, and every access through this map is bounds-checked
            // against lengths parsed from the data itself, which is all the
            // safety the pure parsers rely on.
            if let Ok(map) = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&f) } {
                return Ok(FileMap { contents: Contents::Mapped(map) });
            }
        }
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut &f, &mut bytes)?;
        Ok(FileMap { contents: Contents::Read(bytes) })
    }

    /// Whether the contents are mapped (not read).
    pub fn is_mapped(&self) -> bool {
        matches!(self.contents, Contents::Mapped(_))
    }
}

impl AsRef<[u8]> for FileMap {
    fn as_ref(&self) -> &[u8] {
        match &self.contents {
            Contents::Mapped(m) => m,
            Contents::Read(v) => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_btf_is_mapped_and_procfs_is_read() {
        let btf = Path::new("/sys/kernel/btf/vmlinux");
        if btf.exists() {
            let m = FileMap::open(btf).unwrap();
            assert_eq!(&m.as_ref()[..2], &0xeb9fu16.to_le_bytes());
            assert_eq!(m.as_ref().len() as u64, std::fs::metadata(btf).unwrap().len());
        }
        // procfs reports size 0: read, not mapped (a map would be empty).
        let status = FileMap::open(Path::new("/proc/self/status")).unwrap();
        assert!(!status.is_mapped());
        assert!(status.as_ref().starts_with(b"Name:"));
    }
}
