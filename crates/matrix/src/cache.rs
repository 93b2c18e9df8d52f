//! The download cache: Debian kernel packages, unpacked, with the kernel
//! decompressed for a direct (PVH) boot.
//!
//! ```text
//! ${BPFLD_CACHE:-$HOME/.cache/bpfld}/
//!   debs/<package>_<version>_amd64.deb     apt-get download (shared with bpfld-extract's tests)
//!   kernel-matrix/<release>/root/          dpkg -x of the package
//!   kernel-matrix/<release>/vmlinux        the bzImage's payload, decompressed
//!   kernel-matrix/<release>/btf/           bpfld btf extract (release directory)
//! ```
//!
//! Every entry is written beside its final name and renamed into place,
//! so an interrupted run never leaves something that looks complete.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::kernel::KernelSpec;

/// Why a kernel could not be prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrepareError {
    /// The package cannot be had here (no apt, no network, unknown
    /// package): the matrix is skipped, not failed (unless required).
    Unavailable(String),
    /// The package is there but something is wrong with it.
    Failed(String),
}

impl std::fmt::Display for PrepareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrepareError::Unavailable(s) | PrepareError::Failed(s) => f.write_str(s),
        }
    }
}

/// The cache directory: `$BPFLD_CACHE`, else `$HOME/.cache/bpfld`.
pub fn default_cache_dir() -> PathBuf {
    bpfld_testdata::cache_dir()
}

/// A kernel ready to boot.
#[derive(Debug, Clone)]
pub struct PreparedKernel {
    pub spec: KernelSpec,
    pub deb: PathBuf,
    /// `lib/modules/<release>` of the unpacked package.
    pub modules_root: PathBuf,
    /// What qemu's `-kernel` gets: the decompressed vmlinux (PVH entry),
    /// or the bzImage when the kernel has no PVH entry.
    pub boot_image: PathBuf,
    pub config: PathBuf,
    pub system_map: PathBuf,
    /// The kernel's cache directory.
    pub dir: PathBuf,
    /// What each step cost and whether it was cached.
    pub steps: Vec<Step>,
}

/// One preparation step, for the timing report.
#[derive(Debug, Clone)]
pub struct Step {
    pub what: &'static str,
    pub cached: bool,
    pub took: Duration,
}

/// `<cache>/debs/<package>_*.deb`, downloaded with `apt-get download` the
/// first time (see [`bpfld_testdata::download_package`]).
pub fn download(cache: &Path, package: &str) -> Result<(PathBuf, bool), PrepareError> {
    bpfld_testdata::download_package(cache, package).map_err(PrepareError::Unavailable)
}

/// `dpkg -x` of the package into `<dir>/root`.
fn unpack(deb: &Path, dir: &Path, release: &str) -> Result<bool, PrepareError> {
    let root = dir.join("root");
    if root.join("boot").join(format!("config-{release}")).exists() {
        return Ok(true);
    }
    let tmp = dir.join(format!(".root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let out = Command::new("dpkg")
        .arg("-x")
        .arg(deb)
        .arg(&tmp)
        .output()
        .map_err(|e| PrepareError::Unavailable(format!("dpkg -x {}: {e}", deb.display())))?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(PrepareError::Failed(format!("dpkg -x {}: {}", deb.display(), String::from_utf8_lossy(&out.stderr).trim())));
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&tmp, &root).map_err(|e| PrepareError::Failed(format!("{}: {e}", root.display())))?;
    Ok(false)
}

/// The decompressed vmlinux at `<dir>/vmlinux`: qemu boots it through its
/// PVH entry point, which skips the bzImage's own decompressor (about 5 s
/// of 6.1's xz under TCG).
fn vmlinux(vmlinuz: &Path, dir: &Path) -> Result<bool, PrepareError> {
    let dest = dir.join("vmlinux");
    if dest.exists() {
        return Ok(true);
    }
    let bytes = std::fs::read(vmlinuz).map_err(|e| PrepareError::Failed(format!("{}: {e}", vmlinuz.display())))?;
    let (_, elf) = bpfld_extract::open_elf(&vmlinuz.display().to_string(), &bytes).map_err(|e| PrepareError::Failed(e.to_string()))?;
    let tmp = dir.join(format!(".vmlinux-{}", std::process::id()));
    std::fs::write(&tmp, &elf).map_err(|e| PrepareError::Failed(format!("{}: {e}", tmp.display())))?;
    std::fs::rename(&tmp, &dest).map_err(|e| PrepareError::Failed(format!("{}: {e}", dest.display())))?;
    Ok(false)
}

fn timed<T>(steps: &mut Vec<Step>, what: &'static str, f: impl FnOnce() -> Result<(T, bool), PrepareError>) -> Result<T, PrepareError> {
    let start = Instant::now();
    let (v, cached) = f()?;
    steps.push(Step { what, cached, took: start.elapsed() });
    Ok(v)
}

/// Downloads (once) and unpacks (once) a kernel package.
pub fn prepare(spec: &KernelSpec, cache: &Path) -> Result<PreparedKernel, PrepareError> {
    let mut steps = Vec::new();
    let deb = timed(&mut steps, "download", || download(cache, &spec.package))?;
    let dir = cache.join("kernel-matrix").join(&spec.release);
    std::fs::create_dir_all(&dir).map_err(|e| PrepareError::Failed(format!("{}: {e}", dir.display())))?;
    timed(&mut steps, "dpkg -x", || unpack(&deb, &dir, &spec.release).map(|c| ((), c)))?;
    let root = dir.join("root");
    let boot = root.join("boot");
    let config = boot.join(format!("config-{}", spec.release));
    let vmlinuz = boot.join(format!("vmlinuz-{}", spec.release));
    let system_map = boot.join(format!("System.map-{}", spec.release));
    let config_text = std::fs::read_to_string(&config).map_err(|e| PrepareError::Failed(format!("{}: {e}", config.display())))?;
    let boot_image = if config_text.lines().any(|l| l == "CONFIG_PVH=y") {
        timed(&mut steps, "vmlinux", || vmlinux(&vmlinuz, &dir).map(|c| ((), c)))?;
        dir.join("vmlinux")
    } else {
        vmlinuz
    };
    Ok(PreparedKernel {
        spec: spec.clone(),
        deb,
        modules_root: root.join("lib/modules").join(&spec.release),
        boot_image,
        config,
        system_map,
        dir,
        steps,
    })
}
