//! XDP through BPF links (`BPF_LINK_CREATE`, `BPF_XDP`, Linux >= 5.9).
//! Only one XDP program per interface and mode; the link keeps others
//! (and `ip link set xdp`) from replacing it until dropped.

use bpfld_asm::types::attach_type as at;
use bpfld_sys::LinkTarget;

use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

/// `XDP_FLAGS_SKB_MODE`: generic XDP, in the stack (any driver).
pub const XDP_FLAGS_SKB_MODE: u32 = 1 << 1;
/// `XDP_FLAGS_DRV_MODE`: native XDP, in the driver.
pub const XDP_FLAGS_DRV_MODE: u32 = 1 << 2;
/// `XDP_FLAGS_HW_MODE`: offloaded to the NIC.
pub const XDP_FLAGS_HW_MODE: u32 = 1 << 3;

impl Program<'_> {
    /// Attaches an XDP program to the interface `ifindex` through a BPF
    /// link; `flags` are `XDP_FLAGS_*` (0: the kernel picks the mode,
    /// native where the driver has it).
    pub fn attach_xdp(&self, ifindex: u32, flags: u32) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Ifindex(ifindex), at::XDP, flags, None)
            .map_err(|e| self.err(&format!("attaching XDP to ifindex {ifindex}"), e))?;
        Ok(Link::bpf(fd))
    }
}
