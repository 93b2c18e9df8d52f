//! Kernel BTF for the offline tests, laid out as `shared/btf` is
//! (`<release>.btf`, `<release>.config`, `<release>/modules/<module>.btf`):
//! the two Debian kernels cut from their packages by `bpfld-extract` and
//! checked against the digests in `kernel-btf.sha256` (recorded from the
//! blobs another tool cut, so extraction is checked too), and the running
//! kernel's own BTF and config as `6.18-host`. Made once and cached
//! outside the checkout; `shared/btf` beside the checkout is only a
//! shortcut.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::{cache_dir, download_package, skip, K618, SHARED_KERNEL_PACKAGES, TEST_MODULES};

/// Set to `1` to ignore `shared/btf` and use the project's own data (how a
/// clone with no `shared/` beside it runs).
pub const NO_SHARED_ENV: &str = "BPFLD_NO_SHARED";

/// `sha256  <path relative to the BTF directory>` for every Debian file.
const MANIFEST: &str = include_str!("../kernel-btf.sha256");

/// The expected SHA-256 (hex) of `relative` (`6.1.0-56-amd64/modules/tcp_bbr.btf`).
pub fn expected_digest(relative: &str) -> Option<&'static str> {
    MANIFEST.lines().find_map(|l| l.split_once("  ").filter(|(_, p)| *p == relative).map(|(d, _)| d))
}

/// SHA-256 of `bytes`, in hex.
pub fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// `shared/btf` beside the checkout, if it is there (`BPFLD_SHARED_BTF`
/// names another place; `BPFLD_NO_SHARED=1` ignores it). No skip: callers
/// that can check without it do.
pub fn shared_btf_only() -> Option<PathBuf> {
    if std::env::var(NO_SHARED_ENV).as_deref() == Ok("1") {
        return None;
    }
    if let Ok(p) = std::env::var("BPFLD_SHARED_BTF") {
        return Some(PathBuf::from(p));
    }
    let root = crate::repo_root();
    let mut dir = root.canonicalize().unwrap_or(root);
    loop {
        for cand in [dir.join("shared/btf"), dir.join("../shared/btf")] {
            if cand.join("README.md").exists() {
                return Some(cand.canonicalize().unwrap_or(cand));
            }
        }
        if !dir.pop() {
            return None;
        }
    }
}

/// The kernel BTF directory: `shared/btf` when it is beside the checkout,
/// else the project's own (made on first use: two kernel packages
/// downloaded and cut, a few seconds). Skips, or fails under
/// `BPFLD_REQUIRE_KERNEL=1`, when neither can be had.
pub fn kernel_btf_dir() -> Option<PathBuf> {
    if let Some(shared) = shared_btf_only() {
        return Some(shared);
    }
    static MADE: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match MADE.get_or_init(make) {
        Ok(dir) => Some(dir.clone()),
        Err(e) => skip(&format!("no kernel BTF for the offline tests: {e}")),
    }
}

/// Builds (or finds) `<cache>/kernel-btf/set-<host key>`.
fn make() -> Result<PathBuf, String> {
    let root = cache_dir().join("kernel-btf");
    let host_btf = read("/sys/kernel/btf/vmlinux")?;
    let osrelease = fs::read_to_string("/proc/sys/kernel/osrelease").map_err(|e| format!("/proc/sys/kernel/osrelease: {e}"))?;
    let key = format!("{}-{}", osrelease.trim(), &digest(&host_btf)[..16]);
    let set = root.join(format!("set-{key}"));
    if set.join("README.md").exists() {
        return Ok(set);
    }
    let tmp = scratch(&root, "set")?;
    for (release, package) in SHARED_KERNEL_PACKAGES {
        let unpacked = debian_release(&root, release, package)?;
        copy_release(&unpacked, &tmp, release)?;
    }
    write(&tmp.join(format!("{K618}.btf")), &host_btf)?;
    write(&tmp.join(format!("{K618}.config")), &running_config()?)?;
    let readme = format!(
        "Kernel BTF made by bpfld-testdata: Debian packages {:?} cut by bpfld-extract (checked against kernel-btf.sha256), \
         and {K618}.btf/.config from the running kernel {}.\n",
        SHARED_KERNEL_PACKAGES.map(|(_, p)| p),
        osrelease.trim()
    );
    write(&tmp.join("README.md"), readme.as_bytes())?;
    publish(&tmp, &set)?;
    Ok(set)
}

