//! Open arbitrary bytes as a BPF object and plan its load, without a target
//! and against the running kernel's BTF (read once): errors, never panics.
#![no_main]

use std::sync::{Arc, OnceLock};

use bpfld_btf::Btf;
use bpfld_obj::{plan::plan, Target};
use libfuzzer_sys::fuzz_target;

fn target() -> Option<&'static Target> {
    static T: OnceLock<Option<Target>> = OnceLock::new();
    T.get_or_init(|| {
        let bytes = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
        Some(Target::new("fuzz", Btf::parse(Arc::new(bytes)).ok()?))
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = bpfld_obj::Object::parse("fuzz", data) {
        let _ = plan(&obj, None, &Default::default());
        if let Some(t) = target() {
            let _ = plan(&obj, Some(t), &Default::default());
        }
    }
});
