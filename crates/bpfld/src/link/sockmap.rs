//! `sk_msg` and `sk_skb` programs, attached to a sockmap or sockhash:
//! with a sockmap link (`BPF_LINK_CREATE` with the map's fd as target,
//! Linux >= 6.10), else with `BPF_PROG_ATTACH` to the map, detached when
//! the [`Link`] drops. The map must be given.

use bpfld_sys::LinkTarget;

use crate::error::Result;
use crate::link::Link;
use crate::map::Map;
use crate::program::Program;

impl Program<'_> {
    /// Attaches to the sockmap or sockhash `map` with the program's
    /// expected attach type (`BPF_SK_MSG_VERDICT`, `BPF_SK_SKB_VERDICT`,
    /// `BPF_SK_SKB_STREAM_PARSER`, `BPF_SK_SKB_STREAM_VERDICT`): a link
    /// where the kernel has sockmap links, else `BPF_PROG_ATTACH`.
    pub fn attach_sockmap(&self, map: &Map<'_>) -> Result<Link> {
        let attach_type = self.expected_attach_type();
        match bpfld_sys::link_create(self.fd()?, LinkTarget::Fd(map.fd()), attach_type, 0, None) {
            Ok(fd) => Ok(Link::bpf(fd)),
            // EINVAL: no sockmap links (before 6.10): attach to the map.
            Err(e) if e.errno() == Some(libc::EINVAL) => self.prog_attach_to(map.fd(), attach_type, 0),
            Err(e) => Err(self.err(&format!("attaching to map '{}'", map.name()), e)),
        }
    }

    /// Attaches to `map` with `BPF_PROG_ATTACH`, even where sockmap links
    /// exist.
    pub fn attach_sockmap_legacy(&self, map: &Map<'_>) -> Result<Link> {
        self.prog_attach_to(map.fd(), self.expected_attach_type(), 0)
    }
}
