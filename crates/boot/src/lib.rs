//! Booting kernels to ask their verifier: a kernel (a Debian kernel
//! package, a release directory made from one, a `vmlinux`/`bzImage`) is
//! made ready to boot ([`image`]), booted under qemu ([`guest`]) with an
//! initramfs ([`initramfs`]) that inserts the modules the objects need
//! ([`modules`]) and runs each loader on each object, several kernels at
//! once ([`boot_all`]). `bpfld check --boot` and the kernel matrix
//! (crates/matrix) both run on this.
//!
//! Needs `qemu-system-x86_64` (Debian: qemu-system-x86) and a static
//! busybox (busybox-static); `dpkg` to unpack packages. KVM is used where
//! the CPU really has it, software emulation (TCG) otherwise.

#![forbid(unsafe_code)]

pub mod error;
pub mod guest;
pub mod image;
pub mod initramfs;
pub mod modules;
pub mod target;
pub mod verdict;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub use error::BootError;
pub use guest::{Accel, GuestCommand, GuestPlan, GuestRun, Loader, RawLoad};
pub use image::{BootKernel, Step};
pub use verdict::{LoadVerdict, ProgramLoad};

/// Per guest, from qemu's start to its exit, unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// `${BPFLD_CACHE:-$HOME/.cache/bpfld}`: unpacked kernels, kept between runs.
pub fn default_cache_dir() -> PathBuf {
    match std::env::var_os("BPFLD_CACHE") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache/bpfld"),
    }
}

/// qemu and busybox are here; the error names the missing one.
pub fn check_tools() -> Result<(), BootError> {
    let qemu = Command::new("qemu-system-x86_64").arg("--version").output().is_ok_and(|o| o.status.success());
    if !qemu {
        return Err(BootError::Missing { tool: "qemu-system-x86_64", package: "qemu-system-x86" });
    }
    guest::find_busybox().ok_or(BootError::Missing { tool: "busybox", package: "busybox-static" })?;
    Ok(())
}

/// How many guests run at once: one 1-vCPU guest per core (two 1-vCPU
/// guests finish sooner than one 2-vCPU guest doing both).
pub fn default_parallel() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// One guest to boot: the kernel and its initramfs.
#[derive(Debug, Clone)]
pub struct BootJob {
    /// The kernel, prepared to boot.
    pub kernel: BootKernel,
    /// Its `initrd.cpio.gz` (see [`write_initramfs`]).
    pub initrd: PathBuf,
}

/// Writes `<scratch>/<release>/initrd.cpio.gz` for `kernel` and `plan`.
pub fn write_initramfs(kernel: &BootKernel, plan: &GuestPlan, scratch: &Path) -> Result<BootJob, BootError> {
    let dir = scratch.join(&kernel.release);
    std::fs::create_dir_all(&dir).map_err(|e| BootError::io(&dir, e))?;
    let img = guest::build_initramfs(kernel, plan, &dir)?;
    let initrd = dir.join("initrd.cpio.gz");
    std::fs::write(&initrd, img).map_err(|e| BootError::io(&initrd, e))?;
    Ok(BootJob { kernel: kernel.clone(), initrd })
}

/// Boots every job, at most `parallel` at once, each within `timeout`;
/// results in the jobs' order. `on_done` is told of each guest as it ends.
pub fn boot_all(
    jobs: &[BootJob],
    accel: &Accel,
    timeout: Duration,
    parallel: usize,
    on_done: &(dyn Fn(&BootJob, &Result<GuestRun, BootError>) + Sync),
) -> Vec<Result<GuestRun, BootError>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<GuestRun, BootError>>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..parallel.clamp(1, jobs.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { break };
                let run = guest::boot(&job.kernel, &job.initrd, accel, timeout);
                on_done(job, &run);
                out.lock().expect("no panic while locked")[i] = Some(run);
            });
        }
    });
    out.into_inner()
        .expect("workers done")
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(BootError::Command { command: "qemu runner".into(), stderr: "did not finish".into() })))
        .collect()
}

/// Prepares kernels in parallel (unpacking and decompressing are the slow
/// part, cached after the first time).
pub fn prepare_all(paths: &[PathBuf], cache: &Path) -> Vec<Result<BootKernel, BootError>> {
    std::thread::scope(|s| {
        let hs: Vec<_> = paths.iter().map(|p| s.spawn(move || image::prepare(p, cache))).collect();
        hs.into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| Err(BootError::Command { command: "kernel preparation".into(), stderr: "panicked".into() }))
            })
            .collect()
    })
}
