//! Open arbitrary bytes as a BPF object and plan its load.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = bpfld_obj::Object::parse("fuzz", data) {
        let _ = bpfld_obj::plan::plan(&obj);
    }
});
