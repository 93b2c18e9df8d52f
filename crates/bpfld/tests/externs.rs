//! Externs on the running 6.18 kernel: kfunc flavors bound and their dead
//! branches removed by the verifier, strong externs refused with libbpf's
//! messages, weak ones falling back, the verifier log explaining an
//! unguarded missing kfunc, kconfig values equal to /proc/config.gz, typeless
//! ksyms equal to /proc/kallsyms, required flavor groups.

mod common;

use bpfld::{Error, LoadOptions, OpenObject};
use bpfld_asm::insn::{poison, pseudo};
use bpfld_asm::Insn;
use bpfld_btf::Kind;
use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::PlanOptions;
use common::*;

fn host_btf() -> bpfld_btf::Btf {
    bpfld::kernel_target::cached_vmlinux_btf().expect("vmlinux BTF")
}

fn plan_error(name: &str, opts: &LoadOptions) -> Error {
    match open(name).load_with(opts) {
        Ok(_) => panic!("{name} should not load"),
        Err(e) => e,
    }
}

/// Forks a short-lived child so that `task_newtask` fires.
fn spawn_a_task() {
    let st = std::process::Command::new("/bin/true").status().expect("run /bin/true");
    assert!(st.success());
}

#[test]
fn three_flavors_one_binds_and_dead_branches_are_gone() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let obj = load("kfunc_flavors");
    let btf = host_btf();
    let acquire = btf.find_first("bpf_task_acquire", Kind::Func).expect("the host has bpf_task_acquire");
    let rep = |n: &str| obj.externs().iter().find(|e| e.name == n).unwrap().clone();
    assert_eq!((rep("bpf_task_acquire___one").resolved, rep("bpf_task_acquire___one").btf_id), (true, Some(acquire)));
    assert!(!rep("bpf_task_acquire___two").resolved && !rep("bpf_task_acquire___three").resolved);

    // What we handed the kernel: ___one's call is a kfunc call, the other
    // two are poisoned helper calls.
    let p = obj.program("acquire_any").unwrap();
    let planned: Vec<Insn> = p.insns().to_vec();
    assert!(planned.iter().any(|i| i.is_call() && i.src_reg() == pseudo::KFUNC_CALL && i.imm() == acquire as i32));
    let poisoned = |i: &Insn| i.is_helper_call() && (poison::KFUNC_CALL_BASE..poison::KFUNC_CALL_BASE + 1000).contains(&i.imm());
    assert_eq!(planned.iter().filter(|i| poisoned(i)).count(), 2);

    // What the kernel kept: the verifier proved the ___two and ___three
    // branches dead and removed them, poisoned calls included.
    let info = bpfld_sys::prog_info(p.fd().unwrap()).unwrap();
    let xlated = bpfld_asm::insn::from_bytes(&info.xlated_prog_insns).unwrap();
    assert!(!xlated.iter().any(poisoned), "poisoned calls survive in the translated program");
    assert!(xlated.len() < planned.len(), "dead branches removed: {} < {}", xlated.len(), planned.len());

    // And at run time the ___one branch is the one that runs.
    let link = p.attach().expect("attach tp_btf/task_newtask");
    spawn_a_task();
    drop(link);
    assert_eq!(obj.read_global_u64("flavor").unwrap() as i32, 1);
    assert!(obj.read_global_u64("acquired").unwrap() as u32 >= 1, "bpf_task_acquire___one returned the task");
}

#[test]
fn strong_externs_fail_with_libbpfs_message() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let e = plan_error("kfunc_strong_missing", &LoadOptions::default());
    assert!(e.to_string().contains("extern (func ksym) 'bpfld_no_such_kfunc': not found in kernel or module BTFs"), "{e}");
    assert_eq!(e.kind(), bpfld::ErrorKind::NotFound);
    let e = plan_error("kfunc_strong_incompatible", &LoadOptions::default());
    assert_eq!(e.kind(), bpfld::ErrorKind::Incompatible);
    let msg = e.to_string();
    assert!(msg.contains("extern (func ksym) 'bpf_task_acquire___wrong': func_proto ["), "{msg}");
    assert!(msg.contains("incompatible with vmlinux ["), "{msg}");
    assert!(
        msg.contains("local 'struct task_struct *(struct task_struct *, int)', kernel 'struct task_struct *(struct task_struct *)'"),
        "{msg}"
    );
    // The report still says what did resolve.
    let release = e.externs().iter().find(|x| x.name == "bpf_task_release").expect("reported");
    assert!(release.resolved);
}

