//! The fleet check: the whole load pipeline (open, externs, CO-RE, link,
//! relocate) against each target, without loading anything.
//!
//! What this predicts is what bpfld (and libbpf, which resolves the same
//! way) will decide before the kernel is asked: which flavor of each kfunc
//! binds, which weak externs fall back to 0, which CO-RE relocations fail,
//! and whether the load is refused outright (a strong extern, an attach
//! target missing). What it cannot know offline is said in
//! [`OFFLINE_LIMITS`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use bpfld_btf::WantedNames;
use bpfld_obj::compat::Subject;
use bpfld_obj::plan::{plan, ExternReport, PlanOptions};
use bpfld_obj::{MissingFeature, Object, Target};
use serde::Serialize;

use crate::release_dir::{load_files_for, load_modules, load_without_modules, TargetFiles, TargetLoadError, TargetNeeds};

/// What offline prediction cannot know, printed with every check.
pub const OFFLINE_LIMITS: &[&str] = &[
    "a FUNC in BTF is not always a registered kfunc: the kernel may still reject the call (on kernels whose BTF has bpf_kfunc decl tags this is checked)",
    "the verifier's verdict (bounds, helpers allowed for the program type, kfunc flags) is not predicted: a planned program can still be rejected",
    "module kfuncs resolve only if the module is loaded on the machine; fd_array slot numbers follow module load order there",
];

/// Options of [`check`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// How each plan is made (required flavor groups, features).
    pub plan: PlanOptions,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Parse and index each target's whole BTF instead of a targeted view
    /// for the objects' names (same verdicts, several times slower; for
    /// comparisons).
    pub full_btf: bool,
}

/// The verdict for one program on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProgramVerdict {
    /// The program's name (its ELF symbol).
    pub name: String,
    /// Its ELF section.
    pub section: String,
    /// Planned without error (the verifier may still reject it).
    pub plannable: bool,
    /// Why it cannot be planned (or what the kernel lacks for it).
    pub error: Option<String>,
    /// Instructions that will fail verification if reached: what each
    /// stands for (a missing kfunc, a failed CO-RE relocation).
    pub poisoned: Vec<String>,
    /// Instructions in the plan (subprograms appended).
    pub insns: usize,
}

/// The verdict for one object on one kernel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KernelVerdict {
    /// The target's name (release).
    pub kernel: String,
    /// The path it was loaded from.
    pub path: PathBuf,
    /// The object would be handed to the kernel (every extern and attach
    /// target resolved, every autoloaded program planned).
    pub loads: bool,
    /// Why not, when the whole object fails (a strong extern, a target that
    /// cannot be read).
    pub error: Option<String>,
    /// Every extern, in the object's order.
    /// Each extern's outcome (the plan's report, serialized as is).
    pub externs: Vec<ExternReport>,
    /// Every program, in the object's order.
    pub programs: Vec<ProgramVerdict>,
    /// kfuncs that resolved to a FUNC the kernel's BTF does not tag as a
    /// kfunc (only known where the BTF has `bpf_kfunc` decl tags).
    pub unregistered_kfuncs: Vec<String>,
    /// Every CO-RE relocation and what it gave on this kernel.
    pub core: Vec<CoreOutcome>,
    /// What the kernel lacks for this object (a map, program or attach
    /// type, a helper, kfunc calls), with the release that brought it.
    pub missing: Vec<MissingVerdict>,
}

/// Something the kernel lacks for the object ([`MissingFeature`], as the
/// JSON schema has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingVerdict {
    /// The map or program that needs it (one of the two).
    pub map: Option<String>,
    /// The program that needs it.
    pub program: Option<String>,
    /// `BPF_MAP_TYPE_RINGBUF`, `helper bpf_snprintf()`, ...
    pub needed: String,
    /// The release that brought it (`5.8`), if known.
    pub needs_linux: Option<String>,
    /// The whole sentence: `map 'events': BPF_MAP_TYPE_RINGBUF needs Linux
    /// 5.8; this kernel is 5.4`.
    pub message: String,
}

impl From<&MissingFeature> for MissingVerdict {
    fn from(m: &MissingFeature) -> MissingVerdict {
        let (map, program) = match &m.subject {
            Subject::Map(n) => (Some(n.clone()), None),
            Subject::Program(n) => (None, Some(n.clone())),
        };
        MissingVerdict { map, program, needed: m.needed.to_string(), needs_linux: m.needs().map(|v| v.to_string()), message: m.to_string() }
    }
}

/// One CO-RE relocation on one kernel, keyed so that the same relocation
/// can be compared across kernels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoreOutcome {
    /// `function+insn kind`: the function's name, the instruction within
    /// it, the relocation kind.
    pub key: String,
    /// libbpf's rendering of the local access.
    pub spec: String,
    /// The value written (decimal), or `None` if the relocation failed.
    pub value: Option<u64>,
    /// Why it failed, and whether the instruction was poisoned.
    pub failure: Option<String>,
}

