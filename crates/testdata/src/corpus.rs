//! BPF objects written by others, for the real-world differential test:
//! the kernel's BPF selftests (Debian's `linux-source-6.12`, compiled with
//! clang-19 against a `vmlinux.h` of the running kernel and the kernel
//! tree's own libbpf headers), the objects embedded in the executables of
//! Debian's `libbpf-tools`, and the compiled test objects of Debian's
//! `golang-github-cilium-ebpf-dev`. Downloaded and built once into the
//! cache, never into the checkout.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::corpus_scx::BpfLinker;
use crate::{cache_dir, download_package, skip};

/// Where an object comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CorpusSource {
    /// `tools/testing/selftests/bpf/progs/*.c` of Linux 6.12.
    Selftests,
    /// An object embedded in a `libbpf-tools` executable (a skeleton).
    LibbpfTools,
    /// A `testdata/*-el.elf` of cilium/ebpf.
    CiliumTestdata,
    /// A sched_ext scheduler crate of crates.io (`scx_rusty` etc.).
    Scx,
}

impl CorpusSource {
    /// Every source, in report order.
    pub const ALL: [CorpusSource; 4] =
        [CorpusSource::Selftests, CorpusSource::LibbpfTools, CorpusSource::CiliumTestdata, CorpusSource::Scx];

    /// Short name, as in reports.
    pub fn name(self) -> &'static str {
        match self {
            CorpusSource::Selftests => "selftests",
            CorpusSource::LibbpfTools => "libbpf-tools",
            CorpusSource::CiliumTestdata => "cilium",
            CorpusSource::Scx => "scx",
        }
    }
}

/// One object of the corpus.
#[derive(Debug, Clone)]
pub struct CorpusObject {
    pub source: CorpusSource,
    /// `<source>/<file stem>`, unique in the corpus.
    pub name: String,
    pub path: PathBuf,
}

/// The whole corpus (made on first use, a few minutes; cached). Also
/// says how many selftests sources did not compile. Skips, or fails under
/// `BPFLD_REQUIRE_KERNEL=1`, when it cannot be had.
/// `linker` links the sched_ext schedulers made of several sources.
pub fn corpus(linker: BpfLinker) -> Option<(Vec<CorpusObject>, Vec<String>)> {
    static MADE: OnceLock<Result<(PathBuf, PathBuf), String>> = OnceLock::new();
    let (dir, scx_dir) = match MADE.get_or_init(|| Ok((make()?, crate::corpus_scx::make(linker)?))) {
        Ok(d) => d.clone(),
        Err(e) => return skip(&format!("no real-world corpus: {e}")),
    };
    let mut objects = Vec::new();
    for source in CorpusSource::ALL {
        let base = if source == CorpusSource::Scx { &scx_dir } else { &dir };
        let sub = base.join(source.name());
        let mut files: Vec<PathBuf> = std::fs::read_dir(&sub).ok()?.filter_map(|e| Some(e.ok()?.path())).collect();
        files.sort();
        for path in files.into_iter().filter(|p| p.extension().is_some_and(|e| e == "o")) {
            let stem = path.file_name()?.to_str()?.trim_end_matches(".o").trim_end_matches(".bpf").to_string();
            objects.push(CorpusObject { source, name: format!("{}/{stem}", source.name()), path });
        }
    }
    let failed = ["selftests-not-compiled.txt", "scx-not-built.txt"]
        .iter()
        .zip([&dir, &scx_dir])
        .flat_map(|(file, d)| std::fs::read_to_string(d.join(file)).unwrap_or_default().lines().map(str::to_string).collect::<Vec<_>>())
        .collect();
    Some((objects, failed))
}

const SELFTESTS_PACKAGE: &str = "linux-source-6.12";
const LIBBPF_TOOLS_PACKAGE: &str = "libbpf-tools";
const CILIUM_PACKAGE: &str = "golang-github-cilium-ebpf-dev";

