//! `KernelFiles::vmlinux_btf` (libbpf's `btf_custom_path`, `bpfld load
//! --btf`): CO-RE relocations use the given BTF instead of the kernel's.
//! On the running kernel: the host's BTF reduced by `bpfld btf min` gives
//! the kernel's offsets and the right values read back; another kernel's
//! BTF gives that kernel's offsets (so the file is what was used).

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use bpfld::{KernelFiles, LoadOptions, LoadedObject};
use bpfld_btf::resolve::member_by_name;
use bpfld_btf::{Btf, Kind};
use bpfld_testdata::require_kernel;
use common::*;

fn pid_offset(btf: &Btf) -> u64 {
    let id = btf.find_first("task_struct", Kind::Struct).expect("task_struct");
    member_by_name(btf, id, "pid").unwrap().expect("pid").bit_offset / 8
}

fn load_with_btf(path: &std::path::Path) -> LoadedObject {
    let opts = LoadOptions {
        kernel_files: KernelFiles { vmlinux_btf: Some(path.to_path_buf()), ..Default::default() },
        keep_going: true,
        ..Default::default()
    };
    open("core_fields").load_with(&opts).unwrap_or_else(|e| panic!("load with --btf {}: {e}", path.display()))
}

fn run_fields(obj: &LoadedObject) {
    assert_eq!(run_syscall(obj, "fields"), 0);
}

#[test]
fn reduced_host_btf_relocates_as_the_kernels_own() {
    if !require_kernel() {
        return;
    }
    let host = Btf::parse(Arc::new(std::fs::read("/sys/kernel/btf/vmlinux").unwrap())).unwrap();
    let object = open("core_fields").object().clone();
    let min = bpfld_fleet::min_btf::min_btf(std::slice::from_ref(&object), std::path::Path::new("/sys/kernel/btf/vmlinux")).unwrap();
    assert!(min.bytes.len() < 64 * 1024, "{} bytes", min.bytes.len());
    let path = std::env::temp_dir().join(format!("bpfld-custom-btf-{}.btf", std::process::id()));
    std::fs::write(&path, &min.bytes).unwrap();
    let obj = load_with_btf(&path);
    for p in ["fields", "direct", "bitfields"] {
        let state = format!("{:?}", obj.program(p).unwrap().state());
        assert!(state.starts_with("Loaded"), "{p}: {state}");
    }
    run_fields(&obj);
    let pid = obj.read_global_u64("pid").unwrap() as i64;
    assert_eq!(pid, unsafe_free_gettid(), "task_struct.pid read through the reduced BTF's offsets");
    assert_eq!(obj.read_global_u64("pid_offset").unwrap(), pid_offset(&host));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn another_kernels_btf_gives_that_kernels_offsets() {
    if !require_kernel() {
        return;
    }
    let Some(shared) = bpfld_testdata::shared_btf_dir() else { return };
    let other: PathBuf = shared.join(format!("{}.btf", bpfld_testdata::K61));
    let other_btf = Btf::parse(Arc::new(std::fs::read(&other).unwrap())).unwrap();
    let host = Btf::parse(Arc::new(std::fs::read("/sys/kernel/btf/vmlinux").unwrap())).unwrap();
    assert_ne!(pid_offset(&other_btf), pid_offset(&host), "the test needs kernels that differ");
    let obj = load_with_btf(&other);
    run_fields(&obj);
    assert_eq!(obj.read_global_u64("pid_offset").unwrap(), pid_offset(&other_btf));
    // A direct load through a BTF pointer at 6.1's offset is refused by
    // this kernel's verifier: the wrong BTF was really used.
    let state = format!("{:?}", obj.program("direct").unwrap().state());
    assert!(state.contains("Failed"), "{state}");
}

/// The thread id, from /proc (no libc call needed).
fn unsafe_free_gettid() -> i64 {
    std::fs::read_link("/proc/thread-self").unwrap().to_string_lossy().rsplit('/').next().unwrap().parse().unwrap()
}
