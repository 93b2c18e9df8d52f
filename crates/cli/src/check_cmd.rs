//! `bpfld check`: will these objects load on these kernels, and which
//! flavor of each kfunc will bind? Offline, every object against every
//! kernel, kernels with the same answer grouped.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_fleet::check::OFFLINE_LIMITS;
use bpfld_fleet::report::{matrix_report, MatrixReport, ObjectReport, TargetInfo};
use bpfld_fleet::{check_matrix, CheckOptions, TargetFiles};
use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::PlanOptions;
use bpfld_obj::Object;
use clap::Args;

use crate::plan_cmd::open_object;
use crate::CliResult;

#[derive(Args)]
pub struct CheckArgs {
    /// The BPF objects.
    #[arg(required = true, value_name = "OBJ")]
    pub objs: Vec<PathBuf>,
    /// A kernel: a release directory, a vmlinux BTF file `NAME.btf`, or
    /// the `NAME` directory beside it (repeat for each kernel of the fleet;
    /// see docs/targets.md).
    #[arg(long = "kernel", short = 'k', value_name = "PATH", required = true)]
    pub kernels: Vec<PathBuf>,
    /// Require that at least one flavor of this kfunc (essential name)
    /// resolves; may be repeated.
    #[arg(long = "require-flavor", value_name = "ESSENTIAL_NAME")]
    pub require_flavor: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    /// Parse each kernel's whole BTF instead of only what the objects look
    /// up (same answers, slower).
    #[arg(long, hide = true)]
    pub full_btf: bool,
    /// The whole matrix as JSON (docs/check-json.md).
    #[arg(long)]
    pub json: bool,
    /// Also boot each kernel under qemu (a Debian kernel package, a release
    /// directory extracted from one, or a vmlinux/bzImage) and load every
    /// object there: the verifier's verdict per program beside the
    /// prediction (docs/kernel-matrix.md).
    #[arg(long)]
    pub boot: bool,
    /// With --boot: insert this module (and what it depends on) in each
    /// guest before loading; may be repeated.
    #[arg(long = "boot-module", value_name = "NAME", requires = "boot")]
    pub boot_modules: Vec<String>,
}

/// The objects and targets of a check, opened and validated before any
/// output: a bad path is a usage error, never a "would load NO".
pub struct CheckInputs {
    pub objects: Vec<(PathBuf, Object)>,
    pub targets: Vec<(PathBuf, TargetFiles)>,
}

impl CheckInputs {
    pub fn open(a: &CheckArgs) -> Result<CheckInputs, String> {
        let objects = a.objs.iter().map(|p| open_object(p).map(|o| (p.clone(), o))).collect::<Result<Vec<_>, _>>()?;
        let files = TargetFiles::validate_all(&a.kernels, a.jobs).map_err(|e| format!("-k {e}"))?;
        let targets = a.kernels.iter().cloned().zip(files).collect();
        Ok(CheckInputs { objects, targets })
    }
}

