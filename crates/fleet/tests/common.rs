//! Shared helpers of the fleet crate's tests.
#![allow(dead_code, unused_imports)]

use bpfld_fleet::load_target;
use bpfld_obj::{Object, Target};
pub use bpfld_testdata::{bpftool_id, kernel_btf_dir, test_object, K61, K612, K618};

/// The target of a shared kernel (its .btf with sibling config and
/// modules).
pub fn target(dir: &std::path::Path, release: &str) -> Target {
    load_target(&dir.join(format!("{release}.btf"))).unwrap_or_else(|e| panic!("{release}: {e}"))
}

/// A committed test object.
pub fn object(name: &str) -> Object {
    let path = test_object(name);
    let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Object::parse(name, &data).unwrap_or_else(|e| panic!("open {name}: {e}"))
}
