//! Attaching kprobe, uprobe and tracepoint programs through perf events,
//! as libbpf 1.7 does on a kernel with the kprobe/uprobe PMUs: open the
//! event with `perf_event_open` (the PMU's type and retprobe bit from
//! sysfs, a tracepoint's id from tracefs), then attach the program with a
//! `BPF_PERF_EVENT` link, or with `PERF_EVENT_IOC_SET_BPF` where the kernel
//! has no such links (before 5.15), and enable the event.
//!
//! Also the section names libbpf auto-attaches from (`kprobe/<func>[+off]`,
//! `kretprobe/<func>`, `ksyscall/<name>`, `uprobe/<binary>:<func>[+off]`,
//! `tracepoint/<category>/<name>`...), parsed as libbpf parses them.
//!
//! Not done (libbpf does them): legacy probes created through tracefs
//! `kprobe_events`/`uprobe_events` on kernels without the PMUs, kprobes on
//! an address. Multi-kprobes/uprobes and USDT are in [`crate::link`].

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::{Path, PathBuf};

use crate::error::{Error, InvalidArgument, Result, SectionError};
use crate::program::Link;

/// What a probe or tracepoint section name asks to attach to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionTarget {
    /// `kprobe/FUNC[+OFFSET]` or `kretprobe/FUNC`.
    Kprobe {
        /// The kernel function.
        func: String,
        /// Bytes into the function (0 for its entry).
        offset: u64,
        /// A return probe.
        retprobe: bool,
    },
    /// A system call by its name (`getpgid`), through its kernel wrapper.
    Ksyscall {
        /// The system call's name, without a `sys_` prefix.
        name: String,
        /// A return probe (`kretsyscall`).
        retprobe: bool,
    },
    /// `u[ret]probe[.s]/BINARY:FUNC[+OFFSET]`.
    Uprobe {
        /// The executable or library, as written.
        binary: String,
        /// The function's symbol name.
        func: String,
        /// Bytes past the function's address.
        offset: u64,
        /// A return probe.
        retprobe: bool,
    },
    /// `tracepoint/CATEGORY/NAME` (or `tp/`).
    Tracepoint {
        /// The tracepoint's category (`syscalls`).
        category: String,
        /// Its name in the category (`sys_enter_openat`).
        name: String,
    },
}

/// What a kprobe, uprobe or tracepoint section name says about attaching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionAttach {
    /// A target to attach to.
    Target(SectionTarget),
    /// A section without a target (`SEC("kprobe")`): libbpf does not
    /// auto-attach it; `instead` is the explicit call to use.
    NoTarget {
        /// The explicit call (`attach_kprobe(func, offset)`).
        instead: &'static str,
    },
    /// A tracepoint section without the category (`tp/sched_switch`).
    NoTracepointCategory {
        /// `tp/` or `tracepoint/`.
        prefix: &'static str,
    },
    /// A target libbpf refuses.
    Malformed(SectionError),
}

impl From<std::result::Result<SectionTarget, SectionError>> for SectionAttach {
    fn from(r: std::result::Result<SectionTarget, SectionError>) -> SectionAttach {
        match r {
            Ok(t) => SectionAttach::Target(t),
            Err(m) => SectionAttach::Malformed(m),
        }
    }
}

