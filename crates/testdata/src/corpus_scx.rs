//! The sched_ext schedulers of crates.io for the real-world corpus: each
//! scheduler crate's `src/bpf/*.bpf.c`, built as `scx_cargo::BpfBuilder`
//! builds them (its clang flags, its `bpf_h` headers and its own x86
//! `vmlinux.h`, libbpf-sys's libbpf headers; several sources linked into
//! one object by libbpf 1.7's static linker, which the caller hands in as
//! a [`BpfLinker`]: this crate does not link libbpf). The crates are
//! downloaded by cargo into its registry cache; the build goes into
//! `<cache>/corpus-scx/<key>`.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::corpus::{compile_all, mkdir, run_text, write};
use crate::scx_arena_fixups::{arena_datasec_from_symbols, unbind_arena_externs};

/// Exact versions, so the corpus is reproducible.
/// Every scheduler crate of scx 1.1.4 with BPF sources of its own (built
/// by scx_cargo's BpfBuilder), and scx_rustland_core, whose BPF side
/// scx_rustland and scx_rlfifo share.
const SCHEDULERS: &[(&str, &str)] = &[
    ("scx_beerland", "1.1.4"),
    ("scx_bpfland", "1.1.4"),
    ("scx_chaos", "1.1.4"),
    ("scx_cosmos", "1.1.4"),
    ("scx_flash", "1.1.4"),
    ("scx_lavd", "1.1.4"),
    ("scx_layered", "1.1.4"),
    ("scx_p2dq", "1.1.4"),
    ("scx_rusty", "1.1.4"),
    ("scx_rustland_core", "2.4.15"),
    ("scx_tickless", "1.1.4"),
];
/// Names this build's steps in the cache key (changes rebuild the cache).
const RECIPE: &str = "per-source link, arena fix-ups, -fno-stack-protector";
/// Holds the BPF headers and vmlinux.h files the schedulers' builds use.
const SCX_CARGO: (&str, &str) = ("scx_cargo", "1.1.4");
/// libbpf-cargo compiles against libbpf-sys's libbpf headers.
const LIBBPF_SYS: (&str, &str) = ("libbpf-sys", "1.7.0+v1.7.0");

/// Links BPF objects (the inputs) into one (the output), as libbpf's
/// static linker does: `bpf_linker__add_file` for each input, then
/// `bpf_linker__finalize`.
#[derive(Clone, Copy)]
pub struct BpfLinker {
    /// Names the linker in the cache key (`"libbpf 1.7.0"`).
    pub name: &'static str,
    pub link: fn(inputs: &[PathBuf], output: &Path) -> Result<(), String>,
}

/// Builds (or finds) the schedulers' objects; returns the directory that
/// holds `<scheduler>.bpf.o` and `scx-not-built.txt`.
pub(crate) fn make(linker: BpfLinker) -> Result<PathBuf, String> {
    let clang = run_text(Command::new("clang-19").arg("--version"))?;
    let crates: Vec<(&str, &str)> = SCHEDULERS.iter().copied().chain([SCX_CARGO, LIBBPF_SYS]).collect();
    let key = crate::digest(format!("{crates:?}{clang}{}{RECIPE}", linker.name).as_bytes());
    let root = crate::cache_dir().join("corpus-scx");
    let dir = root.join(&key[..16]);
    if dir.join("done").exists() {
        return Ok(dir);
    }
    let tmp = root.join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let src = tmp.join("src");
    mkdir(&src)?;
    eprintln!("building the sched_ext schedulers of the corpus in {} (once)", dir.display());
    for (name, version) in &crates {
        unpack_crate(name, version, &src)?;
    }
    let args = cflags(&src)?;
    let mut not_built = Vec::new();
    for (name, version) in SCHEDULERS {
        if let Err(e) = build_scheduler(&src.join(format!("{name}-{version}")), name, &args, &tmp, linker) {
            not_built.push(format!("{name}: {e}"));
        }
    }
    write(&tmp.join("scx-not-built.txt"), not_built.join("\n").as_bytes())?;
    let _ = std::fs::remove_dir_all(&src);
    write(&tmp.join("done"), b"")?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        Err(_) if dir.join("done").exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(format!("{} -> {}: {e}", tmp.display(), dir.display())),
    }
}

/// Has cargo download `name@version` (`cargo info` fetches the package
/// into the registry cache) and unpacks it into `into`.
fn unpack_crate(name: &str, version: &str, into: &Path) -> Result<(), String> {
    run_text(Command::new("cargo").args(["info", "--quiet", &format!("{name}@{version}")]).current_dir(into))?;
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .ok_or("neither CARGO_HOME nor HOME is set")?;
    let registries = home.join("registry/cache");
    let file = format!("{name}-{version}.crate");
    let found = std::fs::read_dir(&registries)
        .map_err(|e| format!("{}: {e}", registries.display()))?
        .filter_map(|e| Some(e.ok()?.path().join(&file)))
        .find(|p| p.exists())
        .ok_or_else(|| format!("{file} not in {}", registries.display()))?;
    run_text(Command::new("tar").arg("-xzf").arg(&found).arg("-C").arg(into)).map(drop)
}

