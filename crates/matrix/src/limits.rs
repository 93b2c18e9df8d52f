//! What offline prediction cannot know: the disagreements the matrix
//! expects, each with its reason. Anything not listed here fails the
//! matrix.

use crate::compare::Item;

/// The direction of a disagreement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MismatchKind {
    /// Predicted to load (or be planned); the kernel refused.
    Rejected,
    /// Predicted to fail; the kernel accepted.
    Accepted,
    /// An extern bound differently.
    ExternDiffers,
    /// bpfld refused what libbpf 1.7 loaded on the same kernel.
    OnlyLibbpfLoads,
    /// bpfld loaded what libbpf 1.7 refused on the same kernel.
    OnlyBpfldLoads,
}

impl MismatchKind {
    pub fn describe(self) -> &'static str {
        match self {
            MismatchKind::Rejected => "predicted to load, the kernel refused",
            MismatchKind::Accepted => "predicted to fail, the kernel accepted",
            MismatchKind::ExternDiffers => "extern bound differently",
            MismatchKind::OnlyLibbpfLoads => "bpfld refused, libbpf loaded",
            MismatchKind::OnlyBpfldLoads => "bpfld loaded, libbpf refused",
        }
    }
}

/// What a kernel column is, for [`When`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelInfo {
    pub release: String,
    /// The kernel's `.config` text.
    pub config: String,
    /// The machine the harness runs on (not a guest).
    pub host: bool,
    /// The prediction had the kernel's symbol addresses (kallsyms).
    pub kallsyms: bool,
}

impl KernelInfo {
    /// The major and minor version of the release (`6.1.0-56-amd64` → (6, 1)).
    pub fn version(&self) -> Option<(u32, u32)> {
        let mut parts = self.release.split(|c: char| !c.is_ascii_digit());
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    }

    /// `CONFIG_<name>=y` (or `=m`) in the kernel's config.
    pub fn config_enabled(&self, name: &str) -> bool {
        self.config.lines().any(|l| l.strip_prefix(name).is_some_and(|v| v == "=y" || v == "=m"))
    }
}

