//! Loading as on an old kernel: the plan is made for a pretend kernel's
//! features (Linux 5.10, 5.4, ...) and loaded into the running one, which
//! takes anything an older kernel takes. What is checked is what the old
//! kernel needs: the sanitized BTF loads (BPF_BTF_LOAD) with func_info and
//! line_info, the bpf_spin_lock map value keeps its BTF, helpers are
//! rewritten, names dropped, RLIMIT_MEMLOCK raised.

mod common;

use bpfld::{KernelFeatures, LoadOptions, LoadedObject, TestRunOpts};
use bpfld_btf::{Btf, Kind};
use bpfld_obj::kernel_version;
use bpfld_obj::plan::PlanOptions;
use bpfld_testdata::require_kernel;
use common::*;

const XDP_PASS: u32 = 2;
const OBJECT: &str = "old_kernel_btf";

fn as_on(features: KernelFeatures) -> LoadOptions {
    LoadOptions { plan: PlanOptions { features: Some(features), ..Default::default() }, ..Default::default() }
}

fn linux(a: u32, b: u32) -> KernelFeatures {
    KernelFeatures::of_version(kernel_version(a, b, 0))
}

/// Runs `count_locked` once and returns the locked counter.
fn run_count_locked(obj: &LoadedObject) -> u64 {
    let pkt = packet();
    let r = obj.program("count_locked").unwrap().test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
    assert_eq!(r.retval, XDP_PASS);
    let v = obj.map("locked").unwrap().lookup_u32(0).unwrap().unwrap();
    u64_of(&v[8..16])
}

#[test]
fn sanitized_btf_for_5_10_loads_with_func_info_and_spin_lock() {
    if !require_kernel() {
        return;
    }
    let f = linux(5, 10);
    let plan = open(OBJECT).plan_with(None, &PlanOptions { features: Some(f), ..Default::default() }).unwrap();
    let raw = plan.btf.clone().unwrap();
    let btf = Btf::from_vec(raw.clone()).unwrap();
    // Nothing 5.10 lacks is left.
    for t in btf.own_types() {
        assert!(!matches!(t.kind(), Kind::Float | Kind::DeclTag | Kind::TypeTag | Kind::Enum64), "[{}] {:?} left", t.id(), t.kind());
        assert!(!(t.kind() == Kind::Enum && t.kflag()), "[{}] signed ENUM left", t.id());
    }
    // The object's own BTF is refused only for its new kinds, and the
    // sanitized one is accepted by BPF_BTF_LOAD as is.
    bpfld_sys::btf_load(&raw, Default::default()).unwrap_or_else(|e| panic!("sanitized BTF refused: {e}\n{}", e.log()));

    let obj = open(OBJECT).load_with(&as_on(f)).unwrap();
    assert!(obj.btf_fd().is_some(), "the object's BTF is loaded");
    assert!(obj.warnings().is_empty(), "{:?}", obj.warnings());
    let info = bpfld_sys::prog_info(obj.program("count_locked").unwrap().fd().unwrap()).unwrap();
    // count_locked and the global subprogram global_add.
    assert_eq!(info.nr_func_info, 2, "func_info kept");
    assert!(info.nr_line_info > 0, "line_info kept");
    assert!(info.btf_id != 0);
    // The map keeps its BTF (required for its bpf_spin_lock).
    let m = obj.map("locked").unwrap().info().unwrap();
    assert!(m.btf_id != 0 && m.btf_value_type_id != 0, "{m:?}");
    assert_eq!(run_count_locked(&obj), 2);
    assert_eq!(run_count_locked(&obj), 4);
    // (BIG_ONE >> 32) + tagged_var + no pointer.
    assert_eq!(obj.read_global_u64("result").unwrap(), 1 + 3);
    // 5.10 has prog names, bind map, mmap: all used.
    assert_eq!(info.name, "count_locked");
}

