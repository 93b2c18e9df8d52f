//! When each program type, map type, attach type and helper appeared in
//! Linux, so that a kernel lacking one can be told which version it needs
//! (`BPF_MAP_TYPE_RINGBUF needs Linux 5.8`).
//!
//! The values are the mainline release that first had the number in its
//! uapi `linux/bpf.h`. Helpers are numbered in the order they were added,
//! so a helper's release is found from the first id of each release.

use std::fmt;

use crate::types::{AttachType as at, MapType as mt, ProgType as pt};

/// A mainline Linux release, `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LinuxVersion {
    /// `6` of 6.1.
    pub major: u8,
    /// `1` of 6.1.
    pub minor: u8,
}

impl LinuxVersion {
    /// `major.minor`.
    pub const fn new(major: u8, minor: u8) -> LinuxVersion {
        LinuxVersion { major, minor }
    }

    /// `KERNEL_VERSION(major, minor, 0)`, comparable with
    /// `LINUX_KERNEL_VERSION`.
    pub fn code(self) -> u32 {
        (u32::from(self.major) << 16) | (u32::from(self.minor) << 8)
    }

    /// The release of a `KERNEL_VERSION(a, b, c)` code (the sublevel dropped).
    pub fn from_code(code: u32) -> LinuxVersion {
        LinuxVersion { major: (code >> 16) as u8, minor: (code >> 8) as u8 }
    }
}

impl fmt::Display for LinuxVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

const fn v(major: u8, minor: u8) -> LinuxVersion {
    LinuxVersion::new(major, minor)
}

/// The release that introduced program type `t`.
pub fn prog_type_since(t: pt) -> Option<LinuxVersion> {
    Some(match t {
        pt::SOCKET_FILTER => v(3, 19),
        pt::KPROBE | pt::SCHED_CLS | pt::SCHED_ACT => v(4, 1),
        pt::TRACEPOINT => v(4, 7),
        pt::XDP => v(4, 8),
        pt::PERF_EVENT => v(4, 9),
        pt::CGROUP_SKB | pt::CGROUP_SOCK | pt::LWT_IN | pt::LWT_OUT | pt::LWT_XMIT => v(4, 10),
        pt::SOCK_OPS => v(4, 13),
        pt::SK_SKB => v(4, 14),
        pt::CGROUP_DEVICE => v(4, 15),
        pt::SK_MSG | pt::RAW_TRACEPOINT | pt::CGROUP_SOCK_ADDR => v(4, 17),
        pt::LWT_SEG6LOCAL | pt::LIRC_MODE2 => v(4, 18),
        pt::SK_REUSEPORT => v(4, 19),
        pt::FLOW_DISSECTOR => v(4, 20),
        pt::CGROUP_SYSCTL | pt::RAW_TRACEPOINT_WRITABLE => v(5, 2),
        pt::CGROUP_SOCKOPT => v(5, 3),
        pt::TRACING => v(5, 5),
        pt::STRUCT_OPS | pt::EXT => v(5, 6),
        pt::LSM => v(5, 7),
        pt::SK_LOOKUP => v(5, 9),
        pt::SYSCALL => v(5, 14),
        pt::NETFILTER => v(6, 4),
        _ => return None,
    })
}

/// The release that introduced map type `t`.
pub fn map_type_since(t: mt) -> Option<LinuxVersion> {
    Some(match t {
        mt::HASH | mt::ARRAY => v(3, 19),
        mt::PROG_ARRAY => v(4, 2),
        mt::PERF_EVENT_ARRAY => v(4, 3),
        mt::PERCPU_HASH | mt::PERCPU_ARRAY | mt::STACK_TRACE => v(4, 6),
        mt::CGROUP_ARRAY => v(4, 8),
        mt::LRU_HASH | mt::LRU_PERCPU_HASH => v(4, 10),
        mt::LPM_TRIE => v(4, 11),
        mt::ARRAY_OF_MAPS | mt::HASH_OF_MAPS => v(4, 12),
        mt::DEVMAP | mt::SOCKMAP => v(4, 14),
        mt::CPUMAP => v(4, 15),
        mt::XSKMAP | mt::SOCKHASH => v(4, 18),
        mt::CGROUP_STORAGE | mt::REUSEPORT_SOCKARRAY => v(4, 19),
        mt::PERCPU_CGROUP_STORAGE | mt::QUEUE | mt::STACK => v(4, 20),
        mt::SK_STORAGE => v(5, 2),
        mt::DEVMAP_HASH => v(5, 4),
        mt::STRUCT_OPS => v(5, 6),
        mt::RINGBUF => v(5, 8),
        mt::INODE_STORAGE => v(5, 10),
        mt::TASK_STORAGE => v(5, 11),
        mt::BLOOM_FILTER => v(5, 16),
        mt::USER_RINGBUF => v(6, 1),
        mt::CGRP_STORAGE => v(6, 2),
        mt::ARENA => v(6, 9),
        mt::INSN_ARRAY => v(6, 18),
        _ => return None,
    })
}

