//! Open + load of the same objects: bpfld against libbpf 1.7 in one run,
//! user space separated from the kernel's work.
//!
//! `cargo bench -p bpfld-reference --bench load [-- ITERATIONS]` (root or
//! CAP_BPF; default 30 iterations). For every object of `tests/bpf/obj`
//! that both loaders load completely, the median of:
//!
//! - libbpf: `bpf_object__open_mem` + `bpf_object__load` + `close`;
//! - bpfld: `OpenObject::from_bytes` + `load_with` (target, plan, load) +
//!   drop;
//! - bpfld's kernel time: the time spent inside its `bpf()` calls
//!   (`BTF_LOAD`, `MAP_CREATE` and map setup, `PROG_LOAD`), measured around
//!   each call ([`bpfld::KernelTime`]).
//!
//! User space = total - kernel time. libbpf's kernel time cannot be measured
//! from outside its calls, so it is taken to be bpfld's: both hand the
//! kernel the same instructions, maps and BTF (the `load_differential` test
//! checks that). libbpf's feature probes run once per process (warm-up) and
//! are not counted; neither is bpfld's one-time parse of vmlinux BTF, which
//! it keeps for the process (printed separately), where libbpf parses it
//! for every object that needs it. Objects whose time is mostly the
//! kernel's (map-in-map updates wait for an RCU grace period) make the
//! estimate noise, so the summary ratio leaves out objects where bpfld's
//! kernel time is over half of libbpf's total. The ratio printed is bpfld
//! user / libbpf user (goal: at most 0.70).

#[path = "common/timing.rs"]
mod timing;
use std::ffi::CString;
use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use timing::median;

use bpfld::{LoadOptions, OpenObject};

struct Obj {
    name: String,
    cname: CString,
    bytes: Vec<u8>,
}