/// The flags `scx_cargo`'s ClangInfo and BpfBuilder give clang on x86,
/// and their include directories: libbpf's headers as `bpf/*.h`, then
/// scx's `bpf_h` with its x86 `vmlinux.h`.
fn cflags(src: &Path) -> Result<Vec<String>, String> {
    let libbpf = src.join(format!("{}-{}/libbpf/src", LIBBPF_SYS.0, LIBBPF_SYS.1));
    let libbpf_inc = src.join("libbpf-include");
    mkdir(&libbpf_inc.join("bpf"))?;
    for e in std::fs::read_dir(&libbpf).map_err(|e| format!("{}: {e}", libbpf.display()))? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "h") {
            std::fs::copy(&p, libbpf_inc.join("bpf").join(p.file_name().unwrap_or_default())).map_err(|e| e.to_string())?;
        }
    }
    let scx_cargo = src.join(format!("{}-{}", SCX_CARGO.0, SCX_CARGO.1));
    let bpf_h = scx_cargo.join("bpf_h");
    // Its build.rs adds the contents of vmlinux.tar.zst's `vmlinux/` to bpf_h.
    run_text(Command::new("tar").arg("--zstd").arg("-xf").arg(scx_cargo.join("vmlinux.tar.zst")).arg("-C").arg(&scx_cargo))?;
    run_text(Command::new("cp").arg("-a").arg(scx_cargo.join("vmlinux/.")).arg(&bpf_h))?;

    let mut args: Vec<String> = [
        "-g",
        "-O2",
        "-Wall",
        "-Wno-compare-distinct-pointer-types",
        "-D__TARGET_ARCH_x86",
        "-mcpu=v4",
        "-mllvm",
        "-disable-ldsx",
        "-mlittle-endian",
    ]
    .map(String::from)
    .to_vec();
    for dir in system_includes()? {
        args.extend(["-idirafter".to_string(), dir]);
    }
    args.push(format!("-I{}", libbpf_inc.display()));
    for d in [bpf_h.join("arch/x86"), bpf_h.clone(), bpf_h.join("bpf-compat")] {
        args.push(format!("-I{}", d.display()));
    }
    // libbpf-cargo adds -fno-stack-protector to every compilation.
    args.extend(["-D__SCX_TARGET_ARCH_x86", "-fno-stack-protector", "--target=bpf"].map(String::from));
    Ok(args)
}

/// clang's own `#include <...>` search list, which ClangInfo passes on as
/// `-idirafter`.
fn system_includes() -> Result<Vec<String>, String> {
    let out = Command::new("clang-19")
        .args(["-v", "-E", "-"])
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("clang-19 -v -E -: {e}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let list = stderr.split("#include <...> search starts here:").nth(1).ok_or("clang-19 -v printed no include search list")?;
    Ok(list.lines().map(str::trim).take_while(|l| *l != "End of search list.").filter(|l| !l.is_empty()).map(String::from).collect())
}

/// The BPF sources a scheduler crate builds: those its build.rs names
/// (`enable_skel`, then each `add_source`; their file names are distinct),
/// or for scx_rustland_core the one its `RustLandBuilder` builds.
fn sources(krate: &Path, name: &str) -> Result<Vec<PathBuf>, String> {
    if name == "scx_rustland_core" {
        return Ok(vec![krate.join("assets/bpf/main.bpf.c")]);
    }
    let build_rs = std::fs::read_to_string(krate.join("build.rs")).map_err(|e| format!("build.rs: {e}"))?;
    let sources: Vec<PathBuf> = ["enable_skel(\"", "add_source(\""]
        .iter()
        .flat_map(|call| build_rs.split(call).skip(1).filter_map(|rest| rest.split('"').next()))
        .map(|rel| krate.join(rel))
        .collect();
    if sources.is_empty() {
        return Err("build.rs names no BPF source".into());
    }
    Ok(sources)
}

/// Compiles a scheduler's sources and links them into
/// `<out>/scx/<name>.bpf.o` as scx_cargo does: libbpf-cargo links each
/// source's object on its own (`BpfObjBuilder::build`, which strips its
/// DWARF); one source is the scheduler (`BpfBuilder::build`), several are
/// linked together around scx_cargo's arena fix-ups (`compile_link_gen`).
fn build_scheduler(krate: &Path, name: &str, args: &[String], out: &Path, linker: BpfLinker) -> Result<(), String> {
    let sources = sources(krate, name)?;
    let objdir = krate.join("obj");
    mkdir(&objdir)?;
    let failed = compile_all(&sources, &objdir, args);
    if !failed.is_empty() {
        return Err(format!("clang-19 failed on {}", failed.join(", ")));
    }
    let objects: Vec<PathBuf> =
        sources.iter().map(|s| objdir.join(format!("{}.bpf.o", s.file_stem().unwrap_or_default().to_string_lossy()))).collect();
    let each = link_each(&objects, linker)?;
    let target = out.join(crate::CorpusSource::Scx.name());
    mkdir(&target)?;
    let linked = target.join(format!("{}.bpf.o", name.trim_start_matches("scx_")));
    if let [single] = each.as_slice() {
        return std::fs::copy(single, &linked).map(drop).map_err(|e| e.to_string());
    }
    for o in &each {
        unbind_arena_externs(o)?;
    }
    (linker.link)(&each, &linked).map_err(|e| {
        let _ = std::fs::remove_file(&linked);
        format!("{}: {e}", linker.name)
    })?;
    arena_datasec_from_symbols(&linked)
}

/// Each object linked on its own into `<object>.linked.o`.
fn link_each(objects: &[PathBuf], linker: BpfLinker) -> Result<Vec<PathBuf>, String> {
    let mut each = Vec::new();
    for o in objects {
        let once = o.with_extension("linked.o");
        (linker.link)(std::slice::from_ref(o), &once).map_err(|e| format!("{}: {e}", linker.name))?;
        each.push(once);
    }
    Ok(each)
}
