//! Attachments, one file per attach mechanism (as cilium/ebpf's `link/`):
//! each adds the `Program::attach_*` methods of its mechanism and, where
//! the section name implies the target, its part of [`Program::attach`].
//!
//! - [`xdp`]: XDP through `BPF_LINK_CREATE` (`BPF_XDP`, Linux >= 5.9) or
//!   `RTM_SETLINK` through rtnetlink, chosen by probing;
//! - [`tc`]: tcx links (Linux >= 6.6) or a clsact qdisc and a cls_bpf
//!   filter through rtnetlink, chosen by probing;
//! - [`support`]: what the probes found, and the override of it;
//! - [`cgroup`]: cgroup links, or `BPF_PROG_ATTACH` where links are missing;
//! - [`netfilter`], [`netns`] (sk_lookup), [`sockmap`] (sk_msg, sk_skb);
//! - [`kprobe_multi`] and [`uprobe_multi`] with glob patterns;
//! - [`iter`]: iterator links and reading their output;
//! - [`perf_event`]: sampling programs on software events per CPU;
//! - [`freplace`]: replacing a global function of a loaded program;
//! - [`usdt`]: USDT probes, through uprobe_multi or single uprobes;
//! - [`section`]: what a section name says to attach to.
//!
//! A [`Link`] detaches on drop (unless pinned); BPF links can be pinned,
//! opened from a pin and updated with another program.

pub mod cgroup;
pub mod freplace;
pub mod iter;
pub mod kprobe_multi;
pub mod netfilter;
pub mod netns;
pub mod perf_event;
pub mod section;
pub mod sockmap;
pub mod support;
pub mod tc;
pub mod uprobe_multi;
pub mod usdt;
pub mod xdp;

use bpfld_asm::types::AttachType;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfld_sys::{AttachTarget, LinkInfo, TcFilter, XdpFlags};

use crate::error::{Error, InvalidArgument, Result};
use crate::program::Program;

/// An attachment: the program stays attached while this (or a pin of it)
/// lives; dropping it detaches. A struct_ops map registered without a BPF
/// link (`.struct_ops`) is unregistered on drop by deleting its element,
/// as libbpf's `bpf_link__destroy` does; a program attached with
/// `BPF_PROG_ATTACH` is detached with `BPF_PROG_DETACH`, a tc filter is
/// deleted.
#[derive(Debug)]
pub struct Link {
    /// The BPF link, or the perf event itself when the program was attached
    /// with `PERF_EVENT_IOC_SET_BPF`, or the program for attachments that
    /// have no fd of their own (`BPF_PROG_ATTACH`, tc filters).
    fd: OwnedFd,
    /// The perf event of a kprobe, uprobe, tracepoint or sampling
    /// attachment made through a BPF link (the link holds it too; kept to
    /// disable it).
    perf_event: Option<OwnedFd>,
    kind: LinkKind,
}

#[derive(Debug)]
enum LinkKind {
    /// A BPF link (raw tracepoint, tracing, XDP, tcx, cgroup...).
    Bpf,
    /// A BPF link to a perf event.
    PerfLink,
    /// A perf event the program was attached to by ioctl.
    PerfIoctl,
    /// A struct_ops map registered by updating its element (`fd` is the
    /// map's); unregistered by deleting it.
    StructOpsMap,
    /// Attached with `BPF_PROG_ATTACH` to `target` (`fd` is the program's).
    ProgAttach { target: OwnedFd, attach_type: AttachType },
    /// A cls_bpf filter created through rtnetlink (`fd` is the program's).
    TcFilter(TcFilter),
    /// An XDP program attached through rtnetlink (`fd` is the program's).
    XdpNetlink { ifindex: u32, flags: XdpFlags },
    /// A USDT attachment (`fd` is the program's): its probes, spec ids
    /// and ip-to-spec entries, given back on drop.
    Usdt(Box<usdt::UsdtAttachment>),
    /// Already detached by [`Link::detach`]: nothing left to do on drop.
    Detached,
}

impl Link {
    pub(crate) fn bpf(fd: OwnedFd) -> Link {
        Link { fd, perf_event: None, kind: LinkKind::Bpf }
    }

    pub(crate) fn perf_link(fd: OwnedFd, event: OwnedFd) -> Link {
        Link { fd, perf_event: Some(event), kind: LinkKind::PerfLink }
    }

    pub(crate) fn perf_ioctl(event: OwnedFd) -> Link {
        Link { fd: event, perf_event: None, kind: LinkKind::PerfIoctl }
    }

