//! BTF parse + index and name lookups: bpfld against libbpf 1.7 in one run.
//!
//! `cargo bench -p bpfld-reference --bench btf [-- FILE]` (default
//! `/sys/kernel/btf/vmlinux`). Prints medians and the bpfld/libbpf ratio.
//!
//! Also whole processes: `bpfld btf find FILE NAME` against a tiny binary
//! that does libbpf's `btf__parse` + `btf__find_by_name` (the example
//! `libbpf_btf_find`), each run from exec to exit; both are built first
//! (`cargo build --release`) if missing.

#[path = "common/timing.rs"]
mod timing;
use std::ffi::CString;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use timing::time;

use bpfld_btf::{Btf, Kind};

/// Names of 1,000 lookups: the kernel's kfuncs (FUNCs with a `bpf_kfunc`
/// decl tag), cycled; plain FUNC names if the kernel has no tags.
fn kfunc_names(btf: &Btf) -> Vec<String> {
    let mut names: Vec<String> = btf
        .own_types()
        .filter(|t| t.kind() == Kind::DeclTag && t.name().ok() == Some("bpf_kfunc"))
        .filter_map(|t| btf.type_by_id(t.type_ref()?).ok()?.name().ok().map(str::to_string))
        .collect();
    if names.is_empty() {
        names = btf.own_types().filter(|t| t.kind() == Kind::Func).take(1000).filter_map(|t| t.name().ok().map(str::to_string)).collect();
    }
    names.sort();
    names.dedup();
    names.iter().cycle().take(1000).cloned().collect()
}

/// The release directory the benchmark runs from (`target/release`).
fn release_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.parent().and_then(Path::parent).expect("target/release/deps/btf-*").to_path_buf()
}

/// The `bpfld` binary and the libbpf example, built if missing.
fn process_pair() -> (PathBuf, PathBuf) {
    let dir = release_dir();
    let (ours, theirs) = (dir.join("bpfld"), dir.join("examples/libbpf_btf_find"));
    if !ours.exists() || !theirs.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "--release", "-p", "bpfld-cli", "--bin", "bpfld", "-p", "bpfld-reference", "--example", "libbpf_btf_find"])
            .status()
            .expect("run cargo build");
        assert!(status.success(), "building bpfld and libbpf_btf_find failed");
    }
    (ours, theirs)
}

/// The median wall time of `iters` runs of `cmd` from exec to exit, its
/// output discarded; every run must succeed.
fn time_process(iters: usize, cmd: &[&std::ffi::OsStr]) -> Duration {
    time(iters, || {
        let status = Command::new(cmd[0]).args(&cmd[1..]).stdout(Stdio::null()).status().expect("spawn");
        assert!(status.success(), "{cmd:?}: {status}");
    })
}

fn main() {
    let path = std::env::args().skip(1).find(|a| !a.starts_with('-')).unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into());
    let bytes = Arc::new(std::fs::read(&path).expect("read BTF"));
    let cpath = CString::new(path.clone()).unwrap();
    let iters = 15;

    // Parse (+ index for bpfld: libbpf's parse builds its own id index).
    let ours_parse = time(iters, || {
        let b = Btf::parse(bytes.clone()).expect("parse");
        b.build_index();
        black_box(b);
    });
    let theirs_parse = time(iters, || unsafe {
        let b = libbpf_sys::btf__parse(cpath.as_ptr(), std::ptr::null_mut());
        assert!(!b.is_null());
        libbpf_sys::btf__free(black_box(b));
    });
    // btf__parse first tries the file as ELF (libelf); btf__parse_raw goes
    // straight to raw BTF, which is what a vmlinux BTF file is: the fairer
    // reference, and the one the ratio uses.
    let theirs_raw = time(iters, || unsafe {
        let b = libbpf_sys::btf__parse_raw(cpath.as_ptr());
        assert!(!b.is_null());
        libbpf_sys::btf__free(black_box(b));
    });
    let theirs_elf_first = theirs_parse;
    let theirs_parse = theirs_parse.min(theirs_raw);
    // libbpf parses from the file; include bpfld's read of the same file
    // for a like-for-like figure.
    let ours_read_parse = time(iters, || {
        let b = Btf::from_vec(std::fs::read(&path).unwrap()).expect("parse");
        b.build_index();
        black_box(b);
    });

    let btf = Btf::parse(bytes.clone()).unwrap();
    btf.build_index();
    let names = kfunc_names(&btf);
    let cnames: Vec<CString> = names.iter().map(|n| CString::new(n.as_str()).unwrap()).collect();
    let ours_lookup = time(iters, || {
        for n in &names {
            black_box(btf.find_first(n, Kind::Func));
        }
    });
    let lb = unsafe { libbpf_sys::btf__parse(cpath.as_ptr(), std::ptr::null_mut()) };
    let theirs_lookup = time(3, || {
        for n in &cnames {
            black_box(unsafe { libbpf_sys::btf__find_by_name_kind(lb, n.as_ptr(), libbpf_sys::BTF_KIND_FUNC) });
        }
    });
    // Same answers.
    for (n, c) in names.iter().zip(&cnames).take(50) {
        let theirs = unsafe { libbpf_sys::btf__find_by_name_kind(lb, c.as_ptr(), libbpf_sys::BTF_KIND_FUNC) };
        assert_eq!(btf.find_first(n, Kind::Func).map(|x| x as i32).unwrap_or(-2), theirs.max(-2), "lookup of {n}");
    }
    unsafe { libbpf_sys::btf__free(lb) };

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("BTF benchmark on {path} ({} types, {} bytes)", btf.type_count() - 1, bytes.len());
    println!(
        "libbpf btf__parse_raw {:.3} ms (btf__parse, trying ELF first: {:.3} ms); the faster is the reference",
        ms(theirs_raw),
        ms(theirs_elf_first)
    );
    println!(
        "parse+index  bpfld {:8.3} ms   libbpf parse {:8.3} ms   ratio {:.3}",
        ms(ours_parse),
        ms(theirs_parse),
        ms(ours_parse) / ms(theirs_parse)
    );
    println!(
        "read+parse   bpfld {:8.3} ms   libbpf parse {:8.3} ms   ratio {:.3}",
        ms(ours_read_parse),
        ms(theirs_parse),
        ms(ours_read_parse) / ms(theirs_parse)
    );
    println!(
        "1000 lookups bpfld {:8.3} ms   libbpf find_by_name_kind {:8.3} ms   ratio {:.5}",
        ms(ours_lookup),
        ms(theirs_lookup),
        ms(ours_lookup) / ms(theirs_lookup)
    );
    // Whole processes, one lookup each: what a user waits for.
    let (ours_bin, theirs_bin) = process_pair();
    let name = "task_struct";
    let os = |s: &str| std::ffi::OsString::from(s);
    let (find, p, n) = (os("find"), os(&path), os(name));
    let ours_process = time_process(31, &[ours_bin.as_os_str(), &os("btf"), &find, &p, &n]);
    let theirs_process = time_process(31, &[theirs_bin.as_os_str(), &p, &n]);
    println!(
        "whole process `btf find {name}`  bpfld {:8.3} ms   libbpf btf__parse+find_by_name {:8.3} ms   ratio {:.3}",
        ms(ours_process),
        ms(theirs_process),
        ms(ours_process) / ms(theirs_process)
    );
    println!("bpfld heap beyond the file bytes: {} bytes ({:.2} MiB)", btf.heap_bytes(), btf.heap_bytes() as f64 / 1048576.0);
}
