//! Verifier / BTF log capture shared by `BPF_PROG_LOAD` and `BPF_BTF_LOAD`.

use std::io;
use std::os::fd::OwnedFd;

use crate::syscall::c_buf_to_string;

/// Initial log buffer size when a log is requested: big enough for the log
/// of most rejected programs, so the common case needs a single load.
pub const DEFAULT_LOG_SIZE: usize = 64 * 1024;

/// The largest log buffer the kernel accepts (`UINT_MAX >> 2`, ~1 GiB);
/// larger sizes are rejected with `EINVAL`.
pub const MAX_LOG_SIZE: usize = (u32::MAX >> 2) as usize;

/// Kernels before 6.4 reject log buffers smaller than this.
const MIN_LOG_SIZE: usize = 128;

/// How many times a load failing with `EAGAIN` is retried, as libbpf does.
const EAGAIN_RETRIES: usize = 5;

/// `log_level` bit 0 (`BPF_LOG_LEVEL1`), used when retrying a failed load.
const LOG_LEVEL1: u32 = 1;

/// How the kernel's log of a program or BTF load is captured.
///
/// The log is never silently cut: when the kernel reports the buffer was too
/// small (`ENOSPC`), the load is repeated with a bigger buffer. Linux 6.4
/// and later report the exact size the log needs (`log_true_size`), so the
/// retry uses exactly that; older kernels do not, so the buffer grows 4x per
/// retry. Growth stops at [`max_size`](Self::max_size).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogOptions {
    /// `log_level` of the first load: 0 for no log, else a combination of
    /// `BPF_LOG_LEVEL1` (1), `BPF_LOG_LEVEL2` (2) and `BPF_LOG_STATS` (4).
    pub level: u32,
    /// Size of the first log buffer in bytes (raised to 128, the minimum old
    /// kernels accept). Exposed so tests can force the growing path.
    pub initial_size: usize,
    /// Largest log buffer to try; clamped to [`MAX_LOG_SIZE`].
    pub max_size: usize,
    /// When `level` is 0 and the load fails, load again with log level 1 to
    /// capture the reason, as libbpf does: loading without a log first keeps
    /// successful loads cheap (the verifier skips formatting), and a failed
    /// load still comes back with its explanation.
    pub retry_with_log_on_failure: bool,
}

impl Default for LogOptions {
    /// No log for successful loads, a level-1 log for failed ones (libbpf's
    /// behaviour).
    fn default() -> Self {
        LogOptions { level: 0, initial_size: DEFAULT_LOG_SIZE, max_size: MAX_LOG_SIZE, retry_with_log_on_failure: true }
    }
}

impl LogOptions {
    /// Never request a log, not even after a failure.
    pub fn none() -> Self {
        LogOptions { retry_with_log_on_failure: false, ..Self::default() }
    }

    /// Always request a log of the given level (also returned on success).
    pub fn with_level(level: u32) -> Self {
        LogOptions { level, ..Self::default() }
    }
}

/// Outcome of [`load_with_log`] on failure: (error, log, log truncated).
pub(crate) type LogFailure = (io::Error, String, bool);

/// Runs `attempt(log_level, log_buf)` until it succeeds, fails for a reason
/// other than a too-small log, or the log reaches its maximum size.
///
/// `attempt` returns the result of the load and the `log_true_size` the
/// kernel wrote back (0 if the kernel does not report it). An empty
/// `log_buf` means "no log" (level 0, NULL buffer).
pub(crate) fn load_with_log(
    opts: &LogOptions,
    mut attempt: impl FnMut(u32, &mut [u8]) -> (io::Result<OwnedFd>, u32),
) -> Result<(OwnedFd, String), LogFailure> {
    let max = opts.max_size.clamp(MIN_LOG_SIZE, MAX_LOG_SIZE);
    let mut size = opts.initial_size.clamp(MIN_LOG_SIZE, max);
    let mut level = opts.level;

    if level == 0 {
        match retry_eagain(|| attempt(0, &mut []).0) {
            Ok(fd) => return Ok((fd, String::new())),
            Err(e) if !opts.retry_with_log_on_failure => return Err((e, String::new(), false)),
            Err(_) => level = LOG_LEVEL1,
        }
    }

    loop {
        let mut buf = vec![0u8; size];
        let mut true_size = 0;
        let result = retry_eagain(|| {
            let (r, t) = attempt(level, &mut buf);
            true_size = t;
            r
        });
        let log = c_buf_to_string(&buf);
        match result {
            Ok(fd) => return Ok((fd, log)),
            Err(e) => {
                let no_space = e.raw_os_error() == Some(libc::ENOSPC);
                // ENOSPC can also be a genuine error of the load; only treat
                // it as "log too small" if the log really filled the buffer.
                let full = if true_size != 0 { true_size as usize > size } else { log.len() + 1 >= size };
                if !(no_space && full) {
                    return Err((e, log, false));
                }
                if size >= max {
                    return Err((e, log, true));
                }
                size = if true_size as usize > size { true_size as usize } else { size.saturating_mul(4) }.min(max);
            }
        }
    }
}

