//! Extern resolution against the real kernels in shared/btf, checked
//! against what bpftool says about the same BTF: which flavor binds, the
//! final instructions of calls and `bpf_ksym_exists()` loads, module
//! kfuncs with their fd_array slot, kconfig values, typed ksyms, and the
//! errors of strong externs and unmet flavor groups.

mod common;

use bpfld_asm::insn::{poison, pseudo};
use bpfld_asm::Insn;
use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::{plan, FdSlot, LoadPlan, PlanOptions, PoisonKind};
use bpfld_obj::{BtfOwner, Object, Target};
use common::*;

fn plan_ok(obj: &Object, t: &Target) -> LoadPlan {
    plan(obj, Some(t), &PlanOptions::default()).unwrap_or_else(|e| panic!("plan {} on {}: {e}", obj.name, t.name))
}

fn plan_err(obj: &Object, t: &Target, opts: &PlanOptions) -> String {
    match plan(obj, Some(t), opts) {
        Ok(_) => panic!("plan of {} on {} should fail", obj.name, t.name),
        Err(e) => e.to_string(),
    }
}

/// The instructions where each relocation of extern `name` landed, in the
/// final program: (ld_imm64 indexes, call indexes).
fn extern_sites(obj: &Object, plan: &LoadPlan, prog: &str, name: &str) -> (Vec<usize>, Vec<usize>) {
    use bpfld_obj::RelocKind;
    let ext = obj.externs.iter().position(|e| e.name == name).unwrap_or_else(|| panic!("no extern {name}"));
    let p = plan.programs.iter().find(|p| p.name == prog).expect("program");
    let (mut lds, mut calls) = (Vec::new(), Vec::new());
    for &(fi, start) in &p.layout {
        for r in &obj.programs[fi].relocs {
            match r.kind {
                RelocKind::ExternLd64 { ext: e } if e == ext => lds.push(start + r.insn_idx),
                RelocKind::ExternCall { ext: e } if e == ext => calls.push(start + r.insn_idx),
                _ => {}
            }
        }
    }
    (lds, calls)
}

fn insn(plan: &LoadPlan, prog: &str, i: usize) -> Insn {
    plan.programs.iter().find(|p| p.name == prog).expect("program").insns[i]
}

#[test]
fn three_flavors_bind_the_kernels_prototype() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("kfunc_flavors");
    for rel in [K61, K612, K618] {
        let t = target(&dir, rel);
        let p = plan_ok(&obj, &t);
        let vmlinux = dir.join(format!("{rel}.btf"));
        let acquire_id = bpftool_id(&vmlinux, None, "FUNC", "bpf_task_acquire");
        let release_id = bpftool_id(&vmlinux, None, "FUNC", "bpf_task_release");
        let report = |n: &str| p.externs.iter().find(|e| e.name == n).expect("reported").clone();
        if rel == K61 {
            // 6.1 has no bpf_task_acquire: every flavor falls back.
            assert_eq!(acquire_id, None, "bpftool agrees 6.1 has no bpf_task_acquire");
            for n in ["bpf_task_acquire___one", "bpf_task_acquire___two", "bpf_task_acquire___three", "bpf_task_release"] {
                let r = report(n);
                assert!(!r.resolved, "{rel}: {n} should not resolve");
                assert!(r.reason.as_deref().unwrap().starts_with("no FUNC"), "{rel}: {n}: {:?}", r.reason);
            }
        } else {
            let acquire_id = acquire_id.expect("bpftool finds bpf_task_acquire");
            let one = report("bpf_task_acquire___one");
            assert!(one.resolved, "{rel}: ___one resolves");
            assert_eq!((one.target.as_deref(), one.btf_id), (Some("vmlinux"), Some(acquire_id)), "{rel}");
            for n in ["bpf_task_acquire___two", "bpf_task_acquire___three"] {
                let r = report(n);
                assert!(!r.resolved, "{rel}: {n}");
                let why = r.reason.unwrap();
                assert!(why.contains("incompatible with vmlinux"), "{rel}: {n}: {why}");
                assert!(why.contains("kernel 'struct task_struct *(struct task_struct *)'"), "{why}");
            }
            assert_eq!(report("bpf_task_release").btf_id, release_id);
            // The call of ___one is a kfunc call of the kernel's id,
            // `bpf_ksym_exists(___one)` a BTF_ID load of it.
            let (lds, calls) = extern_sites(&obj, &p, "acquire_any", "bpf_task_acquire___one");
            assert_eq!((lds.len(), calls.len()), (1, 1));
            let c = insn(&p, "acquire_any", calls[0]);
            assert_eq!((c.src_reg(), c.imm(), c.off()), (pseudo::KFUNC_CALL, acquire_id as i32, 0), "{rel}: {c:?}");
            let l = insn(&p, "acquire_any", lds[0]);
            assert_eq!((l.src_reg(), l.imm()), (pseudo::BTF_ID, acquire_id as i32), "{rel}");
            assert_eq!(insn(&p, "acquire_any", lds[0] + 1).imm(), 0, "vmlinux: no BTF fd");
        }
        // Unresolved flavors: ld_imm64 of 0 and a poisoned call that names
        // the extern by its (libbpf-sorted) index.
        for n in ["bpf_task_acquire___two", "bpf_task_acquire___three"] {
            let idx = obj.externs.iter().position(|e| e.name == n).unwrap() as i32;
            let (lds, calls) = extern_sites(&obj, &p, "acquire_any", n);
            let l = insn(&p, "acquire_any", lds[0]);
            assert_eq!((l.src_reg(), l.imm(), insn(&p, "acquire_any", lds[0] + 1).imm()), (0, 0, 0), "{rel}: {n}");
            let c = insn(&p, "acquire_any", calls[0]);
            assert!(c.is_helper_call() && c.imm() == poison::KFUNC_CALL_BASE + idx, "{rel}: {n}: {c:?}");
            let pp = p.programs.iter().find(|x| x.name == "acquire_any").unwrap();
            assert!(pp.poisoned.iter().any(|x| x.insn_idx == calls[0] && x.kind == PoisonKind::KfuncCall { name: n.into() }));
        }
    }
}

