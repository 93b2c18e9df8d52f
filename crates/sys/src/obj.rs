//! Commands common to all object kinds: ids, fds by id, info, pinning, links.

use bpfld_asm::types::{AttachType, ProgType};

use std::ffi::CStr;
use std::mem::size_of;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::Path;

use crate::attr::{self, Attr};
use crate::error::{Result, SysError};
use crate::syscall::{bpf, bpf_fd, fd_u32, opt_fd, path_cstring, Cmd};

/// `BPF_*_GET_NEXT_ID`: `None` once `start` is the last id (`ENOENT`).
pub(crate) fn get_next_id(cmd: Cmd, start: u32) -> Result<Option<u32>> {
    let mut a = attr::GetId { id: start, ..Default::default() };
    // SAFETY: GetId holds no pointers.
    match unsafe { bpf(cmd, &mut a) } {
        Ok(_) => Ok(Some(a.next_id)),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok(None),
        Err(e) => Err(SysError::bpf(cmd, e)),
    }
}

/// `BPF_*_GET_FD_BY_ID`.
pub(crate) fn get_fd_by_id(cmd: Cmd, id: u32) -> Result<OwnedFd> {
    let mut a = attr::GetId { id, ..Default::default() };
    // SAFETY: GetId holds no pointers; the command returns a new fd.
    unsafe { bpf_fd(cmd, &mut a) }.map_err(|e| SysError::bpf(cmd, e).with_object(format!("id {id}")))
}

/// `BPF_OBJ_GET_INFO_BY_FD` into `info`; returns the info length the kernel
/// filled in.
///
/// # Safety
///
/// Every pointer field of `info` whose length field is non-zero must point to
/// a writable buffer of that length.
pub(crate) unsafe fn obj_info<I: Attr>(fd: BorrowedFd<'_>, info: &mut I) -> Result<u32> {
    let cmd = Cmd::ObjGetInfoByFd;
    let mut a = attr::InfoByFd { bpf_fd: fd_u32(fd), info_len: size_of::<I>() as u32, info: info as *mut I as u64 };
    // SAFETY: `info` is a live, exclusively borrowed struct of `info_len`
    // bytes; the buffers it points to are valid per this function's contract.
    unsafe { bpf(cmd, &mut a) }.map_err(|e| SysError::bpf(cmd, e))?;
    Ok(a.info_len)
}

/// Pins the object behind `fd` at `path` in a bpffs (`BPF_OBJ_PIN`), so it
/// outlives this process.
pub fn obj_pin(fd: BorrowedFd<'_>, path: &Path) -> Result<()> {
    let cmd = Cmd::ObjPin;
    let err = |e| SysError::bpf(cmd, e).with_object(path.display().to_string());
    let c = path_cstring(path).map_err(err)?;
    let mut a = attr::ObjPath { pathname: c.as_ptr() as u64, bpf_fd: fd_u32(fd), ..Default::default() };
    // SAFETY: pathname points to a NUL-terminated string alive for the call.
    unsafe { bpf(cmd, &mut a) }.map(drop).map_err(err)
}

/// Opens a pinned object (`BPF_OBJ_GET`); `file_flags` is 0, `BPF_F_RDONLY`
/// or `BPF_F_WRONLY`.
pub fn obj_get(path: &Path, file_flags: u32) -> Result<OwnedFd> {
    let cmd = Cmd::ObjGet;
    let err = |e| SysError::bpf(cmd, e).with_object(path.display().to_string());
    let c = path_cstring(path).map_err(err)?;
    let mut a = attr::ObjPath { pathname: c.as_ptr() as u64, file_flags, ..Default::default() };
    // SAFETY: pathname points to a NUL-terminated string alive for the call;
    // the command returns a new fd.
    unsafe { bpf_fd(cmd, &mut a) }.map_err(err)
}

/// What a link attaches to.
#[derive(Clone, Copy, Debug)]
pub enum LinkTarget<'a> {
    /// No target object (e.g. `fentry`/`fexit`, whose target was fixed at
    /// load time by `attach_btf_id`).
    None,
    /// A target object: cgroup, netns, program (freplace), map, perf event...
    Fd(BorrowedFd<'a>),
    /// A network interface (XDP, tcx, netkit).
    Ifindex(u32),
}

/// Attaches a program with a BPF link (`BPF_LINK_CREATE`). The attachment
/// lives as long as the returned link fd (or its pin).
///
/// `target_btf_id` is the BTF id of the target function for `freplace` and
/// for re-targeting tracing programs.
pub fn link_create(
    prog: BorrowedFd<'_>,
    target: LinkTarget<'_>,
    attach_type: AttachType,
    flags: u32,
    target_btf_id: Option<u32>,
) -> Result<OwnedFd> {
    let target = match target {
        LinkTarget::None => 0,
        LinkTarget::Fd(fd) => fd_u32(fd),
        LinkTarget::Ifindex(i) => i,
    };
    let mut a = attr::LinkCreate {
        prog_fd: fd_u32(prog),
        target,
        attach_type: attach_type.raw(),
        flags,
        target_btf_id: target_btf_id.unwrap_or(0),
        ..Default::default()
    };
    // SAFETY: LinkCreate holds no pointers; the command returns a new fd.
    unsafe { bpf_fd(Cmd::LinkCreate, &mut a) }.map_err(|e| SysError::bpf(Cmd::LinkCreate, e))
}