/// libbpf's `sscanf("%li")`: an optional sign, then hex (`0x`), octal
/// (leading `0`) or decimal digits; returns the value and the bytes read.
fn scan_long(s: &str) -> Option<(i64, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    let neg = match b.first() {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let (radix, start) = if b[i..].starts_with(b"0x") || b[i..].starts_with(b"0X") {
        (16, i + 2)
    } else if b.get(i) == Some(&b'0') {
        (8, i)
    } else {
        (10, i)
    };
    let end = start + b[start..].iter().take_while(|c| (**c as char).is_digit(radix)).count();
    if end == start {
        // "0x" with no hex digit after reads as the number 0.
        return (radix == 16).then_some((0, i + 1));
    }
    let v = i64::from_str_radix(&s[start..end], radix).ok()?;
    Some((if neg { v.wrapping_neg() } else { v }, end))
}

/// `kprobe/<func>[+<offset>]`, `kretprobe/<func>`: the function is the
/// longest prefix of `[a-zA-Z0-9_.]` (libbpf's `%m[a-zA-Z0-9_.]+%li`).
fn parse_kprobe(rest: &str, retprobe: bool) -> std::result::Result<SectionTarget, SectionError> {
    let n = rest.bytes().take_while(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'.').count();
    if n == 0 {
        return Err(SectionError::KprobeName { rest: rest.to_string() });
    }
    let func = rest[..n].to_string();
    let offset = match rest[n..].strip_prefix('+').and_then(scan_long) {
        Some((v, _)) => v as u64,
        None => 0,
    };
    if retprobe && offset != 0 {
        return Err(SectionError::RetprobeOffset { probes: "kretprobes" });
    }
    Ok(SectionTarget::Kprobe { func, offset, retprobe })
}

/// `u[ret]probe[.s]/<binary>:<func>[+<offset>]` (libbpf's `attach_uprobe`).
fn parse_uprobe(sec: &str) -> std::result::Result<SectionTarget, SectionError> {
    let (kind, rest) = sec.split_once('/').unwrap_or((sec, ""));
    let rest = rest.split('\n').next().unwrap_or("");
    let (binary, func) = match rest.split_once(':') {
        Some((b, f)) if !b.is_empty() && !f.is_empty() => (b, f),
        _ if rest.is_empty() || rest.starts_with(':') => return Err(SectionError::UprobeFormat { section: sec.to_string() }),
        _ => return Err(SectionError::UprobeFunction { section: sec.to_string() }),
    };
    let mut func = func.to_string();
    let mut offset = 0;
    if let Some(plus) = func.rfind('+') {
        if let Some((v, used)) = scan_long(&func[plus + 1..]) {
            if plus + 1 + used == func.len() {
                offset = v as u64;
                func.truncate(plus);
            }
        }
    }
    let retprobe = kind == "uretprobe" || kind == "uretprobe.s";
    if retprobe && offset != 0 {
        return Err(SectionError::RetprobeOffset { probes: "uretprobes" });
    }
    Ok(SectionTarget::Uprobe { binary: binary.to_string(), func, offset, retprobe })
}

/// What the section name (without `?`) of a kprobe, uprobe or tracepoint
/// program says to attach to; `None` for other sections.
pub fn section_attach(sec: &str) -> Option<SectionAttach> {
    let no = |instead| Some(SectionAttach::NoTarget { instead });
    match sec {
        "kprobe" | "kretprobe" => return no("attach_kprobe(func, retprobe)"),
        "ksyscall" | "kretsyscall" => return no("attach_ksyscall(name, retprobe)"),
        "uprobe" | "uretprobe" | "uprobe.s" | "uretprobe.s" => return no("attach_uprobe(binary, func, retprobe)"),
        "tp" | "tracepoint" => return no("attach_tracepoint(category, name)"),
        _ => {}
    }
    if let Some(rest) = sec.strip_prefix("kprobe/") {
        return Some(parse_kprobe(rest, false).into());
    }
    if let Some(rest) = sec.strip_prefix("kretprobe/") {
        return Some(parse_kprobe(rest, true).into());
    }
    for (prefix, retprobe) in [("ksyscall/", false), ("kretsyscall/", true)] {
        if let Some(name) = sec.strip_prefix(prefix) {
            return Some(SectionAttach::Target(SectionTarget::Ksyscall { name: name.to_string(), retprobe }));
        }
    }
    if ["uprobe/", "uretprobe/", "uprobe.s/", "uretprobe.s/"].iter().any(|p| sec.starts_with(p)) {
        return Some(parse_uprobe(sec).into());
    }
    for prefix in ["tp/", "tracepoint/"] {
        if let Some(rest) = sec.strip_prefix(prefix) {
            return Some(match rest.split_once('/') {
                Some((category, name)) => SectionAttach::Target(SectionTarget::Tracepoint { category: category.into(), name: name.into() }),
                None => SectionAttach::NoTracepointCategory { prefix },
            });
        }
    }
    None
}

/// Where tracefs is: `/sys/kernel/tracing` if it is mounted there, else
/// the older `/sys/kernel/debug/tracing` if that exists (libbpf prefers the
/// latter when it exists; both have the same tracepoint ids).
pub fn tracefs_dir() -> PathBuf {
    let tracing = Path::new("/sys/kernel/tracing");
    if bpfld_sys::fs_magic(tracing).is_ok_and(|m| m == bpfld_sys::TRACEFS_MAGIC) {
        return tracing.to_path_buf();
    }
    let debug = Path::new("/sys/kernel/debug/tracing");
    if debug.join("events").exists() {
        return debug.to_path_buf();
    }
    tracing.to_path_buf()
}

/// The prefix of system call wrapper functions on this architecture
/// (libbpf's `arch_specific_syscall_pfx`).
fn syscall_prefix() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("x64"),
        "x86" => Some("ia32"),
        "s390x" => Some("s390x"),
        "arm" => Some("arm"),
        "aarch64" => Some("arm64"),
        "mips" | "mips64" => Some("mips"),
        "riscv64" | "riscv32" => Some("riscv"),
        "powerpc" => Some("powerpc"),
        "powerpc64" => Some("powerpc64"),
        "loongarch64" => Some("loongarch"),
        _ => None,
    }
}