/// The release that introduced attach type `t`.
pub fn attach_type_since(t: at) -> Option<LinuxVersion> {
    Some(match t {
        at::CGROUP_INET_INGRESS | at::CGROUP_INET_EGRESS | at::CGROUP_INET_SOCK_CREATE => v(4, 10),
        at::CGROUP_SOCK_OPS => v(4, 13),
        at::SK_SKB_STREAM_PARSER | at::SK_SKB_STREAM_VERDICT => v(4, 14),
        at::CGROUP_DEVICE => v(4, 15),
        t if (at::SK_MSG_VERDICT..=at::CGROUP_INET6_POST_BIND).contains(&t) => v(4, 17),
        at::CGROUP_UDP4_SENDMSG | at::CGROUP_UDP6_SENDMSG | at::LIRC_MODE2 => v(4, 18),
        at::FLOW_DISSECTOR => v(4, 20),
        at::CGROUP_SYSCTL | at::CGROUP_UDP4_RECVMSG | at::CGROUP_UDP6_RECVMSG => v(5, 2),
        at::CGROUP_GETSOCKOPT | at::CGROUP_SETSOCKOPT => v(5, 3),
        at::TRACE_RAW_TP | at::TRACE_FENTRY | at::TRACE_FEXIT => v(5, 5),
        at::MODIFY_RETURN | at::LSM_MAC => v(5, 7),
        t if (at::TRACE_ITER..=at::XDP_DEVMAP).contains(&t) => v(5, 8),
        t if (at::CGROUP_INET_SOCK_RELEASE..=at::XDP).contains(&t) => v(5, 9),
        at::SK_SKB_VERDICT => v(5, 13),
        at::SK_REUSEPORT_SELECT | at::SK_REUSEPORT_SELECT_OR_MIGRATE => v(5, 14),
        at::PERF_EVENT => v(5, 15),
        at::TRACE_KPROBE_MULTI => v(5, 18),
        at::LSM_CGROUP => v(6, 0),
        at::STRUCT_OPS | at::NETFILTER => v(6, 4),
        at::TCX_INGRESS | at::TCX_EGRESS | at::TRACE_UPROBE_MULTI => v(6, 6),
        t if (at::CGROUP_UNIX_CONNECT..=at::NETKIT_PEER).contains(&t) => v(6, 7),
        at::TRACE_KPROBE_SESSION => v(6, 10),
        at::TRACE_UPROBE_SESSION => v(6, 13),
        at::TRACE_FSESSION => v(6, 19),
        _ => return None,
    })
}

/// The first helper id of each release (helper ids are handed out in
/// order); ids below the first entry are older than 4.20.
const HELPER_RELEASES: &[(u32, LinuxVersion)] = &[
    (84, v(4, 20)),
    (91, v(5, 0)),
    (93, v(5, 1)),
    (99, v(5, 2)),
    (109, v(5, 3)),
    (111, v(5, 5)),
    (116, v(5, 6)),
    (119, v(5, 7)),
    (125, v(5, 8)),
    (136, v(5, 9)),
    (142, v(5, 10)),
    (156, v(5, 11)),
    (163, v(5, 12)),
    (164, v(5, 13)),
    (166, v(5, 14)),
    (169, v(5, 15)),
    (176, v(5, 16)),
    (183, v(5, 17)),
    (186, v(5, 18)),
    (194, v(5, 19)),
    (204, v(6, 0)),
    (208, v(6, 1)),
    (210, v(6, 2)),
];

/// The release that introduced helper `id` (`None` past the known ones
/// and before 4.20).
pub fn helper_since(id: u32) -> Option<LinuxVersion> {
    if id == 0 || id as usize >= HELPER_NAMES.len() {
        return None;
    }
    HELPER_RELEASES.iter().take_while(|(first, _)| *first <= id).last().map(|&(_, r)| r)
}

