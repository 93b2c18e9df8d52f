//! The load plan: everything the kernel will be given, computed without a
//! system call. Map references hold the map's index in [`LoadPlan::maps`]
//! and module BTF references an `fd_array` slot until the loader swaps in
//! real fds.

use bpfld_asm::types::{prog_flags, AttachType, ProgType};
use bpfld_asm::Insn;
use bpfld_btf::ext::{FuncInfo, LineInfo};

mod apply;

use crate::compat::{KernelKnows, MissingFeature, Subject};
use crate::core::CoreReport;
use crate::error::{Ctx, Error, ErrorKind, Result};
use crate::externs::{resolve_externs, ExternKind, ExternResolution, RequiredGroups, Resolved};
use crate::features::KernelFeatures;
use crate::link::link_indexed;
use crate::map::{MapOrigin, MapSpec};
use crate::object::Object;
use crate::program_index::ProgramIndex;
use crate::target::{BtfOwner, Target};

/// An instruction whose `imm` names a map: the loader replaces the map
/// index with the map's fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapRef {
    /// The instruction, in the program's final instructions.
    pub insn_idx: usize,
    /// Index in [`LoadPlan::maps`].
    pub map: usize,
}

/// An `ld_imm64` of a kernel BTF id that lives in a module (a typed ksym
/// or the address of a module kfunc): the second half's `imm` must hold the
/// module BTF's fd. In the plan it holds the module's `fd_array` slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleBtfRef {
    /// The `ld_imm64`, in the program's final instructions.
    pub insn_idx: usize,
    /// Index into [`Target::modules`].
    pub module: usize,
}

/// One entry of the object's `fd_array` (kfunc calls name a module BTF by
/// its slot in `off`; slot 0 stays unused because `off == 0` means vmlinux).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdSlot {
    /// Slot 0, never used.
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
    /// What could not be resolved.
    pub kind: PoisonKind,
}

/// Why an instruction was poisoned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PoisonKind {
    /// A CO-RE relocation that failed; `spec` is libbpf's rendering of the
    /// local access (`[7] struct task_struct.pid (0:18 @ offset 2312)`).
    CoreRelo {
        /// libbpf's rendering of the local access.
        spec: String,
    },
    /// A call of a weak kfunc that did not resolve (the full flavored name).
    KfuncCall {
        /// The kfunc extern's full name.
        name: String,
    },
    /// A load of a map that is not created.
    MapLoad {
        /// The map's name.
        name: String,
    },
}

impl PoisonKind {
    /// A short tag for reports: `core_relo`, `kfunc_call`, `map_load`.
    pub fn tag(&self) -> &'static str {
        match self {
            PoisonKind::CoreRelo { .. } => "core_relo",
            PoisonKind::KfuncCall { .. } => "kfunc_call",
            PoisonKind::MapLoad { .. } => "map_load",
        }
    }

    /// What was not resolved: the local access of a CO-RE relocation, the
    /// kfunc's or the map's name.
    pub fn subject(&self) -> &str {
        match self {
            PoisonKind::CoreRelo { spec } => spec,
            PoisonKind::KfuncCall { name } | PoisonKind::MapLoad { name } => name,
        }
    }
}

impl std::fmt::Display for PoisonKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoisonKind::KfuncCall { name } => write!(f, "call of unresolved kfunc '{name}'"),
            PoisonKind::CoreRelo { spec } => write!(f, "failed CO-RE relocation {spec}"),
            PoisonKind::MapLoad { name } => write!(f, "map '{name}' not created"),
        }
    }
}

/// The kernel BTF type a program attaches to (fentry, tp_btf, lsm, iter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttachBtf {
    /// The target's id in its BTF.
    pub btf_id: u32,
    /// vmlinux or the module whose BTF has it.
    pub owner: BtfOwner,
}

