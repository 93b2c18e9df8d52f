//! `vmlinux.h` generation: bpfld's `c_header` against libbpf 1.7's
//! `btf_dump` (what bpftool's `format c` runs), every type of the BTF
//! dumped into memory, in one run.
//!
//! `cargo bench -p bpfld-reference --bench c_header [-- FILE]` (default
//! `/sys/kernel/btf/vmlinux`). Prints medians and the bpfld/libbpf ratio.

#[path = "common/timing.rs"]
mod timing;
use std::ffi::{c_char, c_int, c_void, CString};
use std::hint::black_box;
use std::sync::Arc;
use timing::time;

use bpfld_btf::Btf;

unsafe extern "C" {
    // x86-64: a `va_list` argument is passed as a pointer to its tag.
    fn vsnprintf(s: *mut c_char, n: usize, fmt: *const c_char, ap: *mut libbpf_sys::__va_list_tag) -> c_int;
}

/// libbpf's printf callback: formats into a scratch buffer and appends to
/// the `Vec<u8>` behind `ctx`.
unsafe extern "C" fn append(ctx: *mut c_void, fmt: *const c_char, args: *mut libbpf_sys::__va_list_tag) {
    let out = unsafe { &mut *(ctx as *mut Vec<u8>) };
    let mut buf = [0u8; 4096];
    let n = unsafe { vsnprintf(buf.as_mut_ptr() as *mut c_char, buf.len(), fmt, args) };
    if n > 0 {
        out.extend_from_slice(&buf[..(n as usize).min(buf.len() - 1)]);
    }
}

fn libbpf_dump(btf: *const libbpf_sys::btf) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(4 << 20);
    unsafe {
        let d = libbpf_sys::btf_dump__new(btf, Some(append), &mut out as *mut Vec<u8> as *mut c_void, std::ptr::null());
        assert!(!d.is_null());
        for id in 1..libbpf_sys::btf__type_cnt(btf) {
            assert_eq!(libbpf_sys::btf_dump__dump_type(d, id), 0);
        }
        libbpf_sys::btf_dump__free(d);
    }
    out
}

fn main() {
    let path = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into());
    let bytes = Arc::new(std::fs::read(&path).expect("read BTF"));
    let cpath = CString::new(path.clone()).unwrap();
    let btf = Btf::parse(bytes).expect("parse");
    let lb = unsafe { libbpf_sys::btf__parse_raw(cpath.as_ptr()) };
    assert!(!lb.is_null());
    let iters = 11;

    let ours_text = bpfld_btf::c_header(&btf, None).unwrap();
    let theirs_text = libbpf_dump(lb);
    // The same declarations (ours adds the guard and pragmas around them).
    assert!(ours_text.contains(std::str::from_utf8(&theirs_text[..4096]).unwrap()), "outputs differ");

    let ours = time(iters, || {
        black_box(bpfld_btf::c_header(&btf, None).unwrap());
    });
    let theirs = time(iters, || {
        black_box(libbpf_dump(lb));
    });
    unsafe { libbpf_sys::btf__free(lb) };
    println!("vmlinux.h of {path} ({} types, {} bytes)", btf.type_count() - 1, ours_text.len());
    println!("  bpfld c_header        {:>9.2} ms", ours.as_secs_f64() * 1e3);
    println!("  libbpf 1.7 btf_dump   {:>9.2} ms", theirs.as_secs_f64() * 1e3);
    println!("  ratio bpfld/libbpf    {:>9.2}", ours.as_secs_f64() / theirs.as_secs_f64());
}
