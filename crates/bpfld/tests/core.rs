//! CO-RE relocations checked in the running kernel: the `core_*` test
//! objects are loaded, their `SEC("syscall")` programs run with
//! BPF_PROG_TEST_RUN on the test thread, and what they wrote to `.bss` is
//! compared with two independent sources: the running kernel's own BTF
//! (`/sys/kernel/btf/vmlinux`, read with the BTF crate's member and
//! enumerator lookups, which share no code with the CO-RE module) and what
//! the test thread knows about itself (tid, pid, RLIMIT_NOFILE, its name,
//! `stat("/proc/self/exe")`, SCHED_RESET_ON_FORK).
//!
//! A relocation that computed a wrong offset shows up twice: as a value
//! that disagrees with BTF, and as a kernel read that returns someone
//! else's bytes instead of the thread's pid or name.

mod common;

use std::ffi::CStr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bpfld::{Error, LoadedObject, ProgramState};
use bpfld_asm::insn::op;
use bpfld_btf::resolve::{member_by_name, resolve_size, skip_mods_and_typedefs, MemberPath};
use bpfld_btf::{Btf, Kind};
use bpfld_testdata::require_kernel;
use common::*;

const RLIMIT_NOFILE_INDEX: u64 = 7;
/// `statfs.f_type` of overlayfs (its C type differs between architectures).
const OVERLAYFS_SUPER_MAGIC: u64 = 0x794c_7630;

// --- The running kernel's BTF, read independently of the CO-RE module -------

fn vmlinux() -> &'static Btf {
    static BTF: OnceLock<Btf> = OnceLock::new();
    BTF.get_or_init(|| {
        let path = "/sys/kernel/btf/vmlinux";
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        Btf::parse(Arc::new(bytes)).unwrap_or_else(|e| panic!("parse {path}: {e}"))
    })
}

/// The first struct named `name` in `btf`.
fn struct_id(btf: &Btf, name: &str) -> u32 {
    btf.find_first(name, Kind::Struct).unwrap_or_else(|| panic!("no struct {name} in the kernel BTF"))
}

fn struct_size(btf: &Btf, name: &str) -> u64 {
    u64::from(btf.type_by_id(struct_id(btf, name)).unwrap().size().unwrap())
}

fn member(btf: &Btf, id: u32, name: &str) -> MemberPath {
    member_by_name(btf, id, name).unwrap().unwrap_or_else(|| panic!("[{id}] has no member {name}"))
}

/// Byte offset of `field` in the struct `name` (through anonymous members).
fn offset_of(btf: &Btf, name: &str, field: &str) -> u64 {
    let m = member(btf, struct_id(btf, name), field);
    assert_eq!(m.bit_offset % 8, 0, "{name}.{field} is not byte aligned");
    m.bit_offset / 8
}

fn size_of_member(btf: &Btf, name: &str, field: &str) -> u64 {
    let m = member(btf, struct_id(btf, name), field);
    resolve_size(btf, m.member.type_id).unwrap()
}

fn has_member(btf: &Btf, name: &str, field: &str) -> bool {
    member_by_name(btf, struct_id(btf, name), field).unwrap().is_some()
}

