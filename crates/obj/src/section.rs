//! Program type, expected attach type and attach target from an ELF section
//! name: libbpf 1.7's `section_defs` table, kept as data in one place.
//!
//! A pattern ending in `+` matches the bare name or the name followed by
//! `/` and an attach target (`kprobe`, `kprobe/do_unlinkat`); one ending in
//! `/` needs the `/extra` part; any other pattern matches exactly. The first
//! matching row wins, so more specific rows come first, as in libbpf.

use bpfld_asm::types::{AttachType, AttachType as at, ProgType, ProgType as pt};

/// Section flags (libbpf's `enum sec_def_flags`).
pub mod flags {
    /// No flag.
    pub const NONE: u32 = 0;
    /// The expected attach type is dropped on kernels that do not know it.
    pub const EXP_ATTACH_OPT: u32 = 1;
    /// The expected attach type is given to the kernel at load.
    pub const ATTACHABLE: u32 = 2;
    /// [`ATTACHABLE`], dropped on kernels that do not know the type.
    pub const ATTACHABLE_OPT: u32 = ATTACHABLE | EXP_ATTACH_OPT;
    /// The attach target is a BTF id found at load time (fentry, lsm, ...).
    pub const ATTACH_BTF: u32 = 4;
    /// Loaded with `BPF_F_SLEEPABLE` (`.s` sections).
    pub const SLEEPABLE: u32 = 8;
    /// Loaded with `BPF_F_XDP_HAS_FRAGS` (`xdp.frags*` sections).
    pub const XDP_FRAGS: u32 = 16;
    /// A USDT program (`usdt`, `usdt.s`).
    pub const USDT: u32 = 32;
}

use flags::*;

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SectionRule {
    /// The section name it matches: exact (`xdp`), a stem with an optional
    /// `/target` (`kprobe+`), or a prefix (ending in `/`).
    pub pattern: &'static str,
    /// The program type of matching sections.
    pub prog_type: ProgType,
    /// Their expected attach type.
    pub expected_attach_type: AttachType,
    /// [`flags`] bits.
    pub flags: u32,
}

const fn r(pattern: &'static str, prog_type: ProgType, expected_attach_type: AttachType, flags: u32) -> SectionRule {
    SectionRule { pattern, prog_type, expected_attach_type, flags }
}

