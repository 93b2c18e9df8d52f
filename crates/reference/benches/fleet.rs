//! The fleet check against the floor of reading the kernels' BTF.
//!
//! `cargo bench -p bpfld-reference --bench fleet [-- OBJECT]` (default
//! `core_fields`). One object against 1, 10, 100 and 1,000 targets made of
//! links to the shared kernels (each with its config and module BTF), in a
//! temporary directory. Measured in one run, single-threaded unless said:
//! - floor: reading every target's vmlinux BTF file from the page cache
//!   into a buffer (`cat FILES > /dev/null` is timed too);
//! - check: `bpfld_fleet::check_matrix` with targeted BTF views (what
//!   `bpfld check` does), and with the full parse + index for comparison.
//!
//! Prints the check/floor ratio (goal: at most 2 for 1,000 targets), the
//! same for the check on every core against `cat` and against reading
//! with as many threads, and the process's peak memory after each size
//! (flat: targets are dropped).

#[path = "common/timing.rs"]
mod timing;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bpfld_fleet::check::{check_matrix, CheckOptions};
use bpfld_fleet::TargetFiles;
use bpfld_obj::Object;
use bpfld_testdata::{shared_btf_dir, test_object, SHARED_KERNELS};

/// `n` targets in `dir`: `kNNNN.btf`, `kNNNN.config` and `kNNNN/modules`
/// linked to the shared kernels in turn.
fn make_targets(shared: &Path, dir: &Path, n: usize) -> Vec<(PathBuf, TargetFiles)> {
    (0..n)
        .map(|i| {
            let k = SHARED_KERNELS[i % SHARED_KERNELS.len()];
            let name = format!("k{i:04}");
            let btf = dir.join(format!("{name}.btf"));
            if !btf.exists() {
                std::os::unix::fs::symlink(shared.join(format!("{k}.btf")), &btf).unwrap();
                let config = shared.join(format!("{k}.config"));
                if config.exists() {
                    std::os::unix::fs::symlink(config, dir.join(format!("{name}.config"))).unwrap();
                }
                let modules = shared.join(k).join("modules");
                if modules.exists() {
                    std::fs::create_dir_all(dir.join(&name)).unwrap();
                    std::os::unix::fs::symlink(modules, dir.join(&name).join("modules")).unwrap();
                }
            }
            let files = TargetFiles::locate(&btf).unwrap();
            (btf, files)
        })
        .collect()
}

/// `targets` with each shared kernel's record index (written once into
/// `dir`) as theirs: what `bpfld btf index` leaves beside each kernel.
fn with_indexes(shared: &Path, dir: &Path, targets: &[(PathBuf, TargetFiles)]) -> Vec<(PathBuf, TargetFiles)> {
    let indexes: Vec<PathBuf> = SHARED_KERNELS
        .iter()
        .map(|k| {
            let link = dir.join(format!("index-{k}.btf"));
            if !link.exists() {
                std::os::unix::fs::symlink(shared.join(format!("{k}.btf")), &link).unwrap();
            }
            bpfld_fleet::record_index::write_record_index(&TargetFiles::locate(&link).unwrap()).unwrap().path
        })
        .collect();
    targets
        .iter()
        .enumerate()
        .map(|(i, (p, f))| (p.clone(), TargetFiles { record_index: Some(indexes[i % indexes.len()].clone()), ..f.clone() }))
        .collect()
}

/// Reads every target's vmlinux BTF into one reused buffer: the floor.
fn read_all(targets: &[(PathBuf, TargetFiles)], buf: &mut [u8]) -> usize {
    let mut total = 0;
    for (_, f) in targets {
        let mut file = std::fs::File::open(&f.vmlinux).unwrap();
        loop {
            let n = file.read(buf).unwrap();
            if n == 0 {
                break;
            }
            total += n;
        }
    }
    total
}

