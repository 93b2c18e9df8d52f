//! The load plan: everything the kernel will be given, computed without a
//! system call. Map references hold the map's index in [`LoadPlan::maps`]
//! until the loader swaps in real fds.

use bpfld_asm::Insn;
use bpfld_btf::ext::{FuncInfo, LineInfo};

use crate::error::{Ctx, Result};
use crate::link::link;
use crate::map::MapSpec;
use crate::object::Object;
use crate::program::RelocKind;

pub const BPF_PSEUDO_MAP_FD: u8 = 1;
pub const BPF_PSEUDO_MAP_VALUE: u8 = 2;

/// `BPF_F_SLEEPABLE` and `BPF_F_XDP_HAS_FRAGS` program flags.
const BPF_F_SLEEPABLE: u32 = 1 << 4;
const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

/// An instruction whose `imm` names a map: the loader replaces the map
/// index with the map's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRef {
    pub insn_idx: usize,
    pub map: usize,
}

/// One program, ready to load.
#[derive(Debug, Clone)]
pub struct ProgramPlan {
    pub name: String,
    pub section: String,
    pub prog_type: u32,
    pub expected_attach_type: u32,
    /// The attach target from the section name (`fentry/<func>`, ...).
    pub attach_target: Option<String>,
    pub prog_flags: u32,
    /// Final instructions, map fds replaced by map indexes (see `map_refs`).
    pub insns: Vec<Insn>,
    pub map_refs: Vec<MapRef>,
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
    /// Whether the section asks for the program to be loaded (`SEC("?x")`
    /// programs are not).
    pub autoload: bool,
    /// Why the program cannot be loaded, found before the kernel is asked
    /// (e.g. an unknown section name). Other programs still load.
    pub error: Option<String>,
}

/// What to hand the kernel for one object.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub object: String,
    pub license: String,
    pub kern_version: u32,
    /// Object BTF to load (after fixups), if the object has BTF.
    pub btf: Option<Vec<u8>>,
    pub maps: Vec<MapSpec>,
    pub programs: Vec<ProgramPlan>,
}

/// Plans the load of every entry program of `obj`.
///
/// Externs and CO-RE relocations need a target kernel; objects that use
/// them are refused here with an error that says so, rather than planned
/// wrong.
pub fn plan(obj: &Object) -> Result<LoadPlan> {
    let cx = Ctx::new(&obj.name);
    if let Some(e) = obj.externs.first() {
        return Err(cx.with(format!("extern '{}'", e.name)).err("extern resolution is not implemented yet"));
    }
    if obj.section_ext.values().any(|s| !s.core_relos.is_empty()) {
        return Err(cx.err("CO-RE relocations are not implemented yet"));
    }
    let mut programs = Vec::new();
    for (idx, p) in obj.programs.iter().enumerate() {
        if p.is_subprog {
            continue;
        }
        let pcx = cx.with(format!("program '{}'", p.name));
        let linked = link(obj, idx)?;
        let mut insns = linked.insns;
        let mut map_refs = Vec::new();
        for r in &linked.relocs {
            let i = r.insn_idx;
            match r.kind {
                RelocKind::Map { map } => {
                    insns[i].set_src_reg(BPF_PSEUDO_MAP_FD);
                    insns[i].set_imm(map as i32);
                    map_refs.push(MapRef { insn_idx: i, map });
                }
                RelocKind::MapValue { map, sym_off } => {
                    if i + 1 >= insns.len() {
                        return Err(pcx.err(format!("insn {i}: ld_imm64 truncated")));
                    }
                    let off = i64::from(insns[i].imm()) + sym_off as i64;
                    let off = i32::try_from(off).map_err(|_| pcx.err(format!("insn {i}: offset {off} out of range")))?;
                    insns[i + 1].set_imm(off);
                    insns[i].set_src_reg(BPF_PSEUDO_MAP_VALUE);
                    insns[i].set_imm(map as i32);
                    map_refs.push(MapRef { insn_idx: i, map });
                }
                RelocKind::ExternCall { .. } | RelocKind::ExternLd64 { .. } => {
                    return Err(pcx.err(format!("insn {i}: extern relocation without a target")));
                }
                RelocKind::Call { .. } | RelocKind::SubprogAddr { .. } => {}
            }
        }
        let (prog_type, expected_attach_type, attach_target, prog_flags, error) = match &p.def {
            Some(d) => {
                let mut flags = 0;
                if d.is_sleepable() {
                    flags |= BPF_F_SLEEPABLE;
                }
                if d.is_xdp_frags() {
                    flags |= BPF_F_XDP_HAS_FRAGS;
                }
                (d.prog_type(), d.expected_attach_type(), d.attach_target().map(str::to_string), flags, None)
            }
            None => (0, 0, None, 0, Some(format!("section '{}' matches no known program type", p.section))),
        };
        programs.push(ProgramPlan {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type,
            expected_attach_type,
            attach_target,
            prog_flags,
            insns,
            map_refs,
            func_info: linked.func_info,
            line_info: linked.line_info,
            autoload: p.autoload,
            error,
        });
    }
    let btf = match &obj.btf {
        Some(b) => Some(b.raw_bytes().to_vec()),
        None => None,
    };
    Ok(LoadPlan {
        object: obj.name.clone(),
        license: obj.license.clone(),
        kern_version: obj.kern_version,
        btf,
        maps: obj.maps.clone(),
        programs,
    })
}