/// Builds (or finds) `<cache>/corpus/<key>`: the key names the packages,
/// clang and the running kernel's BTF (the selftests' vmlinux.h).
fn make() -> Result<PathBuf, String> {
    let cache = cache_dir();
    let mut debs = Vec::new();
    for p in [SELFTESTS_PACKAGE, LIBBPF_TOOLS_PACKAGE, CILIUM_PACKAGE] {
        debs.push(download_package(&cache, p)?.0);
    }
    let clang = run_text(Command::new("clang-19").arg("--version"))?;
    let vmlinux = std::fs::read("/sys/kernel/btf/vmlinux").map_err(|e| format!("/sys/kernel/btf/vmlinux: {e}"))?;
    let names: Vec<String> = debs.iter().map(|d| d.file_name().unwrap_or_default().to_string_lossy().into_owned()).collect();
    let key = crate::digest(format!("{names:?}{clang}{}", crate::digest(&vmlinux)).as_bytes());
    let root = cache.join("corpus");
    let dir = root.join(&key[..16]);
    if dir.join("done").exists() {
        return Ok(dir);
    }
    let tmp = root.join(format!(".tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    mkdir(&tmp)?;
    eprintln!("building the real-world corpus in {} (once)", dir.display());
    selftests(&debs[0], &tmp)?;
    libbpf_tools(&debs[1], &tmp)?;
    cilium(&debs[2], &tmp)?;
    std::fs::write(tmp.join("done"), b"").map_err(|e| e.to_string())?;
    match std::fs::rename(&tmp, &dir) {
        Ok(()) => {}
        Err(_) if dir.join("done").exists() => {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        Err(e) => return Err(format!("{} -> {}: {e}", tmp.display(), dir.display())),
    }
    let _ = std::fs::remove_dir_all(dir.join("src"));
    Ok(dir)
}

/// The selftests' sources out of the package's tarball, their headers,
/// and every `progs/*.c` compiled as the selftests' Makefile does (less
/// -Werror); what does not compile is listed in
/// `selftests-not-compiled.txt`.
fn selftests(deb: &Path, out: &Path) -> Result<(), String> {
    let src = out.join("src");
    mkdir(&src)?;
    let wanted = [
        "linux-source-6.12/tools/testing/selftests/bpf/*",
        "linux-source-6.12/tools/lib/bpf/*",
        "linux-source-6.12/tools/include/*",
        "linux-source-6.12/scripts/bpf_doc.py",
        "linux-source-6.12/include/uapi/linux/bpf.h",
    ];
    let script = format!(
        "dpkg-deb --fsys-tarfile '{}' | tar -xO ./usr/src/linux-source-6.12.tar.xz | xz -dc | tar -x -C '{}' --wildcards {}",
        deb.display(),
        src.display(),
        wanted.map(|w| format!("'{w}'")).join(" ")
    );
    run_text(Command::new("sh").args(["-c", &script]))?;
    let tree = src.join("linux-source-6.12");
    let inc = src.join("include");
    mkdir(&inc.join("bpf"))?;
    for e in std::fs::read_dir(tree.join("tools/lib/bpf")).map_err(|e| e.to_string())? {
        let p = e.map_err(|e| e.to_string())?.path();
        if p.extension().is_some_and(|x| x == "h") {
            std::fs::copy(&p, inc.join("bpf").join(p.file_name().unwrap())).map_err(|e| e.to_string())?;
        }
    }
    let defs = run_text(
        Command::new("python3")
            .arg(tree.join("scripts/bpf_doc.py"))
            .args(["--header", "--file"])
            .arg(tree.join("include/uapi/linux/bpf.h")),
    )?;
    write(&inc.join("bpf/bpf_helper_defs.h"), defs.as_bytes())?;
    let vmlinux_h = run_text(Command::new(crate::bpftool().ok_or("no bpftool")?).args([
        "btf",
        "dump",
        "file",
        "/sys/kernel/btf/vmlinux",
        "format",
        "c",
    ]))?;
    write(&inc.join("vmlinux.h"), vmlinux_h.as_bytes())?;

    let selftests = tree.join("tools/testing/selftests/bpf");
    let progs = selftests.join("progs");
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&progs)
        .map_err(|e| e.to_string())?
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "c"))
        .collect();
    sources.sort();
    let objdir = out.join(CorpusSource::Selftests.name());
    mkdir(&objdir)?;
    let mut args: Vec<String> =
        ["-g", "-O2", "--target=bpf", "-mcpu=v3", "-mlittle-endian", "-D__TARGET_ARCH_x86", "-Wno-compare-distinct-pointer-types", "-w"]
            .map(String::from)
            .to_vec();
    for i in [&inc, &selftests, &tree.join("tools/include/uapi")] {
        args.push(format!("-I{}", i.display()));
    }
    for sys in ["/usr/include/x86_64-linux-gnu", "/usr/include"] {
        args.push(format!("-idirafter{sys}"));
    }
    let failed = compile_all(&sources, &objdir, &args);
    write(&out.join("selftests-not-compiled.txt"), failed.join("\n").as_bytes())
}