/// One program, ready to load.
#[derive(Debug, Clone)]
pub struct ProgramPlan {
    /// The program's name (its ELF symbol).
    pub name: String,
    /// Its ELF section, without a leading `?`.
    pub section: String,
    /// The program type.
    pub prog_type: ProgType,
    /// The expected attach type given at load (`UNSET` where none).
    pub expected_attach_type: AttachType,
    /// The attach target from the section name (`fentry/<func>`, ...).
    pub attach_target: Option<String>,
    /// Resolved BTF id of the attach target, for programs that attach by
    /// BTF id.
    pub attach_btf: Option<AttachBtf>,
    /// `attach_btf` is an id in the BTF of the BPF program given as this
    /// program's target ([`PlanOptions::attach_programs`]), not the
    /// kernel's: the loader passes that program as `attach_prog_fd`.
    pub attach_to_program: bool,
    /// `BPF_F_*` load flags (sleepable, XDP frags).
    pub prog_flags: u32,
    /// Final instructions, map fds replaced by map indexes (see `map_refs`).
    pub insns: Vec<Insn>,
    /// Every instruction that names a map, for the loader to put fds in.
    pub map_refs: Vec<MapRef>,
    /// Every `ld_imm64` of a module BTF id.
    pub module_btf_refs: Vec<ModuleBtfRef>,
    /// Whether the instructions refer to `fd_array` (module kfunc calls).
    pub uses_fd_array: bool,
    /// `bpf_func_info` records, `insn_off` in instructions.
    pub func_info: Vec<FuncInfo>,
    /// `bpf_line_info` records, `insn_off` in instructions.
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
    /// The object's name.
    pub object: String,
    /// The target's name, if the plan was made against one.
    pub target: Option<String>,
    /// The license given to the kernel (GPL-only helpers need `GPL`).
    pub license: String,
    /// The object's `version` section value, 0 without one (the loader
    /// then gives the running kernel's `LINUX_KERNEL_VERSION`).
    pub kern_version: u32,
    /// Object BTF to load (after fixups and sanitizing), if the object has
    /// BTF.
    pub btf: Option<Vec<u8>>,
    /// Every map to create, in the object's order.
    pub maps: Vec<MapSpec>,
    /// Every program (entry programs only), in the object's order.
    pub programs: Vec<ProgramPlan>,
    /// `fd_array` shared by every program of the object (libbpf's layout).
    pub fd_array: Vec<FdSlot>,
    /// What every extern resolved to, or why not.
    pub externs: Vec<ExternReport>,
    /// Every CO-RE relocation as applied (empty without a target).
    pub core: CoreReport,
    /// The struct_ops maps to create and register (see
    /// [`crate::struct_ops`]).
    pub struct_ops: Vec<crate::struct_ops::StructOpsPlan>,
    /// The kernel features the plan was adapted to (see [`crate::compat`]).
    pub features: KernelFeatures,
    /// What the target kernel lacks for this object (maps first); each
    /// program among them also has its [`ProgramPlan::error`].
    pub missing: Vec<MissingFeature>,
    /// Where the `__arena` variables go in the arena map.
    pub arena: Option<crate::arena::ArenaPlan>,
}

/// One extern's outcome, self-contained for reports and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ExternReport {
    /// The extern's full name (with its `___flavor`).
    pub name: String,
    /// `kfunc`, `ksym` (typed), `ksym_typeless` or `kconfig`.
    pub kind: &'static str,
    /// Declared `__weak`.
    pub weak: bool,
    /// It resolved on the target.
    pub resolved: bool,
    /// `vmlinux` or the module's name, for kfuncs and typed ksyms.
    pub target: Option<String>,
    /// The BTF id it resolved to, in vmlinux's or the module's BTF.
    pub btf_id: Option<u32>,
    /// The kconfig value or the typeless ksym's address.
    pub value: Option<String>,
    /// The module's `fd_array` slot, for kfuncs in modules.
    pub fd_slot: Option<u16>,
    /// Why it did not resolve.
    pub reason: Option<String>,
    /// Unresolved only because the target lacks the data to decide (a weak
    /// typeless ksym without kallsyms): planned as 0, the kernel may differ.
    pub unknown_offline: bool,
}