    pub(crate) fn struct_ops_map(map: OwnedFd) -> Link {
        Link { fd: map, perf_event: None, kind: LinkKind::StructOpsMap }
    }

    pub(crate) fn prog_attach(prog: OwnedFd, target: OwnedFd, attach_type: AttachType) -> Link {
        Link { fd: prog, perf_event: None, kind: LinkKind::ProgAttach { target, attach_type } }
    }

    pub(crate) fn usdt(prog: OwnedFd, attachment: usdt::UsdtAttachment) -> Link {
        Link { fd: prog, perf_event: None, kind: LinkKind::Usdt(Box::new(attachment)) }
    }

    /// What a USDT attachment is made of; `None` for other attachments.
    pub fn usdt_info(&self) -> Option<usdt::UsdtLinkInfo> {
        match &self.kind {
            LinkKind::Usdt(a) => Some(a.info()),
            _ => None,
        }
    }

    pub(crate) fn new_tc_filter(prog: OwnedFd, filter: TcFilter) -> Link {
        Link { fd: prog, perf_event: None, kind: LinkKind::TcFilter(filter) }
    }

    pub(crate) fn xdp_netlink(prog: OwnedFd, ifindex: u32, flags: XdpFlags) -> Link {
        Link { fd: prog, perf_event: None, kind: LinkKind::XdpNetlink { ifindex, flags } }
    }

    /// Opens a BPF link pinned at `path` (`BPF_OBJ_GET`): the returned
    /// link holds the attachment too; dropping it does not remove the pin.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<Link> {
        let path = path.as_ref();
        let fd = bpfld_sys::obj_get(path, 0).map_err(|e| Error::kernel(format!("opening pinned link {}", path.display()), e))?;
        let link = Link::bpf(fd);
        link.info().map_err(|e| Error::NotPinnedLink { path: path.to_path_buf(), source: Box::new(e) })?;
        Ok(link)
    }

    /// The BPF link's fd; for a program attached to a perf event without a
    /// BPF link (kernels before 5.15), the perf event's; for a struct_ops
    /// map registered without a link, the map's; for a program attached
    /// with `BPF_PROG_ATTACH`, as a tc filter or XDP through rtnetlink, the
    /// program's.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The perf event of a kprobe, uprobe, tracepoint or sampling
    /// attachment.
    pub fn perf_event_fd(&self) -> Option<BorrowedFd<'_>> {
        match self.kind {
            LinkKind::PerfLink => self.perf_event.as_ref().map(|f| f.as_fd()),
            LinkKind::PerfIoctl => Some(self.fd.as_fd()),
            _ => None,
        }
    }

    /// Whether the attachment is a BPF link (which can be pinned and
    /// updated), not a perf event attached by ioctl, a struct_ops map
    /// registered by update, a `BPF_PROG_ATTACH`, a tc filter or XDP
    /// attached through rtnetlink.
    pub fn is_bpf_link(&self) -> bool {
        matches!(self.kind, LinkKind::Bpf | LinkKind::PerfLink)
    }

    /// The tc filter of a classic tc attachment (see [`tc`]).
    pub fn tc_filter(&self) -> Option<&TcFilter> {
        match &self.kind {
            LinkKind::TcFilter(f) => Some(f),
            _ => None,
        }
    }

    /// The interface of an XDP program attached through rtnetlink.
    pub fn xdp_netlink_ifindex(&self) -> Option<u32> {
        match self.kind {
            LinkKind::XdpNetlink { ifindex, .. } => Some(ifindex),
            _ => None,
        }
    }

    fn require_bpf_link(&self, what: &str) -> Result<()> {
        if self.is_bpf_link() {
            Ok(())
        } else {
            let problem = InvalidArgument::NotBpfLink { operation: what.to_string(), attachment: self.kind_name() };
            Err(Error::InvalidArgument { context: None, problem })
        }
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            LinkKind::Bpf | LinkKind::PerfLink => "BPF link",
            LinkKind::PerfIoctl => "perf event attached by ioctl",
            LinkKind::StructOpsMap => "struct_ops map",
            LinkKind::ProgAttach { .. } => "BPF_PROG_ATTACH",
            LinkKind::TcFilter(_) => "tc filter",
            LinkKind::XdpNetlink { .. } => "XDP attached through rtnetlink",
            LinkKind::Usdt(_) => "USDT attachment",
            LinkKind::Detached => "detached",
        }
    }

    /// The link's type, id and program id (`BPF_OBJ_GET_INFO_BY_FD`).
    pub fn info(&self) -> Result<LinkInfo> {
        self.require_bpf_link("read link info")?;
        bpfld_sys::link_info(self.fd.as_fd()).map_err(|e| Error::kernel("reading link info", e))
    }

    /// Pins the link at `path` in a bpffs (`BPF_OBJ_PIN`; the parent
    /// directory is created if missing): the attachment outlives this
    /// process until the pin is removed.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        self.require_bpf_link("pin")?;
        crate::pin::pin_fd(self.fd.as_fd(), path.as_ref(), "link")
    }

    /// Removes the pin at `path`.
    pub fn unpin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::unpin_path(path.as_ref(), "link")
    }

    /// Attaches `prog` in place of the link's program (`BPF_LINK_UPDATE`),
    /// atomically: the hook is never without a program. The new program
    /// must be of the same type and attach type.
    pub fn update(&self, prog: &Program<'_>) -> Result<()> {
        self.require_bpf_link("update")?;
        bpfld_sys::link_update(self.fd.as_fd(), prog.fd()?, None)
            .map_err(|e| Error::kernel(format!("updating link to program '{}'", prog.name()), e))
    }

    /// Detaches now, even if the link fd is shared or pinned elsewhere. A
    /// perf event attachment is disabled (the kernel has no detach for
    /// perf links), then closed. Link types the kernel cannot detach
    /// (uprobe_multi, kprobe_multi) are closed: they end now unless pinned
    /// or shared.
    pub fn detach(mut self) -> Result<()> {
        let kind = std::mem::replace(&mut self.kind, LinkKind::Detached);
        if let LinkKind::Usdt(a) = kind {
            return a.detach();
        }
        let fd = self.fd.as_fd();
        match &kind {
            LinkKind::StructOpsMap => {
                bpfld_sys::map_delete_elem(fd, &0u32.to_ne_bytes()).map_err(|e| Error::kernel("unregistering struct_ops map", e))
            }
            LinkKind::PerfLink => {
                let ev = self.perf_event.as_ref().map(|e| e.as_fd()).expect("a perf link has its event");
                bpfld_sys::perf_event_disable(ev).map_err(|e| Error::kernel("detaching perf event", e))
            }
            LinkKind::PerfIoctl => bpfld_sys::perf_event_disable(fd).map_err(|e| Error::kernel("detaching perf event", e)),
            LinkKind::Bpf => detach_bpf_link(fd),
            LinkKind::ProgAttach { .. } | LinkKind::TcFilter(_) | LinkKind::XdpNetlink { .. } => detach_unlinked(fd, &kind),
            LinkKind::Usdt(_) | LinkKind::Detached => Ok(()),
        }
    }
}

