//! freplace programs planned without a kernel: the function to replace is
//! found in the target program's BTF (here loader_subprogs's own BTF,
//! which is what the kernel holds for its programs and returns by id), by
//! the section's name or one given with the target, as libbpf's
//! `bpf_program__set_attach_target`.

use std::sync::Arc;

use bpfld_asm::types::{AttachType, ProgType};
use bpfld_btf::{Btf, Kind};
use bpfld_obj::plan::{plan, LoadPlan, PlanOptions, ProgramPlan};
use bpfld_obj::{AttachProgram, Object};

fn object(name: &str) -> Object {
    let path = bpfld_testdata::test_object(name);
    Object::parse(name, &std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

/// The BTF a program of loader_subprogs is loaded with.
fn target_btf() -> Arc<Btf> {
    let raw = object("loader_subprogs").btf.unwrap().raw_bytes().to_vec();
    Arc::new(Btf::from_vec(raw).unwrap())
}

fn program<'a>(plan: &'a LoadPlan, name: &str) -> &'a ProgramPlan {
    plan.programs.iter().find(|p| p.name == name).unwrap_or_else(|| panic!("{name}"))
}

fn with_targets(targets: &[(&str, Option<&str>)]) -> PlanOptions {
    let btf = target_btf();
    let mut opts = PlanOptions::default();
    for &(prog, func) in targets {
        opts.attach_programs.insert(prog.into(), AttachProgram { btf: btf.clone(), func: func.map(str::to_string) });
    }
    opts
}

#[test]
fn freplace_without_its_target_program_says_how_to_give_it() {
    let p = plan(&object("freplace_add"), None, &PlanOptions::default()).unwrap();
    let named = program(&p, "new_add");
    assert_eq!(named.prog_type, ProgType::EXT);
    let e = named.error.as_deref().unwrap();
    assert!(e.contains("'global_add'") && e.contains("set_attach_target"), "{e}");
    assert!(!named.attach_to_program && named.attach_btf.is_none());
    let e = program(&p, "new_add_unnamed").error.as_deref().unwrap();
    assert!(e.contains("no BTF-based attach target"), "{e}");
}

#[test]
fn freplace_function_resolves_in_the_target_programs_btf() {
    let want = target_btf().find_first("global_add", Kind::Func).unwrap();
    let opts = with_targets(&[("new_add", None), ("new_add_unnamed", Some("global_add"))]);
    let p = plan(&object("freplace_add"), None, &opts).unwrap();
    for name in ["new_add", "new_add_unnamed"] {
        let pp = program(&p, name);
        assert_eq!(pp.error, None, "{name}");
        assert_eq!(pp.attach_btf.map(|a| a.btf_id), Some(want), "{name}: global_add's FUNC in the target's BTF");
        assert!(pp.attach_to_program, "{name}: loaded with attach_prog_fd");
        assert_eq!(pp.expected_attach_type, AttachType::UNSET);
    }
}

#[test]
fn freplace_function_missing_from_the_target_is_the_programs_error() {
    let opts = with_targets(&[("new_add", Some("no_such_func")), ("new_add_unnamed", Some("static_mul"))]);
    let p = plan(&object("freplace_add"), None, &opts).unwrap();
    let e = program(&p, "new_add").error.as_deref().unwrap();
    assert!(e.contains("no FUNC 'no_such_func'"), "{e}");
    // A static function is a FUNC too: found, as libbpf finds it (the
    // kernel then refuses to replace a static function).
    let want = target_btf().find_first("static_mul", Kind::Func).unwrap();
    assert_eq!(program(&p, "new_add_unnamed").attach_btf.map(|a| a.btf_id), Some(want));
}

#[test]
fn attach_target_for_a_program_the_object_lacks_fails_the_plan() {
    let opts = with_targets(&[("not_there", None)]);
    let e = plan(&object("freplace_add"), None, &opts).unwrap_err().to_string();
    assert!(e.contains("program 'not_there'") && e.contains("no such program"), "{e}");
}
