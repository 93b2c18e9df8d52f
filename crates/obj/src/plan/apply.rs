//! The relocations left after linking, applied to an entry program's
//! instructions: map references, global data and arena offsets, kfunc
//! calls and kernel symbol loads.

use bpfld_asm::insn::{poison, pseudo};
use bpfld_asm::Insn;

use super::{MapRef, ModuleBtfRef, Planner, PoisonKind, Poisoned};
use crate::error::{Ctx, Result};
use crate::externs::{Extern, ExternKind, ExternOutcome, ExternResolution, Resolved};
use crate::map::MapOrigin;
use crate::program::{Reloc, RelocKind};
use crate::target::BtfOwner;

/// An entry program's instructions as relocations are applied, and what
/// the loader must know about them.
#[derive(Default)]
pub(super) struct Applied {
    pub(super) insns: Vec<Insn>,
    pub(super) map_refs: Vec<MapRef>,
    pub(super) module_btf_refs: Vec<ModuleBtfRef>,
    pub(super) poisoned: Vec<Poisoned>,
    pub(super) uses_fd_array: bool,
}

impl Applied {
    /// Points the `ld_imm64` at `i` to map `map` (`src_reg` says how).
    fn name_map(&mut self, i: usize, src_reg: u8, map: usize) {
        self.insns[i].set_src_reg(src_reg);
        self.insns[i].set_imm(map as i32);
        self.map_refs.push(MapRef { insn_idx: i, map });
    }

    /// An `ld_imm64` at `i` needs its second half.
    fn check_ld_imm64(&self, i: usize, pcx: &Ctx<'_>) -> Result<()> {
        if i + 1 >= self.insns.len() {
            return Err(pcx.err(format!("insn {i}: ld_imm64 truncated")));
        }
        Ok(())
    }
}

impl Planner<'_> {
    /// Applies one relocation of the linked program.
    pub(super) fn apply(&self, r: &Reloc, a: &mut Applied, pcx: &Ctx<'_>) -> Result<()> {
        let i = r.insn_idx;
        match r.kind {
            RelocKind::Map { map } => a.name_map(i, pseudo::MAP_FD, map),
            RelocKind::MapValue { map, sym_off } => {
                a.check_ld_imm64(i, pcx)?;
                let off = i64::from(a.insns[i].imm()) + sym_off as i64;
                let off = i32::try_from(off).map_err(|_| pcx.err(format!("insn {i}: offset {off} out of range")))?;
                a.insns[i + 1].set_imm(off);
                a.name_map(i, pseudo::MAP_VALUE, map);
            }
            RelocKind::ArenaValue { map, sym_off } => {
                a.check_ld_imm64(i, pcx)?;
                let data_off = self.arena.map_or(0, |a| a.data_off);
                let off = i64::from(a.insns[i].imm()) + sym_off as i64 + data_off as i64;
                // The kernel reads the offset as a u32 (arenas reach 4 GiB).
                let off = u32::try_from(off).map_err(|_| pcx.err(format!("insn {i}: arena offset {off} out of range")))?;
                a.insns[i + 1].set_imm(off as i32);
                a.name_map(i, pseudo::MAP_VALUE, map);
            }
            RelocKind::ExternCall { ext } | RelocKind::ExternLd64 { ext } => {
                let Some(res) = self.externs else {
                    return Err(pcx.err(format!("insn {i}: extern relocation without a target")));
                };
                let e = &self.obj.externs[ext];
                let icx = pcx.with(format!("insn {i}")).with(format!("extern '{}'", e.name));
                if matches!(r.kind, RelocKind::ExternCall { .. }) {
                    extern_call(a, i, ext, e, &res.outcomes[ext], &icx)?;
                } else {
                    self.extern_ld64(a, i, e, res, &res.outcomes[ext], &icx)?;
                }
            }
            RelocKind::Call { .. } | RelocKind::SubprogAddr { .. } => {}
        }
        Ok(())
    }

    /// An `ld_imm64` of an extern: its kconfig slot, kernel BTF id or
    /// address.
    fn extern_ld64(
        &self,
        a: &mut Applied,
        i: usize,
        e: &Extern,
        res: &ExternResolution,
        outcome: &ExternOutcome,
        icx: &Ctx<'_>,
    ) -> Result<()> {
        if i + 1 >= a.insns.len() || !a.insns[i].is_ld_imm64() {
            return Err(icx.err("relocation is not on a complete ld_imm64"));
        }
        match (&outcome.resolved, e.kind) {
            (_, ExternKind::Kconfig) => {
                let map = self.obj.maps.iter().position(|m| m.origin == MapOrigin::Kconfig).ok_or_else(|| icx.err("no .kconfig map"))?;
                a.name_map(i, pseudo::MAP_VALUE, map);
                a.insns[i + 1].set_imm(e.kconfig.map(|k| k.data_off).unwrap_or(0) as i32);
            }
            (Some(Resolved::Btf { .. }), ExternKind::Kfunc) if !self.target.is_some_and(|t| t.accepts_kfunc_ldimm64()) => {
                // Deliberately unlike libbpf: kernels before 6.4 refuse a
                // kfunc's BTF id in an ld_imm64, which makes every
                // `bpf_ksym_exists(kfunc)` fail the load there. The only use
                // of that value is its truth, and the plan knows it: load 1.
                a.insns[i].set_src_reg(0);
                a.insns[i].set_imm(1);
                a.insns[i + 1].set_imm(0);
            }
            (Some(Resolved::Btf { owner, btf_id }), _) => {
                a.insns[i].set_src_reg(pseudo::BTF_ID);
                a.insns[i].set_imm(*btf_id as i32);
                let slot = match owner {
                    BtfOwner::Vmlinux => 0,
                    BtfOwner::Module(m) => {
                        a.module_btf_refs.push(ModuleBtfRef { insn_idx: i, module: *m });
                        res.slot_of(*m).unwrap_or(0) as i32
                    }
                };
                a.insns[i + 1].set_imm(slot);
            }
            (resolved, _) => {
                let addr = match resolved {
                    Some(Resolved::Address(a)) => *a,
                    _ => 0,
                };
                a.insns[i].set_imm(addr as u32 as i32);
                a.insns[i + 1].set_imm((addr >> 32) as u32 as i32);
            }
        }
        Ok(())
    }
}

/// A kfunc call: to its BTF id (and module slot), or poisoned if it did
/// not resolve.
fn extern_call(a: &mut Applied, i: usize, ext: usize, e: &Extern, outcome: &ExternOutcome, icx: &Ctx<'_>) -> Result<()> {
    if e.kind != ExternKind::Kfunc {
        return Err(icx.err("called, but it is not a function"));
    }
    match &outcome.resolved {
        Some(Resolved::Btf { btf_id, .. }) => {
            a.insns[i].set_src_reg(pseudo::KFUNC_CALL);
            a.insns[i].set_imm(*btf_id as i32);
            a.insns[i].set_off(outcome.fd_slot.unwrap_or(0) as i16);
            a.uses_fd_array |= outcome.fd_slot.is_some();
        }
        _ => {
            a.insns[i] = Insn::call_helper(poison::KFUNC_CALL_BASE + ext as i32);
            a.poisoned.push(Poisoned { insn_idx: i, kind: PoisonKind::KfuncCall { name: e.name.clone() } });
        }
    }
    Ok(())
}
