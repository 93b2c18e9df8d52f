//! Attaching through perf events on the real kernel: tracepoints, uprobes
//! and uretprobes on a function of this test binary, kprobes, kretprobes
//! and ksyscalls where the kernel has the kprobe PMU. Each program counts
//! the events of the test's own thread (a `.rodata` setting given before
//! the load), so counts are exact with other tests running; each test
//! checks the count while attached and that it stops once the link is
//! dropped.

mod common;

use std::path::{Path, PathBuf};

use bpfld::{LoadedObject, ProbeOpts};
use bpfld_testdata::{ensure_tracefs, require_kernel};
use common::*;

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

fn getpgid_times(n: usize) {
    for _ in 0..n {
        // SAFETY: getpgid(0) has no preconditions.
        unsafe { libc::getpgid(0) };
    }
}

/// The function the uprobes attach to (by its symbol in this binary).
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfld_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x) * 3 + 1
}

fn call_target(args: &[u64]) {
    for &a in args {
        assert_eq!(std::hint::black_box(bpfld_uprobe_target)(a), a * 3 + 1);
    }
}

fn this_binary() -> PathBuf {
    std::fs::read_link("/proc/self/exe").unwrap()
}

fn load_for_this_thread() -> LoadedObject {
    let mut open = open("loader_perf_attach");
    open.set_global("target_tid", &gettid().to_ne_bytes()).unwrap();
    let obj = open.load_with(&keep_going()).unwrap_or_else(|e| panic!("{e}"));
    for p in obj.programs() {
        assert!(p.is_loaded(), "{}: {:?}", p.name(), p.error().map(|e| e.to_string()));
    }
    obj
}

fn global(obj: &LoadedObject, name: &str) -> u64 {
    obj.read_global_u64(name).unwrap()
}

/// Runs `trigger` 10 times with `link` attached, then 10 times after it
/// was dropped: `counter` sees exactly the first 10.
fn counts_exactly_while_attached(obj: &LoadedObject, link: bpfld::Link, counter: &str, trigger: impl Fn(usize)) {
    assert_eq!(global(obj, counter), 0, "{counter} before attaching");
    trigger(10);
    assert_eq!(global(obj, counter), 10, "{counter} while attached");
    drop(link);
    trigger(10);
    assert_eq!(global(obj, counter), 10, "{counter} after the link was dropped");
}

#[test]
fn tracepoints_attach_by_section_name() {
    if !require_kernel() {
        return;
    }
    ensure_tracefs();
    let obj = load_for_this_thread();
    // tracepoint/syscalls/sys_enter_getpgid and tp/syscalls/sys_exit_getpgid.
    for (prog, counter) in [("count_tp_enter", "tp_enter_hits"), ("count_tp_exit", "tp_exit_hits")] {
        let link = obj.program(prog).unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
        assert!(link.perf_event_fd().is_some());
        assert_eq!(link.is_bpf_link(), bpfld_sys::perf_link_supported());
        counts_exactly_while_attached(&obj, link, counter, getpgid_times);
    }
}

#[test]
fn tracepoint_attaches_explicitly_and_names_a_missing_one() {
    if !require_kernel() {
        return;
    }
    ensure_tracefs();
    let obj = load_for_this_thread();
    let prog = obj.program("count_tp_enter").unwrap();
    let link = prog.attach_tracepoint("syscalls", "sys_enter_getpgid").unwrap();
    getpgid_times(3);
    assert_eq!(global(&obj, "tp_enter_hits"), 3);
    // Detached explicitly: the event is disabled.
    link.detach().unwrap();
    getpgid_times(3);
    assert_eq!(global(&obj, "tp_enter_hits"), 3);

    let e = prog.attach_tracepoint("syscalls", "sys_enter_no_such_call").unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    let msg = e.to_string();
    assert!(msg.starts_with("program 'count_tp_enter': tracepoint 'syscalls/sys_enter_no_such_call': "), "{msg}");
    let e = prog.attach_tracepoint("..", "x").unwrap_err().to_string();
    assert!(e.contains("not a tracepoint name"), "{e}");
}

