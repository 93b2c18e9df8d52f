//! Subprogram linking: each entry program gets a private copy of every
//! `.text` subprogram it reaches, appended in first-call order, with calls,
//! callback addresses, `.BTF.ext` records and relocations moved along.
//!
//! The order is libbpf's (depth-first, on first use), so that bpfld and
//! libbpf hand the kernel the same instructions for the same object.

use bpfld_asm::insn::pseudo;
use bpfld_asm::Insn;
use bpfld_btf::ext::{FuncInfo, LineInfo};

use crate::error::{Ctx, Result};
use crate::object::Object;
use crate::program::{Reloc, RelocKind};
use crate::program_index::ProgramIndex;

/// An entry program with its subprograms appended.
#[derive(Debug, Clone)]
pub struct LinkedProgram {
    /// Index of the entry program in [`Object::programs`].
    pub prog_idx: usize,
    /// The entry program's instructions, then each subprogram's.
    pub insns: Vec<Insn>,
    /// Relocations still to apply (maps, externs), at indexes into `insns`.
    pub relocs: Vec<Reloc>,
    /// `func_info` with `insn_off` in instructions, as the kernel wants.
    pub func_info: Vec<FuncInfo>,
    /// `line_info` with `insn_off` in instructions.
    pub line_info: Vec<LineInfo>,
    /// Where each appended program starts: (program index, offset).
    pub layout: Vec<(usize, usize)>,
}

struct Linker<'a> {
    obj: &'a Object,
    /// Where the subprograms calls go to are.
    programs: &'a ProgramIndex,
    insns: &'a [Vec<Insn>],
    cx: Ctx<'a>,
    out: LinkedProgram,
    /// Start of each program already placed, by program index.
    placed: Vec<Option<usize>>,
    /// Whether func_info / line_info of the main program were found; if
    /// not, libbpf drops the whole kind for this program.
    have_func_info: bool,
    have_line_info: bool,
}

/// Links entry program `prog_idx` of `obj`, taking each function's
/// instructions from `insns` (indexed like [`Object::programs`], already
/// CO-RE-relocated).
pub fn link(obj: &Object, prog_idx: usize, insns: &[Vec<Insn>]) -> Result<LinkedProgram> {
    link_indexed(obj, &ProgramIndex::new(&obj.programs), prog_idx, insns)
}

/// [`link`] with the object's program index built once for all its
/// entry programs.
pub(crate) fn link_indexed(obj: &Object, programs: &ProgramIndex, prog_idx: usize, insns: &[Vec<Insn>]) -> Result<LinkedProgram> {
    let main = &obj.programs[prog_idx];
    let mut l = Linker {
        obj,
        programs,
        insns,
        cx: Ctx::new(&obj.name).with(format!("program '{}'", main.name)),
        out: LinkedProgram {
            prog_idx,
            insns: Vec::new(),
            relocs: Vec::new(),
            func_info: Vec::new(),
            line_info: Vec::new(),
            layout: Vec::new(),
        },
        placed: vec![None; obj.programs.len()],
        have_func_info: true,
        have_line_info: true,
    };
    l.append(prog_idx);
    l.reloc_code(prog_idx, true)?;
    // The exception callback goes after everything the program calls,
    // unless a call already placed it (which the verifier refuses).
    if let Some(cb) = crate::exception_cb::exception_callback(obj, prog_idx)? {
        if l.placed[cb].is_none() {
            l.append(cb);
            l.reloc_code(cb, false)?;
        }
    }
    Ok(l.out)
}

