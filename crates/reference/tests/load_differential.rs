//! bpfld against libbpf 1.7 on every `tests/bpf/obj/*.o` (what is compared:
//! `common/differential.rs`).

mod common;

use std::path::PathBuf;

use bpfld_testdata::require_kernel;
use common::differential::{capture, compare_object, Mode, Outcome};

/// (object, program or "*", why bpfld differs from libbpf on purpose).
const DELIBERATE: &[(&str, &str, &str)] = &[(
    "kfunc_required_unmet",
    "*",
    "bpfld's required flavor groups (btf_decl_tag \"bpfld:require_one:<group>\"): bpfld refuses an object none of whose \
     flavors of a required kfunc resolves; libbpf ignores the tag, poisons every flavor and loads",
)];

fn deliberate(obj: &str, prog: &str) -> Option<&'static str> {
    DELIBERATE.iter().find(|(o, p, _)| *o == obj && (*p == "*" || *p == prog)).map(|(_, _, why)| *why)
}

fn obj_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bpf/obj")
}

#[test]
fn bpfld_and_libbpf_agree_on_every_object() {
    if !require_kernel() {
        return;
    }
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, capture)));
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(obj_dir()).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "o")).collect();
    paths.sort();
    assert!(!paths.is_empty());

    let mut out = Outcome::new(deliberate);
    for path in &paths {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        compare_object(path, file.trim_end_matches(".bpf.o"), Mode::Full, &mut out);
    }
    println!("bpfld vs libbpf 1.7 on {} objects:\n{}", paths.len(), out.report.join("\n"));
    println!(
        "{} programs, {} with identical instructions, {} loaded by both, {} objects refused by both, {} listed differences",
        out.programs, out.identical, out.loaded, out.refused_by_both, out.listed
    );
    assert!(out.failures.is_empty(), "bpfld and libbpf 1.7 differ:\n{}", out.failures.join("\n"));
}
