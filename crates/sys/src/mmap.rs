//! Memory mapping of `BPF_F_MMAPABLE` array maps (global data).

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use bpfld_asm::types::MapType;

use crate::consts::{BPF_F_MMAPABLE, BPF_F_RDONLY};
use crate::error::{Operation, Result, SysError};
use crate::map::map_info;
use crate::probe::page_size;

/// A shared memory mapping of a `BPF_F_MMAPABLE` array map, unmapped on drop.
///
/// Why: bpfld keeps global variables (`.data`, `.bss`, `.rodata`) in
/// single-entry mmapable arrays; mapping them lets user space read and write
/// the variables directly instead of through element syscalls. The mapping
/// keeps the map alive by itself, so the map fd may be closed.
///
/// The slices cover `max_entries` values, each `round_up(value_size, 8)`
/// bytes apart (the array's element stride). The memory is shared with BPF
/// programs: while an attached program writes it, the bytes seen through the
/// slices can change underneath; use this for initialisation and for data
/// that programs do not concurrently modify.
#[derive(Debug)]
pub struct MmapedMap {
    ptr: NonNull<u8>,
    /// Length of the mapping (page-rounded).
    map_len: usize,
    /// Length of the map data exposed through the slices.
    data_len: usize,
    writable: bool,
}

// SAFETY: the mapping is plain memory owned by this value; nothing in it is
// tied to the creating thread.
unsafe impl Send for MmapedMap {}
// SAFETY: shared access only hands out `&[u8]`; mutation needs `&mut self`.
unsafe impl Sync for MmapedMap {}

impl MmapedMap {
    /// Maps the array map behind `map`, read-write if `writable`.
    ///
    /// Fails with `InvalidInput` if the map is not an array created with
    /// `BPF_F_MMAPABLE`; a writable mapping of a frozen or `BPF_F_RDONLY` map
    /// fails with `EPERM` (or `InvalidInput` for `BPF_F_RDONLY`).
    pub fn new(map: BorrowedFd<'_>, writable: bool) -> Result<Self> {
        let info = map_info(map)?;
        let invalid = |msg: &str| {
            SysError::new(Operation::Mmap, io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())).with_object(info.name.clone())
        };
        if info.map_type != MapType::ARRAY || info.map_flags & BPF_F_MMAPABLE == 0 {
            return Err(invalid("only BPF_F_MMAPABLE array maps can be mmap()ed"));
        }
        if writable && info.map_flags & BPF_F_RDONLY != 0 {
            return Err(invalid("map is read-only for user space (BPF_F_RDONLY)"));
        }
        let stride = (info.value_size as usize).next_multiple_of(8);
        let page = page_size();
        let data_len =
            stride.checked_mul(info.max_entries as usize).filter(|&n| n > 0).ok_or_else(|| invalid("map has no mappable data"))?;
        let map_len = data_len.checked_next_multiple_of(page).ok_or_else(|| invalid("map too large"))?;
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        // SAFETY: a new shared mapping chosen by the kernel (NULL hint) of a
        // map fd; it aliases no Rust object. map_len matches the size the
        // kernel allows for this array (data rounded up to pages).
        let p = unsafe { libc::mmap(std::ptr::null_mut(), map_len, prot, libc::MAP_SHARED, map.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(SysError::new(Operation::Mmap, io::Error::last_os_error()).with_object(info.name));
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| invalid("mmap returned NULL"))?;
        Ok(MmapedMap { ptr, map_len, data_len, writable })
    }

    /// Length of the map data in bytes (`round_up(value_size, 8) * max_entries`).
    pub fn len(&self) -> usize {
        self.data_len
    }

    /// Always false: maps have at least one non-empty entry.
    pub fn is_empty(&self) -> bool {
        self.data_len == 0
    }

    /// Whether the mapping was made writable.
    pub fn is_writable(&self) -> bool {
        self.writable
    }

    /// The map data.
    pub fn as_slice(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of at least `data_len` readable
        // bytes, unmapped only in Drop, and not mutated through Rust while
        // `&self` is borrowed.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.data_len) }
    }

    /// The map data, mutable; `None` for read-only mappings.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if !self.writable {
            return None;
        }
        // SAFETY: `ptr` is a live, writable mapping of at least `data_len`
        // bytes, unmapped only in Drop; `&mut self` makes this the only Rust
        // reference to it.
        Some(unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.data_len) })
    }
}

impl Drop for MmapedMap {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`map_len` describe a mapping created in `new` and
        // not unmapped since; no slice borrowed from `self` survives drop.
        // munmap of a valid mapping cannot fail in a way we could handle.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.map_len);
        }
    }
}
