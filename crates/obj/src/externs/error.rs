//! Why an extern cannot be declared or resolved, with its [`ErrorKind`]:
//! a strong kfunc the kernel lacks is `NotFound`, one whose prototype
//! differs `Incompatible`, a malformed declaration `InvalidInput`.

use std::fmt;

use bpfld_btf::{FuncLinkage, VarLinkage};

use super::collect::ExternKind;
use super::resolve::Unresolved;
use crate::error::{ErrorKind, Kind};

/// An extern that is malformed in the object, or that did not resolve on
/// the target. Each message is libbpf's wording where libbpf has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternError {
    /// The declaration is malformed (no BTF, wrong linkage, no DATASEC).
    Declaration(Malformed),
    /// The object's BTF does not read at the declaration; `what` says
    /// what was being read, if anything.
    DeclarationBtf {
        /// What was being read, if anything.
        what: Option<String>,
        /// Where and why the BTF does not read.
        source: bpfld_btf::Error,
    },
    /// A declaration libbpf does not support either.
    UnsupportedDeclaration(UnsupportedKconfig),
    /// A strong extern did not resolve: `unresolved` says how.
    Unresolved {
        /// The extern's name.
        name: String,
        /// What kind of extern it is.
        kind: ExternKind,
        /// Why it did not resolve (not found, incompatible, ...), boxed to
        /// keep the error small.
        unresolved: Box<Unresolved>,
        /// The outcome's reason (as in [`ExternOutcome::reason`](super::ExternOutcome::reason)),
        /// which libbpf's message quotes for an incompatible or missing one.
        reason: String,
    },
    /// The kernel's BTF does not read at the extern's type.
    KernelBtf {
        /// What was being read.
        what: String,
        /// Where and why the kernel's BTF does not read.
        source: bpfld_btf::Error,
    },
    /// Several kernel symbols of that name (a typeless ksym).
    Ambiguous {
        /// The extern's name.
        name: String,
        /// The first address kallsyms gives for it.
        first: u64,
        /// The second one.
        second: u64,
    },
    /// A kconfig value that does not fit the extern's type or slot.
    BadValue {
        /// The extern's name.
        name: String,
        /// Which value, and why it does not fit.
        why: BadKconfigValue,
    },
    /// The target lacks what resolving needs (its `.config`, kallsyms,
    /// version).
    TargetUnknown {
        /// The extern's name.
        name: String,
        /// The target's name.
        target: String,
        /// What the target does not say.
        missing: TargetFact,
    },
    /// A required flavor group none of whose members resolved.
    RequiredGroup {
        /// The group's essential name.
        group: String,
        /// The target's name.
        target: String,
        /// Each member flavor and why it did not resolve; empty when the
        /// object declares no extern of that essential name.
        flavors: Vec<FlavorFailure>,
    },
}

impl fmt::Display for ExternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternError::DeclarationBtf { what: None, source } => source.fmt(f),
            ExternError::DeclarationBtf { what: Some(what), source } | ExternError::KernelBtf { what, source } => {
                write!(f, "{what}: {source}")
            }
            ExternError::Declaration(m) => m.fmt(f),
            ExternError::UnsupportedDeclaration(u) => u.fmt(f),
            ExternError::Unresolved { name, kind, unresolved, reason } => match (kind, unresolved.as_ref()) {
                (ExternKind::Kfunc, Unresolved::NotFound) => write!(f, "extern (func ksym) '{name}': not found in kernel or module BTFs"),
                (ExternKind::Ksym, Unresolved::NotFound) => write!(f, "extern (var ksym) '{name}': not found in kernel BTF"),
                (ExternKind::Kfunc | ExternKind::Ksym, Unresolved::Incompatible { .. }) => {
                    write!(f, "extern ({}) '{name}': {reason}", kind.label())
                }
                _ => write!(f, "extern '{name}' (strong): not resolved: {reason}"),
            },
            ExternError::RequiredGroup { group, flavors, .. } if flavors.is_empty() => {
                write!(f, "required flavor group '{group}': the object declares no extern of that essential name")
            }
            ExternError::RequiredGroup { group, target, flavors } => {
                write!(f, "required flavor group '{group}': none of its {} flavors resolved on {target}: ", flavors.len())?;
                for (i, flavor) in flavors.iter().enumerate() {
                    let sep = if i == 0 { "" } else { "; " };
                    write!(f, "{sep}'{}': {}", flavor.name, flavor.reason.as_deref().unwrap_or("not resolved"))?;
                }
                Ok(())
            }
            ExternError::Ambiguous { name, first, second } => {
                write!(f, "extern (ksym) '{name}': resolution is ambiguous: {first:#x} or {second:#x}")
            }
            ExternError::BadValue { name, why } => write!(f, "extern (kcfg) '{name}': {why}"),
            ExternError::TargetUnknown { name, target, missing: TargetFact::Kallsyms } => {
                write!(f, "extern (ksym) '{name}': kernel symbol addresses (kallsyms) are unknown for target '{target}'")
            }
            ExternError::TargetUnknown { name, target, missing: TargetFact::KernelConfig } => {
                write!(f, "extern (kcfg) '{name}': the kernel configuration of target '{target}' is unknown")
            }
            ExternError::TargetUnknown { name, target, missing: TargetFact::KernelVersion } => {
                write!(f, "extern (kcfg) '{name}': failed to get the kernel version of target '{target}'")
            }
        }
    }
}

