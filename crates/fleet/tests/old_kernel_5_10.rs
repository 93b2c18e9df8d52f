//! Offline prediction on Debian 11's 5.10 kernel (its package's vmlinux
//! BTF and config): the features it lacks, and the verdict on the test
//! objects that 5.10 refuses for a missing program type, map type or
//! kfunc calls, named with the release each needs, and those it takes
//! once their BTF is sanitized.

use bpfld_btf::{Btf, Kind};
use bpfld_fleet::check::check_target;
use bpfld_fleet::release_dir::load_files;
use bpfld_fleet::{CheckOptions, KernelVerdict, Target, TargetFiles};
use bpfld_obj::plan::{plan, PlanOptions};
use bpfld_obj::{Feature, Object};

fn kernel() -> Option<(std::path::PathBuf, Target)> {
    let dir = bpfld_testdata::old_kernel_dir(bpfld_testdata::DEBIAN_5_10)?;
    let files = TargetFiles::locate(&dir).unwrap();
    Some((dir, load_files(&files).unwrap()))
}

fn object(name: &str) -> Object {
    Object::parse(name, &std::fs::read(bpfld_testdata::test_object(name)).unwrap()).unwrap()
}

fn verdict(name: &str, dir: &std::path::Path, t: &Target) -> KernelVerdict {
    check_target(&object(name), t, dir.to_path_buf(), &CheckOptions::default())
}

#[test]
fn features_5_10_lacks() {
    let Some((_, t)) = kernel() else { return };
    assert_eq!(t.release().map(|v| v.to_string()).as_deref(), Some("5.10"));
    use Feature::*;
    let want = [
        BtfQmarkDatasec,
        BtfFloat,
        BtfDeclTag,
        BtfTypeTag,
        BtfEnum64,
        ModuleBtf,
        PerfLink,
        MemcgAccount,
        BpfCookie,
        UprobeMultiLink,
        KprobeMultiLink,
        ArgCtxTag,
        Ldimm64FullRangeOff,
        UprobeSyscall,
        KfuncCall,
    ];
    assert_eq!(t.features().missing(), want);
}

#[test]
fn syscall_programs_need_5_14() {
    let Some((dir, t)) = kernel() else { return };
    let v = verdict("loader_globals", &dir, &t);
    assert!(!v.loads);
    for p in &v.programs {
        assert_eq!(p.error.as_deref(), Some("BPF_PROG_TYPE_SYSCALL needs Linux 5.14; this kernel is 5.10"), "{}", p.name);
    }
    assert_eq!(v.missing[0].needs_linux.as_deref(), Some("5.14"));
}

#[test]
fn kfunc_calls_need_5_13() {
    let Some((dir, t)) = kernel() else { return };
    let v = verdict("struct_ops_cc", &dir, &t);
    assert!(!v.loads);
    let refused: Vec<&str> = v.programs.iter().filter(|p| p.error.is_some()).map(|p| p.name.as_str()).collect();
    assert!(!refused.is_empty());
    for p in v.programs.iter().filter(|p| p.error.is_some()) {
        assert_eq!(p.error.as_deref(), Some("calling kernel functions (kfuncs) need Linux 5.13; this kernel is 5.10"), "{}", p.name);
    }
}

#[test]
fn user_ring_buffer_needs_6_1() {
    let Some((dir, t)) = kernel() else { return };
    let v = verdict("events", &dir, &t);
    assert!(!v.loads);
    assert_eq!(v.error.as_deref(), Some("map 'user_rb': BPF_MAP_TYPE_USER_RINGBUF needs Linux 6.1; this kernel is 5.10"));
}

#[test]
fn new_btf_kinds_are_sanitized_and_load() {
    let Some((dir, t)) = kernel() else { return };
    for name in ["old_kernel_btf", "arg_ctx", "loader_attach"] {
        let v = verdict(name, &dir, &t);
        assert!(v.loads, "{name}: {:?} {:?}", v.error, v.programs);
    }
    let p = plan(&object("old_kernel_btf"), Some(&t), &PlanOptions::default()).unwrap();
    let btf = Btf::from_vec(p.btf.unwrap()).unwrap();
    assert!(btf.own_types().all(|t| !matches!(t.kind(), Kind::Float | Kind::DeclTag | Kind::TypeTag | Kind::Enum64)));
    // arg_ctx: the subprogram's func_info points to a clone typed xdp_md.
    let p = plan(&object("arg_ctx"), Some(&t), &PlanOptions::default()).unwrap();
    let btf = Btf::from_vec(p.btf.unwrap()).unwrap();
    assert_eq!(btf.find("packet_len", Some(Kind::Func)).len(), 2);
}
