//! A plan adapted to what the kernel supports ([`KernelFeatures`]), as
//! libbpf 1.7 adapts an object before loading it, and what the kernel
//! lacks entirely ([`MissingFeature`]: a map, program or attach type, a
//! helper, kfunc calls), named with the release that brought it.
//!
//! The adaptations (libbpf's functions in parentheses):
//! - `__arg_ctx` arguments of global subprograms typed as the program's
//!   context struct (`bpf_program_fixup_func_info`, see [`crate::arg_ctx`]);
//! - the object's BTF sanitized kind by kind (`bpf_object__sanitize_btf`,
//!   see [`crate::btf_sanitize`]);
//! - `bpf_probe_read_{kernel,user}[_str]` calls become
//!   `bpf_probe_read[_str]` (`bpf_object__sanitize_prog`);
//! - global data maps lose `BPF_F_MMAPABLE` without array mmap
//!   (`bpf_object__sanitize_maps`);
//! - no `expected_attach_type` where the kernel has no such attribute
//!   (`libbpf_prepare_prog_load`).
//!
//! What the loader itself decides from [`LoadPlan::features`]: no program
//! or map names, no func/line info without BTF FUNC, no `.rodata` binding
//! without `BPF_PROG_BIND_MAP`, RLIMIT_MEMLOCK raised without memcg
//! accounting.

use std::fmt;

use bpfld_asm::since::{attach_type_since, helper, helper_name, helper_since, map_type_since, prog_type_since};
use bpfld_asm::types::{map_flags, prog_flags, AttachType, MapType, ProgType, ProgType as pt};
use bpfld_asm::{insn::pseudo, LinuxVersion};
use bpfld_btf::Btf;

use crate::btf_fixup::BtfFixError;
use crate::features::{Feature, KernelEnums, KernelFeatures};
use crate::map::MapSpec;
use crate::plan::{LoadPlan, ProgramPlan};

/// Who needs the missing thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A map, by its name in the object.
    Map(String),
    /// A program, by its name.
    Program(String),
}

/// What the kernel lacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needed {
    /// A map type.
    MapType(MapType),
    /// A program type.
    ProgType(ProgType),
    /// An attach type.
    AttachType(AttachType),
    /// A helper, by its `enum bpf_func_id` value.
    Helper(u32),
    /// Calls of kernel functions (`BPF_PSEUDO_KFUNC_CALL`).
    KfuncCalls,
    /// A `prog_flags` bit (`BPF_F_SLEEPABLE`, `BPF_F_XDP_HAS_FRAGS`).
    ProgFlag(u32),
}

impl Needed {
    /// The release that brought it, if known.
    pub fn since(self) -> Option<LinuxVersion> {
        match self {
            Needed::MapType(t) => map_type_since(t),
            Needed::ProgType(t) => prog_type_since(t),
            Needed::AttachType(t) => attach_type_since(t),
            Needed::Helper(id) => helper_since(id),
            Needed::KfuncCalls => Some(Feature::KfuncCall.since()),
            Needed::ProgFlag(prog_flags::SLEEPABLE) => Some(LinuxVersion::new(5, 10)),
            Needed::ProgFlag(prog_flags::XDP_HAS_FRAGS) => Some(LinuxVersion::new(5, 18)),
            Needed::ProgFlag(_) => None,
        }
    }
}

impl fmt::Display for Needed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (prefix, name, what, v) = match *self {
            Needed::MapType(t) => ("BPF_MAP_TYPE_", t.name(), "map type", t.raw()),
            Needed::ProgType(t) => ("BPF_PROG_TYPE_", t.name(), "program type", t.raw()),
            Needed::AttachType(t) => ("attach type BPF_", t.name(), "attach type", t.raw()),
            Needed::Helper(id) => ("helper bpf_", helper_name(id), "helper", id),
            Needed::KfuncCalls => return f.write_str("calling kernel functions (kfuncs)"),
            Needed::ProgFlag(prog_flags::SLEEPABLE) => return f.write_str("BPF_F_SLEEPABLE (a sleepable program)"),
            Needed::ProgFlag(prog_flags::XDP_HAS_FRAGS) => return f.write_str("BPF_F_XDP_HAS_FRAGS (an xdp.frags program)"),
            Needed::ProgFlag(flag) => ("", None, "program flag", flag),
        };
        match name {
            Some(n) if what == "helper" => write!(f, "{prefix}{n}()"),
            Some(n) => write!(f, "{prefix}{n}"),
            None => write!(f, "{what} {v}"),
        }
    }
}

