//! Shared helpers of the BTF crate's integration tests.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use bpfld_btf::Btf;

/// `shared/btf` beside the checkout (CI clones the repo next to `shared/`).
/// Missing data is a skip locally, a failure where BPFLD_REQUIRE_KERNEL=1.
pub fn shared_btf_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BPFLD_SHARED_BTF") {
        return Some(PathBuf::from(p));
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        let cand = dir.join("shared/btf");
        if cand.join("README.md").exists() {
            return Some(cand);
        }
        let sib = dir.join("../shared/btf");
        if sib.join("README.md").exists() {
            return Some(sib.canonicalize().unwrap_or(sib));
        }
        if !dir.pop() {
            break;
        }
    }
    if std::env::var("BPFLD_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!("shared/btf not found beside the checkout and BPFLD_REQUIRE_KERNEL=1");
    }
    eprintln!("skipped: shared/btf not found beside the checkout");
    None
}

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

pub fn bpftool() -> Option<PathBuf> {
    for p in ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"] {
        if std::path::Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    if std::env::var("BPFLD_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!("bpftool not installed and BPFLD_REQUIRE_KERNEL=1");
    }
    eprintln!("skipped: bpftool not installed");
    None
}
