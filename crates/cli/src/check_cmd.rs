//! `bpfld check`: will this object load on these kernels, and which flavor
//! of each kfunc will bind? A matrix, offline, one column per kernel.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_fleet::check::{KernelVerdict, OFFLINE_LIMITS};
use bpfld_fleet::{check, CheckOptions};
use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::{ExternReport, PlanOptions};
use clap::Args;
use serde_json::{json, Value};

use crate::plan_cmd::{externs_json, open_object};
use crate::CliResult;

#[derive(Args)]
pub struct CheckArgs {
    /// The BPF object.
    pub obj: PathBuf,
    /// A kernel: a release directory or a vmlinux BTF file (repeat for each
    /// kernel of the fleet; see docs/targets.md).
    #[arg(long = "kernel", short = 'k', value_name = "PATH", required = true)]
    pub kernels: Vec<PathBuf>,
    /// Require that at least one flavor of this kfunc (essential name)
    /// resolves; may be repeated.
    #[arg(long = "require-flavor", value_name = "ESSENTIAL_NAME")]
    pub require_flavor: Vec<String>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    pub jobs: usize,
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: CheckArgs) -> CliResult {
    let obj = open_object(&a.obj)?;
    let opts =
        CheckOptions { plan: PlanOptions { required: RequiredGroups { essential_names: a.require_flavor.clone() } }, threads: a.jobs };
    let tty = std::io::stderr().is_terminal() && !a.json;
    let progress = |done: usize, total: usize, name: &str| {
        if tty {
            let width = 30;
            let filled = done * width / total.max(1);
            eprint!("\r[{}{}] {done}/{total} {name:<40}", "#".repeat(filled), " ".repeat(width - filled));
            let _ = std::io::stderr().flush();
        }
    };
    let verdicts = check(&obj, &a.kernels, &opts, &progress);
    if tty {
        eprint!("\r{:80}\r", "");
    }
    let all = verdicts.iter().all(|v| v.loads);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&to_json(&obj.name, &verdicts)).unwrap_or_default());
    } else {
        print_matrix(&obj.name, &verdicts);
    }
    Ok(if all { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Flavor groups: essential name → externs (full names) in report order.
fn flavor_groups(verdicts: &[KernelVerdict]) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Some(v) = verdicts.iter().find(|v| !v.externs.is_empty()) {
        for e in v.externs.iter().filter(|e| e.kind == "kfunc") {
            let ess = bpfld_btf::essential_name(&e.name).to_string();
            groups.entry(ess).or_default().push(e.name.clone());
        }
    }
    groups.retain(|ess, names| names.len() > 1 || names[0] != *ess);
    groups
}

/// The flavor a kernel picks in a group: the resolved ones' suffixes.
fn picked(v: &KernelVerdict, ess: &str, names: &[String]) -> String {
    let got: Vec<&str> =
        names.iter().filter(|n| v.externs.iter().any(|e| &e.name == *n && e.resolved)).map(|n| n.strip_prefix(ess).unwrap_or(n)).collect();
    if v.externs.is_empty() {
        "?".into()
    } else if got.is_empty() {
        "none: fallback".into()
    } else {
        got.join(" ")
    }
}

fn cell(e: Option<&ExternReport>) -> String {
    let Some(e) = e else { return "?".into() };
    if !e.resolved {
        let r = e.reason.as_deref().unwrap_or("");
        let what = if r.contains("incompatible") {
            "incompatible"
        } else if r.starts_with("no ") || r.contains("not set") {
            "missing"
        } else {
            "unresolved"
        };
        return if e.weak { format!("{what} (0)") } else { format!("{what}: FAILS") };
    }
    match (&e.target, e.btf_id, &e.value) {
        (Some(t), Some(id), _) => match e.fd_slot {
            Some(s) => format!("{t} [{id}] slot {s}"),
            None => format!("{t} [{id}]"),
        },
        (_, _, Some(v)) => v.clone(),
        _ => "ok".into(),
    }
}

fn print_matrix(obj: &str, verdicts: &[KernelVerdict]) {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let groups = flavor_groups(verdicts);
    for (ess, names) in &groups {
        rows.push((format!("kfunc {ess}: flavor picked"), verdicts.iter().map(|v| picked(v, ess, names)).collect()));
    }
    let externs: Vec<(String, bool, &str)> = verdicts
        .iter()
        .find(|v| !v.externs.is_empty())
        .map(|v| v.externs.iter().map(|e| (e.name.clone(), e.weak, e.kind)).collect())
        .unwrap_or_default();
    for (name, weak, kind) in &externs {
        let label = format!("{kind} {name}{}", if *weak { " (weak)" } else { "" });
        rows.push((label, verdicts.iter().map(|v| cell(v.externs.iter().find(|e| &e.name == name))).collect()));
    }
    // CO-RE relocations whose outcome differs between the kernels.
    let mut keys: Vec<(String, String)> = Vec::new();
    for v in verdicts {
        for c in &v.core {
            if !keys.iter().any(|(k, _)| k == &c.key) {
                keys.push((c.key.clone(), c.spec.clone()));
            }
        }
    }
    for (key, spec) in &keys {
        let cells: Vec<String> = verdicts
            .iter()
            .map(|v| match v.core.iter().find(|c| &c.key == key) {
                None => "-".into(),
                Some(c) => match (c.value, &c.failure) {
                    (Some(x), _) => x.to_string(),
                    (None, Some(f)) if f.ends_with("(poisoned)") => "fails (poisoned)".into(),
                    (None, _) => "0 (missing)".into(),
                },
            })
            .collect();
        if cells.windows(2).any(|w| w[0] != w[1]) {
            let short = spec.split_whitespace().skip(1).take(3).collect::<Vec<_>>().join(" ");
            rows.push((format!("CO-RE {key} {short}"), cells));
        }
    }
    let programs: Vec<String> = verdicts.iter().flat_map(|v| v.programs.iter().map(|p| p.name.clone())).fold(Vec::new(), |mut acc, n| {
        if !acc.contains(&n) {
            acc.push(n);
        }
        acc
    });
    for p in &programs {
        rows.push((
            format!("program {p}"),
            verdicts
                .iter()
                .map(|v| match v.programs.iter().find(|x| &x.name == p) {
                    None if v.error.is_some() => "not loaded".into(),
                    None => "?".into(),
                    Some(x) if !x.plannable => "FAILS".into(),
                    Some(x) if !x.poisoned.is_empty() => format!("ok, {} poisoned", x.poisoned.len()),
                    Some(_) => "ok".into(),
                })
                .collect(),
        ));
    }
    rows.push(("would load".into(), verdicts.iter().map(|v| if v.loads { "yes".into() } else { "NO".into() }).collect()));

    let label_w = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(6);
    let col_w: Vec<usize> =
        verdicts.iter().enumerate().map(|(i, v)| rows.iter().map(|r| r.1[i].len()).chain([v.kernel.len()]).max().unwrap_or(0)).collect();
    println!("{obj} on {} kernel{}", verdicts.len(), if verdicts.len() == 1 { "" } else { "s" });
    print!("{:label_w$}", "");
    for (v, w) in verdicts.iter().zip(&col_w) {
        print!("  {:w$}", v.kernel, w = *w);
    }
    println!();
    for (label, cells) in &rows {
        print!("{label:label_w$}");
        for (c, w) in cells.iter().zip(&col_w) {
            print!("  {c:w$}", w = *w);
        }
        println!();
    }
    // Details: everything a cell abbreviates.
    let mut details = Vec::new();
    for v in verdicts {
        if let Some(e) = &v.error {
            details.push(format!("{}: the load fails: {e}", v.kernel));
        }
        for e in v.externs.iter().filter(|e| !e.resolved) {
            details.push(format!("{}: {} '{}': {}", v.kernel, e.kind, e.name, e.reason.as_deref().unwrap_or("not resolved")));
        }
        for p in &v.programs {
            if let Some(err) = &p.error {
                details.push(format!("{}: program '{}': {err}", v.kernel, p.name));
            }
            for x in &p.poisoned {
                details.push(format!("{}: program '{}': {x} (fails verification only if reachable)", v.kernel, p.name));
            }
        }
        for k in &v.unregistered_kfuncs {
            details.push(format!("{}: kfunc '{k}' is in BTF but not tagged bpf_kfunc: the verifier will reject a call to it", v.kernel));
        }
    }
    if !details.is_empty() {
        println!("\ndetails:");
        for d in details {
            println!("  {d}");
        }
    }
    println!("\nwhat an offline check cannot know:");
    for l in OFFLINE_LIMITS {
        println!("  - {l}");
    }
}

fn to_json(obj: &str, verdicts: &[KernelVerdict]) -> Value {
    let groups = flavor_groups(verdicts);
    json!({
        "object": obj,
        "loads_everywhere": verdicts.iter().all(|v| v.loads),
        "kernels": verdicts.iter().map(|v| json!({
            "kernel": v.kernel,
            "path": v.path.display().to_string(),
            "loads": v.loads,
            "error": v.error,
            "externs": externs_json(&v.externs),
            "flavors": groups.iter().map(|(ess, names)| (ess.clone(), json!(picked(v, ess, names)))).collect::<serde_json::Map<_, _>>(),
            "programs": v.programs.iter().map(|p| json!({
                "name": p.name,
                "section": p.section,
                "plannable": p.plannable,
                "error": p.error,
                "poisoned": p.poisoned,
                "insns": p.insns,
            })).collect::<Vec<_>>(),
            "unregistered_kfuncs": v.unregistered_kfuncs,
            "core": v.core.iter().map(|c| json!({"key": c.key, "spec": c.spec, "value": c.value, "failure": c.failure})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "offline_limits": OFFLINE_LIMITS,
    })
}
