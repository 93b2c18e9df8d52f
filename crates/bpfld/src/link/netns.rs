//! Programs attached to a network namespace (`sk_lookup`,
//! `flow_dissector`) with a netns link (`BPF_LINK_CREATE` on a
//! `/proc/<pid>/ns/net` fd, Linux >= 5.8 for flow_dissector, 5.9 for
//! sk_lookup).

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use bpfld_sys::LinkTarget;

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::Program;

impl Program<'_> {
    /// Attaches to the network namespace open at `netns` (a
    /// `/proc/<pid>/ns/net` or `/run/netns/<name>` fd) with the program's
    /// expected attach type (`BPF_SK_LOOKUP`, `BPF_FLOW_DISSECTOR`).
    pub fn attach_netns(&self, netns: BorrowedFd<'_>) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Fd(netns), self.expected_attach_type(), 0, None)
            .map_err(|e| self.err("attaching to network namespace", e))?;
        Ok(Link::bpf(fd))
    }

    /// [`Self::attach_netns`] to the namespace at `path`.
    pub fn attach_netns_path(&self, path: impl AsRef<Path>) -> Result<Link> {
        let path = path.as_ref();
        let ns = std::fs::File::open(path).map_err(|e| Error::io(format!("opening network namespace {}", path.display()), e))?;
        self.attach_netns(ns.as_fd())
    }

    /// [`Self::attach_netns`] to the calling thread's network namespace.
    pub fn attach_current_netns(&self) -> Result<Link> {
        self.attach_netns_path("/proc/thread-self/ns/net")
    }
}
