//! Error types: the errno is kept, the failing operation and object named.

use std::error::Error;
use std::fmt;
use std::io;

use crate::syscall::Cmd;

/// Result alias of this crate.
pub type Result<T, E = SysError> = std::result::Result<T, E>;

/// The operation that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    /// A `bpf()` command (also used for input rejected before the call).
    Bpf(Cmd),
    /// `mmap()` of a map.
    Mmap,
    /// Reading kernel information from sysfs or procfs.
    Sysfs(&'static str),
    /// `perf_event_open(2)`.
    PerfEventOpen,
    /// An `ioctl(2)` (the request's name).
    Ioctl(&'static str),
    /// `mount(2)`.
    Mount,
    /// `statfs(2)`.
    Statfs,
    /// An `epoll(7)` call (its name).
    Epoll(&'static str),
    /// Blocking signals or reading a `signalfd(2)`.
    Signal,
    /// An rtnetlink request (the message type's name).
    Netlink(&'static str),
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operation::Bpf(cmd) => write!(f, "bpf({cmd})"),
            Operation::Mmap => f.write_str("mmap"),
            Operation::Sysfs(path) => write!(f, "reading {path}"),
            Operation::PerfEventOpen => f.write_str("perf_event_open"),
            Operation::Ioctl(request) => write!(f, "ioctl({request})"),
            Operation::Mount => f.write_str("mount"),
            Operation::Statfs => f.write_str("statfs"),
            Operation::Epoll(call) => f.write_str(call),
            Operation::Signal => f.write_str("signalfd"),
            Operation::Netlink(msg) => write!(f, "netlink {msg}"),
        }
    }
}

/// A failed system call (or input rejected before making it), with context.
///
/// Displays as `bpf(BPF_PROG_LOAD) of 'name': Permission denied (os error 13)`.
/// Use [`SysError::errno`] to test for specific kernel errors (`ENOSPC`,
/// `EPERM`, `E2BIG`, `ENOENT`, ...): converting to [`io::Error`] keeps the
/// message and the kind but, as `io::Error` can only hold one of the two, not
/// `raw_os_error()` (downcast `get_ref()` to `SysError` to get it back).
#[derive(Debug)]
pub struct SysError {
    op: Operation,
    object: Option<String>,
    error: io::Error,
}

impl SysError {
    pub(crate) fn new(op: Operation, error: io::Error) -> Self {
        SysError { op, object: None, error }
    }

    pub(crate) fn bpf(cmd: Cmd, error: io::Error) -> Self {
        Self::new(Operation::Bpf(cmd), error)
    }

    /// Input rejected before issuing `cmd` (errno is `None`).
    pub(crate) fn invalid(cmd: Cmd, msg: impl Into<String>) -> Self {
        Self::bpf(cmd, io::Error::new(io::ErrorKind::InvalidInput, msg.into()))
    }

    /// Names the program/map/path the operation was about.
    pub(crate) fn with_object(mut self, object: impl Into<String>) -> Self {
        let object = object.into();
        if !object.is_empty() {
            self.object = Some(object);
        }
        self
    }

    /// The kernel's errno, or `None` when the input was rejected before any
    /// system call was made.
    pub fn errno(&self) -> Option<i32> {
        self.error.raw_os_error()
    }

    /// The [`io::ErrorKind`] of the underlying error.
    pub fn kind(&self) -> io::ErrorKind {
        self.error.kind()
    }

    /// The operation that failed.
    pub fn operation(&self) -> Operation {
        self.op
    }

    /// The `bpf()` command that failed, if the operation was one.
    pub fn command(&self) -> Option<Cmd> {
        match self.op {
            Operation::Bpf(cmd) => Some(cmd),
            _ => None,
        }
    }

    /// The object (program, map, path...) the operation was about, if known.
    pub fn object(&self) -> Option<&str> {
        self.object.as_deref()
    }

    /// The underlying error, with `raw_os_error()` intact.
    pub fn io_error(&self) -> &io::Error {
        &self.error
    }

    /// Drops the context and returns the underlying error (errno intact).
    pub fn into_io_error(self) -> io::Error {
        self.error
    }
}

impl fmt::Display for SysError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.op)?;
        if let Some(object) = &self.object {
            write!(f, " of '{object}'")?;
        }
        write!(f, ": {}", self.error)
    }
}

