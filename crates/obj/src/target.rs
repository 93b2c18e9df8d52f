//! The kernel a plan is made for: its BTF (vmlinux and modules), its
//! configuration and its symbol addresses, as plain data.
//!
//! A target is built either from the running kernel (by the `bpfld` crate,
//! which alone reads `/sys`, `/proc` and calls `bpf()`) or from files (a
//! kernel release directory, for `bpfld plan --btf` and `bpfld check`).
//! Everything in this crate resolves against a `Target` and never looks at
//! the machine it runs on, so one code path serves both.

use std::collections::HashMap;
use std::sync::OnceLock;

use bpfld_btf::Btf;

use crate::features::{KernelEnums, KernelFeatures};
use crate::kallsyms::Kallsyms;
use crate::kconfig::Kconfig;

/// `KERNEL_VERSION(a, b, c)`, the kernel's encoding of a version (what
/// `LINUX_KERNEL_VERSION` holds), with the sublevel capped at 255 as the
/// kernel's macro and libbpf cap it.
pub fn kernel_version(a: u32, b: u32, c: u32) -> u32 {
    (a << 16) + (b << 8) + c.min(255)
}

/// A module's split BTF on the target's vmlinux BTF.
#[derive(Debug, Clone)]
pub struct ModuleBtf {
    /// The module's name (`nf_conntrack`).
    pub name: String,
    /// Its BTF, split on the target's vmlinux BTF.
    pub btf: Btf,
}

/// Where a kernel BTF id lives: vmlinux or one of [`Target::modules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BtfOwner {
    /// The kernel's own BTF.
    Vmlinux,
    /// Index into [`Target::modules`].
    Module(usize),
}

/// A kernel to resolve externs and CO-RE relocations against.
#[derive(Debug, Clone)]
pub struct Target {
    /// How the target is named in reports (`6.1.0-56-amd64`,
    /// `running kernel 6.18.0`).
    pub name: String,
    /// The kernel's own BTF (or a targeted view of it).
    pub vmlinux: Btf,
    /// Module BTFs, in the order their fds would be given (for the running
    /// kernel: the order of their kernel BTF ids).
    pub modules: Vec<ModuleBtf>,
    /// The kernel's `.config`, for `__kconfig` externs; `None` if unknown.
    pub kconfig: Option<Kconfig>,
    /// Kernel symbol addresses, for typeless `__ksym` externs.
    pub kallsyms: Option<Kallsyms>,
    /// `LINUX_KERNEL_VERSION` (`KERNEL_VERSION(a, b, c)`), if known.
    pub kernel_version: Option<u32>,
    /// Facts the target cannot derive from the files above, keyed by name
    /// (e.g. `LINUX_HAS_SYSCALL_WRAPPER` probed on the running kernel).
    pub overrides: HashMap<String, u64>,
    /// Whether the verifier accepts an `ld_imm64` of a kfunc's BTF id (what
    /// `bpf_ksym_exists()` of a kfunc compiles to): Linux 6.4 and later.
    /// `None` decides by [`Target::kernel_version`] (unknown: yes).
    pub kfunc_ldimm64: Option<bool>,
    /// What the kernel supports: probed for the running kernel; `None`
    /// derives it from [`Target::vmlinux`] (see [`KernelFeatures::from_btf`]).
    pub features: Option<KernelFeatures>,
    /// The derived features, computed once.
    derived_features: OnceLock<KernelFeatures>,
    /// Whether the plan checks the object's map, program and attach types
    /// and helpers against the target's BTF enums ([`Target::enums`]) and
    /// refuses what the kernel lacks. On by default (offline targets); the
    /// running kernel is asked instead, and its refusals explained.
    pub predict_missing: bool,
    enums: OnceLock<KernelEnums>,
    /// Set once a lookup went on to [`Target::modules`] (see
    /// [`Target::searched_modules`]).
    modules_searched: OnceLock<()>,
    /// BTF that CO-RE relocations use instead of [`Target::vmlinux`]
    /// (libbpf's `btf_custom_path`, e.g. a reduced BTF made by `bpfld btf
    /// min` for a kernel without BTF): candidates come from it alone, never
    /// from modules; externs and attach targets still use `vmlinux`.
    pub core_btf: Option<Btf>,
}

