//! The real-kernel test matrix: prediction meets reality.
//!
//! `bpfld check` predicts offline, from a kernel's BTF and config, what
//! loading an object will do there. This harness asks the kernels
//! themselves: it boots Debian's kernels under qemu with an initramfs that
//! runs `bpfld load --json` on every test object, does the same on the
//! host, and compares each result with the prediction made from that
//! kernel's package (see [`compare`]). Disagreements are failures unless
//! [`limits::KNOWN_LIMITS`] lists them with a reason.
//!
//! Layout: [`cache`] downloads and unpacks packages, [`modules`] orders
//! the insmods, [`initramfs`] writes the archive, [`guest`] boots it,
//! [`host`] loads on the host, [`predict`] runs `bpfld check`,
//! [`compare`] and [`limits`] judge, [`report`] prints.
#![forbid(unsafe_code)]

pub mod cache;
pub mod compare;
pub mod guest;
pub mod host;
pub mod initramfs;
pub mod kernel;
pub mod limits;
pub mod modules;
pub mod outcome;
pub mod predict;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use cache::{PrepareError, PreparedKernel, Step};
use compare::{compare, ObjectRow, Verdict};
use guest::{Accel, GuestRun};
use kernel::{KernelSpec, GUEST_MODULES};
use limits::{KernelInfo, KNOWN_LIMITS};
use modules::ModuleLoad;
use outcome::Observed;
use predict::KernelBtf;

/// What to run.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// The release-built `bpfld` (copied into the guests, run on the host).
    pub bpfld: PathBuf,
    /// The objects (`*.o`) to load: every file of this directory.
    pub objects_dir: PathBuf,
    /// Download cache (`${BPFLD_CACHE:-$HOME/.cache/bpfld}`).
    pub cache: PathBuf,
    /// Scratch space of this run (initramfs, prediction directories).
    pub work: PathBuf,
    pub kernels: Vec<KernelSpec>,
    /// Add the running kernel as a column.
    pub host: bool,
    /// Per guest, from qemu's start to its exit.
    pub timeout: Duration,
    /// The project's shared BTF blobs: the prediction's fallback when
    /// `bpfld` has no `btf extract`.
    pub shared_btf: Option<PathBuf>,
    pub accel: Accel,
}

impl MatrixConfig {
    pub fn new(bpfld: PathBuf, objects_dir: PathBuf) -> MatrixConfig {
        MatrixConfig {
            bpfld,
            objects_dir,
            cache: cache::default_cache_dir(),
            work: std::env::temp_dir().join(format!("bpfld-kernel-matrix-{}", std::process::id())),
            kernels: kernel::default_kernels(),
            host: true,
            timeout: Duration::from_secs(120),
            shared_btf: None,
            accel: Accel::detect(),
        }
    }
}

/// Why the matrix did not run to a verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatrixError {
    /// Something this machine lacks (qemu, busybox, the packages): skip.
    Unavailable(String),
    /// The harness itself failed.
    Failed(String),
}

impl std::fmt::Display for MatrixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatrixError::Unavailable(s) => write!(f, "unavailable: {s}"),
            MatrixError::Failed(s) => write!(f, "failed: {s}"),
        }
    }
}

/// One kernel of the matrix.
#[derive(Debug, Clone)]
pub struct Column {
    pub kernel: KernelInfo,
    /// "qemu tcg", "qemu kvm" or "host".
    pub how: String,
    pub rows: Vec<ObjectRow>,
    /// The column could not be judged fully: a hang, a module that did not
    /// load, an object without result.
    pub failures: Vec<String>,
    pub notes: Vec<String>,
    pub guest: Option<GuestRun>,
    /// The modules' insmod plan (guests).
    pub modules: Vec<ModuleLoad>,
    /// Where the prediction's BTF came from.
    pub prediction_from: String,
    /// Real loads, by object file name.
    pub observed: BTreeMap<String, Observed>,
}

impl Column {
    pub fn row(&self, object: &str) -> Option<&ObjectRow> {
        self.rows.iter().find(|r| compare::short_name(&r.object) == object)
    }

    /// Whether `bpfld load --json` reported externs here.
    pub fn load_reports_externs(&self) -> bool {
        self.observed.values().any(|o| o.externs.is_some())
    }
}

