//! Which network and cgroup hooks the kernel can attach with BPF links,
//! and so which mechanism the `attach_*` methods use: a link where the
//! kernel has one, else the older interface (rtnetlink for XDP and tc,
//! `BPF_PROG_ATTACH` for cgroups). Probed once per process; a
//! [`LinkSupport`] given to the `attach_*_using` methods overrides the
//! probe, which is how the fallbacks are tested on a new kernel.

/// Whether each hook has BPF links.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkSupport {
    /// XDP links (`BPF_XDP`, Linux >= 5.9); else `RTM_SETLINK` with
    /// `IFLA_XDP`.
    pub xdp: bool,
    /// tcx links (Linux >= 6.6); else a clsact qdisc and a cls_bpf filter.
    pub tcx: bool,
    /// cgroup links (Linux >= 5.7); else `BPF_PROG_ATTACH` with
    /// `BPF_F_ALLOW_MULTI`.
    pub cgroup: bool,
}

impl LinkSupport {
    /// No links at all, as on a kernel before 5.7: every fallback.
    pub const NONE: LinkSupport = LinkSupport { xdp: false, tcx: false, cgroup: false };

    /// What the running kernel has (each probed once per process).
    pub fn probed() -> LinkSupport {
        LinkSupport { xdp: bpfld_sys::xdp_link_supported(), tcx: bpfld_sys::tcx_supported(), cgroup: bpfld_sys::cgroup_link_supported() }
    }
}
