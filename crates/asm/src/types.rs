//! `enum bpf_prog_type`, `enum bpf_attach_type`, `enum bpf_map_type` and
//! `enum bpf_link_type` of the Linux 6.18 uapi (libbpf 1.7), as newtypes
//! over `u32` with named constants (`MapType::RINGBUF`).
//!
//! They are not Rust enums because the kernel (and an object built for a
//! newer kernel) may use values this crate does not know; unknown values
//! must pass through, not fail to decode. `Display` prints the uapi name
//! without its prefix (`RINGBUF`), or the number when the value is unknown;
//! the alternate form (`{:#}`) prints libbpf's lower-case name (`ringbuf`).

use std::fmt;

macro_rules! kernel_number {
    ($(#[$m:meta])* $ty:ident { $($name:ident = $val:expr),* $(,)? }) => {
        $(#[$m])*
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $ty(u32);

        #[allow(missing_docs)]
        impl $ty {
            $(pub const $name: $ty = $ty($val);)*

            /// Every value this crate has a name for, with its name.
            const NAMES: &'static [($ty, &'static str)] = &[$(($ty($val), stringify!($name))),*];

            /// The value of a number from the kernel or an object.
            pub const fn from_raw(v: u32) -> Self {
                $ty(v)
            }

            /// The value as the kernel sees it.
            pub const fn raw(self) -> u32 {
                self.0
            }

            /// The uapi name without its prefix (`"RINGBUF"`), or `None`
            /// if the value is unknown to this crate.
            pub fn name(self) -> Option<&'static str> {
                Self::NAMES.iter().find(|(v, _)| *v == self).map(|(_, s)| *s)
            }

            /// The value of a uapi name without its prefix (`"RINGBUF"`,
            /// any case).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::NAMES.iter().find(|(_, s)| s.eq_ignore_ascii_case(name)).map(|(v, _)| *v)
            }
        }

        impl From<u32> for $ty {
            fn from(v: u32) -> Self {
                $ty(v)
            }
        }

        impl From<$ty> for u32 {
            fn from(v: $ty) -> u32 {
                v.0
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_name(f, self.name(), self.0)
            }
        }

        /// Serialized as [`Display`](fmt::Display) prints it: the name,
        /// or the number (as a string) when unknown.
        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl fmt::Debug for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{n}", stringify!($ty)),
                    None => write!(f, "{}({})", stringify!($ty), self.0),
                }
            }
        }
    };
}

/// A known name as is (`{}`) or in lower case (`{:#}`), else the number;
/// padded to the formatter's width (`{:<14}`) as a string would be.
fn write_name(f: &mut fmt::Formatter<'_>, name: Option<&str>, raw: u32) -> fmt::Result {
    match name {
        Some(n) if f.alternate() => f.pad(&n.to_ascii_lowercase()),
        Some(n) => f.pad(n),
        None => f.pad(&raw.to_string()),
    }
}

kernel_number!(
    /// `enum bpf_prog_type` (`BPF_PROG_TYPE_*`).
    ProgType {
    UNSPEC = 0, SOCKET_FILTER = 1, KPROBE = 2, SCHED_CLS = 3, SCHED_ACT = 4,
    TRACEPOINT = 5, XDP = 6, PERF_EVENT = 7, CGROUP_SKB = 8, CGROUP_SOCK = 9,
    LWT_IN = 10, LWT_OUT = 11, LWT_XMIT = 12, SOCK_OPS = 13, SK_SKB = 14,
    CGROUP_DEVICE = 15, SK_MSG = 16, RAW_TRACEPOINT = 17, CGROUP_SOCK_ADDR = 18,
    LWT_SEG6LOCAL = 19, LIRC_MODE2 = 20, SK_REUSEPORT = 21, FLOW_DISSECTOR = 22,
    CGROUP_SYSCTL = 23, RAW_TRACEPOINT_WRITABLE = 24, CGROUP_SOCKOPT = 25,
    TRACING = 26, STRUCT_OPS = 27, EXT = 28, LSM = 29, SK_LOOKUP = 30,
    SYSCALL = 31, NETFILTER = 32,
});

