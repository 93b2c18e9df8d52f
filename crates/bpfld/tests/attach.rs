//! Attaching programs through links: each program counts events of the
//! test's own thread (a `.rodata` setting given before the load), so the
//! counts are exact even with other tests running.

mod common;

use std::net::UdpSocket;

use bpfld::LoadedObject;
use bpfld_testdata::require_kernel;
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

fn load_for_this_thread(name: &str) -> LoadedObject {
    let mut open = open(name);
    open.set_global("target_tid", &gettid().to_ne_bytes()).unwrap();
    open.load_with(&keep_going()).unwrap_or_else(|e| panic!("{e}"))
}

/// Attaches `prog`, makes 10 syscalls, detaches, makes 10 more: the counter
/// `global` sees at least the first 10 and none of the others (the close()
/// that drops the link is itself seen).
fn counts_while_attached(obj: &LoadedObject, prog: &str, global: &str) {
    let link = obj.program(prog).unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
    getpgid_times(10);
    let seen = obj.read_global_u64(global).unwrap();
    assert!(seen >= 10, "{prog}: {seen} syscalls seen, at least 10 made");
    drop(link);
    let after_close = obj.read_global_u64(global).unwrap();
    getpgid_times(10);
    assert_eq!(obj.read_global_u64(global).unwrap(), after_close, "{prog}: counted after its link was dropped");
}

#[test]
fn raw_tracepoint_attaches_by_section_name() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread("loader_attach");
    counts_while_attached(&obj, "count_raw_tp", "raw_tp_hits");
}

#[test]
fn btf_tracepoint_attaches_by_the_btf_id_found_at_load() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread("loader_attach");
    let info = bpfld_sys::prog_info(obj.program("count_tp_btf").unwrap().fd().unwrap()).unwrap();
    assert_ne!(info.attach_btf_id, 0, "loaded with the BTF id of btf_trace_sys_enter");
    counts_while_attached(&obj, "count_tp_btf", "tp_btf_hits");
}

#[test]
fn xdp_attaches_to_loopback_and_sees_packets() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread("loader_attach");
    let prog = obj.program("count_xdp").unwrap();
    let e = prog.attach().unwrap_err().to_string();
    assert!(e.contains("count_xdp") && e.contains("XDP"), "{e}");
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let lo = 1; // the loopback interface's index
    let link = prog.attach_xdp(lo, 0).unwrap_or_else(|e| panic!("{e}"));
    let mut buf = [0u8; 16];
    for _ in 0..3 {
        tx.send_to(b"bpfld", rx.local_addr().unwrap()).unwrap();
        rx.recv(&mut buf).unwrap();
    }
    let seen = obj.read_global_u64("xdp_packets").unwrap();
    assert!(seen >= 3, "{seen} packets seen, 3 sent");
    // XDP links can be detached explicitly (raw tracepoint links cannot).
    link.detach().unwrap();
    tx.send_to(b"bpfld", rx.local_addr().unwrap()).unwrap();
    rx.recv(&mut buf).unwrap();
    // Other traffic on lo may have been counted before, none after.
    assert_eq!(obj.read_global_u64("xdp_packets").unwrap(), seen);
}

#[test]
fn fentry_attaches_where_the_kernel_allows_trampolines() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread("loader_fentry");
    let prog = obj.program("count_getpgid").unwrap();
    if let Some(e) = prog.error() {
        // Some kernels (this project's CI VM among them) refuse every
        // trampoline program (fentry, fexit, lsm) with EPERM before the
        // verifier runs; libbpf gets the same (see the differential test).
        assert_eq!(e.errno, Some(1), "{e}");
        bpfld_testdata::machine_limit("", &format!("this kernel refuses fentry programs (the host's policy): {e}"));
        return;
    }
    let link = prog.attach().unwrap();
    getpgid_times(7);
    assert_eq!(obj.read_global_u64("fentry_hits").unwrap(), 7);
    drop(link);
}