fn libbpf_load(o: &Obj) -> Result<Duration, String> {
    let mut opts =
        libbpf_sys::bpf_object_open_opts { sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _, ..Default::default() };
    opts.object_name = o.cname.as_ptr();
    let t = Instant::now();
    // SAFETY: bytes and opts outlive the object, which is closed below.
    let obj = unsafe { libbpf_sys::bpf_object__open_mem(o.bytes.as_ptr().cast(), o.bytes.len() as _, &opts) };
    if obj.is_null() {
        return Err(format!("open: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: obj is open and not loaded.
    let r = unsafe { libbpf_sys::bpf_object__load(obj) };
    // SAFETY: obj is closed once.
    unsafe { libbpf_sys::bpf_object__close(obj) };
    let d = t.elapsed();
    if r != 0 {
        return Err(format!("load: {}", std::io::Error::from_raw_os_error(-r)));
    }
    Ok(d)
}

/// (total, kernel, target, plan).
fn bpfld_load(o: &Obj) -> Result<(Duration, Duration, Duration, Duration), String> {
    let t = Instant::now();
    let open = OpenObject::from_bytes(&o.name, &o.bytes).map_err(|e| e.to_string())?;
    let loaded = open.load_with(&LoadOptions::default()).map_err(|e| e.to_string())?;
    let kernel = loaded.kernel_time().total();
    let stats = loaded.stats();
    drop(black_box(loaded));
    Ok((t.elapsed(), kernel, stats.target, stats.plan))
}

fn main() {
    if let Err(e) = bpfld_sys::bpf_usable() {
        eprintln!("skipped: bpf() not usable: {e}");
        return;
    }
    let iters: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(30);
    // SAFETY: silences libbpf's messages (refusals are expected while
    // choosing the objects).
    unsafe { libbpf_sys::libbpf_set_print(None) };
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bpf/obj");
    let mut paths: Vec<PathBuf> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "o")).collect();
    paths.sort();

    let mut objs = Vec::new();
    for p in paths {
        let name = bpfld_obj::object::object_name_from_path(&p.to_string_lossy());
        let o = Obj { cname: CString::new(name.clone()).unwrap(), name, bytes: std::fs::read(&p).unwrap() };
        let file = p.file_name().unwrap().to_string_lossy().to_string();
        // Warm-up, and only objects both load completely.
        match (libbpf_load(&o), bpfld_load(&o)) {
            (Ok(_), Ok(_)) => objs.push((file, o)),
            (l, b) => println!("skip {file}: libbpf {:?}, bpfld {:?}", l.err(), b.err()),
        }
    }

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    // What bpfld does once per process (already done by the warm-up
    // loads), timed afresh.
    let t = Instant::now();
    let vmlinux = bpfld::kernel_target::vmlinux_btf(std::path::Path::new(bpfld::kernel_target::VMLINUX_BTF)).unwrap();
    let parse = t.elapsed();
    let t = Instant::now();
    vmlinux.build_index();
    let index = t.elapsed();
    println!("\nbpfld, once per process: vmlinux BTF map+parse {:.3} ms, name index {:.3} ms", ms(parse), ms(index));
    println!("\nopen + load, median of {iters} runs, ms");
    println!(
        "{:<28} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9} {:>9} {:>7}",
        "object", "libbpf", "bpfld", "kernel", "libbpf-us", "bpfld-us", "target", "plan", "ratio"
    );
    let (mut sum_lib_us, mut sum_our_us, mut sum_lib, mut sum_our, mut sum_k) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut meas_lib_us, mut meas_our_us, mut left_out) = (0.0, 0.0, Vec::new());
    for (file, o) in &objs {
        let (mut lib, mut tot, mut ker, mut tgt, mut pln) = (vec![], vec![], vec![], vec![], vec![]);
        for _ in 0..iters {
            // Interleaved, so drift affects both alike.
            lib.push(libbpf_load(o).unwrap());
            let (t, k, tg, pl) = bpfld_load(o).unwrap();
            tot.push(t);
            ker.push(k);
            tgt.push(tg);
            pln.push(pl);
        }
        let (lib, tot, ker) = (ms(median(lib)), ms(median(tot)), ms(median(ker)));
        let (lib_us, our_us) = ((lib - ker).max(0.0), (tot - ker).max(0.0));
        sum_lib += lib;
        sum_our += tot;
        sum_k += ker;
        sum_lib_us += lib_us;
        sum_our_us += our_us;
        if ker > lib / 2.0 {
            left_out.push(file.trim_end_matches(".bpf.o").to_string());
        } else {
            meas_lib_us += lib_us;
            meas_our_us += our_us;
        }
        println!(
            "{:<28} {:>9.3} {:>9.3} {:>9.3} {:>10.3} {:>9.3} {:>9.3} {:>9.3} {:>7.3}",
            file.trim_end_matches(".bpf.o"),
            lib,
            tot,
            ker,
            lib_us,
            our_us,
            ms(median(tgt)),
            ms(median(pln)),
            our_us / lib_us
        );
    }
    println!(
        "{:<28} {:>9.3} {:>9.3} {:>9.3} {:>10.3} {:>9.3} {:>9} {:>9} {:>7.3}",
        "all",
        sum_lib,
        sum_our,
        sum_k,
        sum_lib_us,
        sum_our_us,
        "",
        "",
        sum_our_us / sum_lib_us
    );
    println!(
        "\nuser space: bpfld {:.3} ms, libbpf {:.3} ms: ratio {:.3} (goal <= 0.70), leaving out kernel-dominated {:?}",
        meas_our_us,
        meas_lib_us,
        meas_our_us / meas_lib_us,
        left_out
    );
    println!("all objects: user space ratio {:.3}, totals ratio {:.3}", sum_our_us / sum_lib_us, sum_our / sum_lib);
    println!("(kernel = bpfld's time inside bpf(); libbpf-us = libbpf total - that kernel time; target and plan are parts of bpfld-us)");
}
