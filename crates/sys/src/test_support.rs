//! Helpers for tests that need the real kernel, shared by the whole project.

/// Environment variable that turns "skip" into "fail" (set it in CI, where a
/// kernel without usable bpf() is a misconfiguration, not a reason to skip).
pub const REQUIRE_KERNEL_ENV: &str = "BPFLD_REQUIRE_KERNEL";

/// Call first in every test that needs the kernel:
///
/// ```no_run
/// if !bpfld_sys::test_support::require_kernel() {
///     return;
/// }
/// ```
///
/// Returns true if [`bpf_usable`](crate::bpf_usable) succeeds. Otherwise
/// prints `skipped: bpf() not usable: <why>` and returns false, unless
/// `BPFLD_REQUIRE_KERNEL=1` is set, in which case it panics, so that
/// skipped tests cannot pass unnoticed under CI.
pub fn require_kernel() -> bool {
    match crate::bpf_usable() {
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
