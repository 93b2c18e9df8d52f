//! Resolving externs against a [`Target`], as libbpf 1.7's
//! `bpf_object__resolve_externs` does, and reporting every outcome.
//!
//! - kfunc: the *essential* name (flavor stripped) is looked up as a FUNC in
//!   vmlinux BTF, then in each module BTF in order; the local FUNC_PROTO must
//!   be compatible with the kernel's (`bpf_core_types_are_compat`). A kfunc
//!   in a module gets an `fd_array` slot (from 1, in extern order).
//! - typed ksym: the full name is looked up as a VAR, vmlinux then modules;
//!   its type must be compatible with the local one.
//! - typeless ksym: the address comes from kallsyms; two addresses for one
//!   name is an error.
//! - kconfig: `CONFIG_*` from the target's `.config`, `LINUX_KERNEL_VERSION`,
//!   `LINUX_HAS_BPF_COOKIE`, `LINUX_HAS_SYSCALL_WRAPPER`.
//!
//! A weak extern that does not resolve is 0 (its kfunc calls are poisoned by
//! the plan); a strong one fails the load with libbpf's message. Unlike
//! libbpf, every outcome is kept with its reason, including the prototype a
//! weak flavor was incompatible with, and required flavor groups are
//! checked.

use bpfld_btf::resolve::skip_mods_and_typedefs;
use bpfld_btf::{c_decl, types_are_compat, Btf, Kind};

use super::collect::{Extern, ExternKind, KconfigSlot, KconfigType};
use super::error::{BadKconfigValue, ExternError, FlavorFailure, Malformed, TargetFact};
use crate::target::{BtfOwner, Target};

/// What an extern resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolved {
    /// A kfunc or typed ksym: its id in kernel BTF.
    Btf {
        /// vmlinux or the module whose BTF has it.
        owner: BtfOwner,
        /// The FUNC's or VAR's id in that BTF.
        btf_id: u32,
    },
    /// A typeless ksym's address.
    Address(u64),
    /// A kconfig value, rendered as the `.config` wrote it (or the virtual
    /// value); its bytes are in the `.kconfig` map.
    Kconfig(String),
}

/// Why a kfunc flavor or ksym was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unresolved {
    /// No FUNC/VAR of that name in vmlinux or any module.
    NotFound,
    /// Found, but its type is not compatible with the local declaration.
    Incompatible {
        /// vmlinux or the module whose BTF has it.
        owner: BtfOwner,
        /// Kernel BTF id of the FUNC's prototype or the VAR's type.
        kernel_type_id: u32,
        /// The local type, as C (`struct task_struct *(void *)`).
        local: String,
        /// The kernel's type, as C.
        kernel: String,
    },
    /// A typeless ksym missing from kallsyms, or a kconfig value missing
    /// from the `.config`.
    Missing,
    /// A weak typeless ksym on a target without kallsyms data (an offline
    /// kernel): the plan uses 0, the kernel itself may have the symbol.
    UnknownOffline,
}

/// The outcome for one extern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternOutcome {
    /// Index in [`crate::Object::externs`].
    pub index: usize,
    /// What it resolved to, `None` if it did not.
    pub resolved: Option<Resolved>,
    /// Set when `resolved` is `None`.
    pub unresolved: Option<Unresolved>,
    /// For a kfunc in a module: its `fd_array` slot.
    pub fd_slot: Option<u16>,
    /// A human-readable reason when unresolved (weak) or failing (strong).
    pub reason: Option<String>,
}

/// The externs of an object resolved against one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternResolution {
    /// One outcome per extern, in the object's order.
    pub outcomes: Vec<ExternOutcome>,
    /// `fd_array`: slot 0 unused, then the modules holding kfuncs (indexes
    /// into `Target::modules`) in the order first needed, then the modules
    /// holding typed ksym variables.
    pub fd_array_modules: Vec<usize>,
    /// The `.kconfig` map's contents.
    pub kconfig_data: Vec<u8>,
    /// Errors that fail the load (strong externs that did not resolve,
    /// malformed values, unmet required flavor groups), in libbpf's wording.
    pub errors: Vec<ExternError>,
}

impl ExternResolution {
    /// The fd_array slot of module `m`, if it has one.
    pub fn slot_of(&self, m: usize) -> Option<u16> {
        self.fd_array_modules.iter().position(|&x| x == m).map(|i| (i + 1) as u16)
    }
}

/// Groups of flavors of which at least one must resolve, given at load
/// time by essential name (`bpf_task_acquire`). Groups declared in the
/// source with `btf_decl_tag("bpfld:require_one:<group>")` are added to
/// these.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequiredGroups {
    /// The essential names, one group each.
    pub essential_names: Vec<String>,
}

