//! Global variables by name: where each `.data`, `.rodata`, `.bss` (and
//! custom `.data.*`/`.rodata.*`) variable lives, from the DATASEC of its
//! section in the object's BTF, so that users can set them before the load
//! (`const volatile` configuration in `.rodata`) and read them after.

use bpfld_btf::Btf;
use bpfld_obj::{MapOrigin, MapSpec};

/// Where one variable is: its map and its bytes in the map's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalVar {
    pub name: String,
    /// Index of the map in the object's (and plan's) map list.
    pub map: usize,
    /// The ELF section (`.rodata`, `.data.custom`).
    pub section: String,
    pub offset: usize,
    pub size: usize,
}

/// Every named variable of every global data map. `.kconfig` is left out:
/// its values are the kernel's, not the user's.
pub fn global_vars(btf: Option<&Btf>, maps: &[MapSpec]) -> Vec<GlobalVar> {
    let Some(btf) = btf else { return Vec::new() };
    let mut out = Vec::new();
    for (i, m) in maps.iter().enumerate() {
        if !matches!(m.origin, MapOrigin::Data | MapOrigin::Rodata | MapOrigin::Bss) || m.btf_value_type_id == 0 {
            continue;
        }
        let Ok(ds) = btf.type_by_id(m.btf_value_type_id) else { continue };
        for v in ds.datasec_vars() {
            let Some(name) = btf.type_by_id(v.type_id).ok().and_then(|t| t.name().ok()) else { continue };
            let (offset, size) = (v.offset as usize, v.size as usize);
            if name.is_empty() || offset.checked_add(size).is_none_or(|end| end > m.value_size as usize) {
                continue;
            }
            out.push(GlobalVar { name: name.to_string(), map: i, section: m.real_name.clone(), offset, size });
        }
    }
    out
}

/// Finds `name`; a name that several sections define (static variables of
/// the same name) is ambiguous unless written `section:name`.
pub fn find<'a>(vars: &'a [GlobalVar], name: &str) -> Result<&'a GlobalVar, String> {
    let (section, var) = match name.rsplit_once(':') {
        Some((s, v)) => (Some(s), v),
        None => (None, name),
    };
    let mut hits = vars.iter().filter(|g| g.name == var && section.is_none_or(|s| s == g.section));
    match (hits.next(), hits.next()) {
        (Some(g), None) => Ok(g),
        (None, _) => Err(format!("no global variable '{name}' in .data, .rodata or .bss sections")),
        (Some(a), Some(b)) => {
            Err(format!("global variable '{name}' is in both '{}' and '{}': write 'section:{var}'", a.section, b.section))
        }
    }
}