/// `bpf_<name>` of helper `id` without the prefix (`ringbuf_output`), as in
/// `enum bpf_func_id` (`BPF_FUNC_ringbuf_output`).
pub fn helper_name(id: u32) -> Option<&'static str> {
    HELPER_NAMES.get(id as usize).copied().filter(|_| id != 0)
}

/// Well-known helper ids the loader rewrites.
pub mod helper {
    /// `bpf_probe_read` (kernel or user memory; all that kernels before 5.5
    /// have).
    pub const PROBE_READ: i32 = 4;
    /// `bpf_probe_read_str`.
    pub const PROBE_READ_STR: i32 = 45;
    /// `bpf_probe_read_user` (Linux >= 5.5).
    pub const PROBE_READ_USER: i32 = 112;
    /// `bpf_probe_read_kernel` (Linux >= 5.5).
    pub const PROBE_READ_KERNEL: i32 = 113;
    /// `bpf_probe_read_user_str` (Linux >= 5.5).
    pub const PROBE_READ_USER_STR: i32 = 114;
    /// `bpf_probe_read_kernel_str` (Linux >= 5.5).
    pub const PROBE_READ_KERNEL_STR: i32 = 115;
}

/// `enum bpf_func_id` of Linux 6.18, by id.
const HELPER_NAMES: &[&str] = &[
    "unspec",
    "map_lookup_elem",
    "map_update_elem",
    "map_delete_elem",
    "probe_read",
    "ktime_get_ns",
    "trace_printk",
    "get_prandom_u32",
    "get_smp_processor_id",
    "skb_store_bytes",
    "l3_csum_replace",
    "l4_csum_replace",
    "tail_call",
    "clone_redirect",
    "get_current_pid_tgid",
    "get_current_uid_gid",
    "get_current_comm",
    "get_cgroup_classid",
    "skb_vlan_push",
    "skb_vlan_pop",
    "skb_get_tunnel_key",
    "skb_set_tunnel_key",
    "perf_event_read",
    "redirect",
    "get_route_realm",
    "perf_event_output",
    "skb_load_bytes",
    "get_stackid",
    "csum_diff",
    "skb_get_tunnel_opt",
    "skb_set_tunnel_opt",
    "skb_change_proto",
    "skb_change_type",
    "skb_under_cgroup",
    "get_hash_recalc",
    "get_current_task",
    "probe_write_user",
    "current_task_under_cgroup",
    "skb_change_tail",
    "skb_pull_data",
    "csum_update",
    "set_hash_invalid",
    "get_numa_node_id",
    "skb_change_head",
    "xdp_adjust_head",
    "probe_read_str",
    "get_socket_cookie",
    "get_socket_uid",
    "set_hash",
    "setsockopt",
    "skb_adjust_room",
    "redirect_map",
    "sk_redirect_map",
    "sock_map_update",
    "xdp_adjust_meta",
    "perf_event_read_value",
    "perf_prog_read_value",
    "getsockopt",
    "override_return",
    "sock_ops_cb_flags_set",
    "msg_redirect_map",
    "msg_apply_bytes",
    "msg_cork_bytes",
    "msg_pull_data",
    "bind",
    "xdp_adjust_tail",
    "skb_get_xfrm_state",
    "get_stack",
    "skb_load_bytes_relative",
    "fib_lookup",
    "sock_hash_update",
    "msg_redirect_hash",
    "sk_redirect_hash",
    "lwt_push_encap",
    "lwt_seg6_store_bytes",
    "lwt_seg6_adjust_srh",
    "lwt_seg6_action",
    "rc_repeat",
    "rc_keydown",
    "skb_cgroup_id",
    "get_current_cgroup_id",
    "get_local_storage",
    "sk_select_reuseport",
    "skb_ancestor_cgroup_id",
    "sk_lookup_tcp",
    "sk_lookup_udp",
    "sk_release",
    "map_push_elem",
    "map_pop_elem",
    "map_peek_elem",
    "msg_push_data",
    "msg_pop_data",
    "rc_pointer_rel",
    "spin_lock",
    "spin_unlock",
    "sk_fullsock",
    "tcp_sock",
    "skb_ecn_set_ce",
    "get_listener_sock",
    "skc_lookup_tcp",
    "tcp_check_syncookie",
    "sysctl_get_name",
    "sysctl_get_current_value",
    "sysctl_get_new_value",
    "sysctl_set_new_value",
    "strtol",
    "strtoul",
    "sk_storage_get",
    "sk_storage_delete",
    "send_signal",
    "tcp_gen_syncookie",
    "skb_output",
    "probe_read_user",
    "probe_read_kernel",
    "probe_read_user_str",
    "probe_read_kernel_str",
    "tcp_send_ack",
    "send_signal_thread",
    "jiffies64",
    "read_branch_records",
    "get_ns_current_pid_tgid",
    "xdp_output",
    "get_netns_cookie",
    "get_current_ancestor_cgroup_id",
    "sk_assign",
    "ktime_get_boot_ns",
    "seq_printf",
    "seq_write",
    "sk_cgroup_id",
    "sk_ancestor_cgroup_id",
    "ringbuf_output",
    "ringbuf_reserve",
    "ringbuf_submit",
    "ringbuf_discard",
    "ringbuf_query",
    "csum_level",
    "skc_to_tcp6_sock",
    "skc_to_tcp_sock",
    "skc_to_tcp_timewait_sock",
    "skc_to_tcp_request_sock",
    "skc_to_udp6_sock",
    "get_task_stack",
    "load_hdr_opt",
    "store_hdr_opt",
    "reserve_hdr_opt",
    "inode_storage_get",
    "inode_storage_delete",
    "d_path",
    "copy_from_user",
    "snprintf_btf",
    "seq_printf_btf",
    "skb_cgroup_classid",
    "redirect_neigh",
    "per_cpu_ptr",
    "this_cpu_ptr",
    "redirect_peer",
    "task_storage_get",
    "task_storage_delete",
    "get_current_task_btf",
    "bprm_opts_set",
    "ktime_get_coarse_ns",
    "ima_inode_hash",
    "sock_from_file",
    "check_mtu",
    "for_each_map_elem",
    "snprintf",
    "sys_bpf",
    "btf_find_by_name_kind",
    "sys_close",
    "timer_init",
    "timer_set_callback",
    "timer_start",
    "timer_cancel",
    "get_func_ip",
    "get_attach_cookie",
    "task_pt_regs",
    "get_branch_snapshot",
    "trace_vprintk",
    "skc_to_unix_sock",
    "kallsyms_lookup_name",
    "find_vma",
    "loop",
    "strncmp",
    "get_func_arg",
    "get_func_ret",
    "get_func_arg_cnt",
    "get_retval",
    "set_retval",
    "xdp_get_buff_len",
    "xdp_load_bytes",
    "xdp_store_bytes",
    "copy_from_user_task",
    "skb_set_tstamp",
    "ima_file_hash",
    "kptr_xchg",
    "map_lookup_percpu_elem",
    "skc_to_mptcp_sock",
    "dynptr_from_mem",
    "ringbuf_reserve_dynptr",
    "ringbuf_submit_dynptr",
    "ringbuf_discard_dynptr",
    "dynptr_read",
    "dynptr_write",
    "dynptr_data",
    "tcp_raw_gen_syncookie_ipv4",
    "tcp_raw_gen_syncookie_ipv6",
    "tcp_raw_check_syncookie_ipv4",
    "tcp_raw_check_syncookie_ipv6",
    "ktime_get_tai_ns",
    "user_ringbuf_drain",
    "cgrp_storage_get",
    "cgrp_storage_delete",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(map_type_since(mt::RINGBUF).unwrap().to_string(), "5.8");
        assert_eq!(prog_type_since(pt::SYSCALL), Some(v(5, 14)));
        assert_eq!(attach_type_since(at::TRACE_UPROBE_MULTI), Some(v(6, 6)));
        assert_eq!(helper_name(130), Some("ringbuf_output"));
        assert_eq!(helper_since(130), Some(v(5, 8)));
        assert_eq!(helper_since(113), Some(v(5, 5)));
        assert_eq!(helper_since(155), Some(v(5, 10)));
        assert_eq!(helper_since(160), Some(v(5, 11)));
        assert_eq!(helper_since(174), Some(v(5, 15)));
        assert_eq!(helper_since(1), None);
        assert_eq!(helper_name(helper::PROBE_READ_KERNEL_STR as u32), Some("probe_read_kernel_str"));
        assert_eq!(helper_name(helper::PROBE_READ_STR as u32), Some("probe_read_str"));
        assert_eq!(LinuxVersion::from_code(v(5, 10).code() + 200), v(5, 10));
    }
}
