//! The special file systems BPF uses: bpffs (where objects are pinned) and
//! tracefs (where tracepoint ids are): which file system a directory is on,
//! and mounting one where it is missing.

use std::ffi::CStr;
use std::io;
use std::mem::MaybeUninit;
use std::path::Path;

use crate::error::{Operation, Result, SysError};
use crate::syscall::path_cstring;

/// `BPF_FS_MAGIC`: `statfs` `f_type` of a bpffs.
pub const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
/// `TRACEFS_MAGIC`.
pub const TRACEFS_MAGIC: i64 = 0x7472_6163;
/// `DEBUGFS_MAGIC` (tracefs used to be reached through debugfs).
pub const DEBUGFS_MAGIC: i64 = 0x6462_6720;

/// The `f_type` of the file system `path` is on (`statfs(2)`).
pub fn fs_magic(path: &Path) -> Result<i64> {
    let err = |e| SysError::new(Operation::Statfs, e).with_object(path.display().to_string());
    let c = path_cstring(path).map_err(err)?;
    let mut st = MaybeUninit::<libc::statfs>::zeroed();
    // SAFETY: c is a NUL-terminated path alive for the call; st is a
    // writable statfs buffer.
    let ret = unsafe { libc::statfs(c.as_ptr(), st.as_mut_ptr()) };
    if ret < 0 {
        return Err(err(io::Error::last_os_error()));
    }
    // SAFETY: statfs succeeded and filled the struct (it was zeroed too).
    let st = unsafe { st.assume_init() };
    #[allow(clippy::unnecessary_cast)] // f_type is i64 on x86_64, other widths elsewhere
    Ok(st.f_type as i64)
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    fs_magic(path).is_ok_and(|m| m == BPF_FS_MAGIC)
}

/// `mount(source, target, fstype, 0, NULL)`.
fn mount(source: &CStr, target: &Path, fstype: &CStr) -> Result<()> {
    let err = |e| SysError::new(Operation::Mount, e).with_object(format!("{} on {}", fstype.to_string_lossy(), target.display()));
    let t = path_cstring(target).map_err(err)?;
    // SAFETY: every pointer is a NUL-terminated string alive for the call;
    // data is NULL, which every file system mounted here accepts.
    let ret = unsafe { libc::mount(source.as_ptr(), t.as_ptr(), fstype.as_ptr(), 0, std::ptr::null()) };
    if ret < 0 {
        return Err(err(io::Error::last_os_error()));
    }
    Ok(())
}

/// Mounts a bpffs on `dir` (`mount -t bpf bpf <dir>`); needs
/// `CAP_SYS_ADMIN`.
pub fn mount_bpffs(dir: &Path) -> Result<()> {
    mount(c"bpf", dir, c"bpf")
}

/// Mounts tracefs on `dir` (`mount -t tracefs tracefs <dir>`).
pub fn mount_tracefs(dir: &Path) -> Result<()> {
    mount(c"tracefs", dir, c"tracefs")
}