/// Options of [`plan`].
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Flavor groups (by essential name) of which at least one extern must
    /// resolve.
    pub required: RequiredGroups,
    /// The kernel's features, instead of the target's (or, without a
    /// target, instead of a kernel that has everything): the loader gives
    /// the running kernel's probed ones.
    pub features: Option<KernelFeatures>,
    /// The BPF programs that programs of the object attach to (freplace;
    /// fentry/fexit of a BPF program), by program name.
    pub attach_programs: crate::attach_prog::AttachPrograms,
}

/// A plan that failed: the errors, and what was learned before failing
/// (the extern report), so that a failure can still be explained extern
/// by extern.
#[derive(Debug, Clone)]
pub struct PlanError {
    /// The first error, naming the others.
    pub error: Error,
    /// What each extern resolved to, or why not.
    pub externs: Vec<ExternReport>,
}

impl std::fmt::Display for PlanError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for PlanError {}

impl From<Error> for PlanError {
    fn from(error: Error) -> PlanError {
        PlanError { error, externs: Vec::new() }
    }
}

/// Plans the load of every entry program of `obj` against `target`.
///
/// Without a target, objects with externs or CO-RE relocations are refused
/// with an error that says so, rather than planned wrong.
pub fn plan(obj: &Object, target: Option<&Target>, opts: &PlanOptions) -> std::result::Result<LoadPlan, PlanError> {
    let cx = Ctx::new(&obj.name);
    let Some(target) = target else {
        if let Some(e) = obj.externs.first() {
            return Err(cx
                .with(format!("extern '{}'", e.name))
                .err_kind(ErrorKind::Unsupported, "externs need a target kernel (its BTF)")
                .into());
        }
        if obj.section_ext.values().any(|s| !s.core_relos.is_empty()) {
            return Err(cx.err_kind(ErrorKind::Unsupported, "CO-RE relocations need a target kernel (its BTF)").into());
        }
        if let Some(e) = crate::struct_ops::needs_target_error(obj) {
            return Err(e.into());
        }
        let insns: Vec<Vec<Insn>> = obj.programs.iter().map(|p| p.insns.clone()).collect();
        let mut plan = plan_programs(obj, None, None, insns, &CoreReport::default(), &cx)?;
        crate::attach_prog::apply(&mut plan, &opts.attach_programs, &cx)?;
        let features = opts.features.unwrap_or_else(KernelFeatures::all);
        crate::compat::adapt(&mut plan, &features).map_err(|e| cx.with("section '.BTF'").wrap(e))?;
        return Ok(plan);
    };
    let kconfig_map = obj.maps.iter().position(|m| m.origin == MapOrigin::Kconfig);
    let kconfig_size = kconfig_map.map(|i| obj.maps[i].value_size).unwrap_or(0);
    let resolution = resolve_externs(obj.btf.as_ref(), &obj.externs, target, kconfig_size, &opts.required);
    let externs = extern_reports(obj, target, &resolution);
    if let Some(first) = resolution.errors.first() {
        let mut error = cx.wrap(first.clone());
        if resolution.errors.len() > 1 {
            let more: Vec<String> = resolution.errors[1..].iter().map(ToString::to_string).collect();
            error.message.push_str(&format!(" (and {} more: {})", more.len(), more.join("; ")));
        }
        return Err(PlanError { error, externs });
    }
    // struct_ops maps decide which of their programs load, before CO-RE.
    let struct_ops = crate::struct_ops::prepare(obj, target).map_err(|error| PlanError { error, externs: externs.clone() })?;
    let adjusted = struct_ops.adjusted_object(obj);
    let obj = adjusted.as_ref().unwrap_or(obj);
    // CO-RE applies to each function before linking, so that a subprogram
    // shared by several programs is relocated once (libbpf's order).
    let mut insns: Vec<Vec<Insn>> = obj.programs.iter().map(|p| p.insns.clone()).collect();
    let core = crate::core::relocate(obj, target, &mut insns).map_err(|error| PlanError { error, externs: externs.clone() })?;
    let mut plan = plan_programs(obj, Some(target), Some(&resolution), insns, &core, &cx)
        .map_err(|error| PlanError { error, externs: externs.clone() })?;
    plan.core = core;
    crate::attach_prog::apply(&mut plan, &opts.attach_programs, &cx).map_err(|error| PlanError { error, externs: externs.clone() })?;
    if let Some(i) = kconfig_map {
        plan.maps[i].data = resolution.kconfig_data.clone();
    }
    plan.fd_array = if resolution.fd_array_modules.is_empty() {
        Vec::new()
    } else {
        std::iter::once(FdSlot::Unused).chain(resolution.fd_array_modules.iter().map(|&m| FdSlot::ModuleBtf(m))).collect()
    };
    plan.externs = externs;
    struct_ops.apply(&mut plan).map_err(|error| PlanError { error, externs: plan.externs.clone() })?;
    let features = opts.features.unwrap_or_else(|| target.features());
    crate::usdt::fit_attach_types(&mut plan, &features);
    crate::compat::adapt(&mut plan, &features)
        .map_err(|e| PlanError { error: cx.with("section '.BTF'").wrap(e), externs: plan.externs.clone() })?;
    if target.predict_missing {
        let knows = KernelKnows { enums: target.enums(), features: &features, release: target.release() };
        plan.missing = knows.plan(&plan);
        for m in &plan.missing {
            if let Subject::Program(name) = &m.subject {
                if let Some(p) = plan.programs.iter_mut().find(|p| &p.name == name) {
                    p.error = p.error.take().or_else(|| Some(m.reason()));
                }
            }
        }
    }
    Ok(plan)
}

