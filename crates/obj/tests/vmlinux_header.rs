//! Programs compiled against bpfld's `vmlinux.h` plan the same as against
//! bpftool's. For every kernel of shared/btf and the running kernel, both
//! headers are generated, each test program is compiled against each, and
//! the load plans for that kernel (final instructions after CO-RE, poisoned
//! instructions, maps) are compared program by program.
//!
//! Which programs: `tests/bpf/vmlinux/*.bpf.c` (written for a generated
//! header: CO-RE on task_struct, tp_btf/kprobe with bpf_tracing.h, packet
//! parsing, struct_ops) for every kernel, and for the running kernel also
//! every `tests/bpf/*.bpf.c`, with `BPFLD_TEST_VMLINUX_H` defined so that
//! `bpfld_test.h` includes `vmlinux.h` instead of the UAPI headers. Those
//! that declare kernel structs themselves clash with any `vmlinux.h`: such
//! a program must fail with bpftool's header exactly when it fails with
//! ours. Compiles use a precompiled header per `vmlinux.h` (0.1 s per
//! program instead of 1-2 s) and run two at a time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use bpfld_btf::Btf;
use bpfld_obj::{plan, Object, PlanOptions, Target};

const HOST_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn clang() -> Option<String> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".to_string());
    match Command::new(&clang).arg("--version").output() {
        Ok(o) if o.status.success() => Some(clang),
        _ => bpfld_testdata::skip(&format!("{clang} not found")),
    }
}

struct Header {
    dir: PathBuf,
    pch: PathBuf,
}

fn write_header(clang: &str, dir: PathBuf, text: &[u8]) -> Header {
    std::fs::create_dir_all(&dir).unwrap();
    let h = dir.join("vmlinux.h");
    std::fs::write(&h, text).unwrap();
    let pch = dir.join("vmlinux.h.pch");
    let out = Command::new(clang).args(["-target", "bpf", "-O2", "-g", "-x", "c-header"]).arg(&h).arg("-o").arg(&pch).output().unwrap();
    assert!(out.status.success(), "{}: {}", h.display(), String::from_utf8_lossy(&out.stderr));
    Header { dir, pch }
}

/// Compiles `src` against `header` into `out`; the compiler's message on
/// failure.
fn compile(clang: &str, header: &Header, src: &Path, out: &Path) -> Result<(), String> {
    let bpf = bpfld_testdata::repo_root().join("tests/bpf");
    let o = Command::new(clang)
        .args(["-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-Wno-unused-function", "-D__TARGET_ARCH_x86", "-DBPFLD_TEST_VMLINUX_H"])
        .arg("-include-pch")
        .arg(&header.pch)
        .arg("-I")
        .arg(&header.dir)
        .arg("-I")
        .arg(bpf.join("include"))
        .args(["-I", "/usr/include/bpf", "-I", "/usr/include/x86_64-linux-gnu", "-c"])
        .arg(src)
        .arg("-o")
        .arg(out)
        .output()
        .unwrap();
    if o.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&o.stderr).lines().find(|l| l.contains("error")).unwrap_or("").to_string())
    }
}

/// What must be equal between the two builds of a program.
fn plan_summary(path: &Path, target: &Target) -> String {
    let obj = match Object::parse("prog", &std::fs::read(path).unwrap()) {
        Ok(o) => o,
        // The bad_* objects are meant not to open.
        Err(e) => return format!("open error: {e}"),
    };
    match plan(&obj, Some(target), &PlanOptions::default()) {
        Err(e) => format!("plan error: {e}"),
        Ok(p) => {
            let mut s = String::new();
            for m in &p.maps {
                s += &format!(
                    "map {} type {} key {} value {} max {} flags {:#x}\n",
                    m.name, m.map_type, m.key_size, m.value_size, m.max_entries, m.map_flags
                );
            }
            for prog in &p.programs {
                s += &format!(
                    "prog {} {} type {} error {:?} poisoned {:?}\n",
                    prog.name, prog.section, prog.prog_type, prog.error, prog.poisoned
                );
                for i in &prog.insns {
                    s += &format!("{i:?}\n");
                }
            }
            s
        }
    }
}

struct Kernel {
    name: String,
    config: Option<PathBuf>,
    btf_path: PathBuf,
    all_programs: bool,
}

