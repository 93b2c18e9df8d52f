//! Prediction against reality, per object and kernel: the object as a
//! whole (does every autoloaded program load), each program (planned vs
//! accepted by the kernel), each extern (resolved, where, which BTF id,
//! which fd_array slot, which kconfig value) when the load reports them.
//! A disagreement is either listed in [`crate::limits::KNOWN_LIMITS`] with
//! its reason, or a failure.

use crate::limits::{find_limit, KernelInfo, KnownLimit, MismatchKind};
use crate::outcome::{Extern, Observed, Predicted};

/// What a disagreement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Object,
    Program(String),
    Extern(String),
}

impl std::fmt::Display for Item {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Item::Object => f.write_str("object"),
            Item::Program(p) => write!(f, "program {p}"),
            Item::Extern(e) => write!(f, "extern {e}"),
        }
    }
}

/// One disagreement between prediction and reality.
#[derive(Debug, Clone)]
pub struct Mismatch {
    pub item: Item,
    pub kind: MismatchKind,
    pub predicted: String,
    pub observed: String,
    /// The known limit that explains it, if any.
    pub limit: Option<&'static KnownLimit>,
}

/// How an extern bound, on both sides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    pub name: String,
    pub kind: String,
    pub predicted: String,
    /// `None` when the load reports no externs.
    pub observed: Option<String>,
}

/// The comparison of one object on one kernel.
#[derive(Debug, Clone)]
pub struct ObjectRow {
    /// The object's file name.
    pub object: String,
    pub predicted: String,
    pub observed: String,
    pub mismatches: Vec<Mismatch>,
    pub bindings: Vec<Binding>,
    /// Externs compared with the load's own report (0 when it has none).
    pub externs_compared: usize,
    /// Programs that did not load: name, error, the verifier log's last
    /// lines.
    pub errors: Vec<(String, String, Vec<String>)>,
}

/// The row's overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Agree,
    /// Every disagreement is a known limit.
    Known,
    Unexplained,
}

impl ObjectRow {
    pub fn verdict(&self) -> Verdict {
        if self.mismatches.is_empty() {
            Verdict::Agree
        } else if self.mismatches.iter().all(|m| m.limit.is_some()) {
            Verdict::Known
        } else {
            Verdict::Unexplained
        }
    }
}

/// The short object name (`kfunc_module` for `kfunc_module.bpf.o`).
pub fn short_name(file: &str) -> &str {
    file.strip_suffix(".bpf.o").or_else(|| file.strip_suffix(".o")).unwrap_or(file)
}

fn summary_predicted(p: &Predicted) -> String {
    if p.refused.is_some() {
        return "refused".into();
    }
    let n = p.programs.len();
    let ok = p.programs.iter().filter(|x| x.plannable).count();
    if p.loads {
        format!("loads ({ok}/{n} planned)")
    } else {
        format!("{ok}/{n} planned")
    }
}

/// "loads (n/m loaded)", "n/m loaded" or "refused".
pub fn summary_observed(o: &Observed) -> String {
    if o.refused.is_some() {
        return "refused".into();
    }
    let auto: Vec<_> = o.programs.iter().filter(|p| !p.disabled).collect();
    let ok = auto.iter().filter(|p| p.loaded).count();
    if o.loads() {
        format!("loads ({ok}/{} loaded)", auto.len())
    } else {
        format!("{ok}/{} loaded", auto.len())
    }
}

/// The extern's binding as compared: resolution, target, BTF id, slot
/// and (kconfig) value. A typeless ksym's address is left out: KASLR
/// moves it on every boot.
fn extern_key(e: &Extern) -> (bool, Option<String>, Option<u64>, Option<u64>, Option<String>) {
    let value = if e.kind == "kconfig" { e.value.clone() } else { None };
    if !e.resolved {
        return (false, None, None, None, None);
    }
    (true, e.target.clone(), e.btf_id, e.fd_slot, value)
}