pub fn run(mut a: CheckArgs) -> CliResult {
    let boot = if a.boot { Some(crate::boot_cmd::prepare(&mut a.kernels, &a.boot_modules)?) } else { None };
    let inputs = CheckInputs::open(&a)?;
    let opts = CheckOptions {
        plan: PlanOptions { required: RequiredGroups { essential_names: a.require_flavor.clone() }, ..Default::default() },
        threads: a.jobs,
        full_btf: a.full_btf,
    };
    let tty = std::io::stderr().is_terminal() && !a.json;
    let progress = |done: usize, total: usize, name: &str| {
        if tty {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!("\r[{}{}] {done}/{total} {name:<40}", "#".repeat(filled), " ".repeat(width - filled));
            let _ = std::io::stderr().flush();
        }
    };
    let objects: Vec<Object> = inputs.objects.iter().map(|(_, o)| o.clone()).collect();
    let verdicts = check_matrix(&objects, &inputs.targets, &opts, &progress);
    if tty {
        eprint!("\r{:80}\r", "");
    }
    let names: Vec<(String, &std::path::Path)> = inputs.objects.iter().map(|(p, o)| (o.name.clone(), p.as_path())).collect();
    let report = matrix_report(&names, &verdicts);
    if let Some(setup) = boot {
        if !a.json {
            print_report(&report);
        }
        let check = a.json.then(|| serde_json::to_value(&report)).transpose().map_err(|e| format!("JSON: {e}"))?;
        let real = crate::boot_cmd::run(setup, &a.objs, &verdicts, check)?;
        return Ok(if real { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    if a.json {
        println!("{}", serde_json::to_string_pretty(&report).map_err(|e| format!("JSON: {e}"))?);
    } else {
        print_report(&report);
    }
    Ok(if report.loads_everywhere { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_report(report: &MatrixReport) {
    for o in &report.objects {
        print_object(o, &report.targets);
    }
    println!("what an offline check cannot know:");
    for l in OFFLINE_LIMITS {
        println!("  - {l}");
    }
}

/// `A`, `B`, ..., `Z`, `AA`, ...: a group's column name.
fn group_name(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

/// Kernel names, wrapped at about 100 columns after `indent`.
fn wrapped(names: &[&str], indent: usize) -> String {
    let mut out = String::new();
    let mut col = indent;
    for (i, n) in names.iter().enumerate() {
        if i > 0 && col + n.len() + 1 > 100 {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
        } else if i > 0 {
            out.push(' ');
            col += 1;
        }
        out.push_str(n);
        col += n.len();
    }
    out
}

fn print_object(o: &ObjectReport, targets: &[TargetInfo]) {
    let loads = o.kernels.iter().filter(|v| v.loads).count();
    let n = o.kernels.len();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    println!("{}: loads on {loads} of {n} kernel{}, {} different answer{}", o.object, plural(n), o.groups.len(), plural(o.groups.len()));
    for (g, group) in o.groups.iter().enumerate() {
        let names: Vec<&str> = group.targets.iter().map(|&t| targets[t].name.as_str()).collect();
        let head = format!("  {} ({} kernel{}): ", group_name(g), names.len(), plural(names.len()));
        println!("{head}{}", wrapped(&names, head.len()));
    }
    let label_w = o.rows.iter().map(|r| r.label.len()).max().unwrap_or(0).max(6) + 2;
    let col_w: Vec<usize> = o
        .groups
        .iter()
        .enumerate()
        .map(|(g, group)| group.cells.iter().map(String::len).chain([group_name(g).len()]).max().unwrap_or(1))
        .collect();
    let mut line = format!("  {:label_w$}", "");
    for (g, w) in col_w.iter().enumerate() {
        line += &format!("  {:w$}", group_name(g), w = *w);
    }
    println!("{}", line.trim_end());
    for (r, row) in o.rows.iter().enumerate() {
        // `*` marks what differs between the groups.
        let label = format!("{} {}", if row.differs { '*' } else { ' ' }, row.label);
        let mut line = format!("  {label:label_w$}");
        for (group, w) in o.groups.iter().zip(&col_w) {
            line += &format!("  {:w$}", group.cells[r], w = *w);
        }
        println!("{}", line.trim_end());
    }
    print_details(o);
    println!();
}

/// What the cells abbreviate, per group (from its first kernel); a line
/// that every group has is printed once.
fn print_details(o: &ObjectReport) {
    let per_group: Vec<Vec<String>> = o.groups.iter().map(|g| group_details(&o.kernels[g.targets[0]])).collect();
    let everywhere: Vec<&String> =
        per_group.first().map(|d| d.iter().filter(|l| per_group.iter().all(|g| g.contains(l))).collect()).unwrap_or_default();
    let mut lines = Vec::new();
    if o.groups.len() > 1 {
        lines.extend(everywhere.iter().map(|l| format!("every kernel: {l}")));
    }
    for (g, (group, details)) in o.groups.iter().zip(&per_group).enumerate() {
        let v = &o.kernels[group.targets[0]];
        let at = if group.targets.len() == 1 { group_name(g) } else { format!("{} (as on {})", group_name(g), v.kernel) };
        for l in details.iter().filter(|l| o.groups.len() == 1 || !everywhere.contains(l)) {
            lines.push(format!("{at}: {l}"));
        }
    }
    if !lines.is_empty() {
        println!("  details:");
        for l in lines {
            println!("    {l}");
        }
    }
}

fn group_details(v: &bpfld_fleet::KernelVerdict) -> Vec<String> {
    let mut details = Vec::new();
    if let Some(e) = &v.error {
        details.push(format!("the load fails: {e}"));
    }
    for e in v.externs.iter().filter(|e| !e.resolved) {
        details.push(format!("{} '{}': {}", e.kind, e.name, e.reason.as_deref().unwrap_or("not resolved")));
    }
    for p in &v.programs {
        if let Some(err) = &p.error {
            details.push(format!("program '{}': {err}", p.name));
        }
        for x in &p.poisoned {
            details.push(format!("program '{}': {x} (fails verification only if reachable)", p.name));
        }
    }
    for k in &v.unregistered_kfuncs {
        details.push(format!("kfunc '{k}' is in BTF but not tagged bpf_kfunc: the verifier will reject a call to it"));
    }
    details
}