#[test]
fn externs_are_sorted_as_libbpf_sorts_them() {
    let obj = object("kconfig_values");
    let names: Vec<&str> = obj.externs.iter().map(|e| e.name.as_str()).collect();
    // Kconfig externs by alignment (descending), then size, then name.
    assert_eq!(names[0], "CONFIG_NR_CPUS", "{names:?}");
    let slots: Vec<(u32, u32)> = obj.externs.iter().filter_map(|e| e.kconfig.map(|k| (k.align, k.size))).collect();
    assert!(slots.windows(2).all(|w| w[0].0 > w[1].0 || (w[0].0 == w[1].0 && w[0].1 <= w[1].1)), "{slots:?}");
    let flav = object("kfunc_flavors");
    let names: Vec<&str> = flav.externs.iter().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["bpf_task_acquire___one", "bpf_task_acquire___three", "bpf_task_acquire___two", "bpf_task_release"]);
}

#[test]
fn strong_externs_fail_with_libbpfs_message() {
    let Some(dir) = kernel_btf_dir() else { return };
    let t = target(&dir, K612);
    let e = plan_err(&object("kfunc_strong_missing"), &t, &PlanOptions::default());
    assert!(e.contains("extern (func ksym) 'bpfld_no_such_kfunc': not found in kernel or module BTFs"), "{e}");
    let typed = plan(&object("kfunc_strong_missing"), Some(&t), &PlanOptions::default()).unwrap_err().error;
    assert_eq!(typed.kind(), bpfld_obj::ErrorKind::NotFound);
    let cause = typed.cause::<bpfld_obj::externs::ExternError>().expect("an extern error");
    assert!(
        matches!(cause, bpfld_obj::externs::ExternError::Unresolved { unresolved, .. } if **unresolved == bpfld_obj::externs::Unresolved::NotFound),
        "{cause:?}"
    );
    let obj = object("kfunc_strong_incompatible");
    let e = plan_err(&obj, &t, &PlanOptions::default());
    let proto = obj.externs.iter().find(|x| x.name == "bpf_task_acquire___wrong").unwrap().type_id;
    let kproto = t
        .vmlinux
        .type_by_id(bpftool_id(&dir.join(format!("{K612}.btf")), None, "FUNC", "bpf_task_acquire").unwrap())
        .unwrap()
        .type_ref()
        .unwrap();
    let want = format!("extern (func ksym) 'bpf_task_acquire___wrong': func_proto [{proto}] incompatible with vmlinux [{kproto}]");
    assert!(e.contains(&want), "{e}\nwant: {want}");
    // The same object fails on 6.1 for a different reason, named as such.
    let e = plan_err(&obj, &target(&dir, K61), &PlanOptions::default());
    assert!(e.contains("'bpf_task_acquire___wrong': not found in kernel or module BTFs"), "{e}");
}

