//! Where bpfld's tests find their data, in one place: the kernel BTF in
//! `shared/btf` beside the checkout, the committed BPF test objects, and
//! Debian kernel packages downloaded once into a cache outside the
//! checkout.
//!
//! Missing data is a skip with a message, or a failure where
//! `BPFLD_REQUIRE_KERNEL=1` (CI), so that a test cannot pass by not
//! running.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable that turns skips into failures.
pub const REQUIRE_ENV: &str = "BPFLD_REQUIRE_KERNEL";

/// Whether skips are failures (`BPFLD_REQUIRE_KERNEL=1`).
pub fn required() -> bool {
    std::env::var(REQUIRE_ENV).as_deref() == Ok("1")
}

/// Skips (returns `None` after a message) or, under
/// `BPFLD_REQUIRE_KERNEL=1`, fails the test.
pub fn skip<T>(why: &str) -> Option<T> {
    if required() {
        panic!("{why} and {REQUIRE_ENV}=1");
    }
    eprintln!("skipped: {why}");
    None
}

/// The checkout's root (this crate is `crates/testdata`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `shared/btf` beside the checkout (CI clones the repository next to
/// `shared/`); `BPFLD_SHARED_BTF` overrides.
pub fn shared_btf_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BPFLD_SHARED_BTF") {
        return Some(PathBuf::from(p));
    }
    let mut dir = repo_root().canonicalize().unwrap_or_else(|_| repo_root());
    loop {
        for cand in [dir.join("shared/btf"), dir.join("../shared/btf")] {
            if cand.join("README.md").exists() {
                return Some(cand.canonicalize().unwrap_or(cand));
            }
        }
        if !dir.pop() {
            break;
        }
    }
    skip("shared/btf not found beside the checkout")
}

/// The kernels in `shared/btf`.
pub const K61: &str = "6.1.0-56-amd64";
pub const K612: &str = "6.12.117+deb12-amd64";
pub const K618: &str = "6.18-host";
pub const SHARED_KERNELS: [&str; 3] = [K61, K612, K618];

/// The Debian packages `shared/btf`'s blobs were cut from: (release, package).
pub const SHARED_KERNEL_PACKAGES: [(&str, &str); 2] =
    [(K61, "linux-image-6.1.0-56-amd64-unsigned"), (K612, "linux-image-6.12.117+deb12-amd64-unsigned")];

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

fn cached_deb(dir: &Path, package: &str) -> Option<PathBuf> {
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
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let tmp = dir.join(format!(".download-{}-{package}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    eprintln!("downloading {package} into {} (once)", dir.display());
    let mut res = apt_get(&["download", "-q", package], &tmp);
    if let Err(first) = res {
        // apt may never have fetched its package lists on this machine.
        res = apt_get(&["update", "-qq"], &tmp)
            .and_then(|_| apt_get(&["download", "-q", package], &tmp))
            .map_err(|e| format!("{first}; after apt-get update: {e}"));
    }
    let moved = res.and_then(|_| {
        let got = cached_deb(&tmp, package).ok_or_else(|| format!("apt-get download left no {package}_*.deb"))?;
        let dest = dir.join(got.file_name().unwrap_or_default());
        std::fs::rename(&got, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        Ok(dest)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    moved.map(|p| (p, false)).map_err(|e| format!("cannot download {package}: {e}"))
}

/// [`download_package`] into [`cache_dir`], as a test wants it: a skip
/// (or a failure under `BPFLD_REQUIRE_KERNEL=1`) when it cannot be had.
pub fn debian_package(package: &str) -> Option<PathBuf> {
    match download_package(&cache_dir(), package) {
        Ok((p, _)) => Some(p),
        Err(e) => skip(&e),
    }
}
