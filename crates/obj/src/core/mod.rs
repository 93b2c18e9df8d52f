//! CO-RE ("compile once, run everywhere") relocations: rewriting the field
//! offsets, sizes, existence tests, type ids and enumerator values that
//! clang recorded in `.BTF.ext` against the object's own BTF so that they
//! hold for the target kernel's BTF.
//!
//! This reproduces libbpf 1.7 (`src/relo_core.c` and the CO-RE part of
//! `src/libbpf.c`) rule for rule, so that bpfld hands the kernel the same
//! instructions libbpf would and fails where libbpf fails:
//!
//! - [`spec`]: access strings parsed into specs, and their rendering;
//! - [`candidates`]: which target types may correspond to a local type
//!   (by essential name, vmlinux before modules), cached per local type;
//! - `matching`: a local spec matched against one candidate;
//! - `calc`: the local and target values of each relocation kind;
//! - `resolve`: candidates tried in turn, ambiguity detected;
//! - [`patch`]: the instruction checked and patched, or poisoned.
//!
//! Relocations apply to each function's own instructions before
//! subprograms are linked, as libbpf does, so a subprogram shared by
//! several programs is relocated once.

mod calc;
pub mod candidates;
pub mod error;
mod matching;
pub mod patch;
mod resolve;
pub mod spec;

#[cfg(test)]
mod tests;

use bpfld_asm::Insn;
use bpfld_btf::ext::{CoreRelo, CoreReloKind};

use crate::error::{Ctx, Result};
use crate::object::Object;
use crate::target::{BtfOwner, Target};

pub use candidates::Candidate;
pub use error::{Accessed, CoreError, CoreStep, Indexed, InsnForm, LocalType};
pub use patch::PatchAction;
pub use spec::log_spec;

/// The target type a relocation resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreTarget {
    /// The BTF holding the type: vmlinux or a module.
    pub owner: BtfOwner,
    /// The type's id in that BTF.
    pub type_id: u32,
    /// The target spec, rendered like the local one
    /// (`<byte_off> [193] struct task_struct.pid (0:134 @ offset 2416)`).
    pub spec: String,
}

/// Why a relocation could not be satisfied on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreFailure {
    /// No target type has the local type's essential name and kind.
    NoCandidate,
    /// Candidates exist but none has the field, the enumerator, or a
    /// compatible layout (for type relocations: a compatible or matching
    /// type).
    NoMatch {
        /// How many candidates there were.
        candidates: usize,
    },
    /// The field was found but changed size in a way a load or store
    /// cannot follow (not both pointers, not both unsigned integers).
    IncompatibleSize {
        /// The field's size in bytes in the object's BTF.
        local_size: u32,
        /// Its size in bytes in the target's.
        target_size: u32,
    },
}

impl std::fmt::Display for CoreFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CoreFailure::NoCandidate => write!(f, "no type of that name and kind in the target"),
            CoreFailure::NoMatch { candidates } => {
                write!(f, "none of the {candidates} candidate type(s) has the field, enumerator or a compatible layout")
            }
            CoreFailure::IncompatibleSize { local_size, target_size } => write!(
                f,
                "the field is {target_size} bytes in the target and {local_size} locally, and the access cannot be resized \
                 (only pointers and unsigned integers can)"
            ),
        }
    }
}

/// One applied CO-RE relocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRelocation {
    /// Index of the function in [`Object::programs`].
    pub program: usize,
    /// Index of the instruction within that function (before linking).
    pub insn_idx: usize,
    /// ELF section of the function, and the record's index among that
    /// section's CO-RE records (libbpf's `relo #N`).
    pub sec_idx: usize,
    /// The record's index among its section's CO-RE records.
    pub relo_idx: usize,
    /// What the relocation computes.
    pub kind: CoreReloKind,
    /// The local (object BTF) type the relocation names.
    pub local_type_id: u32,
    /// Its name (`""` if anonymous).
    pub local_type_name: String,
    /// The raw access string (`0:1:2`).
    pub access: String,
    /// libbpf's rendering of the local spec (`bpf_core_format_spec`), used
    /// in the verifier-log explanation of a poisoned instruction.
    pub spec: String,
    /// The first matching candidate, if any.
    pub target: Option<CoreTarget>,
    /// How many candidate types the relocation considered.
    pub candidates: usize,
    /// How many of them matched.
    pub matched: usize,
    /// The value the instruction held (as the local BTF predicts) and the
    /// value written. For a poisoned relocation `new_value` is meaningless.
    pub orig_value: u64,
    /// The value written into the instruction.
    pub new_value: u64,
    /// Why the relocation was not satisfied, if it was not. Existence and
    /// type relocations are then patched to 0 and not poisoned.
    pub failure: Option<CoreFailure>,
    /// What was done to the instruction.
    pub action: PatchAction,
}