#[test]
fn weak_missing_kfuncs_fall_back() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let obj = load("kfunc_weak_missing");
    assert_eq!(run_syscall(&obj, "guarded"), 0);
    assert_eq!(obj.read_global_u64("result").unwrap() as i32, 42, "the fallback branch ran");
    // a___b___c looks up a___b: bpf_task_release___v1 does not exist.
    assert_eq!(obj.read_global_u64("double_suffix_exists").unwrap() as i32, 0);
    assert_eq!(obj.read_global_u64("single_suffix_exists").unwrap() as i32, 1);
}

#[test]
fn unguarded_missing_kfunc_is_explained_in_the_verifier_log() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let mut o = open("kfunc_weak_missing");
    o.set_autoload("unguarded", true).unwrap();
    let obj = o.load_with(&keep_going()).expect("load with keep_going");
    assert!(obj.program("guarded").unwrap().is_loaded());
    let p = obj.program("unguarded").unwrap();
    let err = p.error().expect("the verifier reaches the poisoned call");
    assert!(err.log.contains("<invalid kfunc call>"), "{}", err.log);
    assert!(err.log.contains("kfunc 'bpfld_missing_kfunc' is referenced but wasn't resolved"), "{}", err.log);
    assert!(!err.log.contains("invalid func unknown#2002"), "the raw poison line is rewritten:\n{}", err.log);
}

/// `/proc/config.gz`, decompressed by the system's gzip, as an independent
/// reading of the values.
fn proc_config() -> Option<String> {
    let out = std::process::Command::new("gzip").args(["-dc", "/proc/config.gz"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn config_value(text: &str, name: &str) -> Option<String> {
    text.lines().find_map(|l| l.strip_prefix(&format!("{name}=")).map(str::to_string))
}

#[test]
fn kconfig_values_match_proc_config_gz() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let Some(text) = proc_config() else {
        bpfld_testdata::skip::<()>("/proc/config.gz unreadable");
        return;
    };
    let obj = load("kconfig_values");
    assert_eq!(run_syscall(&obj, "read_kconfig"), 0);
    let g = |n: &str| obj.read_global_u64(n).unwrap();
    let num = |n: &str| config_value(&text, n).unwrap().parse::<u64>().unwrap();
    let tri = |n: &str| match config_value(&text, n).as_deref() {
        Some("y") => 1,
        Some("m") => 2,
        _ => 0,
    };
    assert_eq!(g("bpf_syscall"), (config_value(&text, "CONFIG_BPF_SYSCALL").as_deref() == Some("y")) as u64);
    assert_eq!(g("bpf_jit"), tri("CONFIG_BPF_JIT"));
    assert_eq!(g("sch_ingress"), tri("CONFIG_NET_SCH_INGRESS"));
    assert_eq!(g("jit_always_on"), config_value(&text, "CONFIG_BPF_JIT_ALWAYS_ON").map(|v| v.as_bytes()[0] as u64).unwrap_or(0));
    assert_eq!(g("hz"), num("CONFIG_HZ"));
    assert_eq!(g("nr_cpus"), num("CONFIG_NR_CPUS"));
    assert_eq!(g("log_buf_shift"), num("CONFIG_LOG_BUF_SHIFT"));
    assert_eq!(g("pgtable_levels"), config_value(&text, "CONFIG_PGTABLE_LEVELS").map(|v| v.parse().unwrap()).unwrap_or(0));
    assert_eq!(g("missing"), 0);
    let host = obj.read_global("hostname").unwrap();
    let want = config_value(&text, "CONFIG_DEFAULT_HOSTNAME").unwrap_or_default();
    let want = want.trim_matches('"').as_bytes();
    assert_eq!(&host[..want.len()], want);
    assert_eq!(host[want.len()], 0);
    // LINUX_KERNEL_VERSION from uname's release (6.18.44-...).
    let rel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let v: Vec<u32> = rel.split(|c: char| !c.is_ascii_digit()).take(3).map(|x| x.parse().unwrap()).collect();
    assert_eq!(g("kernel_version") as u32, (v[0] << 16) + (v[1] << 8) + v[2].min(255));
    assert_eq!(g("has_bpf_cookie"), 1);
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let wrapper = kallsyms.lines().any(|l| l.ends_with(" __x64_sys_bpf"));
    assert_eq!(g("has_syscall_wrapper"), wrapper as u64);
    assert_eq!(g("unknown_virtual"), 0);
    // .kconfig is frozen and read-only for programs, as in libbpf.
    let m = obj.map(".kconfig").unwrap();
    assert!(m.update_u32(0, &vec![0u8; m.value_size()]).is_err(), ".kconfig is frozen");
}

#[test]
fn typeless_ksym_addresses_match_proc_kallsyms() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let obj = load("ksym_typeless");
    assert_eq!(run_syscall(&obj, "read_addrs"), 0);
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    let want = kallsyms
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && f[2] == "schedule").then(|| u64::from_str_radix(f[0], 16).unwrap())
        })
        .expect("schedule in kallsyms");
    assert_ne!(want, 0, "kallsyms shows addresses to root");
    assert_eq!(obj.read_global_u64("schedule_addr").unwrap(), want);
    assert_eq!(obj.read_global_u64("missing_addr").unwrap(), 0, "weak missing ksym is 0");
}

