//! Kernel feature probes, one per feature libbpf 1.7 probes (its
//! `features.c`), each with the smallest program, map or BTF that shows
//! it. Each returns whether the running kernel has the feature; a probe
//! that cannot tell (no privilege, an unexpected error) says no, as in
//! libbpf. Nothing is cached here: the `bpfld` crate probes once per
//! process.

use std::os::fd::AsFd;

use bpfld_asm::types::{AttachType, MapType, ProgType};

use crate::attr;
use crate::btf::{btf_info, btf_load};
use crate::log::LogOptions;
use crate::map::{map_create, MapCreateAttr};
use crate::prog::{prog_bind_map, prog_load, ProgLoadAttr};
use crate::syscall::{bpf_fd, fd_u32, ptr, Cmd};

// Program, map and attach types the probes use.
const SOCKET_FILTER: ProgType = ProgType::SOCKET_FILTER;
const KPROBE: ProgType = ProgType::KPROBE;
const TRACEPOINT: ProgType = ProgType::TRACEPOINT;
const CGROUP_SOCK: ProgType = ProgType::CGROUP_SOCK;
const ARRAY: MapType = MapType::ARRAY;
const CGROUP_INET_SOCK_CREATE: AttachType = AttachType::CGROUP_INET_SOCK_CREATE;
const TRACE_KPROBE_MULTI: AttachType = AttachType::TRACE_KPROBE_MULTI;
const TRACE_UPROBE_MULTI: AttachType = AttachType::TRACE_UPROBE_MULTI;
const NO_ATTACH: AttachType = AttachType::UNSET;
const MMAPABLE: u32 = 1 << 10;

// Helpers.
const PROBE_READ_KERNEL: i32 = 113;
const KTIME_GET_COARSE_NS: i32 = 160;
const GET_FUNC_IP: i32 = 173;
const GET_ATTACH_COOKIE: i32 = 174;

// BTF kinds and encodings.
const KIND_INT: u32 = 1;
const KIND_PTR: u32 = 2;
const KIND_FUNC: u32 = 12;
const KIND_FUNC_PROTO: u32 = 13;
const KIND_VAR: u32 = 14;
const KIND_DATASEC: u32 = 15;
const KIND_FLOAT: u32 = 16;
const KIND_DECL_TAG: u32 = 17;
const KIND_TYPE_TAG: u32 = 18;
const KIND_ENUM64: u32 = 19;
const INT_SIGNED_32: u32 = (1 << 24) | 32;
const FUNC_GLOBAL: u32 = 1;

/// One encoded instruction.
const fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let o = off.to_le_bytes();
    let i = imm.to_le_bytes();
    [code, dst | (src << 4), o[0], o[1], i[0], i[1], i[2], i[3]]
}
const MOV64_R0_0: [u8; 8] = insn(0xb7, 0, 0, 0, 0);
const EXIT: [u8; 8] = insn(0x95, 0, 0, 0, 0);
const fn call(helper: i32) -> [u8; 8] {
    insn(0x85, 0, 0, 0, helper)
}

fn program(insns: &[[u8; 8]]) -> Vec<u8> {
    insns.iter().flatten().copied().collect()
}

/// `info` word of a BTF type.
const fn info(kind: u32, kflag: bool, vlen: u32) -> u32 {
    (kind << 24) | ((kflag as u32) << 31) | vlen
}

/// Raw BTF of `types` (u32 words) and `strings` (starting with NUL).
fn raw_btf(types: &[u32], strings: &[u8]) -> Vec<u8> {
    let type_len = (types.len() * 4) as u32;
    let header = [0x0001_eb9f_u32 /* magic, version 1, flags 0 */, 24, 0, type_len, type_len, strings.len() as u32];
    let mut out: Vec<u8> = header.iter().flat_map(|w| w.to_ne_bytes()).collect();
    // The first header word is magic (u16) + version (u8) + flags (u8).
    out[..4].copy_from_slice(&[0x9f, 0xeb, 1, 0]);
    out.extend(types.iter().flat_map(|w| w.to_ne_bytes()));
    out.extend_from_slice(strings);
    out
}