kernel_number!(
    /// `enum bpf_attach_type` (`BPF_*`). What a 0 means depends on the
    /// program type: see [`ExpectedAttachType`].
    AttachType {
    CGROUP_INET_INGRESS = 0, CGROUP_INET_EGRESS = 1, CGROUP_INET_SOCK_CREATE = 2,
    CGROUP_SOCK_OPS = 3, SK_SKB_STREAM_PARSER = 4, SK_SKB_STREAM_VERDICT = 5,
    CGROUP_DEVICE = 6, SK_MSG_VERDICT = 7, CGROUP_INET4_BIND = 8,
    CGROUP_INET6_BIND = 9, CGROUP_INET4_CONNECT = 10, CGROUP_INET6_CONNECT = 11,
    CGROUP_INET4_POST_BIND = 12, CGROUP_INET6_POST_BIND = 13,
    CGROUP_UDP4_SENDMSG = 14, CGROUP_UDP6_SENDMSG = 15, LIRC_MODE2 = 16,
    FLOW_DISSECTOR = 17, CGROUP_SYSCTL = 18, CGROUP_UDP4_RECVMSG = 19,
    CGROUP_UDP6_RECVMSG = 20, CGROUP_GETSOCKOPT = 21, CGROUP_SETSOCKOPT = 22,
    TRACE_RAW_TP = 23, TRACE_FENTRY = 24, TRACE_FEXIT = 25, MODIFY_RETURN = 26,
    LSM_MAC = 27, TRACE_ITER = 28, CGROUP_INET4_GETPEERNAME = 29,
    CGROUP_INET6_GETPEERNAME = 30, CGROUP_INET4_GETSOCKNAME = 31,
    CGROUP_INET6_GETSOCKNAME = 32, XDP_DEVMAP = 33, CGROUP_INET_SOCK_RELEASE = 34,
    XDP_CPUMAP = 35, SK_LOOKUP = 36, XDP = 37, SK_SKB_VERDICT = 38,
    SK_REUSEPORT_SELECT = 39, SK_REUSEPORT_SELECT_OR_MIGRATE = 40,
    PERF_EVENT = 41, TRACE_KPROBE_MULTI = 42, LSM_CGROUP = 43, STRUCT_OPS = 44,
    NETFILTER = 45, TCX_INGRESS = 46, TCX_EGRESS = 47, TRACE_UPROBE_MULTI = 48,
    CGROUP_UNIX_CONNECT = 49, CGROUP_UNIX_SENDMSG = 50, CGROUP_UNIX_RECVMSG = 51,
    CGROUP_UNIX_GETPEERNAME = 52, CGROUP_UNIX_GETSOCKNAME = 53,
    NETKIT_PRIMARY = 54, NETKIT_PEER = 55, TRACE_KPROBE_SESSION = 56,
    TRACE_UPROBE_SESSION = 57, TRACE_FSESSION = 58,
});

kernel_number!(
    /// `enum bpf_map_type` (`BPF_MAP_TYPE_*`).
    MapType {
    UNSPEC = 0, HASH = 1, ARRAY = 2, PROG_ARRAY = 3, PERF_EVENT_ARRAY = 4,
    PERCPU_HASH = 5, PERCPU_ARRAY = 6, STACK_TRACE = 7, CGROUP_ARRAY = 8,
    LRU_HASH = 9, LRU_PERCPU_HASH = 10, LPM_TRIE = 11, ARRAY_OF_MAPS = 12,
    HASH_OF_MAPS = 13, DEVMAP = 14, SOCKMAP = 15, CPUMAP = 16, XSKMAP = 17,
    SOCKHASH = 18, CGROUP_STORAGE = 19, REUSEPORT_SOCKARRAY = 20,
    PERCPU_CGROUP_STORAGE = 21, QUEUE = 22, STACK = 23, SK_STORAGE = 24,
    DEVMAP_HASH = 25, STRUCT_OPS = 26, RINGBUF = 27, INODE_STORAGE = 28,
    TASK_STORAGE = 29, BLOOM_FILTER = 30, USER_RINGBUF = 31, CGRP_STORAGE = 32,
    ARENA = 33, INSN_ARRAY = 34,
});

kernel_number!(
    /// `enum bpf_link_type` (`BPF_LINK_TYPE_*`).
    LinkType {
    UNSPEC = 0, RAW_TRACEPOINT = 1, TRACING = 2, CGROUP = 3, ITER = 4,
    NETNS = 5, XDP = 6, PERF_EVENT = 7, KPROBE_MULTI = 8, STRUCT_OPS = 9,
    NETFILTER = 10, TCX = 11, UPROBE_MULTI = 12, NETKIT = 13, SOCKMAP = 14,
});

impl MapType {
    /// Whether a map of this type holds other maps (its values are map fds).
    pub fn is_map_in_map(self) -> bool {
        self == MapType::ARRAY_OF_MAPS || self == MapType::HASH_OF_MAPS
    }
}

