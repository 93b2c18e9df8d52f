//! The names planning an object may look up in a target's BTF: what a
//! targeted BTF view ([`bpfld_btf::WantedNames`]) must be parsed for so
//! that a plan against it is the plan against the full BTF. A name missed
//! here still resolves (the view falls back to its full index, slower) and
//! is counted by [`bpfld_btf::Btf::fallback_lookups`], which the tests
//! keep at 0.

use bpfld_btf::{essential_name, WantedNames};

use crate::externs::ExternKind;
use crate::object::Object;
use crate::struct_ops::VALUE_TYPE_PREFIX;

/// Names looked up whatever the object: the virtual kconfig externs
/// (`LINUX_HAS_BPF_COOKIE`, `LINUX_HAS_SYSCALL_WRAPPER`), struct_ops links,
/// and what [`crate::features::KernelFeatures::from_btf`] reads.
const ALWAYS: &[&str] = &[
    "bpf_func_id",
    "__x64_sys_bpf",
    "__x64_sys_uprobe",
    "bpf_struct_ops_link",
    "bpf_prog_type",
    "bpf_map_type",
    "bpf_attach_type",
    "bpf_cmd",
    "bpf_func_info_aux",
    "bpf_map_ops",
    "bpf_btf_info",
    "bpf_kfunc_desc",
];

/// Prefixes of the BTF types a BTF-attached program's target is found by
/// (`btf_trace_<tp>`, `bpf_lsm_<hook>`, `bpf_iter_<name>`, the FUNC itself).
const ATTACH_PREFIXES: &[&str] = &["", "btf_trace_", "bpf_lsm_", "bpf_iter_"];

/// Every name [`crate::plan::plan`] may look up in the target's BTF for
/// `obj`: extern names, every named type of the object's BTF (CO-RE
/// relocations start from them, struct_ops maps are typed by them), the
/// struct_ops value types, attach targets under each of their prefixes.
pub fn target_names(obj: &Object) -> WantedNames {
    let mut w = WantedNames::new();
    w.extend(ALWAYS.iter().copied());
    for e in &obj.externs {
        w.add(&e.name);
    }
    if let Some(btf) = &obj.btf {
        for t in btf.own_types() {
            if let Ok(name) = t.name() {
                w.add(name);
            }
        }
    }
    for st in &obj.struct_ops {
        let tname = essential_name(&st.type_name);
        w.add(tname);
        w.add(&format!("{VALUE_TYPE_PREFIX}{tname}"));
    }
    for p in &obj.programs {
        let Some(target) = p.def.as_ref().and_then(|d| d.attach_target()) else { continue };
        let func = target.split_once(':').map_or(target, |(_, f)| f);
        for prefix in ATTACH_PREFIXES {
            w.add(&format!("{prefix}{func}"));
        }
    }
    w
}

/// The `.config` options planning `obj` reads: its `CONFIG_*` externs.
pub fn config_names(obj: &Object) -> Vec<String> {
    obj.externs.iter().filter(|e| e.kind == ExternKind::Kconfig && e.name.starts_with("CONFIG_")).map(|e| e.name.clone()).collect()
}