/// Resolves `externs` against `target`. `kconfig_size` is the `.kconfig`
/// map's size.
pub fn resolve_externs(
    obj_btf: Option<&Btf>,
    externs: &[Extern],
    target: &Target,
    kconfig_size: u32,
    required: &RequiredGroups,
) -> ExternResolution {
    let mut res = ExternResolution {
        outcomes: Vec::with_capacity(externs.len()),
        fd_array_modules: Vec::new(),
        kconfig_data: vec![0; kconfig_size as usize],
        errors: Vec::new(),
    };
    let mut var_modules = Vec::new();
    for (index, ext) in externs.iter().enumerate() {
        let mut out = ExternOutcome { index, resolved: None, unresolved: None, fd_slot: None, reason: None };
        let result = match ext.kind {
            ExternKind::Kconfig => resolve_kconfig(ext, target, &mut res.kconfig_data),
            ExternKind::Kfunc | ExternKind::Ksym => match obj_btf {
                Some(btf) if ext.kind == ExternKind::Kfunc || ext.type_id != 0 => resolve_by_btf(btf, ext, target),
                _ => resolve_typeless(ext, target),
            },
        };
        match result {
            Ok(r) => {
                if let Resolved::Btf { owner: BtfOwner::Module(m), .. } = r {
                    if ext.kind == ExternKind::Kfunc {
                        if !res.fd_array_modules.contains(&m) {
                            res.fd_array_modules.push(m);
                        }
                    } else if !var_modules.contains(&m) {
                        var_modules.push(m);
                    }
                }
                out.resolved = Some(r);
            }
            Err(Failure::Weakly(u, reason)) if ext.weak => {
                out.unresolved = Some(u);
                out.reason = Some(reason);
            }
            Err(Failure::Weakly(u, reason)) => {
                res.errors.push(ExternError::Unresolved {
                    name: ext.name.clone(),
                    kind: ext.kind,
                    unresolved: Box::new(u.clone()),
                    reason: reason.clone(),
                });
                out.unresolved = Some(u);
                out.reason = Some(reason);
            }
            Err(Failure::Fatal(e)) => {
                out.reason = Some(e.to_string());
                res.errors.push(e);
            }
        }
        res.outcomes.push(out);
    }
    for m in var_modules {
        if !res.fd_array_modules.contains(&m) {
            res.fd_array_modules.push(m);
        }
    }
    for o in res.outcomes.iter_mut() {
        if let Some(Resolved::Btf { owner: BtfOwner::Module(m), .. }) = o.resolved {
            o.fd_slot = res.fd_array_modules.iter().position(|&x| x == m).map(|i| (i + 1) as u16);
        }
    }
    check_required_groups(externs, &res.outcomes, target, required, &mut res.errors);
    res
}

enum Failure {
    /// Not resolved; fatal only for a strong extern.
    Weakly(Unresolved, String),
    /// Fails the load whether weak or strong (a malformed value).
    Fatal(ExternError),
}

/// libbpf's `find_ksym_btf_id`: vmlinux first (the lowest id of that name
/// and kind), then each module's own types.
fn find_ksym(target: &Target, name: &str, kind: Kind) -> Option<(BtfOwner, u32)> {
    if let Some(id) = target.vmlinux.find_first(name, kind) {
        return Some((BtfOwner::Vmlinux, id));
    }
    target
        .searched_modules()
        .iter()
        .enumerate()
        .find_map(|(i, m)| m.btf.find_own(name, Some(kind)).first().map(|&id| (BtfOwner::Module(i), id)))
}