#[test]
fn before_5_5_probe_read_kernel_becomes_probe_read() {
    if !require_kernel() {
        return;
    }
    let f = linux(5, 4);
    assert!(!f.probe_read_kernel && !f.array_mmap && !f.btf_global_func);
    let plan = open(OBJECT).plan_with(None, &PlanOptions { features: Some(f), ..Default::default() }).unwrap();
    let p = plan.programs.iter().find(|p| p.name == "read_kernel").unwrap();
    let helpers: Vec<i32> = p.insns.iter().filter(|i| i.is_helper_call()).map(|i| i.imm()).collect();
    assert_eq!(helpers, [4, 45], "bpf_probe_read, bpf_probe_read_str");
    // Global data without BPF_F_MMAPABLE, global_add static.
    assert!(plan.maps.iter().filter(|m| m.origin.is_global_data()).all(|m| m.map_flags & (1 << 10) == 0));
    let btf = Btf::from_vec(plan.btf.clone().unwrap()).unwrap();
    let add = btf.find_first("global_add", Kind::Func).unwrap();
    assert_eq!(btf.type_by_id(add).unwrap().func_linkage(), Some(bpfld_btf::FuncLinkage::Static));

    let obj = open(OBJECT).load_with(&as_on(f)).unwrap();
    assert!(obj.warnings().is_empty(), "{:?}", obj.warnings());
    assert_eq!(run_count_locked(&obj), 2);
    // Without mmap, globals are read through the map.
    assert_eq!(obj.read_global_u64("result").unwrap(), 4);
    let info = bpfld_sys::prog_info(obj.program("read_kernel").unwrap().fd().unwrap()).unwrap();
    assert_eq!(info.nr_func_info, 1);
}

#[test]
fn without_program_names_nothing_is_named() {
    if !require_kernel() {
        return;
    }
    let f = KernelFeatures { prog_name: false, ..*bpfld::features() };
    let obj = open(OBJECT).load_with(&as_on(f)).unwrap();
    assert_eq!(bpfld_sys::prog_info(obj.program("count_locked").unwrap().fd().unwrap()).unwrap().name, "");
    assert_eq!(obj.map("locked").unwrap().info().unwrap().name, "");
    // Still found by name in the object.
    assert_eq!(run_count_locked(&obj), 2);
}

#[test]
fn before_5_11_memlock_rlimit_is_raised() {
    if !require_kernel() {
        return;
    }
    let obj = open(OBJECT).load_with(&as_on(linux(5, 10))).unwrap();
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) }, 0);
    // Infinity where the process may raise its hard limit; the hard limit
    // otherwise (this machine's sandbox: no CAP_SYS_RESOURCE).
    assert_eq!(lim.rlim_cur, lim.rlim_max);
    assert_eq!(bpfld::features::raise_memlock_rlimit().unwrap(), lim.rlim_cur);
    let caps = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = caps.lines().find_map(|l| l.strip_prefix("CapEff:")).map(|v| u64::from_str_radix(v.trim(), 16).unwrap()).unwrap();
    const CAP_SYS_RESOURCE: u32 = 24;
    if eff & (1 << CAP_SYS_RESOURCE) != 0 {
        assert_eq!(lim.rlim_cur, libc::RLIM_INFINITY);
    }
    // From 5.10's default of 64 KiB, the raise reaches the hard limit.
    let low = libc::rlimit { rlim_cur: 64 << 10, rlim_max: lim.rlim_max };
    // SAFETY: setrlimit reads the struct it is given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &low) }, 0);
    assert_eq!(bpfld_sys::features::raise_memlock_rlimit().unwrap(), lim.rlim_max);
    drop(obj);
}

#[test]
fn without_btf_func_or_datasec_no_func_info_is_given() {
    if !require_kernel() {
        return;
    }
    // A kernel with BTF but neither FUNC nor DATASEC (4.18-4.20): FUNCs
    // become TYPEDEFs of ENUMs, DATASECs STRUCTs of 1-byte INTs, and no
    // func_info/line_info is passed (every subprogram is then verified
    // with its caller).
    let f = KernelFeatures { btf_func: false, btf_global_func: false, btf_datasec: false, ..linux(5, 10) };
    let plan = open(OBJECT).plan_with(None, &PlanOptions { features: Some(f), ..Default::default() }).unwrap();
    let raw = plan.btf.clone().unwrap();
    let btf = Btf::from_vec(raw.clone()).unwrap();
    assert!(btf.own_types().all(|t| !matches!(t.kind(), Kind::Func | Kind::FuncProto | Kind::Var | Kind::Datasec)));
    bpfld_sys::btf_load(&raw, Default::default()).unwrap_or_else(|e| panic!("{e}\n{}", e.log()));
    let obj = open(OBJECT).load_with(&as_on(f)).unwrap();
    assert!(obj.btf_fd().is_some());
    let info = bpfld_sys::prog_info(obj.program("count_locked").unwrap().fd().unwrap()).unwrap();
    assert_eq!((info.nr_func_info, info.nr_line_info), (0, 0));
    let m = obj.map("locked").unwrap().info().unwrap();
    assert!(m.btf_id != 0, "the spin lock value keeps its BTF");
    assert_eq!(run_count_locked(&obj), 2);
}

