//! `bpfld btf min`: a kernel's vmlinux BTF reduced to what some objects'
//! CO-RE relocations and externs need, as `bpftool gen min_core_btf` does,
//! so that kernels built without BTF can be given a few KB of it
//! (`bpfld load --btf`, libbpf's `btf_custom_path`).
//!
//! Kept: every type a plan of the objects may look up by name (the names
//! of a targeted view, see [`crate::check::target_needs`]) except the
//! `bpf_kfunc` tags, and what those types reach, structs and unions with
//! only their anonymous members and the members named like a member of
//! one of the objects' own structs (struct_ops structs whole). A plan made
//! against the result is the plan made against the whole BTF, kernel type
//! ids renumbered (the test compares them through the id map).

use std::collections::HashSet;
use std::path::Path;

use bpfld_btf::min::{minimize, MinBtf, MinSpec};
use bpfld_btf::{essential_name, Btf, Kind};
use bpfld_obj::struct_ops::VALUE_TYPE_PREFIX;
use bpfld_obj::Object;

use crate::check::target_needs;
use crate::release_dir::{map_file, TargetLoadError};

/// What to keep of `btf` (a targeted view for the objects) for `objects`.
pub fn min_spec(objects: &[Object], btf: &Btf) -> MinSpec {
    let roots: Vec<u32> =
        btf.targeted_type_ids().into_iter().filter(|&id| btf.type_by_id(id).is_ok_and(|t| t.kind() != Kind::DeclTag)).collect();
    let mut member_names = HashSet::new();
    let mut whole = HashSet::new();
    for obj in objects {
        if let Some(local) = &obj.btf {
            for t in local.own_types().filter(|t| t.kind().is_composite()) {
                for m in t.members() {
                    if let Ok(n) = t.str(m.name_off) {
                        member_names.insert(n.to_string());
                    }
                }
            }
        }
        for st in &obj.struct_ops {
            let tname = essential_name(&st.type_name);
            for name in [tname.to_string(), format!("{VALUE_TYPE_PREFIX}{tname}")] {
                whole.extend(btf.find(&name, Some(Kind::Struct)));
            }
        }
    }
    MinSpec { roots, member_names, whole }
}

/// The vmlinux BTF at `path` reduced for `objects`.
pub fn min_btf(objects: &[Object], path: &Path) -> Result<MinBtf, TargetLoadError> {
    let map = map_file(path)?;
    let btf = Btf::parse_targeted(map, &target_needs(objects).btf).map_err(|source| TargetLoadError::Btf { path: path.into(), source })?;
    minimize(&btf, &min_spec(objects, &btf)).map_err(|source| TargetLoadError::Minimize { path: path.into(), source })
}
