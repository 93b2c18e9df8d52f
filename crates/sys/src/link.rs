//! Attach commands beyond the plain `BPF_LINK_CREATE` of [`crate::link_create`]:
//! the link kinds with their own attributes (iterators, tcx, netfilter,
//! kprobe_multi, uprobe_multi), link update and info, iterator instances,
//! and the older `BPF_PROG_ATTACH`/`BPF_PROG_DETACH`.

use std::ffi::CStr;
use std::mem::size_of;
use std::os::fd::{BorrowedFd, OwnedFd};

use bpfld_asm::types::{AttachType, LinkType, ProgType};

use crate::attr::{self, Attr};
use crate::error::{Result, SysError};
use crate::syscall::{bpf, bpf_fd, fd_u32, len_u32, Cmd};

// Attach types this module sets itself.
const BPF_TRACE_ITER: u32 = AttachType::TRACE_ITER.raw();
const BPF_TRACE_KPROBE_MULTI: u32 = AttachType::TRACE_KPROBE_MULTI.raw();
const BPF_NETFILTER: u32 = AttachType::NETFILTER.raw();
const BPF_TRACE_UPROBE_MULTI: u32 = AttachType::TRACE_UPROBE_MULTI.raw();

/// `BPF_F_REPLACE` of `BPF_LINK_UPDATE`/`BPF_PROG_ATTACH`: replace only if
/// the current program is the given old one.
pub const BPF_F_REPLACE: u32 = 1 << 2;
/// `BPF_F_ALLOW_OVERRIDE` of `BPF_PROG_ATTACH` (cgroup).
pub const BPF_F_ALLOW_OVERRIDE: u32 = 1 << 0;
/// `BPF_F_ALLOW_MULTI` of `BPF_PROG_ATTACH` (cgroup).
pub const BPF_F_ALLOW_MULTI: u32 = 1 << 1;
/// `BPF_F_BEFORE` of tcx/mprog attachment: before the relative program.
pub const BPF_F_BEFORE: u32 = 1 << 3;
/// `BPF_F_AFTER` of tcx/mprog attachment: after the relative program.
pub const BPF_F_AFTER: u32 = 1 << 4;
/// `BPF_F_ID`: the relative object is given by id, not fd.
pub const BPF_F_ID: u32 = 1 << 5;
/// `BPF_F_KPROBE_MULTI_RETURN`: kretprobe_multi.
pub const BPF_F_KPROBE_MULTI_RETURN: u32 = 1;
/// `BPF_F_UPROBE_MULTI_RETURN`: uretprobe_multi.
pub const BPF_F_UPROBE_MULTI_RETURN: u32 = 1;

fn link_fd<A: Attr>(a: &mut A, object: &str) -> Result<OwnedFd> {
    // SAFETY: callers build `a` with pointers into buffers they keep alive
    // across this call; the command returns a new fd.
    unsafe { bpf_fd(Cmd::LinkCreate, a) }.map_err(|e| SysError::bpf(Cmd::LinkCreate, e).with_object(object))
}

/// Creates an iterator link (`BPF_LINK_CREATE`, `BPF_TRACE_ITER`); `info`
/// is the raw `union bpf_iter_link_info` (empty for iterators that take
/// none, such as `task` without a filter or `bpf_map`).
pub fn link_create_iter(prog: BorrowedFd<'_>, info: &[u8]) -> Result<OwnedFd> {
    let cmd = Cmd::LinkCreate;
    let len = len_u32(info.len(), "iterator info").map_err(|e| SysError::bpf(cmd, e))?;
    let mut a = attr::LinkCreateIter {
        prog_fd: fd_u32(prog),
        attach_type: BPF_TRACE_ITER,
        iter_info: crate::syscall::ptr(info),
        iter_info_len: len,
        ..Default::default()
    };
    // `info` outlives the call.
    link_fd(&mut a, "iterator")
}

/// Opens a new instance of an iterator (`BPF_ITER_CREATE`): reading the
/// returned fd runs the program over the objects and yields its output.
pub fn iter_create(link: BorrowedFd<'_>) -> Result<OwnedFd> {
    let mut a = attr::IterCreate { link_fd: fd_u32(link), flags: 0 };
    // SAFETY: IterCreate holds no pointers; the command returns a new fd.
    unsafe { bpf_fd(Cmd::IterCreate, &mut a) }.map_err(|e| SysError::bpf(Cmd::IterCreate, e))
}

