//! Hands a [`LoadPlan`] to the kernel: object BTF, maps (inner maps first,
//! initial values, `.rodata`/`.kconfig` frozen, global data mapped), then
//! programs (map indexes and module BTF slots replaced by fds), then the
//! initial slots of prog arrays.
//!
//! struct_ops maps are created with the kernel's value type
//! (`btf_vmlinux_value_type_id`) and, once their programs are loaded, get
//! their value with the programs' fds written in (libbpf's
//! `bpf_map_prepare_vdata`); registering them is attaching them
//! ([`crate::Map::attach_struct_ops`]), as in libbpf.
//!
//! Every fd is an [`OwnedFd`] held in a local value until the whole load
//! succeeds, so a failure anywhere drops (closes) everything created so far.
//! The order and the attributes follow libbpf 1.7's `bpf_object_load`.
//!
//! Maps defined with `__uint(pinning, LIBBPF_PIN_BY_NAME)` are handled as
//! libbpf's `bpf_object__create_maps` does: a map pinned at
//! `<pin root>/<map name>` is reused if its attributes match (and then gets
//! no initial value and no map-in-map slots), else the load fails; a map
//! created instead is pinned there right away (if another loader pinned one
//! in between, that one is reused), and every pin the load made is removed
//! again if the load fails.

use bpfld_asm::types::{MapType, ProgType};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfld_asm::types::MapType as mt;
use bpfld_obj::compat::{KernelKnows, Subject};
use bpfld_obj::log_fixup::fixup_verifier_log;
use bpfld_obj::plan::{FdSlot, LoadPlan, ProgramPlan};
use bpfld_obj::struct_ops::StructOpsPlan;
use bpfld_obj::{MapOrigin, MapSpec, MissingFeature};
use bpfld_sys::{ArenaMapping, LogOptions, MapCreateAttr, MapRef, MmapedMap, ProgLoadAttr};

use crate::error::{Error, LoadProblem, Missing, ProgramLoadError, Result};
use crate::pin::{self, NewPins};

/// How to load.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Keep loading the other programs when one fails; its error is kept in
    /// its [`ProgramState`]. Without it (libbpf's behaviour) the first
    /// failure fails the whole load and nothing stays loaded.
    pub keep_going: bool,
    /// Also load programs whose section starts with `?` (off by default,
    /// as in libbpf); the same as `OpenObject::set_autoload(p, true)` for
    /// each of them before the plan.
    pub load_disabled: bool,
    /// Verifier `log_level` of every load (0: a log only for failures).
    pub log_level: u32,
    /// Files that replace what the running kernel would provide.
    pub kernel_files: crate::kernel_target::KernelFiles,
    /// Options of the plan (required flavor groups).
    pub plan: bpfld_obj::plan::PlanOptions,
    /// The directory of `LIBBPF_PIN_BY_NAME` maps (libbpf's
    /// `pin_root_path`); `None`: [`DEFAULT_PIN_ROOT`](crate::pin::DEFAULT_PIN_ROOT),
    /// `/sys/fs/bpf`.
    pub pin_root: Option<PathBuf>,
}

/// What became of one program.
#[derive(Debug)]
pub enum ProgramState {
    /// Loaded and verified; the fd is in [`LoadedProgram::fd`].
    Loaded,
    /// Not loaded because its section starts with `?`.
    Disabled,
    /// Refused by the kernel, or before the kernel was asked; kept only
    /// when loading with `keep_going`.
    Failed(Box<ProgramLoadError>),
}

/// A created map.
#[derive(Debug)]
pub struct LoadedMap {
    /// What the plan asked for (name, type, sizes, flags as created).
    pub spec: MapSpec,
    /// The map's fd.
    pub fd: OwnedFd,
    /// The mapping of a `BPF_F_MMAPABLE` global data map (read-only for
    /// `.rodata`/`.kconfig`).
    pub mmap: Option<MmapedMap>,
    /// Where a `LIBBPF_PIN_BY_NAME` map is pinned (by this load, or before
    /// it when `reused`).
    pub pin_path: Option<PathBuf>,
    /// The map was already pinned and is shared, not created by this load.
    pub reused: bool,
    /// The value a struct_ops map is registered with.
    pub struct_ops: Option<StructOpsValue>,
    /// The user-space mapping of an arena map (made right after creating
    /// it, which tells the kernel the arena's user address), holding the
    /// object's `__arena` variables.
    pub arena: Option<ArenaMapping>,
}

