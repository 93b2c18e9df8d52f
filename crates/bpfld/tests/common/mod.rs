//! Helpers shared by the loader's kernel tests.
#![allow(dead_code)]

use std::path::PathBuf;

use bpfld::{LoadOptions, LoadedObject, OpenObject};

/// `tests/bpf/obj/<name>.bpf.o` of the checkout.
pub fn obj_path(name: &str) -> PathBuf {
    bpfld_testdata::test_object(name)
}

pub fn open(name: &str) -> OpenObject {
    OpenObject::open(obj_path(name)).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

pub fn load(name: &str) -> LoadedObject {
    open(name).load().unwrap_or_else(|e| panic!("load {name}: {e}"))
}

pub fn keep_going() -> LoadOptions {
    LoadOptions { keep_going: true, ..Default::default() }
}

/// Runs a `SEC("syscall")` program once and returns its return value.
pub fn run_syscall(obj: &LoadedObject, prog: &str) -> u32 {
    let p = obj.program(prog).unwrap_or_else(|e| panic!("{e}"));
    p.test_run(&Default::default()).unwrap_or_else(|e| panic!("test run {prog}: {e}")).retval
}

/// A minimal Ethernet + IPv4 frame for XDP and tc test runs.
pub fn packet() -> Vec<u8> {
    let mut p = vec![0u8; 64];
    p[12] = 0x08; // ethertype IPv4
    p[14] = 0x45;
    p
}

/// The value bytes as a native u64.
pub fn u64_of(v: &[u8]) -> u64 {
    u64::from_ne_bytes(v[..8].try_into().unwrap())
}

pub fn u32_of(v: &[u8]) -> u32 {
    u32::from_ne_bytes(v[..4].try_into().unwrap())
}