/// Compares one object on one kernel.
pub fn compare(object: &str, kernel: &KernelInfo, pred: &Predicted, obs: &Observed) -> ObjectRow {
    let short = short_name(object);
    let mut row = ObjectRow {
        object: object.to_string(),
        predicted: summary_predicted(pred),
        observed: summary_observed(obs),
        mismatches: Vec::new(),
        bindings: Vec::new(),
        externs_compared: 0,
        errors: Vec::new(),
    };
    let mut mismatches: Vec<Mismatch> = Vec::new();
    // What the kernel said about an item, for limits recognized by it.
    let evidence = |item: &Item| match item {
        Item::Program(p) => obs
            .programs
            .iter()
            .find(|x| &x.name == p)
            .map(|x| format!("{} {}", x.error.as_deref().unwrap_or(""), x.log.as_deref().unwrap_or("")))
            .unwrap_or_default(),
        _ => obs.refused.clone().unwrap_or_default(),
    };
    let push = |mismatches: &mut Vec<Mismatch>, item: Item, kind: MismatchKind, predicted: String, observed: String| {
        let limit = find_limit(short, &item, kind, kernel, &evidence(&item));
        mismatches.push(Mismatch { item, kind, predicted, observed, limit });
    };

    // Refused as a whole on one side only.
    match (&pred.refused, &obs.refused) {
        (Some(p), None) => push(&mut mismatches, Item::Object, MismatchKind::Accepted, format!("refused: {p}"), summary_observed(obs)),
        (None, Some(o)) => push(&mut mismatches, Item::Object, MismatchKind::Rejected, summary_predicted(pred), format!("refused: {o}")),
        _ => {}
    }
    // Each program both sides know, when neither refused the object.
    if pred.refused.is_none() && obs.refused.is_none() {
        for op in obs.programs.iter().filter(|p| !p.disabled) {
            if let Some(e) = &op.error {
                let log: Vec<&str> = op.log.as_deref().unwrap_or("").lines().filter(|l| !l.trim().is_empty()).collect();
                let tail = log[log.len().saturating_sub(3)..].iter().map(|l| l.to_string()).collect();
                row.errors.push((op.name.clone(), e.clone(), tail));
            }
            let Some(pp) = pred.programs.iter().find(|p| p.name == op.name) else {
                push(
                    &mut mismatches,
                    Item::Program(op.name.clone()),
                    MismatchKind::Accepted,
                    "not predicted".into(),
                    loaded_cell(op.loaded),
                );
                continue;
            };
            match (pp.plannable, op.loaded) {
                (true, false) => {
                    push(&mut mismatches, Item::Program(op.name.clone()), MismatchKind::Rejected, "planned".into(), "rejected".into())
                }
                (false, true) => push(
                    &mut mismatches,
                    Item::Program(op.name.clone()),
                    MismatchKind::Accepted,
                    format!("not plannable: {}", pp.error.as_deref().unwrap_or("?")),
                    "loaded".into(),
                ),
                _ => {}
            }
        }
    }
    // Externs: the prediction always has them; the load only if it prints
    // its report.
    for pe in &pred.externs {
        let oe = obs.externs.as_ref().and_then(|v| v.iter().find(|o| o.name == pe.name));
        if matches!(pe.kind.as_str(), "kfunc" | "ksym" | "ksym_typeless") {
            row.bindings.push(Binding {
                name: pe.name.clone(),
                kind: pe.kind.clone(),
                predicted: pe.describe(),
                observed: oe.map(Extern::describe),
            });
        }
        let Some(oe) = oe else { continue };
        row.externs_compared += 1;
        if extern_key(pe) != extern_key(oe) {
            push(&mut mismatches, Item::Extern(pe.name.clone()), MismatchKind::ExternDiffers, pe.describe(), oe.describe());
        }
    }
    // The object row: "every autoloaded program loads" on both sides. Its
    // disagreement is explained by the program rows when there are any.
    let pred_loads = pred.refused.is_none() && pred.loads;
    let explained = !mismatches.is_empty();
    if pred_loads != obs.loads() && !explained {
        let kind = if pred_loads { MismatchKind::Rejected } else { MismatchKind::Accepted };
        push(&mut mismatches, Item::Object, kind, summary_predicted(pred), summary_observed(obs));
    }
    row.mismatches = mismatches;
    row
}

fn loaded_cell(loaded: bool) -> String {
    if loaded { "loaded" } else { "rejected" }.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::{ObservedProgram, PredictedProgram};

    fn kernel() -> KernelInfo {
        KernelInfo { release: "6.12.117+deb12-amd64".into(), config: String::new(), host: false, kallsyms: true }
    }

    fn pred(progs: &[(&str, bool)]) -> Predicted {
        Predicted {
            kernel: "k".into(),
            refused: None,
            loads: progs.iter().all(|p| p.1),
            programs: progs.iter().map(|(n, ok)| PredictedProgram { name: n.to_string(), plannable: *ok, error: None }).collect(),
            externs: Vec::new(),
        }
    }

    fn obs(progs: &[(&str, bool)]) -> Observed {
        Observed {
            exit_code: Some(0),
            refused: None,
            programs: progs
                .iter()
                .map(|(n, ok)| ObservedProgram {
                    name: n.to_string(),
                    loaded: *ok,
                    disabled: false,
                    error: (!ok).then(|| "verifier".into()),
                    log: None,
                })
                .collect(),
            externs: None,
            stderr: String::new(),
        }
    }

    #[test]
    fn agreement_and_program_disagreement() {
        let r = compare("a.bpf.o", &kernel(), &pred(&[("p", true), ("q", false)]), &obs(&[("p", true), ("q", false)]));
        assert_eq!(r.verdict(), Verdict::Agree);
        let r = compare("a.bpf.o", &kernel(), &pred(&[("p", true)]), &obs(&[("p", false)]));
        assert_eq!(r.mismatches.len(), 1, "the object row follows the program row");
        assert_eq!(r.mismatches[0].item, Item::Program("p".into()));
        assert_eq!(r.verdict(), Verdict::Unexplained);
    }

    #[test]
    fn extern_mismatch() {
        let e = |slot| Extern {
            name: "bpf_xdp_ct_lookup".into(),
            kind: "kfunc".into(),
            weak: true,
            resolved: true,
            target: Some("nf_conntrack".into()),
            btf_id: Some(7),
            value: None,
            fd_slot: Some(slot),
            reason: None,
        };
        let mut p = pred(&[("p", true)]);
        p.externs = vec![e(1)];
        let mut o = obs(&[("p", true)]);
        o.externs = Some(vec![e(2)]);
        let r = compare("a.bpf.o", &kernel(), &p, &o);
        assert_eq!(r.externs_compared, 1);
        assert_eq!(r.mismatches[0].kind, MismatchKind::ExternDiffers);
        assert_eq!(r.bindings[0].observed.as_deref(), Some("nf_conntrack [7] slot 2"));
    }
}
