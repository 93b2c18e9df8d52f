//! Why a kernel could not be booted or a guest not be run.

use std::fmt;
use std::path::PathBuf;

/// Why a kernel could not be prepared or booted, or a guest not run:
/// [`is_unavailable`](BootError::is_unavailable) tells a machine that
/// lacks a tool from bad input.
#[derive(Debug)]
pub enum BootError {
    /// A program this machine lacks: booting cannot run here at all.
    Missing {
        /// The executable (`qemu-system-x86_64`, `busybox`, `dpkg`, `ldd`).
        tool: &'static str,
        /// The Debian package that installs it.
        package: &'static str,
    },
    /// A file or directory could not be read or written.
    Io {
        /// The path (or program) at fault.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A kernel image or module that does not decompress or parse.
    Extract(bpfld_extract::Error),
    /// A `-k` path that names nothing bootable.
    NotBootable {
        /// The path as given.
        path: PathBuf,
        /// What is missing from it (no release, no config, a BTF file).
        why: String,
    },
    /// A helper program (`dpkg -x`, `ldd`) that failed.
    Command {
        /// The command line, or the step that did not finish.
        command: String,
        /// What it printed on stderr, or how it failed.
        stderr: String,
    },
    /// A module of the insmod plan that is missing or unreadable.
    Module {
        /// The module's name or file name.
        module: String,
        /// Which module needed it and what is wrong (absent, unreadable).
        why: String,
    },
}

impl BootError {
    /// An [`Io`](BootError::Io) error at `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> BootError {
        BootError::Io { path: path.into(), source }
    }

    /// Whether the machine, not the input, is at fault (the matrix skips).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, BootError::Missing { .. })
    }
}

impl fmt::Display for BootError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BootError::Missing { tool, package } => write!(f, "{tool} not found (Debian package {package})"),
            BootError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BootError::Extract(e) => write!(f, "{e}"),
            BootError::NotBootable { path, why } => write!(f, "{}: cannot boot this: {why}", path.display()),
            BootError::Command { command, stderr } => write!(f, "{command}: {stderr}"),
            BootError::Module { module, why } => write!(f, "module '{module}': {why}"),
        }
    }
}

impl std::error::Error for BootError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BootError::Io { source, .. } => Some(source),
            BootError::Extract(e) => Some(e),
            _ => None,
        }
    }
}

impl From<bpfld_extract::Error> for BootError {
    fn from(e: bpfld_extract::Error) -> BootError {
        BootError::Extract(e)
    }
}
