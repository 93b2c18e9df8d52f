//! bpfld beside libbpf 1.7 on the same kernel: the same objects loaded by
//! both in the same guest (libbpf through the `libbpf_load` example of
//! crates/reference), compared per object (refused as a whole on one side
//! only) and per autoloaded program (loaded on one side only). A
//! difference is either listed in [`crate::limits::LIBBPF_DIFFERENCES`]
//! with its reason, or a failure.

use crate::compare::{short_name, Item, Mismatch};
use crate::limits::{find_difference, KernelInfo, MismatchKind};
use crate::outcome::Observed;

/// What a loader did with one program: loaded, or why not.
fn program_cell(o: &Observed, name: &str) -> String {
    if let Some(why) = &o.refused {
        return format!("object refused: {}", why.lines().next().unwrap_or(""));
    }
    match o.programs.iter().find(|p| p.name == name) {
        Some(p) if p.loaded => "loaded".into(),
        Some(p) => format!("rejected: {}", p.error.as_deref().unwrap_or("?").lines().next().unwrap_or("")),
        None => "no such program".into(),
    }
}

fn loaded(o: &Observed, name: &str) -> bool {
    o.refused.is_none() && o.programs.iter().any(|p| p.name == name && p.loaded)
}

/// Everything a loader said about the object, for differences recognized
/// by their cause: its refusal, its stderr (libbpf prints verifier logs
/// there), each program's error and log.
fn evidence(o: &Observed) -> String {
    let mut s = format!("{}\n{}\n", o.refused.as_deref().unwrap_or(""), o.stderr);
    for p in &o.programs {
        s.push_str(&format!("{}\n{}\n", p.error.as_deref().unwrap_or(""), p.log.as_deref().unwrap_or("")));
    }
    s
}

/// The differences between bpfld's and libbpf's loads of `object`: every
/// autoloaded program (of either side) that one of them loaded and the
/// other did not. A refused object loads no program; both refusing is
/// agreement, whatever the words.
pub fn compare_reference(object: &str, kernel: &KernelInfo, bpfld: &Observed, libbpf: &Observed) -> Vec<Mismatch> {
    let short = short_name(object);
    let mut names: Vec<&str> = Vec::new();
    // A program bpfld did not load and has no error for was not autoloaded
    // (a struct_ops program no map uses, as libbpf decides too).
    let autoloaded = |p: &&crate::outcome::ObservedProgram| !p.disabled && (p.loaded || p.error.is_some());
    for p in bpfld.programs.iter().chain(&libbpf.programs).filter(autoloaded) {
        if !names.contains(&p.name.as_str()) {
            names.push(&p.name);
        }
    }
    let mut out = Vec::new();
    for name in names {
        let (ours, theirs) = (loaded(bpfld, name), loaded(libbpf, name));
        if ours == theirs {
            continue;
        }
        // The cause is on the side that did not load it.
        let (kind, why) =
            if ours { (MismatchKind::OnlyBpfldLoads, evidence(libbpf)) } else { (MismatchKind::OnlyLibbpfLoads, evidence(bpfld)) };
        let item = Item::Program(name.to_string());
        let limit = find_difference(short, &item, kind, kernel, &why);
        out.push(Mismatch { item, kind, predicted: program_cell(bpfld, name), observed: program_cell(libbpf, name), limit });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::parse_load;

    fn kernel() -> KernelInfo {
        KernelInfo { release: "5.10.0-46-amd64".into(), config: String::new(), host: false, kallsyms: true }
    }

    #[test]
    fn object_and_program_differences() {
        let ours = parse_load(
            r#"{"object":"a","programs":[{"name":"p","loaded":true},{"name":"q","loaded":false,"error":"EINVAL"}]}"#,
            "",
            Some(1),
        );
        let same =
            parse_load(r#"{"object":"a","programs":[{"name":"p","loaded":true},{"name":"q","loaded":false,"error":"x"}]}"#, "", Some(1));
        assert!(compare_reference("a.bpf.o", &kernel(), &ours, &same).is_empty());
        let theirs = parse_load(r#"{"object":"a","programs":[{"name":"p","loaded":true},{"name":"q","loaded":true}]}"#, "", Some(0));
        let d = compare_reference("a.bpf.o", &kernel(), &ours, &theirs);
        assert_eq!(d.len(), 1);
        assert_eq!((d[0].item.clone(), d[0].kind), (Item::Program("q".into()), MismatchKind::OnlyLibbpfLoads));
        assert_eq!(d[0].predicted, "rejected: EINVAL");
        let refused = parse_load(r#"{"object":"a","error":"map 'm': failed to create"}"#, "", Some(1));
        let d = compare_reference("a.bpf.o", &kernel(), &theirs, &refused);
        assert_eq!(d.len(), 2, "both programs, loaded by bpfld only");
        assert_eq!((d[0].item.clone(), d[0].kind), (Item::Program("p".into()), MismatchKind::OnlyBpfldLoads));
        assert_eq!(d[0].observed, "object refused: map 'm': failed to create");
        assert!(d[0].limit.is_none());
        // Refused by bpfld, every program rejected by libbpf: agreement.
        let none = parse_load(r#"{"object":"a","programs":[{"name":"p","loaded":false},{"name":"q","loaded":false}]}"#, "", Some(1));
        assert!(compare_reference("a.bpf.o", &kernel(), &refused, &none).is_empty());
    }
}