/// `<root>/deb/<release>`: the package's release directory with the test
/// modules, every file checked against the manifest.
fn debian_release(root: &Path, release: &str, package: &str) -> Result<PathBuf, String> {
    let dir = root.join("deb").join(release);
    if dir.join("vmlinux.btf").exists() {
        return Ok(dir);
    }
    let (deb, _) = download_package(&cache_dir(), package)?;
    let modules: BTreeSet<String> =
        TEST_MODULES.iter().find(|(r, _)| *r == release).map(|(_, m)| m.iter().map(|s| s.to_string()).collect()).unwrap_or_default();
    let tmp = scratch(root, release)?;
    let out = tmp.join(release);
    let options = bpfld_extract::DebOptions { modules: Some(modules), replace: true, threads: 0 };
    bpfld_extract::extract_deb(&deb, &out, &options).map_err(|e| e.to_string())?;
    fs::create_dir_all(root.join("deb")).map_err(|e| format!("{}: {e}", root.display()))?;
    publish(&out, &dir)?;
    let _ = fs::remove_dir_all(&tmp);
    Ok(dir)
}

/// Copies a release directory's files into the `shared/btf` layout,
/// checking each against the manifest.
fn copy_release(unpacked: &Path, set: &Path, release: &str) -> Result<(), String> {
    let mut files = vec![(unpacked.join("vmlinux.btf"), format!("{release}.btf")), (unpacked.join("config"), format!("{release}.config"))];
    for (_, modules) in TEST_MODULES.iter().filter(|(r, _)| *r == release) {
        for m in *modules {
            files.push((unpacked.join("modules").join(format!("{m}.btf")), format!("{release}/modules/{m}.btf")));
        }
    }
    for (from, relative) in files {
        let bytes = read(&from)?;
        let want = expected_digest(&relative).ok_or_else(|| format!("{relative}: not in kernel-btf.sha256"))?;
        let got = digest(&bytes);
        if got != want {
            return Err(format!("{}: SHA-256 {got}, kernel-btf.sha256 says {want}", from.display()));
        }
        let to = set.join(&relative);
        if let Some(parent) = to.parent() {
            fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        }
        write(&to, &bytes)?;
    }
    Ok(())
}

/// The running kernel's `.config` from `/proc/config.gz`.
fn running_config() -> Result<Vec<u8>, String> {
    let gz = read("/proc/config.gz")?;
    let mut text = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut text).map_err(|e| format!("/proc/config.gz: {e}"))?;
    Ok(text)
}

/// A fresh scratch directory under `root`, unique to this process.
fn scratch(root: &Path, what: &str) -> Result<PathBuf, String> {
    let tmp = root.join(format!(".tmp-{what}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    Ok(tmp)
}

/// Moves a finished directory into place; another process that finished
/// first wins, and ours is dropped.
fn publish(tmp: &Path, dest: &Path) -> Result<(), String> {
    match fs::rename(tmp, dest) {
        Ok(()) => Ok(()),
        Err(_) if dest.exists() => {
            let _ = fs::remove_dir_all(tmp);
            Ok(())
        }
        Err(e) => Err(format!("{} -> {}: {e}", tmp.display(), dest.display())),
    }
}

fn read(path: impl AsRef<Path>) -> Result<Vec<u8>, String> {
    fs::read(path.as_ref()).map_err(|e| format!("{}: {e}", path.as_ref().display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))
}