/// The kernel function of system call `name`: `__<arch>_sys_<name>` where
/// the kernel has system call wrappers (probed as libbpf does, by opening a
/// kprobe on `__<arch>_sys_bpf`), else `__se_sys_<name>`.
pub fn syscall_function(name: &str) -> String {
    static WRAPPER: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();
    let prefix = *WRAPPER.get_or_init(|| {
        let pfx = syscall_prefix()?;
        let func = CString::new(format!("__{pfx}_sys_bpf")).ok()?;
        let pmu_type = bpfld_sys::pmu_type("kprobe").ok()?;
        let ev = bpfld_sys::ProbeEvent { pmu_type, config: 0, name: &func, offset: 0, pid: None };
        bpfld_sys::perf_event_open_probe(&ev).ok().map(|_| pfx)
    });
    match prefix {
        Some(p) => format!("__{p}_sys_{name}"),
        None => format!("__se_sys_{name}"),
    }
}

/// Options of kprobe and uprobe attachment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeOpts {
    /// Attach to the function's return instead of its entry.
    pub retprobe: bool,
    /// Bytes into the function (not with `retprobe`).
    pub offset: u64,
    /// What the program reads with `bpf_get_attach_cookie()` (needs BPF
    /// perf links, Linux >= 5.15).
    pub cookie: u64,
    /// Uprobes only: only this process; `None`: every process.
    pub pid: Option<i32>,
    /// Attach with `PERF_EVENT_IOC_SET_BPF` even where BPF perf links exist
    /// (libbpf's `force_ioctl_attach`, `PROBE_ATTACH_MODE_PERF`).
    pub force_ioctl_attach: bool,
    /// Uprobes only: the file offset of a USDT semaphore (a 2-byte counter)
    /// the kernel increments while the probe is attached (libbpf's
    /// `ref_ctr_offset`); 0 for none.
    pub ref_ctr_offset: u64,
}

/// Where the uprobe PMU's config takes the reference counter offset
/// (`config:32-63`).
const REF_CTR_OFFSET_SHIFT: u32 = 32;