/// Checks `obj` against one loaded target.
pub fn check_target(obj: &Object, target: &Target, path: PathBuf, opts: &CheckOptions) -> KernelVerdict {
    let mut v = KernelVerdict {
        kernel: target.name.clone(),
        path,
        loads: false,
        error: None,
        externs: Vec::new(),
        programs: Vec::new(),
        unregistered_kfuncs: Vec::new(),
        core: Vec::new(),
        missing: Vec::new(),
    };
    match plan(obj, Some(target), &opts.plan) {
        Ok(p) => {
            v.programs = p
                .programs
                .iter()
                .map(|pp| ProgramVerdict {
                    name: pp.name.clone(),
                    section: pp.section.clone(),
                    plannable: pp.error.is_none(),
                    error: pp.error.clone(),
                    poisoned: pp.poisoned.iter().map(|x| format!("insn {}: {}", x.insn_idx, x.kind)).collect(),
                    insns: pp.insns.len(),
                })
                .collect();
            predict_kallsyms_all(&p, target, &mut v.programs);
            let autoload_ok = p.programs.iter().zip(&v.programs).filter(|(pp, _)| pp.autoload).all(|(_, pv)| pv.plannable);
            v.loads = autoload_ok;
            // A map the kernel cannot create fails the whole object.
            if let Some(m) = p.missing.iter().find(|m| matches!(m.subject, Subject::Map(_))) {
                v.loads = false;
                v.error = Some(m.to_string());
            }
            v.missing = p.missing.iter().map(MissingVerdict::from).collect();
            v.unregistered_kfuncs = unregistered_kfuncs(&p.externs, target);
            v.externs = p.externs.clone();
            v.core = p
                .core
                .relocations
                .iter()
                .map(|r| CoreOutcome {
                    key: format!("{}+{} {}", obj.programs[r.program].name, r.insn_idx, r.kind.name()),
                    spec: r.spec.clone(),
                    value: r.failure.is_none().then_some(r.new_value),
                    failure: r.failure.as_ref().map(|f| if r.poisoned() { format!("{f} (poisoned)") } else { f.to_string() }),
                })
                .collect();
        }
        Err(e) => {
            v.error = Some(e.error.to_string());
            v.externs = e.externs.clone();
        }
    }
    v
}

/// A typed ksym resolves through BTF, but the verifier then looks up the
/// variable's address in kallsyms, which lists data symbols only with
/// `CONFIG_KALLSYMS_ALL`: where the target's config says it is off, a
/// program loading a typed ksym will be refused, and the check says so.
fn predict_kallsyms_all(plan: &bpfld_obj::LoadPlan, target: &Target, programs: &mut [ProgramVerdict]) {
    use bpfld_asm::insn::pseudo;
    let Some(config) = &target.kconfig else { return };
    if config.get("CONFIG_KALLSYMS_ALL") == Some("y") {
        return;
    }
    let vars: Vec<(&str, u32)> = plan
        .externs
        .iter()
        .filter(|e| e.kind == "ksym" && e.resolved && e.target.as_deref() == Some("vmlinux"))
        .filter_map(|e| Some((e.name.as_str(), e.btf_id?)))
        .collect();
    for (pp, pv) in plan.programs.iter().zip(programs.iter_mut()) {
        let used =
            vars.iter().find(|(_, id)| pp.insns.iter().any(|i| i.is_ld_imm64() && i.src_reg() == pseudo::BTF_ID && i.imm() as u32 == *id));
        if let (Some((name, _)), true) = (used, pv.plannable) {
            pv.plannable = false;
            pv.error = Some(format!(
                "the verifier needs the address of '{name}' from kallsyms, which lists variables only with CONFIG_KALLSYMS_ALL \
                 (not set on this kernel)"
            ));
        }
    }
}

/// kfuncs resolved to FUNCs that the target's BTF, where it tags kfuncs at
/// all, does not tag with `bpf_kfunc`.
fn unregistered_kfuncs(externs: &[ExternReport], target: &Target) -> Vec<String> {
    use bpfld_btf::Kind;
    let btf = &target.vmlinux;
    let tags = btf.find("bpf_kfunc", Some(Kind::DeclTag));
    if tags.is_empty() {
        return Vec::new();
    }
    let tagged: std::collections::HashSet<u32> = tags.iter().filter_map(|&id| btf.type_by_id(id).ok().and_then(|t| t.type_ref())).collect();
    externs
        .iter()
        .filter(|e| e.kind == "kfunc" && e.resolved && e.target.as_deref() == Some("vmlinux"))
        .filter(|e| e.btf_id.is_some_and(|id| !tagged.contains(&id)))
        .map(|e| e.name.clone())
        .collect()
}

/// A verdict for a target that could not be read.
fn unreadable(files: &TargetFiles, error: &TargetLoadError) -> KernelVerdict {
    KernelVerdict {
        kernel: files.release.clone().unwrap_or_else(|| files.vmlinux.display().to_string()),
        path: files.vmlinux.clone(),
        loads: false,
        error: Some(format!("cannot read the target: {error}")),
        externs: Vec::new(),
        programs: Vec::new(),
        unregistered_kfuncs: Vec::new(),
        core: Vec::new(),
        missing: Vec::new(),
    }
}