/// On which kernels a limit applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// Kernels built without this option.
    ConfigUnset(&'static str),
    /// Kernels whose release starts with this.
    Release(&'static str),
    /// Kernels older than this major.minor (from the release string).
    Before(u32, u32),
    /// The machine the harness runs on.
    Host,
    /// Kernels predicted without symbol addresses.
    NoKallsyms,
}

impl When {
    pub fn holds(self, k: &KernelInfo) -> bool {
        match self {
            When::Always => true,
            When::ConfigUnset(opt) => !k.config_enabled(opt),
            When::Release(prefix) => k.release.starts_with(prefix),
            When::Before(major, minor) => k.version().is_some_and(|v| v < (major, minor)),
            When::Host => k.host,
            When::NoKallsyms => !k.kallsyms,
        }
    }

    pub fn describe(self) -> String {
        match self {
            When::Always => "every kernel".into(),
            When::ConfigUnset(opt) => format!("kernels without {opt}"),
            When::Release(p) => format!("{p}*"),
            When::Before(major, minor) => format!("kernels before {major}.{minor}"),
            When::Host => "the host".into(),
            When::NoKallsyms => "kernels predicted without kallsyms".into(),
        }
    }
}

/// Which part of an object a limit is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitItem {
    Object,
    Program(&'static str),
    /// Every program (with [`KnownLimit::evidence`] to say which).
    AnyProgram,
    Extern(&'static str),
}

impl LimitItem {
    fn matches(self, item: &Item) -> bool {
        match (self, item) {
            (LimitItem::Object, Item::Object) => true,
            (LimitItem::Program(a), Item::Program(b)) => a == b,
            (LimitItem::AnyProgram, Item::Program(_)) => true,
            (LimitItem::Extern(a), Item::Extern(b)) => a == b,
            _ => false,
        }
    }

    pub fn describe(self) -> String {
        match self {
            LimitItem::Object => "object".into(),
            LimitItem::Program(p) => format!("program {p}"),
            LimitItem::AnyProgram => "any program".into(),
            LimitItem::Extern(e) => format!("extern {e}"),
        }
    }
}

/// An expected disagreement between `bpfld check` and the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownLimit {
    pub id: &'static str,
    /// The object's short name (`loader_reject`), or `*` for any object.
    pub object: &'static str,
    /// The disagreements this one cause produces.
    pub items: &'static [(LimitItem, MismatchKind)],
    pub when: When,
    /// Text the kernel's (or the loader's) error must contain, when the
    /// cause is recognizable by it.
    pub evidence: Option<&'static str>,
    pub reason: &'static str,
}

/// The known limits of offline prediction, as the matrix meets them.
pub const KNOWN_LIMITS: &[KnownLimit] = &[
    KnownLimit {
        id: "L1",
        object: "loader_reject",
        items: &[(LimitItem::Program("bad_packet_read"), MismatchKind::Rejected)],
        when: When::Always,
        evidence: None,
        reason: "the verifier's verdict is not predicted: this program reads packet data without a bounds check, on purpose \
                 ('invalid access to packet')",
    },
    KnownLimit {
        id: "L2",
        object: "loader_bad_map_create",
        items: &[(LimitItem::Object, MismatchKind::Rejected)],
        when: When::Always,
        evidence: None,
        reason: "map attributes are judged by BPF_MAP_CREATE, which the plan never calls: a hash map with \
                 max_entries 0 is refused with EINVAL, on purpose",
    },
    KnownLimit {
        id: "L4",
        object: "loader_fentry",
        items: &[(LimitItem::Program("count_getpgid"), MismatchKind::Rejected)],
        when: When::Host,
        evidence: None,
        reason: "this host forbids tracing programs at run time (EPERM with an empty verifier log; \
                 /sys/kernel/tracing/available_filter_functions is EPERM too): a policy that neither BTF nor \
                 .config shows",
    },
    KnownLimit {
        id: "L7",
        object: "ksym_typeless",
        items: &[(LimitItem::Object, MismatchKind::Accepted), (LimitItem::Extern("schedule"), MismatchKind::ExternDiffers)],
        when: When::NoKallsyms,
        evidence: None,
        reason: "typeless ksyms need symbol addresses; Debian's image package ships a placeholder System.map \
                 (the real one is in the -dbg package), so the plan refuses the strong extern 'schedule' \
                 that the running kernel's /proc/kallsyms has",
    },
    KnownLimit {
        id: "L10",
        object: "struct_ops_bbr",
        items: &[(LimitItem::Program("bpfld_bbr_cong_control"), MismatchKind::Rejected)],
        when: When::Release("6.1.0-0.deb11."),
        evidence: Some("expected pointer to STRUCT sock but R1 has a pointer to STRUCT tcp_sock"),
        reason: "the verifier's verdict is not predicted: this 6.1 build's verifier matches bbr_main's first argument \
                 (struct sock *) by exact struct, the object passes its struct tcp_sock *; BTF compatibility of the \
                 flavor (libbpf's rule too) lets pointers to any struct match",
    },
    KnownLimit {
        id: "L11",
        object: "loader_pin_escape",
        items: &[(LimitItem::Object, MismatchKind::Rejected)],
        when: When::Always,
        evidence: Some("refused to pin"),
        reason: "on purpose: a map pinned by name whose name holds a '/' is refused when it would be pinned, which \
                 the plan does not do (where the pin goes is a load option, not a property of the kernel)",
    },
    KnownLimit {
        id: "L12",
        object: "usdt_probes",
        items: &[
            (LimitItem::Program("on_args"), MismatchKind::Accepted),
            (LimitItem::Program("on_guarded"), MismatchKind::Accepted),
            (LimitItem::Program("on_args_auto"), MismatchKind::Accepted),
            (LimitItem::Program("on_sib"), MismatchKind::Accepted),
        ],
        when: When::Before(5, 15),
        evidence: None,
        reason: "the offline helper check refuses bpf_get_attach_cookie() (5.15) anywhere in a program, but usdt.bpf.h \
                 calls it only under LINUX_HAS_BPF_COOKIE, a branch the verifier removes on older kernels: the \
                 prediction does not follow dead branches yet",
    },
    KnownLimit {
        id: "L13",
        object: "arena_globals",
        items: &[(LimitItem::Object, MismatchKind::Rejected)],
        when: When::Host,
        evidence: Some("Operation not permitted"),
        reason: "this host's kernel (6.18.44-fc) refuses every BPF_MAP_TYPE_ARENA create with EPERM before the arena's \
                 own checks: even map_flags 0, which mainline's arena_map_alloc answers with EINVAL; LRU_HASH, CPUMAP, \
                 BLOOM_FILTER, which pass the same CAP_BPF check in map_create, are created; no BPF LSM program is \
                 loaded. Not bpfld's attributes (libbpf 1.7 gets the same EPERM); nothing in BTF or config says so. \
                 The 6.12 guests run the arena for real (the matrix's arena round trip)",
    },
];

/// Where bpfld and libbpf 1.7 differ on the same kernel, on purpose or
/// until work still landing arrives. Anything not listed here fails the
/// matrix.
pub const LIBBPF_DIFFERENCES: &[KnownLimit] = &[
    KnownLimit {
        id: "D1",
        object: "kfunc_required_group",
        items: &[(LimitItem::AnyProgram, MismatchKind::OnlyLibbpfLoads)],
        when: When::Before(6, 2),
        evidence: Some("required flavor group"),
        reason: "by design: the object declares a required flavor group (bpfld's own feature, docs/kfunc-flavors.md) \
                 and none of its flavors exists before 6.2 (bpf_task_acquire); libbpf has no such groups and loads \
                 the program with every call poisoned",
    },
    KnownLimit {
        id: "D2",
        object: "kfunc_required_unmet",
        items: &[(LimitItem::AnyProgram, MismatchKind::OnlyLibbpfLoads)],
        when: When::Always,
        evidence: Some("required flavor group"),
        reason: "by design: a required flavor group that no kernel can meet (both flavors have the wrong prototype); \
                 libbpf has no such groups and loads the program with the calls poisoned",
    },
    KnownLimit {
        id: "D3",
        object: "*",
        items: &[(LimitItem::AnyProgram, MismatchKind::OnlyBpfldLoads)],
        when: When::Before(6, 4),
        evidence: Some("isn't KIND_VAR"),
        reason: "by design (known limits L5/L6 of docs/kernel-matrix.md): libbpf 1.7 turns bpf_ksym_exists() of a \
                 resolved kfunc into an ld_imm64 of the kfunc's BTF id, which verifiers before 6.4 refuse ('isn't \
                 KIND_VAR'); bpfld loads the constant 1 there (kfunc_module, kfunc_bbr, struct_ops_bbr, whose \
                 struct_ops map libbpf then cannot create either)",
    },
    KnownLimit {
        id: "D5",
        object: "struct_ops_bbr",
        items: &[(LimitItem::AnyProgram, MismatchKind::OnlyBpfldLoads)],
        when: When::Release("5.10."),
        evidence: None,
        reason: "libbpf loads every program a struct_ops map uses together, so the ones that call kfuncs (none \
                 before 5.13) take the others down with them; bpfld loads each program on its own (neither can \
                 register the map on 5.10)",
    },
    KnownLimit {
        id: "D6",
        object: "struct_ops_cc",
        items: &[(LimitItem::AnyProgram, MismatchKind::OnlyBpfldLoads)],
        when: When::Release("5.10."),
        evidence: None,
        reason: "as D5: libbpf loads a struct_ops map's programs together, bpfld one by one; on 5.10 the \
                 tcp_reno_* kfunc calls fail (kfunc calls came in 5.13)",
    },
];

/// The limit that explains a disagreement, if one does.
pub fn find_limit(object: &str, item: &Item, kind: MismatchKind, kernel: &KernelInfo, evidence: &str) -> Option<&'static KnownLimit> {
    find_in(KNOWN_LIMITS, object, item, kind, kernel, evidence)
}