impl CoreRelocation {
    /// Whether the instruction was replaced by the CO-RE poison call.
    pub fn poisoned(&self) -> bool {
        self.action == PatchAction::Poisoned
    }

    /// The text libbpf writes into the verifier log in place of the
    /// `invalid func unknown#195896080` lines this relocation's poisoned
    /// instruction causes (`fixup_log_failed_core_relo`), without the
    /// leading `<insn>: <invalid CO-RE relocation>` line.
    pub fn log_explanation(&self) -> String {
        format!("failed to resolve CO-RE relocation {}", log_spec(&self.spec))
    }
}

/// A `.BTF.ext` CO-RE record that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCoreRelo {
    /// The ELF section of the record.
    pub section: String,
    /// The record's index among the section's CO-RE records.
    pub relo_idx: usize,
    /// Byte offset in the section, as recorded.
    pub insn_off: u32,
    /// Why it was skipped.
    pub reason: String,
}

/// Every CO-RE relocation of an object, as applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreReport {
    /// In `.BTF.ext` order (sections in file order, records in order).
    pub relocations: Vec<CoreRelocation>,
    /// Records that belong to no function (libbpf: code of a `__weak`
    /// subprogram the linker dropped) or to a program not loaded
    /// (`SEC("?...")`).
    pub skipped: Vec<SkippedCoreRelo>,
    /// Local types whose candidates were searched.
    pub types_searched: usize,
}

impl CoreReport {
    /// The relocation that poisoned instruction `insn_idx` of function
    /// `program`, as libbpf's log fixup finds it (the first one recorded at
    /// that instruction).
    pub fn at(&self, program: usize, insn_idx: usize) -> Option<&CoreRelocation> {
        self.relocations.iter().find(|r| r.program == program && r.insn_idx == insn_idx)
    }
}

/// The function of section `sec_idx` containing section instruction
/// `insn` (libbpf's `find_prog_by_sec_insn`); programs are sorted by
/// section and offset.
fn function_at(obj: &Object, sec_idx: usize, insn: usize) -> Option<usize> {
    let n = obj.programs.partition_point(|p| (p.sec_idx, p.sec_insn_off) <= (sec_idx, insn));
    let i = n.checked_sub(1)?;
    let p = &obj.programs[i];
    (p.sec_idx == sec_idx && insn >= p.sec_insn_off && insn < p.sec_insn_off + p.insns.len()).then_some(i)
}

