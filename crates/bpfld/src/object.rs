//! The user-facing object: open a file, adjust global variables, load into
//! the running kernel, then use maps, programs and globals by name.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bpfld_obj::plan::{ExternReport, LoadPlan, PlanOptions};
use bpfld_obj::{Object, Target};

use crate::error::{Error, GlobalProblem, MapProblem, Missing, Result};
use crate::globals::{self, GlobalVar};
use crate::kernel_target::{self, RunningKernel, TargetNeeds};
use crate::link::usdt::UsdtManager;
use crate::loader::{self, KernelTime, LoadOptions, Loaded, LoadedMap};
use crate::map::Map;
use crate::map_handle::MapHandle;
use crate::program::{Link, Program, ProgramHandle};

/// An opened object, not yet loaded: programs and maps are known, global
/// variables can still be changed.
#[derive(Debug, Clone)]
pub struct OpenObject {
    obj: Object,
    globals: Vec<GlobalVar>,
    /// The BPF programs that programs attach to ([`Self::set_attach_target`]):
    /// their BTF for the plan, their fds for the load.
    attach_targets: bpfld_obj::AttachPrograms,
    attach_prog_fds: loader::AttachProgramFds,
}

impl OpenObject {
    /// Reads and opens `path`, naming the object after the file as libbpf
    /// does (`dir/x.bpf.o` is `x`).
    pub fn open(path: impl AsRef<Path>) -> Result<OpenObject> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::File { path: path.into(), source })?;
        let name = bpfld_obj::object::object_name_from_path(&path.to_string_lossy());
        Self::from_bytes(&name, &bytes)
    }

    /// Opens an object held in memory; `name` prefixes its global data map
    /// names and its errors.
    pub fn from_bytes(name: &str, bytes: &[u8]) -> Result<OpenObject> {
        let obj = Object::parse(name, bytes)?;
        let globals = globals::global_vars(obj.btf.as_ref(), &obj.maps, obj.arena.as_ref());
        Ok(OpenObject { obj, globals, attach_targets: Default::default(), attach_prog_fds: Default::default() })
    }

    /// The parsed object (programs, maps, externs).
    pub fn object(&self) -> &Object {
        &self.obj
    }

    /// The object's name: the one given to [`from_bytes`](Self::from_bytes),
    /// or for [`open`](Self::open) the file name up to its first `.`, at most
    /// 15 characters (libbpf's rule; global data maps are named after it).
    pub fn name(&self) -> &str {
        &self.obj.name
    }

    /// Every named global variable.
    pub fn globals(&self) -> &[GlobalVar] {
        &self.globals
    }

    /// The initial value of a global variable (`name` or `section:name`).
    pub fn global(&self, name: &str) -> Result<Vec<u8>> {
        let g = globals::find(&self.globals, &self.obj.name, name)?;
        let data = match (&self.obj.arena, g.is_arena()) {
            (Some(a), true) => &a.data,
            _ => &self.obj.maps[g.map].data,
        };
        Ok(if data.is_empty() { vec![0; g.size] } else { data[g.offset..g.offset + g.size].to_vec() })
    }

    /// Changes a global variable's initial value; `value` must have the
    /// variable's size. This is how `const volatile` settings in `.rodata`
    /// are given before the verifier sees them.
    pub fn set_global(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let g = globals::find(&self.globals, &self.obj.name, name)?.clone();
        if value.len() != g.size {
            return Err(Error::Global {
                object: Some(self.obj.name.clone()),
                name: g.name,
                problem: GlobalProblem::Size { section: Some(g.section), size: g.size, given: value.len() },
            });
        }
        if let (Some(a), true) = (self.obj.arena.as_mut(), g.is_arena()) {
            a.data[g.offset..g.offset + g.size].copy_from_slice(value);
            return Ok(());
        }
        let map = &mut self.obj.maps[g.map];
        if map.data.is_empty() {
            // A `.bss` becomes real bytes once one of its variables is set.
            map.data = vec![0; map.value_size as usize];
        }
        map.data[g.offset..g.offset + g.size].copy_from_slice(value);
        Ok(())
    }

    /// Whether the program named `program` is loaded (libbpf's
    /// `bpf_program__set_autoload`): programs in `SEC("?...")` sections
    /// start off, the others on. A program that is off is not relocated
    /// (as in libbpf, its CO-RE relocations may fail harmlessly) and not
    /// loaded.
    pub fn set_autoload(&mut self, program: &str, on: bool) -> Result<()> {
        let p = self
            .obj
            .programs
            .iter_mut()
            .find(|p| !p.is_subprog && p.name == program)
            .ok_or_else(|| Error::NotFound { context: self.obj.name.clone(), missing: Missing::Program(program.to_string()) })?;
        p.autoload = on;
        Ok(())
    }

    fn struct_ops_mut(&mut self, map: &str) -> Result<&mut bpfld_obj::struct_ops::StructOpsMap> {
        let name = self.obj.name.clone();
        let missing = || Error::NotFound { context: name, missing: Missing::StructOpsMap(map.to_string()) };
        self.obj.struct_ops.iter_mut().find(|s| s.name == map).ok_or_else(missing)
    }

    /// Whether struct_ops map `map` is created (libbpf's
    /// `bpf_map__set_autocreate`): on, except in `SEC("?.struct_ops")`.
    /// A struct_ops program loads if a created map points to it, whatever
    /// its own autoload (libbpf 1.7's rule).
    pub fn set_struct_ops_autocreate(&mut self, map: &str, on: bool) -> Result<()> {
        self.struct_ops_mut(map)?.autocreate = on;
        Ok(())
    }

    /// Points function-pointer member `member` of struct_ops map `map` at
    /// program `program`, or at nothing (what libbpf users do through the
    /// skeleton's shadow struct). The plan checks that the program is a
    /// struct_ops program and that the kernel has the member.
    pub fn set_struct_ops_program(&mut self, map: &str, member: &str, program: Option<&str>) -> Result<()> {
        let obj_name = self.obj.name.clone();
        let prog = match program {
            Some(p) => Some(
                self.obj
                    .programs
                    .iter()
                    .position(|x| !x.is_subprog && x.name == p)
                    .ok_or_else(|| Error::NotFound { context: obj_name.clone(), missing: Missing::Program(p.to_string()) })?,
            ),
            None => None,
        };
        let btf = self.obj.btf.clone().ok_or_else(|| Error::NotFound { context: obj_name.clone(), missing: Missing::Btf })?;
        let err = |e| Error::StructOps { object: obj_name.clone(), map: map.to_string(), source: Box::new(e) };
        self.struct_ops_mut(map)?.set_program(&btf, member, prog).map_err(err)
    }

    /// Replaces the bytes of non-function member `member` of struct_ops map
    /// `map` (e.g. a congestion control's `name`); `value` must have the
    /// member's size.
    pub fn set_struct_ops_member(&mut self, map: &str, member: &str, value: &[u8]) -> Result<()> {
        let obj_name = self.obj.name.clone();
        let btf = self.obj.btf.clone().ok_or_else(|| Error::NotFound { context: obj_name.clone(), missing: Missing::Btf })?;
        let err = |e| Error::StructOps { object: obj_name.clone(), map: map.to_string(), source: Box::new(e) };
        self.struct_ops_mut(map)?.set_member_bytes(&btf, member, value).map_err(err)
    }

    /// What the object needs from the kernel it is loaded into.
    pub fn target_needs(&self) -> TargetNeeds {
        TargetNeeds::of(&self.obj)
    }

    /// Plans the load against `target` (pure: no system call).
    pub fn plan(&self, target: Option<&Target>) -> Result<LoadPlan> {
        self.plan_with(target, &PlanOptions::default())
    }

    /// [`Self::plan`] with options (required flavor groups).
    pub fn plan_with(&self, target: Option<&Target>, opts: &PlanOptions) -> Result<LoadPlan> {
        if self.attach_targets.is_empty() {
            return bpfld_obj::plan(&self.obj, target, opts).map_err(Error::from);
        }
        let mut opts = opts.clone();
        opts.attach_programs.extend(self.attach_targets.iter().map(|(k, v)| (k.clone(), v.clone())));
        bpfld_obj::plan(&self.obj, target, &opts).map_err(Error::from)
    }

    /// Sets the loaded BPF program `target` as the one `program` attaches
    /// to: the program whose global function an freplace program
    /// replaces, or which an fentry/fexit program traces. `func` is that
    /// function; `None`: the one the section names (`freplace/FUNC`).
    /// libbpf's `bpf_program__set_attach_target(prog, attach_prog_fd,
    /// func)`. The target's BTF is read from the kernel now; the plan finds
    /// the function in it, and the load passes `target` as
    /// `attach_prog_fd` (a duplicate of it is kept until then).
    pub fn set_attach_target(&mut self, program: &str, target: BorrowedFd<'_>, func: Option<&str>) -> Result<()> {
        if !self.obj.programs.iter().any(|p| !p.is_subprog && p.name == program) {
            return Err(Error::NotFound { context: self.obj.name.clone(), missing: Missing::ProgramToTarget(program.to_string()) });
        }
        let ctx = format!("program '{program}': attach target");
        let btf = crate::link::freplace::target_program_btf(target, &ctx)?;
        let fd = target.try_clone_to_owned().map_err(|e| Error::io(format!("{ctx}: duplicating the target program's fd"), e))?;
        let func = func.map(str::to_string);
        self.attach_targets.insert(program.to_string(), bpfld_obj::AttachProgram { btf: std::sync::Arc::new(btf), func });
        self.attach_prog_fds.insert(program.to_string(), std::sync::Arc::new(fd));
        Ok(())
    }

    /// Loads every program into the running kernel; the first failure
    /// fails the load (see [`OpenObject::load_with`]).
    pub fn load(self) -> Result<LoadedObject> {
        self.load_with(&LoadOptions::default())
    }

    /// Builds the running kernel's target (only the parts the object
    /// needs), plans, and loads.
    pub fn load_with(mut self, opts: &LoadOptions) -> Result<LoadedObject> {
        if opts.load_disabled {
            for p in self.obj.programs.iter_mut().filter(|p| !p.is_subprog) {
                p.autoload = true;
            }
        }
        let t0 = Instant::now();
        let needs = self.target_needs();
        let mut kernel = if needs.any() { Some(kernel_target::running_kernel(&needs, &opts.kernel_files)?) } else { None };
        if let (Some(k), Some(f)) = (kernel.as_mut(), opts.plan.features) {
            // libbpf answers LINUX_HAS_BPF_COOKIE with its feature probe:
            // features given for the plan answer it too.
            k.target.overrides.insert("LINUX_HAS_BPF_COOKIE".to_string(), u64::from(f.bpf_cookie));
        }
        let kernel_version = match &kernel {
            Some(k) => k.target.kernel_version,
            None => kernel_target::running_kernel_version(),
        };
        let target_time = t0.elapsed();
        let t1 = Instant::now();
        // Adapted to the running kernel even without a target (no BTF
        // needed from it): its features are probed once per process.
        let plan_opts = PlanOptions { features: opts.plan.features.or(Some(*crate::features())), ..opts.plan.clone() };
        let plan = self.plan_with(kernel.as_ref().map(|k| &k.target), &plan_opts)?;
        let plan_time = t1.elapsed();
        let t2 = Instant::now();
        let module_fds = kernel.as_ref().map(|k: &RunningKernel| k.module_fds.as_slice()).unwrap_or(&[]);
        let loaded = loader::load_plan_with_targets(&plan, module_fds, &self.attach_prog_fds, kernel_version, opts)?;
        let load_time = t2.elapsed();
        let usdt = UsdtManager::new(&loaded.maps, self.obj.btf.as_ref(), &plan.features)?;
        Ok(LoadedObject {
            name: self.obj.name,
            target: kernel.map(|k| k.target.name),
            externs: plan.externs,
            arena_data_off: plan.arena.as_ref().map_or(0, |a| a.data_off as usize),
            loaded,
            globals: self.globals,
            stats: LoadStats { target: target_time, plan: plan_time, load: load_time },
            usdt,
        })
    }
}

