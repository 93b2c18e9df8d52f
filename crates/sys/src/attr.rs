//! `#[repr(C)]` layouts of the members of `union bpf_attr` and of the
//! `bpf_*_info` structs, one struct per command.
//!
//! Why explicit `_pad` fields: the kernel rejects attributes whose unused
//! bytes are not zero (`CHECK_ATTR`, `bpf_check_uarg_tail_zero`), and Rust
//! gives no guarantee about the contents of implicit padding. With every
//! padding byte spelled out as a field and all structs built from `Default`,
//! every byte we hand to the kernel is initialised and zero unless set.
//! Pointers are carried as `u64` (`__aligned_u64`), each struct is 8-aligned
//! like the kernel union, so the layout is the same on 32-bit hosts.
//!
//! The offsets are pinned by compile-time assertions against the values of
//! the kernel's uapi header (`offsetof` on the system's `linux/bpf.h`; fields
//! newer than that header follow the Linux 6.18 uapi).

use std::mem::{offset_of, size_of};

/// `BPF_OBJ_NAME_LEN`.
pub(crate) const OBJ_NAME_LEN: usize = 16;

/// Marker for the structs that may be handed to `bpf()`.
///
/// Only plain-old-data `#[repr(C)]` types from this module implement it.
pub(crate) trait Attr: Sized {}

/// BPF_MAP_CREATE.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct MapCreate {
    pub map_type: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub inner_map_fd: u32,
    pub numa_node: u32,
    pub map_name: [u8; OBJ_NAME_LEN],
    pub map_ifindex: u32,
    pub btf_fd: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub map_extra: u64,
    pub value_type_btf_obj_fd: i32,
    pub map_token_fd: i32,
}
impl Attr for MapCreate {}

/// BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM, BPF_MAP_GET_NEXT_KEY,
/// BPF_MAP_LOOKUP_AND_DELETE_ELEM, BPF_MAP_FREEZE.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct MapElem {
    pub map_fd: u32,
    pub _pad0: u32,
    pub key: u64,
    /// `value` or `next_key`.
    pub value: u64,
    pub flags: u64,
}
impl Attr for MapElem {}

/// BPF_MAP_{LOOKUP,LOOKUP_AND_DELETE,UPDATE,DELETE}_BATCH.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct MapBatch {
    pub in_batch: u64,
    pub out_batch: u64,
    pub keys: u64,
    pub values: u64,
    pub count: u32,
    pub map_fd: u32,
    pub elem_flags: u64,
    pub flags: u64,
}
impl Attr for MapBatch {}

/// BPF_PROG_LOAD.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ProgLoad {
    pub prog_type: u32,
    pub insn_cnt: u32,
    pub insns: u64,
    pub license: u64,
    pub log_level: u32,
    pub log_size: u32,
    pub log_buf: u64,
    pub kern_version: u32,
    pub prog_flags: u32,
    pub prog_name: [u8; OBJ_NAME_LEN],
    pub prog_ifindex: u32,
    pub expected_attach_type: u32,
    pub prog_btf_fd: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub func_info_cnt: u32,
    pub line_info_rec_size: u32,
    pub line_info: u64,
    pub line_info_cnt: u32,
    pub attach_btf_id: u32,
    /// `attach_prog_fd` or `attach_btf_obj_fd`.
    pub attach_fd: u32,
    pub core_relo_cnt: u32,
    pub fd_array: u64,
    pub core_relos: u64,
    pub core_relo_rec_size: u32,
    /// Output (Linux >= 6.4): the size the full log needs, NUL included.
    pub log_true_size: u32,
    pub prog_token_fd: i32,
    pub fd_array_cnt: u32,
}
impl Attr for ProgLoad {}

/// BPF_OBJ_PIN, BPF_OBJ_GET.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ObjPath {
    pub pathname: u64,
    pub bpf_fd: u32,
    pub file_flags: u32,
    pub path_fd: i32,
    pub _pad0: u32,
}
impl Attr for ObjPath {}

