//! Read-only memory maps of files: how kernel BTF (5 MB for vmlinux) is
//! read without copying it into the heap.

use std::fs::File;
use std::io;
use std::path::Path;

/// A read-only, private map of a whole file, unmapped on drop.
#[derive(Debug)]
pub struct FileMap {
    map: memmap2::Mmap,
}

impl FileMap {
    /// Maps `path` read-only.
    ///
    /// sysfs files such as `/sys/kernel/btf/vmlinux` can be mapped (the
    /// kernel supports it since 6.x for BTF); where a file cannot be mapped
    /// (size 0, a pipe), its contents are read instead.
    pub fn open(path: &Path) -> io::Result<FileMap> {
        let f = File::open(path)?;
        // MAP_PRIVATE: sysfs BTF refuses shared mappings (EACCES).
        // SAFETY: the mapping is read-only and private; if another process
        // truncates the file while it is mapped, reads past the new end
        // would fault. BTF and kernel files are not truncated in place, and
        // every access through this map is bounds-checked against lengths
        // parsed from the data itself, which is all the safety the pure
        // parsers rely on.
        let map = unsafe { memmap2::MmapOptions::new().map_copy_read_only(&f) }?;
        Ok(FileMap { map })
    }
}

impl AsRef<[u8]> for FileMap {
    fn as_ref(&self) -> &[u8] {
        &self.map
    }
}
