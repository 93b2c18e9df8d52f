//! What the kernel feature probes add to a load: bpfld's probes (every
//! feature libbpf 1.7 probes, run once per process and cached) against the
//! load of a small object, and libbpf's load of the same object, in one
//! run.
//!
//! `cargo bench -p bpfld-reference --bench probes [-- ITERATIONS]` (root or
//! CAP_BPF; default 30). Medians of:
//!
//! - probes: `bpfld::features::probe_features()`, uncached (what the first
//!   load of a process pays);
//! - bpfld load without probes: `OpenObject::from_bytes` + `load` + drop,
//!   the features already cached (every later load);
//! - bpfld load with probes: both, as the first load of a process;
//! - libbpf: `bpf_object__open_mem` + `bpf_object__load` + close, its own
//!   probes cached after the warm-up.
//!
//! Goal: probes add at most 2 ms.

#[path = "common/timing.rs"]
mod timing;
use std::ffi::CString;
use std::hint::black_box;
use std::time::Duration;
use timing::time;

use bpfld::OpenObject;

const OBJECT: &str = "loader_tailcall";

fn libbpf_load(name: &CString, bytes: &[u8]) {
    let mut opts =
        libbpf_sys::bpf_object_open_opts { sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _, ..Default::default() };
    opts.object_name = name.as_ptr();
    // SAFETY: bytes and opts outlive the object, which is closed below.
    let obj = unsafe { libbpf_sys::bpf_object__open_mem(bytes.as_ptr().cast(), bytes.len() as _, &opts) };
    assert!(!obj.is_null(), "libbpf open: {}", std::io::Error::last_os_error());
    // SAFETY: obj is open and not loaded.
    let r = unsafe { libbpf_sys::bpf_object__load(obj) };
    // SAFETY: obj is closed once.
    unsafe { libbpf_sys::bpf_object__close(obj) };
    assert_eq!(r, 0, "libbpf load");
}

fn bpfld_load(bytes: &[u8]) {
    let loaded = OpenObject::from_bytes(OBJECT, bytes).unwrap().load().unwrap();
    drop(black_box(loaded));
}

fn main() {
    if let Err(e) = bpfld_sys::bpf_usable() {
        eprintln!("skipped: bpf() not usable: {e}");
        return;
    }
    let iters: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    // SAFETY: no print callback: libbpf's warnings are not the point here.
    unsafe { libbpf_sys::libbpf_set_print(None) };
    let bytes = std::fs::read(bpfld_testdata::test_object(OBJECT)).unwrap();
    let cname = CString::new(OBJECT).unwrap();
    // Warm-up: both loaders' once-per-process work (probes, caches).
    bpfld_load(&bytes);
    libbpf_load(&cname, &bytes);

    let probes = time(iters, || {
        black_box(bpfld::features::probe_features());
    });
    let load = time(iters, || bpfld_load(&bytes));
    let libbpf = time(iters, || libbpf_load(&cname, &bytes));
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let with = probes + load;
    println!("{OBJECT}, median of {iters}:");
    println!("  bpfld probes (all {} features)   {:8.3} ms", bpfld::Feature::ALL.len(), ms(probes));
    println!("  bpfld load without probes        {:8.3} ms", ms(load));
    println!("  bpfld load with probes (1st)     {:8.3} ms", ms(with));
    println!("  libbpf load (probes cached)      {:8.3} ms", ms(libbpf));
    println!("  probes add {:.3} ms (goal <= 2 ms); with probes / libbpf = {:.2}", ms(probes), ms(with) / ms(libbpf));
}
