//! Where bpfld's tests find their data, in one place: kernel BTF (made by
//! the project from Debian's kernel packages and the running kernel, or
//! taken from `shared/btf` beside the checkout as a shortcut), the
//! committed BPF test objects, and Debian kernel packages downloaded once
//! into a cache outside the checkout.
//!
//! Missing data is a skip with a message, or a failure where
//! `BPFLD_REQUIRE_KERNEL=1` (CI), so that a test cannot pass by not
//! running. A test that cannot run on this machine for a stated reason
//! (no kprobe PMU, say) calls [`machine_limit`]; every skip is recorded in
//! `$BPFLD_SKIP_LOG`, which `scripts/test.sh` lists at the end of the run.
#![forbid(unsafe_code)]

mod kernel;
pub use kernel::{bpffs_test_dir, ensure_tracefs, require_kernel, REQUIRE_KERNEL_ENV};

mod bpftool_dump;
mod corpus;
mod corpus_scx;
mod kernel_btf;
mod old_kernels;
mod scx_arena_fixups;
mod skips;
mod usdt;

pub use bpftool_dump::BpftoolDump;
pub use corpus::{corpus, embedded_bpf_elfs, CorpusObject, CorpusSource};
pub use corpus_scx::BpfLinker;

pub use kernel_btf::{digest, expected_digest, kernel_btf_dir, shared_btf_only, NO_SHARED_ENV};
pub use old_kernels::{old_kernel_dir, DEBIAN_5_10};
pub use skips::{machine_limit, SKIP_LOG_ENV};
pub use usdt::{
    install_usdt_section_target, libbpf_1_7_src, run_usdt_target, spawn_usdt_target, usdt_probes_libbpf_1_7, usdt_target,
    USDT_SECTION_TARGET,
};

use std::path::{Path, PathBuf};
use std::process::Command;

mod private_apt;
pub use private_apt::{download_private_package, newest_matching, private_sources_list, system_mirrors, Mirror, PRIVATE_SUITES};

/// The variable that turns skips into failures.
pub const REQUIRE_ENV: &str = "BPFLD_REQUIRE_KERNEL";

/// Whether skips are failures (`BPFLD_REQUIRE_KERNEL=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).as_deref() == Ok("1")
}

/// Skips (returns `None` after a message, recorded in the run's skip list)
/// or, under `BPFLD_REQUIRE_KERNEL=1`, fails the test.
pub fn skip<T>(why: &str) -> Option<T> {
    if required() {
        panic!("{why} and {REQUIRE_ENV}=1");
    }
    skips::record("missing input", why);
    None
}

/// The checkout's root (this crate is `crates/testdata`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Kernel BTF laid out as `shared/btf` is (see [`kernel_btf_dir`]).
#[doc(hidden)]
pub fn shared_btf_dir() -> Option<PathBuf> {
    kernel_btf_dir()
}

/// The kernels the offline tests use: two Debian packages and the host.
pub const K61: &str = "6.1.0-56-amd64";
pub const K612: &str = "6.12.117+deb12-amd64";
pub const K618: &str = "6.18-host";
pub const SHARED_KERNELS: [&str; 3] = [K61, K612, K618];

/// The Debian packages their BTF comes from: (release, package).
pub const SHARED_KERNEL_PACKAGES: [(&str, &str); 2] =
    [(K61, "linux-image-6.1.0-56-amd64-unsigned"), (K612, "linux-image-6.12.117+deb12-amd64-unsigned")];

/// The modules whose split BTF the tests use (those that register kfuncs),
/// per Debian release.
pub const TEST_MODULES: [(&str, &[&str]); 2] = [
    (K61, &["nf_conntrack", "nf_nat", "tcp_bbr", "tcp_dctcp"]),
    (K612, &["fou", "nf_conntrack", "nf_flow_table", "nf_nat", "tcp_bbr", "tcp_dctcp", "xfrm_interface"]),
];