fn btf_loads(types: &[u32], strings: &[u8]) -> bool {
    btf_load(&raw_btf(types, strings), LogOptions::none()).is_ok()
}

fn prog_loads(prog_type: ProgType, expected_attach_type: AttachType, insns: &[[u8; 8]]) -> bool {
    load(prog_type, expected_attach_type, insns).is_some()
}

fn load(prog_type: ProgType, expected_attach_type: AttachType, insns: &[[u8; 8]]) -> Option<std::os::fd::OwnedFd> {
    let code = program(insns);
    let attr =
        ProgLoadAttr { prog_type, expected_attach_type, insns: &code, license: c"GPL", log: LogOptions::none(), ..Default::default() };
    prog_load(&attr).ok().map(|p| p.fd)
}

fn array_map(value_size: u32, flags: u32, name: &str) -> Option<std::os::fd::OwnedFd> {
    let attr =
        MapCreateAttr { map_type: ARRAY, key_size: 4, value_size, max_entries: 1, map_flags: flags, map_name: name, ..Default::default() };
    map_create(&attr).ok()
}

/// Program and map names in `BPF_PROG_LOAD`/`BPF_MAP_CREATE`.
pub fn prog_name() -> bool {
    let code = program(&[MOV64_R0_0, EXIT]);
    let attr = ProgLoadAttr {
        prog_type: SOCKET_FILTER,
        insns: &code,
        license: c"GPL",
        log: LogOptions::none(),
        prog_name: "bpfld_nametest",
        ..Default::default()
    };
    prog_load(&attr).is_ok()
}

/// Global data: a store through `ld_imm64` of a map value.
pub fn global_data() -> bool {
    let Some(map) = array_map(32, 0, "") else { return false };
    let fd = fd_u32(map.as_fd()) as i32;
    // r1 = map_value(map) + 16; *(u64 *)(r1 + 0) = 42; r0 = 0; exit
    let insns = [insn(0x18, 1, 2, 0, fd), insn(0, 0, 0, 0, 16), insn(0x7a, 1, 0, 0, 42), MOV64_R0_0, EXIT];
    prog_loads(SOCKET_FILTER, NO_ATTACH, &insns)
}

/// `BPF_BTF_LOAD` of one INT.
pub fn btf() -> bool {
    btf_loads(&[1, info(KIND_INT, false, 0), 4, INT_SIGNED_32], b"\0int\0")
}

/// `void x(int a)` as FUNC and FUNC_PROTO, with `linkage`.
fn btf_func_linkage(linkage: u32) -> bool {
    #[rustfmt::skip]
    let types = [
        1, info(KIND_INT, false, 0), 4, INT_SIGNED_32, // [1] int
        0, info(KIND_FUNC_PROTO, false, 1), 0, 7, 1, // [2] void (int a)
        5, info(KIND_FUNC, false, linkage), 2, // [3] x
    ];
    btf_loads(&types, b"\0int\0x\0a\0")
}

/// BTF FUNC and FUNC_PROTO.
pub fn btf_func() -> bool {
    btf_func_linkage(0)
}

/// FUNCs of global linkage.
pub fn btf_global_func() -> bool {
    btf_func_linkage(FUNC_GLOBAL)
}

/// `static int x` in a DATASEC named by the string at offset 3.
fn datasec_named(strings: &[u8]) -> bool {
    #[rustfmt::skip]
    let types = [
        0, info(KIND_INT, false, 0), 4, INT_SIGNED_32, // [1] int
        1, info(KIND_VAR, false, 0), 1, 0, // [2] static x
        3, info(KIND_DATASEC, false, 1), 4, 2, 0, 4, // [3] section
    ];
    btf_loads(&types, strings)
}

/// BTF DATASEC and VAR.
pub fn btf_datasec() -> bool {
    datasec_named(b"\0x\0.data\0")
}

