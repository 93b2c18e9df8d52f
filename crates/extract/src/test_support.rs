//! For tests (of this crate and of the CLI): the real kernel packages the
//! BTF in `shared/btf` came from, downloaded once into a cache outside the
//! checkout, and the `shared/btf` directory itself.
//!
//! Missing data is a skip with a message, or a failure where
//! `BPFLD_REQUIRE_KERNEL=1` (CI), as for the kernel tests.

use std::path::{Path, PathBuf};
use std::process::Command;

const REQUIRE_ENV: &str = "BPFLD_REQUIRE_KERNEL";

/// The Debian packages `shared/btf`'s blobs were cut from: (release, package).
pub const SHARED_KERNEL_PACKAGES: [(&str, &str); 2] = [
    ("6.1.0-56-amd64", "linux-image-6.1.0-56-amd64-unsigned"),
    ("6.12.117+deb12-amd64", "linux-image-6.12.117+deb12-amd64-unsigned"),
];

fn required() -> bool {
    std::env::var(REQUIRE_ENV).as_deref() == Ok("1")
}

/// Skips (returns `None` after a message) or, under BPFLD_REQUIRE_KERNEL=1,
/// fails the test.
pub fn skip<T>(why: &str) -> Option<T> {
    if required() {
        panic!("{why} and {REQUIRE_ENV}=1");
    }
    eprintln!("skipped: {why}");
    None
}

/// `shared/btf` beside the checkout (`BPFLD_SHARED_BTF` overrides).
pub fn shared_btf_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BPFLD_SHARED_BTF") {
        return Some(PathBuf::from(p));
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
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

/// `${BPFLD_CACHE:-$HOME/.cache/bpfld}/debs`.
pub fn deb_cache_dir() -> PathBuf {
    let base = match std::env::var_os("BPFLD_CACHE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache/bpfld"),
    };
    base.join("debs")
}

fn cached(dir: &Path, package: &str) -> Option<PathBuf> {
    let prefix = format!("{package}_");
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".deb"))
        })
        .collect();
    found.sort();
    found.pop()
}

fn apt_get(args: &[&str], dir: &Path) -> Result<(), String> {
    let out = Command::new("apt-get")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("apt-get {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("apt-get {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The Debian package `package` (e.g. `linux-image-6.1.0-56-amd64-unsigned`)
/// from the cache, downloaded with `apt-get download` the first time
/// (after an `apt-get update` if apt does not know the package yet).
pub fn debian_package(package: &str) -> Option<PathBuf> {
    let dir = deb_cache_dir();
    if let Some(p) = cached(&dir, package) {
        return Some(p);
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return skip(&format!("cannot create the package cache {}: {e}", dir.display()));
    }
    // Download beside the cache and move in whole: an interrupted
    // download never looks like a cached package.
    let tmp = dir.join(format!(".download-{}-{package}", std::process::id()));
    let _ = std::fs::create_dir_all(&tmp);
    eprintln!("downloading {package} into {} (once)", dir.display());
    let mut res = apt_get(&["download", "-q", package], &tmp);
    if let Err(first) = res {
        // apt may never have fetched its package lists on this machine.
        res = apt_get(&["update", "-q"], &tmp)
            .and_then(|_| apt_get(&["download", "-q", package], &tmp))
            .map_err(|e| format!("{first}; then {e}"));
    }
    let moved = res.and_then(|_| {
        let got = cached(&tmp, package).ok_or_else(|| format!("apt-get download left no {package}_*.deb"))?;
        let dest = dir.join(got.file_name().unwrap_or_default());
        std::fs::rename(&got, &dest).map_err(|e| format!("{}: {e}", dest.display()))?;
        Ok(dest)
    });
    let _ = std::fs::remove_dir_all(&tmp);
    match moved {
        Ok(p) => Some(p),
        Err(e) => skip(&format!("cannot download {package} ({e})")),
    }
}