/// What libbpf's bitfield relocations give for a bitfield member on a
/// little-endian machine: (byte offset, byte size, lshift_u64, rshift_u64,
/// signed). The load unit starts at the member type's size, aligned, and
/// doubles until it holds every bit (`bpf_core_calc_field_relo`).
fn bitfield_relo(btf: &Btf, struct_name: &str, field: &str) -> (u64, u64, u64, u64, u64) {
    let m = member(btf, struct_id(btf, struct_name), field);
    let bit_sz = u64::from(m.member.bitfield_size);
    assert!(bit_sz > 0, "{struct_name}.{field} is not a bitfield (kflag)");
    let bit_off = m.bit_offset;
    let (_, mt) = skip_mods_and_typedefs(btf, m.member.type_id).unwrap();
    let mt = mt.unwrap();
    let mut byte_sz = u64::from(mt.size().unwrap());
    let mut byte_off = bit_off / 8 / byte_sz * byte_sz;
    while bit_off + bit_sz - byte_off * 8 > byte_sz * 8 {
        assert!(byte_sz < 8, "{struct_name}.{field} does not fit a 64-bit load");
        byte_sz *= 2;
        byte_off = bit_off / 8 / byte_sz * byte_sz;
    }
    let signed = mt.int_info().is_some_and(|i| i.is_signed()) || mt.is_signed_enum();
    (byte_off, byte_sz, 64 - (bit_off + bit_sz - byte_off * 8), 64 - bit_sz, u64::from(signed))
}

/// The value CO-RE gives for enumerator `name` of `enum enum_name`, or
/// `None` if the kernel has no such enumerator. libbpf reads a 32-bit
/// enumerator as `__s32` whatever the enum's signedness, so an unsigned
/// 32-bit value with the top bit set is sign-extended; ENUM64 values are
/// taken as they are.
fn enumerator(btf: &Btf, enum_name: &str, name: &str) -> Option<u64> {
    let ids: Vec<u32> = [Kind::Enum, Kind::Enum64].iter().flat_map(|&k| btf.find(enum_name, Some(k))).collect();
    let mut found = None;
    for id in ids {
        let t = btf.type_by_id(id).unwrap();
        for e in t.enumerators() {
            if btf.str(e.name_off).unwrap() == name {
                let v = if t.kind() == Kind::Enum { e.value as u32 as i32 as i64 as u64 } else { e.value };
                assert!(found.is_none_or(|f| f == v), "enum {enum_name} has {name} twice with different values");
                found = Some(v);
            }
        }
    }
    found
}

// --- The test thread --------------------------------------------------------

fn gettid() -> i64 {
    i64::from(unsafe { libc::gettid() })
}

fn nofile_limit() -> (u64, u64) {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) }, 0);
    (r.rlim_cur, r.rlim_max)
}

/// The thread's name as the kernel holds it (task_struct.comm).
fn thread_comm() -> String {
    std::fs::read_to_string("/proc/thread-self/comm").unwrap().trim_end_matches('\n').to_string()
}

/// Renames the calling thread for the life of the guard, so that the
/// name a program reads is one this test chose.
struct ThreadName {
    old: [u8; 16],
}

impl ThreadName {
    fn set(name: &CStr) -> ThreadName {
        let mut old = [0u8; 16];
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_NAME, old.as_mut_ptr()) }, 0);
        assert_eq!(unsafe { libc::prctl(libc::PR_SET_NAME, name.as_ptr()) }, 0);
        ThreadName { old }
    }
}

impl Drop for ThreadName {
    fn drop(&mut self) {
        unsafe { libc::prctl(libc::PR_SET_NAME, self.old.as_ptr()) };
    }
}

/// Sets SCHED_RESET_ON_FORK on the calling thread (policy SCHED_OTHER)
/// for the life of the guard.
struct ResetOnFork;

impl ResetOnFork {
    fn set() -> ResetOnFork {
        set_sched_other(libc::SCHED_RESET_ON_FORK);
        ResetOnFork
    }
}

impl Drop for ResetOnFork {
    fn drop(&mut self) {
        set_sched_other(0);
    }
}

fn set_sched_other(flags: i32) {
    let param = libc::sched_param { sched_priority: 0 };
    let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_OTHER | flags, &param) };
    assert_eq!(r, 0, "sched_setscheduler: {}", std::io::Error::last_os_error());
}

// --- Objects ----------------------------------------------------------------

fn run(obj: &LoadedObject, prog: &str) {
    assert_eq!(run_syscall(obj, prog), 0, "{prog} returns 0");
}

