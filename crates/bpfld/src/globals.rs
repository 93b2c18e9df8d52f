//! Global variables by name: where each `.data`, `.rodata`, `.bss` (and
//! custom `.data.*`/`.rodata.*`) variable lives, from the DATASEC of its
//! section in the object's BTF, so that users can set them before the load
//! (`const volatile` configuration in `.rodata`) and read them after.

use bpfld_btf::Btf;
use bpfld_obj::arena::{ArenaGlobals, ARENA_SEC};
use bpfld_obj::{MapOrigin, MapSpec};

use crate::error::{Error, GlobalProblem, Missing};

/// Where one variable is: its map and its bytes in the map's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobalVar {
    /// The variable's C name.
    pub name: String,
    /// Index of the map in the object's (and plan's) map list.
    pub map: usize,
    /// The ELF section (`.rodata`, `.data.custom`).
    pub section: String,
    /// Offset in the map's value; for `__arena` variables (section
    /// `.addr_space.1`, map the arena) in the section, which the load
    /// places somewhere in the arena.
    pub offset: usize,
    /// Its size in bytes (from the DATASEC entry).
    pub size: usize,
}

impl GlobalVar {
    /// Whether this is an `__arena` variable.
    pub fn is_arena(&self) -> bool {
        self.section == ARENA_SEC
    }
}

/// Every named variable of every global data map, then the `__arena`
/// ones. `.kconfig` is left out: its values are the kernel's, not the
/// user's.
pub fn global_vars(btf: Option<&Btf>, maps: &[MapSpec], arena: Option<&ArenaGlobals>) -> Vec<GlobalVar> {
    let Some(btf) = btf else { return Vec::new() };
    let mut out = Vec::new();
    let vars = |datasec: u32, len: usize| {
        let vars = btf.type_by_id(datasec).map(|ds| ds.datasec_vars().collect::<Vec<_>>()).unwrap_or_default();
        vars.into_iter().filter_map(move |v| {
            let name = btf.type_by_id(v.type_id).ok().and_then(|t| t.name().ok())?;
            let (offset, size) = (v.offset as usize, v.size as usize);
            let fits = offset.checked_add(size).is_some_and(|end| end <= len);
            (fits && !name.is_empty()).then(|| (name.to_string(), offset, size))
        })
    };
    for (i, m) in maps.iter().enumerate() {
        if !matches!(m.origin, MapOrigin::Data | MapOrigin::Rodata | MapOrigin::Bss) || m.btf_value_type_id == 0 {
            continue;
        }
        for (name, offset, size) in vars(m.btf_value_type_id, m.value_size as usize) {
            out.push(GlobalVar { name, map: i, section: m.real_name.clone(), offset, size });
        }
    }
    if let Some(a) = arena.filter(|a| a.btf_datasec != 0) {
        for (name, offset, size) in vars(a.btf_datasec, a.data.len()) {
            out.push(GlobalVar { name, map: a.map, section: ARENA_SEC.to_string(), offset, size });
        }
    }
    out
}

/// Finds `name` among the variables of object `object`; a name that
/// several sections define (static variables of the same name) is
/// ambiguous unless written `section:name`.
pub fn find<'a>(vars: &'a [GlobalVar], object: &str, name: &str) -> crate::Result<&'a GlobalVar> {
    let (section, var) = match name.rsplit_once(':') {
        Some((s, v)) => (Some(s), v),
        None => (None, name),
    };
    let mut hits = vars.iter().filter(|g| g.name == var && section.is_none_or(|s| s == g.section));
    match (hits.next(), hits.next()) {
        (Some(g), None) => Ok(g),
        (None, _) => Err(Error::NotFound { context: object.to_string(), missing: Missing::Global(name.to_string()) }),
        (Some(a), Some(b)) => Err(Error::Global {
            object: Some(object.to_string()),
            name: name.to_string(),
            problem: GlobalProblem::Ambiguous { first: a.section.clone(), second: b.section.clone(), var: var.to_string() },
        }),
    }
}
