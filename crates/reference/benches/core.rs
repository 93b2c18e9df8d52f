//! CO-RE relocation: bpfld against libbpf 1.7 in one run.
//!
//! `cargo bench -p bpfld-reference --bench core [-- BTF]` (default
//! `/sys/kernel/btf/vmlinux`; needs root for libbpf). For each committed
//! `core_*` object that relocates: bpfld parses the kernel BTF, opens the
//! object and applies every CO-RE relocation (the name index is built on
//! the first candidate search); libbpf opens the object with the BTF as
//! `btf_custom_path` and runs `bpf_object__prepare`, whose relocation scans
//! every kernel type once per local type. libbpf's time also includes what
//! prepare does besides relocating (parsing the BTF, probing the kernel,
//! loading the object BTF, creating maps), so the ratio is an upper bound
//! of bpfld's share. Prints medians and the bpfld/libbpf ratio.

#[path = "common/timing.rs"]
mod timing;
use std::ffi::CString;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Arc;
use timing::time;

use bpfld_btf::Btf;
use bpfld_obj::core::relocate;
use bpfld_obj::{Object, Target};

fn main() {
    let path = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into());
    let btf_bytes = Arc::new(std::fs::read(&path).expect("read BTF"));
    let cbtf = CString::new(path.clone()).unwrap();
    let iters = 15;
    let objdir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bpf/obj");
    // SAFETY: silences libbpf's printing for the run (a null callback).
    unsafe { libbpf_sys::libbpf_set_print(None) };
    println!("CO-RE relocation against {path}, median of {iters}");
    for name in ["core_fields", "core_types", "core_module", "core_pruning"] {
        let file = objdir.join(format!("{name}.bpf.o"));
        let data = std::fs::read(&file).expect("read object");
        let mut relocations = 0;
        let ours = time(iters, || {
            let vmlinux = Btf::parse(btf_bytes.clone()).expect("parse BTF");
            let obj = Object::parse(name, &data).expect("open object");
            let mut insns: Vec<_> = obj.programs.iter().map(|p| p.insns.clone()).collect();
            let report = relocate(&obj, &Target::new("bench", vmlinux), &mut insns).expect("relocate");
            relocations = report.relocations.len();
            black_box(insns);
        });
        let cpath = CString::new(file.to_str().unwrap()).unwrap();
        let mut ok = true;
        let theirs = time(iters, || {
            let opts = libbpf_sys::bpf_object_open_opts {
                sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _,
                btf_custom_path: cbtf.as_ptr(),
                ..Default::default()
            };
            // SAFETY: libbpf calls on valid C strings; the object is closed.
            unsafe {
                let o = libbpf_sys::bpf_object__open_file(cpath.as_ptr(), &opts);
                ok &= libbpf_sys::libbpf_get_error(o as *const _) == 0 && libbpf_sys::bpf_object__prepare(o) == 0;
                libbpf_sys::bpf_object__close(o);
            }
        });
        if !ok {
            println!("{name:>14}: libbpf could not prepare it (not root?); bpfld {ours:?} for {relocations} relocations");
            continue;
        }
        println!(
            "{name:>14}: {relocations:3} relocations  bpfld {:>9.3} ms  libbpf {:>9.3} ms  ratio {:.3}",
            ours.as_secs_f64() * 1e3,
            theirs.as_secs_f64() * 1e3,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
}