/// [`read_all`] with the targets shared out among `threads` threads, each
/// with its own buffer: the floor for a check that uses every core.
fn read_all_parallel(targets: &[(PathBuf, TargetFiles)], threads: usize) -> usize {
    let chunk = targets.len().div_ceil(threads).max(1);
    std::thread::scope(|s| {
        let workers: Vec<_> = targets.chunks(chunk).map(|part| s.spawn(move || read_all(part, &mut vec![0u8; 128 * 1024]))).collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

fn cat_all(targets: &[(PathBuf, TargetFiles)]) {
    let st = Command::new("cat").args(targets.iter().map(|(_, f)| &f.vmlinux)).stdout(std::process::Stdio::null()).status().unwrap();
    assert!(st.success());
}

/// Peak resident memory of this process so far (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok()).unwrap_or(0)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// The fastest of `n` runs: on a shared machine the least disturbed one.
fn fastest(n: usize, mut f: impl FnMut()) -> Duration {
    (0..n)
        .map(|_| {
            let t = std::time::Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

/// Where the time of one target goes (the largest shared kernel).
fn breakdown(shared: &Path, objects: &[Object]) {
    use bpfld_btf::Btf;
    use std::sync::Arc;
    let k = SHARED_KERNELS[SHARED_KERNELS.len() - 1];
    let path = shared.join(format!("{k}.btf"));
    let files = TargetFiles::locate(&path).unwrap();
    let needs = bpfld_fleet::check::target_needs(objects);
    let mut buf = vec![0u8; 128 * 1024];
    let bytes = Arc::new(std::fs::read(&path).unwrap());
    let n = 31;
    let rows: Vec<(&str, Duration)> = vec![
        (
            "read() the file (floor)",
            fastest(n, || {
                std::hint::black_box(read_all(&[(path.clone(), files.clone())], &mut buf));
            }),
        ),
        (
            "mmap + touch each page + munmap",
            fastest(n, || {
                let m = bpfld_sys::FileMap::open(&path).unwrap();
                let s: &[u8] = m.as_ref();
                std::hint::black_box(s.iter().step_by(4096).fold(0u8, |a, b| a ^ b));
            }),
        ),
        (
            "targeted parse (bytes in memory)",
            fastest(n, || {
                std::hint::black_box(Btf::parse_targeted(bytes.clone(), &needs.btf).unwrap());
            }),
        ),
        (
            "full parse (bytes in memory)",
            fastest(n, || {
                std::hint::black_box(Btf::parse(bytes.clone()).unwrap());
            }),
        ),
        (
            "full parse + index (bytes in memory)",
            fastest(n, || {
                let b = Btf::parse(bytes.clone()).unwrap();
                b.build_index();
                std::hint::black_box(b);
            }),
        ),
        (
            "config: read + parse_for",
            fastest(n, || {
                let text = std::fs::read_to_string(files.config.as_ref().unwrap()).unwrap();
                std::hint::black_box(bpfld_obj::kconfig::Kconfig::parse_for(&text, &needs.config).unwrap());
            }),
        ),
        (
            "config: read + parse",
            fastest(n, || {
                let text = std::fs::read_to_string(files.config.as_ref().unwrap()).unwrap();
                std::hint::black_box(bpfld_obj::kconfig::Kconfig::parse(&text).unwrap());
            }),
        ),
        (
            "vmlinux only, targeted (file)",
            fastest(n, || {
                let files = TargetFiles { vmlinux: files.vmlinux.clone(), ..Default::default() };
                std::hint::black_box(bpfld_fleet::release_dir::load_files_for(&files, Some(&needs)).unwrap());
            }),
        ),
        (
            "whole target, targeted (files)",
            fastest(n, || {
                std::hint::black_box(bpfld_fleet::release_dir::load_files_for(&files, Some(&needs)).unwrap());
            }),
        ),
    ];
    let dir = std::env::temp_dir().join(format!("bpfld-bench-breakdown-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // with_indexes gives target i the index of shared kernel i % 3; this
    // kernel is the last of them.
    let copies = vec![(path.clone(), files.clone()); SHARED_KERNELS.len()];
    let (_, with_index) = with_indexes(shared, &dir, &copies).pop().unwrap();
    let with_index_row = fastest(n, || {
        std::hint::black_box(bpfld_fleet::release_dir::load_files_for(&with_index, Some(&needs)).unwrap());
    });
    let _ = std::fs::remove_dir_all(&dir);
    let target = bpfld_fleet::release_dir::load_files_for(&files, Some(&needs)).unwrap();
    let check = fastest(n, || {
        for o in objects {
            std::hint::black_box(bpfld_fleet::check::check_target(o, &target, path.clone(), &CheckOptions::default()));
        }
    });
    println!("one target ({k}), fastest of {n}:");
    let extra = [("whole target with its record index (files)", with_index_row), ("check the objects against the loaded target", check)];
    for (what, d) in rows.iter().chain(extra.iter()) {
        println!("  {what:<45} {:>8.3} ms", d.as_secs_f64() * 1e3);
    }
}

fn main() {
    let name = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_else(|| "core_fields".into());
    let shared = shared_btf_dir().expect("shared kernels");
    let obj = Object::parse(&name, &std::fs::read(test_object(&name)).unwrap()).unwrap();
    let objects = [obj];
    breakdown(&shared, &objects);
    if std::env::args().any(|a| a == "--breakdown") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("bpfld-bench-fleet-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut buf = vec![0u8; 128 * 1024];
    let quiet = |_: usize, _: usize, _: &str| {};
    let one = CheckOptions { threads: 1, ..Default::default() };
    let all_cores = CheckOptions::default();
    let full = CheckOptions { threads: 1, full_btf: true, ..Default::default() };
    println!("object {name}; targets cycle through {}", SHARED_KERNELS.join(", "));
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    println!(
        "| targets | MB read | floor: read() | floor: cat | check, targeted | ratio to read() | ratio to cat | check, {cores} cores | ratio to cat | floor: read(), {cores} threads | ratio, {cores} on {cores} | check with record indexes | ratio to read() | check, full index | peak RSS |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for n in [1usize, 10, 100, 1000] {
        let targets = make_targets(&shared, &dir, n);
        let iters = if n >= 1000 { 3 } else { 7 };
        // Warm the page cache and check that every target loads.
        let bytes = read_all(&targets, &mut buf);
        let verdicts = check_matrix(&objects, &targets, &one, &quiet);
        assert!(verdicts.iter().all(|v| v[0].error.is_none()), "{:?}", verdicts[0][0].error);
        let floor = timing::time(iters, || {
            std::hint::black_box(read_all(&targets, &mut buf));
        });
        let cat = timing::time(iters, || cat_all(&targets));
        let check = timing::time(iters, || {
            std::hint::black_box(check_matrix(&objects, &targets, &one, &quiet));
        });
        let check_mt = timing::time(iters, || {
            std::hint::black_box(check_matrix(&objects, &targets, &all_cores, &quiet));
        });
        let floor_mt = timing::time(iters, || {
            std::hint::black_box(read_all_parallel(&targets, cores));
        });
        let indexed = with_indexes(&shared, &dir, &targets);
        let check_indexed = timing::time(iters, || {
            std::hint::black_box(check_matrix(&objects, &indexed, &one, &quiet));
        });
        let check_full = timing::time(if n >= 1000 { 1 } else { iters.min(3) }, || {
            std::hint::black_box(check_matrix(&objects, &targets, &full, &quiet));
        });
        println!(
            "| {n} | {:.0} | {} | {} | {} | **{:.2}** | {:.2} | {} | **{:.2}** | {} | {:.2} | {} | **{:.2}** | {} | {} MiB |",
            bytes as f64 / 1e6,
            ms(floor),
            ms(cat),
            ms(check),
            check.as_secs_f64() / floor.as_secs_f64(),
            check.as_secs_f64() / cat.as_secs_f64(),
            ms(check_mt),
            check_mt.as_secs_f64() / cat.as_secs_f64(),
            ms(floor_mt),
            check_mt.as_secs_f64() / floor_mt.as_secs_f64(),
            ms(check_indexed),
            check_indexed.as_secs_f64() / floor.as_secs_f64(),
            ms(check_full),
            peak_rss_kib() / 1024,
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
