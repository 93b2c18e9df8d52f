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
//! Layout: [`kernel`] names the packages and downloads them; the crate
//! `bpfld-boot` (shared with `bpfld check --boot`) unpacks them, orders
//! the insmods, writes the initramfs and boots the guests; [`host`] loads
//! on the host, [`predict`] runs `bpfld check`, [`compare`] and
//! [`limits`] judge, [`report`] prints.
#![forbid(unsafe_code)]

pub mod compare;
pub mod features;
pub mod host;
pub mod kernel;
pub mod limits;
pub mod outcome;
pub mod predict;
pub mod reference;
pub mod report;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bpfld_boot::modules::ModuleLoad;
use bpfld_boot::{Accel, BootError, BootKernel, GuestCommand, GuestPlan, GuestRun, Loader, Step};
use compare::{compare, Mismatch, ObjectRow, Verdict};
use features::{FeatureSet, FeatureTable};
use kernel::{KernelSpec, GUEST_MODULES};
use limits::{KernelInfo, KNOWN_LIMITS};
use outcome::{parse_load, Observed};
use predict::KernelBtf;

/// What to run.
#[derive(Debug, Clone)]
pub struct MatrixConfig {
    /// The release-built `bpfld` (copied into the guests, run on the host).
    pub bpfld: PathBuf,
    /// The libbpf 1.7 reference loader (`libbpf_load`, an example of
    /// crates/reference), run beside `bpfld` on every kernel.
    pub libbpf: Option<PathBuf>,
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
    /// Guests at once (one vCPU each).
    pub parallel: usize,
    /// Programs each guest runs once after the loads (the runtime feature
    /// probes are always run), their output in [`GuestRun::commands`].
    pub commands: Vec<GuestCommand>,
}