/// What checking `objects` reads from a target: the names their plans look
/// up and the `bpf_kfunc` decl tags in its BTF; their `CONFIG_*` externs
/// `CONFIG_KALLSYMS_ALL` and the options the feature derivation reads
/// ([`KernelFeatures::CONFIG_OPTIONS`]) in its config.
///
/// [`KernelFeatures::CONFIG_OPTIONS`]: bpfld_obj::features::KernelFeatures::CONFIG_OPTIONS
pub fn target_needs(objects: &[Object]) -> TargetNeeds {
    let mut btf = WantedNames::new();
    btf.add("bpf_kfunc");
    let mut config = vec!["CONFIG_KALLSYMS_ALL".to_string()];
    config.extend(bpfld_obj::features::KernelFeatures::CONFIG_OPTIONS.map(String::from));
    for obj in objects {
        btf.union(&bpfld_obj::target_names(obj));
        config.extend(bpfld_obj::config_names(obj));
    }
    config.sort();
    config.dedup();
    TargetNeeds { btf, config }
}

/// Checks every object against one target, read once for all of them.
fn check_kernel(
    objects: &[Object],
    files: &TargetFiles,
    path: &std::path::Path,
    needs: Option<&TargetNeeds>,
    opts: &CheckOptions,
) -> Vec<KernelVerdict> {
    let checked = match needs {
        Some(_) => check_modules_on_demand(objects, files, path, needs, opts),
        None => load_files_for(files, needs).map(|t| objects.iter().map(|obj| check_target(obj, &t, path.to_path_buf(), opts)).collect()),
    };
    checked.unwrap_or_else(|e| objects.iter().map(|_| unreadable(files, &e)).collect())
}

/// Checks the objects against the target without its module BTFs; only
/// if a plan searched the modules (a name not in vmlinux, a named module)
/// are they read and every object checked again. A plan that searched no
/// module is the same whatever the modules are, so the verdicts are those
/// of a target read whole, and a release directory's thousands of module
/// BTFs are read only for objects that need one.
fn check_modules_on_demand(
    objects: &[Object],
    files: &TargetFiles,
    path: &std::path::Path,
    needs: Option<&TargetNeeds>,
    opts: &CheckOptions,
) -> Result<Vec<KernelVerdict>, TargetLoadError> {
    let mut t = load_without_modules(files, needs)?;
    let check_all = |t: &Target| objects.iter().map(|obj| check_target(obj, t, path.to_path_buf(), opts)).collect();
    let verdicts = check_all(&t);
    if !t.modules_were_searched() || files.modules_dir.is_none() {
        return Ok(verdicts);
    }
    load_modules(&mut t, files, needs)?;
    t.forget_module_searches();
    Ok(check_all(&t))
}

/// Checks every object against every target, in parallel over targets:
/// each target is read once for all objects and dropped when they are
/// checked, so memory does not grow with the number of targets.
/// `progress(done, total, name)` is called as targets finish. The result is
/// indexed `[target][object]`, in the order given.
pub fn check_matrix(
    objects: &[Object],
    targets: &[(PathBuf, TargetFiles)],
    opts: &CheckOptions,
    progress: &(dyn Fn(usize, usize, &str) + Sync),
) -> Vec<Vec<KernelVerdict>> {
    let threads = if opts.threads > 0 { opts.threads } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) };
    let needs = (!opts.full_btf).then(|| target_needs(objects));
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Vec<KernelVerdict>>> = Mutex::new(vec![Vec::new(); targets.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads.min(targets.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((path, files)) = targets.get(i) else { break };
                let verdicts = check_kernel(objects, files, path, needs.as_ref(), opts);
                let name = verdicts.first().map(|v| v.kernel.clone()).unwrap_or_default();
                results.lock().expect("no panics while holding the lock")[i] = verdicts;
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, targets.len(), &name);
            });
        }
    });
    results.into_inner().expect("workers done")
}

/// Checks one object against the targets at `paths` (see
/// [`check_matrix`]); a path that is not a target gives a verdict that says
/// so. Verdicts come back in the order of `paths`.
pub fn check(obj: &Object, paths: &[PathBuf], opts: &CheckOptions, progress: &(dyn Fn(usize, usize, &str) + Sync)) -> Vec<KernelVerdict> {
    let mut out: Vec<Option<KernelVerdict>> = vec![None; paths.len()];
    let mut targets = Vec::new();
    let mut at = Vec::new();
    for (i, p) in paths.iter().enumerate() {
        match TargetFiles::locate(p) {
            Ok(f) => {
                targets.push((p.clone(), f));
                at.push(i);
            }
            Err(e) => out[i] = Some(unreadable(&TargetFiles { vmlinux: p.clone(), ..Default::default() }, &TargetLoadError::Path(e))),
        }
    }
    let matrix = check_matrix(std::slice::from_ref(obj), &targets, opts, progress);
    for (i, mut row) in at.into_iter().zip(matrix) {
        out[i] = row.pop();
    }
    out.into_iter().map(|v| v.expect("every target checked")).collect()
}