/// BPF_PROG_TEST_RUN.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct TestRun {
    pub prog_fd: u32,
    pub retval: u32,
    pub data_size_in: u32,
    pub data_size_out: u32,
    pub data_in: u64,
    pub data_out: u64,
    pub repeat: u32,
    pub duration: u32,
    pub ctx_size_in: u32,
    pub ctx_size_out: u32,
    pub ctx_in: u64,
    pub ctx_out: u64,
    pub flags: u32,
    pub cpu: u32,
    pub batch_size: u32,
    pub _pad0: u32,
}
impl Attr for TestRun {}

/// BPF_*_GET_NEXT_ID, BPF_*_GET_FD_BY_ID.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct GetId {
    /// `start_id`, `prog_id`, `map_id`, `btf_id` or `link_id`.
    pub id: u32,
    pub next_id: u32,
    pub open_flags: u32,
    pub fd_by_id_token_fd: i32,
}
impl Attr for GetId {}

/// BPF_OBJ_GET_INFO_BY_FD.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct InfoByFd {
    pub bpf_fd: u32,
    pub info_len: u32,
    pub info: u64,
}
impl Attr for InfoByFd {}

/// BPF_RAW_TRACEPOINT_OPEN.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct RawTracepointOpen {
    pub name: u64,
    pub prog_fd: u32,
    pub _pad0: u32,
    pub cookie: u64,
}
impl Attr for RawTracepointOpen {}

/// BPF_BTF_LOAD.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct BtfLoad {
    pub btf: u64,
    pub btf_log_buf: u64,
    pub btf_size: u32,
    pub btf_log_size: u32,
    pub btf_log_level: u32,
    /// Output (Linux >= 6.4): the size the full log needs, NUL included.
    pub btf_log_true_size: u32,
    pub btf_flags: u32,
    pub btf_token_fd: i32,
}
impl Attr for BtfLoad {}

/// BPF_LINK_CREATE (only the members with `target_btf_id`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreate {
    pub prog_fd: u32,
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub target_btf_id: u32,
    pub _pad0: u32,
}
impl Attr for LinkCreate {}

/// BPF_LINK_CREATE of a perf event link (`perf_event.bpf_cookie`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreatePerfEvent {
    pub prog_fd: u32,
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub bpf_cookie: u64,
}
impl Attr for LinkCreatePerfEvent {}

/// BPF_LINK_CREATE of a multi-kprobe link (`kprobe_multi`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreateKprobeMulti {
    pub prog_fd: u32,
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub kprobe_flags: u32,
    pub cnt: u32,
    pub syms: u64,
    pub addrs: u64,
    pub cookies: u64,
}
impl Attr for LinkCreateKprobeMulti {}

/// BPF_LINK_CREATE of a multi-uprobe link (`uprobe_multi`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreateUprobeMulti {
    pub prog_fd: u32,
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub path: u64,
    pub offsets: u64,
    pub ref_ctr_offsets: u64,
    pub cookies: u64,
    pub cnt: u32,
    pub uprobe_flags: u32,
    pub pid: u32,
    pub _pad0: u32,
}
impl Attr for LinkCreateUprobeMulti {}

/// BPF_LINK_DETACH.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkDetach {
    pub link_fd: u32,
    pub _pad0: u32,
}
impl Attr for LinkDetach {}

/// BPF_PROG_BIND_MAP.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ProgBindMap {
    pub prog_fd: u32,
    pub map_fd: u32,
    pub flags: u32,
    pub _pad0: u32,
}
impl Attr for ProgBindMap {}

/// BPF_LINK_CREATE of an iterator link (`iter_info`, `iter_info_len`).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreateIter {
    pub prog_fd: u32,
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub iter_info: u64,
    pub iter_info_len: u32,
    pub _pad0: u32,
}
impl Attr for LinkCreateIter {}

