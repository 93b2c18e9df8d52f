//! Helpers for tests that need the real kernel (moved here from
//! bpfld-sys, whose production code they are not): whether `bpf()` is
//! usable, a private bpffs directory per test, tracefs mounted once.

/// Environment variable that turns "skip" into "fail" (set it in CI, where a
/// kernel without usable bpf() is a misconfiguration, not a reason to skip).
pub const REQUIRE_KERNEL_ENV: &str = "BPFLD_REQUIRE_KERNEL";

/// Call first in every test that needs the kernel:
///
/// ```no_run
/// if !bpfld_testdata::require_kernel() {
///     return;
/// }
/// ```
///
/// Returns true if [`bpf_usable`](bpfld_sys::bpf_usable) succeeds. Otherwise
/// prints `skipped: bpf() not usable: <why>` and returns false, unless
/// `BPFLD_REQUIRE_KERNEL=1` is set, in which case it panics, so that
/// skipped tests cannot pass unnoticed under CI.
pub fn require_kernel() -> bool {
    match bpfld_sys::bpf_usable() {
        Ok(()) => true,
        Err(e) => {
            if std::env::var(REQUIRE_KERNEL_ENV).is_ok_and(|v| v == "1") {
                panic!("bpf() not usable and {REQUIRE_KERNEL_ENV}=1: {e}");
            }
            eprintln!("skipped: bpf() not usable: {e}");
            false
        }
    }
}

/// The bpffs tests pin in.
const BPFFS: &str = "/sys/fs/bpf";

/// A fresh, empty directory for one test's pins on the bpffs at
/// `/sys/fs/bpf` (mounted there first if that is not a bpffs):
/// `/sys/fs/bpf/bpfld-test-<pid>-<name>`, emptied if it exists. Each test
/// pins in its own directory, so tests running at the same time (or a
/// previous run's leftovers) do not see each other's pins. Panics if no
/// bpffs can be had: call [`require_kernel`] first.
pub fn bpffs_test_dir(name: &str) -> std::path::PathBuf {
    let root = std::path::Path::new(BPFFS);
    if !bpfld_sys::is_bpffs(root) {
        bpfld_sys::mount_bpffs(root).unwrap_or_else(|e| panic!("{BPFFS} is not a bpffs and mounting one failed: {e}"));
    }
    let dir = root.join(format!("bpfld-test-{}-{name}", std::process::id()));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("emptying {}: {e}", dir.display()));
    }
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

/// Makes sure tracefs is reachable (tracepoint ids): mounts it on
/// `/sys/kernel/tracing` unless it is mounted there or reachable through
/// debugfs. Idempotent and safe between tests running at the same time:
/// one mount attempt per process, and a mount that fails because another
/// process mounted tracefs first (EBUSY) counts if tracefs is there after
/// it. Panics if tracefs cannot be had.
pub fn ensure_tracefs() {
    static MOUNTED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let tracing = std::path::Path::new("/sys/kernel/tracing");
    let reachable = || {
        bpfld_sys::fs_magic(tracing).is_ok_and(|m| m == bpfld_sys::TRACEFS_MAGIC)
            || std::path::Path::new("/sys/kernel/debug/tracing/events").exists()
    };
    let outcome = MOUNTED.get_or_init(|| {
        if reachable() {
            return Ok(());
        }
        match bpfld_sys::mount_tracefs(tracing) {
            Ok(()) => Ok(()),
            Err(_) if reachable() => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    });
    if let Err(e) = outcome {
        panic!("tracefs is not mounted and mounting it failed: {e}");
    }
}