/// DATASEC names starting with `?`.
pub fn btf_qmark_datasec() -> bool {
    datasec_named(b"\0x\0?.data\0")
}

/// BTF FLOAT.
pub fn btf_float() -> bool {
    btf_loads(&[1, info(KIND_FLOAT, false, 0), 4], b"\0float\0")
}

/// BTF DECL_TAG.
pub fn btf_decl_tag() -> bool {
    #[rustfmt::skip]
    let types = [
        0, info(KIND_INT, false, 0), 4, INT_SIGNED_32, // [1] int
        1, info(KIND_VAR, false, 0), 1, 0, // [2] static var
        1, info(KIND_DECL_TAG, false, 0), 2, u32::MAX, // [3] tag on [2]
    ];
    btf_loads(&types, b"\0tag\0")
}

/// BTF TYPE_TAG.
pub fn btf_type_tag() -> bool {
    #[rustfmt::skip]
    let types = [
        0, info(KIND_INT, false, 0), 4, INT_SIGNED_32, // [1] int
        1, info(KIND_TYPE_TAG, false, 0), 1, // [2] tag -> int
        0, info(KIND_PTR, false, 0), 2, // [3] ptr -> tag
    ];
    btf_loads(&types, b"\0tag\0")
}

/// BTF ENUM64.
pub fn btf_enum64() -> bool {
    btf_loads(&[1, info(KIND_ENUM64, false, 0), 8], b"\0enum64\0")
}

/// `BPF_F_MMAPABLE` arrays.
pub fn array_mmap() -> bool {
    array_map(4, MMAPABLE, "").is_some()
}

/// `expected_attach_type` at load.
pub fn exp_attach_type() -> bool {
    prog_loads(CGROUP_SOCK, CGROUP_INET_SOCK_CREATE, &[MOV64_R0_0, EXIT])
}

/// `bpf_probe_read_kernel()`.
pub fn probe_read_kernel() -> bool {
    // r1 = fp - 8; r2 = 8; r3 = 0; call probe_read_kernel; exit
    let insns =
        [insn(0xbf, 1, 10, 0, 0), insn(0x07, 1, 0, 0, -8), insn(0xb7, 2, 0, 0, 8), insn(0xb7, 3, 0, 0, 0), call(PROBE_READ_KERNEL), EXIT];
    prog_loads(TRACEPOINT, NO_ATTACH, &insns)
}

/// `BPF_PROG_BIND_MAP`.
pub fn prog_bind_map_supported() -> bool {
    let (Some(map), Some(prog)) = (array_map(32, 0, ""), load(SOCKET_FILTER, NO_ATTACH, &[MOV64_R0_0, EXIT])) else { return false };
    prog_bind_map(prog.as_fd(), map.as_fd()).is_ok()
}

/// Module BTF: `bpf_btf_info` has a name (they came together).
pub fn module_btf() -> bool {
    match btf_load(&raw_btf(&[1, info(KIND_INT, false, 0), 4, INT_SIGNED_32], b"\0int\0"), LogOptions::none()) {
        Ok(fd) => btf_info(fd.as_fd()).is_ok(),
        Err(_) => false,
    }
}

/// `BPF_PERF_EVENT` links.
pub fn perf_link() -> bool {
    crate::obj::perf_link_supported()
}

/// Memory charged to memcg rather than RLIMIT_MEMLOCK (Linux 5.11), told
/// as libbpf tells it: by `bpf_ktime_get_coarse_ns()`, from the same
/// release.
pub fn memcg_account() -> bool {
    prog_loads(SOCKET_FILTER, NO_ATTACH, &[call(KTIME_GET_COARSE_NS), EXIT])
}

/// `bpf_get_attach_cookie()`.
pub fn bpf_cookie() -> bool {
    prog_loads(TRACEPOINT, NO_ATTACH, &[call(GET_ATTACH_COOKIE), EXIT])
}