#[test]
fn typed_ksym_resolves_but_this_kernel_lacks_kallsyms_all() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    // The VAR is in BTF, so the plan binds it; the verifier then needs the
    // variable's address, which this kernel's kallsyms (no
    // CONFIG_KALLSYMS_ALL) does not list. Debian's kernels load it (see the
    // kernel matrix); offline relocation is tested in crates/fleet.
    let obj = open("ksym_typed").load_with(&keep_going()).expect("plan succeeds");
    let r = obj.externs().iter().find(|e| e.name == "runqueues").unwrap();
    assert_eq!(r.btf_id, host_btf().find_first("runqueues", Kind::Var));
    let kallsyms = std::fs::read_to_string("/proc/kallsyms").unwrap();
    if kallsyms.lines().any(|l| l.ends_with(" runqueues")) {
        assert!(obj.program("read_rq").unwrap().is_loaded());
        return;
    }
    let err = obj.program("read_rq").unwrap().error().expect("rejected without the address").clone();
    assert!(err.log.contains("runqueues"), "{}", err.log);
}

#[test]
fn module_kfunc_built_into_this_kernel_runs() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let obj = load("kfunc_module");
    let r = obj.externs().iter().find(|e| e.name == "bpf_xdp_ct_lookup").unwrap();
    assert_eq!(r.target.as_deref(), Some("vmlinux"), "nf_conntrack is built in on the host");
    let p = obj.program("ct_lookup").unwrap();
    let pkt = packet();
    let res = p.test_run(&bpfld_sys::TestRunOpts { data_in: &pkt, repeat: 1, ..Default::default() }).unwrap();
    assert_eq!(res.retval, 2, "XDP_PASS");
    assert_eq!(obj.read_global_u64("has_lookup").unwrap() as i32, 1);
    assert_eq!(obj.read_global_u64("lookups").unwrap() as i32, 1, "bpf_xdp_ct_lookup was called");
}

#[test]
fn bbr_flavor_of_this_kernel() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let obj = load("kfunc_bbr");
    assert_eq!(run_syscall(&obj, "which_bbr"), 0);
    assert_eq!(obj.read_global_u64("bbr_flavor").unwrap() as i32, 2, "6.18 has the (sk, ack, flag, rs) prototype");
}

#[test]
fn required_flavor_groups() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    // Declared in the source: met on this kernel.
    let obj = load("kfunc_required_group");
    assert!(obj.program("acquire_required").unwrap().is_loaded());
    // Never met: the load fails listing each flavor and why.
    let e = plan_error("kfunc_required_unmet", &LoadOptions::default());
    let msg = e.to_string();
    assert!(msg.contains("required flavor group 'acquire': none of its 2 flavors resolved"), "{msg}");
    assert!(msg.contains("'bpf_task_acquire___bad1': func_proto") && msg.contains("'bpf_task_acquire___bad2': func_proto"), "{msg}");
    // Given at load time, by essential name.
    let req = |n: &str| LoadOptions {
        plan: PlanOptions { required: RequiredGroups { essential_names: vec![n.into()] }, ..Default::default() },
        ..Default::default()
    };
    assert!(open("kfunc_flavors").load_with(&req("bpf_task_acquire")).is_ok());
    let e = plan_error("kfunc_flavors", &req("bpf_task_acquire___nothing"));
    assert!(e.to_string().contains("declares no extern of that essential name"), "{e}");
    let _ = OpenObject::open(obj_path("kfunc_flavors")).unwrap();
}