/// `BPF_LINK_DETACH`, where the link type has it. Some link types
/// (uprobe_multi, kprobe_multi) have no detach in the kernel (EOPNOTSUPP):
/// they end when their last reference goes, which closing this fd is
/// unless the link is pinned or its fd was shared.
fn detach_bpf_link(fd: BorrowedFd<'_>) -> Result<()> {
    match bpfld_sys::link_detach(fd) {
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) => Ok(()),
        r => r.map_err(|e| Error::kernel("detaching link", e)),
    }
}

/// Undoes an attachment made without a BPF link.
fn detach_unlinked(prog: BorrowedFd<'_>, kind: &LinkKind) -> Result<()> {
    match kind {
        LinkKind::ProgAttach { target, attach_type } => bpfld_sys::prog_detach(Some(prog), AttachTarget::Fd(target.as_fd()), *attach_type)
            .map_err(|e| Error::kernel("detaching program (BPF_PROG_DETACH)", e)),
        LinkKind::TcFilter(f) => bpfld_sys::tc_filter_detach(f).map_err(|e| Error::kernel("deleting tc filter", e)),
        LinkKind::XdpNetlink { ifindex, flags } => xdp::detach_netlink(prog, *ifindex, *flags),
        _ => Ok(()),
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Errors cannot be reported from drop; `detach` reports them.
        match &self.kind {
            LinkKind::StructOpsMap => {
                let _ = bpfld_sys::map_delete_elem(self.fd.as_fd(), &0u32.to_ne_bytes());
            }
            kind @ (LinkKind::ProgAttach { .. } | LinkKind::TcFilter(_) | LinkKind::XdpNetlink { .. }) => {
                let _ = detach_unlinked(self.fd.as_fd(), kind);
            }
            _ => {}
        }
    }
}

/// A duplicate of `fd` that the link keeps.
pub(crate) fn dup(fd: BorrowedFd<'_>, what: &str) -> Result<OwnedFd> {
    fd.try_clone_to_owned().map_err(|e| Error::io(format!("duplicating the fd of {what}"), e))
}
