//! A shared memory mapping of a file descriptor, unmapped on drop: the
//! building block of the ring buffer, user ring buffer and perf buffer
//! mappings.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;

use crate::error::{Operation, Result, SysError};

/// `mmap(NULL, len, prot, MAP_SHARED, fd, offset)`, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory owned by this value; nothing
// in it is tied to the creating thread.
unsafe impl Send for Mapping {}
// SAFETY: the type hands out raw pointers only; the users synchronise
// accesses through atomics as the kernel's protocol requires.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `len` bytes of `fd` at `offset`, readable, and writable if
    /// `writable`.
    pub(crate) fn new(fd: BorrowedFd<'_>, len: usize, offset: usize, writable: bool, what: &str) -> Result<Mapping> {
        let prot = libc::PROT_READ | if writable { libc::PROT_WRITE } else { 0 };
        let off =
            libc::off_t::try_from(offset).map_err(|_| SysError::new(Operation::Mmap, io::Error::from(io::ErrorKind::InvalidInput)))?;
        // SAFETY: a new shared mapping at an address the kernel chooses
        // (NULL hint); it aliases no Rust object.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, libc::MAP_SHARED, fd.as_raw_fd(), off) };
        if p == libc::MAP_FAILED {
            return Err(SysError::new(Operation::Mmap, io::Error::last_os_error()).with_object(what.to_string()));
        }
        let ptr = NonNull::new(p.cast::<u8>())
            .ok_or_else(|| SysError::new(Operation::Mmap, io::Error::other("mmap returned NULL")).with_object(what.to_string()))?;
        Ok(Mapping { ptr, len })
    }

    /// The first byte of the mapping.
    #[inline(always)]
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping made in `new`, not unmapped
        // since; the owners hand out no reference that outlives them.
        unsafe {
            libc::munmap(self.ptr.as_ptr().cast(), self.len);
        }
    }
}
