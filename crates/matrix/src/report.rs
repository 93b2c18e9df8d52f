//! The printed report: per kernel, a table of objects (predicted, real,
//! verdict), the kfunc/ksym bindings on both sides, every disagreement
//! with its reason; then the known-limits legend and the timings.

use std::fmt::Write;
use std::time::Duration;

use crate::compare::{short_name, Verdict};
use std::collections::BTreeMap;

use crate::limits::{KNOWN_LIMITS, LIBBPF_DIFFERENCES};
use crate::{Column, MatrixReport};

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut w: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.len());
        }
    }
    let line = |out: &mut String, cells: &[String]| {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let _ = write!(s, "{c:<width$}  ", width = w[i]);
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(out, &header.iter().map(|h| h.to_string()).collect::<Vec<_>>());
    for r in rows {
        line(out, r);
    }
}

fn column_header(out: &mut String, c: &Column) {
    let _ = write!(out, "\n== {} ({})", c.kernel.release, c.how);
    if let Some(g) = &c.guest {
        let at = |d: Option<Duration>| d.map(secs).unwrap_or_else(|| "-".into());
        let _ = write!(
            out,
            ": /init after {}, results after {}, qemu exit after {} (guest uptime {} → {})",
            at(g.init_at),
            at(g.done_at),
            secs(g.wall),
            g.uptime_init.map(|u| format!("{u:.2} s")).unwrap_or_else(|| "-".into()),
            g.uptime_done.map(|u| format!("{u:.2} s")).unwrap_or_else(|| "-".into()),
        );
        if let (Some(from), Some(to)) = (g.uptime_commands, g.uptime_done) {
            let names: Vec<&str> = g.commands.keys().map(String::as_str).collect();
            let _ = write!(out, "; commands ({}) {:.2} s", names.join(", "), to - from);
        }
    }
    out.push('\n');
    let _ = writeln!(out, "  prediction from: {}", c.prediction_from);
    if let Some(g) = &c.guest {
        let mods: Vec<String> = g
            .insmods
            .iter()
            .map(|i| if i.rc == 0 { i.name.clone() } else { format!("{} (failed{})", i.name, if i.optional { ", optional" } else { "" }) })
            .collect();
        if !mods.is_empty() {
            let _ = writeln!(out, "  insmod: {}", mods.join(", "));
        }
    }
    if !c.load_reports_externs() {
        let _ = writeln!(out, "  externs: `bpfld load --json` prints no extern report; only the predicted bindings are shown");
    }
}