fn u(obj: &LoadedObject, name: &str) -> u64 {
    obj.read_global_u64(name).unwrap_or_else(|e| panic!("{e}"))
}

fn s(obj: &LoadedObject, name: &str) -> i64 {
    u(obj, name) as i64
}

// --- core_fields --------------------------------------------------------------

#[test]
fn field_offsets_and_sizes_are_the_kernels_and_reads_return_the_threads_values() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_fields");
    let name = ThreadName::set(c"bpfld-core-1");
    assert_eq!(thread_comm(), "bpfld-core-1");
    run(&obj, "fields");
    drop(name);

    // Offsets and sizes, from the kernel's BTF.
    assert_eq!(u(&obj, "pid_offset"), offset_of(btf, "task_struct", "pid"));
    assert_eq!(u(&obj, "pid_size"), size_of_member(btf, "task_struct", "pid"));
    assert_eq!(u(&obj, "pid_size"), 4);
    assert_eq!(u(&obj, "comm_offset"), offset_of(btf, "task_struct", "comm"));
    assert_eq!(u(&obj, "comm_size"), size_of_member(btf, "task_struct", "comm"));
    assert_eq!(u(&obj, "comm_size"), 16);
    assert_eq!(u(&obj, "signal_offset"), offset_of(btf, "task_struct", "signal"));
    let rlim_offset = offset_of(btf, "signal_struct", "rlim");
    assert_eq!(u(&obj, "rlim_offset"), rlim_offset);
    assert_eq!(u(&obj, "rlim_size"), size_of_member(btf, "signal_struct", "rlim"));
    assert_eq!(u(&obj, "rlim_size"), 256);
    // rlim[RLIMIT_NOFILE].rlim_cur: the kernel's element stride.
    let rlimit = struct_size(btf, "rlimit");
    let nofile_cur_offset = rlim_offset + RLIMIT_NOFILE_INDEX * rlimit + offset_of(btf, "rlimit", "rlim_cur");
    assert_eq!(u(&obj, "nofile_cur_offset"), nofile_cur_offset);
    assert_eq!(nofile_cur_offset, rlim_offset + 112);
    assert_eq!(u(&obj, "mm_exe_file_offset"), offset_of(btf, "mm_struct", "exe_file"));

    // Values read from the current task: the test thread.
    assert_eq!(s(&obj, "pid"), gettid(), "task_struct.pid is the thread id");
    assert_eq!(s(&obj, "tgid"), i64::from(std::process::id()), "task_struct.tgid is the process id");
    let (cur, max) = nofile_limit();
    assert_eq!(u(&obj, "nofile_cur"), cur);
    assert_eq!(u(&obj, "nofile_max"), max);
    let comm = obj.read_global("comm").unwrap();
    let comm = CStr::from_bytes_until_nul(&comm).expect("comm NUL-terminated").to_str().unwrap();
    assert_eq!(comm, "bpfld-core-1");
}

#[test]
fn loads_through_a_btf_pointer_are_relocated_and_widened() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_fields");
    run(&obj, "direct");
    assert_eq!(s(&obj, "direct_pid"), gettid());
    assert_eq!(u(&obj, "direct_nofile_cur"), nofile_limit().0);

    // The instructions the kernel got: the relocated loads, at the
    // kernel's offsets. rlim_cur is declared 4 bytes wide in the object
    // and 8 in the kernel: its load became a DW load.
    let insns = obj.program("direct").unwrap().insns();
    let ldx = |off: u64| {
        insns
            .iter()
            .filter(|i| i.class() == op::LDX && i.code() & op::MODE_MASK == op::MEM && i.off() as i64 as u64 == off)
            .map(|i| i.code() & op::SIZE_MASK)
            .collect::<Vec<_>>()
    };
    let pid = offset_of(btf, "task_struct", "pid");
    let signal = offset_of(btf, "task_struct", "signal");
    let nofile_cur = offset_of(btf, "signal_struct", "rlim") + RLIMIT_NOFILE_INDEX * struct_size(btf, "rlimit");
    assert_eq!(ldx(pid), [op::W], "task_struct.pid: a 4-byte load at {pid}");
    assert_eq!(ldx(signal), [op::DW], "task_struct.signal: a pointer load at {signal}");
    assert_eq!(ldx(nofile_cur), [op::DW], "rlim_cur: widened from 4 to 8 bytes, at {nofile_cur}");
}

