//! The check's report: objects × targets, as `bpfld check --json` prints it
//! (the schema is documented in `docs/check-json.md`), with targets that
//! give the same answer grouped, which is what keeps the text output
//! readable for dozens of kernels.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use bpfld_obj::plan::ExternReport;

use crate::check::{KernelVerdict, OFFLINE_LIMITS};

/// Version of the JSON layout; bumped when a field changes meaning or is
/// removed (adding fields does not bump it).
pub const SCHEMA_VERSION: u32 = 1;

/// The whole matrix.
#[derive(Debug, Clone, Serialize)]
pub struct MatrixReport {
    /// `"check"`: which document of the JSON family (docs/json.md) this is.
    pub schema: &'static str,
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Every object loads on every target.
    pub loads_everywhere: bool,
    /// The targets, in the order given; verdicts and groups refer to them
    /// by index.
    pub targets: Vec<TargetInfo>,
    /// The objects, in the order given.
    pub objects: Vec<ObjectReport>,
    /// What offline prediction cannot know ([`OFFLINE_LIMITS`]).
    pub offline_limits: &'static [&'static str],
}

/// One target (a kernel).
#[derive(Debug, Clone, Serialize)]
pub struct TargetInfo {
    /// The kernel's name: its release where known, else its BTF file's
    /// path.
    pub name: String,
    /// The release directory or BTF file, as given.
    pub path: String,
}

/// One object against every target.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    /// The object's name (its file name up to the first `.`, at most 15
    /// characters).
    pub object: String,
    /// Its file, as given.
    pub path: String,
    /// Every autoloaded program plans on every target.
    pub loads_everywhere: bool,
    /// kfunc flavor groups: essential name → the flavored externs.
    pub flavor_groups: BTreeMap<String, Vec<String>>,
    /// What the answer is made of: one row per flavor group, extern,
    /// program, CO-RE relocation whose outcome is not the same everywhere,
    /// and "would load".
    pub rows: Vec<Row>,
    /// Targets with the same answer (the same cell in every row and the
    /// same error), in order of first appearance.
    pub groups: Vec<AnswerGroup>,
    /// One verdict per target, in target order.
    pub kernels: Vec<KernelVerdict>,
}

/// A row of the answer.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// What the row is about (`kfunc bbr_main: flavor picked`, `would
    /// load`).
    pub label: String,
    /// Not the same in every group.
    pub differs: bool,
}

/// Targets that give one answer.
#[derive(Debug, Clone, Serialize)]
pub struct AnswerGroup {
    /// Indexes into [`MatrixReport::targets`].
    pub targets: Vec<usize>,
    /// The object would load on these targets.
    pub loads: bool,
    /// One cell per row of [`ObjectReport::rows`].
    pub cells: Vec<String>,
    /// Why the load fails as a whole, if it does.
    pub error: Option<String>,
}

/// Builds the report from the check's verdicts, indexed `[target][object]`.
pub fn matrix_report(objects: &[(String, &Path)], verdicts: &[Vec<KernelVerdict>]) -> MatrixReport {
    let targets: Vec<TargetInfo> = verdicts
        .iter()
        .map(|row| {
            let v = row.first();
            TargetInfo {
                name: v.map(|v| v.kernel.clone()).unwrap_or_default(),
                path: v.map(|v| v.path.display().to_string()).unwrap_or_default(),
            }
        })
        .collect();
    let objects: Vec<ObjectReport> = objects
        .iter()
        .enumerate()
        .map(|(o, (name, path))| {
            let column: Vec<KernelVerdict> = verdicts.iter().map(|row| row[o].clone()).collect();
            object_report(name, path, column)
        })
        .collect();
    MatrixReport {
        schema: "check",
        schema_version: SCHEMA_VERSION,
        loads_everywhere: objects.iter().all(|o| o.loads_everywhere),
        targets,
        objects,
        offline_limits: OFFLINE_LIMITS,
    }
}

fn object_report(name: &str, path: &Path, kernels: Vec<KernelVerdict>) -> ObjectReport {
    let flavor_groups = flavor_groups(&kernels);
    let rows = rows(&kernels, &flavor_groups);
    let mut groups: Vec<AnswerGroup> = Vec::new();
    for (i, v) in kernels.iter().enumerate() {
        let cells: Vec<String> = rows.iter().map(|(_, cells)| cells[i].clone()).collect();
        match groups.iter_mut().find(|g| g.cells == cells && g.error == v.error) {
            Some(g) => g.targets.push(i),
            None => groups.push(AnswerGroup { targets: vec![i], loads: v.loads, cells, error: v.error.clone() }),
        }
    }
    let rows = rows
        .into_iter()
        .enumerate()
        .map(|(r, (label, _))| Row { label, differs: groups.windows(2).any(|w| w[0].cells[r] != w[1].cells[r]) })
        .collect();
    ObjectReport {
        object: name.to_string(),
        path: path.display().to_string(),
        loads_everywhere: kernels.iter().all(|v| v.loads),
        flavor_groups,
        rows,
        groups,
        kernels,
    }
}