fn resolve_by_btf(btf: &Btf, ext: &Extern, target: &Target) -> Result<Resolved, Failure> {
    let is_func = ext.kind == ExternKind::Kfunc;
    let (lookup, kind) = if is_func { (ext.essential_name.as_str(), Kind::Func) } else { (ext.name.as_str(), Kind::Var) };
    let Some((owner, id)) = find_ksym(target, lookup, kind) else {
        let what = if is_func { "FUNC" } else { "VAR" };
        let reason = if lookup == ext.name {
            format!("no {what} '{lookup}' in vmlinux or module BTF")
        } else {
            format!("no {what} '{lookup}' (the essential name of '{}') in vmlinux or module BTF", ext.name)
        };
        return Err(Failure::Weakly(Unresolved::NotFound, reason));
    };
    let kbtf = target.btf(owner);
    let kt = kbtf
        .type_by_id(id)
        .map_err(|source| Failure::Fatal(ExternError::KernelBtf { what: format!("extern '{}': kernel BTF", ext.name), source }))?;
    let kernel_type = if is_func {
        kt.type_ref().unwrap_or(0)
    } else {
        skip_mods_and_typedefs(kbtf, kt.type_ref().unwrap_or(0)).map(|(i, _)| i).unwrap_or(0)
    };
    let compat = types_are_compat(btf, ext.type_id, kbtf, kernel_type).unwrap_or(false);
    if !compat {
        let local = c_decl(btf, ext.type_id);
        let kernel = c_decl(kbtf, kernel_type);
        let oname = target.owner_name(owner);
        let reason = if is_func {
            format!("func_proto [{}] incompatible with {oname} [{kernel_type}]: local '{local}', kernel '{kernel}'", ext.type_id)
        } else {
            format!("incompatible types, expected [{}] '{local}', but kernel has [{kernel_type}] '{kernel}' in {oname}", ext.type_id)
        };
        return Err(Failure::Weakly(Unresolved::Incompatible { owner, kernel_type_id: kernel_type, local, kernel }, reason));
    }
    Ok(Resolved::Btf { owner, btf_id: id })
}

fn resolve_typeless(ext: &Extern, target: &Target) -> Result<Resolved, Failure> {
    let Some(ks) = &target.kallsyms else {
        // A weak one can only fall back to 0: not a reason to refuse the load.
        if ext.weak {
            return Err(Failure::Weakly(
                Unresolved::UnknownOffline,
                format!("unknown offline: no kallsyms data for target '{}' (0 where the kernel lacks the symbol)", target.name),
            ));
        }
        return Err(Failure::Fatal(ExternError::TargetUnknown {
            name: ext.name.clone(),
            target: target.name.clone(),
            missing: TargetFact::Kallsyms,
        }));
    };
    match ks.addresses(&ext.name) {
        [] => Err(Failure::Weakly(Unresolved::Missing, format!("no symbol '{}' in kallsyms", ext.name))),
        [a] => Ok(Resolved::Address(*a)),
        [a, b, ..] => Err(Failure::Fatal(ExternError::Ambiguous { name: ext.name.clone(), first: *a, second: *b })),
    }
}

/// The value of a kconfig extern, written into `data` at its slot.
fn resolve_kconfig(ext: &Extern, target: &Target, data: &mut [u8]) -> Result<Resolved, Failure> {
    let slot = ext.kconfig.expect("kconfig externs have a slot");
    let bad = |why| Failure::Fatal(ExternError::BadValue { name: ext.name.clone(), why });
    let unknown = |missing| Failure::Fatal(ExternError::TargetUnknown { name: ext.name.clone(), target: target.name.clone(), missing });
    let range = slot.data_off as usize..slot.data_off as usize + slot.size as usize;
    let Some(dst) = data.get_mut(range) else {
        return Err(bad(BadKconfigValue::SlotOutsideMap { offset: slot.data_off, size: slot.size, map_size: data.len() }));
    };
    if ext.name.starts_with("CONFIG_") {
        let Some(config) = &target.kconfig else {
            return Err(unknown(TargetFact::KernelConfig));
        };
        let Some(value) = config.get(&ext.name) else {
            return Err(Failure::Weakly(Unresolved::Missing, format!("'{}' is not set in the kernel configuration", ext.name)));
        };
        encode_config_value(&slot, value, dst).map_err(bad)?;
        return Ok(Resolved::Kconfig(value.to_string()));
    }
    let value = match ext.name.as_str() {
        "LINUX_KERNEL_VERSION" => match target.overrides.get(&ext.name).copied().or(target.kernel_version.map(u64::from)) {
            Some(v) if v != 0 => v,
            _ => return Err(unknown(TargetFact::KernelVersion)),
        },
        "LINUX_HAS_BPF_COOKIE" => target.overrides.get(&ext.name).copied().unwrap_or_else(|| has_bpf_cookie(&target.vmlinux) as u64),
        "LINUX_HAS_SYSCALL_WRAPPER" => {
            target.overrides.get(&ext.name).copied().unwrap_or_else(|| has_syscall_wrapper(&target.vmlinux) as u64)
        }
        _ if ext.name.starts_with("LINUX_") && ext.weak => 0,
        _ => return Err(Failure::Fatal(ExternError::Declaration(Malformed::UnknownVirtual { name: ext.name.clone() }))),
    };
    encode_number(&slot, value, dst).map_err(bad)?;
    if ext.name == "LINUX_KERNEL_VERSION" {
        return Ok(Resolved::Kconfig(format!("{value} ({}.{}.{})", value >> 16, (value >> 8) & 0xff, value & 0xff)));
    }
    Ok(Resolved::Kconfig(value.to_string()))
}