#[test]
fn uprobe_and_uretprobe_attach_by_section_name() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    // uprobe//proc/self/exe:bpfld_uprobe_target and its uretprobe.
    let entry = obj.program("count_uprobe").unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
    let exit = obj.program("count_uretprobe").unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
    call_target(&[5, 6, 7]);
    assert_eq!(global(&obj, "uprobe_hits"), 3);
    assert_eq!(global(&obj, "uretprobe_hits"), 3);
    assert_eq!(global(&obj, "uprobe_last_arg"), 7, "the entry probe sees the argument");
    assert_eq!(global(&obj, "uretprobe_last_ret"), 22, "the return probe sees the return value");
    drop(entry);
    drop(exit);
    call_target(&[8]);
    assert_eq!((global(&obj, "uprobe_hits"), global(&obj, "uretprobe_hits")), (3, 3));
}

#[test]
fn uprobe_attaches_explicitly_with_pid_and_ioctl_options() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    let prog = obj.program("count_explicit_uprobe").unwrap();
    let e = prog.attach().unwrap_err().to_string();
    assert!(e.contains("names no target: use attach_uprobe(binary, func, retprobe)"), "{e}");

    let exe = this_binary();
    let link = prog.attach_uprobe(&exe, "bpfld_uprobe_target", false).unwrap();
    counts_exactly_while_attached(&obj, link, "explicit_uprobe_hits", |n| call_target(&vec![1; n]));

    // Only another process: this one's calls are not seen.
    let other = ProbeOpts { pid: Some(1), ..Default::default() };
    let link = prog.attach_uprobe_with(&exe, Some("bpfld_uprobe_target"), &other).unwrap();
    call_target(&[1, 2]);
    assert_eq!(global(&obj, "explicit_uprobe_hits"), 10);
    drop(link);
    // Only this process, attached by ioctl instead of a BPF link.
    let own = ProbeOpts { pid: Some(std::process::id() as i32), force_ioctl_attach: true, ..Default::default() };
    let link = prog.attach_uprobe_with(&exe, Some("bpfld_uprobe_target"), &own).unwrap();
    assert!(!link.is_bpf_link());
    call_target(&[1, 2]);
    assert_eq!(global(&obj, "explicit_uprobe_hits"), 12);
    drop(link);
    call_target(&[1]);
    assert_eq!(global(&obj, "explicit_uprobe_hits"), 12);

    let e = prog.attach_uprobe(&exe, "no_such_function_bpfld", false).unwrap_err().to_string();
    assert!(e.contains("failed to find symbol 'no_such_function_bpfld'"), "{e}");
}

/// Whether this kernel has the kprobe PMU; if not, checks that attaching
/// says so and prints why the test is skipped.
fn kprobes_available(obj: &LoadedObject) -> bool {
    if Path::new("/sys/bus/event_source/devices/kprobe").exists() {
        return true;
    }
    let e = obj.program("count_kprobe").unwrap().attach().unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(
            "program 'count_kprobe': kprobe '__x64_sys_getpgid+0x0': failed to determine kprobe perf type: the kernel has no kprobe PMU"
        ),
        "{msg}"
    );
    bpfld_testdata::machine_limit(
        "",
        &format!("this kernel has no kprobe PMU (built without CONFIG_KPROBES), kprobes cannot attach: {msg}"),
    );
    false
}

#[test]
fn kprobes_and_kretprobes_attach_by_section_name() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    if !kprobes_available(&obj) {
        return;
    }
    for (prog, counter) in [("count_kprobe", "kprobe_hits"), ("count_kretprobe", "kretprobe_hits"), ("count_ksyscall", "ksyscall_hits")] {
        let link = obj.program(prog).unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
        counts_exactly_while_attached(&obj, link, counter, getpgid_times);
    }
}

#[test]
fn kprobe_attaches_explicitly() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    let prog = obj.program("count_explicit_kprobe").unwrap();
    let e = prog.attach().unwrap_err().to_string();
    assert!(e.contains("names no target: use attach_kprobe(func, retprobe)"), "{e}");
    if !kprobes_available(&obj) {
        return;
    }
    let link = prog.attach_kprobe("__x64_sys_getpgid", false).unwrap();
    counts_exactly_while_attached(&obj, link, "explicit_kprobe_hits", getpgid_times);
    let e = prog.attach_kprobe("no_such_kernel_function_bpfld", false).unwrap_err().to_string();
    assert!(e.contains("kprobe 'no_such_kernel_function_bpfld+0x0': failed to create perf event"), "{e}");
}