/// Opens a kprobe or uprobe event of the `pmu` PMU.
fn open_probe(pmu: &str, name: &str, opts: &ProbeOpts, ctx: &str) -> Result<std::os::fd::OwnedFd> {
    let pmu_type = bpfld_sys::pmu_type(pmu).map_err(|e| {
        let why = if e.errno() == Some(libc::ENOENT) {
            format!(
                "failed to determine {pmu} perf type: the kernel has no {pmu} PMU (/sys/bus/event_source/devices/{pmu}; {})",
                if pmu == "kprobe" { "built without CONFIG_KPROBES?" } else { "built without CONFIG_UPROBE_EVENTS?" }
            )
        } else {
            format!("failed to determine {pmu} perf type")
        };
        Error::kernel(format!("{ctx}: {why}"), e)
    })?;
    let mut config = 0u64;
    if opts.retprobe {
        let bit = bpfld_sys::pmu_format_bit(pmu, "retprobe")
            .map_err(|e| Error::kernel(format!("{ctx}: failed to determine {pmu} retprobe bit"), e))?;
        config |= 1 << bit;
    }
    if opts.ref_ctr_offset >> (64 - REF_CTR_OFFSET_SHIFT) != 0 {
        return Err(invalid(ctx, InvalidArgument::SemaphoreOffset(opts.ref_ctr_offset)));
    }
    config |= opts.ref_ctr_offset << REF_CTR_OFFSET_SHIFT;
    let c = CString::new(name).map_err(|_| invalid(ctx, InvalidArgument::NulByte { argument: "", value: name.to_string() }))?;
    let ev = bpfld_sys::ProbeEvent { pmu_type, config, name: &c, offset: opts.offset, pid: opts.pid };
    bpfld_sys::perf_event_open_probe(&ev).map_err(|e| Error::kernel(format!("{ctx}: failed to create perf event"), e))
}

/// An argument of the probe `ctx` names that cannot be right.
fn invalid(ctx: &str, problem: InvalidArgument) -> Error {
    Error::InvalidArgument { context: Some(ctx.to_string()), problem }
}

/// Attaches `prog` to the perf event `event` and enables it (libbpf's
/// `bpf_program__attach_perf_event_opts`).
pub(crate) fn attach_to_event(
    prog: BorrowedFd<'_>,
    event: std::os::fd::OwnedFd,
    cookie: u64,
    force_ioctl: bool,
    ctx: &str,
) -> Result<Link> {
    let link = if bpfld_sys::perf_link_supported() && !force_ioctl {
        let fd = bpfld_sys::link_create_perf_event(prog, event.as_fd(), cookie)
            .map_err(|e| Error::kernel(format!("{ctx}: failed to create BPF link for perf_event"), e))?;
        Link::perf_link(fd, event)
    } else {
        if cookie != 0 {
            return Err(invalid(ctx, InvalidArgument::CookieUnsupported));
        }
        bpfld_sys::perf_event_set_bpf(event.as_fd(), prog)
            .map_err(|e| Error::kernel(format!("{ctx}: failed to attach to perf_event"), e))?;
        Link::perf_ioctl(event)
    };
    bpfld_sys::perf_event_enable(link.perf_event_fd().expect("a perf link has its event"))
        .map_err(|e| Error::kernel(format!("{ctx}: failed to enable perf_event"), e))?;
    Ok(link)
}

/// Attaches `prog` (named `prog_name`) to kernel function `func`.
pub(crate) fn attach_kprobe(prog: BorrowedFd<'_>, prog_name: &str, func: &str, opts: &ProbeOpts) -> Result<Link> {
    let kind = if opts.retprobe { "kretprobe" } else { "kprobe" };
    let ctx = format!("program '{prog_name}': {kind} '{func}+{:#x}'", opts.offset);
    if opts.retprobe && opts.offset != 0 {
        return Err(invalid(&ctx, InvalidArgument::RetprobeOffset { probes: "kretprobes" }));
    }
    let opts = ProbeOpts { pid: None, ref_ctr_offset: 0, ..*opts };
    let event = open_probe("kprobe", func, &opts, &ctx)?;
    attach_to_event(prog, event, opts.cookie, opts.force_ioctl_attach, &ctx)
}