#[test]
fn bitfield_relocations_give_the_kernels_layout_and_read_the_threads_flag() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_fields");
    run(&obj, "bitfields");
    let (byte_off, byte_sz, lshift, rshift, signed) = bitfield_relo(btf, "task_struct", "sched_reset_on_fork");
    assert_eq!(u(&obj, "bf_byte_offset"), byte_off);
    assert_eq!(u(&obj, "bf_byte_size"), byte_sz);
    assert_eq!(u(&obj, "bf_lshift"), lshift);
    assert_eq!(u(&obj, "bf_rshift"), rshift);
    assert_eq!(u(&obj, "bf_signed"), signed);
    assert_eq!((byte_sz, rshift, signed), (4, 63, 0), "a 1-bit unsigned bitfield in an unsigned int");
    assert_eq!(u(&obj, "reset_on_fork"), 0, "SCHED_RESET_ON_FORK is not set");

    // Set on this thread, the bit the program reads is set.
    let guard = ResetOnFork::set();
    run(&obj, "bitfields");
    let set = u(&obj, "reset_on_fork");
    drop(guard);
    assert_eq!(set, 1, "SCHED_RESET_ON_FORK is set on the test thread");
    run(&obj, "bitfields");
    assert_eq!(u(&obj, "reset_on_fork"), 0, "and cleared again");
}

#[test]
fn field_existence_follows_the_kernel_and_a_missing_fields_read_is_dead_code() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_fields");
    run(&obj, "exists");
    assert_eq!(u(&obj, "has_pid"), 1);
    assert_eq!(u(&obj, "has_missing"), 0);
    assert_eq!(u(&obj, "has_ctime_old"), u64::from(has_member(btf, "inode", "i_ctime")));
    assert_eq!(u(&obj, "has_ctime_mid"), u64::from(has_member(btf, "inode", "__i_ctime")));
    assert_eq!(u(&obj, "has_ctime_new"), u64::from(has_member(btf, "inode", "i_ctime_sec")));
    // The inode's ctime era of this 6.18 host: i_ctime_sec (6.11 and later).
    assert_eq!((u(&obj, "has_ctime_old"), u(&obj, "has_ctime_mid"), u(&obj, "has_ctime_new")), (0, 0, 1));
    assert_eq!(s(&obj, "missing_value"), -1, "the guarded fallback ran");
}

#[test]
fn the_flavor_the_kernel_has_reads_the_executables_inode() {
    if !require_kernel() {
        return;
    }
    let obj = load("core_fields");
    run(&obj, "flavors");
    assert_eq!(u(&obj, "ctime_flavor"), 3, "inode___new: i_ctime_sec");

    // The inode the kernel maps the executable from is the one stat()
    // describes, except on overlayfs, whose stat() reports its own inode.
    let exe = PathBuf::from("/proc/self/exe");
    let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
    let path = std::ffi::CString::new("/proc/self/exe").unwrap();
    assert_eq!(unsafe { libc::statfs(path.as_ptr(), &mut fs) }, 0);
    if fs.f_type as u64 == OVERLAYFS_SUPER_MAGIC {
        bpfld_testdata::machine_limit("", "the test binary is on overlayfs: stat() does not describe the inode the kernel maps");
        return;
    }
    use std::os::unix::fs::MetadataExt;
    let md = std::fs::metadata(&exe).unwrap();
    assert_eq!(u(&obj, "exe_ino"), md.ino(), "inode.i_ino");
    assert_eq!(u(&obj, "exe_nlink"), md.nlink(), "inode.__i_nlink (in an anonymous union)");
    assert_eq!(s(&obj, "exe_ctime_sec"), md.ctime(), "inode.i_ctime_sec");
}