/// BPF_LINK_CREATE of a netfilter link.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreateNetfilter {
    pub prog_fd: u32,
    pub target_fd: u32,
    pub attach_type: u32,
    pub flags: u32,
    pub pf: u32,
    pub hooknum: u32,
    pub priority: i32,
    pub nf_flags: u32,
}
impl Attr for LinkCreateNetfilter {}

/// BPF_LINK_CREATE of a tcx (or netkit) link.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkCreateTcx {
    pub prog_fd: u32,
    pub target_ifindex: u32,
    pub attach_type: u32,
    pub flags: u32,
    /// `relative_fd` or `relative_id`.
    pub relative: u32,
    pub _pad0: u32,
    pub expected_revision: u64,
}
impl Attr for LinkCreateTcx {}

/// BPF_LINK_UPDATE.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct LinkUpdate {
    pub link_fd: u32,
    pub new_prog_fd: u32,
    pub flags: u32,
    pub old_prog_fd: u32,
}
impl Attr for LinkUpdate {}

/// BPF_ITER_CREATE.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct IterCreate {
    pub link_fd: u32,
    pub flags: u32,
}
impl Attr for IterCreate {}

/// BPF_PROG_ATTACH, BPF_PROG_DETACH.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct ProgAttach {
    /// `target_fd` or `target_ifindex`.
    pub target: u32,
    pub attach_bpf_fd: u32,
    pub attach_type: u32,
    pub attach_flags: u32,
    pub replace_bpf_fd: u32,
    /// `relative_fd` or `relative_id`.
    pub relative: u32,
    pub expected_revision: u64,
}
impl Attr for ProgAttach {}

/// `struct bpf_link_info` up to the common part and the largest member
/// of its union this crate reads (the union is 48 bytes in Linux 6.18's
/// uapi, read here as raw words).
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct BpfLinkInfo {
    pub link_type: u32,
    pub id: u32,
    pub prog_id: u32,
    pub _pad0: u32,
    pub union: [u64; 6],
}
impl Attr for BpfLinkInfo {}

/// `struct bpf_prog_info`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct BpfProgInfo {
    pub prog_type: u32,
    pub id: u32,
    pub tag: [u8; 8],
    pub jited_prog_len: u32,
    pub xlated_prog_len: u32,
    pub jited_prog_insns: u64,
    pub xlated_prog_insns: u64,
    pub load_time: u64,
    pub created_by_uid: u32,
    pub nr_map_ids: u32,
    pub map_ids: u64,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    /// Bit 0: `gpl_compatible`.
    pub gpl_compatible: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub nr_jited_ksyms: u32,
    pub nr_jited_func_lens: u32,
    pub jited_ksyms: u64,
    pub jited_func_lens: u64,
    pub btf_id: u32,
    pub func_info_rec_size: u32,
    pub func_info: u64,
    pub nr_func_info: u32,
    pub nr_line_info: u32,
    pub line_info: u64,
    pub jited_line_info: u64,
    pub nr_jited_line_info: u32,
    pub line_info_rec_size: u32,
    pub jited_line_info_rec_size: u32,
    pub nr_prog_tags: u32,
    pub prog_tags: u64,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub recursion_misses: u64,
    pub verified_insns: u32,
    pub attach_btf_obj_id: u32,
    pub attach_btf_id: u32,
    pub _pad0: u32,
}
impl Attr for BpfProgInfo {}

/// `struct bpf_map_info`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct BpfMapInfo {
    pub map_type: u32,
    pub id: u32,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    pub map_flags: u32,
    pub name: [u8; OBJ_NAME_LEN],
    pub ifindex: u32,
    pub btf_vmlinux_value_type_id: u32,
    pub netns_dev: u64,
    pub netns_ino: u64,
    pub btf_id: u32,
    pub btf_key_type_id: u32,
    pub btf_value_type_id: u32,
    pub _pad0: u32,
    pub map_extra: u64,
}
impl Attr for BpfMapInfo {}

