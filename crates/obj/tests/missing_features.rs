//! What an old kernel lacks, predicted offline: a kernel whose BTF enums
//! stop at a release (`uapi_btf_of_release`, from the release tables of
//! bpfld-asm, as a kernel of that release has them) refuses the map, program and attach
//! types, helpers and kfunc calls that came later, each named with the
//! release that brought it.

use bpfld_asm::LinuxVersion;
use bpfld_btf::Btf;
use bpfld_obj::compat::{Needed, Subject};
use bpfld_obj::plan::{plan, PlanOptions};
use bpfld_obj::{kernel_version, KernelFeatures, MissingFeature, Object, Target};

fn vmlinux_of(v: LinuxVersion) -> Btf {
    Btf::from_vec(bpfld_obj::features::uapi_btf_of_release(v)).unwrap()
}

fn target(major: u32, minor: u32) -> Target {
    let v = LinuxVersion::new(major as u8, minor as u8);
    let mut t = Target::new(format!("pretend {v}"), vmlinux_of(v));
    t.kernel_version = Some(kernel_version(major, minor, 0));
    t.features = Some(KernelFeatures::of_version(kernel_version(major, minor, 0)));
    t
}

fn object(name: &str) -> Object {
    let path = bpfld_testdata::test_object(name);
    Object::parse(name, &std::fs::read(&path).unwrap()).unwrap()
}

fn missing(name: &str, t: &Target) -> Vec<MissingFeature> {
    plan(&object(name), Some(t), &PlanOptions::default()).unwrap().missing
}

#[test]
fn ring_buffer_map_and_syscall_programs_on_5_4() {
    let t = target(5, 4);
    let p = plan(&object("loader_maps"), Some(&t), &PlanOptions::default()).unwrap();
    let first = &p.missing[0];
    assert_eq!(first.to_string(), "map 'ringbuf': BPF_MAP_TYPE_RINGBUF needs Linux 5.8; this kernel is 5.4");
    assert_eq!(first.subject, Subject::Map("ringbuf".into()));
    let fill = p.programs.iter().find(|x| x.name == "fill_maps").unwrap();
    assert_eq!(fill.error.as_deref(), Some("BPF_PROG_TYPE_SYSCALL needs Linux 5.14; this kernel is 5.4"));
    // xdp and tc programs are fine on 5.4.
    assert!(p.programs.iter().filter(|x| x.name != "fill_maps").all(|x| x.error.is_none()));
    // On 5.8 the map exists; the syscall program still does not.
    let m = missing("loader_maps", &target(5, 8));
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].needed, Needed::ProgType(bpfld_asm::types::ProgType::SYSCALL));
    assert!(missing("loader_maps", &target(5, 14)).is_empty());
}

#[test]
fn kfunc_calls_before_5_13() {
    // struct_ops needs its kernel structs: take the real 6.1 BTF with the
    // features of 5.10 to see only what kfunc calls change.
    let Some(dir) = bpfld_testdata::shared_btf_dir() else { return };
    let raw = std::fs::read(dir.join(format!("{}.btf", bpfld_testdata::K61))).unwrap();
    let mut t = Target::new("6.1 as 5.10", Btf::from_vec(raw).unwrap());
    t.kernel_version = Some(kernel_version(5, 10, 0));
    t.features = Some(KernelFeatures::of_version(kernel_version(5, 10, 0)));
    let p = plan(&object("struct_ops_cc"), Some(&t), &PlanOptions::default()).unwrap();
    let calls: Vec<_> = p.missing.iter().filter(|m| m.needed == Needed::KfuncCalls).collect();
    assert!(!calls.is_empty());
    assert_eq!(calls[0].reason(), "calling kernel functions (kfuncs) need Linux 5.13; this kernel is 5.10");
    let with = plan(
        &object("struct_ops_cc"),
        Some(&{
            let mut t = t.clone();
            t.features = Some(KernelFeatures::of_version(kernel_version(5, 13, 0)));
            t
        }),
        &PlanOptions::default(),
    )
    .unwrap();
    assert!(with.missing.iter().all(|m| m.needed != Needed::KfuncCalls));
}

#[test]
fn helpers_newer_than_the_kernel() {
    // bpf_spin_lock is 5.1; bpf_probe_read_kernel is 5.5, but rewritten to
    // bpf_probe_read before 5.5, so not missing.
    let m = missing("old_kernel_btf", &target(5, 0));
    let helpers: Vec<String> = m.iter().map(|x| x.to_string()).collect();
    assert!(
        helpers.contains(&"program 'count_locked': helper bpf_spin_lock() needs Linux 5.1; this kernel is 5.0".to_string()),
        "{helpers:?}"
    );
    assert!(!helpers.iter().any(|h| h.contains("read_kernel")), "{helpers:?}");
    assert!(missing("old_kernel_btf", &target(5, 10)).is_empty());
}

#[test]
fn no_check_where_the_kernel_is_asked() {
    let mut t = target(5, 4);
    t.predict_missing = false;
    assert!(missing("loader_maps", &t).is_empty());
}