/// The attach type of a link to a perf event.
const BPF_PERF_EVENT: u32 = AttachType::PERF_EVENT.raw();

/// The attach type of a link registering a struct_ops map.
const BPF_STRUCT_OPS: u32 = AttachType::STRUCT_OPS.raw();

/// Registers the struct_ops map `map` (created with `BPF_F_LINK`, its
/// value already written) with a BPF link (`BPF_LINK_CREATE`,
/// `BPF_STRUCT_OPS`, Linux >= 6.4): the map's fd takes the place of the
/// program's. The struct_ops stays registered as long as the link.
pub fn link_create_struct_ops(map: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut a = attr::LinkCreate { prog_fd: fd_u32(map), attach_type: BPF_STRUCT_OPS, ..Default::default() };
    // SAFETY: LinkCreate holds no pointers; the command returns a new fd.
    unsafe { bpf_fd(Cmd::LinkCreate, &mut a) }.map_err(|e| SysError::bpf(Cmd::LinkCreate, e))
}

/// Attaches a kprobe, uprobe, tracepoint or perf event program to the perf
/// event `event` with a BPF link (`BPF_LINK_CREATE`, `BPF_PERF_EVENT`,
/// Linux >= 5.15). `cookie` is what the program reads with
/// `bpf_get_attach_cookie()`. The link holds the event: closing the event's
/// fd afterwards does not detach.
pub fn link_create_perf_event(prog: BorrowedFd<'_>, event: BorrowedFd<'_>, cookie: u64) -> Result<OwnedFd> {
    let mut a = attr::LinkCreatePerfEvent {
        prog_fd: fd_u32(prog),
        target_fd: fd_u32(event),
        attach_type: BPF_PERF_EVENT,
        bpf_cookie: cookie,
        ..Default::default()
    };
    // SAFETY: LinkCreatePerfEvent holds no pointers; the command returns a
    // new fd.
    unsafe { bpf_fd(Cmd::LinkCreate, &mut a) }.map_err(|e| SysError::bpf(Cmd::LinkCreate, e))
}

/// Whether the kernel has perf event links (libbpf's `FEAT_PERF_LINK`
/// probe): a link to fd -1 fails with `EBADF` where it does, `EINVAL`
/// where `BPF_PERF_EVENT` is unknown. Probed once per process.
pub fn perf_link_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let Ok(prog) = crate::probe::trivial_prog(ProgType::TRACEPOINT) else { return false };
        let mut a = attr::LinkCreatePerfEvent {
            prog_fd: fd_u32(std::os::fd::AsFd::as_fd(&prog)),
            target_fd: u32::MAX, // -1
            attach_type: BPF_PERF_EVENT,
            ..Default::default()
        };
        // SAFETY: LinkCreatePerfEvent holds no pointers; a link fd returned
        // against expectations is owned and closed.
        match unsafe { bpf_fd(Cmd::LinkCreate, &mut a) } {
            Ok(_) => false,
            Err(e) => e.raw_os_error() == Some(libc::EBADF),
        }
    })
}

/// Detaches a link without closing it (`BPF_LINK_DETACH`): the program is
/// detached even if other fds or pins of the link remain.
pub fn link_detach(link: BorrowedFd<'_>) -> Result<()> {
    let mut a = attr::LinkDetach { link_fd: fd_u32(link), ..Default::default() };
    // SAFETY: LinkDetach holds no pointers.
    unsafe { bpf(Cmd::LinkDetach, &mut a) }.map(drop).map_err(|e| SysError::bpf(Cmd::LinkDetach, e))
}

/// The next link id after `start` (`BPF_LINK_GET_NEXT_ID`), `None` at the end.
pub fn link_get_next_id(start: u32) -> Result<Option<u32>> {
    get_next_id(Cmd::LinkGetNextId, start)
}

/// Opens the link with the given id (`BPF_LINK_GET_FD_BY_ID`).
pub fn link_get_fd_by_id(id: u32) -> Result<OwnedFd> {
    get_fd_by_id(Cmd::LinkGetFdById, id)
}

/// Attaches a raw tracepoint or tracing program (`BPF_RAW_TRACEPOINT_OPEN`)
/// and returns the link fd. `name` is the tracepoint (e.g. `sys_enter`) for
/// raw tracepoint programs, `None` for `fentry`/`fexit`/`lsm` programs whose
/// target was given at load time.
pub fn raw_tracepoint_open(name: Option<&CStr>, prog: BorrowedFd<'_>) -> Result<OwnedFd> {
    let cmd = Cmd::RawTracepointOpen;
    let mut a = attr::RawTracepointOpen { name: name.map_or(0, |n| n.as_ptr() as u64), prog_fd: opt_fd(Some(prog)), ..Default::default() };
    // SAFETY: name is NULL or a NUL-terminated string alive for the call;
    // the command returns a new fd.
    unsafe { bpf_fd(cmd, &mut a) }.map_err(|e| {
        let e = SysError::bpf(cmd, e);
        match name {
            Some(n) => e.with_object(n.to_string_lossy()),
            None => e,
        }
    })
}
