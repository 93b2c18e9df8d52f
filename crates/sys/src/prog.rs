//! Program loading, information and test runs.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use crate::attr;
use crate::error::{LoadError, Result, SysError};
use crate::log::{load_with_log, LogOptions};
use bpfld_asm::types::{AttachType, ProgType};

use crate::obj::{get_fd_by_id, get_next_id, obj_info};
use crate::syscall::{bpf, bpf_fd, c_buf_to_string, fd_u32, len_u32, obj_name, opt_fd, ptr, ptr_mut, Cmd};

/// Size of one BPF instruction (`struct bpf_insn`).
const INSN_SIZE: usize = 8;

/// Parameters of `BPF_PROG_LOAD`; unset fields are zero / empty / `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProgLoadAttr<'a> {
    /// `enum bpf_prog_type` value.
    pub prog_type: ProgType,
    /// `enum bpf_attach_type` value the program will be attached with; some
    /// program types need it at load time to check context accesses.
    pub expected_attach_type: AttachType,
    /// The instructions as raw bytes in host byte order, 8 bytes per
    /// `struct bpf_insn` (a `ld_imm64` takes two). Bytes rather than `u64`s
    /// because that is how ELF sections and instruction encoders hold them;
    /// the length must be a non-zero multiple of 8.
    pub insns: &'a [u8],
    /// License string; GPL-only helpers need a GPL-compatible one. Empty
    /// (the default) means proprietary.
    pub license: &'a CStr,
    /// Verifier log handling; the default logs only failed loads.
    pub log: LogOptions,
    /// `kern_version` (ignored by kernels since 5.0, kept for old kprobes).
    pub kern_version: u32,
    /// `BPF_F_*` program flags (`BPF_F_SLEEPABLE`, ...).
    pub prog_flags: u32,
    /// Program name; the kernel keeps 15 bytes, so longer names are
    /// truncated. The kernel accepts only ASCII letters, digits, `_` and `.`.
    pub prog_name: &'a str,
    /// Network device for offloaded programs.
    pub prog_ifindex: u32,
    /// BTF object the `func_info` and `line_info` records refer to.
    pub prog_btf_fd: Option<BorrowedFd<'a>>,
    /// Size of one `bpf_func_info` record as laid out in `func_info`.
    pub func_info_rec_size: u32,
    /// `bpf_func_info` records (a multiple of `func_info_rec_size`).
    pub func_info: &'a [u8],
    /// Size of one `bpf_line_info` record as laid out in `line_info`.
    pub line_info_rec_size: u32,
    /// `bpf_line_info` records (a multiple of `line_info_rec_size`).
    pub line_info: &'a [u8],
    /// BTF type id of the attach target (tracing, LSM, struct_ops, ext).
    pub attach_btf_id: u32,
    /// Module BTF holding `attach_btf_id` (`None` = vmlinux). Shares its
    /// kernel field with `attach_prog_fd`: set at most one of the two.
    pub attach_btf_obj_fd: Option<BorrowedFd<'a>>,
    /// Target program of `freplace` / tracing-of-BPF programs.
    pub attach_prog_fd: Option<BorrowedFd<'a>>,
    /// Array of fds that instructions refer to by index (`BPF_PSEUDO_MAP_IDX`,
    /// kfunc module BTFs). Raw fds because slots can be holes; the kernel
    /// only reads them during the load and rejects invalid ones (`EBADF`).
    pub fd_array: &'a [RawFd],
    /// Also pass `fd_array_cnt` (Linux >= 6.14): the kernel then binds every
    /// map in `fd_array` to the program even if no instruction uses it, and
    /// requires every entry to be a map or BTF fd.
    pub bind_fd_array: bool,
}

/// A loaded program.
#[derive(Debug)]
pub struct ProgLoaded {
    /// The program fd; the program lives while it (or a link, pin...) does.
    pub fd: OwnedFd,
    /// The verifier log (empty when no log was requested).
    pub log: String,
}