/// Whether the kernel has the `bpf_get_attach_cookie` helper (Linux 5.15),
/// read from its BTF: the `BPF_FUNC_get_attach_cookie` enumerator of
/// `enum bpf_func_id`. libbpf probes by loading a program; the answer is
/// the same on kernels whose BTF lists the helper.
fn has_bpf_cookie(vmlinux: &Btf) -> bool {
    vmlinux
        .find("bpf_func_id", Some(Kind::Enum))
        .iter()
        .any(|&id| vmlinux.type_by_id(id).is_ok_and(|t| t.enumerators().any(|e| t.str(e.name_off) == Ok("BPF_FUNC_get_attach_cookie"))))
}

/// Whether syscalls go through `__x64_sys_*` wrappers (what libbpf probes
/// by opening a kprobe on `__x64_sys_bpf`), read from the BTF FUNC of that
/// name.
fn has_syscall_wrapper(vmlinux: &Btf) -> bool {
    vmlinux.find_first("__x64_sys_bpf", Kind::Func).is_some()
}

/// Encodes a `.config` value into a kconfig slot (libbpf's
/// `bpf_object__process_kconfig_line` rules).
fn encode_config_value(slot: &KconfigSlot, value: &str, dst: &mut [u8]) -> Result<(), BadKconfigValue> {
    match value.as_bytes().first() {
        Some(&c @ (b'y' | b'n' | b'm')) if value.len() == 1 => match slot.ty {
            KconfigType::Bool if c == b'm' => Err(BadKconfigValue::ImpliesTristateOrChar { value: value.into() }),
            KconfigType::Bool => {
                dst[0] = (c == b'y') as u8;
                Ok(())
            }
            KconfigType::Tristate => {
                // enum libbpf_tristate { TRI_NO = 0, TRI_YES = 1, TRI_MODULE = 2 }
                let v: u32 = match c {
                    b'y' => 1,
                    b'm' => 2,
                    _ => 0,
                };
                dst[..4].copy_from_slice(&v.to_ne_bytes());
                Ok(())
            }
            KconfigType::Char => {
                dst[0] = c;
                Ok(())
            }
            _ => Err(BadKconfigValue::ImpliesBoolTristateOrChar { value: value.into() }),
        },
        Some(b'"') => {
            if slot.ty != KconfigType::CharArray {
                return Err(BadKconfigValue::ImpliesCharArray { value: value.into() });
            }
            if value.len() < 2 || !value.ends_with('"') {
                return Err(BadKconfigValue::InvalidString { value: value.into() });
            }
            let s = &value.as_bytes()[1..value.len() - 1];
            // libbpf truncates (with a warning) to fit the array and its NUL.
            let n = s.len().min(dst.len() - 1);
            dst[..n].copy_from_slice(&s[..n]);
            dst[n] = 0;
            Ok(())
        }
        _ => {
            let num = parse_c_integer(value).ok_or_else(|| BadKconfigValue::NotAnInteger { value: value.into() })?;
            if !matches!(slot.ty, KconfigType::Int | KconfigType::Char) {
                return Err(BadKconfigValue::ImpliesInteger { value: value.into() });
            }
            encode_number(slot, num, dst)
        }
    }
}

/// `strtoull(value, .., 0)`: decimal, `0x` hex or leading-0 octal, with an
/// optional sign (a negative value wraps as in C).
fn parse_c_integer(value: &str) -> Option<u64> {
    let (neg, v) = match value.as_bytes().first()? {
        b'-' => (true, &value[1..]),
        b'+' => (false, &value[1..]),
        _ => (false, value),
    };
    let n = if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()?
    } else if v.len() > 1 && v.starts_with('0') {
        u64::from_str_radix(&v[1..], 8).ok()?
    } else {
        v.parse::<u64>().ok()?
    };
    Some(if neg { n.wrapping_neg() } else { n })
}