/// Syscalls behind `__<arch>_sys_*` wrappers. libbpf opens a kprobe on
/// `__x64_sys_bpf`, which needs the kprobe PMU; the wrappers are
/// unconditional on x86-64 (4.17), arm64 (4.19) and s390 (5.8), older than
/// any kernel with BTF, so the architecture answers without a probe.
pub fn syscall_wrapper() -> bool {
    cfg!(any(target_arch = "x86_64", target_arch = "aarch64", target_arch = "s390x"))
}

/// Multi-uprobe links with PID filtering that works by process (libbpf's
/// two-step probe: `/` is no binary, so EBADF, then an invalid PID, EINVAL
/// where the filtering was fixed).
pub fn uprobe_multi_link() -> bool {
    let Some(prog) = load(KPROBE, TRACE_UPROBE_MULTI, &[MOV64_R0_0, EXIT]) else { return false };
    let offset: u64 = 0;
    let attempt = |pid: u32| {
        let mut a = attr::LinkCreateUprobeMulti {
            prog_fd: fd_u32(prog.as_fd()),
            attach_type: TRACE_UPROBE_MULTI.raw(),
            path: c"/".as_ptr() as u64,
            offsets: ptr(&offset.to_ne_bytes()),
            cnt: 1,
            pid,
            ..Default::default()
        };
        // SAFETY: path is a NUL-terminated static string and offsets points
        // to cnt (1) u64s, both alive for the call; a link fd returned
        // against expectations is owned and closed.
        unsafe { bpf_fd(Cmd::LinkCreate, &mut a) }.err().and_then(|e| e.raw_os_error())
    };
    attempt(0) == Some(libc::EBADF) && attempt(u32::MAX) == Some(libc::EINVAL)
}

/// Multi-kprobe links (not one of libbpf's probes): a link on a symbol no
/// kernel has fails with ESRCH/ENOENT where they exist, EINVAL where the
/// attach type is unknown and EOPNOTSUPP without fprobe.
pub fn kprobe_multi_link() -> bool {
    let Some(prog) = load(KPROBE, TRACE_KPROBE_MULTI, &[MOV64_R0_0, EXIT]) else { return false };
    let sym = c"bpfld_no_such_kernel_symbol";
    let syms = [sym.as_ptr() as u64];
    let mut a = attr::LinkCreateKprobeMulti {
        prog_fd: fd_u32(prog.as_fd()),
        attach_type: TRACE_KPROBE_MULTI.raw(),
        cnt: 1,
        syms: syms.as_ptr() as u64,
        ..Default::default()
    };
    // SAFETY: syms points to cnt (1) pointers to a NUL-terminated static
    // string, alive for the call; a returned fd is owned and closed.
    let r = unsafe { bpf_fd(Cmd::LinkCreate, &mut a) };
    matches!(r.err().and_then(|e| e.raw_os_error()), Some(libc::ESRCH | libc::ENOENT))
}

/// `__arg_ctx` understood by the verifier: a global subprogram whose
/// argument is tagged `arg:ctx` may pass it to `bpf_get_func_ip()`.
pub fn arg_ctx_tag() -> bool {
    #[rustfmt::skip]
    let types = [
        1, info(KIND_INT, false, 0), 4, INT_SIGNED_32, // [1] int a
        0, info(KIND_PTR, false, 0), 0, // [2] void *
        0, info(KIND_FUNC_PROTO, false, 1), 1, 1, 2, // [3] int (void *a)
        1, info(KIND_FUNC, false, FUNC_GLOBAL), 3, // [4] a
        0, info(KIND_FUNC_PROTO, false, 1), 1, 3, 2, // [5] int (void *b)
        3, info(KIND_FUNC, false, FUNC_GLOBAL), 5, // [6] b
        5, info(KIND_DECL_TAG, false, 0), 6, 0, // [7] arg:ctx on b's arg 0
    ];
    let Ok(btf) = btf_load(&raw_btf(&types, b"\0a\0b\0arg:ctx\0"), LogOptions::none()) else { return false };
    let code = program(&[insn(0x85, 0, 1, 0, 1), EXIT, call(GET_FUNC_IP), EXIT]);
    let func_info: Vec<u8> = [0u32, 4, 2, 6].iter().flat_map(|w| w.to_ne_bytes()).collect();
    let attr = ProgLoadAttr {
        prog_type: KPROBE,
        insns: &code,
        license: c"GPL",
        log: LogOptions::none(),
        prog_name: "det_arg_ctx",
        prog_btf_fd: Some(btf.as_fd()),
        func_info_rec_size: 8,
        func_info: &func_info,
        ..Default::default()
    };
    prog_load(&attr).is_ok()
}