/// Loads a program (`BPF_PROG_LOAD`), handling the verifier log as described
/// by [`ProgLoadAttr::log`] / [`LogOptions`] and retrying on `EAGAIN`.
pub fn prog_load(attr: &ProgLoadAttr<'_>) -> Result<ProgLoaded, LoadError> {
    let cmd = Cmd::ProgLoad;
    let err =
        |e: io::Error, log: String, truncated: bool| LoadError::new(SysError::bpf(cmd, e).with_object(attr.prog_name), log, truncated);
    let invalid = |msg: String| err(io::Error::new(io::ErrorKind::InvalidInput, msg), String::new(), false);

    if attr.insns.is_empty() || attr.insns.len() % INSN_SIZE != 0 {
        return Err(invalid(format!("instructions are {} bytes, not a non-zero multiple of {INSN_SIZE}", attr.insns.len())));
    }
    let insn_cnt = len_u32(attr.insns.len() / INSN_SIZE, "instruction count").map_err(|e| err(e, String::new(), false))?;
    let func_info_cnt = record_count(attr.func_info, attr.func_info_rec_size, "func_info").map_err(invalid)?;
    let line_info_cnt = record_count(attr.line_info, attr.line_info_rec_size, "line_info").map_err(invalid)?;
    let attach_fd = match (attr.attach_prog_fd, attr.attach_btf_obj_fd) {
        (Some(_), Some(_)) => return Err(invalid("attach_prog_fd and attach_btf_obj_fd are exclusive".into())),
        (fd, None) | (None, fd) => opt_fd(fd),
    };
    let fd_array_len = len_u32(attr.fd_array.len(), "fd_array").map_err(|e| err(e, String::new(), false))?;

    let base = attr::ProgLoad {
        prog_type: attr.prog_type.raw(),
        insn_cnt,
        insns: ptr(attr.insns),
        license: attr.license.as_ptr() as u64,
        kern_version: attr.kern_version,
        prog_flags: attr.prog_flags,
        prog_name: obj_name(attr.prog_name),
        prog_ifindex: attr.prog_ifindex,
        expected_attach_type: attr.expected_attach_type.raw(),
        prog_btf_fd: opt_fd(attr.prog_btf_fd),
        func_info_rec_size: if func_info_cnt > 0 { attr.func_info_rec_size } else { 0 },
        func_info: ptr(attr.func_info),
        func_info_cnt,
        line_info_rec_size: if line_info_cnt > 0 { attr.line_info_rec_size } else { 0 },
        line_info: ptr(attr.line_info),
        line_info_cnt,
        attach_btf_id: attr.attach_btf_id,
        attach_fd,
        fd_array: if attr.fd_array.is_empty() { 0 } else { attr.fd_array.as_ptr() as u64 },
        fd_array_cnt: if attr.bind_fd_array { fd_array_len } else { 0 },
        ..Default::default()
    };

    load_with_log(&attr.log, |level, log| {
        let mut a = base;
        a.log_level = level;
        a.log_size = log.len() as u32; // at most MAX_LOG_SIZE
        a.log_buf = ptr_mut(log);
        // SAFETY: insns, license, func_info, line_info and fd_array point to
        // borrowed slices / C strings of the lengths and counts stored next
        // to them; log_buf is NULL or a writable buffer of log_size bytes.
        // All of them outlive the call. The command returns a new fd.
        let r = unsafe { bpf_fd(cmd, &mut a) };
        (r, a.log_true_size)
    })
    .map(|(fd, log)| ProgLoaded { fd, log })
    .map_err(|(e, log, truncated)| err(e, log, truncated))
}

/// Number of `rec_size` records in `data`, checking it divides evenly.
fn record_count(data: &[u8], rec_size: u32, what: &str) -> std::result::Result<u32, String> {
    if data.is_empty() {
        return Ok(0);
    }
    if rec_size == 0 || data.len() % rec_size as usize != 0 {
        return Err(format!("{what} is {} bytes, not a multiple of its record size {rec_size}", data.len()));
    }
    u32::try_from(data.len() / rec_size as usize).map_err(|_| format!("{what} has too many records"))
}

