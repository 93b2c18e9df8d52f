//! `bpfld load`: load every program of an object into the running kernel,
//! report what the kernel said about each, and unload (the process exits).
//! struct_ops maps (a TCP congestion control, a scheduler) are registered
//! too, as libbpf's skeleton auto-attach does, and unregistered when the
//! command exits.

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld::loader::LoadedMap;
use bpfld::{KernelFiles, Link, LoadOptions, LoadedObject, OpenObject, Program, ProgramState};
use clap::Args;

use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::PlanOptions;

use crate::plan_cmd::print_externs;
use crate::report::{print_document, ErrorReport, LoadReport, LoadedMapReport, LoadedProgramReport, MapReport, RegistrationReport};
use crate::CliResult;

#[derive(Args)]
pub struct LoadArgs {
    /// The BPF object (clang -target bpf output).
    pub obj: PathBuf,
    /// Print JSON instead of tables.
    #[arg(long)]
    pub json: bool,
    /// Also load programs whose section starts with '?'.
    #[arg(long)]
    pub all: bool,
    /// The kernel's .config (plain or gzip), instead of /proc/config.gz or
    /// /boot/config-<release>.
    #[arg(long, value_name = "PATH")]
    pub kconfig: Option<PathBuf>,
    /// A vmlinux BTF file for CO-RE relocations instead of the kernel's
    /// (libbpf's btf_custom_path), e.g. `bpfld btf min`'s output for a
    /// kernel built without BTF.
    #[arg(long, value_name = "FILE")]
    pub btf: Option<PathBuf>,
    /// Verifier log level of every load: 1 (instructions), 2 (every
    /// state), 4 (statistics) or a sum of them; 0 logs only failures.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=7))]
    pub log_level: u32,
    /// Fail unless at least one flavor of this kfunc (by essential name)
    /// resolves; may be repeated.
    #[arg(long = "require-flavor", value_name = "ESSENTIAL_NAME")]
    pub require_flavor: Vec<String>,
    /// Print the complete verifier log of programs that failed.
    #[arg(long, short)]
    pub verbose: bool,
    /// Directory of maps pinned by name (`__uint(pinning,
    /// LIBBPF_PIN_BY_NAME)`): a map pinned there is reused, a new one is
    /// pinned there and outlives the command. Default: /sys/fs/bpf.
    #[arg(long, value_name = "DIR")]
    pub pin_root: Option<PathBuf>,
}

/// Refuses arguments that name files or directories that are not there
/// (or not what they should be) before anything is loaded or created.
fn check_paths(a: &LoadArgs) -> Result<(), String> {
    if let Some(k) = &a.kconfig {
        std::fs::File::open(k).map_err(|e| format!("--kconfig {}: {e}", k.display()))?;
    }
    if let Some(b) = &a.btf {
        let bytes = std::fs::read(b).map_err(|e| format!("--btf {}: {e}", b.display()))?;
        bpfld_btf::Btf::from_vec(bytes).map_err(|e| format!("--btf {}: {e}", b.display()))?;
    }
    if let Some(root) = &a.pin_root {
        let not = |what: &str| format!("--pin-root {}: {what}", root.display());
        match std::fs::metadata(root) {
            Err(e) => return Err(not(&format!("{e} (the pin root must be an existing directory on a bpffs)"))),
            Ok(m) if !m.is_dir() => return Err(not("not a directory")),
            Ok(_) => {}
        }
        match bpfld_sys::fs_magic(root) {
            Ok(bpfld_sys::BPF_FS_MAGIC) => {}
            Ok(_) => return Err(not("not on a BPF file system (bpffs); mount one with 'mount -t bpf bpf DIR'")),
            Err(e) => return Err(not(&e.to_string())),
        }
    }
    Ok(())
}