impl MatrixConfig {
    pub fn new(bpfld: PathBuf, objects_dir: PathBuf) -> MatrixConfig {
        MatrixConfig {
            bpfld,
            libbpf: None,
            objects_dir,
            cache: bpfld_testdata::cache_dir(),
            work: std::env::temp_dir().join(format!("bpfld-kernel-matrix-{}", std::process::id())),
            kernels: kernel::default_kernels(),
            host: true,
            timeout: bpfld_boot::DEFAULT_TIMEOUT,
            shared_btf: None,
            accel: Accel::detect(),
            parallel: bpfld_boot::default_parallel(),
            commands: Vec::new(),
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
    /// libbpf's loads of the same objects on the same kernel (empty
    /// without the reference loader).
    pub libbpf: BTreeMap<String, Observed>,
    /// Where bpfld and libbpf differ, by object file name.
    pub differences: BTreeMap<String, Vec<Mismatch>>,
    /// The kernel's features as its runtime probes found them and as
    /// derived offline from its BTF.
    pub features: Option<FeatureTable>,
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
            for (obj, ds) in &c.differences {
                for d in ds.iter().filter(|d| d.limit.is_none()) {
                    out.push(format!(
                        "{}: {} {}: bpfld '{}', libbpf '{}' ({})",
                        c.kernel.release,
                        compare::short_name(obj),
                        d.item,
                        d.predicted,
                        d.observed,
                        d.kind.describe()
                    ));
                }
            }
            for m in c.features.iter().flat_map(|t| &t.mismatches).filter(|m| m.listed.is_none()) {
                out.push(format!("{}: feature {}: probed {:?}, derived from BTF {:?}", c.kernel.release, m.feature, m.probed, m.derived));
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
    kernel: BootKernel,
    modules: Vec<ModuleLoad>,
    btf: KernelBtf,
    steps: Vec<Step>,
}

fn boot_error(what: &str, e: BootError) -> MatrixError {
    if e.is_unavailable() {
        MatrixError::Unavailable(e.to_string())
    } else {
        MatrixError::Failed(format!("{what}: {e}"))
    }
}

fn ready(cfg: &MatrixConfig, spec: &KernelSpec) -> Result<Ready, MatrixError> {
    let start = Instant::now();
    let (package, deb, cached) = spec.download(&cfg.cache).map_err(MatrixError::Unavailable)?;
    let mut steps = vec![Step { what: "download", cached, took: start.elapsed() }];
    let mut k = bpfld_boot::image::from_package(&deb, &cfg.cache).map_err(|e| boot_error(&package, e))?;
    steps.append(&mut k.steps);
    let start = Instant::now();
    let root = k.modules_root.as_deref().ok_or_else(|| MatrixError::Failed(format!("{package}: no modules")))?;
    let modules = bpfld_boot::modules::plan_modules(root, GUEST_MODULES).map_err(|e| boot_error(&k.release, e))?;
    steps.push(Step { what: "module order", cached: false, took: start.elapsed() });
    let (btf, step) = predict::kernel_btf(&cfg.bpfld, &k, &modules, cfg.shared_btf.as_deref())
        .map_err(|e| MatrixError::Failed(format!("{}: {e}", k.release)))?;
    steps.push(step);
    Ok(Ready { kernel: k, modules, btf, steps })
}

/// Runs the matrix.
pub fn run(cfg: &MatrixConfig) -> Result<MatrixReport, MatrixError> {
    let t0 = Instant::now();
    let mut phases = Vec::new();
    bpfld_boot::check_tools().map_err(|e| MatrixError::Unavailable(e.to_string()))?;
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
    let mut loaders = vec![Loader::bpfld(&cfg.bpfld)];
    if let Some(exe) = &cfg.libbpf {
        loaders.push(libbpf_loader(exe));
    }
    let mut commands = vec![features_command(&cfg.bpfld)];
    commands.extend(cfg.commands.iter().cloned());
    let mut jobs = Vec::new();
    for r in &kernels {
        let plan = GuestPlan { loaders: &loaders, objects: &objects, modules: &r.modules, commands: &commands };
        jobs.push(bpfld_boot::write_initramfs(&r.kernel, &plan, &cfg.work).map_err(|e| boot_error(&r.kernel.release, e))?);
    }
    phases.push(("build initramfs", start.elapsed()));

    // The guests, one 1-vCPU guest per core, and the host meanwhile.
    let start = Instant::now();
    let host_usable = cfg.host.then(bpfld_sys::bpf_usable);
    let (runs, host_side) = std::thread::scope(|s| {
        let guests = s.spawn(|| bpfld_boot::boot_all(&jobs, &cfg.accel, cfg.timeout, cfg.parallel, &|_, _| {}));
        let host_start = Instant::now();
        let host_side = match &host_usable {
            Some(Ok(())) => {
                let mut loads: Vec<BTreeMap<String, Observed>> = Vec::new();
                for l in &loaders {
                    loads.push(
                        objects
                            .iter()
                            .map(|o| (o.file_name().unwrap_or_default().to_string_lossy().into_owned(), host::load(l, o)))
                            .collect(),
                    );
                }
                let dir = host::target_dir(&cfg.work.join("host-target"));
                let probed = features::probe_host(&cfg.bpfld);
                Some((loads, dir, probed, host_start.elapsed()))
            }
            _ => None,
        };
        let runs: Vec<Result<GuestRun, BootError>> =
            guests.join().unwrap_or_else(|_| jobs.iter().map(|_| Err(BootError::Missing { tool: "qemu runner", package: "-" })).collect());
        (runs, host_side)
    });
    phases.push(("guests (parallel)", start.elapsed()));
    if let Some((_, _, _, took)) = &host_side {
        phases.push(("host loads (during the guests)", *took));
    }

    // Predictions: one `bpfld check` per object, every kernel at once.
    let start = Instant::now();
    let mut columns = Vec::new();
    let mut dirs = Vec::new();
    for (r, run) in kernels.iter().zip(&runs) {
        let config = r.kernel.config.as_ref().and_then(|c| std::fs::read_to_string(c).ok()).unwrap_or_default();
        let mut col = Column {
            kernel: KernelInfo {
                release: r.kernel.release.clone(),
                config,
                host: false,
                kallsyms: r.kernel.system_map.as_deref().is_some_and(predict::real_system_map),
            },
            how: format!("qemu {}", cfg.accel.name()),
            rows: Vec::new(),
            failures: Vec::new(),
            notes: Vec::new(),
            guest: None,
            modules: r.modules.clone(),
            prediction_from: r.btf.source.clone(),
            observed: BTreeMap::new(),
            libbpf: BTreeMap::new(),
            differences: BTreeMap::new(),
            features: None,
        };
        // The modules the guest really had; the planned ones if it never
        // got that far.
        let loaded: Vec<String> = match run {
            Ok(g) if !g.btf.is_empty() => g.btf.clone(),
            _ => r.modules.iter().map(|m| m.name.clone()).collect(),
        };
        let dir = cfg.work.join(&r.kernel.release).join("target");
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
            col.observed = observed(g, "bpfld");
            col.libbpf = observed(g, "libbpf");
            col.guest = Some(g.clone());
        }
        dirs.push(dir);
        columns.push(col);
    }
    let mut probed: Vec<Result<FeatureSet, String>> = runs.iter().map(guest_features).collect();
    if let Some((mut loads, dir, host_probed, _)) = host_side {
        probed.push(host_probed.map_err(|e| e.to_string()));
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
            libbpf: if loads.len() > 1 { loads.remove(1) } else { BTreeMap::new() },
            observed: loads.remove(0),
            differences: BTreeMap::new(),
            features: None,
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
    compare_features(&cfg.bpfld, &mut columns, &dirs, probed);
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
        compare_with_libbpf(col, cfg.libbpf.is_some());
        stale_limits(col);
    }
    let _ = std::fs::remove_dir_all(&cfg.work);
    Ok(MatrixReport {
        columns,
        prepare: kernels.iter().map(|r| (r.kernel.release.clone(), r.steps.clone())).collect(),
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
fn guest_checks(col: &mut Column, r: &Ready, run: &Result<GuestRun, BootError>, objects: &[PathBuf], timeout: Duration) {
    let g = match run {
        Ok(g) => g,
        Err(e) => {
            col.failures.push(format!("qemu: {e}"));
            return;
        }
    };
    let tail = || format!("console (last 40 lines):\n{}\nqemu stderr: {}", g.console_tail(40), g.qemu_stderr.trim());
    if g.timed_out {
        col.failures.push(format!("the guest hung: no power-off within {} s; {}", timeout.as_secs(), tail()));
        return;
    }
    if !g.complete {
        col.failures.push(format!("the guest stopped before its last result; {}", tail()));
    }
    if let Some(rel) = &g.release {
        if rel != &r.kernel.release {
            col.failures.push(format!("the guest runs {rel}, not {}", r.kernel.release));
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
            if g.load("bpfld", &file).is_none() {
                col.failures.push(format!("{file}: no load result in the console"));
            }
        }
    }
}

/// The runtime feature probes in the guest: `bpfld features --json`.
fn features_command(bpfld: &Path) -> GuestCommand {
    GuestCommand { name: "features".into(), exe: bpfld.to_path_buf(), args: vec!["features".into(), "--json".into()] }
}

/// What the guest's probes found.
fn guest_features(run: &Result<GuestRun, BootError>) -> Result<FeatureSet, String> {
    let g = run.as_ref().map_err(|e| format!("qemu: {e}"))?;
    let out = g.commands.get("features").ok_or("no `bpfld features` result in the console")?;
    if out.exit_code != Some(0) {
        return Err(format!("bpfld features: exit code {:?}: {}", out.exit_code, out.stderr.trim()));
    }
    let mut sets = features::parse(&out.stdout, "bpfld features (guest)").map_err(|e| e.to_string())?;
    sets.pop().ok_or_else(|| "bpfld features printed no kernel".into())
}

/// Each column's probed features against the ones derived offline from
/// its release directory (`dirs`, in the columns' order).
fn compare_features(bpfld: &Path, columns: &mut [Column], dirs: &[PathBuf], probed: Vec<Result<FeatureSet, String>>) {
    let derived = features::derive(bpfld, dirs);
    for ((col, probed), i) in columns.iter_mut().zip(probed).zip(0..) {
        let derived = match &derived {
            Ok(d) => d[i].clone(),
            Err(e) => {
                col.failures.push(format!("features derived from BTF: {e}"));
                continue;
            }
        };
        match probed {
            Ok(p) => {
                let table = FeatureTable::new(&col.kernel, p, derived);
                for id in features::stale(&col.kernel, &table) {
                    col.notes.push(format!("known feature difference {id} did not occur here"));
                }
                col.features = Some(table);
            }
            Err(e) => col.failures.push(format!("features probed: {e}")),
        }
    }
}

/// The reference loader in the guest: `libbpf_load OBJ`.
fn libbpf_loader(exe: &Path) -> Loader {
    Loader { name: "libbpf".into(), exe: exe.to_path_buf(), args: vec!["{obj}".into()] }
}

/// bpfld's loads against libbpf's, object by object.
fn compare_with_libbpf(col: &mut Column, expected: bool) {
    if !expected {
        return;
    }
    for (obj, ours) in &col.observed {
        match col.libbpf.get(obj) {
            Some(theirs) => {
                let d = reference::compare_reference(obj, &col.kernel, ours, theirs);
                if !d.is_empty() {
                    col.differences.insert(obj.clone(), d);
                }
            }
            None => col.failures.push(format!("{obj}: no libbpf result")),
        }
    }
}

/// One loader's results in a guest, parsed.
fn observed(g: &GuestRun, loader: &str) -> BTreeMap<String, Observed> {
    g.loads
        .get(loader)
        .map(|m| m.iter().map(|(obj, l)| (obj.clone(), parse_load(&l.stdout, &l.stderr, l.exit_code))).collect())
        .unwrap_or_default()
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
