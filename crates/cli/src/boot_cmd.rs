//! `bpfld check --boot`: the real verifier on demand. Each kernel given to
//! `-k` that can be booted (a Debian kernel package, a release directory
//! extracted from one, a `vmlinux`/`bzImage`) is booted under qemu with
//! every object, loaded there by this very `bpfld`; the verdict of each
//! program is printed beside the offline prediction. The machinery is the
//! crate `bpfld-boot`, which the kernel matrix runs on too.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfld_boot::modules::{plan_modules, ModuleLoad};
use bpfld_boot::{Accel, BootError, BootKernel, GuestPlan, GuestRun, LoadVerdict, Loader};
use bpfld_fleet::check::KernelVerdict;
use serde::Serialize;
use serde_json::Value;

/// The kernels to boot, made ready before the offline check runs.
pub struct BootSetup {
    kernels: Vec<Ready>,
    accel: Accel,
}

struct Ready {
    /// The `-k` argument.
    arg: PathBuf,
    kernel: BootKernel,
    modules: Vec<ModuleLoad>,
    took: Duration,
}

/// Makes every `-k` kernel bootable and replaces it, for the offline
/// check, with the release directory cut from the same files.
pub fn prepare(kernels: &mut [PathBuf], modules: &[String]) -> Result<BootSetup, String> {
    bpfld_boot::check_tools().map_err(|e| format!("--boot: {e}"))?;
    let cache = bpfld_boot::default_cache_dir();
    let start = Instant::now();
    let prepared = bpfld_boot::prepare_all(kernels, &cache);
    let mut ready = Vec::new();
    for (arg, k) in kernels.iter_mut().zip(prepared) {
        let k = k.map_err(|e| format!("-k {}: {e}", arg.display()))?;
        let wanted: Vec<&str> = modules.iter().map(String::as_str).collect();
        let mods = match (&k.modules_root, wanted.is_empty()) {
            (_, true) => Vec::new(),
            (Some(root), false) => plan_modules(root, &wanted).map_err(|e| format!("-k {}: {e}", arg.display()))?,
            (None, false) => return Err(format!("-k {}: --boot-module given, but this kernel has no modules here", arg.display())),
        };
        let target = if arg.is_dir() { arg.clone() } else { offline(&k, &mods, arg)? };
        ready.push(Ready { arg: std::mem::replace(arg, target), kernel: k, modules: mods, took: start.elapsed() });
    }
    Ok(BootSetup { kernels: ready, accel: Accel::detect() })
}

fn offline(k: &BootKernel, modules: &[ModuleLoad], arg: &Path) -> Result<PathBuf, String> {
    bpfld_boot::target::offline_target(k, modules).map_err(|e| format!("-k {}: {e}", arg.display()))
}

/// One kernel's boot, judged.
struct Booted<'a> {
    ready: &'a Ready,
    run: Result<GuestRun, BootError>,
}

impl Booted<'_> {
    fn verdict(&self, object: &Path) -> Option<LoadVerdict> {
        let name = object.file_name()?.to_str()?;
        let g = self.run.as_ref().ok()?;
        g.load("bpfld", name).map(LoadVerdict::parse)
    }

    /// Why there are no verdicts (a guest that failed), if so.
    fn failure(&self) -> Option<String> {
        match &self.run {
            Err(e) => Some(e.to_string()),
            Ok(g) if g.timed_out => Some(format!("the guest hung; console:\n{}", g.console_tail(20))),
            Ok(g) if !g.complete => Some(format!("the guest stopped early; console:\n{}", g.console_tail(20))),
            Ok(g) => g.insmods.iter().find(|i| i.rc != 0 && !i.optional).map(|i| format!("insmod {} failed: {}", i.name, i.message)),
        }
    }
}

