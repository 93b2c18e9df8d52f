//! The run's skip list: every test that did not run, and why, so that the
//! end of `scripts/test.sh` says what was not tested instead of leaving it
//! in the scroll-back of stderr.

use std::io::Write;

/// The file each skip is appended to (`scripts/test.sh` sets it and prints
/// it at the end); unset, skips are only printed.
pub const SKIP_LOG_ENV: &str = "BPFLD_SKIP_LOG";

/// A test that cannot run on this machine for a stated reason (the kernel
/// has no kprobe PMU, the host's policy refuses fentry): prints the reason
/// and records it in the run's skip list. Never a failure, even under
/// `BPFLD_REQUIRE_KERNEL=1`: the reason is the machine's, not a missing
/// input. `test` names what was not tested; empty, the test thread's name
/// (the test's path) is used.
pub fn machine_limit(test: &str, why: &str) {
    record(test, why);
}

/// Prints `skipped: <test>: <why>` and appends it to `$BPFLD_SKIP_LOG`.
pub(crate) fn record(test: &str, why: &str) {
    let thread = std::thread::current();
    let test = if test.is_empty() { thread.name().unwrap_or("?") } else { test };
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().and_then(|s| s.to_str()).map(|s| s.rsplit_once('-').map_or(s, |(name, _hash)| name).to_string()))
        .unwrap_or_default();
    let why = why.replace('\n', " ");
    eprintln!("skipped: {test}: {why}");
    let Some(log) = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()) else { return };
    // One write per line on an O_APPEND file: lines of parallel tests do
    // not interleave.
    let line = format!("{binary}::{test}: {why}\n");
    let appended = std::fs::OpenOptions::new().create(true).append(true).open(&log).and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = appended {
        eprintln!("cannot record the skip in {}: {e}", std::path::Path::new(&log).display());
    }
}