/// Attaches `prog` to the file offset `opts.offset` (plus the offset of
/// function `func` if given) of `binary`.
pub(crate) fn attach_uprobe(prog: BorrowedFd<'_>, prog_name: &str, binary: &Path, func: Option<&str>, opts: &ProbeOpts) -> Result<Link> {
    let kind = if opts.retprobe { "uretprobe" } else { "uprobe" };
    let binary = crate::elf_symbols::resolve_binary(binary).map_err(|e| Error::Symbol {
        context: format!("program '{prog_name}': failed to resolve full path for '{}'", binary.display()),
        source: Box::new(e),
    })?;
    let mut offset = opts.offset;
    if let Some(func) = func {
        let off = crate::elf_symbols::func_file_offset(&binary, func).map_err(|e| Error::Symbol {
            context: format!("program '{prog_name}': {kind} '{}:{func}'", binary.display()),
            source: Box::new(e),
        })?;
        offset = offset.wrapping_add(off);
    }
    let ctx = format!("program '{prog_name}': {kind} '{}:{offset:#x}'", binary.display());
    if opts.retprobe && opts.offset != 0 {
        return Err(invalid(&ctx, InvalidArgument::RetprobeOffset { probes: "uretprobes" }));
    }
    let path = binary.to_str().ok_or_else(|| invalid(&ctx, InvalidArgument::PathNotUtf8))?;
    let event = open_probe("uprobe", path, &ProbeOpts { offset, ..*opts }, &ctx)?;
    attach_to_event(prog, event, opts.cookie, opts.force_ioctl_attach, &ctx)
}