fn extern_reports(obj: &Object, target: &Target, res: &ExternResolution) -> Vec<ExternReport> {
    obj.externs
        .iter()
        .zip(&res.outcomes)
        .map(|(e, o)| {
            let (owner, btf_id, value) = match &o.resolved {
                Some(Resolved::Btf { owner, btf_id }) => (Some(target.owner_name(*owner).to_string()), Some(*btf_id), None),
                Some(Resolved::Address(a)) => (None, None, Some(format!("{a:#x}"))),
                Some(Resolved::Kconfig(v)) => (None, None, Some(v.clone())),
                None => (None, None, None),
            };
            ExternReport {
                name: e.name.clone(),
                kind: match e.kind {
                    ExternKind::Kfunc => "kfunc",
                    ExternKind::Kconfig => "kconfig",
                    ExternKind::Ksym if e.is_typeless_ksym() => "ksym_typeless",
                    ExternKind::Ksym => "ksym",
                },
                weak: e.weak,
                resolved: o.resolved.is_some(),
                target: owner,
                btf_id,
                value,
                fd_slot: o.fd_slot,
                reason: o.reason.clone(),
                unknown_offline: o.unresolved == Some(crate::externs::Unresolved::UnknownOffline),
            }
        })
        .collect()
}

/// Links and relocates every entry program.
fn plan_programs(
    obj: &Object,
    target: Option<&Target>,
    externs: Option<&ExternResolution>,
    prog_insns: Vec<Vec<Insn>>,
    core: &CoreReport,
    cx: &Ctx<'_>,
) -> Result<LoadPlan> {
    let arena = obj.arena.as_ref().map(|a| crate::arena::ArenaPlan {
        map: a.map,
        data_off: crate::arena::data_offset(&obj.maps[a.map], a.data.len(), target),
        data: a.data.clone(),
    });
    let index = ProgramIndex::new(&obj.programs);
    let planner = Planner { obj, target, externs, arena: arena.as_ref(), core, index: &index, prog_insns: &prog_insns };
    let mut programs = Vec::new();
    for (idx, p) in obj.programs.iter().enumerate().filter(|(_, p)| !p.is_subprog) {
        programs.push(planner.program(idx, &cx.with(format!("program '{}'", p.name)))?);
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
        externs: Vec::new(),
        core: CoreReport::default(),
        struct_ops: Vec::new(),
        features: KernelFeatures::all(),
        missing: Vec::new(),
        arena,
    })
}