/// Boots every kernel (one 1-vCPU guest per core at once), loads every
/// object there and prints the verdicts beside `verdicts` (indexed
/// `[kernel][object]`, in `-k` order). Returns whether every object loaded
/// everywhere for real.
pub fn run(setup: BootSetup, objects: &[PathBuf], verdicts: &[Vec<KernelVerdict>], check_json: Option<Value>) -> Result<bool, String> {
    let bpfld = std::env::current_exe().map_err(|e| format!("--boot: the bpfld executable: {e}"))?;
    let loaders = [Loader::bpfld(&bpfld)];
    let scratch = std::env::temp_dir().join(format!("bpfld-boot-{}", std::process::id()));
    let mut jobs = Vec::new();
    for r in &setup.kernels {
        let plan = GuestPlan { loaders: &loaders, objects, modules: &r.modules, commands: &[] };
        jobs.push(bpfld_boot::write_initramfs(&r.kernel, &plan, &scratch).map_err(|e| format!("-k {}: {e}", r.arg.display()))?);
    }
    let quiet = check_json.is_some();
    let runs = bpfld_boot::boot_all(&jobs, &setup.accel, bpfld_boot::DEFAULT_TIMEOUT, bpfld_boot::default_parallel(), &|job, run| {
        if !quiet {
            let took = run.as_ref().map(|g| format!("{:.1} s", g.wall.as_secs_f64())).unwrap_or_else(|e| e.to_string());
            eprintln!("booted {}: {took}", job.kernel.release);
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    let booted: Vec<Booted> = setup.kernels.iter().zip(runs).map(|(ready, run)| Booted { ready, run }).collect();
    let all = booted.iter().all(|b| b.failure().is_none())
        && objects.iter().all(|o| booted.iter().all(|b| b.verdict(o).is_some_and(|v| v.loads())));
    match check_json {
        Some(check) => {
            let boot = boot_report(&booted, objects, verdicts, &setup.accel);
            crate::report::print_document("check-boot", &CheckBootReport { check, boot });
        }
        None => print_text(&booted, objects, verdicts, &setup.accel),
    }
    Ok(all)
}

/// "planned", "not plannable: ...", "refused: ..." from the offline check.
fn predicted(v: Option<&KernelVerdict>, program: &str) -> String {
    let Some(v) = v else { return "?".into() };
    if let Some(e) = &v.error {
        return format!("refused: {e}");
    }
    match v.programs.iter().find(|p| p.name == program) {
        Some(p) if p.plannable => "planned".into(),
        Some(p) => format!("not plannable: {}", p.error.as_deref().unwrap_or("?")),
        None => "?".into(),
    }
}

/// Programs of an object, from the load, else from the prediction.
fn program_names(load: Option<&LoadVerdict>, pred: Option<&KernelVerdict>) -> Vec<String> {
    match load {
        Some(l) if l.refused.is_none() => l.programs.iter().filter(|p| !p.disabled).map(|p| p.name.clone()).collect(),
        _ => pred.map(|v| v.programs.iter().map(|p| p.name.clone()).collect()).unwrap_or_default(),
    }
}

fn real_cell(load: Option<&LoadVerdict>, program: &str) -> (String, Vec<String>) {
    let Some(l) = load else { return ("no result".into(), Vec::new()) };
    if let Some(why) = &l.refused {
        return (format!("refused: {}", why.lines().next().unwrap_or("")), Vec::new());
    }
    match l.programs.iter().find(|p| p.name == program) {
        Some(p) if p.loaded => ("loaded".into(), Vec::new()),
        Some(p) => (format!("REJECTED: {}", p.error.as_deref().unwrap_or("?").lines().next().unwrap_or("")), p.log_tail.clone()),
        None => ("no such program".into(), Vec::new()),
    }
}

fn agrees(pred: &str, real: &str) -> bool {
    (pred == "planned") == (real == "loaded")
}

fn print_text(booted: &[Booted], objects: &[PathBuf], verdicts: &[Vec<KernelVerdict>], accel: &Accel) {
    println!("\nbooted under qemu ({}), loaded with this bpfld:", accel.name());
    for (i, b) in booted.iter().enumerate() {
        let wall = b.run.as_ref().map(|g| format!("{:.1} s", g.wall.as_secs_f64())).unwrap_or_else(|_| "-".into());
        println!(
            "\n== {} ({}): ready {:.1} s after start, guest {wall}",
            b.ready.kernel.release,
            b.ready.arg.display(),
            b.ready.took.as_secs_f64()
        );
        if let Some(f) = b.failure() {
            println!("  FAILED: {f}");
            continue;
        }
        for (j, o) in objects.iter().enumerate() {
            let pred = verdicts.get(i).and_then(|k| k.get(j));
            let load = b.verdict(o);
            println!("  {}:", o.display());
            for p in program_names(load.as_ref(), pred) {
                let pc = predicted(pred, &p);
                let (rc, log) = real_cell(load.as_ref(), &p);
                let mark = if agrees(&pc, &rc) { " " } else { "*" };
                println!("   {mark} {p:<28} predicted {pc:<12} verifier {rc}");
                for l in log {
                    println!("        | {l}");
                }
            }
            if let Some(why) = load.as_ref().and_then(|l| l.refused.as_ref()).filter(|_| pred.is_some_and(|v| v.error.is_none())) {
                println!("   * object refused for real: {why}");
            }
        }
    }
    println!("\n'*': the verifier's verdict differs from the offline prediction (see docs/kernel-matrix.md for what a check cannot know)");
}

/// `bpfld check --boot --json`: the check report and what each booted
/// kernel's verifier said (docs/check-json.md).
#[derive(Serialize)]
struct CheckBootReport {
    check: Value,
    boot: BootReport,
}

#[derive(Serialize)]
struct BootReport {
    kernels: Vec<BootKernelReport>,
}

/// One booted kernel.
#[derive(Serialize)]
struct BootKernelReport {
    /// The `-k` argument.
    kernel: String,
    /// `uname -r` of the guest.
    release: String,
    accel: &'static str,
    /// Wall time of the guest (none if qemu did not start).
    guest_seconds: Option<f64>,
    /// Why this kernel has no verdicts.
    error: Option<String>,
    objects: Vec<BootObjectReport>,
}

/// One object in one guest.
#[derive(Serialize)]
struct BootObjectReport {
    object: String,
    /// The loader's error when the whole object was refused.
    refused: Option<String>,
    loads: bool,
    programs: Vec<BootProgramReport>,
}

/// One program's prediction beside the guest's verifier.
#[derive(Serialize)]
struct BootProgramReport {
    name: String,
    predicted: String,
    loaded: bool,
    verifier: String,
    log_tail: Vec<String>,
}

fn boot_report(booted: &[Booted], objects: &[PathBuf], verdicts: &[Vec<KernelVerdict>], accel: &Accel) -> BootReport {
    let kernels = booted
        .iter()
        .enumerate()
        .map(|(i, b)| BootKernelReport {
            kernel: b.ready.arg.display().to_string(),
            release: b.ready.kernel.release.clone(),
            accel: accel.name(),
            guest_seconds: b.run.as_ref().ok().map(|g| g.wall.as_secs_f64()),
            error: b.failure(),
            objects: objects.iter().enumerate().map(|(j, o)| object_report(b, o, verdicts.get(i).and_then(|k| k.get(j)))).collect(),
        })
        .collect();
    BootReport { kernels }
}

fn object_report(b: &Booted, object: &Path, pred: Option<&KernelVerdict>) -> BootObjectReport {
    let load = b.verdict(object);
    let programs = program_names(load.as_ref(), pred)
        .into_iter()
        .map(|name| {
            let (verifier, log_tail) = real_cell(load.as_ref(), &name);
            BootProgramReport { predicted: predicted(pred, &name), loaded: verifier == "loaded", verifier, log_tail, name }
        })
        .collect();
    BootObjectReport {
        object: object.display().to_string(),
        refused: load.as_ref().and_then(|l| l.refused.clone()),
        loads: load.as_ref().is_some_and(LoadVerdict::loads),
        programs,
    }
}