/// A struct_ops map's value, ready to register: the plan's kernel value
/// with the fds of the programs it points to written into their slots.
#[derive(Debug, Clone)]
pub struct StructOpsValue {
    /// The plan of the map: kernel struct, slots and their programs.
    pub plan: StructOpsPlan,
    /// The kernel value (`bpf_struct_ops_<name>`) as it will be written.
    pub value: Vec<u8>,
    /// Programs of its slots that did not load (when keeping going): the
    /// map cannot be registered.
    pub missing: Vec<String>,
}

/// A program after the load, loaded or not.
#[derive(Debug)]
pub struct LoadedProgram {
    /// What the kernel was (or would have been) given.
    pub plan: ProgramPlan,
    /// The program's fd, if it loaded.
    pub fd: Option<OwnedFd>,
    /// Loaded, disabled or failed.
    pub state: ProgramState,
}

/// Time spent inside the kernel during the load, measured around each
/// system call; the rest of the load is user space.
#[derive(Debug, Clone, Copy, Default)]
pub struct KernelTime {
    /// `BPF_BTF_LOAD`.
    pub btf_load: Duration,
    /// `BPF_MAP_CREATE`, initial values, freezing, mmap, map-in-map and
    /// prog-array slots.
    pub maps: Duration,
    /// `BPF_PROG_LOAD` (verification) and binding `.rodata`.
    pub prog_load: Duration,
}

impl KernelTime {
    /// BTF, maps and programs together.
    pub fn total(&self) -> Duration {
        self.btf_load + self.maps + self.prog_load
    }
}

/// Everything the kernel now holds for one object.
#[derive(Debug)]
pub struct Loaded {
    /// The object's BTF in the kernel, if the object has BTF and the
    /// kernel took it.
    pub btf_fd: Option<OwnedFd>,
    /// Every map, in the plan's order (the indexes programs refer to).
    pub maps: Vec<LoadedMap>,
    /// Every program, in the plan's order.
    pub programs: Vec<LoadedProgram>,
    /// Problems that did not stop the load (BTF refused by the kernel,
    /// map created without BTF, prog-array slot left empty).
    pub warnings: Vec<String>,
    /// Time spent in system calls.
    pub kernel_time: KernelTime,
}

/// Map types whose BTF key/value ids the kernel refuses (libbpf clears
/// them for the same types).
fn map_takes_no_btf(map_type: MapType) -> bool {
    matches!(
        map_type,
        mt::PERF_EVENT_ARRAY
            | mt::CGROUP_ARRAY
            | mt::STACK_TRACE
            | mt::ARRAY_OF_MAPS
            | mt::HASH_OF_MAPS
            | mt::DEVMAP
            | mt::DEVMAP_HASH
            | mt::CPUMAP
            | mt::XSKMAP
            | mt::SOCKMAP
            | mt::SOCKHASH
            | mt::QUEUE
            | mt::STACK
            | mt::ARENA
    )
}

struct Loader<'a> {
    plan: &'a LoadPlan,
    module_fds: &'a [OwnedFd],
    /// The target programs of freplace (and fentry/fexit of BPF)
    /// programs, by program name ([`ProgramPlan::attach_to_program`]).
    attach_prog_fds: &'a AttachProgramFds,
    kernel_version: u32,
    opts: &'a LoadOptions,
    time: KernelTime,
    warnings: Vec<String>,
    /// Pins made by this load, removed if it fails.
    pins: NewPins,
    /// The running kernel's uapi enums, read only to explain a refusal.
    enums: Option<Option<bpfld_obj::KernelEnums>>,
}

/// Loads `plan` into the running kernel. `module_fds` are the fds of the
/// target's module BTFs (indexed like `Target::modules`); `kernel_version`
/// is passed as `kern_version` when the object has no `version` section,
/// as libbpf does.
pub fn load_plan(plan: &LoadPlan, module_fds: &[OwnedFd], kernel_version: Option<u32>, opts: &LoadOptions) -> Result<Loaded> {
    load_plan_with_targets(plan, module_fds, &AttachProgramFds::new(), kernel_version, opts)
}

/// The fds of the programs that programs of a plan attach to, by the name
/// of the attaching program.
pub type AttachProgramFds = std::collections::BTreeMap<String, std::sync::Arc<OwnedFd>>;