// --- core_types ----------------------------------------------------------------

#[test]
fn type_relocations_give_the_kernels_ids_sizes_and_matches() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let open = open("core_types");
    let local_btf = open.object().btf.clone().expect("core_types has BTF");
    let obj = open.load().unwrap();
    run(&obj, "types");
    assert_eq!(u(&obj, "task_exists"), 1);
    assert_eq!(u(&obj, "no_such_exists"), 0);
    assert!(btf.find_first("bpfld_no_such_struct", Kind::Struct).is_none());
    assert_eq!(u(&obj, "task_size"), struct_size(btf, "task_struct"));
    assert_eq!(u(&obj, "task_id_kernel"), u64::from(struct_id(btf, "task_struct")));
    assert_eq!(u(&obj, "task_id_local"), u64::from(struct_id(&local_btf, "task_struct")));
    // list_head: the object's matches the kernel's; list_head___bad
    // (prev an int) exists (same kind, same name) but does not match.
    assert_eq!(u(&obj, "list_head_matches"), 1);
    assert_eq!(u(&obj, "list_head_bad_matches"), 0);
    assert_eq!(u(&obj, "list_head_bad_exists"), 1);
    // elf_note_info: the kernel has it twice, and both agree.
    let notes = btf.find("elf_note_info", Some(Kind::Struct));
    assert_eq!(notes.len(), 2, "two copies of struct elf_note_info");
    for &id in &notes {
        let size_off = member(btf, id, "size").bit_offset / 8;
        assert_eq!(u(&obj, "note_size_offset"), size_off, "[{id}]");
        assert_eq!(u(&obj, "note_type_size"), u64::from(btf.type_by_id(id).unwrap().size().unwrap()), "[{id}]");
    }
    assert_eq!((u(&obj, "note_size_offset"), u(&obj, "note_type_size")), (232, 248));
}

#[test]
fn enum_relocations_give_the_kernels_values_with_libbpfs_sign_extension() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_types");
    run(&obj, "enums");
    let cpuhp = |n: &str| enumerator(btf, "cpuhp_state", n).unwrap_or_else(|| panic!("no {n}")) as i64;
    assert_eq!(u(&obj, "cpuhp_online_exists"), 1);
    assert_eq!(u(&obj, "cpuhp_missing_exists"), 0);
    assert_eq!(s(&obj, "cpuhp_bp_prepare_dyn"), cpuhp("CPUHP_BP_PREPARE_DYN"));
    assert_eq!(s(&obj, "cpuhp_ap_online_dyn"), cpuhp("CPUHP_AP_ONLINE_DYN"));
    assert_eq!(s(&obj, "cpuhp_online"), cpuhp("CPUHP_ONLINE"));
    assert_eq!(s(&obj, "cpuhp_invalid"), cpuhp("CPUHP_INVALID"));
    assert_eq!(s(&obj, "cpuhp_invalid"), -1);
    assert_eq!(s(&obj, "cpuhp_missing"), -2, "the guarded fallback ran");

    // netdev_priv_flags: a 32-bit unsigned ENUM on this kernel, without
    // IFF_CHANGE_PROTO_DOWN.
    assert_eq!(enumerator(btf, "netdev_priv_flags", "IFF_CHANGE_PROTO_DOWN"), None);
    assert_eq!((u(&obj, "proto_down_exists"), u(&obj, "proto_down")), (0, 0));
    assert_eq!(Some(u(&obj, "tx_skb_no_linear")), enumerator(btf, "netdev_priv_flags", "IFF_TX_SKB_NO_LINEAR"));
    assert_eq!(u(&obj, "tx_skb_no_linear"), 0xffff_ffff_8000_0000, "1 << 31 read as __s32, as libbpf does");
    assert_eq!(Some(u(&obj, "live_addr_change")), enumerator(btf, "netdev_priv_flags", "IFF_LIVE_ADDR_CHANGE"));
    assert_eq!(u(&obj, "live_addr_change"), 0x8000);

    // perf_callchain_context: ENUM64, values near 2^64.
    assert_eq!(Some(u(&obj, "perf_context_kernel")), enumerator(btf, "perf_callchain_context", "PERF_CONTEXT_KERNEL"));
    assert_eq!(Some(u(&obj, "perf_context_max")), enumerator(btf, "perf_callchain_context", "PERF_CONTEXT_MAX"));
    assert_eq!((s(&obj, "perf_context_kernel"), s(&obj, "perf_context_max")), (-128, -4095));

    // hmm_pfn_flags: not in this kernel (no CONFIG_HMM_MIRROR).
    assert_eq!(enumerator(btf, "hmm_pfn_flags", "HMM_PFN_VALID"), None);
    assert_eq!((u(&obj, "hmm_valid_exists"), u(&obj, "hmm_valid")), (0, 0));
}

