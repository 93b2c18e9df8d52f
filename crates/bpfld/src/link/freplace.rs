//! freplace programs (`SEC("freplace/FUNC")`, `BPF_PROG_TYPE_EXT`):
//! replace a global function of another loaded BPF program. The target
//! program must be known when the replacement is loaded
//! ([`OpenObject::set_attach_target`](crate::OpenObject::set_attach_target):
//! `attach_prog_fd` + the BTF id of the function in the target's BTF);
//! attaching is then a `BPF_LINK_CREATE` ([`Program::attach_freplace`]),
//! or one to another target of the same function signature
//! ([`Program::attach_freplace_to`], `target_fd` + `target_btf_id`).

use bpfld_asm::types::AttachType;
use std::os::fd::{AsFd, BorrowedFd};

use bpfld_sys::LinkTarget;

use crate::error::{Error, Missing, Result};
use crate::link::Link;
use crate::program::Program;

impl Program<'_> {
    /// Attaches an freplace program to the target it was loaded for.
    pub fn attach_freplace(&self) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::None, AttachType::UNSET, 0, None)
            .map_err(|e| self.err("attaching freplace", e))?;
        Ok(Link::bpf(fd))
    }

    /// Attaches an freplace program in place of function `btf_id` (the BTF
    /// id of a global function in the target's BTF) of program `target`.
    pub fn attach_freplace_to(&self, target: BorrowedFd<'_>, btf_id: u32) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Fd(target), AttachType::UNSET, 0, Some(btf_id))
            .map_err(|e| self.err(&format!("attaching freplace to BTF id {btf_id}"), e))?;
        Ok(Link::bpf(fd))
    }
}

/// The BTF id of global function `func` in the BTF the loaded program
/// `target` was loaded with: the `target_btf_id` of an freplace program
/// (libbpf's `bpf_program__set_attach_target` looks it up the same way).
pub fn target_function_btf_id(target: BorrowedFd<'_>, func: &str) -> Result<u32> {
    let ctx = format!("freplace target '{func}'");
    let btf = target_program_btf(target, &ctx)?;
    btf.find_first(func, bpfld_btf::Kind::Func)
        .ok_or_else(|| Error::NotFound { context: ctx, missing: Missing::TargetFunction(func.to_string()) })
}

/// The BTF the loaded program `target` was loaded with, as the kernel
/// holds it (`BPF_OBJ_GET_INFO_BY_FD` for its `btf_id`, then
/// `BPF_BTF_GET_FD_BY_ID` and the raw BTF). `ctx` says what it is for.
pub fn target_program_btf(target: BorrowedFd<'_>, ctx: &str) -> Result<bpfld_btf::Btf> {
    let info = bpfld_sys::prog_info(target).map_err(|e| Error::kernel(ctx, e))?;
    if info.btf_id == 0 {
        return Err(Error::NotFound { context: ctx.to_string(), missing: Missing::TargetProgramBtf });
    }
    let fd = bpfld_sys::btf_get_fd_by_id(info.btf_id).map_err(|e| Error::kernel(ctx, e))?;
    let raw = bpfld_sys::btf_raw_data(fd.as_fd()).map_err(|e| Error::kernel(ctx, e))?;
    bpfld_btf::Btf::from_vec(raw).map_err(|source| Error::KernelBtf { context: format!("{ctx}: the target's BTF does not parse"), source })
}
