//! Writing a relocation's value into its instruction, after checking that
//! the instruction holds what the local BTF predicts; or poisoning it.
//! libbpf 1.7's `bpf_core_patch_insn` and `bpf_core_poison_insn`.

use super::error::{CoreError, InsnForm};
use bpfld_asm::insn::{op, poison};
use bpfld_asm::Insn;

use super::calc::ReloRes;

/// What patching did to the instruction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchAction {
    /// `imm` of an ALU/ALU64 instruction with an immediate operand.
    AluImm,
    /// `off` of a load or store; `mem_size` is `Some((old, new))` in bytes
    /// when the access width was changed too.
    MemOff {
        /// (old, new) access width in bytes, when it changed.
        mem_size: Option<(u32, u32)>,
    },
    /// The 64-bit immediate of an `ld_imm64`.
    LdImm64,
    /// Replaced by a call of the non-existent helper
    /// [`poison::CORE_RELO`] (both halves, for an `ld_imm64`).
    Poisoned,
}

/// Turns `insn` into `call 195896080` (`0xbad2310`, "bad relo"): the
/// verifier accepts it in dead code and otherwise fails with
/// `invalid func unknown#195896080`, which the log fixup explains.
pub(crate) fn poison_insn(insn: &mut Insn) {
    *insn = Insn::call_helper(poison::CORE_RELO);
}

fn mem_size_bytes(code: u8) -> u32 {
    match code & op::SIZE_MASK {
        op::DW => 8,
        op::W => 4,
        op::H => 2,
        _ => 1,
    }
}

fn mem_size_code(bytes: u32) -> Option<u8> {
    match bytes {
        8 => Some(op::DW),
        4 => Some(op::W),
        2 => Some(op::H),
        1 => Some(op::B),
        _ => None,
    }
}

/// Poisons the instruction at `idx`, and the second half of an
/// `ld_imm64` too, so that the verifier does not stop at an "unknown
/// opcode 00" first.
fn poison_at(insns: &mut [Insn], idx: usize) -> Result<PatchAction, CoreError> {
    if insns[idx].is_ld_imm64() {
        let Some(next) = insns.get_mut(idx + 1) else {
            return Err(CoreError::LdImm64CutOff { insn: idx });
        };
        poison_insn(next);
    }
    poison_insn(&mut insns[idx]);
    Ok(PatchAction::Poisoned)
}

