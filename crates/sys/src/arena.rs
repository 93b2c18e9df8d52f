//! The user-space mapping of a `BPF_MAP_TYPE_ARENA` map.
//!
//! Why: an arena's programs see it at a kernel address and user space at
//! the mapping's address; the kernel learns the user address from
//! `map_extra` or from the first `mmap()`, and the verifier refuses
//! programs using an arena before that ("arena's user address must be set
//! via map_extra or mmap()"). libbpf maps every arena right after creating
//! it; so does bpfld, through this type.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use crate::error::{Operation, Result, SysError};
use crate::probe::page_size;

/// `BPF_F_SEGV_ON_FAULT`: user-space faults on pages the arena has not
/// allocated raise `SIGSEGV` instead of allocating them.
pub const BPF_F_SEGV_ON_FAULT: u32 = 1 << 17;

/// A shared read-write mapping of an arena map, unmapped on drop.
///
/// Access goes through copies ([`ArenaMapping::read`],
/// [`ArenaMapping::write`]) rather than slices: programs write the same
/// memory concurrently, so no Rust reference to it would be sound. Pages
/// the arena has not allocated yet are allocated (zeroed) by the kernel on
/// first access, except in arenas created with [`BPF_F_SEGV_ON_FAULT`],
/// whose accessors refuse (a fault there would kill the process).
#[derive(Debug)]
pub struct ArenaMapping {
    ptr: NonNull<u8>,
    len: usize,
    segv_on_fault: bool,
}

// SAFETY: the mapping is plain shared memory owned by this value; it is
// only accessed through raw copies, never through references.
unsafe impl Send for ArenaMapping {}
// SAFETY: as above; concurrent copies race only with each other and with
// programs, which the arena allows (no Rust reference exists).
unsafe impl Sync for ArenaMapping {}

impl ArenaMapping {
    /// Maps `pages` pages of the arena `map` (created with `map_flags`),
    /// at `addr_hint` if non-zero (its `map_extra`, which the kernel then
    /// requires), else where the kernel chooses.
    ///
    /// Unlike libbpf, which passes `MAP_FIXED` with the hint, this uses
    /// `MAP_FIXED_NOREPLACE`: a hint that overlaps memory this process
    /// already uses fails with `EEXIST` instead of silently replacing it.
    pub fn new(map: BorrowedFd<'_>, pages: u32, map_flags: u32, addr_hint: u64) -> Result<Self> {
        let err = |e: io::Error| SysError::new(Operation::Mmap, e);
        let len = page_size()
            .checked_mul(pages as usize)
            .filter(|&n| n > 0)
            .ok_or_else(|| err(io::Error::new(io::ErrorKind::InvalidInput, "arena has no pages")))?;
        let flags = libc::MAP_SHARED | if addr_hint != 0 { libc::MAP_FIXED_NOREPLACE } else { 0 };
        // SAFETY: a new shared mapping of the arena fd; with a hint,
        // MAP_FIXED_NOREPLACE never replaces an existing mapping, so the
        // new one aliases no Rust object.
        let p = unsafe { libc::mmap(addr_hint as *mut libc::c_void, len, libc::PROT_READ | libc::PROT_WRITE, flags, map.as_raw_fd(), 0) };
        if p == libc::MAP_FAILED {
            return Err(err(io::Error::last_os_error()));
        }
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| err(io::Error::other("mmap returned NULL")))?;
        let mapping = ArenaMapping { ptr, len, segv_on_fault: map_flags & BPF_F_SEGV_ON_FAULT != 0 };
        if addr_hint != 0 && p as u64 != addr_hint {
            // Kernels before 4.17 ignore MAP_FIXED_NOREPLACE (a plain hint).
            return Err(err(io::Error::new(io::ErrorKind::AddrInUse, format!("mapped at {p:p}, not at map_extra {addr_hint:#x}"))));
        }
        Ok(mapping)
    }

    /// The mapping's length in bytes (pages times the page size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: an arena has at least one page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The user address of the arena's first byte: arena pointers that
    /// programs store are this plus an offset.
    pub fn addr(&self) -> u64 {
        self.ptr.as_ptr() as u64
    }

    fn check(&self, offset: usize, n: usize) -> Result<()> {
        let invalid = |m: String| SysError::new(Operation::Mmap, io::Error::new(io::ErrorKind::InvalidInput, m));
        if self.segv_on_fault {
            return Err(invalid("the arena is BPF_F_SEGV_ON_FAULT: user-space access could fault".into()));
        }
        match offset.checked_add(n) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(invalid(format!("bytes {offset}..+{n} are outside the arena's {} bytes", self.len))),
        }
    }

    /// Copies `buf.len()` bytes at `offset` of the arena into `buf`.
    pub fn read(&self, offset: usize, buf: &mut [u8]) -> Result<()> {
        self.check(offset, buf.len())?;
        // SAFETY: offset..offset+len is inside the live mapping (checked);
        // a raw copy creates no reference to memory programs may write.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(offset), buf.as_mut_ptr(), buf.len()) };
        Ok(())
    }

    /// Copies `data` into the arena at `offset`.
    pub fn write(&mut self, offset: usize, data: &[u8]) -> Result<()> {
        self.check(offset, data.len())?;
        // SAFETY: as in `read`; the mapping is writable.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(offset), data.len()) };
        Ok(())
    }
}

impl Drop for ArenaMapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe the mapping made in `new`, not unmapped
        // since; no reference into it exists.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