/// Where a tcx (or netkit) program goes among the others of its hook.
#[derive(Clone, Copy, Debug, Default)]
pub struct MprogPosition {
    /// `BPF_F_BEFORE`/`BPF_F_AFTER`, with `BPF_F_ID` if `relative` is an id.
    pub flags: u32,
    /// The program (fd or id) the position is relative to; 0: the hook's
    /// first or last place.
    pub relative: u32,
    /// Fail with `ESTALE` unless the hook is at this revision (0: any).
    pub expected_revision: u64,
}

/// Creates a tcx link (`BPF_LINK_CREATE` with `BPF_TCX_INGRESS` or
/// `BPF_TCX_EGRESS`) on interface `ifindex` (Linux >= 6.6).
pub fn link_create_tcx(prog: BorrowedFd<'_>, ifindex: u32, attach_type: AttachType, pos: MprogPosition) -> Result<OwnedFd> {
    let mut a = attr::LinkCreateTcx {
        prog_fd: fd_u32(prog),
        target_ifindex: ifindex,
        attach_type: attach_type.raw(),
        flags: pos.flags,
        relative: pos.relative,
        expected_revision: pos.expected_revision,
        ..Default::default()
    };
    link_fd(&mut a, &format!("ifindex {ifindex}"))
}

/// A netfilter hook (`struct { pf, hooknum, priority, flags } netfilter`).
#[derive(Clone, Copy, Debug)]
pub struct NetfilterHook {
    /// `NFPROTO_IPV4` (2) or `NFPROTO_IPV6` (10).
    pub pf: u32,
    /// `NF_INET_PRE_ROUTING` (0) ... `NF_INET_POST_ROUTING` (4).
    pub hooknum: u32,
    /// Order among the hook's functions (not `INT_MIN`/`INT_MAX`).
    pub priority: i32,
    /// `BPF_F_NETFILTER_IP_DEFRAG` (1).
    pub flags: u32,
}

/// Creates a netfilter link (`BPF_LINK_CREATE`, `BPF_NETFILTER`, Linux
/// >= 6.4) in the calling thread's network namespace.
pub fn link_create_netfilter(prog: BorrowedFd<'_>, hook: NetfilterHook) -> Result<OwnedFd> {
    let mut a = attr::LinkCreateNetfilter {
        prog_fd: fd_u32(prog),
        attach_type: BPF_NETFILTER,
        pf: hook.pf,
        hooknum: hook.hooknum,
        priority: hook.priority,
        nf_flags: hook.flags,
        ..Default::default()
    };
    link_fd(&mut a, &format!("netfilter pf {} hook {}", hook.pf, hook.hooknum))
}

/// Creates a kprobe_multi link (`BPF_LINK_CREATE`,
/// `BPF_TRACE_KPROBE_MULTI`, Linux >= 5.18) on the kernel functions
/// `syms`; `cookies` is empty or one per symbol.
pub fn link_create_kprobe_multi(prog: BorrowedFd<'_>, syms: &[&CStr], cookies: &[u64], retprobe: bool) -> Result<OwnedFd> {
    let cmd = Cmd::LinkCreate;
    if !cookies.is_empty() && cookies.len() != syms.len() {
        return Err(SysError::invalid(cmd, format!("{} cookies for {} functions", cookies.len(), syms.len())));
    }
    let ptrs: Vec<u64> = syms.iter().map(|s| s.as_ptr() as u64).collect();
    let mut a = attr::LinkCreateKprobeMulti {
        prog_fd: fd_u32(prog),
        attach_type: BPF_TRACE_KPROBE_MULTI,
        kprobe_flags: if retprobe { BPF_F_KPROBE_MULTI_RETURN } else { 0 },
        cnt: len_u32(syms.len(), "function list").map_err(|e| SysError::bpf(cmd, e))?,
        syms: if ptrs.is_empty() { 0 } else { ptrs.as_ptr() as u64 },
        cookies: if cookies.is_empty() { 0 } else { cookies.as_ptr() as u64 },
        ..Default::default()
    };
    // `ptrs`, the strings and `cookies` outlive the call.
    link_fd(&mut a, &format!("{} kernel functions", syms.len()))
}

/// Probes of one binary for a uprobe_multi link.
#[derive(Clone, Copy, Debug)]
pub struct UprobeMulti<'a> {
    /// The binary.
    pub path: &'a CStr,
    /// File offsets of the probes.
    pub offsets: &'a [u64],
    /// Empty, or one semaphore (reference counter) offset per probe.
    pub ref_ctr_offsets: &'a [u64],
    /// Empty, or one cookie per probe.
    pub cookies: &'a [u64],
    /// Only in this process; `None`: every process.
    pub pid: Option<u32>,
    /// Attach to the functions' returns.
    pub retprobe: bool,
}