impl std::error::Error for ExternError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExternError::DeclarationBtf { source, .. } | ExternError::KernelBtf { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Kind for ExternError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExternError::Declaration(_) | ExternError::DeclarationBtf { .. } | ExternError::KernelBtf { .. } => ErrorKind::InvalidInput,
            ExternError::UnsupportedDeclaration(_) => ErrorKind::Unsupported,
            ExternError::Unresolved { unresolved, .. } => match unresolved.as_ref() {
                Unresolved::Incompatible { .. } => ErrorKind::Incompatible,
                Unresolved::UnknownOffline => ErrorKind::Unsupported,
                Unresolved::NotFound | Unresolved::Missing => ErrorKind::NotFound,
            },
            ExternError::TargetUnknown { .. } | ExternError::RequiredGroup { .. } => ErrorKind::NotFound,
            ExternError::Ambiguous { .. } | ExternError::BadValue { .. } => ErrorKind::Incompatible,
        }
    }
}

impl From<bpfld_btf::Error> for ExternError {
    fn from(source: bpfld_btf::Error) -> Self {
        ExternError::DeclarationBtf { what: None, source }
    }
}

/// How an extern's declaration is malformed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Malformed {
    /// The object has no `.BTF`, which externs need.
    NoObjectBtf,
    /// No BTF VAR or FUNC carries the extern's name.
    NoBtfEntry,
    /// The BTF VAR `id` of that name does not have extern linkage.
    VarLinkage {
        /// The VAR's BTF type id.
        id: u32,
        /// The linkage it has.
        linkage: VarLinkage,
    },
    /// The BTF FUNC `id` of that name does not have extern linkage.
    FuncLinkage {
        /// The FUNC's BTF type id.
        id: u32,
        /// The linkage it has.
        linkage: FuncLinkage,
    },
    /// The BTF type `id` is in no DATASEC.
    NoDatasec {
        /// The extern's BTF type id.
        id: u32,
    },
    /// The extern's DATASEC is neither `.ksyms` nor `.kconfig`.
    UnknownSection {
        /// The DATASEC's name.
        section: String,
    },
    /// The kconfig value's alignment is not a power of two.
    KconfigAlignment {
        /// The alignment its BTF type gives.
        align: u32,
    },
    /// A `LINUX_*` kconfig extern bpfld does not know, declared strong.
    UnknownVirtual {
        /// The extern's name.
        name: String,
    },
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Malformed::NoObjectBtf => f.write_str("externs need the object's .BTF"),
            Malformed::NoBtfEntry => f.write_str("no BTF VAR or FUNC of that name (declare it __ksym or __kconfig)"),
            Malformed::VarLinkage { id, linkage } => write!(f, "BTF VAR [{id}] has {linkage:?} linkage, not extern"),
            Malformed::FuncLinkage { id, linkage } => write!(f, "BTF FUNC [{id}] has {linkage:?} linkage, not extern"),
            Malformed::NoDatasec { id } => write!(f, "BTF [{id}] is in no DATASEC (declare it __ksym or __kconfig)"),
            Malformed::UnknownSection { section } => {
                write!(f, "unrecognized extern section '{section}' (declare it __ksym or __kconfig)")
            }
            Malformed::KconfigAlignment { align } => write!(f, "kconfig value alignment {align} is not a power of two"),
            Malformed::UnknownVirtual { name } => write!(f, "extern (kcfg) '{name}': unrecognized virtual extern"),
        }
    }
}

