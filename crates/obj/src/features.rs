//! What a kernel supports, as libbpf 1.7 asks before it loads (its
//! `kernel_supports()` set): one typed struct, filled either by probing the
//! running kernel (the `bpfld` crate, once per process) or, offline, from a
//! target's vmlinux BTF, so that `bpfld check` predicts an old kernel
//! without running it.
//!
//! Offline, each feature is read from what its kernel change left in BTF:
//! an enumerator of `enum bpf_func_id`, `enum bpf_attach_type`, `enum
//! bpf_cmd`, `BTF_KIND_*`, a struct or member the same change added, or
//! else the kernel version.

use bpfld_asm::LinuxVersion;
use bpfld_btf::{Btf, Kind};

macro_rules! features {
    ($($(#[$doc:meta])* $variant:ident $field:ident ($major:literal, $minor:literal) $desc:literal;)*) => {
        /// One kernel feature (see [`KernelFeatures`] for each).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Feature {
            $($(#[$doc])* $variant,)*
        }

        impl Feature {
            /// Every feature, in declaration order.
            pub const ALL: &'static [Feature] = &[$(Feature::$variant),*];

            /// The field's name (`btf_float`), as printed by `bpfld features`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Feature::$variant => stringify!($field),)*
                }
            }

            /// What it is, in libbpf's words where it has some.
            pub fn description(self) -> &'static str {
                match self {
                    $(Feature::$variant => $desc,)*
                }
            }

            /// The mainline release that brought it (x86-64).
            pub fn since(self) -> LinuxVersion {
                match self {
                    $(Feature::$variant => LinuxVersion::new($major, $minor),)*
                }
            }
        }

        /// Every feature libbpf 1.7 probes (and kfunc calls), yes or no.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct KernelFeatures {
            $($(#[$doc])* pub $field: bool,)*
        }

        impl KernelFeatures {
            /// Whether the kernel has `f`.
            pub fn has(&self, f: Feature) -> bool {
                match f {
                    $(Feature::$variant => self.$field,)*
                }
            }

            /// Sets `f`.
            pub fn set(&mut self, f: Feature, value: bool) {
                match f {
                    $(Feature::$variant => self.$field = value,)*
                }
            }
        }
    };
}

features! {
    /// `prog_name`/`map_name` in `BPF_PROG_LOAD`/`BPF_MAP_CREATE`.
    ProgName prog_name (4, 15) "BPF program name";
    /// Maps of global data (`BPF_PSEUDO_MAP_VALUE`).
    GlobalData global_data (5, 2) "global variables";
    /// `BPF_BTF_LOAD`.
    Btf btf (4, 18) "minimal BTF";
    /// BTF FUNC and FUNC_PROTO (func_info).
    BtfFunc btf_func (5, 0) "BTF functions";
    /// FUNCs with global linkage (global subprograms verified alone).
    BtfGlobalFunc btf_global_func (5, 6) "BTF global function";
    /// BTF DATASEC and VAR.
    BtfDatasec btf_datasec (5, 2) "BTF data section and variable";
    /// DATASEC names starting with `?` (any printable character).
    BtfQmarkDatasec btf_qmark_datasec (6, 9) "BTF DATASEC names starting from '?'";
    /// BTF FLOAT.
    BtfFloat btf_float (5, 13) "BTF_KIND_FLOAT support";
    /// BTF DECL_TAG.
    BtfDeclTag btf_decl_tag (5, 16) "BTF_KIND_DECL_TAG support";
    /// BTF TYPE_TAG.
    BtfTypeTag btf_type_tag (5, 17) "BTF_KIND_TYPE_TAG support";
    /// BTF ENUM64, and the kind flag (signedness) of ENUM.
    BtfEnum64 btf_enum64 (6, 0) "BTF_KIND_ENUM64 support";
    /// `BPF_F_MMAPABLE` array maps.
    ArrayMmap array_mmap (5, 5) "ARRAY map mmap()";
    /// `expected_attach_type` in `BPF_PROG_LOAD`.
    ExpAttachType exp_attach_type (4, 17) "BPF_PROG_LOAD expected_attach_type attribute";
    /// `bpf_probe_read_kernel()` and friends.
    ProbeReadKernel probe_read_kernel (5, 5) "bpf_probe_read_kernel() helper";
    /// `BPF_PROG_BIND_MAP`.
    ProgBindMap prog_bind_map (5, 10) "BPF_PROG_BIND_MAP support";
    /// Module BTF (kfuncs, types and attach targets in modules).
    ModuleBtf module_btf (5, 11) "module BTF support";
    /// `BPF_PERF_EVENT` links.
    PerfLink perf_link (5, 15) "BPF perf link support";
    /// Memory of maps and programs charged to memcg, not RLIMIT_MEMLOCK.
    MemcgAccount memcg_account (5, 11) "memcg-based memory accounting";
    /// `bpf_get_attach_cookie()`.
    BpfCookie bpf_cookie (5, 15) "BPF cookie support";
    /// Syscalls behind `__<arch>_sys_*` wrappers.
    SyscallWrapper syscall_wrapper (4, 17) "Kernel using syscall wrapper";
    /// `BPF_TRACE_UPROBE_MULTI` links (with process PID filtering).
    UprobeMultiLink uprobe_multi_link (6, 6) "BPF multi-uprobe link support";
    /// `BPF_TRACE_KPROBE_MULTI` links.
    KprobeMultiLink kprobe_multi_link (5, 18) "BPF multi-kprobe link support";
    /// `__arg_ctx` decl tags understood by the verifier.
    ArgCtxTag arg_ctx_tag (6, 8) "kernel-side __arg_ctx tag";
    /// `ld_imm64` map value offsets past 512 MiB (arenas).
    Ldimm64FullRangeOff ldimm64_full_range_off (6, 19) "full range LDIMM64 support";
    /// The `uprobe()` syscall (uprobe trampolines).
    UprobeSyscall uprobe_syscall (6, 17) "kernel supports uprobe syscall";
    /// Calls of kernel functions (kfuncs, `BPF_PSEUDO_KFUNC_CALL`).
    KfuncCall kfunc_call (5, 13) "kfunc calls";
}

impl KernelFeatures {
    /// A kernel with everything (what a plan without a target assumes).
    pub fn all() -> KernelFeatures {
        let mut f = KernelFeatures::default();
        for &x in Feature::ALL {
            f.set(x, true);
        }
        f
    }

    /// The features a kernel of `version` has, by release alone.
    pub fn of_version(version: u32) -> KernelFeatures {
        let mut f = KernelFeatures::default();
        for &x in Feature::ALL {
            f.set(x, version >= x.since().code());
        }
        f
    }

    /// The features missing here, in [`Feature::ALL`] order.
    pub fn missing(&self) -> Vec<Feature> {
        Feature::ALL.iter().copied().filter(|&f| !self.has(f)).collect()
    }

    /// Whether the object's BTF must be sanitized for this kernel (libbpf's
    /// `btf_needs_sanitization`).
    pub fn btf_needs_sanitizing(&self) -> bool {
        !(self.btf_func
            && self.btf_datasec
            && self.btf_global_func
            && self.btf_float
            && self.btf_decl_tag
            && self.btf_type_tag
            && self.btf_enum64
            && self.btf_qmark_datasec)
    }

    /// The `.config` options [`KernelFeatures::limited_by_config`] reads.
    pub const CONFIG_OPTIONS: [&'static str; 1] = ["CONFIG_FPROBE"];

    /// Takes away what the kernel's `.config` rules out although its BTF
    /// shows it: multi-kprobe links need `CONFIG_FPROBE` (the attach type
    /// is in every 5.18+ BTF; Debian's 6.1 builds and this project's 6.18
    /// host lack the option, and their kernels answer EOPNOTSUPP).
    pub fn limited_by_config(mut self, kconfig: &crate::kconfig::Kconfig) -> KernelFeatures {
        let [fprobe] = Self::CONFIG_OPTIONS;
        self.kprobe_multi_link &= kconfig.get(fprobe) == Some("y");
        self
    }

    /// Derives the features of the kernel whose vmlinux BTF is `vmlinux`
    /// (offline: no system call). `version` is `LINUX_KERNEL_VERSION` if
    /// known; it decides only what BTF cannot show.
    pub fn from_btf(vmlinux: &Btf, version: Option<u32>) -> KernelFeatures {
        Self::from_btf_enums(vmlinux, &KernelEnums::from_btf(vmlinux), version)
    }

    /// [`KernelFeatures::from_btf`] with the uapi enums of `vmlinux`
    /// already read (a target reads them once for both uses).
    pub fn from_btf_enums(vmlinux: &Btf, e: &KernelEnums, version: Option<u32>) -> KernelFeatures {
        let by_version = |f: Feature| version.is_none_or(|v| v >= f.since().code());
        let has = |name: &str| e.has(name);
        let has_struct = |name: &str| vmlinux.find_first(name, Kind::Struct).is_some();
        let has_member = |st: &str, m: &str| has_member(vmlinux, st, m);
        // A kind is supported if vmlinux itself uses it, or the kernel's
        // `BTF_KIND_*` enum names it (an enum since 5.13; a #define before,
        // when neither FLOAT nor the later kinds existed).
        let kind = |k: Kind, enumerator: &str| has(enumerator) || has_kind(vmlinux, k);
        KernelFeatures {
            // Every kernel with vmlinux BTF (5.2+) has these.
            prog_name: true,
            global_data: true,
            btf: true,
            btf_func: true,
            btf_datasec: true,
            exp_attach_type: true,
            btf_global_func: has_struct("bpf_func_info_aux"),
            btf_qmark_datasec: by_version(Feature::BtfQmarkDatasec),
            btf_float: kind(Kind::Float, "BTF_KIND_FLOAT"),
            btf_decl_tag: kind(Kind::DeclTag, "BTF_KIND_DECL_TAG"),
            btf_type_tag: kind(Kind::TypeTag, "BTF_KIND_TYPE_TAG"),
            btf_enum64: kind(Kind::Enum64, "BTF_KIND_ENUM64"),
            array_mmap: has_member("bpf_map_ops", "map_mmap"),
            probe_read_kernel: has("BPF_FUNC_probe_read_kernel"),
            prog_bind_map: has("BPF_PROG_BIND_MAP"),
            module_btf: has_member("bpf_btf_info", "kernel_btf"),
            perf_link: has("BPF_PERF_EVENT"),
            memcg_account: has("BPF_FUNC_ktime_get_coarse_ns"),
            bpf_cookie: has("BPF_FUNC_get_attach_cookie"),
            syscall_wrapper: vmlinux.find_first("__x64_sys_bpf", Kind::Func).is_some(),
            uprobe_multi_link: has("BPF_TRACE_UPROBE_MULTI"),
            kprobe_multi_link: has("BPF_TRACE_KPROBE_MULTI"),
            arg_ctx_tag: by_version(Feature::ArgCtxTag),
            ldimm64_full_range_off: by_version(Feature::Ldimm64FullRangeOff),
            uprobe_syscall: vmlinux.find_first("__x64_sys_uprobe", Kind::Func).is_some(),
            kfunc_call: has_struct("bpf_kfunc_desc") || version.is_some_and(|v| v >= Feature::KfuncCall.since().code()),
        }
    }
}

/// The numbers a kernel knows, from the enumerators of its BTF: program,
/// map and attach types, helpers, commands, BTF kinds.
///
/// Read for every kernel a check plans against, so it is built without an
/// allocation per enumerator: the names one after another in one string,
/// found through a table sorted by a hash of the name.
#[derive(Debug, Clone, Default)]
pub struct KernelEnums {
    names: String,
    /// Sorted by hash; equal hashes keep the order they were read in.
    entries: Vec<EnumeratorEntry>,
}

#[derive(Debug, Clone, Copy)]
struct EnumeratorEntry {
    hash: u64,
    start: u32,
    len: u32,
    value: u64,
}

/// FNV-1a over `parts` one after another: the hash of their
/// concatenation, without making it.
fn name_hash(parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for b in parts.iter().flat_map(|p| p.bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The enums whose enumerators [`KernelEnums`] keeps.
const KEPT_ENUMS: &[&str] = &["bpf_prog_type", "bpf_map_type", "bpf_attach_type", "bpf_func_id", "bpf_cmd"];

impl KernelEnums {
    /// Reads the uapi enums of `vmlinux` (and the anonymous `BTF_KIND_*`
    /// one).
    pub fn from_btf(vmlinux: &Btf) -> KernelEnums {
        let mut enums = KernelEnums::default();
        for &name in KEPT_ENUMS {
            for id in vmlinux.find(name, Some(Kind::Enum)) {
                enums.collect(vmlinux, id, |_| true);
            }
        }
        // The BTF_KIND_* enum is anonymous: found by its first enumerator.
        if let Some(id) = vmlinux.find_anonymous_enum("BTF_KIND_UNKN") {
            enums.collect(vmlinux, id, |n| n.starts_with("BTF_KIND_"));
        }
        // Stable: of two enumerators with one name, the later stays later.
        enums.entries.sort_by_key(|e| e.hash);
        enums
    }

    fn collect(&mut self, btf: &Btf, id: u32, keep: impl Fn(&str) -> bool) {
        let Ok(t) = btf.type_by_id(id) else { return };
        for e in t.enumerators() {
            let Ok(n) = t.str(e.name_off) else { continue };
            if keep(n) {
                let (start, len) = (self.names.len() as u32, n.len() as u32);
                self.names.push_str(n);
                self.entries.push(EnumeratorEntry { hash: name_hash(&[n]), start, len, value: e.value });
            }
        }
    }

    /// The value of the enumerator named by `parts` one after another (of
    /// two with that name, the one read last).
    fn lookup(&self, parts: &[&str]) -> Option<u64> {
        let hash = name_hash(parts);
        let from = self.entries.partition_point(|e| e.hash < hash);
        let to = from + self.entries[from..].partition_point(|e| e.hash == hash);
        self.entries[from..to].iter().rev().find(|e| self.is_named(e, parts)).map(|e| e.value)
    }

    fn is_named(&self, e: &EnumeratorEntry, parts: &[&str]) -> bool {
        let mut rest = &self.names.as_bytes()[e.start as usize..(e.start + e.len) as usize];
        for p in parts {
            match rest.strip_prefix(p.as_bytes()) {
                Some(r) => rest = r,
                None => return false,
            }
        }
        rest.is_empty()
    }

    /// The value of the enumerator `name` (`BPF_MAP_TYPE_RINGBUF`).
    pub fn value(&self, name: &str) -> Option<u64> {
        self.lookup(&[name])
    }

    /// Whether the kernel has the enumerator `name`.
    pub fn has(&self, name: &str) -> bool {
        self.lookup(&[name]).is_some()
    }

    /// Whether the kernel knows `BPF_<prefix><name>` (`BPF_MAP_TYPE_`, `RINGBUF`).
    pub fn knows(&self, prefix: &str, name: &str) -> bool {
        self.lookup(&[prefix, name]).is_some()
    }

    /// How many enumerators were read.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No enumerator at all (a BTF without the uapi enums).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// A BTF holding only the uapi enums a kernel of release `v` has (every
/// number of bpfld-asm's release tables from `v` or before): a stand-in
/// for a release whose BTF is not at hand, to predict what it lacks.
pub fn uapi_btf_of_release(v: LinuxVersion) -> Vec<u8> {
    use bpfld_asm::since::{attach_type_since, helper_name, helper_since, map_type_since, prog_type_since};
    use bpfld_asm::types::{AttachType, MapType, ProgType};
    use bpfld_btf::writer::{OwnedType, TypeData, Writer};
    type Table = (fn(u32) -> Option<&'static str>, fn(u32) -> Option<LinuxVersion>, &'static str, &'static str);
    let tables: [Table; 4] = [
        (|n| MapType::from(n).name(), |n| map_type_since(n.into()), "bpf_map_type", "BPF_MAP_TYPE_"),
        (|n| ProgType::from(n).name(), |n| prog_type_since(n.into()), "bpf_prog_type", "BPF_PROG_TYPE_"),
        (|n| AttachType::from(n).name(), |n| attach_type_since(n.into()), "bpf_attach_type", "BPF_"),
        (helper_name, helper_since, "bpf_func_id", "BPF_FUNC_"),
    ];
    let mut w = Writer::new();
    for (name, since, enum_name, prefix) in tables {
        let values: Vec<(String, u32)> =
            (0..1024).filter(|&n| since(n).is_none_or(|s| s <= v)).filter_map(|n| Some((format!("{prefix}{}", name(n)?), n))).collect();
        w.push(OwnedType { name: enum_name.into(), kind: Kind::Enum, kflag: false, size_or_type: 4, data: TypeData::Enum(values) });
    }
    w.write().expect("a few enums always fit")
}

/// Whether `vmlinux` has a type of kind `k` (a scan: only for the kinds
/// that are rare).
fn has_kind(vmlinux: &Btf, k: Kind) -> bool {
    vmlinux.has_kind(k)
}

/// Whether struct or union `name` has a member `member`, looking into
/// anonymous members (`union bpf_attr` is made of anonymous structs).
fn has_member(btf: &Btf, name: &str, member: &str) -> bool {
    let ids = [btf.find_first(name, Kind::Struct), btf.find_first(name, Kind::Union)];
    ids.into_iter().flatten().any(|id| member_in(btf, id, member, 0))
}

fn member_in(btf: &Btf, id: u32, member: &str, depth: u32) -> bool {
    let Ok(t) = btf.type_by_id(id) else { return false };
    if depth > 8 || !t.kind().is_composite() {
        return false;
    }
    t.members().any(|m| match t.str(m.name_off) {
        Ok("") => member_in(btf, m.type_id, member, depth + 1),
        Ok(n) => n == member,
        Err(_) => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_version() {
        let f = KernelFeatures::of_version(crate::kernel_version(5, 10, 0));
        assert!(f.prog_bind_map && f.probe_read_kernel && f.btf_datasec && f.btf_global_func);
        assert!(!f.btf_float && !f.btf_decl_tag && !f.btf_type_tag && !f.btf_enum64 && !f.memcg_account && !f.kfunc_call);
        assert!(f.btf_needs_sanitizing());
        assert!(!KernelFeatures::all().btf_needs_sanitizing());
        assert!(KernelFeatures::all().missing().is_empty());
        assert_eq!(Feature::BtfFloat.name(), "btf_float");
        assert_eq!(Feature::BtfFloat.since().to_string(), "5.13");
    }

    #[test]
    fn kernel_enums_answer_by_whole_name() {
        use bpfld_asm::since::LinuxVersion;
        let btf = Btf::from_vec(uapi_btf_of_release(LinuxVersion::new(6, 1))).unwrap();
        let e = KernelEnums::from_btf(&btf);
        assert!(e.len() > 300, "{}", e.len());
        assert!(e.knows("BPF_MAP_TYPE_", "RINGBUF") && e.knows("BPF_MAP_TYPE_RING", "BUF") && e.has("BPF_MAP_TYPE_RINGBUF"));
        assert_eq!(e.value("BPF_MAP_TYPE_HASH"), Some(1));
        assert_eq!(e.value("BPF_FUNC_map_lookup_elem"), Some(1));
        // Arena maps came in 6.9; a prefix or a longer name is no name.
        assert!(!e.knows("BPF_MAP_TYPE_", "ARENA"));
        assert!(!e.has("BPF_MAP_TYPE_") && !e.has("BPF_MAP_TYPE_HASHX") && !e.has(""));
        assert!(KernelEnums::default().is_empty() && !KernelEnums::default().has("BPF_MAP_TYPE_HASH"));
    }

    #[test]
    fn config_rules_out_kprobe_multi_without_fprobe() {
        use crate::kconfig::Kconfig;
        let all = KernelFeatures::all();
        let without = Kconfig::parse("CONFIG_BPF=y\n# CONFIG_FPROBE is not set\n").unwrap();
        assert_eq!(all.limited_by_config(&without), KernelFeatures { kprobe_multi_link: false, ..all });
        let with = Kconfig::parse_for("CONFIG_FPROBE=y\n", &[]).unwrap();
        assert_eq!(all.limited_by_config(&with), all);
    }
}
