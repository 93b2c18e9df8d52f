//! BTF objects: loading, enumeration and information.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};

use crate::attr;
use crate::error::{LoadError, Result, SysError};
use crate::log::{load_with_log, LogOptions};
use crate::obj::{get_fd_by_id, get_next_id, obj_info};
use crate::syscall::{bpf_fd, c_buf_to_string, len_u32, ptr, ptr_mut, Cmd};

/// Loads raw BTF (header, types, strings) into the kernel (`BPF_BTF_LOAD`),
/// capturing the BTF verifier's log as [`LogOptions`] says (on failure with
/// the default options).
pub fn btf_load(btf: &[u8], log: LogOptions) -> Result<OwnedFd, LoadError> {
    let cmd = Cmd::BtfLoad;
    let err = |e, log, truncated| LoadError::new(SysError::bpf(cmd, e), log, truncated);
    let btf_size = len_u32(btf.len(), "BTF").map_err(|e| err(e, String::new(), false))?;
    load_with_log(&log, |level, log| {
        let mut a = attr::BtfLoad {
            btf: ptr(btf),
            btf_size,
            btf_log_buf: ptr_mut(log),
            btf_log_size: log.len() as u32, // at most MAX_LOG_SIZE
            btf_log_level: level,
            ..Default::default()
        };
        // SAFETY: btf points to btf_size readable bytes; btf_log_buf is NULL
        // or btf_log_size writable bytes; both outlive the call. The command
        // returns a new fd.
        let r = unsafe { bpf_fd(cmd, &mut a) };
        (r, a.btf_log_true_size)
    })
    .map(|(fd, _log)| fd)
    .map_err(|(e, log, truncated)| err(e, log, truncated))
}

/// Information about a BTF object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BtfInfo {
    /// Kernel-wide BTF id.
    pub id: u32,
    /// `"vmlinux"`, a module name, or empty for BTF loaded by user space.
    pub name: String,
    /// True for the kernel's own BTF (vmlinux and modules).
    pub kernel_btf: bool,
    /// Size of the raw BTF data in bytes.
    pub btf_size: u32,
}

/// Name buffer for the first attempt: module names are shorter than this.
const NAME_BUF: usize = 64;

/// Returns information about the BTF object behind `fd`.
pub fn btf_info(fd: BorrowedFd<'_>) -> Result<BtfInfo> {
    let mut name = vec![0u8; NAME_BUF];
    loop {
        let mut info = attr::BpfBtfInfo { name: ptr_mut(&mut name), name_len: name.len() as u32, ..Default::default() };
        // SAFETY: the only buffer is `name`, of name_len bytes, alive for the
        // call (btf_size is 0, so no BTF data is copied).
        match unsafe { obj_info(fd, &mut info) } {
            Ok(_) => {
                return Ok(BtfInfo { id: info.id, name: c_buf_to_string(&name), kernel_btf: info.kernel_btf != 0, btf_size: info.btf_size })
            }
            // The name did not fit: name_len now holds its length.
            Err(e) if e.errno() == Some(libc::ENOSPC) && info.name_len as usize >= name.len() => {
                name = vec![0u8; info.name_len as usize + 1];
            }
            Err(e) => return Err(e),
        }
    }
}

/// Returns the raw BTF data (header, types, strings) of the BTF object
/// behind `fd`, e.g. to parse a module's or the kernel's BTF.
pub fn btf_raw_data(fd: BorrowedFd<'_>) -> Result<Vec<u8>> {
    let mut size = btf_info(fd)?.btf_size as usize;
    // BTF is immutable, so the second attempt always fits; the bound only
    // guarantees termination and that a cut blob is never returned.
    for _ in 0..3 {
        let mut data = vec![0u8; size];
        let mut info = attr::BpfBtfInfo { btf: ptr_mut(&mut data), btf_size: data.len() as u32, ..Default::default() };
        // SAFETY: the only buffer is `data`, of btf_size bytes, alive for the
        // call (name_len is 0, so no name is copied).
        unsafe { obj_info(fd, &mut info) }?;
        let full = info.btf_size as usize;
        if full <= data.len() {
            data.truncate(full);
            return Ok(data);
        }
        size = full;
    }
    Err(SysError::bpf(Cmd::ObjGetInfoByFd, io::Error::new(io::ErrorKind::InvalidData, "BTF size keeps changing")))
}

/// The next BTF id after `start` (`BPF_BTF_GET_NEXT_ID`), `None` at the end.
/// Start with 0 to enumerate all BTF objects (vmlinux, modules, programs').
pub fn btf_get_next_id(start: u32) -> Result<Option<u32>> {
    get_next_id(Cmd::BtfGetNextId, start)
}

/// Opens the BTF object with the given id (`BPF_BTF_GET_FD_BY_ID`).
pub fn btf_get_fd_by_id(id: u32) -> Result<OwnedFd> {
    get_fd_by_id(Cmd::BtfGetFdById, id)
}