/// A well-formed extern declaration that libbpf does not support either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UnsupportedKconfig {
    /// A function declared `__kconfig`.
    KconfigFunction,
    /// A kconfig value whose size is zero or does not fit 32 bits.
    KconfigSize {
        /// The size its BTF type gives.
        size: u64,
    },
    /// A kconfig value whose type is not bool, char, tristate, `char[N]` or
    /// an integer.
    KconfigType,
    /// A kconfig value that would not fit in the largest `.kconfig` map
    /// bpfld lays out.
    KconfigMapFull {
        /// The value's size in bytes.
        size: u32,
        /// Where the map's previous values end.
        offset: u32,
        /// The largest map size bpfld allows.
        max: u32,
    },
}

impl fmt::Display for UnsupportedKconfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsupportedKconfig::KconfigFunction => f.write_str("extern function is unsupported under the .kconfig section"),
            UnsupportedKconfig::KconfigSize { size } => write!(f, "kconfig value size {size} is unsupported"),
            UnsupportedKconfig::KconfigType => {
                f.write_str("the kconfig value's type is unsupported (want bool, char, tristate, char[N] or an integer)")
            }
            UnsupportedKconfig::KconfigMapFull { size, offset, max } => {
                write!(f, "a {size}-byte value at offset {offset} does not fit in the {max}-byte .kconfig map bpfld allows")
            }
        }
    }
}

/// A member of a required flavor group that did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlavorFailure {
    /// The flavor's extern name.
    pub name: String,
    /// Its outcome's reason, if it has one.
    pub reason: Option<String>,
}

/// What a target does not say that resolving an extern needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetFact {
    /// Its kernel symbol addresses (kallsyms), for a typeless ksym.
    Kallsyms,
    /// Its kernel configuration, for a `CONFIG_*` kconfig extern.
    KernelConfig,
    /// Its kernel version, for `LINUX_KERNEL_VERSION`.
    KernelVersion,
}

/// Why a kconfig value cannot be written into its extern's slot: libbpf's
/// `set_kcfg_value_*` wording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadKconfigValue {
    /// `m` for a bool.
    ImpliesTristateOrChar {
        /// The value's text in the configuration.
        value: String,
    },
    /// `y`, `n` or `m` for a type that is not bool, tristate or char.
    ImpliesBoolTristateOrChar {
        /// The value's text in the configuration.
        value: String,
    },
    /// A quoted string for a type that is not a char array.
    ImpliesCharArray {
        /// The value's text in the configuration.
        value: String,
    },
    /// A string that opens a quote it does not close.
    InvalidString {
        /// The value's text in the configuration.
        value: String,
    },
    /// Neither `y`/`n`/`m`, a string, nor an integer C reads.
    NotAnInteger {
        /// The value's text in the configuration.
        value: String,
    },
    /// An integer for a type that is not an integer or char.
    ImpliesInteger {
        /// The value's text in the configuration.
        value: String,
    },
    /// A number for a type that is not an integer, char or bool.
    ImpliesIntegerCharOrBool {
        /// The number.
        value: u64,
    },
    /// A number other than 0 or 1 for a bool.
    NotBoolean {
        /// The number.
        value: u64,
    },
    /// A number the slot's integer cannot hold without loss.
    TooWide {
        /// The number.
        value: u64,
        /// The slot's size in bytes.
        size: u32,
    },
    /// An integer slot of a size that is not 1, 2, 4 or 8 bytes.
    IntegerSize {
        /// The slot's size in bytes.
        size: u32,
    },
    /// The extern's slot lies outside the `.kconfig` map's bytes.
    SlotOutsideMap {
        /// The slot's offset in the map.
        offset: u32,
        /// The slot's size in bytes.
        size: u32,
        /// The map's size in bytes.
        map_size: usize,
    },
}

