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

use bpfld_obj::plan::{plan, ExternReport, PlanOptions, PoisonKind};
use bpfld_obj::{Object, Target};

use crate::release_dir::load_target;

/// What offline prediction cannot know, printed with every check.
pub const OFFLINE_LIMITS: &[&str] = &[
    "a FUNC in BTF is not always a registered kfunc: the kernel may still reject the call (on kernels whose BTF has bpf_kfunc decl tags this is checked)",
    "the verifier's verdict (bounds, helpers allowed for the program type, kfunc flags) is not predicted: a planned program can still be rejected",
    "module kfuncs resolve only if the module is loaded on the machine; fd_array slot numbers follow module load order there",
];

/// Options of [`check`].
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    pub plan: PlanOptions,
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
}

/// The verdict for one program on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramVerdict {
    pub name: String,
    pub section: String,
    /// Planned without error (the verifier may still reject it).
    pub plannable: bool,
    pub error: Option<String>,
    /// Instructions that will fail verification if reached: what each
    /// stands for (a missing kfunc, a failed CO-RE relocation).
    pub poisoned: Vec<String>,
    pub insns: usize,
}

/// The verdict for one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    pub externs: Vec<ExternReport>,
    pub programs: Vec<ProgramVerdict>,
    /// kfuncs that resolved to a FUNC the kernel's BTF does not tag as a
    /// kfunc (only known where the BTF has `bpf_kfunc` decl tags).
    pub unregistered_kfuncs: Vec<String>,
    /// Every CO-RE relocation and what it gave on this kernel.
    pub core: Vec<CoreOutcome>,
}

/// One CO-RE relocation on one kernel, keyed so that the same relocation
/// can be compared across kernels.
#[derive(Debug, Clone, PartialEq, Eq)]
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
                    poisoned: pp
                        .poisoned
                        .iter()
                        .map(|x| match &x.kind {
                            PoisonKind::KfuncCall { name } => format!("insn {}: call of unresolved kfunc '{name}'", x.insn_idx),
                            PoisonKind::CoreRelo { spec } => format!("insn {}: failed CO-RE relocation {spec}", x.insn_idx),
                            PoisonKind::MapLoad { name } => format!("insn {}: map '{name}' not created", x.insn_idx),
                        })
                        .collect(),
                    insns: pp.insns.len(),
                })
                .collect();
            predict_kallsyms_all(&p, target, &mut v.programs);
            let autoload_ok = p.programs.iter().zip(&v.programs).filter(|(pp, _)| pp.autoload).all(|(_, pv)| pv.plannable);
            v.loads = autoload_ok;
            v.unregistered_kfuncs = unregistered_kfuncs(&p.externs, target);
            v.externs = p.externs;
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
            v.externs = e.externs;
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

/// Loads each target at `paths` and checks `obj` against it, in parallel;
/// `progress(done, total, name)` is called as targets finish. Verdicts come
/// back in the order of `paths`.
pub fn check(obj: &Object, paths: &[PathBuf], opts: &CheckOptions, progress: &(dyn Fn(usize, usize, &str) + Sync)) -> Vec<KernelVerdict> {
    let threads = if opts.threads > 0 { opts.threads } else { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) };
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<KernelVerdict>>> = Mutex::new(vec![None; paths.len()]);
    std::thread::scope(|s| {
        for _ in 0..threads.min(paths.len()).max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let verdict = match load_target(path) {
                    Ok(t) => check_target(obj, &t, path.clone(), opts),
                    Err(e) => KernelVerdict {
                        kernel: path.display().to_string(),
                        path: path.clone(),
                        loads: false,
                        error: Some(format!("cannot read the target: {e}")),
                        externs: Vec::new(),
                        programs: Vec::new(),
                        unregistered_kfuncs: Vec::new(),
                        core: Vec::new(),
                    },
                };
                let name = verdict.kernel.clone();
                results.lock().expect("no panics while holding the lock")[i] = Some(verdict);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1, paths.len(), &name);
            });
        }
    });
    results.into_inner().expect("workers done").into_iter().map(|v| v.expect("every target checked")).collect()
}