/// What loading needs, said when the kernel answered EPERM: root, or
/// CAP_BPF and the capability each program type asks for.
fn permission_hint(loaded_types: &[bpfld_asm::types::ProgType]) -> String {
    use bpfld_asm::types::ProgType as pt;
    let mut caps: Vec<&str> = loaded_types
        .iter()
        .map(|&t| match t {
            pt::KPROBE | pt::TRACEPOINT | pt::PERF_EVENT | pt::RAW_TRACEPOINT | pt::RAW_TRACEPOINT_WRITABLE | pt::TRACING => "CAP_PERFMON",
            pt::SCHED_CLS
            | pt::SCHED_ACT
            | pt::XDP
            | pt::CGROUP_SKB
            | pt::CGROUP_SOCK
            | pt::CGROUP_SOCK_ADDR
            | pt::SOCK_OPS
            | pt::SK_SKB
            | pt::SK_MSG
            | pt::SK_LOOKUP
            | pt::SK_REUSEPORT
            | pt::FLOW_DISSECTOR
            | pt::LWT_IN
            | pt::LWT_OUT
            | pt::LWT_XMIT
            | pt::LWT_SEG6LOCAL
            | pt::NETFILTER
            | pt::CGROUP_SOCKOPT => "CAP_NET_ADMIN",
            pt::SOCKET_FILTER => "",
            _ => "CAP_SYS_ADMIN",
        })
        .filter(|c| !c.is_empty())
        .collect();
    caps.sort();
    caps.dedup();
    let extra = if caps.is_empty() { String::new() } else { format!(" + {}", caps.join(" + ")) };
    format!("loading needs root, or CAP_BPF{extra} for the program types of this object")
}

fn is_eperm(e: &bpfld::Error) -> bool {
    e.errno() == Some(libc_eperm())
}

/// `EPERM` (1 on every Linux architecture).
const fn libc_eperm() -> i32 {
    1
}

