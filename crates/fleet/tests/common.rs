//! Shared helpers of the fleet crate's tests.
#![allow(dead_code)]

use std::path::PathBuf;

use bpfld_fleet::load_target;
use bpfld_obj::{Object, Target};

/// `shared/btf` beside the checkout. Missing data is a skip locally, a
/// failure where BPFLD_REQUIRE_KERNEL=1 (CI).
pub fn shared_btf_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BPFLD_SHARED_BTF") {
        return Some(PathBuf::from(p));
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/btf"), dir.join("../shared/btf")] {
            if cand.join("README.md").exists() {
                return Some(cand.canonicalize().unwrap_or(cand));
            }
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

pub const K61: &str = "6.1.0-56-amd64";
pub const K612: &str = "6.12.117+deb12-amd64";
pub const K618: &str = "6.18-host";

/// The target of a shared kernel (its .btf with sibling config and
/// modules).
pub fn target(dir: &std::path::Path, release: &str) -> Target {
    load_target(&dir.join(format!("{release}.btf"))).unwrap_or_else(|e| panic!("{release}: {e}"))
}

/// A committed test object.
pub fn object(name: &str) -> Object {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bpf/obj").join(format!("{name}.bpf.o"));
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Object::parse(name, &data).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

/// The id bpftool reports for `KIND 'name'` in a dump of `file` (with
/// `base` for split BTF): an independent reference for ids we resolve.
pub fn bpftool_id(file: &std::path::Path, base: Option<&std::path::Path>, kind: &str, name: &str) -> Option<u32> {
    let mut cmd = std::process::Command::new("bpftool");
    if let Some(b) = base {
        cmd.arg("-B").arg(b);
    }
    let out = cmd.arg("btf").arg("dump").arg("file").arg(file).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!("] {kind} '{name}' ");
    text.lines().find(|l| l.contains(&needle)).and_then(|l| l[1..l.find(']')?].parse().ok())
}