/// A map, program or attach type, helper or kfunc call that the kernel
/// does not have: `map 'events': BPF_MAP_TYPE_RINGBUF needs Linux 5.8; this
/// kernel is 5.4`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingFeature {
    /// The map or program that needs it.
    pub subject: Subject,
    /// What the kernel lacks.
    pub needed: Needed,
    /// The kernel's release, if known.
    pub kernel: Option<LinuxVersion>,
}

impl MissingFeature {
    /// The release that brought what is missing, if known.
    pub fn needs(&self) -> Option<LinuxVersion> {
        self.needed.since()
    }
}

impl MissingFeature {
    /// The sentence without the map or program it is about (`BPF_MAP_TYPE_RINGBUF
    /// needs Linux 5.8; this kernel is 5.4`).
    pub fn reason(&self) -> String {
        let verb = if self.needed == Needed::KfuncCalls { "need" } else { "needs" };
        match (self.needs(), self.kernel) {
            (Some(v), Some(k)) => format!("{} {verb} Linux {v}; this kernel is {k}", self.needed),
            (Some(v), None) => format!("{} {verb} Linux {v}; this kernel does not have it", self.needed),
            (None, Some(k)) => format!("{} is not supported by this kernel ({k})", self.needed),
            (None, None) => format!("{} is not supported by this kernel", self.needed),
        }
    }
}

impl fmt::Display for MissingFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.subject {
            Subject::Map(m) => write!(f, "map '{m}': {}", self.reason()),
            Subject::Program(p) => write!(f, "program '{p}': {}", self.reason()),
        }
    }
}

impl std::error::Error for MissingFeature {}

/// Applies the adaptations of this module for `features` to `plan`.
pub fn adapt(plan: &mut LoadPlan, features: &KernelFeatures) -> Result<(), BtfFixError> {
    plan.features = *features;
    if !features.arg_ctx_tag {
        crate::arg_ctx::fixup_arg_ctx(plan)?;
    }
    if let Some(raw) = plan.btf.as_ref().filter(|_| features.btf_needs_sanitizing()) {
        let btf = Btf::from_vec(raw.clone()).map_err(|source| BtfFixError::Btf { what: "object BTF", source })?;
        if let Some(sanitized) = crate::btf_sanitize::sanitize_btf(&btf, features)? {
            plan.btf = Some(sanitized);
        }
    }
    if !features.probe_read_kernel {
        plan.programs.iter_mut().for_each(use_old_probe_read);
    }
    if !features.array_mmap {
        for m in plan.maps.iter_mut().filter(|m| m.origin.is_global_data()) {
            m.map_flags &= !map_flags::MMAPABLE;
        }
    }
    if !features.exp_attach_type {
        plan.programs.iter_mut().for_each(|p| p.expected_attach_type = AttachType::UNSET);
    }
    Ok(())
}

/// `bpf_probe_read_{kernel,user}[_str]` become `bpf_probe_read[_str]`.
fn use_old_probe_read(p: &mut ProgramPlan) {
    for insn in p.insns.iter_mut().filter(|i| i.is_helper_call()) {
        match insn.imm() {
            helper::PROBE_READ_KERNEL | helper::PROBE_READ_USER => insn.set_imm(helper::PROBE_READ),
            helper::PROBE_READ_KERNEL_STR | helper::PROBE_READ_USER_STR => insn.set_imm(helper::PROBE_READ_STR),
            _ => {}
        }
    }
}

/// Whether the kernel refuses a program of this type at load when it does
/// not know its expected attach type (`bpf_prog_load_check_attach`); the
/// others take any value then and fail only when attached (an XDP program
/// with `BPF_XDP` loads on 5.4, a kprobe with `BPF_TRACE_UPROBE_MULTI` on
/// 5.10).
fn checks_attach_type_at_load(prog_type: ProgType) -> bool {
    matches!(
        prog_type,
        pt::CGROUP_SOCK
            | pt::CGROUP_SOCK_ADDR
            | pt::CGROUP_SKB
            | pt::CGROUP_SOCKOPT
            | pt::SK_LOOKUP
            | pt::TRACING
            | pt::LSM
            | pt::NETFILTER
    )
}

/// What a kernel knows, to check a plan against.
pub struct KernelKnows<'a> {
    /// The enumerators of its BTF (map, program and attach types, helpers).
    pub enums: &'a KernelEnums,
    /// Its features, probed or derived.
    pub features: &'a KernelFeatures,
    /// Its release, if known (for "this kernel is X" in messages).
    pub release: Option<LinuxVersion>,
}

