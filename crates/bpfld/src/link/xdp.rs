//! XDP: through BPF links (`BPF_LINK_CREATE`, `BPF_XDP`, Linux >= 5.9)
//! where the kernel has them (probed once: [`LinkSupport`]), else through
//! rtnetlink (`RTM_SETLINK` with `IFLA_XDP`, as libbpf's
//! `bpf_xdp_attach`). Only one XDP program per interface and mode; a link
//! keeps others (and `ip link set xdp`) from replacing it until dropped. An
//! attachment through rtnetlink is removed when its [`Link`] drops (only
//! if the program is still the one attached), from the network namespace
//! of the dropping thread, which must be the interface's.

use std::os::fd::{AsFd, BorrowedFd};

use bpfld_asm::types::AttachType as at;
use bpfld_sys::{LinkTarget, XdpFlags};

use crate::error::{Error, Result};
use crate::link::support::LinkSupport;
use crate::link::{dup, Link};
use crate::program::Program;

/// `XDP_FLAGS_SKB_MODE`: generic XDP, in the stack (any driver).
pub const XDP_FLAGS_SKB_MODE: u32 = XdpFlags::SKB_MODE.0;
/// `XDP_FLAGS_DRV_MODE`: native XDP, in the driver.
pub const XDP_FLAGS_DRV_MODE: u32 = XdpFlags::DRV_MODE.0;
/// `XDP_FLAGS_HW_MODE`: offloaded to the NIC.
pub const XDP_FLAGS_HW_MODE: u32 = XdpFlags::HW_MODE.0;

impl Program<'_> {
    /// Attaches an XDP program to the interface `ifindex`: a BPF link where
    /// the kernel has XDP links, else through rtnetlink. `flags` are
    /// `XDP_FLAGS_*` modes (0: the kernel picks the mode, native where the
    /// driver has it).
    pub fn attach_xdp(&self, ifindex: u32, flags: u32) -> Result<Link> {
        self.attach_xdp_using(ifindex, flags, LinkSupport::probed())
    }

    /// [`Self::attach_xdp`] with `support` instead of what the running
    /// kernel was probed to have (`LinkSupport::NONE` forces rtnetlink).
    pub fn attach_xdp_using(&self, ifindex: u32, flags: u32, support: LinkSupport) -> Result<Link> {
        if support.xdp {
            let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Ifindex(ifindex), at::XDP, flags, None)
                .map_err(|e| self.err(&format!("attaching XDP to ifindex {ifindex}"), e))?;
            Ok(Link::bpf(fd))
        } else {
            self.attach_xdp_netlink(ifindex, flags, None)
        }
    }

    /// Attaches through rtnetlink (every kernel with XDP), as a link would:
    /// failing with `EBUSY` if a program is attached in that mode already,
    /// unless `replace` is that program, which this one then replaces
    /// atomically (`XDP_FLAGS_REPLACE`, Linux >= 5.7).
    pub fn attach_xdp_netlink(&self, ifindex: u32, flags: u32, replace: Option<&Program<'_>>) -> Result<Link> {
        let prog = self.fd()?;
        let mode = XdpFlags(flags).without(XdpFlags::REPLACE | XdpFlags::UPDATE_IF_NOEXIST);
        let old = replace.map(|p| p.fd()).transpose()?;
        let attach_flags = if old.is_some() { mode } else { mode | XdpFlags::UPDATE_IF_NOEXIST };
        let kept = dup(prog.as_fd(), self.name())?;
        bpfld_sys::xdp_attach_netlink(ifindex, prog, attach_flags, old)
            .map_err(|e| self.err(&format!("attaching XDP to ifindex {ifindex} through rtnetlink"), e))?;
        Ok(Link::xdp_netlink(kept, ifindex, mode))
    }
}

/// The ids of the XDP programs attached to `ifindex` in this thread's
/// network namespace, whichever way they were attached.
pub fn xdp_query(ifindex: u32) -> Result<bpfld_sys::XdpQuery> {
    bpfld_sys::xdp_query(ifindex).map_err(|e| Error::kernel(format!("querying the XDP programs of ifindex {ifindex}"), e))
}

/// Removes `prog` from `ifindex` if it is still the one attached there in
/// the mode of `flags`.
pub(crate) fn detach_netlink(prog: BorrowedFd<'_>, ifindex: u32, flags: XdpFlags) -> Result<()> {
    match bpfld_sys::xdp_detach_netlink(ifindex, flags, Some(prog)) {
        // Before 5.7 the kernel has no XDP_FLAGS_REPLACE: check by id.
        Err(e) if e.errno() == Some(libc::EINVAL) => detach_if_attached(prog, ifindex, flags),
        r => r.map_err(|e| Error::kernel(format!("detaching XDP from ifindex {ifindex} through rtnetlink"), e)),
    }
}

/// [`detach_netlink`] without `XDP_FLAGS_REPLACE`: compares ids first.
fn detach_if_attached(prog: BorrowedFd<'_>, ifindex: u32, flags: XdpFlags) -> Result<()> {
    let id = bpfld_sys::prog_info(prog).map_err(|e| Error::kernel("reading the XDP program's id", e))?.id;
    let q = xdp_query(ifindex)?;
    let attached = if flags.contains(XdpFlags::SKB_MODE) {
        q.skb_prog_id
    } else if flags.contains(XdpFlags::DRV_MODE) {
        q.drv_prog_id
    } else if flags.contains(XdpFlags::HW_MODE) {
        q.hw_prog_id
    } else {
        q.prog_id
    };
    if attached != id {
        return Ok(());
    }
    bpfld_sys::xdp_detach_netlink(ifindex, flags, None)
        .map_err(|e| Error::kernel(format!("detaching XDP from ifindex {ifindex} through rtnetlink"), e))
}