/// What planning each entry program reads: the object, the target and
/// what was resolved for it, and the functions' CO-RE-relocated
/// instructions.
struct Planner<'a> {
    obj: &'a Object,
    target: Option<&'a Target>,
    externs: Option<&'a ExternResolution>,
    arena: Option<&'a crate::arena::ArenaPlan>,
    core: &'a CoreReport,
    index: &'a ProgramIndex,
    prog_insns: &'a [Vec<Insn>],
}

impl Planner<'_> {
    /// Entry program `idx`: linked, CO-RE poison recorded, map and extern
    /// relocations applied, its type and attach target decided.
    fn program(&self, idx: usize, pcx: &Ctx<'_>) -> Result<ProgramPlan> {
        let p = &self.obj.programs[idx];
        let linked = link_indexed(self.obj, self.index, idx, self.prog_insns)?;
        let mut applied = apply::Applied { insns: linked.insns, poisoned: core_poisoned(self.core, &linked.layout), ..Default::default() };
        for r in &linked.relocs {
            self.apply(r, &mut applied, pcx)?;
        }
        let kind = program_kind(p, self.target);
        Ok(ProgramPlan {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type: kind.prog_type,
            expected_attach_type: kind.expected_attach_type,
            attach_target: kind.attach_target,
            attach_btf: kind.attach_btf,
            attach_to_program: false,
            prog_flags: kind.flags,
            insns: applied.insns,
            map_refs: applied.map_refs,
            module_btf_refs: applied.module_btf_refs,
            uses_fd_array: applied.uses_fd_array,
            func_info: linked.func_info,
            line_info: linked.line_info,
            poisoned: applied.poisoned,
            layout: linked.layout,
            autoload: p.autoload,
            error: kind.error,
        })
    }
}

/// The instructions CO-RE poisoned, where the linker placed them.
fn core_poisoned(core: &CoreReport, layout: &[(usize, usize)]) -> Vec<Poisoned> {
    let mut poisoned = Vec::new();
    for r in core.relocations.iter().filter(|r| r.poisoned()) {
        for &(fi, start) in layout {
            if fi == r.program {
                poisoned
                    .push(Poisoned { insn_idx: start + r.insn_idx, kind: PoisonKind::CoreRelo { spec: crate::core::log_spec(&r.spec) } });
            }
        }
    }
    poisoned
}

/// A program's type, flags and attach target from its section, and why it
/// cannot load if that is known now.
struct ProgramKind {
    prog_type: ProgType,
    expected_attach_type: AttachType,
    attach_target: Option<String>,
    attach_btf: Option<AttachBtf>,
    flags: u32,
    error: Option<String>,
}

fn program_kind(p: &crate::program::Program, target: Option<&Target>) -> ProgramKind {
    let (prog_type, expected_attach_type, attach_target, flags, mut error) = match &p.def {
        Some(d) => {
            let mut flags = 0;
            if d.is_sleepable() {
                flags |= prog_flags::SLEEPABLE;
            }
            if d.is_xdp_frags() {
                flags |= prog_flags::XDP_HAS_FRAGS;
            }
            let attach_type = if d.is_usdt() && target.is_some_and(crate::usdt::uprobe_multi_link) {
                bpfld_asm::types::AttachType::TRACE_UPROBE_MULTI
            } else {
                d.expected_attach_type()
            };
            (d.prog_type(), attach_type, d.attach_target().map(str::to_string), flags, None)
        }
        None => (ProgType::UNSPEC, AttachType::UNSET, None, 0, Some(format!("section '{}' matches no known program type", p.section))),
    };
    let mut attach_btf = None;
    if let Some(d) = p.def.as_ref().filter(|d| d.attaches_by_btf()) {
        match find_attach_btf(d, target) {
            Ok(a) => attach_btf = Some(a),
            Err(e) => error = error.or(Some(e.to_string())),
        }
    }
    ProgramKind { prog_type, expected_attach_type, attach_target, attach_btf, flags, error }
}