/// Creates a uprobe_multi link (`BPF_LINK_CREATE`,
/// `BPF_TRACE_UPROBE_MULTI`, Linux >= 6.6).
pub fn link_create_uprobe_multi(prog: BorrowedFd<'_>, u: &UprobeMulti<'_>) -> Result<OwnedFd> {
    let cmd = Cmd::LinkCreate;
    let n = u.offsets.len();
    for (what, len) in [("semaphore offsets", u.ref_ctr_offsets.len()), ("cookies", u.cookies.len())] {
        if len != 0 && len != n {
            return Err(SysError::invalid(cmd, format!("{len} {what} for {n} probes")));
        }
    }
    let p = |s: &[u64]| if s.is_empty() { 0 } else { s.as_ptr() as u64 };
    let mut a = attr::LinkCreateUprobeMulti {
        prog_fd: fd_u32(prog),
        attach_type: BPF_TRACE_UPROBE_MULTI,
        path: u.path.as_ptr() as u64,
        offsets: p(u.offsets),
        ref_ctr_offsets: p(u.ref_ctr_offsets),
        cookies: p(u.cookies),
        cnt: len_u32(n, "probe list").map_err(|e| SysError::bpf(cmd, e))?,
        uprobe_flags: if u.retprobe { BPF_F_UPROBE_MULTI_RETURN } else { 0 },
        pid: u.pid.unwrap_or(0),
        ..Default::default()
    };
    // The path and slices outlive the call.
    link_fd(&mut a, &u.path.to_string_lossy())
}

/// Replaces the program of a link (`BPF_LINK_UPDATE`); with `old`, only if
/// the link's program is still that one (`BPF_F_REPLACE`, `EPERM` if not).
pub fn link_update(link: BorrowedFd<'_>, new_prog: BorrowedFd<'_>, old: Option<BorrowedFd<'_>>) -> Result<()> {
    let mut a = attr::LinkUpdate {
        link_fd: fd_u32(link),
        new_prog_fd: fd_u32(new_prog),
        flags: if old.is_some() { BPF_F_REPLACE } else { 0 },
        old_prog_fd: old.map_or(0, fd_u32),
    };
    // SAFETY: LinkUpdate holds no pointers.
    unsafe { bpf(Cmd::LinkUpdate, &mut a) }.map(drop).map_err(|e| SysError::bpf(Cmd::LinkUpdate, e))
}

/// The common part of `struct bpf_link_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// `enum bpf_link_type`.
    pub link_type: LinkType,
    /// The link's id.
    pub id: u32,
    /// The id of the program attached through it.
    pub prog_id: u32,
}

/// `BPF_OBJ_GET_INFO_BY_FD` of a link.
pub fn link_info(link: BorrowedFd<'_>) -> Result<LinkInfo> {
    let mut info = attr::BpfLinkInfo::default();
    // SAFETY: the union is read as plain words; no pointer field is set.
    unsafe { crate::obj::obj_info(link, &mut info) }?;
    Ok(LinkInfo { link_type: info.link_type.into(), id: info.id, prog_id: info.prog_id })
}

/// What a `BPF_PROG_ATTACH` attaches to: an fd (cgroup, sockmap, netns)
/// or an interface (tcx through the mprog API).
#[derive(Clone, Copy, Debug)]
pub enum AttachTarget<'a> {
    /// A cgroup directory, a sockmap/sockhash, a network namespace.
    Fd(BorrowedFd<'a>),
    /// An interface index (tcx).
    Ifindex(u32),
}

impl AttachTarget<'_> {
    fn raw(self) -> u32 {
        match self {
            AttachTarget::Fd(fd) => fd_u32(fd),
            AttachTarget::Ifindex(i) => i,
        }
    }
}

/// Attaches a program without a link (`BPF_PROG_ATTACH`): it stays
/// attached until [`prog_detach`], even after this process exits.
/// `replace` (with `BPF_F_REPLACE` in `flags`) is the program to replace.
pub fn prog_attach(
    prog: BorrowedFd<'_>,
    target: AttachTarget<'_>,
    attach_type: AttachType,
    flags: u32,
    replace: Option<BorrowedFd<'_>>,
) -> Result<()> {
    let mut a = attr::ProgAttach {
        target: target.raw(),
        attach_bpf_fd: fd_u32(prog),
        attach_type: attach_type.raw(),
        attach_flags: flags,
        replace_bpf_fd: replace.map_or(0, fd_u32),
        ..Default::default()
    };
    // SAFETY: ProgAttach holds no pointers.
    unsafe { bpf(Cmd::ProgAttach, &mut a) }.map(drop).map_err(|e| SysError::bpf(Cmd::ProgAttach, e))
}

