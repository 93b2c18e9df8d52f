//! Release directories (`vmlinux.btf`, `config`, `release`) of Debian
//! kernels older than the machine's apt sources list, for offline
//! prediction tests: made once from the package in `<cache>/debs` into
//! `<cache>/kernel-btf/deb/<package>`, with no module (offline prediction
//! of what a kernel lacks needs none).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{cache_dir, skip};

/// Debian 11's 5.10 kernel package, by pattern (`*`: the ABI number).
pub const DEBIAN_5_10: &str = "linux-image-5.10.0-*-amd64-unsigned";

/// The release directory of the newest package matching `pattern` (one
/// `*` for digits) found in `<cache>/debs`; a skip (or, under
/// `BPFLD_REQUIRE_KERNEL=1`, a failure) without one.
pub fn old_kernel_dir(pattern: &str) -> Option<PathBuf> {
    // The tests of one process share it: made by one at a time.
    static MAKING: Mutex<()> = Mutex::new(());
    let _one = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    match make(&cache_dir(), pattern) {
        Ok(dir) => Some(dir),
        Err(e) => skip(&format!("no kernel for '{pattern}': {e}")),
    }
}

fn make(cache: &Path, pattern: &str) -> Result<PathBuf, String> {
    // Not cached yet: fetched from Debian 11/13 with the private apt
    // configuration (crates/testdata/src/private_apt.rs).
    let deb = match newest_deb(&cache.join("debs"), pattern) {
        Ok(deb) => deb,
        Err(_) => crate::download_private_package(cache, pattern)?.1,
    };
    let stem = deb.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let root = cache.join("kernel-btf").join("deb");
    let dir = root.join(&stem);
    if dir.join("vmlinux.btf").exists() {
        return Ok(dir);
    }
    fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
    let tmp = root.join(format!(".tmp-{stem}-{}", std::process::id()));
    let options = bpfld_extract::DebOptions { modules: Some(BTreeSet::new()), replace: true, threads: 0 };
    bpfld_extract::extract_deb(&deb, &tmp, &options).map_err(|e| e.to_string())?;
    match fs::rename(&tmp, &dir) {
        Ok(()) => Ok(dir),
        // Another test process made it first.
        Err(_) if dir.join("vmlinux.btf").exists() => {
            let _ = fs::remove_dir_all(&tmp);
            Ok(dir)
        }
        Err(e) => Err(format!("{} -> {}: {e}", tmp.display(), dir.display())),
    }
}

/// `<package>_<version>_<arch>.deb` files whose package matches `pattern`,
/// the newest by the number the `*` stands for.
fn newest_deb(debs: &Path, pattern: &str) -> Result<PathBuf, String> {
    let (prefix, suffix) = pattern.split_once('*').ok_or_else(|| format!("pattern '{pattern}' has no '*'"))?;
    let entries = fs::read_dir(debs).map_err(|e| format!("{}: {e}", debs.display()))?;
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let package = name.strip_suffix(".deb")?.split('_').next()?.to_string();
            let number: u64 = package.strip_prefix(prefix)?.strip_suffix(suffix)?.parse().ok()?;
            Some((number, e.path()))
        })
        .max()
        .map(|(_, p)| p)
        .ok_or_else(|| format!("no {pattern}_*.deb in {} (the kernel matrix downloads it)", debs.display()))
}