/// Compiles every source on all CPUs; returns the file names that failed.
pub(crate) fn compile_all(sources: &[PathBuf], objdir: &Path, args: &[String]) -> Vec<String> {
    let next = AtomicUsize::new(0);
    let failed = Mutex::new(Vec::new());
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                while let Some(src) = sources.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let stem = src.file_stem().unwrap_or_default().to_string_lossy();
                    let obj = objdir.join(format!("{stem}.bpf.o"));
                    let ok = Command::new("clang-19")
                        .args(args)
                        .arg("-c")
                        .arg(src)
                        .arg("-o")
                        .arg(&obj)
                        .output()
                        .is_ok_and(|o| o.status.success());
                    if !ok {
                        failed.lock().unwrap().push(format!("{stem}.c"));
                    }
                }
            });
        }
    });
    let mut v = failed.into_inner().unwrap();
    v.sort();
    v
}

/// Every BPF ELF image embedded in the package's executables.
fn libbpf_tools(deb: &Path, out: &Path) -> Result<(), String> {
    let unpacked = out.join("src/libbpf-tools");
    mkdir(&unpacked)?;
    run_text(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&unpacked))?;
    let objdir = out.join(CorpusSource::LibbpfTools.name());
    mkdir(&objdir)?;
    let sbin = unpacked.join("usr/sbin");
    let mut tools: Vec<PathBuf> =
        std::fs::read_dir(&sbin).map_err(|e| format!("{}: {e}", sbin.display()))?.filter_map(|e| Some(e.ok()?.path())).collect();
    tools.sort();
    for tool in tools {
        let bytes = std::fs::read(&tool).map_err(|e| e.to_string())?;
        let images = embedded_bpf_elfs(&bytes);
        let stem = tool.file_name().unwrap_or_default().to_string_lossy().into_owned();
        for (i, image) in images.iter().enumerate() {
            let name = if i == 0 { stem.clone() } else { format!("{stem}.{i}") };
            write(&objdir.join(format!("{name}.bpf.o")), image)?;
        }
    }
    Ok(())
}

/// ELF images of machine EM_BPF (247) inside `bytes`, each cut at the end
/// of its section header table (where clang's objects end).
pub fn embedded_bpf_elfs(bytes: &[u8]) -> Vec<&[u8]> {
    const EM_BPF: u16 = 247;
    let mut found = Vec::new();
    let mut at = 1; // the executable's own header is at 0
    while let Some(off) = bytes[at..].windows(4).position(|w| w == b"\x7fELF").map(|p| p + at) {
        at = off + 4;
        let h = &bytes[off..];
        if h.len() < 64 || h[4] != 2 || h[5] != 1 {
            continue;
        }
        let u16_at = |o: usize| u16::from_le_bytes([h[o], h[o + 1]]);
        let shoff = u64::from_le_bytes(h[40..48].try_into().unwrap());
        let (shentsize, shnum) = (u64::from(u16_at(58)), u64::from(u16_at(60)));
        let Some(end) = shoff.checked_add(shentsize * shnum) else { continue };
        if u16_at(18) == EM_BPF && end as usize <= h.len() && shentsize == 64 {
            found.push(&h[..end as usize]);
            at = off + end as usize;
        }
    }
    found
}

/// cilium/ebpf's little-endian test objects.
fn cilium(deb: &Path, out: &Path) -> Result<(), String> {
    let unpacked = out.join("src/cilium");
    mkdir(&unpacked)?;
    run_text(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&unpacked))?;
    let objdir = out.join(CorpusSource::CiliumTestdata.name());
    mkdir(&objdir)?;
    let root = unpacked.join("usr/share/gocode/src/github.com/cilium/ebpf");
    let mut stack = vec![root.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))? {
            let p = e.map_err(|e| e.to_string())?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with("-el.elf") {
                let rel = p.strip_prefix(&root).unwrap_or(&p).to_string_lossy().replace('/', "_");
                let name = rel.trim_end_matches(".elf");
                std::fs::copy(&p, objdir.join(format!("{name}.o"))).map_err(|e| e.to_string())?;
            }
        }
    }
    Ok(())
}

pub(crate) fn run_text(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))
}

pub(crate) fn write(p: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(p, bytes).map_err(|e| format!("{}: {e}", p.display()))
}