impl fmt::Display for BadKconfigValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadKconfigValue::ImpliesTristateOrChar { value } => write!(f, "value '{value}' implies tristate or char type"),
            BadKconfigValue::ImpliesBoolTristateOrChar { value } => write!(f, "value '{value}' implies bool, tristate, or char type"),
            BadKconfigValue::ImpliesCharArray { value } => write!(f, "value '{value}' implies char array type"),
            BadKconfigValue::InvalidString { value } => write!(f, "invalid string config '{value}'"),
            BadKconfigValue::NotAnInteger { value } => write!(f, "value '{value}' isn't a valid integer"),
            BadKconfigValue::ImpliesInteger { value } => write!(f, "value '{value}' implies integer type"),
            BadKconfigValue::ImpliesIntegerCharOrBool { value } => write!(f, "value '{value}' implies integer, char, or boolean type"),
            BadKconfigValue::NotBoolean { value } => write!(f, "value '{value}' isn't boolean compatible"),
            BadKconfigValue::TooWide { value, size } => write!(f, "value '{value}' doesn't fit in {size} bytes"),
            BadKconfigValue::IntegerSize { size } => write!(f, "unsupported integer size {size}"),
            BadKconfigValue::SlotOutsideMap { offset, size, map_size } => {
                write!(f, "slot [{offset}, +{size}) is outside the {map_size}-byte .kconfig map")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(e: ExternError, text: &str, kind: ErrorKind) {
        assert_eq!(e.to_string(), text);
        assert_eq!(e.kind(), kind);
        assert!(std::error::Error::source(&e).is_none());
    }

    #[test]
    fn malformed_declarations_keep_libbpf_wording() {
        let cases = [
            (Malformed::NoObjectBtf, "externs need the object's .BTF"),
            (Malformed::NoBtfEntry, "no BTF VAR or FUNC of that name (declare it __ksym or __kconfig)"),
            (Malformed::VarLinkage { id: 7, linkage: VarLinkage::Static }, "BTF VAR [7] has Static linkage, not extern"),
            (Malformed::FuncLinkage { id: 9, linkage: FuncLinkage::Global }, "BTF FUNC [9] has Global linkage, not extern"),
            (Malformed::NoDatasec { id: 3 }, "BTF [3] is in no DATASEC (declare it __ksym or __kconfig)"),
            (Malformed::UnknownSection { section: ".data".into() }, "unrecognized extern section '.data' (declare it __ksym or __kconfig)"),
            (Malformed::KconfigAlignment { align: 6 }, "kconfig value alignment 6 is not a power of two"),
            (Malformed::UnknownVirtual { name: "LINUX_FOO".into() }, "extern (kcfg) 'LINUX_FOO': unrecognized virtual extern"),
        ];
        for (m, text) in cases {
            check(ExternError::Declaration(m), text, ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn target_facts_ambiguity_and_bad_values_keep_libbpf_wording() {
        let unknown = |missing| ExternError::TargetUnknown { name: "x".into(), target: "t".into(), missing };
        check(
            unknown(TargetFact::Kallsyms),
            "extern (ksym) 'x': kernel symbol addresses (kallsyms) are unknown for target 't'",
            ErrorKind::NotFound,
        );
        check(
            unknown(TargetFact::KernelConfig),
            "extern (kcfg) 'x': the kernel configuration of target 't' is unknown",
            ErrorKind::NotFound,
        );
        check(unknown(TargetFact::KernelVersion), "extern (kcfg) 'x': failed to get the kernel version of target 't'", ErrorKind::NotFound);
        check(
            ExternError::Ambiguous { name: "s".into(), first: 0x10, second: 0x20 },
            "extern (ksym) 's': resolution is ambiguous: 0x10 or 0x20",
            ErrorKind::Incompatible,
        );
        let v = || "m".to_string();
        let cases = [
            (BadKconfigValue::ImpliesTristateOrChar { value: v() }, "value 'm' implies tristate or char type"),
            (BadKconfigValue::ImpliesBoolTristateOrChar { value: v() }, "value 'm' implies bool, tristate, or char type"),
            (BadKconfigValue::ImpliesCharArray { value: v() }, "value 'm' implies char array type"),
            (BadKconfigValue::InvalidString { value: v() }, "invalid string config 'm'"),
            (BadKconfigValue::NotAnInteger { value: v() }, "value 'm' isn't a valid integer"),
            (BadKconfigValue::ImpliesInteger { value: v() }, "value 'm' implies integer type"),
            (BadKconfigValue::ImpliesIntegerCharOrBool { value: 3 }, "value '3' implies integer, char, or boolean type"),
            (BadKconfigValue::NotBoolean { value: 2 }, "value '2' isn't boolean compatible"),
            (BadKconfigValue::TooWide { value: 256, size: 1 }, "value '256' doesn't fit in 1 bytes"),
            (BadKconfigValue::IntegerSize { size: 3 }, "unsupported integer size 3"),
            (BadKconfigValue::SlotOutsideMap { offset: 8, size: 4, map_size: 8 }, "slot [8, +4) is outside the 8-byte .kconfig map"),
        ];
        for (why, text) in cases {
            check(
                ExternError::BadValue { name: "CONFIG_X".into(), why },
                &format!("extern (kcfg) 'CONFIG_X': {text}"),
                ErrorKind::Incompatible,
            );
        }
    }

    #[test]
    fn unresolved_and_required_groups_keep_libbpf_wording() {
        let unresolved =
            |kind, unresolved| ExternError::Unresolved { name: "f".into(), kind, unresolved: Box::new(unresolved), reason: "why".into() };
        let incompatible = || Unresolved::Incompatible {
            owner: crate::target::BtfOwner::Vmlinux,
            kernel_type_id: 5,
            local: "int".into(),
            kernel: "long".into(),
        };
        check(
            unresolved(ExternKind::Kfunc, Unresolved::NotFound),
            "extern (func ksym) 'f': not found in kernel or module BTFs",
            ErrorKind::NotFound,
        );
        check(unresolved(ExternKind::Ksym, Unresolved::NotFound), "extern (var ksym) 'f': not found in kernel BTF", ErrorKind::NotFound);
        check(unresolved(ExternKind::Kfunc, incompatible()), "extern (func ksym) 'f': why", ErrorKind::Incompatible);
        check(unresolved(ExternKind::Ksym, incompatible()), "extern (var ksym) 'f': why", ErrorKind::Incompatible);
        check(unresolved(ExternKind::Kconfig, Unresolved::Missing), "extern 'f' (strong): not resolved: why", ErrorKind::NotFound);
        let group = |flavors| ExternError::RequiredGroup { group: "g".into(), target: "t".into(), flavors };
        check(group(vec![]), "required flavor group 'g': the object declares no extern of that essential name", ErrorKind::NotFound);
        let flavors = vec![
            FlavorFailure { name: "g___a".into(), reason: Some("no FUNC 'g'".into()) },
            FlavorFailure { name: "g___b".into(), reason: None },
        ];
        check(
            group(flavors),
            "required flavor group 'g': none of its 2 flavors resolved on t: 'g___a': no FUNC 'g'; 'g___b': not resolved",
            ErrorKind::NotFound,
        );
    }

    #[test]
    fn unsupported_kconfig_declarations_keep_their_wording() {
        let cases = [
            (UnsupportedKconfig::KconfigFunction, "extern function is unsupported under the .kconfig section".to_string()),
            (UnsupportedKconfig::KconfigSize { size: 1 << 33 }, format!("kconfig value size {} is unsupported", 1u64 << 33)),
            (
                UnsupportedKconfig::KconfigType,
                "the kconfig value's type is unsupported (want bool, char, tristate, char[N] or an integer)".to_string(),
            ),
            (
                UnsupportedKconfig::KconfigMapFull { size: 8, offset: 1048572, max: 1 << 20 },
                "a 8-byte value at offset 1048572 does not fit in the 1048576-byte .kconfig map bpfld allows".to_string(),
            ),
        ];
        for (u, text) in cases {
            check(ExternError::UnsupportedDeclaration(u), &text, ErrorKind::Unsupported);
        }
    }
}