/// [`load_plan`] of a plan with programs that attach to other BPF
/// programs (freplace): their targets' fds.
pub fn load_plan_with_targets(
    plan: &LoadPlan,
    module_fds: &[OwnedFd],
    attach_prog_fds: &AttachProgramFds,
    kernel_version: Option<u32>,
    opts: &LoadOptions,
) -> Result<Loaded> {
    let kernel_version = if plan.kern_version != 0 { plan.kern_version } else { kernel_version.unwrap_or(0) };
    let mut l = Loader {
        plan,
        module_fds,
        attach_prog_fds,
        kernel_version,
        opts,
        time: KernelTime::default(),
        warnings: Vec::new(),
        pins: NewPins::default(),
        enums: None,
    };
    if let Some(m) = plan.missing.iter().find(|m| matches!(m.subject, Subject::Map(_))) {
        return Err(Error::MissingFeature { object: plan.object.clone(), missing: m.clone() });
    }
    if !plan.features.memcg_account {
        if let Err(e) = crate::features::raise_memlock_rlimit() {
            l.warnings.push(format!("{}: raising RLIMIT_MEMLOCK for a kernel that charges BPF memory to it: {e}", plan.object));
        }
    }
    let btf_fd = l.load_btf()?;
    let mut maps = l.create_maps(btf_fd.as_ref().map(|f| f.as_fd()))?;
    let programs = l.load_programs(btf_fd.as_ref().map(|f| f.as_fd()), &maps)?;
    let t = Instant::now();
    let filled = l.fill_prog_arrays(&maps, &programs);
    l.time.maps += t.elapsed();
    filled?;
    l.prepare_struct_ops(&mut maps, &programs);
    std::mem::take(&mut l.pins).keep();
    Ok(Loaded { btf_fd, maps, programs, warnings: l.warnings, kernel_time: l.time })
}

