//! Load-independent fixes to an object's BTF: what clang cannot know when it
//! emits BTF (DATASEC sizes, VAR offsets) and what the ELF symbol table says
//! about visibility. The result is what the kernel will be given.

use std::collections::HashMap;

use bpfld_btf::writer::{TypeData, Writer};
use bpfld_btf::{Btf, Kind, VarLinkage};

const STV_INTERNAL: u8 = 1;
const STV_HIDDEN: u8 = 2;

/// Applies libbpf's `btf_fixup_datasec` to every DATASEC except `.kconfig`
/// and `.ksyms` (whose layout the loader decides):
/// - a zero DATASEC size becomes the ELF section's size, and then each
///   VAR's offset comes from its ELF symbol;
/// - a global VAR whose symbol is hidden becomes static, which later keeps
///   its map from being mmapable;
/// - VARs are sorted by offset.
///
/// `var_syms` maps global object symbols to (value, visibility).
pub fn fix_object_btf(btf: &Btf, sec_sizes: &HashMap<String, u64>, var_syms: &HashMap<&str, (u64, u8)>) -> Result<Btf, String> {
    let mut w = Writer::from_btf(btf).map_err(|e| e.to_string())?;
    let first = w.first_id();
    let n = w.types.len();
    let mut changed = false;
    for i in 0..n {
        if w.types[i].kind != Kind::Datasec {
            continue;
        }
        let sec_name = w.types[i].name.clone();
        let id = first + i as u32;
        if sec_name == ".kconfig" || sec_name == ".ksyms" {
            changed |= sort_vars(&mut w, i);
            continue;
        }
        let mut fixup_offsets = false;
        if w.types[i].size_or_type == 0 {
            let size = sec_sizes.get(&sec_name).copied().unwrap_or(0);
            if size == 0 {
                return Err(format!("DATASEC [{id}] '{sec_name}': no ELF section of that name to take its size from"));
            }
            w.types[i].size_or_type = u32::try_from(size).map_err(|_| format!("DATASEC '{sec_name}' too large"))?;
            fixup_offsets = true;
            changed = true;
        }
        let TypeData::Datasec(vars) = w.types[i].data.clone() else { continue };
        let mut new_vars = vars.clone();
        for (j, v) in vars.iter().enumerate() {
            let Some(var) = w.get(v.type_id) else {
                return Err(format!("DATASEC [{id}] '{sec_name}': entry {j} refers to type [{}] outside the object", v.type_id));
            };
            if var.kind != Kind::Var {
                return Err(format!("DATASEC [{id}] '{sec_name}': entry {j} is a {}, not a VAR", var.kind.name()));
            }
            let TypeData::Var(linkage) = var.data else { continue };
            let linkage = VarLinkage::from_raw(linkage);
            if matches!(linkage, VarLinkage::Static | VarLinkage::Extern) {
                continue;
            }
            let vname = var.name.clone();
            let Some(&(value, vis)) = var_syms.get(vname.as_str()) else {
                return Err(format!("DATASEC [{id}] '{sec_name}': no ELF symbol for VAR '{vname}'"));
            };
            if fixup_offsets {
                new_vars[j].offset = u32::try_from(value).map_err(|_| format!("VAR '{vname}' offset too large"))?;
            }
            if vis == STV_HIDDEN || vis == STV_INTERNAL {
                if let Some(t) = w.get_mut(v.type_id) {
                    t.data = TypeData::Var(VarLinkage::Static.raw());
                }
                changed = true;
            }
        }
        if new_vars != vars {
            w.types[i].data = TypeData::Datasec(new_vars);
            changed = true;
        }
        changed |= sort_vars(&mut w, i);
    }
    if !changed {
        return Ok(btf.clone());
    }
    let bytes = w.write().map_err(|e| e.to_string())?;
    Btf::from_vec(bytes).map_err(|e| format!("fixed-up BTF does not parse: {e}"))
}

/// Sorts a DATASEC's entries by offset (stable, unlike libbpf's qsort, so
/// ties keep their order). Returns whether anything moved.
fn sort_vars(w: &mut Writer, i: usize) -> bool {
    if let TypeData::Datasec(vars) = &mut w.types[i].data {
        if vars.windows(2).any(|p| p[0].offset > p[1].offset) {
            vars.sort_by_key(|v| v.offset);
            return true;
        }
    }
    false
}
