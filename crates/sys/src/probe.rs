//! Environment probes: is bpf() usable here, CPU count, page size.

use std::io;
use std::sync::OnceLock;

use bpfld_asm::types::ProgType;

use crate::error::{Operation, SysError};
use crate::log::LogOptions;
use crate::prog::{prog_load, ProgLoadAttr};

/// `r0 = 0; exit`.
const TRIVIAL_PROG: [u8; 16] = [
    0xb7, 0, 0, 0, 0, 0, 0, 0, // mov64 r0, 0
    0x95, 0, 0, 0, 0, 0, 0, 0, // exit
];

/// Checks that `bpf()` works here by loading the smallest possible program
/// (`r0 = 0; exit` as a socket filter, which every kernel with bpf() and the
/// needed privileges accepts).
///
/// Why: the tests of the whole project run against the real kernel and use
/// this to skip cleanly in sandboxes without `CAP_BPF` or with seccomp, see
/// `bpfld_testdata::require_kernel`.
/// The error says why (`ENOSYS`, `EPERM`...).
pub fn bpf_usable() -> io::Result<()> {
    trivial_prog(ProgType::SOCKET_FILTER).map(drop).map_err(io::Error::from)
}

/// Loads `r0 = 0; exit` as a program of `prog_type`, for feature probes.
pub(crate) fn trivial_prog(prog_type: ProgType) -> Result<std::os::fd::OwnedFd, crate::LoadError> {
    let attr = ProgLoadAttr {
        prog_type,
        insns: &TRIVIAL_PROG,
        license: c"GPL",
        log: LogOptions::none(),
        prog_name: "bpfld_probe",
        ..Default::default()
    };
    prog_load(&attr).map(|p| p.fd)
}

/// Number of possible CPUs (`/sys/devices/system/cpu/possible`), which is
/// how many value slots per-CPU maps have in the syscall interface (not the
/// online count, which can be smaller). Read once and cached.
pub fn possible_cpus() -> Result<usize, SysError> {
    const PATH: &str = "/sys/devices/system/cpu/possible";
    static CPUS: OnceLock<Result<usize, String>> = OnceLock::new();
    CPUS.get_or_init(|| {
        let s = std::fs::read_to_string(PATH).map_err(|e| e.to_string())?;
        parse_cpu_list(&s).ok_or_else(|| format!("cannot parse {s:?}"))
    })
    .clone()
    .map_err(|e| SysError::new(Operation::Sysfs(PATH), io::Error::other(e)))
}

/// The ids of the possible CPUs (`/sys/devices/system/cpu/possible`), in
/// order: slot `i` of a per-CPU map value belongs to the `i`-th of them.
pub fn possible_cpu_ids() -> Result<Vec<u32>, SysError> {
    cpu_ids("/sys/devices/system/cpu/possible")
}

/// The ids of the online CPUs (`/sys/devices/system/cpu/online`), where
/// per-CPU perf events can be opened.
pub fn online_cpu_ids() -> Result<Vec<u32>, SysError> {
    cpu_ids("/sys/devices/system/cpu/online")
}

fn cpu_ids(path: &'static str) -> Result<Vec<u32>, SysError> {
    let s = std::fs::read_to_string(path).map_err(|e| SysError::new(Operation::Sysfs(path), e))?;
    parse_cpu_ids(&s)
        .ok_or_else(|| SysError::new(Operation::Sysfs(path), io::Error::new(io::ErrorKind::InvalidData, format!("cannot parse {s:?}"))))
}

/// The CPU ids of a list like `0-3,5,7-8` (at most 65536 of them).
fn parse_cpu_ids(s: &str) -> Option<Vec<u32>> {
    let mut ids = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>().ok()?, b.parse::<u32>().ok()?),
            None => {
                let a = part.parse::<u32>().ok()?;
                (a, a)
            }
        };
        if b < a || ids.len() + (b - a) as usize >= 65536 {
            return None;
        }
        ids.extend(a..=b);
    }
    (!ids.is_empty()).then_some(ids)
}

/// Counts the CPUs of a list like `0-3,5,7-8`.
fn parse_cpu_list(s: &str) -> Option<usize> {
    let mut n = 0usize;
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<usize>().ok()?, b.parse::<usize>().ok()?),
            None => {
                let a = part.parse::<usize>().ok()?;
                (a, a)
            }
        };
        n = n.checked_add(b.checked_sub(a)? + 1)?;
    }
    (n > 0).then_some(n)
}

/// The system page size (mmap granularity).
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("0-1\n"), Some(2));
        assert_eq!(parse_cpu_list("0"), Some(1));
        assert_eq!(parse_cpu_list("0-3,5,7-8"), Some(7));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_ids("0-2,5\n"), Some(vec![0, 1, 2, 5]));
        assert_eq!(parse_cpu_ids("3-1"), None);
        assert_eq!(parse_cpu_ids("0-4000000000"), None);
    }
}