/// libbpf 1.7's `section_defs`, in its order.
pub static SECTION_RULES: &[SectionRule] = &[
    r("socket", pt::SOCKET_FILTER, at::UNSET, NONE),
    r("sk_reuseport/migrate", pt::SK_REUSEPORT, at::SK_REUSEPORT_SELECT_OR_MIGRATE, ATTACHABLE),
    r("sk_reuseport", pt::SK_REUSEPORT, at::SK_REUSEPORT_SELECT, ATTACHABLE),
    r("kprobe+", pt::KPROBE, at::UNSET, NONE),
    r("uprobe+", pt::KPROBE, at::UNSET, NONE),
    r("uprobe.s+", pt::KPROBE, at::UNSET, SLEEPABLE),
    r("kretprobe+", pt::KPROBE, at::UNSET, NONE),
    r("uretprobe+", pt::KPROBE, at::UNSET, NONE),
    r("uretprobe.s+", pt::KPROBE, at::UNSET, SLEEPABLE),
    r("kprobe.multi+", pt::KPROBE, at::TRACE_KPROBE_MULTI, NONE),
    r("kretprobe.multi+", pt::KPROBE, at::TRACE_KPROBE_MULTI, NONE),
    r("kprobe.session+", pt::KPROBE, at::TRACE_KPROBE_SESSION, NONE),
    r("uprobe.multi+", pt::KPROBE, at::TRACE_UPROBE_MULTI, NONE),
    r("uretprobe.multi+", pt::KPROBE, at::TRACE_UPROBE_MULTI, NONE),
    r("uprobe.session+", pt::KPROBE, at::TRACE_UPROBE_SESSION, NONE),
    r("uprobe.multi.s+", pt::KPROBE, at::TRACE_UPROBE_MULTI, SLEEPABLE),
    r("uretprobe.multi.s+", pt::KPROBE, at::TRACE_UPROBE_MULTI, SLEEPABLE),
    r("uprobe.session.s+", pt::KPROBE, at::TRACE_UPROBE_SESSION, SLEEPABLE),
    r("ksyscall+", pt::KPROBE, at::UNSET, NONE),
    r("kretsyscall+", pt::KPROBE, at::UNSET, NONE),
    r("usdt+", pt::KPROBE, at::UNSET, USDT),
    r("usdt.s+", pt::KPROBE, at::UNSET, USDT | SLEEPABLE),
    r("tc/ingress", pt::SCHED_CLS, at::TCX_INGRESS, NONE),
    r("tc/egress", pt::SCHED_CLS, at::TCX_EGRESS, NONE),
    r("tcx/ingress", pt::SCHED_CLS, at::TCX_INGRESS, NONE),
    r("tcx/egress", pt::SCHED_CLS, at::TCX_EGRESS, NONE),
    r("tc", pt::SCHED_CLS, at::UNSET, NONE),
    r("classifier", pt::SCHED_CLS, at::UNSET, NONE),
    r("action", pt::SCHED_ACT, at::UNSET, NONE),
    r("netkit/primary", pt::SCHED_CLS, at::NETKIT_PRIMARY, NONE),
    r("netkit/peer", pt::SCHED_CLS, at::NETKIT_PEER, NONE),
    r("tracepoint+", pt::TRACEPOINT, at::UNSET, NONE),
    r("tp+", pt::TRACEPOINT, at::UNSET, NONE),
    r("raw_tracepoint+", pt::RAW_TRACEPOINT, at::UNSET, NONE),
    r("raw_tp+", pt::RAW_TRACEPOINT, at::UNSET, NONE),
    r("raw_tracepoint.w+", pt::RAW_TRACEPOINT_WRITABLE, at::UNSET, NONE),
    r("raw_tp.w+", pt::RAW_TRACEPOINT_WRITABLE, at::UNSET, NONE),
    r("tp_btf+", pt::TRACING, at::TRACE_RAW_TP, ATTACH_BTF),
    r("fentry+", pt::TRACING, at::TRACE_FENTRY, ATTACH_BTF),
    r("fmod_ret+", pt::TRACING, at::MODIFY_RETURN, ATTACH_BTF),
    r("fexit+", pt::TRACING, at::TRACE_FEXIT, ATTACH_BTF),
    r("fentry.s+", pt::TRACING, at::TRACE_FENTRY, ATTACH_BTF | SLEEPABLE),
    r("fmod_ret.s+", pt::TRACING, at::MODIFY_RETURN, ATTACH_BTF | SLEEPABLE),
    r("fexit.s+", pt::TRACING, at::TRACE_FEXIT, ATTACH_BTF | SLEEPABLE),
    r("fsession+", pt::TRACING, at::TRACE_FSESSION, ATTACH_BTF),
    r("fsession.s+", pt::TRACING, at::TRACE_FSESSION, ATTACH_BTF | SLEEPABLE),
    r("freplace+", pt::EXT, at::UNSET, ATTACH_BTF),
    r("lsm+", pt::LSM, at::LSM_MAC, ATTACH_BTF),
    r("lsm.s+", pt::LSM, at::LSM_MAC, ATTACH_BTF | SLEEPABLE),
    r("lsm_cgroup+", pt::LSM, at::LSM_CGROUP, ATTACH_BTF),
    r("iter+", pt::TRACING, at::TRACE_ITER, ATTACH_BTF),
    r("iter.s+", pt::TRACING, at::TRACE_ITER, ATTACH_BTF | SLEEPABLE),
    r("syscall", pt::SYSCALL, at::UNSET, SLEEPABLE),
    r("xdp.frags/devmap", pt::XDP, at::XDP_DEVMAP, XDP_FRAGS),
    r("xdp/devmap", pt::XDP, at::XDP_DEVMAP, ATTACHABLE),
    r("xdp.frags/cpumap", pt::XDP, at::XDP_CPUMAP, XDP_FRAGS),
    r("xdp/cpumap", pt::XDP, at::XDP_CPUMAP, ATTACHABLE),
    r("xdp.frags", pt::XDP, at::XDP, XDP_FRAGS),
    r("xdp", pt::XDP, at::XDP, ATTACHABLE_OPT),
    r("perf_event", pt::PERF_EVENT, at::UNSET, NONE),
    r("lwt_in", pt::LWT_IN, at::UNSET, NONE),
    r("lwt_out", pt::LWT_OUT, at::UNSET, NONE),
    r("lwt_xmit", pt::LWT_XMIT, at::UNSET, NONE),
    r("lwt_seg6local", pt::LWT_SEG6LOCAL, at::UNSET, NONE),
    r("sockops", pt::SOCK_OPS, at::CGROUP_SOCK_OPS, ATTACHABLE_OPT),
    r("sk_skb/stream_parser", pt::SK_SKB, at::SK_SKB_STREAM_PARSER, ATTACHABLE_OPT),
    r("sk_skb/stream_verdict", pt::SK_SKB, at::SK_SKB_STREAM_VERDICT, ATTACHABLE_OPT),
    r("sk_skb/verdict", pt::SK_SKB, at::SK_SKB_VERDICT, ATTACHABLE_OPT),
    r("sk_skb", pt::SK_SKB, at::UNSET, NONE),
    r("sk_msg", pt::SK_MSG, at::SK_MSG_VERDICT, ATTACHABLE_OPT),
    r("lirc_mode2", pt::LIRC_MODE2, at::LIRC_MODE2, ATTACHABLE_OPT),
    r("flow_dissector", pt::FLOW_DISSECTOR, at::FLOW_DISSECTOR, ATTACHABLE_OPT),
    r("cgroup_skb/ingress", pt::CGROUP_SKB, at::CGROUP_INET_INGRESS, ATTACHABLE_OPT),
    r("cgroup_skb/egress", pt::CGROUP_SKB, at::CGROUP_INET_EGRESS, ATTACHABLE_OPT),
    r("cgroup/skb", pt::CGROUP_SKB, at::UNSET, NONE),
    r("cgroup/sock_create", pt::CGROUP_SOCK, at::CGROUP_INET_SOCK_CREATE, ATTACHABLE),
    r("cgroup/sock_release", pt::CGROUP_SOCK, at::CGROUP_INET_SOCK_RELEASE, ATTACHABLE),
    r("cgroup/sock", pt::CGROUP_SOCK, at::CGROUP_INET_SOCK_CREATE, ATTACHABLE_OPT),
    r("cgroup/post_bind4", pt::CGROUP_SOCK, at::CGROUP_INET4_POST_BIND, ATTACHABLE),
    r("cgroup/post_bind6", pt::CGROUP_SOCK, at::CGROUP_INET6_POST_BIND, ATTACHABLE),
    r("cgroup/bind4", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_BIND, ATTACHABLE),
    r("cgroup/bind6", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_BIND, ATTACHABLE),
    r("cgroup/connect4", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_CONNECT, ATTACHABLE),
    r("cgroup/connect6", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_CONNECT, ATTACHABLE),
    r("cgroup/connect_unix", pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_CONNECT, ATTACHABLE),
    r("cgroup/sendmsg4", pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP4_SENDMSG, ATTACHABLE),
    r("cgroup/sendmsg6", pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP6_SENDMSG, ATTACHABLE),
    r("cgroup/sendmsg_unix", pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_SENDMSG, ATTACHABLE),
    r("cgroup/recvmsg4", pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP4_RECVMSG, ATTACHABLE),
    r("cgroup/recvmsg6", pt::CGROUP_SOCK_ADDR, at::CGROUP_UDP6_RECVMSG, ATTACHABLE),
    r("cgroup/recvmsg_unix", pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_RECVMSG, ATTACHABLE),
    r("cgroup/getpeername4", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_GETPEERNAME, ATTACHABLE),
    r("cgroup/getpeername6", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_GETPEERNAME, ATTACHABLE),
    r("cgroup/getpeername_unix", pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_GETPEERNAME, ATTACHABLE),
    r("cgroup/getsockname4", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET4_GETSOCKNAME, ATTACHABLE),
    r("cgroup/getsockname6", pt::CGROUP_SOCK_ADDR, at::CGROUP_INET6_GETSOCKNAME, ATTACHABLE),
    r("cgroup/getsockname_unix", pt::CGROUP_SOCK_ADDR, at::CGROUP_UNIX_GETSOCKNAME, ATTACHABLE),
    r("cgroup/sysctl", pt::CGROUP_SYSCTL, at::CGROUP_SYSCTL, ATTACHABLE),
    r("cgroup/getsockopt", pt::CGROUP_SOCKOPT, at::CGROUP_GETSOCKOPT, ATTACHABLE),
    r("cgroup/setsockopt", pt::CGROUP_SOCKOPT, at::CGROUP_SETSOCKOPT, ATTACHABLE),
    r("cgroup/dev", pt::CGROUP_DEVICE, at::CGROUP_DEVICE, ATTACHABLE_OPT),
    r("struct_ops+", pt::STRUCT_OPS, at::UNSET, NONE),
    r("struct_ops.s+", pt::STRUCT_OPS, at::UNSET, SLEEPABLE),
    r("sk_lookup", pt::SK_LOOKUP, at::SK_LOOKUP, ATTACHABLE),
    r("netfilter", pt::NETFILTER, at::NETFILTER, NONE),
];