#[test]
fn weak_missing_and_double_suffix() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("kfunc_weak_missing");
    let t = target(&dir, K618);
    let p = plan_ok(&obj, &t);
    let r = |n: &str| p.externs.iter().find(|e| e.name == n).unwrap().clone();
    // a___b___c looks up a___b: the double suffix keeps its first flavor.
    let d = r("bpf_task_release___v1___compat");
    assert!(!d.resolved);
    assert!(d.reason.unwrap().contains("no FUNC 'bpf_task_release___v1'"));
    assert!(r("bpf_rcu_read_lock___compat").resolved, "single suffix strips to bpf_rcu_read_lock");
    assert!(!r("bpfld_missing_kfunc").resolved);
    // The unguarded program is planned too (it is "?"), with its call
    // poisoned for the log fixup to explain.
    let ung = p.programs.iter().find(|x| x.name == "unguarded").unwrap();
    assert!(!ung.autoload);
    assert_eq!(ung.poisoned.len(), 1);
    assert_eq!(ung.poisoned[0].kind, PoisonKind::KfuncCall { name: "bpfld_missing_kfunc".into() });
}

#[test]
fn module_kfuncs_get_an_fd_array_slot() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("kfunc_module");
    for rel in [K61, K612, K618] {
        let t = target(&dir, rel);
        let p = plan_ok(&obj, &t);
        let lookup = p.externs.iter().find(|e| e.name == "bpf_xdp_ct_lookup").unwrap();
        let (lds, calls) = extern_sites(&obj, &p, "ct_lookup", "bpf_xdp_ct_lookup");
        let prog = p.programs.iter().find(|x| x.name == "ct_lookup").unwrap();
        if rel == K618 {
            // Built into the host kernel: vmlinux, no fd_array.
            assert_eq!(lookup.target.as_deref(), Some("vmlinux"));
            assert!(p.fd_array.is_empty() && prog.module_btf_refs.is_empty());
            assert_eq!(insn(&p, "ct_lookup", calls[0]).off(), 0);
            continue;
        }
        let vmlinux = dir.join(format!("{rel}.btf"));
        let modfile = dir.join(rel).join("modules/nf_conntrack.btf");
        let id = bpftool_id(&modfile, Some(&vmlinux), "FUNC", "bpf_xdp_ct_lookup").expect("bpftool finds it in the module");
        assert_eq!((lookup.target.as_deref(), lookup.btf_id, lookup.fd_slot), (Some("nf_conntrack"), Some(id), Some(1)), "{rel}");
        let m = t.modules.iter().position(|m| m.name == "nf_conntrack").unwrap();
        assert_eq!(p.fd_array, vec![FdSlot::Unused, FdSlot::ModuleBtf(m)], "{rel}");
        for c in &calls {
            let c = insn(&p, "ct_lookup", *c);
            assert_eq!((c.src_reg(), c.imm(), c.off()), (pseudo::KFUNC_CALL, id as i32, 1), "{rel}: call carries the slot in off");
        }
        // bpf_ksym_exists() of a module kfunc: BTF_ID load, off 0, the
        // module BTF (fd at load time) in the second half. Before 6.4 the
        // verifier refuses a FUNC there, and bpfld loads the constant 1.
        for l in &lds {
            let i0 = insn(&p, "ct_lookup", *l);
            if rel == K61 {
                assert_eq!((i0.src_reg(), i0.imm(), insn(&p, "ct_lookup", *l + 1).imm()), (0, 1, 0), "{rel}");
                assert!(!prog.module_btf_refs.iter().any(|r| r.insn_idx == *l));
                continue;
            }
            assert_eq!((i0.src_reg(), i0.imm(), i0.off()), (pseudo::BTF_ID, id as i32, 0), "{rel}");
            assert!(prog.module_btf_refs.iter().any(|r| r.insn_idx == *l && r.module == m), "{rel}: module ref recorded");
        }
    }
}

#[test]
fn bbr_main_flavor_follows_its_prototype() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("kfunc_bbr");
    let picked = |rel: &str| {
        let p = plan_ok(&obj, &target(&dir, rel));
        p.externs.iter().filter(|e| e.resolved).map(|e| (e.name.clone(), e.target.clone().unwrap())).collect::<Vec<_>>()
    };
    assert_eq!(picked(K61), [("bbr_main___v6_1".to_string(), "tcp_bbr".to_string())]);
    assert_eq!(picked(K612), [("bbr_main___v6_12".to_string(), "tcp_bbr".to_string())]);
    assert_eq!(picked(K618), [("bbr_main___v6_12".to_string(), "vmlinux".to_string())]);
}