impl AttachType {
    /// The 0 of a program whose type makes the kernel ignore the field
    /// (the same number as `CGROUP_INET_INGRESS`, which is what
    /// [`name`](Self::name) says of it; [`ExpectedAttachType`] prints it
    /// as `none`).
    pub const UNSET: AttachType = AttachType(0);
}

impl ProgType {
    /// Whether the kernel reads `expected_attach_type` when it loads a
    /// program of this type (`bpf_prog_load_check_attach` and the types
    /// whose attach flavors it tells apart): elsewhere a 0 is no attach
    /// type at all, not `CGROUP_INET_INGRESS`.
    pub fn reads_expected_attach_type(self) -> bool {
        const READ_BY: &[ProgType] = &[
            ProgType::CGROUP_SKB,
            ProgType::CGROUP_SOCK,
            ProgType::CGROUP_SOCK_ADDR,
            ProgType::CGROUP_SOCKOPT,
            ProgType::SK_LOOKUP,
            ProgType::SK_REUSEPORT,
            ProgType::NETFILTER,
            ProgType::TRACING,
            ProgType::LSM,
            ProgType::EXT,
            ProgType::XDP,
            ProgType::KPROBE,
        ];
        READ_BY.contains(&self)
    }
}

/// A program's `expected_attach_type` as the kernel reads it for the
/// program's type. `Display` prints `none` where the kernel ignores a 0
/// (a raw tracepoint's 0 is not `CGROUP_INET_INGRESS`), and the member
/// index for a struct_ops program (the kernel reads the field as that).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedAttachType {
    /// The program's type.
    pub prog_type: ProgType,
    /// The value of the field.
    pub attach_type: AttachType,
}

impl ExpectedAttachType {
    /// Whether the field carries nothing for this program type.
    pub fn is_none(self) -> bool {
        self.attach_type.raw() == 0 && !self.prog_type.reads_expected_attach_type() && self.prog_type != ProgType::STRUCT_OPS
    }
}

impl fmt::Display for ExpectedAttachType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.prog_type == ProgType::STRUCT_OPS {
            return f.pad(&format!("(member index {})", self.attach_type.raw()));
        }
        if self.is_none() {
            return f.pad("none");
        }
        fmt::Display::fmt(&self.attach_type, f)
    }
}

/// Map flags (`BPF_F_*` of `map_flags`) the loader sets itself.
#[allow(missing_docs)]
pub mod map_flags {
    pub const NO_PREALLOC: u32 = 1 << 0;
    pub const RDONLY_PROG: u32 = 1 << 7;
    pub const MMAPABLE: u32 = 1 << 10;
}

/// Program flags (`prog_flags` of `BPF_PROG_LOAD`).
#[allow(missing_docs)]
pub mod prog_flags {
    pub const SLEEPABLE: u32 = 1 << 4;
    pub const XDP_HAS_FRAGS: u32 = 1 << 5;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(ProgType::XDP.name(), Some("XDP"));
        assert_eq!(AttachType::TRACE_FSESSION.name(), Some("TRACE_FSESSION"));
        assert_eq!(MapType::INSN_ARRAY.name(), Some("INSN_ARRAY"));
        assert_eq!(MapType::from(999).name(), None);
        assert_eq!(MapType::from_name("ringbuf"), Some(MapType::RINGBUF));
        assert_eq!(LinkType::TCX.raw(), 11);
    }

    #[test]
    fn display_carries_unknown_values() {
        assert_eq!(MapType::RINGBUF.to_string(), "RINGBUF");
        assert_eq!(format!("{:#}", ProgType::CGROUP_SKB), "cgroup_skb");
        assert_eq!(MapType::from(999).to_string(), "999");
        assert_eq!(format!("{:#}", AttachType::from(77)), "77");
        assert_eq!(format!("{:?}", MapType::HASH), "MapType::HASH");
        assert_eq!(format!("{:?}", LinkType::from(99)), "LinkType(99)");
        assert_eq!(format!("[{:<8}][{:>4}]", MapType::HASH, MapType::from(99)), "[HASH    ][  99]");
    }

    #[test]
    fn expected_attach_type_prints_none_where_ignored() {
        let e = |p, a: u32| ExpectedAttachType { prog_type: p, attach_type: a.into() }.to_string();
        assert_eq!(e(ProgType::RAW_TRACEPOINT, 0), "none");
        assert_eq!(e(ProgType::CGROUP_SKB, 0), "CGROUP_INET_INGRESS");
        assert_eq!(e(ProgType::TRACING, 24), "TRACE_FENTRY");
        assert_eq!(e(ProgType::STRUCT_OPS, 3), "(member index 3)");
        assert_eq!(e(ProgType::SOCKET_FILTER, 99), "99");
    }
}