fn kernels() -> Option<Vec<Kernel>> {
    let dir = bpfld_testdata::kernel_btf_dir()?;
    let mut v: Vec<Kernel> = bpfld_testdata::SHARED_KERNELS
        .iter()
        .map(|k| Kernel {
            name: k.to_string(),
            config: Some(dir.join(format!("{k}.config"))),
            btf_path: dir.join(format!("{k}.btf")),
            all_programs: false,
        })
        .collect();
    v.push(Kernel {
        name: "host".into(),
        config: Some(dir.join(format!("{}.config", bpfld_testdata::K618))),
        btf_path: HOST_VMLINUX.into(),
        all_programs: true,
    });
    Some(v)
}

fn sources(all: bool) -> Vec<PathBuf> {
    let bpf = bpfld_testdata::repo_root().join("tests/bpf");
    let list = |d: PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
            .collect();
        v.sort();
        v
    };
    let mut v = list(bpf.join("vmlinux"));
    if all {
        v.extend(list(bpf));
    }
    v
}

#[test]
fn programs_plan_the_same_against_bpfld_and_bpftool_headers() {
    let Some(clang) = clang() else { return };
    let Some(bpftool) = bpfld_testdata::bpftool() else { return };
    let Some(kernels) = kernels() else { return };
    let started = std::time::Instant::now();
    let scratch = std::env::temp_dir().join(format!("bpfld-vmlinux-plans-{}", std::process::id()));
    let mut jobs = Vec::new();
    for k in &kernels {
        let btf = Btf::from_vec(std::fs::read(&k.btf_path).unwrap()).unwrap();
        let ours = bpfld_btf::c_header(&btf, None).unwrap();
        let theirs = Command::new(&bpftool).args(["btf", "dump", "file"]).arg(&k.btf_path).args(["format", "c"]).output().unwrap().stdout;
        let kdir = scratch.join(&k.name);
        let hs = [write_header(&clang, kdir.join("bpfld"), ours.as_bytes()), write_header(&clang, kdir.join("bpftool"), &theirs)];
        let mut target = Target::new(&k.name, btf);
        // Kconfig externs resolve (the host takes the 6.18 config of
        // shared/btf: the comparison is between headers, not kernels).
        let config = k.config.as_ref().map(|p| std::fs::read_to_string(p).unwrap());
        target.kconfig = config.map(|c| bpfld_obj::kconfig::Kconfig::parse(&c).unwrap());
        let minor: u32 = k.name.trim_start_matches("6.").split(['.', '-']).next().and_then(|m| m.parse().ok()).unwrap_or(18);
        target.kernel_version = Some(bpfld_obj::kernel_version(6, minor, 0));
        let target = Arc::new(target);
        let hs = Arc::new(hs);
        for src in sources(k.all_programs) {
            jobs.push((k.name.clone(), src, hs.clone(), target.clone(), kdir.clone()));
        }
    }
    eprintln!("headers and precompiled headers ready after {:?}", started.elapsed());
    let jobs = Arc::new(Mutex::new(jobs));
    let results = Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let (jobs, results, clang) = (jobs.clone(), results.clone(), clang.clone());
            std::thread::spawn(move || loop {
                let Some((kname, src, hs, target, kdir)) = jobs.lock().unwrap().pop() else { break };
                let stem = src.file_name().unwrap().to_string_lossy().replace(".bpf.c", "");
                let built: Vec<Result<String, String>> = hs
                    .iter()
                    .enumerate()
                    .map(|(i, h)| {
                        let out = kdir.join(format!("{stem}.{i}.o"));
                        compile(&clang, h, &src, &out).map(|_| plan_summary(&out, &target))
                    })
                    .collect();
                results.lock().unwrap().push((kname, stem, built));
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    eprintln!("compiled and planned after {:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&scratch);
    let results = results.lock().unwrap();
    let (mut same, mut clash) = (0, 0);
    for (kname, stem, built) in results.iter() {
        match (&built[0], &built[1]) {
            (Ok(ours), Ok(theirs)) => {
                if ours.starts_with("plan error") || ours.starts_with("open error") {
                    eprintln!("{kname} {stem}: {}", ours.lines().next().unwrap_or(""));
                }
                assert_eq!(ours, theirs, "{kname} {stem}: plans differ between bpfld's and bpftool's header");
                same += 1;
            }
            (Err(_), Err(_)) => clash += 1,
            (ours, theirs) => panic!("{kname} {stem}: bpfld header {:?}, bpftool header {:?}", ours.as_ref().err(), theirs.as_ref().err()),
        }
    }
    eprintln!(
        "{same} program builds planned identically, {clash} clash with vmlinux.h under both headers (they declare kernel types themselves)"
    );
    // The vmlinux programs on 4 kernels, and most of tests/bpf on the host.
    assert!(same >= 12 + 15, "only {same} programs compared");
}