/// Repeats `f` while it fails with `EAGAIN` (at most [`EAGAIN_RETRIES`]
/// extra times): the kernel can return it transiently from program loads.
fn retry_eagain<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    let mut tries = 0;
    loop {
        match f() {
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) && tries < EAGAIN_RETRIES => tries += 1,
            r => return r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::File;

    fn fd() -> OwnedFd {
        File::open("/dev/null").expect("open /dev/null").into()
    }

    /// A fake kernel whose log is `log` and which reports `log_true_size`
    /// only if `report_true_size`.
    fn fake<'a>(
        log: &'static [u8],
        report_true_size: bool,
        sizes: &'a mut Vec<usize>,
    ) -> impl FnMut(u32, &mut [u8]) -> (io::Result<OwnedFd>, u32) + 'a {
        move |level, buf| {
            sizes.push(buf.len());
            if level == 0 {
                return (Err(io::Error::from_raw_os_error(libc::EACCES)), 0);
            }
            let n = log.len().min(buf.len() - 1);
            buf[..n].copy_from_slice(&log[..n]);
            buf[n] = 0;
            let t = if report_true_size { log.len() as u32 + 1 } else { 0 };
            if log.len() + 1 > buf.len() {
                (Err(io::Error::from_raw_os_error(libc::ENOSPC)), t)
            } else {
                (Err(io::Error::from_raw_os_error(libc::EACCES)), t)
            }
        }
    }

    #[test]
    fn grows_to_true_size() {
        static LOG: [u8; 1000] = [b'x'; 1000];
        let mut sizes = vec![];
        let opts = LogOptions { level: 1, initial_size: 0, ..LogOptions::default() };
        let (e, log, truncated) = load_with_log(&opts, fake(&LOG, true, &mut sizes)).expect_err("fails");
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        assert_eq!(log.len(), 1000);
        assert!(!truncated);
        assert_eq!(sizes, vec![128, 1001]);
    }

    #[test]
    fn grows_by_four_without_true_size_and_stops_at_max() {
        static LOG: [u8; 3000] = [b'y'; 3000];
        let mut sizes = vec![];
        let opts = LogOptions { level: 0, initial_size: 128, max_size: 2048, retry_with_log_on_failure: true };
        let (e, log, truncated) = load_with_log(&opts, fake(&LOG, false, &mut sizes)).expect_err("fails");
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC));
        assert!(truncated);
        assert_eq!(log.len(), 2047);
        assert_eq!(sizes, vec![0, 128, 512, 2048]);
    }

    #[test]
    fn no_retry_without_log() {
        let mut sizes = vec![];
        let (_, log, _) = load_with_log(&LogOptions::none(), fake(b"z", true, &mut sizes)).expect_err("fails");
        assert!(log.is_empty());
        assert_eq!(sizes, vec![0]);
    }

    #[test]
    fn eagain_is_retried() {
        let mut calls = 0;
        let r = load_with_log(&LogOptions::none(), |_, _| {
            calls += 1;
            if calls < 3 {
                (Err(io::Error::from_raw_os_error(libc::EAGAIN)), 0)
            } else {
                (Ok(fd()), 0)
            }
        });
        assert!(r.is_ok());
        assert_eq!(calls, 3);
    }
}