impl Target {
    /// A target with only vmlinux BTF.
    pub fn new(name: impl Into<String>, vmlinux: Btf) -> Target {
        Target {
            name: name.into(),
            vmlinux,
            modules: Vec::new(),
            kconfig: None,
            kallsyms: None,
            kernel_version: None,
            overrides: HashMap::new(),
            kfunc_ldimm64: None,
            features: None,
            derived_features: OnceLock::new(),
            predict_missing: true,
            core_btf: None,
            enums: OnceLock::new(),
            modules_searched: OnceLock::new(),
        }
    }

    /// What the kernel supports: [`Target::features`] if set (probed),
    /// else derived offline from its BTF and version, less what its
    /// `.config` rules out (once).
    pub fn features(&self) -> KernelFeatures {
        match self.features {
            Some(f) => f,
            None => *self.derived_features.get_or_init(|| {
                let f = KernelFeatures::from_btf_enums(&self.vmlinux, self.enums(), self.kernel_version);
                self.kconfig.as_ref().map_or(f, |k| f.limited_by_config(k))
            }),
        }
    }

    /// The uapi enums of the target's BTF (read once).
    pub fn enums(&self) -> &KernelEnums {
        self.enums.get_or_init(|| KernelEnums::from_btf(&self.vmlinux))
    }

    /// The kernel's release (`5.10`) if its version is known.
    pub fn release(&self) -> Option<bpfld_asm::LinuxVersion> {
        self.kernel_version.map(bpfld_asm::LinuxVersion::from_code)
    }

    /// See [`Target::kfunc_ldimm64`]: the verifier learned to take a
    /// kfunc's BTF id in an `ld_imm64` in Linux 6.4; before that it refuses
    /// it with "pseudo btf_id N in ldimm64 isn't KIND_VAR".
    pub fn accepts_kfunc_ldimm64(&self) -> bool {
        self.kfunc_ldimm64.unwrap_or_else(|| self.kernel_version.is_none_or(|v| v >= kernel_version(6, 4, 0)))
    }

    /// The module BTFs, for a lookup that goes on to them (a name not in
    /// vmlinux, or a named module), which is recorded: a plan during which
    /// no lookup called this is the same whatever the modules are, so a
    /// check of many kernels reads module BTF only where a plan asked for
    /// it ([`Target::modules_were_searched`]).
    pub fn searched_modules(&self) -> &[ModuleBtf] {
        let _ = self.modules_searched.set(());
        &self.modules
    }

    /// Whether any lookup since the target was made (or since
    /// [`Target::forget_module_searches`]) went on to the modules.
    pub fn modules_were_searched(&self) -> bool {
        self.modules_searched.get().is_some()
    }

    /// Clears [`Target::modules_were_searched`].
    pub fn forget_module_searches(&mut self) {
        self.modules_searched = OnceLock::new();
    }

    /// The BTF holding ids of `owner`.
    pub fn btf(&self, owner: BtfOwner) -> &Btf {
        match owner {
            BtfOwner::Vmlinux => &self.vmlinux,
            BtfOwner::Module(i) => &self.modules[i].btf,
        }
    }

    /// The BTF CO-RE relocations read for `owner`: [`Target::core_btf`]
    /// for vmlinux when it is set.
    pub fn core_btf_of(&self, owner: BtfOwner) -> &Btf {
        match (owner, &self.core_btf) {
            (BtfOwner::Vmlinux, Some(b)) => b,
            _ => self.btf(owner),
        }
    }

    /// `vmlinux` or the module's name.
    pub fn owner_name(&self, owner: BtfOwner) -> &str {
        match owner {
            BtfOwner::Vmlinux => "vmlinux",
            BtfOwner::Module(i) => &self.modules[i].name,
        }
    }

    /// Every BTF to search, vmlinux first then modules in order, as libbpf
    /// searches them.
    pub fn btfs(&self) -> impl Iterator<Item = (BtfOwner, &Btf)> {
        std::iter::once((BtfOwner::Vmlinux, &self.vmlinux))
            .chain(self.searched_modules().iter().enumerate().map(|(i, m)| (BtfOwner::Module(i), &m.btf)))
    }
}
