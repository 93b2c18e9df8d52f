//! The few kernel constants this crate itself needs, plus the flag bits its
//! callers pass through it. Program, map, attach and link *types* are the
//! newtypes of `bpfld-asm` (`bpfld_asm::types::MapType`).

/// `BPF_OBJ_NAME_LEN`: object names hold 15 bytes plus a NUL.
pub const BPF_OBJ_NAME_LEN: usize = 16;

// Map element update flags.
/// Create or update an element.
pub const BPF_ANY: u64 = 0;
/// Create an element only if it does not exist (`EEXIST` otherwise).
pub const BPF_NOEXIST: u64 = 1;
/// Update an element only if it exists (`ENOENT` otherwise).
pub const BPF_EXIST: u64 = 2;
/// Take the value's `bpf_spin_lock` during the copy.
pub const BPF_F_LOCK: u64 = 4;

// Map creation flags.
/// Hash maps: allocate elements on demand.
pub const BPF_F_NO_PREALLOC: u32 = 1 << 0;
/// Honour `numa_node`.
pub const BPF_F_NUMA_NODE: u32 = 1 << 2;
/// Read-only from user space (syscall side).
pub const BPF_F_RDONLY: u32 = 1 << 3;
/// Write-only from user space (syscall side).
pub const BPF_F_WRONLY: u32 = 1 << 4;
/// Read-only from programs.
pub const BPF_F_RDONLY_PROG: u32 = 1 << 7;
/// Write-only from programs.
pub const BPF_F_WRONLY_PROG: u32 = 1 << 8;
/// Array maps that can be `mmap()`ed (global data), see [`MmapedMap`](crate::MmapedMap).
pub const BPF_F_MMAPABLE: u32 = 1 << 10;
/// `value_type_btf_obj_fd` is set.
pub const BPF_F_VTYPE_BTF_OBJ_FD: u32 = 1 << 15;

// Program load flags.
/// Verify as if on a strict-alignment architecture.
pub const BPF_F_STRICT_ALIGNMENT: u32 = 1 << 0;
/// Do not check alignment.
pub const BPF_F_ANY_ALIGNMENT: u32 = 1 << 1;
/// Sleepable program (required for `BPF_PROG_TYPE_SYSCALL`).
pub const BPF_F_SLEEPABLE: u32 = 1 << 4;
/// XDP program that handles multi-buffer frames.
pub const BPF_F_XDP_HAS_FRAGS: u32 = 1 << 5;

// Verifier log levels.
/// Log the instructions of the verified paths and errors.
pub const BPF_LOG_LEVEL1: u32 = 1;
/// Also log the register state at every instruction.
pub const BPF_LOG_LEVEL2: u32 = 2;
/// Log verification statistics.
pub const BPF_LOG_STATS: u32 = 4;

// BPF_PROG_TEST_RUN flags.
/// Run on the CPU given in `cpu`.
pub const BPF_F_TEST_RUN_ON_CPU: u32 = 1 << 0;
/// XDP: send the resulting frames for real.
pub const BPF_F_TEST_XDP_LIVE_FRAMES: u32 = 1 << 1;