/// Applies every CO-RE relocation of `obj` to `insns` (indexed like
/// [`Object::programs`]; each vector is that function's instructions,
/// relocated in place before linking).
///
/// Records are processed in `.BTF.ext` order with one candidate cache for
/// the whole object. A record's section is found by name (the first ELF
/// section of that name); its byte offset must be a multiple of 8. Records
/// outside every function are skipped (libbpf: code of an overridden
/// `__weak` subprogram), and so are records of programs that are not
/// loaded by default (`SEC("?...")`), whose relocations libbpf does not
/// apply either.
///
/// Errors name the program, the instruction and the relocation: a bad
/// record (type id out of range, malformed access string, an instruction
/// of the wrong form or holding a value the local BTF does not predict,
/// an `ld_imm64` cut off by the end of its function), an ambiguous
/// relocation, or a field that no load can read.
pub fn relocate(obj: &Object, target: &Target, insns: &mut [Vec<Insn>]) -> Result<CoreReport> {
    let cx = Ctx::new(&obj.name);
    let mut report = CoreReport::default();
    let (Some(ext), Some(local)) = (&obj.btf_ext, &obj.btf) else {
        return Ok(report);
    };
    if ext.core_relos.is_empty() {
        return Ok(report);
    }
    if insns.len() != obj.programs.len() {
        return Err(cx.err(format!("CO-RE: {} instruction vectors given for {} functions", insns.len(), obj.programs.len())));
    }
    let mut cache = candidates::CandidateCache::default();
    for sec in &ext.core_relos {
        let scx = cx.with(format!("section '{}'", sec.sec_name));
        if sec.sec_name.is_empty() {
            return Err(cx.with("section '.BTF.ext'").err("CO-RE relocations for a section with an empty name"));
        }
        let sec_idx = obj.section_names.iter().filter(|(_, n)| **n == sec.sec_name).map(|(i, _)| *i).min();
        for (relo_idx, rec) in sec.records.iter().enumerate() {
            let skip = |reason: &str| SkippedCoreRelo {
                section: sec.sec_name.clone(),
                relo_idx,
                insn_off: rec.insn_off,
                reason: reason.to_string(),
            };
            if rec.insn_off % 8 != 0 {
                return Err(scx
                    .with(format!("CO-RE relocation #{relo_idx}"))
                    .err(format!("instruction offset {:#x} is not a multiple of 8", rec.insn_off)));
            }
            let sec_insn = (rec.insn_off / 8) as usize;
            let Some(pi) = sec_idx.and_then(|s| function_at(obj, s, sec_insn)) else {
                report.skipped.push(skip("belongs to no function (code of an eliminated __weak subprogram?)"));
                continue;
            };
            let prog = &obj.programs[pi];
            if !prog.autoload {
                report.skipped.push(skip(&format!("program '{}' is not loaded by default (SEC(\"?...\"))", prog.name)));
                continue;
            }
            let insn_idx = sec_insn - prog.sec_insn_off;
            let access = local.str(rec.access_str_off).unwrap_or("");
            let rcx = cx.with(format!("program '{}'", prog.name)).with(format!("insn {insn_idx}")).with(format!(
                "CO-RE relocation #{relo_idx} ({} of [{}], access '{access}')",
                rec.kind.name(),
                rec.type_id
            ));
            let applied = apply_one(rec, relo_idx, access, local, target, &mut cache, &mut insns[pi], insn_idx).map_err(|e| rcx.wrap(e))?;
            report.relocations.push(CoreRelocation { program: pi, insn_idx, sec_idx: prog.sec_idx, ..applied });
        }
    }
    report.types_searched = cache.len();
    Ok(report)
}

/// Resolves and patches one record; the caller fills in where it is.
#[allow(clippy::too_many_arguments)]
fn apply_one(
    rec: &CoreRelo,
    relo_idx: usize,
    access: &str,
    local: &bpfld_btf::Btf,
    target: &Target,
    cache: &mut candidates::CandidateCache,
    insns: &mut [Insn],
    insn_idx: usize,
) -> std::result::Result<CoreRelocation, CoreError> {
    if insn_idx >= insns.len() {
        return Err(CoreError::InsnOutOfRange { insn: insn_idx, len: insns.len() });
    }
    let resolved = resolve::resolve(rec, access, local, target, cache)?;
    let action = patch::patch_insn(insns, insn_idx, &resolved.res)?;
    let res = &resolved.res;
    let failure = if resolved.target.is_none() && rec.kind != CoreReloKind::TypeIdLocal {
        Some(if resolved.candidates == 0 { CoreFailure::NoCandidate } else { CoreFailure::NoMatch { candidates: resolved.candidates } })
    } else if action == PatchAction::Poisoned && res.fail_memsz_adjust {
        Some(CoreFailure::IncompatibleSize { local_size: res.orig_sz, target_size: res.new_sz })
    } else {
        None
    };
    let local_type_name = if rec.type_id == 0 {
        String::new()
    } else {
        local.type_by_id(rec.type_id).ok().and_then(|t| t.name().ok()).unwrap_or("").to_string()
    };
    Ok(CoreRelocation {
        program: 0,
        insn_idx,
        sec_idx: 0,
        relo_idx,
        kind: rec.kind,
        local_type_id: rec.type_id,
        local_type_name,
        access: access.to_string(),
        spec: spec::format_spec(&resolved.local_spec),
        target: resolved.target.as_ref().map(|(c, s)| CoreTarget { owner: c.owner, type_id: c.type_id, spec: spec::format_spec(s) }),
        candidates: resolved.candidates,
        matched: resolved.matched,
        orig_value: res.orig_val,
        new_value: res.new_val,
        failure,
        action,
    })
}