/// Patches `insns[idx]` with `res` (`bpf_core_patch_insn`).
///
/// The instruction forms a relocation may sit on, and what is checked:
///
/// 1. ALU/ALU64 with an immediate (`rX = imm`, `rX += imm`, ...): `imm`
///    must equal the local value (compared as libbpf does, the 32-bit
///    `imm` sign-extended); the new value is written truncated to 32 bits.
///    A register operand is an error.
/// 2. LDX, ST, STX (`rX = *(T *)(rY + off)`, stores): `off` must equal the
///    local value; the new value must fit in `off` (at most 32767). If the
///    field changed size, the access width follows it, provided the
///    instruction's width is the local field's and the new size is 1, 2, 4
///    or 8 bytes; when the size change would not preserve the value
///    (`fail_memsz_adjust`), the instruction is poisoned instead.
/// 3. `ld_imm64` with no pseudo source, offset or second-half fields: the
///    64-bit immediate must equal the local value and receives the new one.
///
/// Anything else is an error, as is a mismatch (the object was not built
/// for the BTF it carries, or two relocations claim one instruction).
/// Bitfield offsets and shifts are not validated (see `calc`).
pub(crate) fn patch_insn(insns: &mut [Insn], idx: usize, res: &ReloRes) -> Result<PatchAction, CoreError> {
    let Some(&insn) = insns.get(idx) else {
        return Err(CoreError::InsnOutOfRange { insn: idx, len: insns.len() });
    };
    if res.poison {
        return poison_at(insns, idx);
    }
    let (orig_val, new_val) = (res.orig_val, res.new_val);
    match insn.class() {
        op::ALU | op::ALU64 => {
            if insn.code() & op::X != 0 {
                return Err(CoreError::AluRegisterOperand { insn: idx });
            }
            if res.validate && insn.imm() as i64 as u64 != orig_val {
                return Err(CoreError::UnexpectedValue {
                    insn: idx,
                    form: InsnForm::Alu,
                    found: u64::from(insn.imm() as u32),
                    expected: orig_val,
                    new: new_val,
                });
            }
            insns[idx].set_imm(new_val as i32);
            Ok(PatchAction::AluImm)
        }
        op::LDX | op::ST | op::STX => {
            if res.validate && insn.off() as i64 as u64 != orig_val {
                return Err(CoreError::UnexpectedValue {
                    insn: idx,
                    form: InsnForm::Mem,
                    found: u64::from(insn.off() as i32 as u32),
                    expected: orig_val,
                    new: new_val,
                });
            }
            if new_val > i16::MAX as u64 {
                return Err(CoreError::OffsetTooBig { insn: idx, value: new_val });
            }
            if res.fail_memsz_adjust {
                // libbpf warns "accesses field incorrectly. Make sure you are
                // accessing pointers, unsigned integers, or fields of
                // matching type and size." and poisons.
                return poison_at(insns, idx);
            }
            insns[idx].set_off(new_val as i16);
            let mut mem_size = None;
            if res.new_sz != res.orig_sz {
                let have = mem_size_bytes(insn.code());
                if have != res.orig_sz {
                    return Err(CoreError::UnexpectedMemSize { insn: idx, found: have, expected: res.orig_sz });
                }
                let Some(size_code) = mem_size_code(res.new_sz) else {
                    return Err(CoreError::InvalidMemSize { insn: idx, size: res.new_sz });
                };
                insns[idx].set_code((insn.code() & (op::MODE_MASK | op::CLASS_MASK)) | size_code);
                mem_size = Some((res.orig_sz, res.new_sz));
            }
            Ok(PatchAction::MemOff { mem_size })
        }
        op::LD => {
            let second = insns.get(idx + 1).copied();
            let well_formed = insn.is_ld_imm64()
                && insn.src_reg() == 0
                && insn.off() == 0
                && second.is_some_and(|s| s.code() == 0 && s.dst_reg() == 0 && s.src_reg() == 0 && s.off() == 0);
            let Some(second) = second.filter(|_| well_formed) else {
                return Err(CoreError::BadLdImm64 { insn: idx });
            };
            let imm = u64::from(insn.imm() as u32) | (u64::from(second.imm() as u32) << 32);
            if res.validate && imm != orig_val {
                return Err(CoreError::UnexpectedValue {
                    insn: idx,
                    form: InsnForm::LdImm64,
                    found: imm,
                    expected: orig_val,
                    new: new_val,
                });
            }
            insns[idx].set_imm(new_val as u32 as i32);
            insns[idx + 1].set_imm((new_val >> 32) as u32 as i32);
            Ok(PatchAction::LdImm64)
        }
        _ => Err(CoreError::UnrecognizedInsn {
            insn: idx,
            code: insn.code(),
            src: insn.src_reg(),
            dst: insn.dst_reg(),
            off: insn.off(),
            imm: insn.imm(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(orig: u64, new: u64) -> ReloRes {
        ReloRes { orig_val: orig, new_val: new, validate: true, ..Default::default() }
    }

    #[test]
    fn alu_imm_is_checked_and_patched() {
        let mut v = vec![Insn::new(op::ALU64 | op::ADD | op::K, 1, 0, 0, 8)];
        assert_eq!(patch_insn(&mut v, 0, &res(8, 16)).unwrap(), PatchAction::AluImm);
        assert_eq!(v[0].imm(), 16);
        let e = patch_insn(&mut v, 0, &res(8, 24)).unwrap_err().to_string();
        assert_eq!(e, "unexpected insn #0 (ALU/ALU64) value: got 16, exp 8 -> 24");
        // A negative imm compares sign-extended, as libbpf's int vs u64.
        let mut v = vec![Insn::mov64_imm(0, -1)];
        patch_insn(&mut v, 0, &res(u64::MAX, 7)).unwrap();
        assert_eq!(v[0].imm(), 7);
        let mut v = vec![Insn::new(op::ALU64 | op::ADD | op::X, 1, 2, 0, 0)];
        assert!(patch_insn(&mut v, 0, &res(0, 1)).is_err());
    }

    #[test]
    fn loads_get_offsets_and_sizes() {
        let ldx_w = Insn::new(op::LDX | op::MEM | op::W, 1, 2, 8, 0);
        let mut v = vec![ldx_w];
        let mut r = res(8, 12);
        r.orig_sz = 4;
        r.new_sz = 8;
        assert_eq!(patch_insn(&mut v, 0, &r).unwrap(), PatchAction::MemOff { mem_size: Some((4, 8)) });
        assert_eq!(v[0].off(), 12);
        assert_eq!(v[0].code(), op::LDX | op::MEM | op::DW);
        // Too big for `off`.
        let mut v = vec![ldx_w];
        assert_eq!(patch_insn(&mut v, 0, &res(8, 40000)).unwrap_err().to_string(), "insn #0 (LDX/ST/STX) value too big: 40000");
        // The instruction's width is not the local field's.
        let mut v = vec![ldx_w];
        let mut r = res(8, 8);
        r.orig_sz = 2;
        r.new_sz = 4;
        assert!(patch_insn(&mut v, 0, &r).unwrap_err().to_string().contains("unexpected mem size: got 4, exp 2"));
        // A size change that loses the value poisons the load.
        let mut v = vec![ldx_w];
        let mut r = res(8, 8);
        r.fail_memsz_adjust = true;
        assert_eq!(patch_insn(&mut v, 0, &r).unwrap(), PatchAction::Poisoned);
        assert_eq!(v[0], Insn::call_helper(poison::CORE_RELO));
    }

    #[test]
    fn ld_imm64_halves_and_poison() {
        let mut v = vec![Insn::new(op::LD_IMM64, 1, 0, 0, 5), Insn::new(0, 0, 0, 0, 0), Insn::mov64_imm(0, 0)];
        patch_insn(&mut v, 0, &res(5, 0x1_0000_0002)).unwrap();
        assert_eq!((v[0].imm(), v[1].imm()), (2, 1));
        let poison = ReloRes { poison: true, ..Default::default() };
        patch_insn(&mut v, 0, &poison).unwrap();
        assert_eq!(v[0], Insn::call_helper(poison::CORE_RELO));
        assert_eq!(v[1], Insn::call_helper(poison::CORE_RELO));
        assert_eq!(v[2], Insn::mov64_imm(0, 0));
        // Cut off by the end of the function: an error, not a panic.
        let mut v = vec![Insn::new(op::LD_IMM64, 1, 0, 0, 5)];
        assert!(patch_insn(&mut v, 0, &res(5, 6)).is_err());
        assert!(patch_insn(&mut v, 0, &poison).is_err());
        // A map load is not a CO-RE relocatable ld_imm64.
        let mut v = vec![Insn::new(op::LD_IMM64, 1, 1, 0, 5), Insn::new(0, 0, 0, 0, 0)];
        assert_eq!(patch_insn(&mut v, 0, &res(5, 6)).unwrap_err().to_string(), "insn #0 (LDIMM64) has unexpected form");
        // Jumps are not relocatable.
        let mut v = vec![Insn::new(op::JMP | 0x10, 1, 0, 2, 5)];
        assert!(patch_insn(&mut v, 0, &res(5, 6)).unwrap_err().to_string().starts_with("trying to relocate unrecognized insn #0"));
    }
}