impl Loader<'_> {
    fn obj(&self) -> &str {
        &self.plan.object
    }

    /// A program's or map's name for the kernel: none where it takes no
    /// names (libbpf's `FEAT_PROG_NAME`).
    fn object_name<'n>(&self, name: &'n str) -> &'n str {
        if self.plan.features.prog_name {
            name
        } else {
            ""
        }
    }

    /// The running kernel's view of what it lacks, to explain a refusal
    /// (its BTF's enums are read on the first refusal only).
    fn missing_in_kernel(&mut self, check: impl Fn(&KernelKnows<'_>) -> Option<MissingFeature>) -> Option<MissingFeature> {
        let enums =
            self.enums.get_or_insert_with(|| crate::kernel_target::cached_vmlinux_btf().ok().map(|b| bpfld_obj::KernelEnums::from_btf(&b)));
        let knows = KernelKnows {
            enums: enums.as_ref()?,
            features: &self.plan.features,
            release: crate::kernel_target::running_kernel_version().map(bpfld_asm::LinuxVersion::from_code),
        };
        check(&knows)
    }

    /// The object's BTF, optional as in libbpf: a kernel refusing it only
    /// costs func/line info and map BTF (the verifier may then refuse
    /// programs with global functions, and says so).
    fn load_btf(&mut self) -> Result<Option<OwnedFd>> {
        let Some(btf) = &self.plan.btf else { return Ok(None) };
        if !self.plan.features.btf {
            if !self.plan.struct_ops.is_empty() {
                return Err(Error::Load { context: self.obj().to_string(), problem: LoadProblem::NoKernelBtfForStructOps });
            }
            return Ok(None);
        }
        let t = Instant::now();
        let r = bpfld_sys::btf_load(btf, LogOptions::default());
        self.time.btf_load += t.elapsed();
        match r {
            Ok(fd) => Ok(Some(fd)),
            // struct_ops maps are created against the object's BTF: without
            // it, nothing loads (libbpf: "BTF is mandatory").
            Err(e) if !self.plan.struct_ops.is_empty() => Err(Error::BtfLoad { object: self.obj().to_string(), source: e }),
            Err(e) => {
                let mut w = format!("the kernel refused the object's BTF, loading without it: {}", e.sys_error());
                if let Some(last) = e.log().lines().rev().find(|l| !l.trim().is_empty()) {
                    w.push_str(&format!(" ({last})"));
                }
                self.warnings.push(w);
                Ok(None)
            }
        }
    }

    fn create_maps(&mut self, btf: Option<BorrowedFd<'_>>) -> Result<Vec<LoadedMap>> {
        let t = Instant::now();
        let r = self.create_maps_timed(btf);
        self.time.maps += t.elapsed();
        r
    }

    fn create_maps_timed(&mut self, btf: Option<BorrowedFd<'_>>) -> Result<Vec<LoadedMap>> {
        let mut maps: Vec<LoadedMap> = Vec::with_capacity(self.plan.maps.len());
        let pin_root = self.opts.pin_root.clone().unwrap_or_else(|| PathBuf::from(pin::DEFAULT_PIN_ROOT));
        for spec in &self.plan.maps {
            let ctx = format!("{}: map '{}'", self.obj(), spec.real_name);
            let pin_path = match pin::pinned_by_name(spec) {
                true => Some(
                    pin::map_pin_path(&pin_root, &spec.real_name)
                        .map_err(|source| Error::PinPath { object: self.obj().to_string(), source })?,
                ),
                false => None,
            };
            let mut retried = false;
            loop {
                if let Some(path) = &pin_path {
                    if let Some(fd) = self.reuse_pinned(spec, path, &ctx)? {
                        maps.push(LoadedMap {
                            spec: spec.clone(),
                            fd,
                            mmap: None,
                            pin_path: pin_path.clone(),
                            reused: true,
                            struct_ops: None,
                            arena: None,
                        });
                        break;
                    }
                    if retried {
                        return Err(Error::NotFound { context: ctx, missing: Missing::PinnedMap(path.clone()) });
                    }
                }
                let struct_ops = self.plan.struct_ops.iter().find(|s| s.map == maps.len());
                let (fd, mmap) = self.create_and_init(spec, btf, struct_ops, &ctx)?;
                let arena = match spec.map_type == mt::ARENA {
                    true => Some(self.map_arena(maps.len(), spec, fd.as_fd(), &ctx)?),
                    false => None,
                };
                if let Some(path) = &pin_path {
                    match pin::pin_fd(fd.as_fd(), path, &ctx) {
                        Ok(()) => self.pins.push(path.clone()),
                        // Another loader pinned one since we looked: use
                        // that one instead (libbpf retries once too).
                        Err(e) if e.errno() == Some(libc::EEXIST) && !retried => {
                            retried = true;
                            continue;
                        }
                        Err(e) => return Err(e),
                    }
                }
                maps.push(LoadedMap { spec: spec.clone(), fd, mmap, pin_path: pin_path.clone(), reused: false, struct_ops: None, arena });
                break;
            }
        }
        // Map-in-map slots once every map exists (libbpf fills them right
        // after creating the outer map, so a slot naming a map defined later
        // in the object fails there; here it works). A reused map keeps the
        // slots it has.
        for m in &maps {
            if m.reused || m.spec.init_slots.is_empty() || !m.spec.map_type.is_map_in_map() {
                continue;
            }
            let outer = MapRef::new(m.fd.as_fd()).map_err(|e| Error::kernel(format!("{}: map '{}'", self.obj(), m.spec.real_name), e))?;
            for slot in &m.spec.init_slots {
                let ctx = format!("{}: map '{}': slot [{}] = map '{}'", self.obj(), m.spec.real_name, slot.index, slot.target);
                let target = maps
                    .iter()
                    .find(|t| t.spec.real_name == slot.target || t.spec.name == slot.target)
                    .ok_or_else(|| Error::NotFound { context: ctx.clone(), missing: Missing::MapInObject })?;
                let fd = target.fd.as_raw_fd() as u32;
                outer.update(&slot.index.to_ne_bytes(), &fd.to_ne_bytes(), 0).map_err(|e| Error::kernel(ctx, e))?;
            }
        }
        Ok(maps)
    }

    /// Creates one map (with its inner map template) and, for global data,
    /// writes its initial value and maps it.
    fn create_and_init(
        &mut self,
        spec: &MapSpec,
        btf: Option<BorrowedFd<'_>>,
        struct_ops: Option<&StructOpsPlan>,
        ctx: &str,
    ) -> Result<(OwnedFd, Option<MmapedMap>)> {
        if let Some(st) = struct_ops {
            return Ok((self.create_struct_ops_map(spec, btf, st, ctx)?, None));
        }
        // The inner map is only a template for the outer map's creation: it
        // is closed right after, as in libbpf.
        let inner = match (&spec.inner, spec.map_type.is_map_in_map()) {
            (Some(inner), true) => Some(
                self.create_map(inner, btf, None)
                    .map_err(|e| Error::kernel(format!("{ctx}: creating its inner map '{}'", inner.name), e))?,
            ),
            _ => None,
        };
        let fd = match self.create_map(spec, btf, inner.as_ref().map(|f| f.as_fd())) {
            Ok(fd) => fd,
            Err(e) => return Err(self.map_create_error(spec, ctx, e)),
        };
        drop(inner);
        let mut mmap = None;
        if spec.origin.is_global_data() {
            mmap = self.init_global_data(spec, fd.as_fd(), ctx)?;
        }
        Ok((fd, mmap))
    }

    /// A refused map creation, explained if the kernel lacks the map type
    /// (it says only EINVAL).
    fn map_create_error(&mut self, spec: &MapSpec, ctx: &str, e: bpfld_sys::SysError) -> Error {
        if e.errno() == Some(libc::EINVAL) {
            if let Some(missing) = self.missing_in_kernel(|k| k.map(spec)) {
                return Error::MissingFeature { object: self.obj().to_string(), missing };
            }
        }
        Error::kernel(ctx, e)
    }

    /// Maps arena map number `index` (libbpf: at `map_extra` if set) and
    /// copies the object's `__arena` variables into it if it holds them.
    fn map_arena(&mut self, index: usize, spec: &MapSpec, fd: BorrowedFd<'_>, ctx: &str) -> Result<ArenaMapping> {
        let mut arena = ArenaMapping::new(fd, spec.max_entries, spec.map_flags, spec.map_extra)
            .map_err(|e| Error::kernel(format!("{ctx}: failed to mmap arena"), e))?;
        if let Some(a) = self.plan.arena.as_ref().filter(|a| a.map == index && !a.data.is_empty()) {
            let too_large = |_| Error::Load { context: ctx.to_string(), problem: LoadProblem::ArenaDataOffset(a.data_off) };
            let off = usize::try_from(a.data_off).map_err(too_large)?;
            arena.write(off, &a.data).map_err(|e| Error::kernel(format!("{ctx}: copying __arena variables"), e))?;
        }
        Ok(arena)
    }

    /// The map pinned at `path` if there is one and it matches `spec`
    /// (libbpf's `bpf_object__reuse_map`); `None` if nothing is pinned there.
    fn reuse_pinned(&mut self, spec: &MapSpec, path: &Path, ctx: &str) -> Result<Option<OwnedFd>> {
        let fd = match bpfld_sys::obj_get(path, 0) {
            Ok(fd) => fd,
            Err(e) if e.errno() == Some(libc::ENOENT) => return Ok(None),
            Err(e) => return Err(Error::kernel(format!("{ctx}: couldn't retrieve pinned map '{}'", path.display()), e)),
        };
        let info = bpfld_sys::map_info(fd.as_fd()).map_err(|e| Error::kernel(format!("{ctx}: pinned map at '{}'", path.display()), e))?;
        let max_entries = create_max_entries(spec).map_err(|e| Error::kernel(ctx, e))?;
        if let Some((attribute, pinned, object_value)) = pin::reuse_mismatch(spec, max_entries, &info) {
            return Err(Error::PinnedMapMismatch {
                object: self.obj().to_string(),
                map: spec.real_name.clone(),
                path: path.to_path_buf(),
                attribute,
                pinned,
                object_value,
            });
        }
        Ok(Some(fd))
    }

    /// A struct_ops map (libbpf's `bpf_object__create_map` for them): the
    /// object's BTF with no key or value type, the kernel's value type by
    /// id (in a module's BTF, given by fd, where the struct is a module's),
    /// and no retry without BTF, which the kernel requires for them.
    fn create_struct_ops_map(&mut self, spec: &MapSpec, btf: Option<BorrowedFd<'_>>, st: &StructOpsPlan, ctx: &str) -> Result<OwnedFd> {
        let Some(btf) = btf else {
            return Err(Error::Load { context: ctx.to_string(), problem: LoadProblem::StructOpsWithoutBtf });
        };
        let value_type_btf_obj_fd = match st.owner {
            bpfld_obj::BtfOwner::Vmlinux => None,
            bpfld_obj::BtfOwner::Module(m) => Some(
                self.module_fds
                    .get(m)
                    .map(|f| f.as_fd())
                    .ok_or_else(|| Error::Load { context: ctx.to_string(), problem: LoadProblem::NoModuleBtf(m) })?,
            ),
        };
        let attr = MapCreateAttr {
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries: spec.max_entries,
            map_flags: spec.map_flags,
            map_name: self.object_name(&spec.name),
            btf_fd: Some(btf),
            btf_vmlinux_value_type_id: st.kern_value_type_id,
            value_type_btf_obj_fd,
            ..Default::default()
        };
        bpfld_sys::map_create(&attr).map_err(|e| Error::kernel(ctx, e))
    }

    /// Writes each struct_ops map's value with its programs' fds (libbpf's
    /// `bpf_object_prepare_struct_ops`); registering is attaching.
    fn prepare_struct_ops(&mut self, maps: &mut [LoadedMap], programs: &[LoadedProgram]) {
        for st in &self.plan.struct_ops {
            let Some(m) = maps.get_mut(st.map) else { continue };
            let mut value = st.value.clone();
            let mut missing = Vec::new();
            for slot in &st.func_slots {
                match programs.iter().find(|p| p.plan.name == slot.program).and_then(|p| p.fd.as_ref()) {
                    // The kernel reads an `unsigned long` holding the fd.
                    Some(fd) => value[slot.offset..slot.offset + 8].copy_from_slice(&(fd.as_raw_fd() as u64).to_ne_bytes()),
                    None => missing.push(slot.program.clone()),
                }
            }
            m.struct_ops = Some(StructOpsValue { plan: st.clone(), value, missing });
        }
    }

    fn create_map(&mut self, spec: &MapSpec, btf: Option<BorrowedFd<'_>>, inner: Option<BorrowedFd<'_>>) -> bpfld_sys::Result<OwnedFd> {
        let max_entries = create_max_entries(spec)?;
        let with_btf = btf.is_some() && !map_takes_no_btf(spec.map_type) && (spec.btf_key_type_id != 0 || spec.btf_value_type_id != 0);
        let mut attr = MapCreateAttr {
            map_type: spec.map_type,
            key_size: spec.key_size,
            value_size: spec.value_size,
            max_entries,
            map_flags: spec.map_flags,
            inner_map_fd: inner,
            numa_node: spec.numa_node,
            map_name: self.object_name(&spec.name),
            map_extra: spec.map_extra,
            ..Default::default()
        };
        if with_btf {
            attr.btf_fd = btf;
            attr.btf_key_type_id = spec.btf_key_type_id;
            attr.btf_value_type_id = if spec.map_type == mt::STRUCT_OPS { 0 } else { spec.btf_value_type_id };
        }
        match bpfld_sys::map_create(&attr) {
            Ok(fd) => Ok(fd),
            // As libbpf: a kernel that does not like the map's BTF gets
            // the map without it.
            Err(e) if with_btf => {
                attr.btf_fd = None;
                attr.btf_key_type_id = 0;
                attr.btf_value_type_id = 0;
                let fd = bpfld_sys::map_create(&attr)?;
                self.warnings.push(format!("{}: map '{}': created without BTF: {e}", self.obj(), spec.real_name));
                Ok(fd)
            }
            Err(e) => Err(e),
        }
    }

    /// Writes a global data map's initial value, freezes `.rodata` and
    /// `.kconfig` (so the verifier can trust their contents) and maps it if
    /// it is mmapable.
    fn init_global_data(&mut self, spec: &MapSpec, fd: BorrowedFd<'_>, ctx: &str) -> Result<Option<MmapedMap>> {
        // Empty data is all zeros, which a new array already holds.
        if !spec.data.is_empty() && spec.data.len() != spec.value_size as usize {
            let problem = LoadProblem::InitialValueSize { data: spec.data.len(), value: spec.value_size };
            return Err(Error::Load { context: ctx.to_string(), problem });
        }
        let map = MapRef::new(fd).map_err(|e| Error::kernel(ctx, e))?;
        if !spec.data.is_empty() {
            map.update(&0u32.to_ne_bytes(), &spec.data, 0).map_err(|e| Error::kernel(format!("{ctx}: setting its initial value"), e))?;
        }
        if spec.is_rodata() {
            map.freeze().map_err(|e| Error::kernel(format!("{ctx}: freezing it"), e))?;
        }
        if spec.map_flags & bpfld_asm::types::map_flags::MMAPABLE == 0 {
            return Ok(None);
        }
        let writable = spec.map_flags & bpfld_asm::types::map_flags::RDONLY_PROG == 0 && !spec.is_rodata();
        MmapedMap::new(fd, writable).map(Some).map_err(|e| Error::kernel(format!("{ctx}: mapping it"), e))
    }

    fn load_programs(&mut self, btf: Option<BorrowedFd<'_>>, maps: &[LoadedMap]) -> Result<Vec<LoadedProgram>> {
        let mut out = Vec::with_capacity(self.plan.programs.len());
        for p in &self.plan.programs {
            if !p.autoload {
                out.push(LoadedProgram { plan: p.clone(), fd: None, state: ProgramState::Disabled });
                continue;
            }
            match self.load_program(p, btf, maps) {
                Ok(fd) => out.push(LoadedProgram { plan: p.clone(), fd: Some(fd), state: ProgramState::Loaded }),
                Err(e) => {
                    let (e, missing) = self.explain_refusal(p, e);
                    match missing {
                        _ if self.opts.keep_going => {
                            out.push(LoadedProgram { plan: p.clone(), fd: None, state: ProgramState::Failed(Box::new(e)) })
                        }
                        Some(missing) => return Err(Error::MissingFeature { object: self.obj().to_string(), missing }),
                        None => return Err(e.into()),
                    }
                }
            }
        }
        Ok(out)
    }

    /// What the kernel lacks for `p`, if that is why it was refused: known
    /// from the plan, or asked of the running kernel's BTF when it says
    /// EINVAL (its word for an unknown type or helper). The error's message
    /// then starts with it.
    fn explain_refusal(&mut self, p: &ProgramPlan, mut e: ProgramLoadError) -> (ProgramLoadError, Option<MissingFeature>) {
        let planned = self.plan.missing.iter().find(|m| m.subject == Subject::Program(p.name.clone())).cloned();
        let missing = planned.or_else(|| match e.errno {
            Some(libc::EINVAL) => self.missing_in_kernel(|k| k.program(p)),
            _ => None,
        });
        if let Some(m) = &missing {
            if e.errno.is_some() {
                e.message = format!("{}: {}", m.reason(), e.message);
            }
        }
        (e, missing)
    }

    fn program_error(&self, p: &ProgramPlan, message: String) -> ProgramLoadError {
        ProgramLoadError {
            object: self.obj().to_string(),
            program: p.name.clone(),
            section: p.section.clone(),
            errno: None,
            message,
            log: String::new(),
            log_truncated: false,
        }
    }

    #[allow(clippy::result_large_err)]
    fn load_program(&mut self, p: &ProgramPlan, btf: Option<BorrowedFd<'_>>, maps: &[LoadedMap]) -> Result<OwnedFd, ProgramLoadError> {
        // libbpf's wording for a section no program type matches.
        if p.prog_type == ProgType::UNSPEC {
            return Err(self.program_error(p, format!("missing BPF prog type, check ELF section name '{}'", p.section)));
        }
        if let Some(e) = &p.error {
            return Err(self.program_error(p, e.clone()));
        }
        let insns = self.final_insns(p, maps).map_err(|m| self.program_error(p, m))?;
        let fd_array: Vec<RawFd> = self
            .plan
            .fd_array
            .iter()
            .map(|s| match s {
                FdSlot::Unused => Ok(0),
                FdSlot::ModuleBtf(m) => self.module_fd(*m).map(|fd| fd.as_raw_fd()),
            })
            .collect::<std::result::Result<_, String>>()
            .map_err(|m| self.program_error(p, m))?;
        let license = CString::new(self.plan.license.as_str()).map_err(|_| self.program_error(p, "license contains a NUL byte".into()))?;
        let (func_info, line_info) = match btf {
            Some(_) if self.plan.features.btf_func => (func_info_bytes(p), line_info_bytes(p)),
            _ => (Vec::new(), Vec::new()),
        };
        let (attach_btf_id, attach_btf_obj_fd) = match p.attach_btf {
            Some(a) if p.attach_to_program => (a.btf_id, None),
            Some(a) => {
                let obj_fd = match a.owner {
                    bpfld_obj::BtfOwner::Vmlinux => None,
                    bpfld_obj::BtfOwner::Module(m) => Some(self.module_fd(m).map_err(|msg| self.program_error(p, msg))?),
                };
                (a.btf_id, obj_fd)
            }
            None => (0, None),
        };
        let attach_prog_fd = match p.attach_to_program {
            true => Some(
                self.attach_prog_fds
                    .get(&p.name)
                    .map(|fd| fd.as_fd())
                    .ok_or_else(|| self.program_error(p, "planned to attach to a BPF program, but no target program was given".into()))?,
            ),
            false => None,
        };
        let attr = ProgLoadAttr {
            prog_type: p.prog_type,
            expected_attach_type: p.expected_attach_type,
            insns: &insns,
            license: &license,
            log: LogOptions { level: self.opts.log_level, ..LogOptions::default() },
            kern_version: self.kernel_version,
            prog_flags: p.prog_flags,
            prog_name: self.object_name(&p.name),
            prog_btf_fd: if func_info.is_empty() && line_info.is_empty() { None } else { btf },
            func_info_rec_size: FUNC_INFO_REC_SIZE,
            func_info: &func_info,
            line_info_rec_size: LINE_INFO_REC_SIZE,
            line_info: &line_info,
            attach_btf_id,
            attach_btf_obj_fd,
            attach_prog_fd,
            fd_array: &fd_array,
            ..Default::default()
        };
        let t = Instant::now();
        let r = bpfld_sys::prog_load(&attr);
        self.time.prog_load += t.elapsed();
        let loaded = r.map_err(|e| {
            let truncated = e.log_truncated();
            let (sys, log) = e.into_parts();
            let log = fixup_verifier_log(&log, &p.poisoned).unwrap_or(log);
            ProgramLoadError {
                object: self.obj().to_string(),
                program: p.name.clone(),
                section: p.section.clone(),
                errno: sys.errno(),
                message: sys.to_string(),
                log,
                log_truncated: truncated,
            }
        })?;
        // As libbpf: keep `.rodata` alive with the program even if the
        // verifier folded every use of it into constants. Not fatal.
        let t = Instant::now();
        let bind = self.plan.features.prog_bind_map;
        for m in maps.iter().filter(|m| bind && m.spec.origin == MapOrigin::Rodata) {
            if let Err(e) = bpfld_sys::prog_bind_map(loaded.fd.as_fd(), m.fd.as_fd()) {
                self.warnings.push(format!("{}: program '{}': binding map '{}': {e}", self.obj(), p.name, m.spec.real_name));
            }
        }
        self.time.prog_load += t.elapsed();
        Ok(loaded.fd)
    }

    fn module_fd(&self, m: usize) -> std::result::Result<BorrowedFd<'_>, String> {
        self.module_fds.get(m).map(|f| f.as_fd()).ok_or_else(|| format!("module BTF #{m} has no fd (target built without module BTFs?)"))
    }

    /// The plan's instructions with map indexes replaced by map fds and
    /// module BTF slots by module BTF fds.
    fn final_insns(&self, p: &ProgramPlan, maps: &[LoadedMap]) -> std::result::Result<Vec<u8>, String> {
        let mut insns = p.insns.clone();
        for r in &p.map_refs {
            let m = maps.get(r.map).ok_or_else(|| format!("insn {}: map #{} does not exist", r.insn_idx, r.map))?;
            insns.get_mut(r.insn_idx).ok_or_else(|| format!("insn {}: out of range", r.insn_idx))?.set_imm(m.fd.as_raw_fd());
        }
        for r in &p.module_btf_refs {
            let fd = self.module_fd(r.module)?.as_raw_fd();
            insns.get_mut(r.insn_idx + 1).ok_or_else(|| format!("insn {}: ld_imm64 out of range", r.insn_idx))?.set_imm(fd);
        }
        Ok(insns.iter().flat_map(|i| i.0).collect())
    }

    /// Initial slots of prog arrays, once the programs exist (libbpf's
    /// `bpf_object_init_prog_arrays`). A slot whose program did not load
    /// stays empty when keeping going, and fails the load otherwise.
    fn fill_prog_arrays(&mut self, maps: &[LoadedMap], programs: &[LoadedProgram]) -> Result<()> {
        for m in maps.iter().filter(|m| m.spec.map_type == mt::PROG_ARRAY && !m.spec.init_slots.is_empty()) {
            let array = MapRef::new(m.fd.as_fd()).map_err(|e| Error::kernel(format!("{}: map '{}'", self.obj(), m.spec.real_name), e))?;
            for slot in &m.spec.init_slots {
                let ctx = format!("{}: map '{}': slot [{}] = program '{}'", self.obj(), m.spec.real_name, slot.index, slot.target);
                let Some(prog) = programs.iter().find(|p| p.plan.name == slot.target) else {
                    return Err(Error::NotFound { context: ctx, missing: Missing::ProgramInObject });
                };
                let Some(fd) = &prog.fd else {
                    if self.opts.keep_going {
                        self.warnings.push(format!("{ctx}: left empty, the program is not loaded"));
                        continue;
                    }
                    return Err(Error::Load { context: ctx, problem: LoadProblem::SlotProgramNotLoaded });
                };
                let fd = fd.as_raw_fd() as u32;
                array.update(&slot.index.to_ne_bytes(), &fd.to_ne_bytes(), 0).map_err(|e| Error::kernel(ctx, e))?;
            }
        }
        Ok(())
    }
}

/// The `max_entries` a map is created with: a perf event array's 0 means
/// one slot per possible CPU (libbpf's `map_set_def_max_entries`).
fn create_max_entries(spec: &MapSpec) -> bpfld_sys::Result<u32> {
    if spec.map_type == mt::PERF_EVENT_ARRAY && spec.max_entries == 0 {
        return Ok(bpfld_sys::possible_cpus()? as u32);
    }
    Ok(spec.max_entries)
}

/// `sizeof(struct bpf_func_info)` and `sizeof(struct bpf_line_info)`.
const FUNC_INFO_REC_SIZE: u32 = 8;
const LINE_INFO_REC_SIZE: u32 = 16;

fn func_info_bytes(p: &ProgramPlan) -> Vec<u8> {
    p.func_info.iter().flat_map(|f| [f.insn_off, f.type_id]).flat_map(u32::to_ne_bytes).collect()
}

fn line_info_bytes(p: &ProgramPlan) -> Vec<u8> {
    p.line_info.iter().flat_map(|l| [l.insn_off, l.file_name_off, l.line_off, l.line_col]).flat_map(u32::to_ne_bytes).collect()
}