/// `ld_imm64` of a map value at an offset of 1 GiB is refused for the
/// access, not for the offset (the limit arenas lifted).
pub fn ldimm64_full_range_off() -> bool {
    let Some(map) = array_map(1, 0, "") else { return false };
    let fd = fd_u32(map.as_fd()) as i32;
    let code = program(&[insn(0x18, 1, 2, 0, fd), insn(0, 0, 0, 0, 1 << 30), EXIT]);
    let attr = ProgLoadAttr { prog_type: SOCKET_FILTER, insns: &code, license: c"GPL", ..Default::default() };
    match prog_load(&attr) {
        Ok(_) => false,
        Err(e) => !e.log().contains("direct value offset of") && e.log().contains("invalid access to map value pointer"),
    }
}

/// The `uprobe()` syscall: ENXIO when called from outside a uprobe
/// trampoline (x86-64 only).
pub fn uprobe_syscall() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        const NR_UPROBE: libc::c_long = 336;
        // SAFETY: the uprobe syscall takes no arguments; outside a uprobe
        // trampoline it only returns an error.
        let r = unsafe { libc::syscall(NR_UPROBE) };
        r < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ENXIO)
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Calls of kernel functions: a call with `src_reg` 2 of a BTF id that is
/// no function fails with "kernel btf_id ... is not a function" (or finds
/// no such id) where kfunc calls exist, and with "reserved fields" or
/// "invalid func" before.
pub fn kfunc_call() -> bool {
    let code = program(&[insn(0x85, 0, 2, 0, 1), MOV64_R0_0, EXIT]);
    let attr = ProgLoadAttr { prog_type: SOCKET_FILTER, insns: &code, license: c"GPL", ..Default::default() };
    match prog_load(&attr) {
        Ok(_) => true,
        Err(e) => {
            let log = e.log();
            !log.contains("reserved fields") && !log.contains("invalid func") && !log.contains("unknown opcode")
        }
    }
}

/// Raises RLIMIT_MEMLOCK to infinity (libbpf's `bump_rlimit_memlock`),
/// for kernels that still charge BPF memory to it. Without the privilege
/// to raise the hard limit (no `CAP_SYS_RESOURCE`), the soft limit is
/// raised to the hard one instead. Returns the soft limit now in force.
pub fn raise_memlock_rlimit() -> std::io::Result<u64> {
    let set = |cur, max| {
        let lim = libc::rlimit { rlim_cur: cur, rlim_max: max };
        // SAFETY: setrlimit reads the struct it is given, which outlives the call.
        match unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) } {
            0 => Ok(cur),
            _ => Err(std::io::Error::last_os_error()),
        }
    };
    match set(libc::RLIM_INFINITY, libc::RLIM_INFINITY) {
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
            // SAFETY: getrlimit writes the struct it is given.
            if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            set(lim.rlim_max, lim.rlim_max)
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_btf_header() {
        let b = raw_btf(&[1, info(KIND_FLOAT, false, 0), 4], b"\0float\0");
        assert_eq!(&b[..4], &[0x9f, 0xeb, 1, 0]);
        assert_eq!(u32::from_ne_bytes(b[4..8].try_into().unwrap()), 24);
        assert_eq!(b.len(), 24 + 12 + 7);
        assert_eq!(info(KIND_FUNC, true, 1), 0x8c00_0001);
    }
}
