//! Perf events that BPF programs attach to: kprobes, uprobes and
//! tracepoints opened with `perf_event_open(2)`, the ioctls that attach a
//! program to one without a BPF link (kernels before 5.15), and the sysfs
//! and tracefs files that say how to open them.
//!
//! Why here: `perf_event_open` and `ioctl` are raw system calls like
//! `bpf()`, and the attribute struct must reach the kernel with every byte
//! initialised, which is this crate's job.

use std::ffi::CStr;
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use crate::error::{Operation, Result, SysError};

/// `struct perf_event_attr` up to `sig_data` (`PERF_ATTR_SIZE_VER7`, Linux
/// 5.13; older kernels accept it too, since the fields they do not know are
/// zero). Every bit field (`disabled`, `inherit`, ...) is 0: the event
/// starts enabled, as libbpf opens it.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct PerfEventAttr {
    pub(crate) type_: u32,
    pub(crate) size: u32,
    pub(crate) config: u64,
    pub(crate) sample_period: u64,
    pub(crate) sample_type: u64,
    pub(crate) read_format: u64,
    /// The `disabled:1, inherit:1, ...` bit fields.
    pub(crate) flags: u64,
    pub(crate) wakeup_events: u32,
    pub(crate) bp_type: u32,
    /// `kprobe_func` / `uprobe_path`: a pointer to a C string.
    pub(crate) config1: u64,
    /// `kprobe_addr` / `probe_offset`.
    pub(crate) config2: u64,
    pub(crate) branch_sample_type: u64,
    pub(crate) sample_regs_user: u64,
    pub(crate) sample_stack_user: u32,
    pub(crate) clockid: i32,
    pub(crate) sample_regs_intr: u64,
    pub(crate) aux_watermark: u32,
    pub(crate) sample_max_stack: u16,
    pub(crate) _reserved_2: u16,
    pub(crate) aux_sample_size: u32,
    pub(crate) _reserved_3: u32,
    pub(crate) sig_data: u64,
}

/// `PERF_ATTR_SIZE_VER7`.
pub(crate) const PERF_ATTR_SIZE: u32 = 128;
const _: () = assert!(size_of::<PerfEventAttr>() == PERF_ATTR_SIZE as usize);

/// `PERF_TYPE_TRACEPOINT`.
const PERF_TYPE_TRACEPOINT: u32 = 2;
/// `PERF_FLAG_FD_CLOEXEC`.
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;
/// `_IO('$', 0)`, `_IO('$', 1)`, `_IOW('$', 8, __u32)`.
const PERF_EVENT_IOC_ENABLE: libc::c_ulong = 0x2400;
const PERF_EVENT_IOC_DISABLE: libc::c_ulong = 0x2401;
const PERF_EVENT_IOC_SET_BPF: libc::c_ulong = 0x4004_2408;

/// Where the kernel describes its dynamic PMUs (`kprobe`, `uprobe`).
const PMU_DIR: &str = "/sys/bus/event_source/devices";

/// `perf_event_open(attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)`.
///
/// # Safety
///
/// `config1` of `attr`, if the event type reads it as a pointer (kprobe
/// and uprobe PMUs), must point to a NUL-terminated string alive for the
/// call.
pub(crate) unsafe fn perf_event_open_attr(attr: &mut PerfEventAttr, pid: i32, cpu: i32) -> io::Result<OwnedFd> {
    // SAFETY: attr is a live, initialised struct of attr.size bytes; the
    // pointer in config1 is valid per this function's contract.
    let ret =
        unsafe { libc::syscall(libc::SYS_perf_event_open, attr as *mut PerfEventAttr, pid, cpu, -1 as libc::c_int, PERF_FLAG_FD_CLOEXEC) };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(ret).map_err(|_| io::Error::from(io::ErrorKind::InvalidData))?;
    // SAFETY: perf_event_open returned a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A kprobe or uprobe event of a dynamic PMU (`/sys/bus/event_source/
/// devices/{kprobe,uprobe}`), as libbpf opens it on kernels that have one
/// (Linux >= 4.17).
#[derive(Clone, Copy, Debug)]
pub struct ProbeEvent<'a> {
    /// The PMU's type ([`pmu_type`]).
    pub pmu_type: u32,
    /// `1 << retprobe bit` ([`pmu_format_bit`]) for a return probe, plus,
    /// for uprobes, the reference counter offset shifted left by 32.
    pub config: u64,
    /// The kernel function (kprobe) or the binary's path (uprobe).
    pub name: &'a CStr,
    /// Offset into the function (kprobe) or file offset in the binary
    /// (uprobe).
    pub offset: u64,
    /// Only this process (uprobes); `None`: every process.
    pub pid: Option<i32>,
}