/// The known difference that explains bpfld and libbpf disagreeing, if one does.
pub fn find_difference(object: &str, item: &Item, kind: MismatchKind, kernel: &KernelInfo, evidence: &str) -> Option<&'static KnownLimit> {
    find_in(LIBBPF_DIFFERENCES, object, item, kind, kernel, evidence)
}

fn find_in(
    table: &'static [KnownLimit],
    object: &str,
    item: &Item,
    kind: MismatchKind,
    kernel: &KernelInfo,
    evidence: &str,
) -> Option<&'static KnownLimit> {
    table.iter().find(|l| {
        (l.object == "*" || l.object == object)
            && l.when.holds(kernel)
            && l.evidence.is_none_or(|e| evidence.contains(e))
            && l.items.iter().any(|(i, k)| *k == kind && i.matches(item))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kernel(config: &str, kallsyms: bool) -> KernelInfo {
        KernelInfo { release: "6.12.117+deb12-amd64".into(), config: config.into(), host: false, kallsyms }
    }

    #[test]
    fn conditions_and_items() {
        let bad = Item::Program("bad_packet_read".into());
        assert_eq!(find_limit("loader_reject", &bad, MismatchKind::Rejected, &kernel("", true), "").map(|l| l.id), Some("L1"));
        assert!(find_limit("loader_reject", &bad, MismatchKind::Accepted, &kernel("", true), "").is_none(), "direction matters");
        let sched = Item::Extern("schedule".into());
        assert_eq!(find_limit("ksym_typeless", &sched, MismatchKind::ExternDiffers, &kernel("", false), "").map(|l| l.id), Some("L7"));
        assert!(find_limit("ksym_typeless", &sched, MismatchKind::ExternDiffers, &kernel("", true), "").is_none());
        // Predicted by `bpfld check` itself now: no limit excuses them.
        let rq = Item::Program("read_rq".into());
        assert!(find_limit("ksym_typed", &rq, MismatchKind::Rejected, &kernel("# CONFIG_KALLSYMS_ALL is not set\n", true), "").is_none());
        assert!(find_limit("kfunc_module", &Item::Program("ct_lookup".into()), MismatchKind::Rejected, &kernel("", true), "").is_none());
        let fentry = Item::Program("count_getpgid".into());
        let mut host = kernel("", true);
        assert!(find_limit("loader_fentry", &fentry, MismatchKind::Rejected, &host, "").is_none(), "host only");
        host.host = true;
        assert_eq!(find_limit("loader_fentry", &fentry, MismatchKind::Rejected, &host, "").map(|l| l.id), Some("L4"));
    }
}
