//! USDT probes on the real kernel: tests/usdt/*.c compiled now with `cc`
//! (`<sys/sdt.h>` from systemtap-sdt-dev, `bpfld_testdata::usdt_target`), run, and tests/bpf's
//! usdt_probes programs attached to its probes, through one uprobe_multi
//! link and through single uprobes (the object loaded as for a kernel
//! without uprobe_multi links). The BPF side sums the arguments it reads
//! with `bpf_usdt_arg()`: each sum must be what the target passed
//! (registers of 4, 8 and 1 bytes, signed, a negative value, a constant,
//! an 8-byte stack slot); the semaphore-guarded probe fires only while
//! attached, and the target sees its semaphore set only then.

mod common;

use std::path::Path;
use std::process::Child;

use bpfld::{Link, LoadOptions, LoadedObject, UsdtOpts};
use bpfld_obj::plan::PlanOptions;
use bpfld_obj::usdt::UsdtBinary;
use bpfld_testdata::require_kernel;
use common::*;

/// How many times the target fires each probe.
const N: i64 = 20;

fn target() -> &'static Path {
    bpfld_testdata::usdt_target()
}

fn spawn_target() -> Child {
    bpfld_testdata::spawn_usdt_target(target(), N)
}

fn run_target(child: Child) -> i64 {
    bpfld_testdata::run_usdt_target(child)
}

fn load(single_uprobes: bool) -> LoadedObject {
    let features = single_uprobes.then(bpfld::link::usdt::single_uprobe_features);
    load_with_features(features, single_uprobes)
}

fn load_with_features(features: Option<bpfld_obj::KernelFeatures>, single_uprobes: bool) -> LoadedObject {
    let opts = LoadOptions { plan: PlanOptions { features, ..Default::default() }, ..Default::default() };
    let obj = open("usdt_probes").load_with(&opts).unwrap_or_else(|e| panic!("{e}"));
    let want = if single_uprobes { bpfld_asm::types::AttachType::UNSET } else { bpfld_asm::types::AttachType::TRACE_UPROBE_MULTI };
    assert_eq!(obj.program("on_args").unwrap().expected_attach_type(), want);
    obj
}

fn global(obj: &LoadedObject, name: &str) -> i64 {
    obj.read_global_u64(name).unwrap() as i64
}

fn attach(obj: &LoadedObject, prog: &str, probe: &str, pid: u32, cookie: u64) -> Link {
    let opts = UsdtOpts { pid: Some(pid), cookie };
    obj.program(prog).unwrap().attach_usdt(target(), "bpfld", probe, &opts).unwrap_or_else(|e| panic!("{prog}: {e}"))
}

/// Attaches both probes to one run of the target and checks every value.
fn arguments_read_back(single_uprobes: bool) {
    if !require_kernel() {
        return;
    }
    let obj = load(single_uprobes);
    let child = spawn_target();
    let args = attach(&obj, "on_args", "args", child.id(), 0xc0ffee);
    let guarded = attach(&obj, "on_guarded", "guarded", child.id(), 7);
    let info = args.usdt_info().unwrap();
    assert_eq!((info.sites, info.spec_ids.len(), info.uprobe_multi), (1, 1, !single_uprobes));
    assert_eq!(obj.usdt_spec_ids_in_use(), 2);
    let seen = run_target(child);
    let sum: i64 = (1..=N).sum();
    assert_eq!(global(&obj, "args_bad"), 0);
    assert_eq!(global(&obj, "args_hits"), N);
    assert_eq!(global(&obj, "arg0_sum"), sum, "int i in a register");
    assert_eq!(global(&obj, "arg1_sum"), -3 * sum, "long -3i in a register");
    assert_eq!(global(&obj, "arg2_sum"), sum, "char i in a byte register");
    assert_eq!(global(&obj, "arg3_sum"), 5 * N, "the constant 5");
    assert_eq!(global(&obj, "args_cookie"), 0xc0ffee, "bpf_usdt_cookie()");
    assert_eq!(seen, N, "the guarded probe's semaphore is set while attached");
    assert_eq!(global(&obj, "guarded_hits"), N);
    assert_eq!(global(&obj, "guarded_sum"), 7 * sum, "long 7i on the stack");
    drop(args);
    guarded.detach().unwrap();
    assert_eq!(obj.usdt_spec_ids_in_use(), 0, "detaching gives the spec ids back");
    // Detached: nothing fires, and the semaphore is clear again.
    assert_eq!(run_target(spawn_target()), 0);
    assert_eq!(global(&obj, "args_hits"), N);
    assert_eq!(global(&obj, "guarded_hits"), N);
}

#[test]
fn usdt_arguments_through_uprobe_multi() {
    arguments_read_back(false);
}

#[test]
fn usdt_arguments_through_single_uprobes() {
    arguments_read_back(true);
}

/// Without attaching the guarded probe, its semaphore stays 0 and the
/// target never reaches it; the other probe still counts.
#[test]
fn usdt_semaphore_counts_only_attached_probes() {
    if !require_kernel() {
        return;
    }
    let obj = load(false);
    let child = spawn_target();
    let _args = attach(&obj, "on_args", "args", child.id(), 0);
    assert_eq!(run_target(child), 0);
    assert_eq!(global(&obj, "args_hits"), N);
    assert_eq!(global(&obj, "guarded_hits"), 0);
}