impl KernelKnows<'_> {
    fn missing(&self, subject: Subject, needed: Needed) -> MissingFeature {
        MissingFeature { subject, needed, kernel: self.release }
    }

    /// Whether the kernel's uapi enums name it (an unknown number passes:
    /// it may be newer than this table, and the kernel will say).
    fn knows(&self, needed: Needed) -> bool {
        let (prefix, name) = match needed {
            Needed::MapType(t) => ("BPF_MAP_TYPE_", t.name()),
            Needed::ProgType(t) => ("BPF_PROG_TYPE_", t.name()),
            Needed::AttachType(t) => ("BPF_", t.name()),
            Needed::Helper(id) => ("BPF_FUNC_", helper_name(id)),
            Needed::KfuncCalls => return self.features.kfunc_call,
            // Flags are no enum: the release tells.
            Needed::ProgFlag(_) => return needed.since().zip(self.release).is_none_or(|(since, kernel)| kernel >= since),
        };
        // Kernels number these in order: a BTF without the enum (none at
        // all) is no evidence.
        name.is_none_or(|n| self.enums.is_empty() || self.enums.knows(prefix, n))
    }

    /// What map `spec` (or its inner map) needs that the kernel lacks.
    pub fn map(&self, spec: &MapSpec) -> Option<MissingFeature> {
        let inner = spec.inner.as_deref().map(|i| i.map_type);
        [Some(spec.map_type), inner]
            .into_iter()
            .flatten()
            .map(Needed::MapType)
            .find(|&n| !self.knows(n))
            .map(|n| self.missing(Subject::Map(spec.real_name.clone()), n))
    }

    /// What program `p` needs that the kernel lacks: its type, its attach
    /// type, a helper it calls, kfunc calls.
    pub fn program(&self, p: &ProgramPlan) -> Option<MissingFeature> {
        let subject = || Subject::Program(p.name.clone());
        if p.prog_type != ProgType::UNSPEC && !self.knows(Needed::ProgType(p.prog_type)) {
            return Some(self.missing(subject(), Needed::ProgType(p.prog_type)));
        }
        if checks_attach_type_at_load(p.prog_type) && !self.knows(Needed::AttachType(p.expected_attach_type)) {
            return Some(self.missing(subject(), Needed::AttachType(p.expected_attach_type)));
        }
        for flag in [prog_flags::SLEEPABLE, prog_flags::XDP_HAS_FRAGS] {
            if p.prog_flags & flag != 0 && !self.knows(Needed::ProgFlag(flag)) {
                return Some(self.missing(subject(), Needed::ProgFlag(flag)));
            }
        }
        for insn in p.insns.iter().filter(|i| i.is_call()) {
            let needed = match insn.src_reg() {
                0 => Needed::Helper(insn.imm() as u32),
                pseudo::KFUNC_CALL => Needed::KfuncCalls,
                _ => continue,
            };
            if !self.knows(needed) {
                return Some(self.missing(subject(), needed));
            }
        }
        None
    }

    /// Every map and program of `plan` the kernel cannot take, in the
    /// plan's order (maps first: they are created first).
    pub fn plan(&self, plan: &LoadPlan) -> Vec<MissingFeature> {
        let maps = plan.maps.iter().filter_map(|m| self.map(m));
        let programs = plan.programs.iter().filter(|p| p.autoload).filter_map(|p| self.program(p));
        maps.chain(programs).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        let m = MissingFeature {
            subject: Subject::Map("events".into()),
            needed: Needed::MapType(bpfld_asm::types::MapType::RINGBUF),
            kernel: Some(LinuxVersion::new(5, 4)),
        };
        assert_eq!(m.to_string(), "map 'events': BPF_MAP_TYPE_RINGBUF needs Linux 5.8; this kernel is 5.4");
        let m = MissingFeature {
            subject: Subject::Program("cc_init".into()),
            needed: Needed::KfuncCalls,
            kernel: Some(LinuxVersion::new(5, 10)),
        };
        assert_eq!(m.to_string(), "program 'cc_init': calling kernel functions (kfuncs) need Linux 5.13; this kernel is 5.10");
        let m = MissingFeature {
            subject: Subject::Program("frags".into()),
            needed: Needed::ProgFlag(prog_flags::XDP_HAS_FRAGS),
            kernel: Some(LinuxVersion::new(5, 10)),
        };
        assert_eq!(m.to_string(), "program 'frags': BPF_F_XDP_HAS_FRAGS (an xdp.frags program) needs Linux 5.18; this kernel is 5.10");
        let m = MissingFeature { subject: Subject::Program("p".into()), needed: Needed::Helper(130), kernel: None };
        assert_eq!(m.to_string(), "program 'p': helper bpf_ringbuf_output() needs Linux 5.8; this kernel does not have it");
    }
}
