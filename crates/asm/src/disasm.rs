//! A one-line-per-instruction disassembler in the kernel verifier's
//! notation (`r1 = *(u32 *)(r2 +4)`), for `bpfld plan` and for diffs in
//! tests. Unknown encodings print as raw fields rather than failing.

use crate::insn::{op, pseudo, Insn};

fn alu_op(code: u8) -> Option<&'static str> {
    Some(match code & op::OP_MASK {
        0x00 => "+=",
        0x10 => "-=",
        0x20 => "*=",
        0x30 => "/=",
        0x40 => "|=",
        0x50 => "&=",
        0x60 => "<<=",
        0x70 => ">>=",
        0x90 => "%=",
        0xa0 => "^=",
        0xb0 => "=",
        0xc0 => "s>>=",
        _ => return None,
    })
}

fn jmp_op(code: u8) -> Option<&'static str> {
    Some(match code & op::OP_MASK {
        0x10 => "==",
        0x20 => ">",
        0x30 => ">=",
        0x40 => "&",
        0x50 => "!=",
        0x60 => "s>",
        0x70 => "s>=",
        0xa0 => "<",
        0xb0 => "<=",
        0xc0 => "s<",
        0xd0 => "s<=",
        _ => return None,
    })
}

fn size_name(code: u8) -> &'static str {
    match code & op::SIZE_MASK {
        op::W => "u32",
        op::H => "u16",
        op::B => "u8",
        _ => "u64",
    }
}

/// Disassembles `insns`; an `ld_imm64` takes two entries, the second of
/// which is printed empty.
pub fn disasm(insns: &[Insn]) -> Vec<String> {
    let mut out = Vec::with_capacity(insns.len());
    let mut i = 0;
    while i < insns.len() {
        let n = insns[i];
        if n.is_ld_imm64() {
            let hi = insns.get(i + 1).map(|h| h.imm()).unwrap_or(0);
            let val = (n.imm() as u32 as u64) | ((hi as u32 as u64) << 32);
            let what = match n.src_reg() {
                0 => format!("{val:#x}"),
                pseudo::MAP_FD => format!("map[id:{}]", n.imm()),
                pseudo::MAP_VALUE => format!("map[id:{}][0]+{hi}", n.imm()),
                pseudo::BTF_ID => format!("btf_id:{} btf_fd:{hi}", n.imm()),
                pseudo::FUNC => format!("subprog[{:+}]", n.imm()),
                pseudo::MAP_IDX => format!("map_idx:{}", n.imm()),
                pseudo::MAP_IDX_VALUE => format!("map_idx:{}+{hi}", n.imm()),
                s => format!("pseudo{s}:{:#x}", val),
            };
            out.push(format!("r{} = {what} ll", n.dst_reg()));
            out.push(String::new());
            i += 2;
            continue;
        }
        out.push(one(&n));
        i += 1;
    }
    out.truncate(insns.len());
    out
}

fn one(n: &Insn) -> String {
    let code = n.code();
    let (d, s, off, imm) = (n.dst_reg(), n.src_reg(), n.off(), n.imm());
    match n.class() {
        op::ALU | op::ALU64 => {
            let r = if n.class() == op::ALU64 { "r" } else { "w" };
            if code & op::OP_MASK == 0x80 {
                return format!("{r}{d} = -{r}{d}");
            }
            if code & op::OP_MASK == 0xd0 {
                return format!("{r}{d} = bswap{imm} {r}{d}");
            }
            let Some(o) = alu_op(code) else { return raw(n) };
            if code & op::X != 0 {
                format!("{r}{d} {o} {r}{s}")
            } else {
                format!("{r}{d} {o} {imm}")
            }
        }
        op::JMP | op::JMP32 => {
            let r = if n.class() == op::JMP { "r" } else { "w" };
            match code & op::OP_MASK {
                op::CALL => match s {
                    pseudo::CALL => format!("call pc{off:+}{imm:+}"),
                    pseudo::KFUNC_CALL => format!("call kfunc btf_id:{imm} fd_array[{off}]"),
                    _ => format!("call #{imm}"),
                },
                op::EXIT => "exit".to_string(),
                op::JA => format!("goto pc{:+}", if n.class() == op::JMP32 { imm } else { off as i32 }),
                _ => match jmp_op(code) {
                    Some(o) if code & op::X != 0 => format!("if {r}{d} {o} {r}{s} goto pc{off:+}"),
                    Some(o) => format!("if {r}{d} {o} {imm:#x} goto pc{off:+}"),
                    None => raw(n),
                },
            }
        }
        op::LDX => {
            let sx = if code & op::MODE_MASK == op::MEMSX { "s" } else { "" };
            format!("r{d} = *({sx}{} *)(r{s} {off:+})", size_name(code))
        }
        op::STX if code & op::MODE_MASK == op::MEM => format!("*({} *)(r{d} {off:+}) = r{s}", size_name(code)),
        op::STX => format!("atomic{:#x} *({} *)(r{d} {off:+}), r{s}", imm, size_name(code)),
        op::ST => format!("*({} *)(r{d} {off:+}) = {imm}", size_name(code)),
        _ => raw(n),
    }
}

fn raw(n: &Insn) -> String {
    format!("(code {:#04x} dst r{} src r{} off {} imm {})", n.code(), n.dst_reg(), n.src_reg(), n.off(), n.imm())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_forms() {
        let insns = [
            Insn::mov64_imm(0, 2),
            Insn::new(op::LDX | op::MEM | op::W, 1, 2, 4, 0),
            Insn::new(op::LD_IMM64, 1, pseudo::MAP_VALUE, 0, 3),
            Insn::new(0, 0, 0, 0, 16),
            Insn::new(op::CALL_INSN, 0, pseudo::KFUNC_CALL, 1, 1234),
            Insn::new(op::JMP | op::EXIT, 0, 0, 0, 0),
        ];
        let d = disasm(&insns);
        assert_eq!(d[0], "r0 = 2");
        assert_eq!(d[1], "r1 = *(u32 *)(r2 +4)");
        assert_eq!(d[2], "r1 = map[id:3][0]+16 ll");
        assert_eq!(d[3], "");
        assert_eq!(d[4], "call kfunc btf_id:1234 fd_array[1]");
        assert_eq!(d[5], "exit");
    }
}