/// Features × kernels: what the runtime probes found ("yes"/"no"), and
/// "≠btf" where the offline derivation from the kernel's BTF said
/// otherwise (with the known difference's id if listed).
fn features(out: &mut String, r: &MatrixReport) {
    let cols: Vec<&Column> = r.columns.iter().filter(|c| c.features.is_some()).collect();
    let Some(first) = cols.first().and_then(|c| c.features.as_ref()) else { return };
    out.push_str("\nkernel features, probed in each kernel (≠btf: the offline derivation from its BTF differs):\n");
    let mut header = vec!["FEATURE".to_string()];
    header.extend(cols.iter().map(|c| c.kernel.release.clone()));
    let rows: Vec<Vec<String>> = first
        .probed
        .keys()
        .map(|name| {
            let mut row = vec![name.clone()];
            for t in cols.iter().filter_map(|c| c.features.as_ref()) {
                let probed = match t.probed.get(name) {
                    Some(true) => "yes",
                    Some(false) => "no",
                    None => "-",
                };
                let cell = match t.mismatches.iter().find(|m| &m.feature == name) {
                    Some(m) => format!("{probed} ≠btf{}", m.listed.map(|l| format!(" ({})", l.id)).unwrap_or_default()),
                    None => probed.to_string(),
                };
                row.push(cell);
            }
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    table(out, &header, &rows);
    for l in crate::features::FEATURE_DIFFERENCES {
        let _ = writeln!(out, "  {} {} (probe says {}), on {}: {}", l.id, l.feature, l.probed, l.when.describe(), l.reason);
    }
}

/// The whole report as text.
pub fn render(r: &MatrixReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "kernel matrix: {} objects on {} kernels ({})", r.objects, r.columns.len(), r.accel.name());
    for c in &r.columns {
        column_header(&mut out, c);
        let rows: Vec<Vec<String>> = c
            .rows
            .iter()
            .map(|row| {
                let verdict = match row.verdict() {
                    Verdict::Agree => "agree".to_string(),
                    Verdict::Known => {
                        let mut ids: Vec<&str> = row.mismatches.iter().filter_map(|m| m.limit.map(|l| l.id)).collect();
                        ids.dedup();
                        format!("known limit {}", ids.join(", "))
                    }
                    Verdict::Unexplained => "DISAGREE".to_string(),
                };
                let externs = match (row.externs_compared, c.load_reports_externs()) {
                    (0, _) => "-".to_string(),
                    (n, _) => {
                        let bad = row.mismatches.iter().filter(|m| matches!(m.item, crate::compare::Item::Extern(_))).count();
                        format!("{}/{n} agree", n - bad)
                    }
                };
                let libbpf = c.libbpf.get(&row.object).map(crate::compare::summary_observed).unwrap_or_else(|| "-".into());
                let verdict = match c.differences.get(&row.object) {
                    Some(d) if d.iter().any(|m| m.limit.is_none()) => format!("{verdict}; DIFFERS FROM LIBBPF"),
                    Some(d) => {
                        let mut ids: Vec<&str> = d.iter().filter_map(|m| m.limit.map(|l| l.id)).collect();
                        ids.dedup();
                        format!("{verdict}; known difference {}", ids.join(", "))
                    }
                    None => verdict,
                };
                vec![short_name(&row.object).to_string(), row.predicted.clone(), row.observed.clone(), libbpf, externs, verdict]
            })
            .collect();
        table(&mut out, &["OBJECT", "PREDICTED", "BPFLD", "LIBBPF", "EXTERNS", "VERDICT"], &rows);
        let mut bindings = Vec::new();
        for row in &c.rows {
            for b in &row.bindings {
                bindings.push(vec![
                    short_name(&row.object).to_string(),
                    format!("{} {}", b.kind, b.name),
                    b.predicted.clone(),
                    b.observed.clone().unwrap_or_else(|| "(not reported)".into()),
                ]);
            }
        }
        if !bindings.is_empty() {
            out.push_str("  bindings:\n");
            table(&mut out, &["OBJECT", "EXTERN", "PREDICTED", "REAL"], &bindings);
        }
        for row in &c.rows {
            for m in &row.mismatches {
                let why = match m.limit {
                    Some(l) => format!("known limit {}: {}", l.id, l.reason),
                    None => "UNEXPLAINED".into(),
                };
                let _ = writeln!(
                    out,
                    "  - {} {}: predicted '{}', kernel '{}' — {}",
                    short_name(&row.object),
                    m.item,
                    m.predicted,
                    m.observed,
                    why
                );
                for (p, e, log) in row.errors.iter().filter(|(p, _, _)| matches!(&m.item, crate::compare::Item::Program(x) if x == p)) {
                    let first = e.lines().next().unwrap_or("");
                    let _ = writeln!(out, "      kernel on {p}: {first}");
                    for l in log {
                        let _ = writeln!(out, "        | {l}");
                    }
                }
            }
        }
        for (obj, ds) in &c.differences {
            for d in ds {
                let why = match d.limit {
                    Some(l) => format!("known difference {}: {}", l.id, l.reason),
                    None => "UNEXPLAINED".into(),
                };
                let _ = writeln!(out, "  - {} {}: bpfld '{}', libbpf '{}' — {why}", short_name(obj), d.item, d.predicted, d.observed);
            }
        }
        for n in &c.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        for f in &c.failures {
            let _ = writeln!(out, "  FAILURE: {f}");
        }
    }
    features(&mut out, r);
    out.push_str("\nknown limits of offline prediction:\n");
    for l in KNOWN_LIMITS {
        let what: Vec<String> = l.items.iter().map(|(i, k)| format!("{} ({})", i.describe(), k.describe())).collect();
        let _ = writeln!(out, "  {} {}: {}, on {}: {}", l.id, l.object, what.join("; "), l.when.describe(), l.reason);
    }
    out.push_str("\nknown differences between bpfld and libbpf 1.7:\n");
    for l in LIBBPF_DIFFERENCES {
        let what: Vec<String> = l.items.iter().map(|(i, k)| format!("{} ({})", i.describe(), k.describe())).collect();
        let _ = writeln!(out, "  {} {}: {}, on {}: {}", l.id, l.object, what.join("; "), l.when.describe(), l.reason);
    }
    out.push_str("\nsummary (objects whose every autoloaded program loads):\n");
    for c in &r.columns {
        let n = |m: &BTreeMap<String, crate::outcome::Observed>| m.values().filter(|o| o.loads()).count();
        let diffs: usize = c.differences.values().map(Vec::len).sum();
        let unexplained: usize = c.differences.values().flatten().filter(|d| d.limit.is_none()).count();
        let time = c.guest.as_ref().map(|g| secs(g.wall)).unwrap_or_else(|| "-".into());
        let _ = writeln!(
            out,
            "  {:<26} bpfld {:>2}/{}  libbpf {:>2}/{}  differences {diffs} ({unexplained} unexplained)  guest {time}",
            c.kernel.release,
            n(&c.observed),
            c.observed.len(),
            n(&c.libbpf),
            c.libbpf.len()
        );
    }
    out.push_str("\ntimings:\n");
    for (rel, steps) in &r.prepare {
        let s: Vec<String> =
            steps.iter().map(|s| format!("{} {}{}", s.what, secs(s.took), if s.cached { " (cached)" } else { "" })).collect();
        let _ = writeln!(out, "  prepare {rel}: {}", s.join(", "));
    }
    for (what, d) in &r.phases {
        let _ = writeln!(out, "  {what}: {}", secs(*d));
    }
    let _ = writeln!(out, "  total: {}", secs(r.total));
    let failures = r.failures();
    if failures.is_empty() {
        out.push_str("\nresult: every disagreement is a known limit\n");
    } else {
        let _ = writeln!(out, "\nresult: {} failures (unexplained disagreements or guest problems):", failures.len());
        for f in &failures {
            let _ = writeln!(out, "  {}", f.lines().next().unwrap_or(""));
        }
    }
    out
}
