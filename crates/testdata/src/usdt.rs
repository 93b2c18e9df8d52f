//! The USDT tests' inputs, built at test time: `tests/usdt`'s target
//! compiled with `cc` (`<sys/sdt.h>` from systemtap-sdt-dev), and
//! `tests/bpf/usdt_probes.bpf.c` compiled against libbpf 1.7's own
//! `usdt.bpf.h` (the vendored sources of the `libbpf-sys` crate in cargo's
//! registry), whose spec layout differs from the committed object's
//! (Debian's libbpf 1.1 headers).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use crate::repo_root;

fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bpfld-usdt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn run(tool: &str, args: &[&OsStr], why: &str) {
    let st = Command::new(tool).args(args).status().unwrap_or_else(|e| panic!("{tool}: {e} ({why})"));
    assert!(st.success(), "{tool} {args:?} failed ({why})");
}

/// `tests/usdt/usdt_target.c` (`-O2`: arguments in registers, a constant,
/// a scale-index-base operand) linked with `usdt_guarded.c` (`-O0`: a
/// semaphore-guarded probe whose argument is on the stack), built once
/// per test process. Run with a count, it waits for a line on stdin, fires
/// each probe that many times and prints how often it saw the guarded
/// probe's semaphore set.
pub fn usdt_target() -> &'static Path {
    static TARGET: OnceLock<PathBuf> = OnceLock::new();
    TARGET.get_or_init(|| {
        let (src, dir) = (repo_root().join("tests/usdt"), scratch_dir());
        let (t, g, out) = (dir.join("t.o"), dir.join("g.o"), dir.join("usdt_target"));
        let why = "gcc, and sys/sdt.h of the package systemtap-sdt-dev";
        run("cc", &["-O2".as_ref(), "-c".as_ref(), src.join("usdt_target.c").as_os_str(), "-o".as_ref(), t.as_os_str()], why);
        run("cc", &["-O0".as_ref(), "-c".as_ref(), src.join("usdt_guarded.c").as_os_str(), "-o".as_ref(), g.as_os_str()], why);
        run("cc", &[t.as_os_str(), g.as_os_str(), "-o".as_ref(), out.as_os_str()], why);
        out
    })
}

/// A USDT target (`path`, built by [`usdt_target`]) started to fire each
/// probe `calls` times, waiting for a line on stdin, its binary mapped
/// (spawn returns while the exec may still be mapping it).
pub fn spawn_usdt_target(path: &Path, calls: i64) -> Child {
    let child = Command::new(path).arg(calls.to_string()).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let (maps, name) = (format!("/proc/{}/maps", child.id()), path.to_string_lossy().into_owned());
    let t0 = std::time::Instant::now();
    while !std::fs::read_to_string(&maps).unwrap_or_default().contains(&name) {
        assert!(t0.elapsed().as_secs() < 5, "the target did not start");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    child
}

/// Lets a target from [`spawn_usdt_target`] fire its probes and waits for
/// it; returns how many times it saw the guarded probe's semaphore set.
pub fn run_usdt_target(mut child: Child) -> i64 {
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(child.wait().unwrap().success());
    line.trim().parse().unwrap()
}

/// Where `usdt_probes`' `SEC("usdt//tmp/bpfld_usdt_target:bpfld:args")`
/// looks for the target.
pub const USDT_SECTION_TARGET: &str = "/tmp/bpfld_usdt_target";

/// [`usdt_target`] copied to [`USDT_SECTION_TARGET`] and renamed into place
/// (atomic: a concurrent test run never executes a half-written file).
pub fn install_usdt_section_target() -> &'static Path {
    let tmp = format!("{USDT_SECTION_TARGET}.{}", std::process::id());
    std::fs::copy(usdt_target(), &tmp).unwrap_or_else(|e| panic!("{tmp}: {e}"));
    std::fs::rename(&tmp, USDT_SECTION_TARGET).unwrap_or_else(|e| panic!("{USDT_SECTION_TARGET}: {e}"));
    Path::new(USDT_SECTION_TARGET)
}

/// The vendored libbpf 1.7 sources of the `libbpf-sys` crate in cargo's
/// registry (`$CARGO_HOME`, else `~/.cargo`), where `usdt.bpf.h` is.
pub fn libbpf_1_7_src() -> Option<PathBuf> {
    let home =
        std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))?;
    let registry = home.join("registry/src");
    std::fs::read_dir(&registry).ok()?.flatten().find_map(|index| {
        let src = index.path().join("libbpf-sys-1.7.0+v1.7.0/libbpf/src");
        src.join("usdt.bpf.h").is_file().then_some(src)
    })
}

/// `tests/bpf/usdt_probes.bpf.c` built as tests/bpf/build.sh builds it,
/// but against libbpf 1.7's headers; `None` if they are not in cargo's
/// registry.
pub fn usdt_probes_libbpf_1_7() -> Option<&'static Path> {
    static OBJ: OnceLock<Option<PathBuf>> = OnceLock::new();
    OBJ.get_or_init(|| {
        let libbpf = libbpf_1_7_src()?;
        let bpf = repo_root().join("tests/bpf");
        let out = scratch_dir().join("usdt_probes_libbpf17.bpf.o");
        let inc = |p: &Path| [OsStr::new("-I"), p.as_os_str()].map(|s| s.to_os_string());
        let mut args: Vec<std::ffi::OsString> =
            ["-target", "bpf", "-O2", "-g", "-Wall", "-Werror", "-D__TARGET_ARCH_x86"].map(Into::into).to_vec();
        args.extend(inc(&libbpf));
        args.extend(inc(&bpf.join("include")));
        args.extend(inc(Path::new("/usr/include/x86_64-linux-gnu")));
        args.extend(["-c".into(), bpf.join("usdt_probes.bpf.c").into_os_string(), "-o".into(), out.clone().into_os_string()]);
        let args: Vec<&OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        run("clang-19", &args, "clang-19 with libbpf 1.7's headers");
        Some(out)
    })
    .as_deref()
}
