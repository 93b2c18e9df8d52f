//! freplace programs (`SEC("freplace/FUNC")`, `BPF_PROG_TYPE_EXT`):
//! replace a global function of another loaded BPF program. The target
//! program must be known when the replacement is loaded
//! (`attach_prog_fd` + the BTF id of the function); attaching is then a
//! `BPF_LINK_CREATE` on the target program's fd, optionally with
//! another target of the same function signature (`target_btf_id`).

use std::os::fd::BorrowedFd;

use bpfld_sys::LinkTarget;

use crate::error::Result;
use crate::link::Link;
use crate::program::Program;

impl Program<'_> {
    /// Attaches an freplace program to the target it was loaded for.
    pub fn attach_freplace(&self) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::None, 0, 0, None).map_err(|e| self.err("attaching freplace", e))?;
        Ok(Link::bpf(fd))
    }

    /// Attaches an freplace program in place of function `btf_id` (the BTF
    /// id of a global function in the target's BTF) of program `target`.
    pub fn attach_freplace_to(&self, target: BorrowedFd<'_>, btf_id: u32) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Fd(target), 0, 0, Some(btf_id))
            .map_err(|e| self.err(&format!("attaching freplace to BTF id {btf_id}"), e))?;
        Ok(Link::bpf(fd))
    }
}
