//! Programs and the relocations recorded against their instructions.

use bpfld_asm::Insn;
use bpfld_btf::ext::{CoreRelo, FuncInfo, LineInfo};

use crate::section::SectionDef;

/// What a relocated instruction refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelocKind {
    /// `call` of a subprogram: target is `sym_off / 8 + imm + 1` in `.text`.
    Call {
        /// The relocation symbol's byte offset in `.text` (a function's, or
        /// 0 for the section symbol).
        sym_off: u64,
    },
    /// `ld_imm64` of a subprogram's address (a callback).
    SubprogAddr {
        /// The symbol's byte offset in `.text`; the target is
        /// `(sym_off + imm) / 8`.
        sym_off: u64,
    },
    /// `ld_imm64` of a map (its fd).
    Map {
        /// Index in [`Object::maps`](crate::Object::maps).
        map: usize,
    },
    /// `ld_imm64` of an address inside a global data map.
    MapValue {
        /// Index in [`Object::maps`](crate::Object::maps) of the section's map.
        map: usize,
        /// The symbol's byte offset in the section, added to `imm`.
        sym_off: u64,
    },
    /// `ld_imm64` of an `__arena` variable: the arena map's value plus
    /// the variable's offset in `.addr_space.1` (see [`crate::arena`]).
    ArenaValue {
        /// Index in [`Object::maps`](crate::Object::maps) of the arena map.
        map: usize,
        /// The variable's byte offset in `.addr_space.1`.
        sym_off: u64,
    },
    /// `call` of an extern (a kfunc).
    ExternCall {
        /// Index in [`Object::externs`](crate::Object::externs).
        ext: usize,
    },
    /// `ld_imm64` of an extern (ksym address, kconfig value, kfunc address).
    ExternLd64 {
        /// Index in [`Object::externs`](crate::Object::externs).
        ext: usize,
    },
}

/// A relocation: instruction index relative to the program's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reloc {
    /// The instruction, counted from the program's first.
    pub insn_idx: usize,
    /// What it refers to.
    pub kind: RelocKind,
}

/// One function of an executable section: an entry program, or a `.text`
/// subprogram that entry programs call.
#[derive(Debug, Clone)]
pub struct Program {
    /// The function's ELF symbol.
    pub name: String,
    /// The ELF section without a leading `?`.
    pub section: String,
    /// The ELF section's index.
    pub sec_idx: usize,
    /// Instruction offset of the function inside its section.
    pub sec_insn_off: usize,
    /// Raw instructions, 8 bytes each, as in the ELF.
    pub insns: Vec<Insn>,
    /// Non-`.text` functions are entry programs; `.text` ones subprograms.
    pub is_subprog: bool,
    /// `SEC("?...")`: known but not loaded unless asked for.
    pub autoload: bool,
    /// Global (or weak) symbol binding.
    pub global: bool,
    /// Global but hidden: its BTF FUNC is marked static, as libbpf does, so
    /// that the verifier checks it with its callers' context.
    pub mark_btf_static: bool,
    /// Program type etc. from the section name; `None` for subprograms and
    /// unknown sections.
    pub def: Option<SectionDef>,
    /// Its relocations, in instruction order.
    pub relocs: Vec<Reloc>,
}

/// `.BTF.ext` records of one ELF section, with instruction indexes relative
/// to the section (not yet to a program).
#[derive(Debug, Clone, Default)]
pub struct SectionExt {
    /// The section's func info.
    pub func_info: Vec<FuncInfo>,
    /// The section's line info.
    pub line_info: Vec<LineInfo>,
    /// The section's CO-RE relocations.
    pub core_relos: Vec<CoreRelo>,
}