/// Information about a loaded program (`BPF_OBJ_GET_INFO_BY_FD`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgInfo {
    /// `enum bpf_prog_type` value.
    pub prog_type: ProgType,
    /// Kernel-wide program id.
    pub id: u32,
    /// Program tag (hash of the instructions).
    pub tag: [u8; 8],
    /// Name (at most 15 bytes).
    pub name: String,
    /// Size of the JIT-compiled image in bytes (0 if not JITed / hidden).
    pub jited_len: u32,
    /// The instructions as the verifier left them ("translated"): dead code
    /// removed, map fds replaced by ids, helper calls resolved... 8 bytes per
    /// instruction. Empty if the kernel hides them (needs `CAP_SYS_ADMIN`
    /// or `CAP_PERFMON` with `kernel.kptr_restrict` permitting).
    pub xlated_prog_insns: Vec<u8>,
    /// Ids of the maps the program uses.
    pub map_ids: Vec<u32>,
    /// Load time in nanoseconds since boot.
    pub load_time: u64,
    /// Uid of the loader.
    pub created_by_uid: u32,
    /// Network device of offloaded programs.
    pub ifindex: u32,
    /// Whether the license is GPL-compatible.
    pub gpl_compatible: bool,
    /// Id of the program's BTF object (0 if none).
    pub btf_id: u32,
    /// Number of `bpf_func_info` records.
    pub nr_func_info: u32,
    /// Number of `bpf_line_info` records.
    pub nr_line_info: u32,
    /// Run time in ns (only counted with `kernel.bpf_stats_enabled`).
    pub run_time_ns: u64,
    /// Run count (only counted with `kernel.bpf_stats_enabled`).
    pub run_cnt: u64,
    /// Runs skipped because of recursion.
    pub recursion_misses: u64,
    /// Number of instructions the verifier processed.
    pub verified_insns: u32,
    /// Id of the BTF object holding `attach_btf_id`.
    pub attach_btf_obj_id: u32,
    /// BTF type id of the attach target.
    pub attach_btf_id: u32,
}

/// Returns information about the program behind `fd`, including its
/// translated instructions and map ids.
///
/// Two calls: the first learns the lengths, the second fills buffers of
/// those lengths (the kernel only copies what fits, so the result is
/// truncated to what it reports).
pub fn prog_info(fd: BorrowedFd<'_>) -> Result<ProgInfo> {
    let mut info = attr::BpfProgInfo::default();
    // SAFETY: every length field is zero, so the kernel writes no buffers.
    unsafe { obj_info(fd, &mut info) }?;

    let mut xlated = vec![0u8; info.xlated_prog_len as usize];
    let mut map_ids = vec![0u32; info.nr_map_ids as usize];
    let mut second = attr::BpfProgInfo {
        xlated_prog_len: info.xlated_prog_len,
        xlated_prog_insns: ptr_mut(&mut xlated),
        nr_map_ids: info.nr_map_ids,
        map_ids: if map_ids.is_empty() { 0 } else { map_ids.as_mut_ptr() as u64 },
        ..Default::default()
    };
    // SAFETY: the only non-zero lengths are xlated_prog_len and nr_map_ids,
    // whose buffers are `xlated` (that many bytes) and `map_ids` (that many
    // u32s), both alive for the call.
    unsafe { obj_info(fd, &mut second) }?;
    xlated.truncate(second.xlated_prog_len.min(info.xlated_prog_len) as usize);
    map_ids.truncate(second.nr_map_ids.min(info.nr_map_ids) as usize);

    let info = second;
    Ok(ProgInfo {
        prog_type: info.prog_type.into(),
        id: info.id,
        tag: info.tag,
        name: c_buf_to_string(&info.name),
        jited_len: info.jited_prog_len,
        xlated_prog_insns: xlated,
        map_ids,
        load_time: info.load_time,
        created_by_uid: info.created_by_uid,
        ifindex: info.ifindex,
        gpl_compatible: info.gpl_compatible & 1 != 0,
        btf_id: info.btf_id,
        nr_func_info: info.nr_func_info,
        nr_line_info: info.nr_line_info,
        run_time_ns: info.run_time_ns,
        run_cnt: info.run_cnt,
        recursion_misses: info.recursion_misses,
        verified_insns: info.verified_insns,
        attach_btf_obj_id: info.attach_btf_obj_id,
        attach_btf_id: info.attach_btf_id,
    })
}

/// Input of [`prog_test_run`] (`BPF_PROG_TEST_RUN`).
#[derive(Clone, Copy, Debug, Default)]
pub struct TestRunOpts<'a> {
    /// Packet data (XDP, skb programs: at least an Ethernet header, 14
    /// bytes). Must be empty for `BPF_PROG_TYPE_SYSCALL`.
    pub data_in: &'a [u8],
    /// Capacity for the output packet; 0 for none. Too small fails with
    /// `ENOSPC`.
    pub data_out_size: usize,
    /// Context passed to the program (`__sk_buff`, `xdp_md`, the syscall
    /// program's argument...).
    pub ctx_in: &'a [u8],
    /// Capacity for the output context; 0 for none.
    pub ctx_out_size: usize,
    /// Number of runs (0 and 1 both mean once); `duration` is the mean.
    pub repeat: u32,
    /// `BPF_F_TEST_*` flags.
    pub flags: u32,
    /// CPU to run on with `BPF_F_TEST_RUN_ON_CPU`.
    pub cpu: u32,
    /// XDP live-frames batch size.
    pub batch_size: u32,
}

