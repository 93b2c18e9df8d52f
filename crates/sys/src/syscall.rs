//! The raw `bpf()` system call and small conversion helpers.

use std::ffi::{c_int, c_long, c_uint, CString};
use std::fmt;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::attr::{Attr, OBJ_NAME_LEN};

/// A `bpf()` command number (`enum bpf_cmd`), limited to the commands this
/// crate issues. It names the failing command in [`SysError`](crate::SysError)
/// messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
#[allow(missing_docs)] // The variants are the kernel's command names.
pub enum Cmd {
    MapCreate = 0,
    MapLookupElem = 1,
    MapUpdateElem = 2,
    MapDeleteElem = 3,
    MapGetNextKey = 4,
    ProgLoad = 5,
    ObjPin = 6,
    ObjGet = 7,
    ProgAttach = 8,
    ProgDetach = 9,
    ProgTestRun = 10,
    ProgGetNextId = 11,
    MapGetNextId = 12,
    ProgGetFdById = 13,
    MapGetFdById = 14,
    ObjGetInfoByFd = 15,
    RawTracepointOpen = 17,
    BtfLoad = 18,
    BtfGetFdById = 19,
    MapLookupAndDeleteElem = 21,
    MapFreeze = 22,
    BtfGetNextId = 23,
    LinkCreate = 28,
    LinkUpdate = 29,
    LinkGetFdById = 30,
    LinkGetNextId = 31,
    IterCreate = 33,
    LinkDetach = 34,
    MapLookupBatch = 24,
    MapLookupAndDeleteBatch = 25,
    MapUpdateBatch = 26,
    MapDeleteBatch = 27,
    ProgBindMap = 35,
}

