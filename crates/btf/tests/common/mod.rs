//! Shared helpers of the BTF crate's integration tests.
#![allow(dead_code, unused_imports)]

use std::path::PathBuf;
use std::sync::Arc;

use bpfld_btf::Btf;
pub use bpfld_testdata::{bpftool, kernel_btf_dir};

pub fn load(path: &std::path::Path) -> Btf {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Btf::parse(Arc::new(bytes)).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

pub fn load_split(path: &std::path::Path, base: &Btf) -> Btf {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    Btf::parse_split(Arc::new(bytes), base).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// The kernels in shared/btf: (release, vmlinux BTF path, modules dir).
pub fn kernels(dir: &std::path::Path) -> Vec<(String, PathBuf, PathBuf)> {
    let mut v = Vec::new();
    for rel in ["6.1.0-56-amd64", "6.12.117+deb12-amd64", "6.18-host"] {
        v.push((rel.to_string(), dir.join(format!("{rel}.btf")), dir.join(rel).join("modules")));
    }
    v
}
