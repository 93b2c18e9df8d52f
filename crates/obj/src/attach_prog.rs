//! Programs that attach to a function of another BPF program instead of
//! the kernel: freplace (`SEC("freplace/FUNC")`, `BPF_PROG_TYPE_EXT`)
//! always, fentry/fexit when given a target program. The caller names the
//! target program (libbpf's `bpf_program__set_attach_target(prog,
//! attach_prog_fd, func)`); the loader reads that program's BTF from the
//! kernel and gives it here; the plan finds the function's `FUNC` in it
//! (its id is the `attach_btf_id`) and sets
//! [`ProgramPlan::attach_to_program`], for which the loader passes the
//! target program's fd as `attach_prog_fd`.

use std::collections::BTreeMap;
use std::sync::Arc;

use bpfld_btf::{Btf, Kind};

use crate::error::{Ctx, ErrorKind};
use crate::plan::{AttachBtf, LoadPlan, ProgramPlan};
use crate::target::BtfOwner;
use crate::Error;

/// The BPF program one program of the object attaches to.
#[derive(Debug, Clone)]
pub struct AttachProgram {
    /// The target program's BTF, as the kernel holds it.
    pub btf: Arc<Btf>,
    /// The function of the target to attach to; `None`: the one the
    /// section names (`freplace/FUNC`).
    pub func: Option<String>,
}

/// Attach targets by program name (the object's programs).
pub type AttachPrograms = BTreeMap<String, AttachProgram>;

/// Resolves the function of each program of `targets` in its target
/// program's BTF. A name in `targets` that is no program of the plan is
/// an error; a program whose function is missing keeps an error of its own
/// (as other attach targets that do not resolve).
pub(crate) fn apply(plan: &mut LoadPlan, targets: &AttachPrograms, cx: &Ctx<'_>) -> Result<(), Error> {
    for (name, target) in targets {
        let Some(p) = plan.programs.iter_mut().find(|p| &p.name == name) else {
            return Err(cx.with(format!("program '{name}'")).err_kind(ErrorKind::NotFound, "no such program to set an attach target for"));
        };
        if p.prog_type == bpfld_asm::types::ProgType::UNSPEC {
            continue; // its section is unknown: that error stays
        }
        match resolve(p, target) {
            Ok(btf_id) => {
                // The owner is not vmlinux's: attach_to_program says whose.
                p.attach_btf = Some(AttachBtf { btf_id, owner: BtfOwner::Vmlinux });
                p.attach_to_program = true;
                p.error = None;
            }
            Err(e) => p.error = Some(e.to_string()),
        }
    }
    Ok(())
}

/// Why a program's function was not found in its target program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachProgramError {
    /// Neither the section nor the caller names the function.
    NoFunction,
    /// The target program's BTF has no `FUNC` of that name.
    NotFound {
        /// The function looked for.
        func: String,
    },
}

impl std::fmt::Display for AttachProgramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachProgramError::NoFunction => {
                f.write_str("no function to attach to: the section names none (freplace/FUNC) and none was given with the target program")
            }
            AttachProgramError::NotFound { func } => {
                write!(f, "failed to find BPF program BTF ID for '{func}': the target program's BTF has no FUNC '{func}'")
            }
        }
    }
}

impl std::error::Error for AttachProgramError {}

impl crate::error::Kind for AttachProgramError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            AttachProgramError::NoFunction => crate::error::ErrorKind::InvalidInput,
            AttachProgramError::NotFound { .. } => crate::error::ErrorKind::NotFound,
        }
    }
}

/// The BTF id of the program's function in its target's BTF.
fn resolve(p: &ProgramPlan, target: &AttachProgram) -> Result<u32, AttachProgramError> {
    let func = target.func.as_deref().or(p.attach_target.as_deref()).ok_or(AttachProgramError::NoFunction)?;
    target.btf.find_first(func, Kind::Func).ok_or_else(|| AttachProgramError::NotFound { func: func.to_string() })
}