impl Cmd {
    /// The kernel's name of the command, e.g. `"BPF_PROG_LOAD"`.
    pub fn name(self) -> &'static str {
        match self {
            Cmd::MapCreate => "BPF_MAP_CREATE",
            Cmd::MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
            Cmd::MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
            Cmd::MapDeleteElem => "BPF_MAP_DELETE_ELEM",
            Cmd::MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
            Cmd::ProgLoad => "BPF_PROG_LOAD",
            Cmd::ObjPin => "BPF_OBJ_PIN",
            Cmd::ObjGet => "BPF_OBJ_GET",
            Cmd::ProgAttach => "BPF_PROG_ATTACH",
            Cmd::ProgDetach => "BPF_PROG_DETACH",
            Cmd::ProgTestRun => "BPF_PROG_TEST_RUN",
            Cmd::ProgGetNextId => "BPF_PROG_GET_NEXT_ID",
            Cmd::MapGetNextId => "BPF_MAP_GET_NEXT_ID",
            Cmd::ProgGetFdById => "BPF_PROG_GET_FD_BY_ID",
            Cmd::MapGetFdById => "BPF_MAP_GET_FD_BY_ID",
            Cmd::ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
            Cmd::RawTracepointOpen => "BPF_RAW_TRACEPOINT_OPEN",
            Cmd::BtfLoad => "BPF_BTF_LOAD",
            Cmd::BtfGetFdById => "BPF_BTF_GET_FD_BY_ID",
            Cmd::MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
            Cmd::MapFreeze => "BPF_MAP_FREEZE",
            Cmd::BtfGetNextId => "BPF_BTF_GET_NEXT_ID",
            Cmd::LinkCreate => "BPF_LINK_CREATE",
            Cmd::LinkUpdate => "BPF_LINK_UPDATE",
            Cmd::LinkGetFdById => "BPF_LINK_GET_FD_BY_ID",
            Cmd::LinkGetNextId => "BPF_LINK_GET_NEXT_ID",
            Cmd::IterCreate => "BPF_ITER_CREATE",
            Cmd::LinkDetach => "BPF_LINK_DETACH",
            Cmd::MapLookupBatch => "BPF_MAP_LOOKUP_BATCH",
            Cmd::MapLookupAndDeleteBatch => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
            Cmd::MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
            Cmd::MapDeleteBatch => "BPF_MAP_DELETE_BATCH",
            Cmd::ProgBindMap => "BPF_PROG_BIND_MAP",
        }
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Issues `bpf(cmd, attr, sizeof(*attr))` and returns the non-negative result.
///
/// # Safety
///
/// Every pointer stored in `attr` must be valid, for the whole call, for the
/// reads and writes the kernel performs for `cmd` (with the lengths stored
/// next to it in `attr`).
pub(crate) unsafe fn bpf<A: Attr>(cmd: Cmd, attr: &mut A) -> io::Result<c_long> {
    let size = size_of::<A>() as c_uint;
    // SAFETY: `attr` is a live, exclusively borrowed `#[repr(C)]` struct of
    // `size` bytes; the pointers inside it are valid per this function's
    // contract.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd as c_int, attr as *mut A, size) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// [`bpf`] for the commands that return a new file descriptor.
///
/// # Safety
///
/// As for [`bpf`]; additionally `cmd` must be a command whose non-negative
/// result is a newly created file descriptor.
pub(crate) unsafe fn bpf_fd<A: Attr>(cmd: Cmd, attr: &mut A) -> io::Result<OwnedFd> {
    // SAFETY: forwarded contract.
    let ret = unsafe { bpf(cmd, attr) }?;
    let fd = RawFd::try_from(ret).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: for fd-returning commands the kernel installs a fresh file
    // descriptor that nothing else in the process owns yet.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Address of a slice for a `__aligned_u64` pointer field; NULL when empty,
/// because several commands treat "non-NULL pointer" as "feature requested".
pub(crate) fn ptr(s: &[u8]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_ptr() as u64
    }
}

/// Mutable counterpart of [`ptr`].
pub(crate) fn ptr_mut(s: &mut [u8]) -> u64 {
    if s.is_empty() {
        0
    } else {
        s.as_mut_ptr() as u64
    }
}

/// An optional fd as the kernel's `__u32` field (0 = none).
pub(crate) fn opt_fd(fd: Option<BorrowedFd<'_>>) -> u32 {
    fd.map_or(0, |fd| fd.as_raw_fd() as u32)
}

/// An fd as the kernel's `__u32` field.
pub(crate) fn fd_u32(fd: BorrowedFd<'_>) -> u32 {
    fd.as_raw_fd() as u32
}

/// Object name as `char[BPF_OBJ_NAME_LEN]`: cut at the first NUL and to 15
/// bytes so the kernel always sees a terminated string.
pub(crate) fn obj_name(name: &str) -> [u8; OBJ_NAME_LEN] {
    let mut out = [0u8; OBJ_NAME_LEN];
    for (dst, &b) in out.iter_mut().take(OBJ_NAME_LEN - 1).zip(name.as_bytes().iter().take_while(|&&b| b != 0)) {
        *dst = b;
    }
    out
}

/// The string in a NUL-terminated kernel buffer (lossy for non-UTF-8 bytes).
pub(crate) fn c_buf_to_string(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// A filesystem path as a C string, rejecting interior NULs.
pub(crate) fn path_cstring(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("path {} contains a NUL byte", path.display())))
}

/// A length as the kernel's `__u32`, or `InvalidInput` if it does not fit.
pub(crate) fn len_u32(len: usize, what: &str) -> io::Result<u32> {
    u32::try_from(len).map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, format!("{what} is too large ({len} bytes)")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_truncated_and_terminated() {
        assert_eq!(&obj_name("abc")[..4], b"abc\0");
        let long = obj_name("a_very_long_program_name");
        assert_eq!(&long[..15], b"a_very_long_pro");
        assert_eq!(long[15], 0);
        assert_eq!(&obj_name("ab\0cd")[..3], b"ab\0");
        assert_eq!(c_buf_to_string(b"xy\0z"), "xy");
        assert_eq!(c_buf_to_string(b"xyz"), "xyz");
    }
}
