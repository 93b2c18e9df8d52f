//! Netfilter programs (`SEC("netfilter")`) through netfilter links
//! (`BPF_LINK_CREATE`, `BPF_NETFILTER`, Linux >= 6.4), in the network
//! namespace of the calling thread. The hook must be given.

pub use bpfld_sys::NetfilterHook;

use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

/// `NFPROTO_IPV4`.
pub const NFPROTO_IPV4: u32 = 2;
/// `NFPROTO_IPV6`.
pub const NFPROTO_IPV6: u32 = 10;
/// `NF_INET_PRE_ROUTING`.
pub const NF_INET_PRE_ROUTING: u32 = 0;
/// `NF_INET_LOCAL_IN`.
pub const NF_INET_LOCAL_IN: u32 = 1;
/// `NF_INET_FORWARD`.
pub const NF_INET_FORWARD: u32 = 2;
/// `NF_INET_LOCAL_OUT`.
pub const NF_INET_LOCAL_OUT: u32 = 3;
/// `NF_INET_POST_ROUTING`.
pub const NF_INET_POST_ROUTING: u32 = 4;
/// `BPF_F_NETFILTER_IP_DEFRAG`: see reassembled packets (Linux >= 6.6).
pub const BPF_F_NETFILTER_IP_DEFRAG: u32 = 1;

impl Program<'_> {
    /// Attaches a netfilter program to `hook`. Its verdict (`NF_DROP` 0,
    /// `NF_ACCEPT` 1) applies to the packets of the hook.
    pub fn attach_netfilter(&self, hook: NetfilterHook) -> Result<Link> {
        let fd = bpfld_sys::link_create_netfilter(self.fd()?, hook)
            .map_err(|e| self.err(&format!("attaching to netfilter pf {} hook {} priority {}", hook.pf, hook.hooknum, hook.priority), e))?;
        Ok(Link::bpf(fd))
    }
}