#[test]
fn a_subprogram_shared_by_two_programs_is_relocated_in_both() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_types");
    run(&obj, "subprog_a");
    run(&obj, "subprog_b");
    let pid = offset_of(btf, "task_struct", "pid");
    assert_eq!(u(&obj, "subprog_pid_offset_a"), pid);
    assert_eq!(u(&obj, "subprog_pid_offset_b"), pid + struct_size(btf, "task_struct"));
}

#[test]
fn a_program_off_by_default_is_not_loaded_until_turned_on() {
    if !require_kernel() {
        return;
    }
    let obj = load("core_types");
    assert!(matches!(obj.program("not_loaded").unwrap().state(), ProgramState::Disabled));
    assert!(obj.program("not_loaded").unwrap().fd().is_err());
    assert_eq!(u(&obj, "not_loaded_value"), 0);

    let mut open = open("core_types");
    open.set_autoload("not_loaded", true).unwrap();
    let obj = open.load().unwrap();
    run(&obj, "not_loaded");
    assert_eq!(u(&obj, "not_loaded_value"), offset_of(vmlinux(), "task_struct", "pid"));
}

// --- core_module ---------------------------------------------------------------

/// The BTF of a loaded module, split on vmlinux; `None` if not loaded.
fn module_btf(name: &str) -> Option<Btf> {
    let bytes = std::fs::read(format!("/sys/kernel/btf/{name}")).ok()?;
    Some(Btf::parse_split(Arc::new(bytes), vmlinux()).unwrap_or_else(|e| panic!("parse module {name} BTF: {e}")))
}