impl SectionRule {
    /// Whether `sec` matches this rule, by libbpf's `sec_def_matches`.
    pub fn matches(&self, sec: &str) -> bool {
        if self.pattern.ends_with('/') {
            return sec.starts_with(self.pattern);
        }
        if let Some(stem) = self.pattern.strip_suffix('+') {
            return match sec.strip_prefix(stem) {
                Some(rest) => rest.is_empty() || rest.starts_with('/'),
                None => false,
            };
        }
        sec == self.pattern
    }
}

/// What the section name of an entry program says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SectionDef {
    /// The table's row that matched.
    pub rule: &'static SectionRule,
    /// The part after the rule's stem and `/` (`do_unlinkat` of
    /// `fentry/do_unlinkat`), if any.
    pub target: Option<String>,
}

impl SectionDef {
    /// The program type the section gives.
    pub fn prog_type(&self) -> ProgType {
        self.rule.prog_type
    }
    /// The expected attach type the section gives.
    pub fn expected_attach_type(&self) -> AttachType {
        self.rule.expected_attach_type
    }
    /// The attach target the section names, if any.
    pub fn attach_target(&self) -> Option<&str> {
        self.target.as_deref()
    }
    /// Loaded sleepable (`BPF_F_SLEEPABLE`).
    pub fn is_sleepable(&self) -> bool {
        self.rule.flags & SLEEPABLE != 0
    }
    /// Loaded with `BPF_F_XDP_HAS_FRAGS`.
    pub fn is_xdp_frags(&self) -> bool {
        self.rule.flags & XDP_FRAGS != 0
    }
    /// A USDT program (`usdt`, `usdt.s`): a uprobe program that libbpf
    /// loads for uprobe_multi links where the kernel has them.
    pub fn is_usdt(&self) -> bool {
        self.rule.flags & USDT != 0
    }
    /// Whether the attach target is a BTF id to find in the target kernel.
    pub fn attaches_by_btf(&self) -> bool {
        self.rule.flags & ATTACH_BTF != 0
    }
}