/// Opens a kprobe or uprobe perf event. As libbpf: any process and CPU 0
/// without a pid (a BPF program attached to the event runs on every CPU
/// anyway), every CPU of that process with one.
pub fn perf_event_open_probe(ev: &ProbeEvent<'_>) -> Result<OwnedFd> {
    let mut attr = PerfEventAttr {
        type_: ev.pmu_type,
        size: PERF_ATTR_SIZE,
        config: ev.config,
        config1: ev.name.as_ptr() as u64,
        config2: ev.offset,
        ..Default::default()
    };
    let (pid, cpu) = match ev.pid {
        Some(pid) => (pid, -1),
        None => (-1, 0),
    };
    // SAFETY: config1 points to `ev.name`, a C string borrowed for the call.
    unsafe { perf_event_open_attr(&mut attr, pid, cpu) }
        .map_err(|e| SysError::new(Operation::PerfEventOpen, e).with_object(format!("{}+{:#x}", ev.name.to_string_lossy(), ev.offset)))
}

/// Opens the tracepoint event with the id tracefs gives it
/// ([`tracepoint_id`]), on CPU 0 for any process, as libbpf does.
pub fn perf_event_open_tracepoint(id: u64) -> Result<OwnedFd> {
    let mut attr = PerfEventAttr { type_: PERF_TYPE_TRACEPOINT, size: PERF_ATTR_SIZE, config: id, ..Default::default() };
    // SAFETY: a tracepoint event reads no pointer from the attribute.
    unsafe { perf_event_open_attr(&mut attr, -1, 0) }
        .map_err(|e| SysError::new(Operation::PerfEventOpen, e).with_object(format!("tracepoint id {id}")))
}