/// Where the time of [`OpenObject::load_with`] went.
#[derive(Debug, Clone, Copy, Default)]
pub struct LoadStats {
    /// Reading the running kernel's BTF, config, kallsyms.
    pub target: Duration,
    /// Planning (pure).
    pub plan: Duration,
    /// Handing the plan to the kernel, system calls included.
    pub load: Duration,
}

/// An object in the kernel: maps created, programs loaded (or their
/// errors, when loaded with `keep_going`). Dropping it closes every fd, which
/// unloads whatever no link, pin or other process holds.
#[derive(Debug)]
pub struct LoadedObject {
    name: String,
    target: Option<String>,
    externs: Vec<ExternReport>,
    /// Where the `__arena` variables are in the arena.
    arena_data_off: usize,
    loaded: Loaded,
    globals: Vec<GlobalVar>,
    stats: LoadStats,
    /// USDT support (spec layout and ids), for objects that include
    /// `usdt.bpf.h`.
    usdt: Option<Arc<UsdtManager>>,
}

impl LoadedObject {
    /// The object's name, as [`OpenObject::name`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The target the plan was made against (`running kernel 6.18.0`), if
    /// the object needed one.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// How each extern resolved.
    pub fn externs(&self) -> &[ExternReport] {
        &self.externs
    }

