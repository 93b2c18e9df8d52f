//! Which program holds an instruction of a section: built once from the
//! programs' instruction ranges and searched by binary search, instead of
//! a scan of every program per relocation.

use std::collections::HashMap;

use crate::program::Program;

/// A program's instructions in its section: [start, end), and its index.
#[derive(Debug, Clone, Copy)]
struct Range {
    start: usize,
    end: usize,
    program: usize,
}

/// The programs of one section, by start.
#[derive(Debug, Default)]
struct SectionPrograms {
    ranges: Vec<Range>,
    /// Whether two programs overlap (only in a malformed object).
    overlap: bool,
}

/// Programs by section and instruction.
#[derive(Debug)]
pub(crate) struct ProgramIndex {
    sections: HashMap<usize, SectionPrograms>,
}

impl ProgramIndex {
    /// `programs` sorted by section and offset, as [`crate::Object::programs`].
    pub(crate) fn new(programs: &[Program]) -> ProgramIndex {
        let mut sections: HashMap<usize, SectionPrograms> = HashMap::new();
        for (program, p) in programs.iter().enumerate() {
            let sec = sections.entry(p.sec_idx).or_default();
            sec.overlap |= sec.ranges.last().is_some_and(|r| p.sec_insn_off < r.end);
            sec.ranges.push(Range { start: p.sec_insn_off, end: p.sec_insn_off + p.insns.len(), program });
        }
        ProgramIndex { sections }
    }

    /// The first program (in object order) that holds instruction
    /// `insn_idx` of section `sec_idx`: the last that starts at or before
    /// it. Where programs overlap (a malformed object), the earliest that
    /// holds it, as a linear search finds.
    pub(crate) fn find(&self, sec_idx: usize, insn_idx: usize) -> Option<usize> {
        let sec = self.sections.get(&sec_idx)?;
        let before = &sec.ranges[..sec.ranges.partition_point(|r| r.start <= insn_idx)];
        let holds = |r: &&Range| insn_idx < r.end;
        let found = if sec.overlap { before.iter().find(holds) } else { before.last().filter(holds) };
        found.map(|r| r.program)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program(sec_idx: usize, start: usize, len: usize) -> Program {
        Program {
            name: String::new(),
            section: String::new(),
            sec_idx,
            sec_insn_off: start,
            insns: vec![bpfld_asm::Insn::default(); len],
            is_subprog: false,
            autoload: true,
            global: true,
            mark_btf_static: false,
            def: None,
            relocs: Vec::new(),
        }
    }

    /// The index answers as the linear search it replaces, gaps and
    /// overlaps included.
    #[test]
    fn finds_what_a_linear_search_finds() {
        let programs = vec![program(1, 0, 4), program(1, 6, 2), program(2, 0, 10), program(2, 3, 2), program(2, 12, 1)];
        let index = ProgramIndex::new(&programs);
        for sec in 0..4 {
            for insn in 0..16 {
                let linear =
                    programs.iter().position(|p| p.sec_idx == sec && insn >= p.sec_insn_off && insn < p.sec_insn_off + p.insns.len());
                assert_eq!(index.find(sec, insn), linear, "section {sec} insn {insn}");
            }
        }
    }
}