/// `tests/bpf/obj/<name>.bpf.o`.
pub fn test_object(name: &str) -> PathBuf {
    repo_root().join("tests/bpf/obj").join(format!("{name}.bpf.o"))
}

/// Every committed test object's short name (`loader_maps`), sorted.
pub fn test_object_names() -> Vec<String> {
    let dir = repo_root().join("tests/bpf/obj");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".bpf.o").map(str::to_string))
        .collect();
    names.sort();
    names
}

/// bpftool, the independent reference the BTF tests compare against.
pub fn bpftool() -> Option<PathBuf> {
    for p in ["/usr/sbin/bpftool", "/usr/bin/bpftool", "/sbin/bpftool"] {
        if Path::new(p).exists() {
            return Some(PathBuf::from(p));
        }
    }
    skip("bpftool not installed")
}

/// The id bpftool reports for `KIND 'name'` in a dump of `file` (`base` for
/// split BTF).
pub fn bpftool_id(file: &Path, base: Option<&Path>, kind: &str, name: &str) -> Option<u32> {
    let mut cmd = Command::new(bpftool()?);
    if let Some(b) = base {
        cmd.arg("-B").arg(b);
    }
    let out = cmd.arg("btf").arg("dump").arg("file").arg(file).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let needle = format!("] {kind} '{name}' ");
    text.lines().find(|l| l.contains(&needle)).and_then(|l| l[1..l.find(']')?].parse().ok())
}

/// `${BPFLD_CACHE:-$HOME/.cache/bpfld}`: downloads and unpacked kernels,
/// kept between runs, never in the checkout.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("BPFLD_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache/bpfld"),
    }
}

pub(crate) fn cached_deb(dir: &Path, package: &str) -> Option<PathBuf> {
    let prefix = format!("{package}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb")))
        .collect();
    found.sort();
    found.pop()
}

fn apt_get(args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new("apt-get").args(args).current_dir(dir).output().map_err(|e| format!("apt-get {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// `<cache>/debs/<package>_*.deb`, downloaded with `apt-get download` the
/// first time (after `apt-get update` if apt does not know the package
/// yet). Returns the path and whether it was already cached. The download
/// goes to a scratch directory and is moved in whole, so an interrupted one
/// never looks cached.
pub fn download_package(cache: &Path, package: &str) -> Result<(PathBuf, bool), String> {
    let dir = cache.join("debs");
    if let Some(p) = cached_deb(&dir, package) {
        return Ok((p, true));
    }
    let got = fetch_deb(cache, package, |tmp| {
        apt_get(&["download", "-q", package], tmp).or_else(|first| {
            // apt may never have fetched its package lists on this machine.
            apt_get(&["update", "-qq"], tmp)
                .and_then(|_| apt_get(&["download", "-q", package], tmp))
                .map_err(|e| format!("{first}; after apt-get update: {e}"))
        })
    })?;
    Ok((got, false))
}

/// Runs `download` (which leaves `<package>_*.deb` in the directory it is
/// given) in a scratch directory of `<cache>/debs` and moves the package
/// into place.
pub(crate) fn fetch_deb(cache: &Path, package: &str, download: impl FnOnce(&Path) -> Result<(), String>) -> Result<PathBuf, String> {
    let dir = cache.join("debs");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".download-{}-{package}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    eprintln!("downloading {package} into {} (once)", dir.display());
    let moved = download(&tmp).and_then(|_| {
        let got = cached_deb(&tmp, package).ok_or_else(|| format!("apt-get download left no {package}_*.deb"))?;
        let dest = dir.join(got.file_name().unwrap_or_default());
        std::fs::rename(&got, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        Ok(dest)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    moved.map_err(|e| format!("cannot download {package}: {e}"))
}

/// [`download_package`] into [`cache_dir`], as a test wants it: a skip
/// (or a failure under `BPFLD_REQUIRE_KERNEL=1`) when it cannot be had.
pub fn debian_package(package: &str) -> Option<PathBuf> {
    match download_package(&cache_dir(), package) {
        Ok((p, _)) => Some(p),
        Err(e) => skip(&e),
    }
}