/// The whole matrix.
#[derive(Debug, Clone)]
pub struct MatrixReport {
    pub columns: Vec<Column>,
    /// Preparation steps per kernel release.
    pub prepare: Vec<(String, Vec<Step>)>,
    /// Phases of the run.
    pub phases: Vec<(&'static str, Duration)>,
    pub total: Duration,
    pub objects: usize,
    pub accel: Accel,
}

impl MatrixReport {
    /// Every failure: column failures and unexplained disagreements.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in &self.columns {
            for f in &c.failures {
                out.push(format!("{}: {f}", c.kernel.release));
            }
            for r in c.rows.iter().filter(|r| r.verdict() == Verdict::Unexplained) {
                for m in r.mismatches.iter().filter(|m| m.limit.is_none()) {
                    out.push(format!(
                        "{}: {} {}: predicted '{}', kernel '{}' ({})",
                        c.kernel.release,
                        compare::short_name(&r.object),
                        m.item,
                        m.predicted,
                        m.observed,
                        m.kind.describe()
                    ));
                }
            }
        }
        out
    }

    pub fn column(&self, release_prefix: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.kernel.release.starts_with(release_prefix))
    }

    pub fn host(&self) -> Option<&Column> {
        self.columns.iter().find(|c| c.kernel.host)
    }
}

fn have(cmd: &str, arg: &str) -> bool {
    Command::new(cmd).arg(arg).output().is_ok_and(|o| o.status.success())
}

/// The object files of the matrix, sorted.
pub fn list_objects(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "o"))
        .collect();
    v.sort();
    Ok(v)
}

/// A kernel ready to boot and predict for.
struct Ready {
    kernel: PreparedKernel,
    modules: Vec<ModuleLoad>,
    btf: KernelBtf,
    steps: Vec<Step>,
}

fn ready(cfg: &MatrixConfig, spec: &KernelSpec) -> Result<Ready, MatrixError> {
    let mut k = cache::prepare(spec, &cfg.cache).map_err(|e| match e {
        PrepareError::Unavailable(s) => MatrixError::Unavailable(s),
        PrepareError::Failed(s) => MatrixError::Failed(s),
    })?;
    let start = Instant::now();
    let modules =
        modules::plan_modules(&k.modules_root, GUEST_MODULES).map_err(|e| MatrixError::Failed(format!("{}: {e}", spec.release)))?;
    k.steps.push(Step { what: "module order", cached: false, took: start.elapsed() });
    let (btf, step) = predict::kernel_btf(&cfg.bpfld, &k, &modules, cfg.shared_btf.as_deref())
        .map_err(|e| MatrixError::Failed(format!("{}: {e}", spec.release)))?;
    k.steps.push(step);
    let steps = std::mem::take(&mut k.steps);
    Ok(Ready { kernel: k, modules, btf, steps })
}