/// libbpf's `set_kcfg_value_num`: the value must fit the slot's integer
/// without loss (signed or unsigned as declared).
fn encode_number(slot: &KconfigSlot, value: u64, dst: &mut [u8]) -> Result<(), BadKconfigValue> {
    if !matches!(slot.ty, KconfigType::Int | KconfigType::Char | KconfigType::Bool) {
        return Err(BadKconfigValue::ImpliesIntegerCharOrBool { value });
    }
    if slot.ty == KconfigType::Bool && value > 1 {
        return Err(BadKconfigValue::NotBoolean { value });
    }
    let bits = slot.size * 8;
    let fits = bits >= 64 || if slot.signed { value.wrapping_add(1u64 << (bits - 1)) < (1u64 << bits) } else { value >> bits == 0 };
    if !fits {
        return Err(BadKconfigValue::TooWide { value, size: slot.size });
    }
    match slot.size {
        1 | 2 | 4 | 8 => {
            dst.copy_from_slice(&value.to_ne_bytes()[..slot.size as usize]);
            Ok(())
        }
        size => Err(BadKconfigValue::IntegerSize { size }),
    }
}

/// Required flavor groups: among the externs of a group, at least one must
/// resolve. A group is either named by a decl tag in the source or given
/// as an essential name at load time.
fn check_required_groups(
    externs: &[Extern],
    outcomes: &[ExternOutcome],
    target: &Target,
    required: &RequiredGroups,
    errors: &mut Vec<ExternError>,
) {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (i, e) in externs.iter().enumerate() {
        for g in &e.require_groups {
            match groups.iter_mut().find(|(n, _)| n == g) {
                Some((_, v)) => v.push(i),
                None => groups.push((g.clone(), vec![i])),
            }
        }
    }
    for name in &required.essential_names {
        let members: Vec<usize> = externs.iter().enumerate().filter(|(_, e)| &e.essential_name == name).map(|(i, _)| i).collect();
        groups.push((name.clone(), members));
    }
    for (group, members) in groups {
        if members.iter().any(|&i| outcomes[i].resolved.is_some()) {
            continue;
        }
        let flavors =
            members.iter().map(|&i| FlavorFailure { name: externs[i].name.clone(), reason: outcomes[i].reason.clone() }).collect();
        errors.push(ExternError::RequiredGroup { group, target: target.name.clone(), flavors });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(ty: KconfigType, size: u32, signed: bool) -> KconfigSlot {
        KconfigSlot { ty, size, align: size, signed, data_off: 0 }
    }

    #[test]
    fn numbers_must_fit() {
        let mut b = [0u8; 1];
        assert!(encode_number(&slot(KconfigType::Int, 1, false), 255, &mut b).is_ok());
        assert_eq!(b, [255]);
        let e = encode_number(&slot(KconfigType::Int, 1, false), 256, &mut b).unwrap_err();
        assert_eq!(e, BadKconfigValue::TooWide { value: 256, size: 1 });
        assert!(encode_number(&slot(KconfigType::Int, 1, true), (-128i64) as u64, &mut b).is_ok());
        assert!(encode_number(&slot(KconfigType::Int, 1, true), 128, &mut b).is_err());
        assert_eq!(encode_number(&slot(KconfigType::Bool, 1, false), 2, &mut b), Err(BadKconfigValue::NotBoolean { value: 2 }));
        let mut b8 = [0u8; 8];
        assert!(encode_number(&slot(KconfigType::Int, 8, false), u64::MAX, &mut b8).is_ok());
    }

    #[test]
    fn config_values() {
        let mut b = [0u8; 4];
        encode_config_value(&slot(KconfigType::Tristate, 4, false), "m", &mut b).unwrap();
        assert_eq!(u32::from_ne_bytes(b), 2);
        let mut c = [0u8; 1];
        assert_eq!(
            encode_config_value(&slot(KconfigType::Bool, 1, false), "m", &mut c),
            Err(BadKconfigValue::ImpliesTristateOrChar { value: "m".into() })
        );
        encode_config_value(&slot(KconfigType::Char, 1, false), "y", &mut c).unwrap();
        assert_eq!(c, [b'y']);
        let mut s = [0xffu8; 4];
        encode_config_value(&slot(KconfigType::CharArray, 4, false), "\"abcdef\"", &mut s).unwrap();
        assert_eq!(&s, b"abc\0");
        let mut i = [0u8; 4];
        encode_config_value(&slot(KconfigType::Int, 4, false), "0x10", &mut i).unwrap();
        assert_eq!(u32::from_ne_bytes(i), 16);
        encode_config_value(&slot(KconfigType::Int, 4, true), "-5", &mut i).unwrap();
        assert_eq!(i32::from_ne_bytes(i), -5);
        assert_eq!(
            encode_config_value(&slot(KconfigType::Int, 4, false), "12z", &mut i),
            Err(BadKconfigValue::NotAnInteger { value: "12z".into() })
        );
        assert!(encode_config_value(&slot(KconfigType::Int, 4, false), "\"s\"", &mut i).is_err());
        assert_eq!(parse_c_integer("017"), Some(15));
    }
}