/// Flavor groups: essential name → kfunc externs (full names) in report
/// order; only groups with a flavored name.
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
pub fn picked(v: &KernelVerdict, ess: &str, names: &[String]) -> String {
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

/// An extern's outcome in one cell; BTF ids are left out (they differ
/// between any two kernels and say nothing about the answer).
pub fn extern_cell(e: Option<&ExternReport>) -> String {
    let Some(e) = e else { return "?".into() };
    if e.unknown_offline {
        return "unknown offline (0)".into();
    }
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
    match (&e.target, &e.value) {
        (Some(t), _) => match e.fd_slot {
            Some(s) => format!("{t} slot {s}"),
            None => t.clone(),
        },
        (_, Some(_)) if e.kind == "ksym_typeless" => "address".into(),
        // Every kernel has its own: a value, not an answer.
        (_, Some(_)) if e.name == "LINUX_KERNEL_VERSION" => "known".into(),
        (_, Some(v)) => v.clone(),
        _ => "ok".into(),
    }
}

/// Relocation kinds whose value is an answer (0 or 1: something exists,
/// matches, is signed), not a layout detail that differs between any two
/// kernels.
fn value_is_answer(key: &str) -> bool {
    ["field_exists", "type_exists", "type_matches", "enumval_exists", "signed"].iter().any(|k| key.ends_with(k))
}

/// The rows of the answer: (label, one cell per kernel).
fn rows(verdicts: &[KernelVerdict], groups: &BTreeMap<String, Vec<String>>) -> Vec<(String, Vec<String>)> {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    for (ess, names) in groups {
        rows.push((format!("kfunc {ess}: flavor picked"), verdicts.iter().map(|v| picked(v, ess, names)).collect()));
    }
    let externs: Vec<(String, bool, &str)> = verdicts
        .iter()
        .find(|v| !v.externs.is_empty())
        .map(|v| v.externs.iter().map(|e| (e.name.clone(), e.weak, e.kind)).collect())
        .unwrap_or_default();
    for (name, weak, kind) in &externs {
        let label = format!("{kind} {name}{}", if *weak { " (weak)" } else { "" });
        rows.push((label, verdicts.iter().map(|v| extern_cell(v.externs.iter().find(|e| &e.name == name))).collect()));
    }
    rows.extend(core_rows(verdicts));
    let mut programs: Vec<&str> = Vec::new();
    for p in verdicts.iter().flat_map(|v| &v.programs) {
        if !programs.contains(&p.name.as_str()) {
            programs.push(&p.name);
        }
    }
    for p in programs {
        let cells = verdicts
            .iter()
            .map(|v| match v.programs.iter().find(|x| x.name == p) {
                None if v.error.is_some() => "not loaded".into(),
                None => "?".into(),
                Some(x) if !x.plannable => "FAILS".into(),
                Some(x) if !x.poisoned.is_empty() => format!("ok, {} poisoned", x.poisoned.len()),
                Some(_) => "ok".into(),
            })
            .collect();
        rows.push((format!("program {p}"), cells));
    }
    rows.push(("would load".into(), verdicts.iter().map(|v| if v.loads { "yes".into() } else { "NO".into() }).collect()));
    rows
}

/// CO-RE relocations whose outcome is not the same on every kernel.
fn core_rows(verdicts: &[KernelVerdict]) -> Vec<(String, Vec<String>)> {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for c in verdicts.iter().flat_map(|v| &v.core) {
        if !keys.iter().any(|(k, _)| *k == c.key) {
            keys.push((&c.key, &c.spec));
        }
    }
    let mut rows = Vec::new();
    for (key, spec) in keys {
        let cells: Vec<String> = verdicts
            .iter()
            .map(|v| match v.core.iter().find(|c| c.key == key) {
                None => "-".into(),
                Some(c) => match (c.value, &c.failure) {
                    (Some(x), _) if value_is_answer(key) => x.to_string(),
                    (Some(_), _) => "ok".into(),
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
    rows
}