#[test]
fn module_type_relocations_follow_the_kernel_and_its_loaded_modules() {
    if !require_kernel() {
        return;
    }
    let btf = vmlinux();
    let obj = load("core_module");
    run(&obj, "module_types");

    // bbr: built into this kernel (vmlinux), else in the tcp_bbr module.
    let bbr_btf = if btf.find_first("bbr", Kind::Struct).is_some() { Some(btf.clone()) } else { module_btf("tcp_bbr") };
    match &bbr_btf {
        Some(b) => {
            assert_eq!(u(&obj, "bbr_exists"), 1);
            assert_eq!(u(&obj, "bbr_min_rtt_offset"), offset_of(b, "bbr", "min_rtt_us"));
            let (byte_off, _, lshift, rshift, _) = bitfield_relo(b, "bbr", "mode");
            assert_eq!(u(&obj, "bbr_mode_byte_offset"), byte_off);
            assert_eq!(u(&obj, "bbr_mode_lshift"), lshift);
            assert_eq!(u(&obj, "bbr_mode_rshift"), rshift);
        }
        None => {
            let zeros = ["bbr_exists", "bbr_min_rtt_offset", "bbr_mode_byte_offset", "bbr_mode_lshift", "bbr_mode_rshift"];
            for n in zeros {
                assert_eq!(u(&obj, n), 0, "{n}: no struct bbr in this kernel");
            }
        }
    }

    // dctcp: a module; only there if tcp_dctcp is loaded.
    let dctcp_btf = if btf.find_first("dctcp", Kind::Struct).is_some() { Some(btf.clone()) } else { module_btf("tcp_dctcp") };
    match &dctcp_btf {
        Some(b) => {
            assert_eq!(u(&obj, "dctcp_exists"), 1);
            assert_eq!(u(&obj, "dctcp_size"), struct_size(b, "dctcp"));
            assert_eq!(u(&obj, "dctcp_loss_cwnd_offset"), offset_of(b, "dctcp", "loss_cwnd"));
            assert_eq!(u(&obj, "dctcp_has_plb"), u64::from(has_member(b, "dctcp", "plb")));
        }
        None => {
            for n in ["dctcp_exists", "dctcp_size", "dctcp_loss_cwnd_offset", "dctcp_has_plb"] {
                assert_eq!(u(&obj, n), 0, "{n}: tcp_dctcp is not loaded");
            }
        }
    }

    // file_system_type: in vmlinux, whatever the modules repeat.
    assert_eq!(u(&obj, "fs_type_id"), u64::from(struct_id(btf, "file_system_type")));
    assert_eq!(u(&obj, "fs_flags_offset"), offset_of(btf, "file_system_type", "fs_flags"));
    assert_eq!(u(&obj, "fs_flags_offset"), 8);
}

// --- core_pruning and core_ambiguous ---------------------------------------------

/// The kernel's `struct dma_chan`s: (id, size, whether it has `cookie`).
fn dma_chans() -> Vec<(u32, u64, bool)> {
    let btf = vmlinux();
    btf.find("dma_chan", Some(Kind::Struct))
        .into_iter()
        .map(|id| {
            let size = u64::from(btf.type_by_id(id).unwrap().size().unwrap());
            (id, size, member_by_name(btf, id, "cookie").unwrap().is_some())
        })
        .collect()
}

#[test]
fn an_earlier_field_relocation_prunes_the_candidates_of_a_later_one() {
    if !require_kernel() {
        return;
    }
    let chans = dma_chans();
    assert_eq!(chans.len(), 2, "two different struct dma_chan: {chans:?}");
    let with_cookie: Vec<_> = chans.iter().filter(|c| c.2).collect();
    assert_eq!(with_cookie.len(), 1, "{chans:?}");
    let (id, size, _) = *with_cookie[0];
    let obj = load("core_pruning");
    run(&obj, "cookie_offset");
    run(&obj, "size_after_pruning");
    assert_eq!(u(&obj, "dma_chan_cookie_offset"), member(vmlinux(), id, "cookie").bit_offset / 8);
    assert_eq!(u(&obj, "dma_chan_cookie_offset"), 16);
    assert_eq!(u(&obj, "dma_chan_size"), size, "the dma_chan that has cookie");
    assert_eq!(size, 112);
}

#[test]
fn an_ambiguous_relocation_fails_the_load_naming_program_and_relocation() {
    if !require_kernel() {
        return;
    }
    let e = open("core_ambiguous").load().unwrap_err();
    assert!(matches!(e, Error::Plan(_)), "refused while planning, before any system call: {e:?}");
    let msg = e.to_string();
    assert!(msg.contains("program 'ambiguous_size'"), "{msg}");
    assert!(msg.contains("CO-RE relocation #0 (type_size of"), "{msg}");
    assert!(msg.contains("relocation decision ambiguity"), "{msg}");
    for (_, size, _) in dma_chans() {
        assert!(msg.contains(&format!("success {size}")), "both candidates' sizes named: {msg}");
    }
}