/// `PERF_TYPE_SOFTWARE`.
const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_SW_CPU_CLOCK`: the software event sampling programs are
/// usually attached to (a timer per CPU).
pub const PERF_COUNT_SW_CPU_CLOCK: u64 = 0;
/// The `freq` bit of `perf_event_attr`'s bit fields: `sample_period` is a
/// frequency in Hz.
const PERF_ATTR_FLAG_FREQ: u64 = 1 << 10;

/// How often a sampling event fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplePeriod {
    /// Every this many events (nanoseconds for `cpu-clock`).
    Period(u64),
    /// This many times per second.
    Frequency(u64),
}

/// Opens a software perf event (`PERF_TYPE_SOFTWARE`, `config` one of
/// `PERF_COUNT_SW_*`) on `cpu` for every process, sampling at `period`:
/// a `perf_event` BPF program attached to it runs on each sample.
pub fn perf_event_open_software(config: u64, cpu: u32, period: SamplePeriod) -> Result<OwnedFd> {
    let (sample_period, flags) = match period {
        SamplePeriod::Period(p) => (p, 0),
        SamplePeriod::Frequency(f) => (f, PERF_ATTR_FLAG_FREQ),
    };
    let mut attr = PerfEventAttr { type_: PERF_TYPE_SOFTWARE, size: PERF_ATTR_SIZE, config, sample_period, flags, ..Default::default() };
    let cpu_i = i32::try_from(cpu).map_err(|_| SysError::new(Operation::PerfEventOpen, io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: a software event reads no pointer from the attribute.
    unsafe { perf_event_open_attr(&mut attr, -1, cpu_i) }
        .map_err(|e| SysError::new(Operation::PerfEventOpen, e).with_object(format!("software event {config} on CPU {cpu}")))
}

/// `ioctl(fd, request, arg)` on a perf event fd.
fn perf_ioctl(fd: BorrowedFd<'_>, request: libc::c_ulong, arg: libc::c_ulong, name: &'static str) -> Result<()> {
    // SAFETY: the perf ioctls used here take an integer argument (a prog
    // fd or 0), no pointer; fd is a live descriptor.
    let ret = unsafe { libc::ioctl(fd.as_raw_fd(), request as _, arg) };
    if ret < 0 {
        return Err(SysError::new(Operation::Ioctl(name), io::Error::last_os_error()));
    }
    Ok(())
}

/// Attaches a program to a perf event without a BPF link
/// (`PERF_EVENT_IOC_SET_BPF`): the attachment lives as long as the event.
pub fn perf_event_set_bpf(event: BorrowedFd<'_>, prog: BorrowedFd<'_>) -> Result<()> {
    perf_ioctl(event, PERF_EVENT_IOC_SET_BPF, prog.as_raw_fd() as libc::c_ulong, "PERF_EVENT_IOC_SET_BPF")
}

/// `PERF_EVENT_IOC_ENABLE`.
pub fn perf_event_enable(event: BorrowedFd<'_>) -> Result<()> {
    perf_ioctl(event, PERF_EVENT_IOC_ENABLE, 0, "PERF_EVENT_IOC_ENABLE")
}

/// `PERF_EVENT_IOC_DISABLE`.
pub fn perf_event_disable(event: BorrowedFd<'_>) -> Result<()> {
    perf_ioctl(event, PERF_EVENT_IOC_DISABLE, 0, "PERF_EVENT_IOC_DISABLE")
}

fn read_sysfs(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| SysError::new(Operation::Sysfs("perf event file"), e).with_object(path.display().to_string()))
}

fn bad_content(path: &Path, content: &str, want: &str) -> SysError {
    SysError::new(
        Operation::Sysfs("perf event file"),
        io::Error::new(io::ErrorKind::InvalidData, format!("{:?} is not {want}", content.trim_end())),
    )
    .with_object(path.display().to_string())
}

/// The perf type of a dynamic PMU (`kprobe`, `uprobe`): the number in
/// `/sys/bus/event_source/devices/<pmu>/type`. A kernel without the PMU
/// (without `CONFIG_KPROBES`, say) fails with `ENOENT`.
pub fn pmu_type(pmu: &str) -> Result<u32> {
    let path = Path::new(PMU_DIR).join(pmu).join("type");
    let s = read_sysfs(&path)?;
    s.trim().parse().map_err(|_| bad_content(&path, &s, "a number"))
}

/// The config bit of a PMU format field (`retprobe` is `config:0`):
/// `/sys/bus/event_source/devices/<pmu>/format/<field>`.
pub fn pmu_format_bit(pmu: &str, field: &str) -> Result<u32> {
    let path = Path::new(PMU_DIR).join(pmu).join("format").join(field);
    let s = read_sysfs(&path)?;
    s.trim()
        .strip_prefix("config:")
        .and_then(|b| b.parse::<u32>().ok())
        .filter(|&b| b < 64)
        .ok_or_else(|| bad_content(&path, &s, "config:<bit>"))
}

/// The perf event id of tracepoint `category/name`: the number in
/// `<tracefs>/events/<category>/<name>/id`. A tracepoint that does not
/// exist fails with `ENOENT`.
pub fn tracepoint_id(tracefs: &Path, category: &str, name: &str) -> Result<u64> {
    let path = tracefs.join("events").join(category).join(name).join("id");
    let s = read_sysfs(&path)?;
    s.trim().parse().map_err(|_| bad_content(&path, &s, "a number"))
}