/// Runs the matrix.
pub fn run(cfg: &MatrixConfig) -> Result<MatrixReport, MatrixError> {
    let t0 = Instant::now();
    let mut phases = Vec::new();
    if !have("qemu-system-x86_64", "--version") {
        return Err(MatrixError::Unavailable("qemu-system-x86_64 not found (Debian package qemu-system-x86)".into()));
    }
    if guest::find_busybox().is_none() {
        return Err(MatrixError::Unavailable("busybox not found (Debian package busybox-static)".into()));
    }
    if !cfg.bpfld.exists() {
        return Err(MatrixError::Failed(format!("{}: no such file (build it: cargo build --release -p bpfld-cli)", cfg.bpfld.display())));
    }
    let objects = list_objects(&cfg.objects_dir).map_err(MatrixError::Failed)?;
    std::fs::create_dir_all(&cfg.work).map_err(|e| MatrixError::Failed(format!("{}: {e}", cfg.work.display())))?;

    // Packages: downloaded, unpacked, decompressed, BTF cut out; in
    // parallel, each step cached.
    let start = Instant::now();
    let readies: Vec<Result<Ready, MatrixError>> = std::thread::scope(|s| {
        let hs: Vec<_> = cfg.kernels.iter().map(|spec| s.spawn(move || ready(cfg, spec))).collect();
        hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err(MatrixError::Failed("preparation panicked".into())))).collect()
    });
    let mut kernels = Vec::new();
    for r in readies {
        kernels.push(r?);
    }
    phases.push(("prepare kernels", start.elapsed()));

    // One initramfs per kernel.
    let start = Instant::now();
    let mut initrds = Vec::new();
    for r in &kernels {
        let dir = cfg.work.join(&r.kernel.spec.release);
        std::fs::create_dir_all(&dir).map_err(|e| MatrixError::Failed(format!("{}: {e}", dir.display())))?;
        let img = guest::build_initramfs(&cfg.bpfld, &r.kernel, &r.modules, &objects, &dir).map_err(MatrixError::Failed)?;
        let path = dir.join("initrd.cpio.gz");
        std::fs::write(&path, img).map_err(|e| MatrixError::Failed(format!("{}: {e}", path.display())))?;
        initrds.push(path);
    }
    phases.push(("build initramfs", start.elapsed()));

    // The guests, in parallel (one vCPU each), and the host meanwhile.
    let start = Instant::now();
    let host_usable = cfg.host.then(bpfld_sys::bpf_usable);
    let (runs, host_side) = std::thread::scope(|s| {
        let hs: Vec<_> = kernels
            .iter()
            .zip(&initrds)
            .map(|(r, initrd)| s.spawn(move || guest::boot(&r.kernel, initrd, &cfg.accel, cfg.timeout)))
            .collect();
        let host_start = Instant::now();
        let host_side = match &host_usable {
            Some(Ok(())) => {
                let loads: BTreeMap<String, Observed> = objects
                    .iter()
                    .map(|o| (o.file_name().unwrap_or_default().to_string_lossy().into_owned(), host::load(&cfg.bpfld, o)))
                    .collect();
                let dir = host::target_dir(&cfg.work.join("host-target"));
                Some((loads, dir, host_start.elapsed()))
            }
            _ => None,
        };
        let runs: Vec<Result<GuestRun, String>> =
            hs.into_iter().map(|h| h.join().unwrap_or_else(|_| Err("qemu runner panicked".into()))).collect();
        (runs, host_side)
    });
    phases.push(("guests (parallel)", start.elapsed()));
    if let Some((_, _, took)) = &host_side {
        phases.push(("host loads (during the guests)", *took));
    }

    // Predictions: one `bpfld check` per object, every kernel at once.
    let start = Instant::now();
    let mut columns = Vec::new();
    let mut dirs = Vec::new();
    for (r, run) in kernels.iter().zip(&runs) {
        let config = std::fs::read_to_string(&r.kernel.config).unwrap_or_default();
        let mut col = Column {
            kernel: KernelInfo {
                release: r.kernel.spec.release.clone(),
                config,
                host: false,
                kallsyms: predict::real_system_map(&r.kernel.system_map),
            },
            how: format!("qemu {}", cfg.accel.name()),
            rows: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            guest: None,
            modules: r.modules.clone(),
            prediction_from: r.btf.source.clone(),
            observed: BTreeMap::new(),
        };
        // The modules the guest really had; the planned ones if it never
        // got that far.
        let loaded: Vec<String> = match run {
            Ok(g) if !g.btf.is_empty() => g.btf.clone(),
            _ => r.modules.iter().map(|m| m.name.clone()).collect(),
        };
        let dir = cfg.work.join(&r.kernel.spec.release).join("target");
        match predict::guest_target_dir(&dir, &r.kernel, &r.btf, &loaded) {
            Ok(without) => {
                for m in without {
                    col.notes.push(format!("module {m} is loaded in the guest but has no BTF in the prediction"));
                }
            }
            Err(e) => col.failures.push(format!("prediction directory: {e}")),
        }
        guest_checks(&mut col, r, run, &objects, cfg.timeout);
        if let Ok(g) = run {
            col.observed = g.loads.clone();
            col.guest = Some(g.clone());
        }
        dirs.push(dir);
        columns.push(col);
    }
    if let Some((loads, dir, _)) = host_side {
        let release = host::release();
        let mut col = Column {
            kernel: KernelInfo { release: release.clone(), config: String::new(), host: true, kallsyms: false },
            how: "host".into(),
            rows: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            guest: None,
            modules: Vec::new(),
            prediction_from: "/sys/kernel/btf, /proc/config.gz, /proc/kallsyms".into(),
            observed: loads,
        };
        match dir {
            Ok(d) => {
                col.kernel.config = std::fs::read_to_string(d.join("config")).unwrap_or_default();
                col.kernel.kallsyms = d.join("kallsyms").exists();
                dirs.push(d);
                columns.push(col);
            }
            Err(e) => {
                col.failures.push(format!("host target directory: {e}"));
                dirs.push(cfg.work.join("host-target"));
                columns.push(col);
            }
        }
    } else if let Some(Err(e)) = &host_usable {
        eprintln!("kernel-matrix: host column skipped: bpf() not usable: {e}");
    }
    let names: Vec<String> = columns.iter().map(|c| c.kernel.release.clone()).collect();
    let all_preds = predict_all(&cfg.bpfld, &objects, &dirs, &names);
    for (obj, preds) in objects.iter().zip(all_preds) {
        let file = obj.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for (i, col) in columns.iter_mut().enumerate() {
            let preds = match &preds {
                Ok(p) => &p[i],
                Err(e) => {
                    col.failures.push(format!("{file}: no prediction: {e}"));
                    continue;
                }
            };
            let Some(obs) = col.observed.get(&file) else { continue };
            col.rows.push(compare(&file, &col.kernel, preds, obs));
        }
    }
    phases.push(("predict and compare", start.elapsed()));
    for col in &mut columns {
        stale_limits(col);
    }
    let _ = std::fs::remove_dir_all(&cfg.work);
    Ok(MatrixReport {
        columns,
        prepare: kernels.iter().map(|r| (r.kernel.spec.release.clone(), r.steps.clone())).collect(),
        phases,
        total: t0.elapsed(),
        objects: objects.len(),
        accel: cfg.accel.clone(),
    })
}