impl Linker<'_> {
    fn append(&mut self, idx: usize) {
        let p = &self.obj.programs[idx];
        let start = self.out.insns.len();
        self.placed[idx] = Some(start);
        self.out.layout.push((idx, start));
        let mut insns = self.insns[idx].clone();
        for r in &p.relocs {
            if let RelocKind::SubprogAddr { .. } = r.kind {
                // Mark callback loads so they are found below.
                insns[r.insn_idx].set_src_reg(pseudo::FUNC);
            }
        }
        self.out.insns.extend(insns);
        self.out.relocs.extend(
            p.relocs
                .iter()
                .filter(|r| !matches!(r.kind, RelocKind::Call { .. } | RelocKind::SubprogAddr { .. }))
                .map(|r| Reloc { insn_idx: r.insn_idx + start, kind: r.kind }),
        );
    }

    /// Copies the `.BTF.ext` records of program `idx` into the output,
    /// converting byte offsets in the section to instruction indexes in the
    /// linked program.
    fn move_ext_info(&mut self, idx: usize, is_main: bool) {
        let p = &self.obj.programs[idx];
        let Some(ext) = self.obj.section_ext.get(&p.sec_idx) else {
            if is_main {
                self.have_func_info = false;
                self.have_line_info = false;
            }
            return;
        };
        let start = self.placed[idx].unwrap_or(0);
        let range = p.sec_insn_off..p.sec_insn_off + p.insns.len();
        let adj = |off: u32| (off / 8) as usize - p.sec_insn_off + start;
        if self.have_func_info {
            let recs: Vec<FuncInfo> = ext
                .func_info
                .iter()
                .filter(|r| range.contains(&((r.insn_off / 8) as usize)))
                .map(|r| FuncInfo { insn_off: adj(r.insn_off) as u32, type_id: r.type_id })
                .collect();
            if recs.is_empty() && is_main {
                self.have_func_info = false;
            }
            self.out.func_info.extend(recs);
        }
        if self.have_line_info {
            let recs: Vec<LineInfo> = ext
                .line_info
                .iter()
                .filter(|r| range.contains(&((r.insn_off / 8) as usize)))
                .map(|r| LineInfo { insn_off: adj(r.insn_off) as u32, ..*r })
                .collect();
            if recs.is_empty() && is_main {
                self.have_line_info = false;
            }
            self.out.line_info.extend(recs);
        }
    }

    fn reloc_code(&mut self, idx: usize, is_main: bool) -> Result<()> {
        self.move_ext_info(idx, is_main);
        let obj = self.obj;
        let p = &obj.programs[idx];
        let base = self.placed[idx].unwrap_or(0);
        for insn_idx in 0..p.insns.len() {
            let insn = self.out.insns[base + insn_idx];
            if !insn.is_subprog_call() && !insn.is_pseudo_func() {
                continue;
            }
            let relo = p.relocs.iter().find(|r| r.insn_idx == insn_idx);
            let icx = self.cx.with(format!("insn {insn_idx} of '{}'", p.name));
            let target = match relo.map(|r| r.kind) {
                Some(RelocKind::ExternCall { .. }) => continue,
                Some(RelocKind::Call { sym_off }) => (sym_off / 8) as i64 + insn.imm() as i64 + 1,
                Some(RelocKind::SubprogAddr { sym_off }) => (sym_off as i64 + insn.imm() as i64) / 8,
                Some(other) => return Err(icx.err(format!("unexpected relocation {other:?} on a call"))),
                None if insn.is_pseudo_func() => return Err(icx.err("callback address without a relocation")),
                None => (p.sec_insn_off + insn_idx) as i64 + insn.imm() as i64 + 1,
            };
            let sub = obj.text_sec_idx.zip(usize::try_from(target).ok()).and_then(|(text, t)| self.programs.find(text, t));
            let Some(sub) = sub else {
                return Err(icx.err(format!("call target at instruction {target} of .text is not a known subprogram")));
            };
            if self.placed[sub].is_none() {
                self.append(sub);
                self.reloc_code(sub, false)?;
            }
            let sub_off = self.placed[sub].unwrap_or(0) as i64;
            let rel = sub_off - (base + insn_idx) as i64 - 1;
            let rel = i32::try_from(rel).map_err(|_| icx.err("program too large"))?;
            self.out.insns[base + insn_idx].set_imm(rel);
        }
        if is_main && !self.have_func_info {
            self.out.func_info.clear();
        }
        if is_main && !self.have_line_info {
            self.out.line_info.clear();
        }
        Ok(())
    }
}