/// Attaches `prog` to tracepoint `category/name`.
pub(crate) fn attach_tracepoint(prog: BorrowedFd<'_>, prog_name: &str, category: &str, name: &str, cookie: u64) -> Result<Link> {
    let ctx = format!("program '{prog_name}': tracepoint '{category}/{name}'");
    if [category, name].iter().any(|s| s.is_empty() || s.contains('/') || *s == "." || *s == "..") {
        return Err(invalid(&ctx, InvalidArgument::TracepointName));
    }
    let tracefs = tracefs_dir();
    let id = bpfld_sys::tracepoint_id(&tracefs, category, name).map_err(|e| {
        let hint = if bpfld_sys::fs_magic(&tracefs.join("events")).is_err() { " (is tracefs mounted?)" } else { "" };
        Error::kernel(format!("{ctx}: failed to determine tracepoint perf event ID{hint}"), e)
    })?;
    let event = bpfld_sys::perf_event_open_tracepoint(id).map_err(|e| Error::kernel(format!("{ctx}: failed to create perf event"), e))?;
    attach_to_event(prog, event, cookie, false, &ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(sec: &str) -> SectionTarget {
        match section_attach(sec) {
            Some(SectionAttach::Target(t)) => t,
            other => panic!("{sec}: {other:?}"),
        }
    }

    fn malformed(sec: &str) -> String {
        match section_attach(sec) {
            Some(SectionAttach::Malformed(m)) => m.to_string(),
            other => panic!("{sec}: {other:?}"),
        }
    }

    fn no_target(sec: &str) -> &'static str {
        match section_attach(sec) {
            Some(SectionAttach::NoTarget { instead }) => instead,
            other => panic!("{sec}: {other:?}"),
        }
    }

    #[test]
    fn kprobe_sections_parse_as_libbpf() {
        assert_eq!(target("kprobe/do_unlinkat"), SectionTarget::Kprobe { func: "do_unlinkat".into(), offset: 0, retprobe: false });
        assert_eq!(
            target("kprobe/tcp_v4_connect+0x10"),
            SectionTarget::Kprobe { func: "tcp_v4_connect".into(), offset: 16, retprobe: false }
        );
        assert_eq!(target("kprobe/f+010"), SectionTarget::Kprobe { func: "f".into(), offset: 8, retprobe: false });
        assert_eq!(target("kprobe/f+12"), SectionTarget::Kprobe { func: "f".into(), offset: 12, retprobe: false });
        // sscanf stops at the first character outside the class.
        assert_eq!(target("kprobe/do_sys-open"), SectionTarget::Kprobe { func: "do_sys".into(), offset: 0, retprobe: false });
        assert_eq!(target("kprobe/func.isra.0"), SectionTarget::Kprobe { func: "func.isra.0".into(), offset: 0, retprobe: false });
        assert_eq!(target("kretprobe/do_unlinkat"), SectionTarget::Kprobe { func: "do_unlinkat".into(), offset: 0, retprobe: true });
        assert_eq!(malformed("kretprobe/f+4"), "kretprobes do not support offset specification");
        assert_eq!(malformed("kprobe/+4"), "kprobe name is invalid: +4");
        assert!(matches!(section_attach("kprobe/+4"), Some(SectionAttach::Malformed(SectionError::KprobeName { rest })) if rest == "+4"));
        assert_eq!(target("ksyscall/getpgid"), SectionTarget::Ksyscall { name: "getpgid".into(), retprobe: false });
        assert_eq!(target("kretsyscall/getpgid"), SectionTarget::Ksyscall { name: "getpgid".into(), retprobe: true });
        assert_eq!(no_target("kprobe"), "attach_kprobe(func, retprobe)");
    }

    #[test]
    fn uprobe_sections_parse_as_libbpf() {
        let u = |binary: &str, func: &str, offset, retprobe| SectionTarget::Uprobe {
            binary: binary.into(),
            func: func.into(),
            offset,
            retprobe,
        };
        assert_eq!(target("uprobe/libc.so.6:malloc"), u("libc.so.6", "malloc", 0, false));
        assert_eq!(target("uprobe//usr/bin/bash:readline+0x8"), u("/usr/bin/bash", "readline", 8, false));
        assert_eq!(target("uretprobe.s//bin/x:f"), u("/bin/x", "f", 0, true));
        // "+" followed by something that is not only a number is part of the name.
        assert_eq!(target("uprobe/x:f+1y"), u("x", "f+1y", 0, false));
        assert_eq!(malformed("uretprobe/x:f+4"), "uretprobes do not support offset specification");
        assert_eq!(malformed("uprobe/x"), "section 'uprobe/x' missing ':function[+offset]' specification");
        assert_eq!(no_target("uprobe"), "attach_uprobe(binary, func, retprobe)");
    }

    #[test]
    fn tracepoint_sections() {
        let tp = |c: &str, n: &str| SectionTarget::Tracepoint { category: c.into(), name: n.into() };
        assert_eq!(target("tracepoint/syscalls/sys_enter_getpgid"), tp("syscalls", "sys_enter_getpgid"));
        assert_eq!(target("tp/sched/sched_switch"), tp("sched", "sched_switch"));
        assert!(matches!(section_attach("tp/sched"), Some(SectionAttach::NoTracepointCategory { prefix: "tp/" })));
        assert_eq!(no_target("tracepoint"), "attach_tracepoint(category, name)");
        assert_eq!(section_attach("raw_tp/sys_enter"), None);
        assert_eq!(section_attach("kprobe.multi/x*"), None);
    }

    #[test]
    fn scan_long_reads_like_sscanf() {
        assert_eq!(scan_long("0x1f"), Some((31, 4)));
        assert_eq!(scan_long("017"), Some((15, 3)));
        assert_eq!(scan_long("-5z"), Some((-5, 2)));
        assert_eq!(scan_long("0"), Some((0, 1)));
        assert_eq!(scan_long("z"), None);
    }
}
