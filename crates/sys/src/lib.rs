//! The bpf() system call layer of bpfld: the only crate of the project with
//! `unsafe` code.
//!
//! Everything above this crate is pure Rust that computes *what* to ask the
//! kernel; this crate is the thin, typed and memory-safe boundary that
//! actually asks. The design follows cilium/ebpf's `internal/sys` and aya's
//! `sys` module:
//!
//! * every command has its own `#[repr(C)]` attribute struct (see the private
//!   `attr` module) laid out like the matching member of `union bpf_attr`,
//!   zero-initialised, with explicit padding so no uninitialised byte ever
//!   reaches the kernel, and passed with its own size;
//! * public functions take slices and [`BorrowedFd`](std::os::fd::BorrowedFd)s
//!   and return [`OwnedFd`](std::os::fd::OwnedFd)s, so buffer lengths and fd
//!   lifetimes are checked by the type system instead of by callers;
//! * errors keep the kernel's errno ([`SysError::errno`]) and say which command
//!   failed on which object; program and BTF loads also carry the complete
//!   verifier log ([`LoadError`]).
//!
//! Program, map and attach *type* values are plain `u32`s here: the
//! `bpfld-asm` crate owns those enums. Only the command numbers and the flag
//! bits this crate itself needs are defined (see [`consts`]).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod arena;
mod attr;
mod btf;
pub mod consts;
mod epoll;
mod error;
pub mod features;
mod file_map;
mod fs;
mod link;
mod log;
mod map;
mod mapping;
mod mmap;
mod netlink;
mod netlink_xdp;
mod obj;
mod perf;
mod perf_buffer;
mod probe;
mod prog;
mod ringbuf;
mod signal;
mod syscall;

pub use arena::{ArenaMapping, BPF_F_SEGV_ON_FAULT};
pub use btf::{btf_get_fd_by_id, btf_get_next_id, btf_info, btf_load, btf_raw_data, BtfInfo};
pub use epoll::{Epoll, SignalFd};
pub use error::{LoadError, Operation, ProgLoadError, Result, SysError};
pub use file_map::FileMap;
pub use fs::{fs_magic, is_bpffs, mount_bpffs, mount_tracefs, BPF_FS_MAGIC, DEBUGFS_MAGIC, TRACEFS_MAGIC};
pub use link::{
    cgroup_link_supported, iter_create, link_create_iter, link_create_kprobe_multi, link_create_netfilter, link_create_tcx,
    link_create_uprobe_multi, link_info, link_update, prog_attach, prog_detach, tcx_supported, xdp_link_supported, AttachTarget, LinkInfo,
    MprogPosition, NetfilterHook, UprobeMulti, BPF_F_AFTER, BPF_F_ALLOW_MULTI, BPF_F_ALLOW_OVERRIDE, BPF_F_BEFORE, BPF_F_ID,
    BPF_F_KPROBE_MULTI_RETURN, BPF_F_REPLACE, BPF_F_UPROBE_MULTI_RETURN,
};
pub use log::{LogOptions, DEFAULT_LOG_SIZE, MAX_LOG_SIZE};
pub use map::{
    map_create, map_delete_elem, map_freeze, map_get_fd_by_id, map_get_next_id, map_get_next_key, map_info, map_lookup_and_delete_elem,
    map_lookup_elem, map_update_elem, BatchBuffers, MapCreateAttr, MapInfo, MapRef,
};
pub use mmap::MmapedMap;
pub use netlink::{tc_clsact_create, tc_clsact_destroy, tc_filter_attach, tc_filter_detach, TcFilter, TcHook};
pub use netlink_xdp::{xdp_attach_netlink, xdp_detach_netlink, xdp_query, XdpFlags, XdpQuery};
pub use obj::{
    link_create, link_create_perf_event, link_create_struct_ops, link_detach, link_get_fd_by_id, link_get_next_id, obj_get, obj_pin,
    perf_link_supported, raw_tracepoint_open, LinkTarget,
};
pub use perf::{
    perf_event_disable, perf_event_enable, perf_event_open_probe, perf_event_open_software, perf_event_open_tracepoint, perf_event_set_bpf,
    pmu_format_bit, pmu_type, tracepoint_id, ProbeEvent, SamplePeriod, PERF_COUNT_SW_CPU_CLOCK,
};
pub use perf_buffer::{perf_event_open_bpf_output, PerfRecord, PerfRing};
pub use probe::{bpf_usable, online_cpu_ids, page_size, possible_cpu_ids, possible_cpus};
pub use prog::{
    prog_bind_map, prog_get_fd_by_id, prog_get_next_id, prog_info, prog_load, prog_test_run, ProgInfo, ProgLoadAttr, ProgLoaded,
    TestRunOpts, TestRunResult,
};
pub use ringbuf::{RingBufConsumer, RingRecord, UserRecord, UserRingBufProducer};
pub use signal::default_sigpipe;
pub use syscall::Cmd;