/// Detaches what [`prog_attach`] attached (`BPF_PROG_DETACH`). `prog` is
/// required where several programs share the hook (cgroup multi, sockmap).
pub fn prog_detach(prog: Option<BorrowedFd<'_>>, target: AttachTarget<'_>, attach_type: AttachType) -> Result<()> {
    let mut a = attr::ProgAttach {
        target: target.raw(),
        attach_bpf_fd: prog.map_or(0, fd_u32),
        attach_type: attach_type.raw(),
        ..Default::default()
    };
    // SAFETY: ProgAttach holds no pointers.
    unsafe { bpf(Cmd::ProgDetach, &mut a) }.map(drop).map_err(|e| SysError::bpf(Cmd::ProgDetach, e))
}

/// Whether `BPF_LINK_CREATE` knows `attach_type` for programs of
/// `prog_type`: a link to an invalid target fails with `EBADF` (or
/// `ENODEV`/`EINVAL` on a bad ifindex) only after the attach type was
/// accepted; an unknown one fails with `EINVAL` first. `target` is what
/// to try: an fd of -1 or ifindex 0.
pub(crate) fn link_type_known(prog: BorrowedFd<'_>, attach_type: AttachType, by_ifindex: bool) -> bool {
    let mut a = attr::LinkCreate {
        prog_fd: fd_u32(prog),
        target: if by_ifindex { 0 } else { u32::MAX },
        attach_type: attach_type.raw(),
        ..Default::default()
    };
    // SAFETY: LinkCreate holds no pointers; an fd returned against
    // expectations is owned and closed.
    match unsafe { bpf_fd(Cmd::LinkCreate, &mut a) } {
        Ok(_) => true,
        Err(e) => matches!(e.raw_os_error(), Some(libc::EBADF) | Some(libc::ENODEV) | Some(libc::ENXIO)),
    }
}

/// Whether the kernel has tcx links (`BPF_TCX_INGRESS`, Linux >= 6.6),
/// probed once as libbpf's `FEAT_TCX` does: a tcx link to ifindex 0 fails
/// with `ENODEV` where tcx exists, `EINVAL` where the attach type is
/// unknown.
pub fn tcx_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let Ok(prog) = crate::probe::trivial_prog(ProgType::SCHED_CLS) else { return false };
        link_type_known(std::os::fd::AsFd::as_fd(&prog), AttachType::TCX_INGRESS, true)
    })
}

/// Whether XDP programs can be attached with links (`BPF_XDP`, Linux >=
/// 5.9), probed once. A link to the loopback interface (ifindex 1 in every
/// network namespace) in native mode fails with `EOPNOTSUPP` (loopback
/// has no native XDP) where XDP links exist, after the attach type was
/// accepted, and with `EINVAL` where it is unknown; nothing is attached
/// either way. `EBUSY`/`EEXIST` (a program already there) also say the
/// attach type was accepted.
pub fn xdp_link_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        const LOOPBACK_IFINDEX: u32 = 1;
        let Ok(prog) = crate::probe::trivial_prog(ProgType::XDP) else { return false };
        let mut a = attr::LinkCreate {
            prog_fd: fd_u32(std::os::fd::AsFd::as_fd(&prog)),
            target: LOOPBACK_IFINDEX,
            attach_type: AttachType::XDP.raw(),
            flags: crate::XdpFlags::DRV_MODE.0,
            ..Default::default()
        };
        // SAFETY: LinkCreate holds no pointers; a link returned against
        // expectations is owned and closed at once.
        match unsafe { bpf_fd(Cmd::LinkCreate, &mut a) } {
            Ok(_) => true,
            Err(e) => matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP) | Some(libc::EBUSY) | Some(libc::EEXIST)),
        }
    })
}

/// Whether cgroup programs can be attached with links (`BPF_LINK_CREATE`
/// on a cgroup fd, Linux >= 5.7), probed once with `cgroup_skb` ingress.
pub fn cgroup_link_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| {
        let Ok(prog) = crate::probe::trivial_prog(ProgType::CGROUP_SKB) else { return false };
        link_type_known(std::os::fd::AsFd::as_fd(&prog), AttachType::CGROUP_INET_INGRESS, false)
    })
}

const _: () = assert!(size_of::<attr::LinkCreate>() == 24);