#[test]
fn a_map_type_the_kernel_lacks_is_a_typed_error_at_load() {
    if !require_kernel() {
        return;
    }
    // A plan for a kernel whose enums stop at 5.4 (no ring buffers), loaded
    // here: refused before anything is created, with the typed error.
    let v = bpfld::LinuxVersion::new(5, 4);
    let btf = Btf::from_vec(bpfld_obj::features::uapi_btf_of_release(v)).unwrap();
    let mut t = bpfld_obj::Target::new("pretend 5.4", btf);
    t.kernel_version = Some(kernel_version(5, 4, 0));
    let plan = open("loader_maps").plan(Some(&t)).unwrap();
    let err = bpfld::loader::load_plan(&plan, &[], None, &Default::default()).unwrap_err();
    match &err {
        bpfld::Error::MissingFeature { missing, .. } => {
            assert_eq!(missing.needed, bpfld_obj::compat::Needed::MapType(bpfld_asm::types::MapType::RINGBUF));
            assert_eq!(missing.needs(), Some(bpfld::LinuxVersion::new(5, 8)));
        }
        e => panic!("{e}"),
    }
    assert_eq!(err.to_string(), "loader_maps: map 'ringbuf': BPF_MAP_TYPE_RINGBUF needs Linux 5.8; this kernel is 5.4");
    assert!(std::error::Error::source(&err).is_some());
}

/// Runs `measure` on a 64-byte packet and returns what its `__arg_ctx`
/// subprogram read of the context.
fn run_measure(obj: &LoadedObject) -> u64 {
    let pkt = packet();
    let r = obj.program("measure").unwrap().test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
    assert_eq!(r.retval, XDP_PASS);
    obj.read_global_u64("seen_len").unwrap()
}

#[test]
fn arg_ctx_before_6_8_types_the_argument_as_the_context() {
    if !require_kernel() {
        return;
    }
    let f = KernelFeatures { arg_ctx_tag: false, ..*bpfld::features() };
    let plan = open("arg_ctx").plan_with(None, &PlanOptions { features: Some(f), ..Default::default() }).unwrap();
    let btf = Btf::from_vec(plan.btf.clone().unwrap()).unwrap();
    let original = btf.find("packet_len", Some(Kind::Func));
    assert_eq!(original.len(), 2, "the FUNC and its clone");
    let p = &plan.programs[0];
    let rec = p.func_info[1].type_id;
    assert_eq!(rec, original[1], "func_info points to the clone");
    let proto = btf.type_by_id(btf.type_by_id(rec).unwrap().type_ref().unwrap()).unwrap();
    let arg = btf.type_by_id(proto.params().next().unwrap().type_id).unwrap();
    assert_eq!(arg.kind(), Kind::Ptr);
    let st = btf.type_by_id(arg.type_ref().unwrap()).unwrap();
    assert_eq!((st.kind(), st.name().unwrap()), (Kind::Struct, "xdp_md"));
    let tags: Vec<u32> = btf.own_types().filter(|t| t.kind() == Kind::DeclTag).filter_map(|t| t.type_ref()).collect();
    assert_eq!(tags, [original[0], rec], "the tag is cloned too");
    let obj = open("arg_ctx").load_with(&as_on(f)).unwrap();
    assert_eq!(run_measure(&obj), 64);
    // On 5.10 (no DECL_TAG either: the tags become INTs).
    let obj = open("arg_ctx").load_with(&as_on(linux(5, 10))).unwrap();
    assert_eq!(run_measure(&obj), 64);
    // Natively, on this kernel.
    assert!(bpfld::features().arg_ctx_tag);
    let obj = open("arg_ctx").load().unwrap();
    assert_eq!(run_measure(&obj), 64);
}