impl Error for SysError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

impl From<SysError> for io::Error {
    fn from(e: SysError) -> io::Error {
        io::Error::new(e.kind(), e)
    }
}

/// A failed `BPF_PROG_LOAD` or `BPF_BTF_LOAD`, with the complete verifier
/// (or BTF) log, which is what users need to understand a rejection.
#[derive(Debug)]
pub struct LoadError {
    error: SysError,
    log: String,
    log_truncated: bool,
}

/// The error of [`prog_load`](crate::prog_load).
pub type ProgLoadError = LoadError;

/// Number of trailing log lines included in the `Display` output: the end of
/// a verifier log is where the reason of the rejection is.
const DISPLAY_LOG_LINES: usize = 40;

impl LoadError {
    pub(crate) fn new(error: SysError, log: String, log_truncated: bool) -> Self {
        LoadError { error, log, log_truncated }
    }

    /// The kernel's errno (`EACCES` or `EINVAL` for verifier rejections), or
    /// `None` for input rejected before the call.
    pub fn errno(&self) -> Option<i32> {
        self.error.errno()
    }

    /// The full log the kernel wrote (empty if no log was requested).
    pub fn log(&self) -> &str {
        &self.log
    }

    /// True if the log did not fit even in the largest allowed buffer
    /// ([`LogOptions::max_size`](crate::LogOptions::max_size)); the errno is
    /// then `ENOSPC`.
    pub fn log_truncated(&self) -> bool {
        self.log_truncated
    }

    /// The system call error.
    pub fn sys_error(&self) -> &SysError {
        &self.error
    }

    /// Splits into the system call error and the log.
    pub fn into_parts(self) -> (SysError, String) {
        (self.error, self.log)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.error)?;
        let log = self.log.trim_end();
        if log.is_empty() {
            return Ok(());
        }
        let lines: Vec<&str> = log.lines().collect();
        let shown = lines.len().min(DISPLAY_LOG_LINES);
        if shown == lines.len() {
            writeln!(f, "\nlog:")?;
        } else {
            writeln!(f, "\nlog (last {shown} of {} lines):", lines.len())?;
        }
        for line in &lines[lines.len() - shown..] {
            writeln!(f, "  {line}")?;
        }
        if self.log_truncated {
            writeln!(f, "  (log truncated by the kernel)")?;
        }
        Ok(())
    }
}

impl Error for LoadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.error)
    }
}

impl From<LoadError> for io::Error {
    fn from(e: LoadError) -> io::Error {
        io::Error::new(e.error.kind(), e)
    }
}

impl From<LoadError> for SysError {
    fn from(e: LoadError) -> SysError {
        e.error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_context_and_errno() {
        let e = SysError::bpf(Cmd::ProgLoad, io::Error::from_raw_os_error(libc::EPERM)).with_object("name");
        let s = e.to_string();
        assert!(s.starts_with("bpf(BPF_PROG_LOAD) of 'name': "), "{s}");
        assert!(s.ends_with("(os error 1)"), "{s}");
        assert_eq!(e.errno(), Some(libc::EPERM));
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::PermissionDenied);
        let back = io.get_ref().and_then(|e| e.downcast_ref::<SysError>());
        assert_eq!(back.and_then(SysError::errno), Some(libc::EPERM));
    }

    #[test]
    fn load_error_display_shows_log_tail() {
        let log: String = (0..100).map(|i| format!("line {i}\n")).collect();
        let e = LoadError::new(SysError::bpf(Cmd::ProgLoad, io::Error::from_raw_os_error(libc::EACCES)), log, false);
        let s = e.to_string();
        assert!(s.contains("last 40 of 100 lines"), "{s}");
        assert!(s.contains("line 99") && !s.contains("line 59\n"), "{s}");
    }
}