pub fn run(a: LoadArgs) -> CliResult {
    check_paths(&a)?;
    let opts = LoadOptions {
        keep_going: true,
        load_disabled: a.all,
        log_level: a.log_level,
        kernel_files: KernelFiles { kconfig: a.kconfig.clone(), vmlinux_btf: a.btf.clone() },
        plan: PlanOptions { required: RequiredGroups { essential_names: a.require_flavor.clone() }, ..Default::default() },
        pin_root: a.pin_root.clone(),
    };
    let open = OpenObject::open(&a.obj).map_err(|e| {
        let message = crate::name_by_path(&e.to_string(), &a.obj);
        if a.json {
            // Scripts read every outcome on stdout: a JSON error object too.
            print_document("load", &ErrorReport { object: a.obj.display().to_string(), error: message.clone(), externs: None });
        }
        message
    })?;
    let prog_types: Vec<bpfld_asm::types::ProgType> =
        open.object().programs.iter().filter_map(|p| p.def.as_ref().map(|d| d.prog_type())).collect();
    let loaded = match open.load_with(&opts) {
        Ok(l) => l,
        Err(e) => {
            let mut message = crate::name_by_path(&e.to_string(), &a.obj);
            if is_eperm(&e) {
                message = format!("{message}\n{}", permission_hint(&prog_types));
            }
            if a.json {
                let report = ErrorReport { object: a.obj.display().to_string(), error: e.to_string(), externs: Some(e.externs()) };
                print_document("load", &report);
            } else {
                print_externs(e.externs());
            }
            return Err(message);
        }
    };
    let all_loaded = loaded.programs().all(|p| !matches!(p.state(), ProgramState::Failed(_)));
    if loaded.programs().any(|p| p.error().is_some_and(|e| e.errno == Some(libc_eperm()))) {
        eprintln!("bpfld: {}: {}", a.obj.display(), permission_hint(&prog_types));
    }
    let (registered, _links) = register_struct_ops(&loaded);
    let all_registered = registered.iter().all(|r| r.error.is_none());
    if a.json {
        print_json(&loaded, &registered);
    } else {
        print_tables(&loaded, &registered, a.verbose);
    }
    // `_links` drop here: every struct_ops map is unregistered.
    Ok(if all_loaded && all_registered { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// How registering one struct_ops map went.
struct Registration {
    map: String,
    /// The kernel struct it implements (`tcp_congestion_ops`).
    kernel_struct: String,
    link: bool,
    error: Option<String>,
}

/// Registers every created struct_ops map; the registrations last as long
/// as the returned links (this process, here).
fn register_struct_ops(l: &LoadedObject) -> (Vec<Registration>, Vec<Link>) {
    let mut out = Vec::new();
    let mut links = Vec::new();
    for m in l.struct_ops_maps() {
        let Some(st) = &m.struct_ops else { continue };
        let mut r =
            Registration { map: m.spec.real_name.clone(), kernel_struct: st.plan.struct_name.clone(), link: st.plan.link, error: None };
        match l.attach_struct_ops(&m.spec.real_name) {
            Ok(link) => links.push(link),
            Err(e) => r.error = Some(e.to_string()),
        }
        out.push(r);
    }
    (out, links)
}

fn map_report(m: &LoadedMap) -> LoadedMapReport {
    LoadedMapReport { map: MapReport::of(&m.spec), pin_path: m.pin_path.as_ref().map(|p| p.display().to_string()), reused: m.reused }
}

fn program_report(p: &Program<'_>) -> LoadedProgramReport {
    LoadedProgramReport {
        name: p.name().to_string(),
        section: p.section().to_string(),
        prog_type: p.prog_type(),
        insns: p.insns().len(),
        loaded: p.is_loaded(),
        disabled: matches!(p.state(), ProgramState::Disabled),
        error: p.error().map(|e| e.to_string()),
        verifier_log: p.error().map(|e| e.log.clone()),
    }
}

fn registration_report(r: &Registration) -> RegistrationReport {
    RegistrationReport {
        map: r.map.clone(),
        kernel_struct: r.kernel_struct.clone(),
        link: r.link,
        registered: r.error.is_none(),
        error: r.error.clone(),
    }
}

fn print_json(l: &LoadedObject, registered: &[Registration]) {
    let report = LoadReport {
        object: l.name().to_string(),
        target: l.target().map(str::to_string),
        maps: l.loaded_maps().iter().map(map_report).collect(),
        programs: l.programs().map(|p| program_report(&p)).collect(),
        struct_ops: registered.iter().map(registration_report).collect(),
        externs: l.externs(),
        warnings: l.warnings().to_vec(),
    };
    print_document("load", &report);
}

fn print_tables(l: &LoadedObject, registered: &[Registration], verbose: bool) {
    match l.target() {
        Some(t) => println!("object {} (against {t})", l.name()),
        None => println!("object {}", l.name()),
    }
    if !l.externs().is_empty() {
        println!();
        print_externs(l.externs());
    }
    let maps = l.loaded_maps();
    println!("\nmaps created: {}", maps.len());
    if !maps.is_empty() {
        let w = maps.iter().map(|m| m.spec.name.len()).max().unwrap_or(4).max(4);
        println!("  {:<w$}  {:<14} {:>5} {:>7} {:>11}", "NAME", "TYPE", "KEY", "VALUE", "MAX_ENTRIES");
        for m in maps {
            let s = &m.spec;
            // The kernel's name, and the symbol or section when it differs.
            let mut full = if s.real_name != s.name { format!("  ({})", s.real_name) } else { String::new() };
            if let Some(p) = &m.pin_path {
                full.push_str(&format!("  {} {}", if m.reused { "reused pin" } else { "pinned at" }, p.display()));
            }
            println!("  {:<w$}  {:<14} {:>5} {:>7} {:>11}{full}", s.name, s.map_type, s.key_size, s.value_size, s.max_entries);
        }
    }
    let progs: Vec<_> = l.programs().collect();
    println!("\nprograms: {}", progs.len());
    if !progs.is_empty() {
        let wn = progs.iter().map(|p| p.name().len()).max().unwrap_or(4).max(4);
        let ws = progs.iter().map(|p| p.section().len()).max().unwrap_or(7).max(7);
        let wt = progs.iter().map(|p| p.prog_type().to_string().len()).max().unwrap_or(4).max(4);
        println!("  {:<wn$}  {:<ws$}  {:<wt$}  {:>5}  RESULT", "NAME", "SECTION", "TYPE", "INSNS");
        for p in &progs {
            let result = match p.state() {
                ProgramState::Loaded => "verified".to_string(),
                // libbpf 1.7's rule: a struct_ops program loads with the
                // struct_ops maps that point to it.
                ProgramState::Disabled if p.prog_type() == bpfld_asm::types::ProgType::STRUCT_OPS => {
                    "not loaded (no created struct_ops map points to it)".to_string()
                }
                ProgramState::Disabled => "not loaded ('?' section; --all loads it)".to_string(),
                ProgramState::Failed(e) => format!("error: {}", e.short_reason()),
            };
            println!("  {:<wn$}  {:<ws$}  {:<wt$}  {:>5}  {result}", p.name(), p.section(), p.prog_type(), p.insns().len());
        }
    }
    if !registered.is_empty() {
        println!("\nstruct_ops maps (registered until this command exits):");
        for r in registered {
            let how = if r.link { "BPF link" } else { "map update" };
            match &r.error {
                None => println!("  {}  struct {}  registered ({how})", r.map, r.kernel_struct),
                Some(e) => println!("  {}  struct {}  not registered: {e}", r.map, r.kernel_struct),
            }
        }
    }
    for p in &progs {
        if let Some(e) = p.error() {
            println!("\n{e}");
            if verbose && !e.log.is_empty() {
                println!("-- verifier log of '{}' --\n{}-- end of log --", p.name(), e.log);
            }
        }
    }
    for w in l.warnings() {
        println!("\nwarning: {w}");
    }
}