#[test]
fn required_flavor_groups() {
    let Some(dir) = kernel_btf_dir() else { return };
    // Declared in the source with a decl tag: met on 6.12, not on 6.1.
    let obj = object("kfunc_required_group");
    plan_ok(&obj, &target(&dir, K612));
    let e = plan_err(&obj, &target(&dir, K61), &PlanOptions::default());
    assert!(e.contains("required flavor group 'acquire': none of its 2 flavors resolved"), "{e}");
    assert!(e.contains("'bpf_task_acquire___one': no FUNC 'bpf_task_acquire'"), "{e}");
    // Never met: both prototypes are wrong; the message says why for each.
    let e = plan_err(&object("kfunc_required_unmet"), &target(&dir, K612), &PlanOptions::default());
    assert!(e.contains("'bpf_task_acquire___bad1': func_proto") && e.contains("'bpf_task_acquire___bad2': func_proto"), "{e}");
    // Given at load time by essential name, on an object without tags.
    let req = PlanOptions { required: RequiredGroups { essential_names: vec!["bpf_task_acquire".into()] }, ..Default::default() };
    let flav = object("kfunc_flavors");
    assert!(plan(&flav, Some(&target(&dir, K612)), &req).is_ok());
    let e = plan_err(&flav, &target(&dir, K61), &req);
    assert!(e.contains("required flavor group 'bpf_task_acquire': none of its 3 flavors resolved on 6.1.0-56-amd64"), "{e}");
    let req = PlanOptions { required: RequiredGroups { essential_names: vec!["bpf_nothing".into()] }, ..Default::default() };
    assert!(plan_err(&flav, &target(&dir, K612), &req).contains("declares no extern of that essential name"));
}

/// The value `.config` gives `name`, as the test reads it independently.
fn config_value(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
}

#[test]
fn kconfig_values_come_from_each_kernels_config() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("kconfig_values");
    for rel in [K61, K612, K618] {
        let t = target(&dir, rel);
        let text = std::fs::read_to_string(dir.join(format!("{rel}.config"))).unwrap();
        let p = plan_ok(&obj, &t);
        let kmap = p.maps.iter().find(|m| m.real_name == ".kconfig").expect(".kconfig map");
        let at = |name: &str| {
            let e = obj.externs.iter().find(|e| e.name == name).unwrap();
            let k = e.kconfig.unwrap();
            &kmap.data[k.data_off as usize..(k.data_off + k.size) as usize]
        };
        let num = |b: &[u8]| b.iter().rev().fold(0u64, |a, &x| a << 8 | x as u64);
        let hz: u64 = config_value(&text, "CONFIG_HZ").unwrap().parse().unwrap();
        assert_eq!(num(at("CONFIG_HZ")), hz, "{rel}");
        let nr: u64 = config_value(&text, "CONFIG_NR_CPUS").unwrap().parse().unwrap();
        assert_eq!(num(at("CONFIG_NR_CPUS")), nr, "{rel}");
        let shift: u64 = config_value(&text, "CONFIG_LOG_BUF_SHIFT").unwrap().parse().unwrap();
        assert_eq!(num(at("CONFIG_LOG_BUF_SHIFT")), shift, "{rel}");
        assert_eq!(at("CONFIG_BPF_SYSCALL"), [1], "{rel}");
        let tri = match config_value(&text, "CONFIG_BPF_JIT").as_deref() {
            Some("y") => 1,
            Some("m") => 2,
            _ => 0,
        };
        assert_eq!(num(at("CONFIG_BPF_JIT")), tri, "{rel}");
        let jit_on = config_value(&text, "CONFIG_BPF_JIT_ALWAYS_ON").map(|v| v.as_bytes()[0]).unwrap_or(0);
        assert_eq!(at("CONFIG_BPF_JIT_ALWAYS_ON"), [jit_on], "{rel}");
        let host = config_value(&text, "CONFIG_DEFAULT_HOSTNAME").unwrap();
        let host = host.trim_matches('"').as_bytes();
        assert_eq!(&at("CONFIG_DEFAULT_HOSTNAME")[..host.len()], host, "{rel}");
        assert_eq!(at("CONFIG_ILLEGAL_POINTER_VALUE_MISSING"), [0], "missing weak is 0");
        // LINUX_KERNEL_VERSION from the config header (6.1.192, which the
        // release string 6.1.0-56 does not carry).
        let want = match rel {
            K61 => (6 << 16) + (1 << 8) + 192,
            K612 => (6 << 16) + (12 << 8) + 117,
            _ => (6 << 16) + (18 << 8) + 44,
        };
        assert_eq!(num(at("LINUX_KERNEL_VERSION")), want, "{rel}");
        assert_eq!(at("LINUX_HAS_BPF_COOKIE"), [1], "{rel}");
        assert_eq!(at("LINUX_HAS_SYSCALL_WRAPPER"), [1], "{rel}");
        assert_eq!(num(at("LINUX_BPFLD_UNKNOWN")), 0);
        // Each kconfig load is a map-value load of the .kconfig map at the
        // extern's offset.
        let prog = &p.programs[0];
        let kidx = p.maps.iter().position(|m| m.real_name == ".kconfig").unwrap();
        let e = obj.externs.iter().find(|e| e.name == "CONFIG_HZ").unwrap();
        let (lds, _) = extern_sites(&obj, &p, &prog.name, "CONFIG_HZ");
        let l = prog.insns[lds[0]];
        assert_eq!((l.src_reg(), l.imm()), (pseudo::MAP_VALUE, kidx as i32));
        assert_eq!(prog.insns[lds[0] + 1].imm() as u32, e.kconfig.unwrap().data_off);
    }
}