/// Classifies a section name (without its `?` prefix); `None` if no rule
/// matches.
pub fn classify(sec: &str) -> Option<SectionDef> {
    let rule = SECTION_RULES.iter().find(|r| r.matches(sec))?;
    let stem = rule.pattern.trim_end_matches('+');
    let target = if rule.pattern.ends_with('/') {
        Some(sec[stem.len()..].to_string())
    } else {
        sec.get(stem.len()..).and_then(|rest| rest.strip_prefix('/')).filter(|t| !t.is_empty()).map(str::to_string)
    };
    // Exact-match rules that contain a '/' (tc/ingress) carry no target.
    let target = if !rule.pattern.ends_with('+') && !rule.pattern.ends_with('/') { None } else { target };
    Some(SectionDef { rule, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(sec: &str) -> Option<(ProgType, AttachType, Option<String>)> {
        classify(sec).map(|d| (d.prog_type(), d.expected_attach_type(), d.target))
    }

    #[test]
    fn matches_like_libbpf() {
        assert_eq!(kind("xdp"), Some((pt::XDP, at::XDP, None)));
        assert_eq!(kind("xdp.frags"), Some((pt::XDP, at::XDP, None)));
        assert!(classify("xdp.frags").unwrap().is_xdp_frags());
        assert_eq!(kind("xdp/devmap"), Some((pt::XDP, at::XDP_DEVMAP, None)));
        // "xdp" is exact: "xdp/foo" is not an XDP program.
        assert_eq!(kind("xdp/foo"), None);
        assert_eq!(kind("kprobe/do_unlinkat"), Some((pt::KPROBE, at::UNSET, Some("do_unlinkat".into()))));
        assert_eq!(kind("kprobe"), Some((pt::KPROBE, at::UNSET, None)));
        assert_eq!(kind("kprobex"), None);
        assert_eq!(kind("kprobe.multi/x*"), Some((pt::KPROBE, at::TRACE_KPROBE_MULTI, Some("x*".into()))));
        assert_eq!(kind("fentry.s/do_sys_open"), Some((pt::TRACING, at::TRACE_FENTRY, Some("do_sys_open".into()))));
        assert!(classify("fentry.s/do_sys_open").unwrap().is_sleepable());
        assert!(classify("fentry/x").unwrap().attaches_by_btf());
        assert_eq!(kind("tp/syscalls/sys_enter_open"), Some((pt::TRACEPOINT, at::UNSET, Some("syscalls/sys_enter_open".into()))));
        assert_eq!(kind("tc/ingress"), Some((pt::SCHED_CLS, at::TCX_INGRESS, None)));
        assert_eq!(kind("tc"), Some((pt::SCHED_CLS, at::UNSET, None)));
        assert_eq!(kind("cgroup/sock"), Some((pt::CGROUP_SOCK, at::CGROUP_INET_SOCK_CREATE, None)));
        assert_eq!(kind("cgroup_skb/egress"), Some((pt::CGROUP_SKB, at::CGROUP_INET_EGRESS, None)));
        assert_eq!(kind("struct_ops/init"), Some((pt::STRUCT_OPS, at::UNSET, Some("init".into()))));
        assert_eq!(kind("syscall"), Some((pt::SYSCALL, at::UNSET, None)));
        assert_eq!(kind("lsm.s/file_open"), Some((pt::LSM, at::LSM_MAC, Some("file_open".into()))));
        assert_eq!(kind("iter/task"), Some((pt::TRACING, at::TRACE_ITER, Some("task".into()))));
        assert_eq!(kind("freplace/handler"), Some((pt::EXT, at::UNSET, Some("handler".into()))));
        assert_eq!(kind("netfilter"), Some((pt::NETFILTER, at::NETFILTER, None)));
        assert_eq!(kind("unknown_section"), None);
    }
}
