//! The load plan: everything the kernel will be given, computed without a
//! system call. Map references hold the map's index in [`LoadPlan::maps`]
//! and module BTF references an `fd_array` slot until the loader swaps in
//! real fds.

use bpfld_asm::insn::pseudo;
use bpfld_asm::types::prog_flags;
use bpfld_asm::Insn;
use bpfld_btf::ext::{FuncInfo, LineInfo};

use crate::error::{Ctx, Result};
use crate::link::link;
use crate::map::MapSpec;
use crate::object::Object;
use crate::program::RelocKind;
use crate::target::{BtfOwner, Target};

/// An instruction whose `imm` names a map: the loader replaces the map
/// index with the map's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRef {
    pub insn_idx: usize,
    pub map: usize,
}

/// An `ld_imm64` of a kernel BTF id that lives in a module (a typed ksym
/// or the address of a module kfunc): the second half's `imm` must hold the
/// module BTF's fd. In the plan it holds the module's `fd_array` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleBtfRef {
    pub insn_idx: usize,
    /// Index into [`Target::modules`].
    pub module: usize,
}

/// One entry of the object's `fd_array` (kfunc calls name a module BTF by
/// its slot in `off`; slot 0 stays unused because `off == 0` means vmlinux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdSlot {
    Unused,
    /// The BTF of [`Target::modules`]`[i]`.
    ModuleBtf(usize),
}

/// An instruction the plan turned into a call of a helper that does not
/// exist, because what it referred to could not be resolved on the target
/// (libbpf's poisoning). The verifier accepts the program if the call is
/// dead code; otherwise its log says `invalid func unknown#<imm>` and the
/// loader rewrites that line with `explanation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Poisoned {
    /// Index in the final instructions.
    pub insn_idx: usize,
    pub kind: PoisonKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoisonKind {
    /// A CO-RE relocation that failed; `spec` is libbpf's rendering of the
    /// local access (`[7] struct task_struct.pid (0:18 @ offset 2312)`).
    CoreRelo { spec: String },
    /// A call of a weak kfunc that did not resolve (the full flavored name).
    KfuncCall { name: String },
    /// A load of a map that is not created.
    MapLoad { name: String },
}

/// The kernel BTF type a program attaches to (fentry, tp_btf, lsm, iter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachBtf {
    pub btf_id: u32,
    pub owner: BtfOwner,
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
    /// Resolved BTF id of the attach target, for programs that attach by
    /// BTF id.
    pub attach_btf: Option<AttachBtf>,
    pub prog_flags: u32,
    /// Final instructions, map fds replaced by map indexes (see `map_refs`).
    pub insns: Vec<Insn>,
    pub map_refs: Vec<MapRef>,
    pub module_btf_refs: Vec<ModuleBtfRef>,
    /// Whether the instructions refer to `fd_array` (module kfunc calls).
    pub uses_fd_array: bool,
    pub func_info: Vec<FuncInfo>,
    pub line_info: Vec<LineInfo>,
    /// Instructions poisoned because something did not resolve.
    pub poisoned: Vec<Poisoned>,
    /// Where each function placed in `insns` starts: (index in
    /// [`Object::programs`], first instruction). The entry program is first.
    pub layout: Vec<(usize, usize)>,
    /// Whether the section asks for the program to be loaded (`SEC("?x")`
    /// programs are not).
    pub autoload: bool,
    /// Why the program cannot be loaded, found before the kernel is asked
    /// (an unknown section name, an attach target missing from the target
    /// kernel). Other programs still load.
    pub error: Option<String>,
}

/// What to hand the kernel for one object.
#[derive(Debug, Clone)]
pub struct LoadPlan {
    pub object: String,
    /// The target's name, if the plan was made against one.
    pub target: Option<String>,
    pub license: String,
    pub kern_version: u32,
    /// Object BTF to load (after fixups and sanitizing), if the object has
    /// BTF.
    pub btf: Option<Vec<u8>>,
    pub maps: Vec<MapSpec>,
    pub programs: Vec<ProgramPlan>,
    /// `fd_array` shared by every program of the object (libbpf's layout).
    pub fd_array: Vec<FdSlot>,
}

/// Options of [`plan`].
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {}

/// Plans the load of every entry program of `obj` against `target`.
///
/// Without a target, objects with externs or CO-RE relocations are refused
/// with an error that says so, rather than planned wrong.
pub fn plan(obj: &Object, target: Option<&Target>, _opts: &PlanOptions) -> Result<LoadPlan> {
    let cx = Ctx::new(&obj.name);
    if target.is_none() {
        if let Some(e) = obj.externs.first() {
            return Err(cx.with(format!("extern '{}'", e.name)).err("externs need a target kernel (its BTF)"));
        }
        if obj.section_ext.values().any(|s| !s.core_relos.is_empty()) {
            return Err(cx.err("CO-RE relocations need a target kernel (its BTF)"));
        }
    }
    // Instructions of every function (entry programs and subprograms) before
    // linking: CO-RE and extern relocations are applied here, once per
    // function, as libbpf does.
    let prog_insns: Vec<Vec<Insn>> = obj.programs.iter().map(|p| p.insns.clone()).collect();
    let mut programs = Vec::new();
    for (idx, p) in obj.programs.iter().enumerate() {
        if p.is_subprog {
            continue;
        }
        let pcx = cx.with(format!("program '{}'", p.name));
        let linked = link(obj, idx, &prog_insns)?;
        let mut insns = linked.insns;
        let mut map_refs = Vec::new();
        for r in &linked.relocs {
            let i = r.insn_idx;
            match r.kind {
                RelocKind::Map { map } => {
                    insns[i].set_src_reg(pseudo::MAP_FD);
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
                    insns[i].set_src_reg(pseudo::MAP_VALUE);
                    insns[i].set_imm(map as i32);
                    map_refs.push(MapRef { insn_idx: i, map });
                }
                RelocKind::ExternCall { .. } | RelocKind::ExternLd64 { .. } => {
                    return Err(pcx.err(format!("insn {i}: extern relocation without a target")));
                }
                RelocKind::Call { .. } | RelocKind::SubprogAddr { .. } => {}
            }
        }
        let (prog_type, expected_attach_type, attach_target, flags, error) = match &p.def {
            Some(d) => {
                let mut flags = 0;
                if d.is_sleepable() {
                    flags |= prog_flags::SLEEPABLE;
                }
                if d.is_xdp_frags() {
                    flags |= prog_flags::XDP_HAS_FRAGS;
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
            attach_btf: None,
            prog_flags: flags,
            insns,
            map_refs,
            module_btf_refs: Vec::new(),
            uses_fd_array: false,
            func_info: linked.func_info,
            line_info: linked.line_info,
            poisoned: Vec::new(),
            layout: linked.layout,
            autoload: p.autoload,
            error,
        });
    }
    let btf = obj.btf.as_ref().map(|b| b.raw_bytes().to_vec());
    Ok(LoadPlan {
        object: obj.name.clone(),
        target: target.map(|t| t.name.clone()),
        license: obj.license.clone(),
        kern_version: obj.kern_version,
        btf,
        maps: obj.maps.clone(),
        programs,
        fd_array: Vec::new(),
    })
}