/// Why a program's BTF attach target (`fentry/x`, `lsm/x`, `tp_btf/x`...)
/// was not found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachTargetError {
    /// The section name names no target.
    NoTarget,
    /// An `freplace` target is in another BPF program, not the kernel.
    NeedsProgram(String),
    /// Planned without a target kernel.
    NeedsKernelBtf(String),
    /// Neither vmlinux nor a module has the type.
    NotFound {
        /// The name looked up.
        name: String,
        /// The BTF kind looked for (`FUNC`, or `TYPEDEF` for raw tracepoints).
        kind: &'static str,
        /// The name with its prefix (`btf_trace_`, `bpf_lsm_`, `bpf_iter_`)
        /// where the program type has one.
        full: String,
    },
}

impl std::fmt::Display for AttachTargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttachTargetError::NoTarget => f.write_str("no BTF-based attach target is specified in the section name"),
            AttachTargetError::NeedsProgram(name) => {
                write!(
                    f,
                    "freplace target '{name}' is a function of another BPF program: give that program with set_attach_target (libbpf: attach program FD is not set)"
                )
            }
            AttachTargetError::NeedsKernelBtf(name) => write!(f, "attach target '{name}' needs the target kernel's BTF"),
            AttachTargetError::NotFound { name, kind, full } => {
                write!(f, "failed to find kernel BTF type ID of '{name}' ({kind} '{full}' is in neither vmlinux nor module BTF)")
            }
        }
    }
}

impl std::error::Error for AttachTargetError {}

impl crate::error::Kind for AttachTargetError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            AttachTargetError::NoTarget => crate::error::ErrorKind::InvalidInput,
            AttachTargetError::NeedsProgram(_) | AttachTargetError::NeedsKernelBtf(_) => crate::error::ErrorKind::Unsupported,
            AttachTargetError::NotFound { .. } => crate::error::ErrorKind::NotFound,
        }
    }
}

/// The kernel BTF id a tracing, LSM or iterator program attaches to
/// (libbpf's `find_kernel_btf_id`): `btf_trace_<tp>` TYPEDEF for `tp_btf`,
/// `bpf_lsm_<hook>` FUNC for LSM, `bpf_iter_<name>` FUNC for iterators, the
/// FUNC itself otherwise; vmlinux first, then modules; `module:func` picks
/// the module.
fn find_attach_btf(def: &crate::section::SectionDef, target: Option<&Target>) -> std::result::Result<AttachBtf, AttachTargetError> {
    use bpfld_asm::types::{AttachType as at, ProgType as pt};
    use bpfld_btf::Kind;
    let Some(name) = def.attach_target() else {
        return Err(AttachTargetError::NoTarget);
    };
    if def.prog_type() == pt::EXT {
        return Err(AttachTargetError::NeedsProgram(name.to_string()));
    }
    let Some(target) = target else {
        return Err(AttachTargetError::NeedsKernelBtf(name.to_string()));
    };
    let (prefix, kind) = match def.expected_attach_type() {
        at::TRACE_RAW_TP => ("btf_trace_", Kind::Typedef),
        at::LSM_MAC | at::LSM_CGROUP => ("bpf_lsm_", Kind::Func),
        at::TRACE_ITER => ("bpf_iter_", Kind::Func),
        _ => ("", Kind::Func),
    };
    let (module, func) = match name.split_once(':') {
        Some((m, f)) => (Some(m), f),
        None => (None, name),
    };
    let full = format!("{prefix}{func}");
    if module.is_none_or(|m| m == "vmlinux") {
        if let Some(id) = target.vmlinux.find_first(&full, kind) {
            return Ok(AttachBtf { btf_id: id, owner: BtfOwner::Vmlinux });
        }
    }
    for (i, m) in target.searched_modules().iter().enumerate() {
        if module.is_some_and(|want| want != m.name) {
            continue;
        }
        if let Some(&id) = m.btf.find_own(&full, Some(kind)).first() {
            return Ok(AttachBtf { btf_id: id, owner: BtfOwner::Module(i) });
        }
    }
    Err(AttachTargetError::NotFound { name: name.to_string(), kind: kind.name(), full })
}