    /// Every created map, in the object's order.
    pub fn loaded_maps(&self) -> &[LoadedMap] {
        &self.loaded.maps
    }

    /// The map named `name` (its symbol, its section for global data, or
    /// the name the kernel knows).
    pub fn map(&self, name: &str) -> Result<Map<'_>> {
        let m = self
            .loaded
            .maps
            .iter()
            .find(|m| m.spec.real_name == name)
            .or_else(|| self.loaded.maps.iter().find(|m| m.spec.name == name))
            .ok_or_else(|| Error::NotFound { context: self.name.clone(), missing: Missing::Map(name.to_string()) })?;
        Map::new(m)
    }

    /// The map named `name` as an owned [`MapHandle`] (a new fd on the
    /// same map): it outlives this object and can move to another thread;
    /// convert it into a typed map with `try_into()`.
    pub fn take_map(&self, name: &str) -> Result<MapHandle> {
        self.map(name)?.to_handle()
    }

    /// The program named `name` as an owned [`ProgramHandle`] (a new fd on
    /// the same program), independent of this object.
    pub fn take_program(&self, name: &str) -> Result<ProgramHandle> {
        let p = self.program(name)?;
        let fd = p.fd()?.try_clone_to_owned().map_err(|e| Error::io(format!("program '{name}': duplicating its fd"), e))?;
        Ok(ProgramHandle::new(fd, p.name(), p.prog_type()))
    }

    /// Registers struct_ops map `name` (see [`Map::attach_struct_ops`]);
    /// the registration lasts as long as the returned [`Link`], even after
    /// this object is dropped.
    pub fn attach_struct_ops(&self, name: &str) -> Result<Link> {
        self.map(name)?.attach_struct_ops()
    }

    /// The created struct_ops maps, in the object's order.
    pub fn struct_ops_maps(&self) -> impl Iterator<Item = &LoadedMap> {
        self.loaded.maps.iter().filter(|m| m.struct_ops.is_some())
    }

    /// Removes the pin of every map pinned by name (libbpf's
    /// `bpf_object__unpin_maps(obj, NULL)`), reused ones included: the
    /// maps live on while this object or anyone else holds them. Stops at
    /// the first pin that cannot be removed.
    pub fn unpin_maps(&self) -> Result<()> {
        for m in &self.loaded.maps {
            if let Some(path) = &m.pin_path {
                crate::pin::unpin_path(path, &format!("{}: map '{}'", self.name, m.spec.real_name))?;
            }
        }
        Ok(())
    }

    /// Every program, loaded or not, in the object's order.
    pub fn programs(&self) -> impl Iterator<Item = Program<'_>> {
        self.loaded.programs.iter().map(|p| Program::new(p, self.usdt.as_ref()))
    }

    /// The program named `name` (its ELF symbol); a usage error if the
    /// object has none.
    pub fn program(&self, name: &str) -> Result<Program<'_>> {
        let missing = || Error::NotFound { context: self.name.clone(), missing: Missing::Program(name.to_string()) };
        self.programs().find(|p| p.name() == name).ok_or_else(missing)
    }

    /// The fd of the object's BTF in the kernel, if the kernel took it.
    pub fn btf_fd(&self) -> Option<BorrowedFd<'_>> {
        self.loaded.btf_fd.as_ref().map(|f| f.as_fd())
    }

    /// Problems that did not stop the load.
    pub fn warnings(&self) -> &[String] {
        &self.loaded.warnings
    }

    /// How long the target, the plan and the load took.
    pub fn stats(&self) -> LoadStats {
        self.stats
    }

    /// Time spent in system calls during the load.
    pub fn kernel_time(&self) -> KernelTime {
        self.loaded.kernel_time
    }

    /// How many USDT spec ids the attachments of this object hold (each
    /// gives its ids back when detached).
    pub fn usdt_spec_ids_in_use(&self) -> usize {
        self.usdt.as_ref().map_or(0, |u| u.spec_ids_in_use())
    }

    /// Every named global variable (where it is in which map).
    pub fn globals(&self) -> &[GlobalVar] {
        &self.globals
    }

    fn global_var(&self, name: &str) -> Result<(&GlobalVar, &LoadedMap)> {
        let g = globals::find(&self.globals, &self.name, name)?;
        Ok((g, &self.loaded.maps[g.map]))
    }

    /// The mapping of the object's arena map (`BPF_MAP_TYPE_ARENA`), which
    /// holds its `__arena` variables; `None` without one (or when the arena
    /// was reused from a pin, which this load did not map).
    pub fn arena(&self) -> Option<&bpfld_sys::ArenaMapping> {
        self.loaded.maps.iter().find_map(|m| m.arena.as_ref())
    }

    /// [`Self::arena`], writable.
    pub fn arena_mut(&mut self) -> Option<&mut bpfld_sys::ArenaMapping> {
        self.loaded.maps.iter_mut().find_map(|m| m.arena.as_mut())
    }

    /// Offset in the arena of `__arena` variable `g`.
    fn arena_offset(&self, g: &GlobalVar) -> usize {
        self.arena_data_off + g.offset
    }

    fn arena_missing(&self, g: &GlobalVar) -> Error {
        Error::Global { object: Some(self.name.clone()), name: g.name.clone(), problem: GlobalProblem::ArenaNotMapped }
    }

    /// The current value of a global variable, read through the map's
    /// mapping (or a lookup for maps that are not mmapable); `__arena`
    /// variables through the arena's mapping.
    pub fn read_global(&self, name: &str) -> Result<Vec<u8>> {
        let (g, m) = self.global_var(name)?;
        if g.is_arena() {
            let arena = m.arena.as_ref().ok_or_else(|| self.arena_missing(g))?;
            let mut v = vec![0; g.size];
            arena.read(self.arena_offset(g), &mut v).map_err(|e| Error::kernel(format!("{}: reading '{}'", self.name, g.name), e))?;
            return Ok(v);
        }
        let value = match &m.mmap {
            Some(mm) => mm.as_slice()[g.offset..g.offset + g.size].to_vec(),
            None => {
                let no_element = || Error::Map { map: m.spec.real_name.clone(), problem: MapProblem::NoElement0 };
                let v = Map::new(m)?.lookup_u32(0)?.ok_or_else(no_element)?;
                v[g.offset..g.offset + g.size].to_vec()
            }
        };
        Ok(value)
    }

    /// [`Self::read_global`] of an 8-byte (or shorter, zero-extended)
    /// variable.
    pub fn read_global_u64(&self, name: &str) -> Result<u64> {
        let v = self.read_global(name)?;
        let mut b = [0u8; 8];
        let n = v.len().min(8);
        b[..n].copy_from_slice(&v[..n]);
        Ok(u64::from_ne_bytes(b))
    }

    /// Writes a global variable through the mapping of a writable
    /// (`.data`, `.bss`) map; `.rodata` is frozen and refuses.
    pub fn write_global(&mut self, name: &str, value: &[u8]) -> Result<()> {
        let g = globals::find(&self.globals, &self.name, name)?.clone();
        if value.len() != g.size {
            let problem = GlobalProblem::Size { section: None, size: g.size, given: value.len() };
            return Err(Error::Global { object: None, name: g.name, problem });
        }
        if g.is_arena() {
            let (off, missing) = (self.arena_offset(&g), self.arena_missing(&g));
            let arena = self.loaded.maps[g.map].arena.as_mut().ok_or(missing)?;
            return arena.write(off, value).map_err(|e| Error::kernel(format!("{}: writing '{}'", self.name, g.name), e));
        }
        let m = &mut self.loaded.maps[g.map];
        let read_only =
            || Error::Global { object: None, name: g.name.clone(), problem: GlobalProblem::ReadOnly { section: g.section.clone() } };
        match m.mmap.as_mut() {
            Some(mm) => mm.as_mut_slice().ok_or_else(read_only)?[g.offset..g.offset + g.size].copy_from_slice(value),
            None => {
                if m.spec.is_rodata() {
                    return Err(read_only());
                }
                let map = Map::new(m)?;
                let mut v = map.lookup_u32(0)?.ok_or_else(read_only)?;
                v[g.offset..g.offset + g.size].copy_from_slice(value);
                map.update_u32(0, &v)?;
            }
        }
        Ok(())
    }
}