#[test]
fn kconfig_value_that_does_not_fit_is_an_error() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("kconfig_values");
    let mut t = target(&dir, K612);
    let text = std::fs::read_to_string(dir.join(format!("{K612}.config"))).unwrap();
    let text = text.replace("CONFIG_LOG_BUF_SHIFT=", "CONFIG_LOG_BUF_SHIFT=70000\n#");
    t.kconfig = Some(bpfld_obj::kconfig::Kconfig::parse(&text).unwrap());
    let e = plan_err(&obj, &t, &PlanOptions::default());
    assert!(e.contains("extern (kcfg) 'CONFIG_LOG_BUF_SHIFT': value '70000' doesn't fit in 2 bytes"), "{e}");
    t.kconfig = None;
    let e = plan_err(&obj, &t, &PlanOptions::default());
    assert!(e.contains("kernel configuration of target"), "{e}");
}

#[test]
fn typed_ksym_resolves_to_the_kernels_var() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("ksym_typed");
    for rel in [K61, K612, K618] {
        let t = target(&dir, rel);
        let p = plan_ok(&obj, &t);
        let id = bpftool_id(&dir.join(format!("{rel}.btf")), None, "VAR", "runqueues").expect("bpftool finds runqueues");
        let r = p.externs.iter().find(|e| e.name == "runqueues").unwrap();
        assert_eq!((r.kind, r.resolved, r.btf_id), ("ksym", true, Some(id)), "{rel}");
        let (lds, _) = extern_sites(&obj, &p, "read_rq", "runqueues");
        let l = insn(&p, "read_rq", lds[0]);
        assert_eq!((l.src_reg(), l.imm()), (pseudo::BTF_ID, id as i32));
        let missing = p.externs.iter().find(|e| e.name == "bpfld_no_such_var").unwrap();
        assert!(!missing.resolved && missing.reason.as_deref().unwrap().starts_with("no VAR"));
        assert!(matches!(t.vmlinux.type_by_id(id).map(|x| x.kind()), Ok(bpfld_btf::Kind::Var)));
    }
    let _ = BtfOwner::Vmlinux;
}

#[test]
fn typeless_ksyms_take_kallsyms_addresses() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("ksym_typeless");
    let mut t = target(&dir, K618);
    // Without kallsyms the target cannot give addresses: said, not guessed.
    let e = plan_err(&obj, &t, &PlanOptions::default());
    assert!(e.contains("kallsyms") && e.contains("unknown"), "{e}");
    t.kallsyms = Some(bpfld_obj::kallsyms::Kallsyms::parse("ffffffff81234560 T schedule\n").unwrap());
    let p = plan_ok(&obj, &t);
    let (lds, _) = extern_sites(&obj, &p, "read_addrs", "schedule");
    let (lo, hi) = (insn(&p, "read_addrs", lds[0]).imm() as u32 as u64, insn(&p, "read_addrs", lds[0] + 1).imm() as u32 as u64);
    assert_eq!(hi << 32 | lo, 0xffffffff81234560);
    let (lds, _) = extern_sites(&obj, &p, "read_addrs", "bpfld_no_such_symbol");
    assert_eq!(insn(&p, "read_addrs", lds[0]).imm(), 0, "weak missing is 0");
    // Two addresses for one name: ambiguous, as libbpf says.
    t.kallsyms = Some(bpfld_obj::kallsyms::Kallsyms::parse("ffffffff81234560 T schedule\nffffffff81234570 t schedule\n").unwrap());
    let e = plan_err(&obj, &t, &PlanOptions::default());
    assert!(e.contains("extern (ksym) 'schedule': resolution is ambiguous: 0xffffffff81234560 or 0xffffffff81234570"), "{e}");
}