/// One object's predictions, one per kernel.
type Prediction = Result<Vec<outcome::Predicted>, String>;

/// `bpfld check` of every object, on every core.
fn predict_all(bpfld: &Path, objects: &[PathBuf], dirs: &[PathBuf], names: &[String]) -> Vec<Prediction> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Prediction>>> = Mutex::new(vec![None; objects.len()]);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(objects.len()).max(1);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(obj) = objects.get(i) else { break };
                let p = predict::check(bpfld, obj, dirs, names);
                out.lock().expect("no panic while locked")[i] = Some(p);
            });
        }
    });
    out.into_inner().expect("workers done").into_iter().map(|p| p.unwrap_or_else(|| Err("not checked".into()))).collect()
}

/// The guest's own health: it finished in time, booted the right kernel,
/// loaded every required module, and reported every object.
fn guest_checks(col: &mut Column, r: &Ready, run: &Result<GuestRun, String>, objects: &[PathBuf], timeout: Duration) {
    let g = match run {
        Ok(g) => g,
        Err(e) => {
            col.failures.push(format!("qemu: {e}"));
            return;
        }
    };
    let tail = || {
        let lines: Vec<&str> = g.console.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!("console (last {} lines):\n{}\nqemu stderr: {}", lines.len() - from, lines[from..].join("\n"), g.qemu_stderr.trim())
    };
    if g.timed_out {
        col.failures.push(format!("the guest hung: no power-off within {} s; {}", timeout.as_secs(), tail()));
        return;
    }
    if !g.complete {
        col.failures.push(format!("the guest stopped before its last result; {}", tail()));
    }
    if let Some(rel) = &g.release {
        if rel != &r.kernel.spec.release {
            col.failures.push(format!("the guest runs {rel}, not {}", r.kernel.spec.release));
        }
    }
    for m in &r.modules {
        match g.insmods.iter().find(|i| i.name == m.name) {
            Some(i) if i.rc != 0 && !m.optional => col.failures.push(format!("insmod {} ({}): {}", m.name, m.why, i.message)),
            Some(i) if i.rc != 0 => col.notes.push(format!("optional module {} did not load ({}): {}", m.name, m.why, i.message)),
            Some(_) => {}
            None if g.complete => col.failures.push(format!("no insmod result for {}", m.name)),
            None => {}
        }
    }
    if g.complete {
        for o in objects {
            let file = o.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if !g.loads.contains_key(&file) {
                col.failures.push(format!("{file}: no load result in the console"));
            }
        }
    }
}

/// Known limits that should have shown on this kernel but did not: the
/// prediction got better or the test object changed. A note, not a
/// failure: the table should be trimmed.
fn stale_limits(col: &mut Column) {
    for l in KNOWN_LIMITS {
        if !l.when.holds(&col.kernel) {
            continue;
        }
        let Some(row) = col.row(l.object) else { continue };
        if !row.mismatches.iter().any(|m| m.limit.is_some_and(|x| x.id == l.id)) {
            col.notes.push(format!("known limit {} ({}) did not occur here", l.id, l.object));
        }
    }
}