/// `struct bpf_btf_info`.
#[repr(C, align(8))]
#[derive(Clone, Copy, Default, Debug)]
pub(crate) struct BpfBtfInfo {
    pub btf: u64,
    pub btf_size: u32,
    pub id: u32,
    pub name: u64,
    pub name_len: u32,
    pub kernel_btf: u32,
}
impl Attr for BpfBtfInfo {}

// Layout pins (values from offsetof()/sizeof() on the uapi header).
const _: () = {
    assert!(size_of::<MapCreate>() == 80);
    assert!(offset_of!(MapCreate, map_name) == 28);
    assert!(offset_of!(MapCreate, map_extra) == 64);
    assert!(size_of::<MapElem>() == 32);
    assert!(size_of::<MapBatch>() == 56);
    assert!(offset_of!(MapBatch, elem_flags) == 40);
    assert!(offset_of!(ProgLoad, log_buf) == 32);
    assert!(offset_of!(ProgLoad, prog_name) == 48);
    assert!(offset_of!(ProgLoad, func_info) == 80);
    assert!(offset_of!(ProgLoad, fd_array) == 120);
    assert!(offset_of!(ProgLoad, core_relo_rec_size) == 136);
    assert!(offset_of!(ProgLoad, log_true_size) == 140);
    assert!(size_of::<ProgLoad>() == 152);
    assert!(size_of::<ObjPath>() == 24);
    assert!(offset_of!(TestRun, batch_size) == 72);
    assert!(size_of::<TestRun>() == 80);
    assert!(size_of::<GetId>() == 16);
    assert!(size_of::<InfoByFd>() == 16);
    assert!(offset_of!(RawTracepointOpen, cookie) == 16);
    assert!(offset_of!(BtfLoad, btf_log_true_size) == 28);
    assert!(size_of::<BtfLoad>() == 40);
    assert!(offset_of!(LinkCreate, target_btf_id) == 16);
    assert!(offset_of!(LinkCreatePerfEvent, bpf_cookie) == 16);
    assert!(offset_of!(LinkCreateKprobeMulti, syms) == 24);
    assert!(size_of::<LinkCreateKprobeMulti>() == 48);
    assert!(offset_of!(LinkCreateUprobeMulti, cnt) == 48);
    assert!(offset_of!(LinkCreateUprobeMulti, pid) == 56);
    assert!(size_of::<LinkCreateUprobeMulti>() == 64);
    assert!(offset_of!(LinkCreateIter, iter_info_len) == 24);
    assert!(offset_of!(LinkCreateNetfilter, priority) == 24);
    assert!(offset_of!(LinkCreateTcx, expected_revision) == 24);
    assert!(size_of::<LinkUpdate>() == 16);
    assert!(size_of::<IterCreate>() == 8);
    assert!(offset_of!(ProgAttach, expected_revision) == 24);
    assert!(size_of::<BpfLinkInfo>() == 64);
    assert!(size_of::<BpfProgInfo>() == 232);
    assert!(offset_of!(BpfProgInfo, xlated_prog_insns) == 32);
    assert!(offset_of!(BpfProgInfo, map_ids) == 56);
    assert!(offset_of!(BpfProgInfo, name) == 64);
    assert!(offset_of!(BpfProgInfo, netns_dev) == 88);
    assert!(offset_of!(BpfProgInfo, btf_id) == 128);
    assert!(offset_of!(BpfProgInfo, run_time_ns) == 192);
    assert!(offset_of!(BpfProgInfo, verified_insns) == 216);
    assert!(offset_of!(BpfProgInfo, attach_btf_id) == 224);
    assert!(size_of::<BpfMapInfo>() == 88);
    assert!(offset_of!(BpfMapInfo, btf_id) == 64);
    assert!(offset_of!(BpfMapInfo, map_extra) == 80);
    assert!(size_of::<BpfBtfInfo>() == 32);
    assert!(offset_of!(BpfBtfInfo, name) == 16);
};
