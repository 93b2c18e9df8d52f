//! tc programs (`SEC("tc/ingress")`, `SEC("tcx/egress")`, `SEC("tc")`...):
//! through tcx links where the kernel has them (Linux >= 6.6, probed once:
//! [`bpfld_sys::tcx_supported`]), else as libbpf's `bpf_tc_attach` does on
//! older kernels: a `clsact` qdisc on the interface (created if missing,
//! left in place afterwards) and a direct-action `cls_bpf` filter on its
//! ingress or egress hook, through rtnetlink. The filter is deleted when
//! the [`Link`] drops.

use std::os::fd::AsFd;

use bpfld_asm::types::{AttachType, AttachType as at};
use bpfld_sys::{MprogPosition, TcHook};

use crate::error::{Error, Result};
use crate::link::support::LinkSupport;
use crate::link::{dup, Link};
use crate::program::Program;

/// Which way the packets a tc program sees go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcDirection {
    /// Packets the interface receives.
    Ingress,
    /// Packets the interface sends.
    Egress,
}

impl TcDirection {
    fn tcx_attach_type(self) -> AttachType {
        match self {
            TcDirection::Ingress => at::TCX_INGRESS,
            TcDirection::Egress => at::TCX_EGRESS,
        }
    }

    fn hook(self) -> TcHook {
        match self {
            TcDirection::Ingress => TcHook::Ingress,
            TcDirection::Egress => TcHook::Egress,
        }
    }

    /// The direction of a tcx attach type (from `tc/ingress`, `tcx/egress`...).
    pub fn of_attach_type(t: AttachType) -> Option<TcDirection> {
        match t {
            at::TCX_INGRESS => Some(TcDirection::Ingress),
            at::TCX_EGRESS => Some(TcDirection::Egress),
            _ => None,
        }
    }
}

/// Options of a classic (netlink) tc attachment.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcFilterOpts {
    /// The filter's handle; 0: the kernel picks one.
    pub handle: u32,
    /// The filter's priority; 0: the kernel picks one.
    pub priority: u16,
}

/// How [`Program::attach_tc`] attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcMechanism {
    /// A tcx BPF link (Linux >= 6.6).
    Tcx,
    /// A classic `clsact` qdisc filter made through netlink (older
    /// kernels), in direct-action mode.
    Netlink,
}

/// The mechanism [`Program::attach_tc`] uses on the running kernel.
pub fn tc_mechanism() -> TcMechanism {
    if bpfld_sys::tcx_supported() {
        TcMechanism::Tcx
    } else {
        TcMechanism::Netlink
    }
}

impl Program<'_> {
    /// Attaches a `sched_cls` program to `direction` of interface
    /// `ifindex`: a tcx link (appended after the hook's other programs)
    /// where the kernel has tcx, else a clsact qdisc and cls_bpf filter.
    pub fn attach_tc(&self, ifindex: u32, direction: TcDirection) -> Result<Link> {
        self.attach_tc_using(ifindex, direction, LinkSupport::probed())
    }

    /// [`Self::attach_tc`] with `support` instead of what the running
    /// kernel was probed to have (`LinkSupport::NONE` forces the clsact
    /// qdisc and cls_bpf filter).
    pub fn attach_tc_using(&self, ifindex: u32, direction: TcDirection, support: LinkSupport) -> Result<Link> {
        if support.tcx {
            self.attach_tcx(ifindex, direction, MprogPosition::default())
        } else {
            self.attach_tc_filter(ifindex, direction, TcFilterOpts::default())
        }
    }

    /// Attaches with a tcx link (Linux >= 6.6) at `position` among the
    /// hook's programs (`BPF_F_BEFORE`/`BPF_F_AFTER` relative to a program,
    /// an expected revision).
    pub fn attach_tcx(&self, ifindex: u32, direction: TcDirection, position: MprogPosition) -> Result<Link> {
        let fd = bpfld_sys::link_create_tcx(self.fd()?, ifindex, direction.tcx_attach_type(), position)
            .map_err(|e| self.err(&format!("attaching tcx {direction:?} to ifindex {ifindex}"), e))?;
        Ok(Link::bpf(fd))
    }

    /// Attaches as a direct-action cls_bpf filter on the clsact qdisc of
    /// `ifindex` (created if missing), through rtnetlink: works on every
    /// kernel with clsact (Linux >= 4.5). The filter is deleted when the
    /// link drops; the qdisc stays.
    pub fn attach_tc_filter(&self, ifindex: u32, direction: TcDirection, opts: TcFilterOpts) -> Result<Link> {
        let prog = self.fd()?;
        bpfld_sys::tc_clsact_create(ifindex).map_err(|e| self.err("creating the clsact qdisc", e))?;
        let filter = bpfld_sys::tc_filter_attach(prog, self.name(), ifindex, direction.hook(), opts.handle, opts.priority)
            .map_err(|e| self.err(&format!("attaching tc filter {direction:?} to ifindex {ifindex}"), e))?;
        let prog = dup(prog.as_fd(), self.name()).inspect_err(|_| {
            let _ = bpfld_sys::tc_filter_detach(&filter);
        })?;
        Ok(Link::new_tc_filter(prog, filter))
    }
}

/// Removes the clsact qdisc of `ifindex` and every tc filter on it (as
/// `tc qdisc del dev IF clsact`): what [`Program::attach_tc_filter`]
/// leaves behind.
pub fn destroy_clsact(ifindex: u32) -> Result<()> {
    bpfld_sys::tc_clsact_destroy(ifindex).map_err(|e| Error::kernel(format!("removing the clsact qdisc of ifindex {ifindex}"), e))
}
