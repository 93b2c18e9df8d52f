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
}

impl MismatchKind {
    pub fn describe(self) -> &'static str {
        match self {
            MismatchKind::Rejected => "predicted to load, the kernel refused",
            MismatchKind::Accepted => "predicted to fail, the kernel accepted",
            MismatchKind::ExternDiffers => "extern bound differently",
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
            When::Host => k.host,
            When::NoKallsyms => !k.kallsyms,
        }
    }

    pub fn describe(self) -> String {
        match self {
            When::Always => "every kernel".into(),
            When::ConfigUnset(opt) => format!("kernels without {opt}"),
            When::Release(p) => format!("{p}*"),
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
    Extern(&'static str),
}

impl LimitItem {
    fn matches(self, item: &Item) -> bool {
        match (self, item) {
            (LimitItem::Object, Item::Object) => true,
            (LimitItem::Program(a), Item::Program(b)) => a == b,
            (LimitItem::Extern(a), Item::Extern(b)) => a == b,
            _ => false,
        }
    }

    pub fn describe(self) -> String {
        match self {
            LimitItem::Object => "object".into(),
            LimitItem::Program(p) => format!("program {p}"),
            LimitItem::Extern(e) => format!("extern {e}"),
        }
    }
}

/// An expected disagreement between `bpfld check` and the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownLimit {
    pub id: &'static str,
    /// The object's short name (`loader_reject`).
    pub object: &'static str,
    /// The disagreements this one cause produces.
    pub items: &'static [(LimitItem, MismatchKind)],
    pub when: When,
    pub reason: &'static str,
}

/// The known limits of offline prediction, as the matrix meets them.
pub const KNOWN_LIMITS: &[KnownLimit] = &[
    KnownLimit {
        id: "L1",
        object: "loader_reject",
        items: &[(LimitItem::Program("bad_packet_read"), MismatchKind::Rejected)],
        when: When::Always,
        reason: "the verifier's verdict is not predicted: this program reads packet data without a bounds check, on purpose \
                 ('invalid access to packet')",
    },
    KnownLimit {
        id: "L2",
        object: "loader_bad_map_create",
        items: &[(LimitItem::Object, MismatchKind::Rejected)],
        when: When::Always,
        reason: "map attributes are judged by BPF_MAP_CREATE, which the plan never calls: a hash map with \
                 max_entries 0 is refused with EINVAL, on purpose",
    },
    KnownLimit {
        id: "L4",
        object: "loader_fentry",
        items: &[(LimitItem::Program("count_getpgid"), MismatchKind::Rejected)],
        when: When::Host,
        reason: "this host forbids tracing programs at run time (EPERM with an empty verifier log; \
                 /sys/kernel/tracing/available_filter_functions is EPERM too): a policy that neither BTF nor \
                 .config shows",
    },
    KnownLimit {
        id: "L7",
        object: "ksym_typeless",
        items: &[(LimitItem::Object, MismatchKind::Accepted), (LimitItem::Extern("schedule"), MismatchKind::ExternDiffers)],
        when: When::NoKallsyms,
        reason: "typeless ksyms need symbol addresses; Debian's image package ships a placeholder System.map \
                 (the real one is in the -dbg package), so the plan refuses the strong extern 'schedule' \
                 that the running kernel's /proc/kallsyms has",
    },
];

/// The limit that explains a disagreement, if one does.
pub fn find_limit(object: &str, item: &Item, kind: MismatchKind, kernel: &KernelInfo) -> Option<&'static KnownLimit> {
    KNOWN_LIMITS.iter().find(|l| l.object == object && l.when.holds(kernel) && l.items.iter().any(|(i, k)| *k == kind && i.matches(item)))
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
        assert_eq!(find_limit("loader_reject", &bad, MismatchKind::Rejected, &kernel("", true)).map(|l| l.id), Some("L1"));
        assert!(find_limit("loader_reject", &bad, MismatchKind::Accepted, &kernel("", true)).is_none(), "direction matters");
        let sched = Item::Extern("schedule".into());
        assert_eq!(find_limit("ksym_typeless", &sched, MismatchKind::ExternDiffers, &kernel("", false)).map(|l| l.id), Some("L7"));
        assert!(find_limit("ksym_typeless", &sched, MismatchKind::ExternDiffers, &kernel("", true)).is_none());
        // Predicted by `bpfld check` itself now: no limit excuses them.
        let rq = Item::Program("read_rq".into());
        assert!(find_limit("ksym_typed", &rq, MismatchKind::Rejected, &kernel("# CONFIG_KALLSYMS_ALL is not set\n", true)).is_none());
        assert!(find_limit("kfunc_module", &Item::Program("ct_lookup".into()), MismatchKind::Rejected, &kernel("", true)).is_none());
        let fentry = Item::Program("count_getpgid".into());
        let mut host = kernel("", true);
        assert!(find_limit("loader_fentry", &fentry, MismatchKind::Rejected, &host).is_none(), "host only");
        host.host = true;
        assert_eq!(find_limit("loader_fentry", &fentry, MismatchKind::Rejected, &host).map(|l| l.id), Some("L4"));
    }
}