/// The notes of the compiled target, as the parser reads them.
#[test]
fn usdt_notes_of_compiled_target() {
    let data = std::fs::read(target()).unwrap();
    let elf = UsdtBinary::parse(target(), &data).unwrap();
    assert!(elf.shared, "cc builds position-independent executables (ET_DYN)");
    let args = elf.sites("bpfld", "args", false).unwrap();
    assert_eq!(args.len(), 1);
    assert_eq!(args[0].args.len(), 4);
    assert_eq!(args[0].sema_offset, 0);
    let guarded = elf.sites("bpfld", "guarded", false).unwrap();
    assert_eq!(guarded[0].args_text, "-8@-8(%rbp)");
    assert_ne!(guarded[0].sema_offset, 0);
    let e = elf.sites("bpfld", "nope", false).unwrap_err();
    assert!(e.to_string().ends_with("no USDT probe 'bpfld:nope'"), "{e}");
}

/// Errors name the program, the binary and the probe.
#[test]
fn usdt_attach_errors() {
    if !require_kernel() {
        return;
    }
    let obj = load(false);
    let p = obj.program("on_args").unwrap();
    let e = p.attach_usdt(target(), "bpfld", "nope", &UsdtOpts::default()).unwrap_err();
    assert!(e.to_string().contains("no USDT probe 'bpfld:nope'"), "{e}");
    let e = p.attach_usdt("/proc/self/status", "bpfld", "args", &UsdtOpts::default()).unwrap_err();
    assert!(e.to_string().contains("/proc/self/status: not an ELF file"), "{e}");
    assert_eq!(obj.usdt_spec_ids_in_use(), 0);
    let no_usdt = common::load("loader_perf_attach");
    let e = no_usdt.programs().next().unwrap().attach_usdt(target(), "bpfld", "args", &UsdtOpts::default()).unwrap_err();
    assert!(e.to_string().contains("did you forget to include bpf/usdt.bpf.h"), "{e}");
}

/// `attach()` of a `usdt/PATH:PROVIDER:NAME` section, in every process.
#[test]
fn usdt_attach_by_section() {
    if !require_kernel() {
        return;
    }
    let auto_target = bpfld_testdata::install_usdt_section_target();
    for single_uprobes in [false, true] {
        let obj = load(single_uprobes);
        let link = obj.program("on_args_auto").unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(link.usdt_info().unwrap().uprobe_multi, !single_uprobes);
        let child = bpfld_testdata::spawn_usdt_target(auto_target, N);
        assert_eq!(run_target(child), 0);
        assert_eq!(global(&obj, "auto_hits"), N);
        assert_eq!(global(&obj, "auto_sum"), (1..=N).sum::<i64>());
    }
    // A section without a target names the method to call.
    let obj = load(false);
    let e = obj.program("on_args").unwrap().attach().unwrap_err();
    assert!(e.to_string().contains("attach_usdt("), "{e}");
}

/// The committed object's usdt.bpf.h (libbpf 1.1) cannot read a
/// scale-index-base operand: attaching says so, and takes no spec id.
#[test]
fn usdt_sib_needs_libbpf_1_7_header() {
    if !require_kernel() {
        return;
    }
    let obj = load(false);
    let e = obj.program("on_sib").unwrap().attach_usdt(target(), "bpfld", "sib", &UsdtOpts::default()).unwrap_err();
    assert!(e.to_string().contains("arg #0 is a scale-index-base memory operand"), "{e}");
    let source = std::error::Error::source(&e).unwrap();
    assert!(source.to_string().contains("older than libbpf 1.7"), "{source}");
    assert_eq!(obj.usdt_spec_ids_in_use(), 0);
}

/// As on kernels before BPF cookies (5.15): the object planned without
/// them (`LINUX_HAS_BPF_COOKIE` is 0, so usdt.bpf.h looks the spec id up by
/// the probe's address) and single uprobes. The target is a
/// position-independent executable, so each place's address comes from
/// the process's mappings, which needs a pid; the ip-to-spec entries go
/// away with the link.
#[test]
fn usdt_without_bpf_cookies_uses_ip_to_spec_map() {
    if !require_kernel() {
        return;
    }
    let features = bpfld_obj::KernelFeatures { bpf_cookie: false, ..bpfld::link::usdt::single_uprobe_features() };
    let obj = load_with_features(Some(features), true);
    let p = obj.program("on_args").unwrap();
    let e = p.attach_usdt(target(), "bpfld", "args", &UsdtOpts::default()).unwrap_err();
    assert!(e.to_string().contains("without a specific pid needs BPF cookies"), "{e}");
    let child = spawn_target();
    let link = attach(&obj, "on_args", "args", child.id(), 0xc0ffee);
    let guarded = attach(&obj, "on_guarded", "guarded", child.id(), 0);
    let ips = obj.map("__bpf_usdt_ip_to_spec_id").unwrap();
    assert_eq!(ips.keys().count(), 2, "one address per place");
    assert_eq!(run_target(child), N);
    let sum: i64 = (1..=N).sum();
    assert_eq!((global(&obj, "args_hits"), global(&obj, "args_bad")), (N, 0));
    assert_eq!((global(&obj, "arg0_sum"), global(&obj, "arg1_sum"), global(&obj, "arg3_sum")), (sum, -3 * sum, 5 * N));
    assert_eq!(global(&obj, "args_cookie"), 0xc0ffee);
    assert_eq!(global(&obj, "guarded_sum"), 7 * sum);
    drop((link, guarded));
    assert_eq!(ips.keys().count(), 0, "detaching removes the addresses");
}