/// Output of [`prog_test_run`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestRunResult {
    /// The program's return value (`r0`, truncated to 32 bits).
    pub retval: u32,
    /// Mean run time in ns.
    pub duration: u32,
    /// Output packet (as long as the kernel reported).
    pub data_out: Vec<u8>,
    /// Output context (as long as the kernel reported).
    pub ctx_out: Vec<u8>,
    /// The context input buffer after the run: `BPF_PROG_TYPE_SYSCALL`
    /// programs write their context back into it (`ctx_in` is copied first,
    /// so the caller's slice is never written).
    pub ctx_in_after: Vec<u8>,
}

/// Runs a program once (or `repeat` times) in the kernel on the given input
/// (`BPF_PROG_TEST_RUN`), without attaching it.
pub fn prog_test_run(prog: BorrowedFd<'_>, opts: &TestRunOpts<'_>) -> Result<TestRunResult> {
    let cmd = Cmd::ProgTestRun;
    let err = |e| SysError::bpf(cmd, e).with_object(format!("fd {}", prog.as_raw_fd()));
    // Private copies: some program types write through the input pointers.
    let mut data_in = opts.data_in.to_vec();
    let mut ctx_in = opts.ctx_in.to_vec();
    let mut data_out = vec![0u8; opts.data_out_size];
    let mut ctx_out = vec![0u8; opts.ctx_out_size];
    let mut a = attr::TestRun {
        prog_fd: fd_u32(prog),
        data_size_in: len_u32(data_in.len(), "data_in").map_err(err)?,
        data_size_out: len_u32(data_out.len(), "data_out").map_err(err)?,
        data_in: ptr_mut(&mut data_in),
        data_out: ptr_mut(&mut data_out),
        repeat: opts.repeat,
        ctx_size_in: len_u32(ctx_in.len(), "ctx_in").map_err(err)?,
        ctx_size_out: len_u32(ctx_out.len(), "ctx_out").map_err(err)?,
        ctx_in: ptr_mut(&mut ctx_in),
        ctx_out: ptr_mut(&mut ctx_out),
        flags: opts.flags,
        cpu: opts.cpu,
        batch_size: opts.batch_size,
        ..Default::default()
    };
    // SAFETY: each pointer is NULL or a private, writable buffer of the size
    // stored next to it, alive for the call.
    unsafe { bpf(cmd, &mut a) }.map_err(err)?;
    data_out.truncate(a.data_size_out as usize);
    ctx_out.truncate(a.ctx_size_out as usize);
    Ok(TestRunResult { retval: a.retval, duration: a.duration, data_out, ctx_out, ctx_in_after: ctx_in })
}

/// The next program id after `start` (`BPF_PROG_GET_NEXT_ID`), `None` at the
/// end.
pub fn prog_get_next_id(start: u32) -> Result<Option<u32>> {
    get_next_id(Cmd::ProgGetNextId, start)
}

/// Opens the program with the given id (`BPF_PROG_GET_FD_BY_ID`).
pub fn prog_get_fd_by_id(id: u32) -> Result<OwnedFd> {
    get_fd_by_id(Cmd::ProgGetFdById, id)
}

/// Binds a map to a program (`BPF_PROG_BIND_MAP`) so the map lives as long
/// as the program even if no instruction refers to it (e.g. `.rodata`
/// that the verifier constant-folded away).
pub fn prog_bind_map(prog: BorrowedFd<'_>, map: BorrowedFd<'_>) -> Result<()> {
    let mut a = attr::ProgBindMap { prog_fd: fd_u32(prog), map_fd: fd_u32(map), ..Default::default() };
    // SAFETY: ProgBindMap holds no pointers.
    unsafe { bpf(Cmd::ProgBindMap, &mut a) }.map(drop).map_err(|e| SysError::bpf(Cmd::ProgBindMap, e))
}
