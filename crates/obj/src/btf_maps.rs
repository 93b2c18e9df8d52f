//! BTF-defined maps: the `.maps` DATASEC, where each VAR is a struct whose
//! members encode the map's attributes in their *types* (libbpf's
//! `__uint`, `__type`, `__ulong` and `__array` macros):
//!
//! - `__uint(name, N)` is `int (*name)[N]`: a PTR to an ARRAY of N elements;
//! - `__ulong(name, N)` is an anonymous enum with one enumerator of value N
//!   (or the `__uint` form);
//! - `__type(key, T)` is `T *key`: the key's BTF type and size;
//! - `__array(values, T)` is a zero-length array of pointers to `T`: the
//!   inner map definition of a map-in-map, or a FUNC_PROTO for a prog array.
//!
//! Parsing follows libbpf's `parse_btf_map_def`, in strict mode: an unknown
//! member is an error rather than silently ignored.

use bpfld_asm::types::MapType;
use bpfld_btf::resolve::{resolve_size, skip_mods_and_typedefs};
use bpfld_btf::{Btf, Kind, VarLinkage};

mod error;
pub use error::{BtfMapError, MapPlace, MapProblem, SizeOf, ValuesOf, Wanted};

/// `LIBBPF_PIN_NONE` and `LIBBPF_PIN_BY_NAME`.
pub const PIN_NONE: u32 = 0;
/// `LIBBPF_PIN_BY_NAME`: pinned at `<pin root>/<map name>`.
pub const PIN_BY_NAME: u32 = 1;

/// One map definition as the BTF spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfMapDef {
    /// The map's VAR name (its symbol).
    pub name: String,
    /// `__uint(type, T)`.
    pub map_type: Option<MapType>,
    /// `__uint(key_size, N)` or the size of `__type(key, T)`, bytes.
    pub key_size: Option<u32>,
    /// `__uint(value_size, N)` or the size of `__type(value, T)`, bytes.
    pub value_size: Option<u32>,
    /// `__uint(max_entries, N)`.
    pub max_entries: Option<u32>,
    /// `__uint(map_flags, F)`.
    pub map_flags: Option<u32>,
    /// `__ulong(map_extra, X)`.
    pub map_extra: Option<u64>,
    /// `__uint(numa_node, N)`.
    pub numa_node: Option<u32>,
    /// `__uint(pinning, P)`: [`PIN_NONE`] or [`PIN_BY_NAME`].
    pub pinning: Option<u32>,
    /// BTF ids of `__type(key, ...)` and `__type(value, ...)`, 0 if given
    /// by size only.
    pub btf_key_type_id: u32,
    /// The value type's id in the object's BTF (0: none).
    pub btf_value_type_id: u32,
    /// The `__array(values, struct {...})` inner map of a map-in-map.
    pub inner: Option<Box<BtfMapDef>>,
    /// Offset of the VAR in `.maps`, and its size.
    pub sec_offset: u32,
    /// The VAR's size in bytes.
    pub sec_size: u32,
    /// Byte offset of the `values` member inside the definition, where
    /// relocations of initial values start.
    pub values_offset: Option<u32>,
}

/// Every map of the `.maps` section (its ELF size is `sec_size`).
pub fn parse_btf_maps(btf: &Btf, sec_size: usize) -> Result<Vec<BtfMapDef>, BtfMapError> {
    let Some(ds) = btf.find_first(".maps", Kind::Datasec) else {
        return Err(MapProblem::NoMapsSection.into());
    };
    let sec = btf.type_by_id(ds)?;
    let mut out = Vec::new();
    for (i, vi) in sec.datasec_vars().enumerate() {
        let var = btf.type_by_id(vi.type_id).map_err(|e| BtfMapError::from(e).within(MapPlace::MapIndex(i)))?;
        let name = var.name().map_err(|e| BtfMapError::from(e).within(MapPlace::MapIndex(i)))?;
        if name.is_empty() {
            return Err(BtfMapError::from(MapProblem::EmptyName).within(MapPlace::MapIndex(i)));
        }
        if vi.offset as u64 + vi.size as u64 > sec_size as u64 {
            return Err(BtfMapError::from(MapProblem::PastSection { offset: vi.offset, size: vi.size, section_size: sec_size })
                .within(MapPlace::Map(name.to_string())));
        }
        if var.kind() != Kind::Var {
            return Err(BtfMapError::from(MapProblem::NotVar { found: var.kind() }).within(MapPlace::Map(name.to_string())));
        }
        let linkage = var.var_linkage().expect("VAR has linkage");
        if linkage != VarLinkage::Global {
            return Err(BtfMapError::from(MapProblem::Linkage { linkage }).within(MapPlace::Map(name.to_string())));
        }
        let (def_id, def) = skip_mods_and_typedefs(btf, var.type_ref().unwrap_or(0))
            .map_err(|e| BtfMapError::from(e).within(MapPlace::Map(name.to_string())))?;
        let Some(def) = def.filter(|d| d.kind() == Kind::Struct) else {
            return Err(BtfMapError::from(MapProblem::DefinitionNotStruct { type_id: def_id }).within(MapPlace::Map(name.to_string())));
        };
        if def.size().unwrap_or(0) > vi.size {
            return Err(BtfMapError::from(MapProblem::DefinitionTooLarge { size: def.size().unwrap_or(0), var_size: vi.size })
                .within(MapPlace::Map(name.to_string())));
        }
        let mut m = parse_def(btf, name, def_id, false)?;
        m.sec_offset = vi.offset;
        m.sec_size = vi.size;
        out.push(m);
    }
    Ok(out)
}

fn parse_def(btf: &Btf, map_name: &str, def_id: u32, is_inner: bool) -> Result<BtfMapDef, BtfMapError> {
    let err = |e: BtfMapError| e.within(MapPlace::Map(map_name.to_string()));
    let bad = |p: MapProblem| err(p.into());
    let def = btf.type_by_id(def_id).map_err(|e| err(e.into()))?;
    let mut d = BtfMapDef { name: map_name.to_string(), ..Default::default() };
    let members: Vec<_> = def.members().collect();
    for (i, m) in members.iter().enumerate() {
        let fname = def.str(m.name_off).map_err(|e| err(BtfMapError::from(e).within(MapPlace::FieldIndex(i))))?;
        let ferr = |e: BtfMapError| err(e.within(MapPlace::Field(fname.to_string())));
        match fname {
            "type" => d.map_type = Some(field_uint(btf, m.type_id).map_err(ferr)?.into()),
            "max_entries" => d.max_entries = Some(field_uint(btf, m.type_id).map_err(ferr)?),
            "map_flags" => d.map_flags = Some(field_uint(btf, m.type_id).map_err(ferr)?),
            "numa_node" => d.numa_node = Some(field_uint(btf, m.type_id).map_err(ferr)?),
            "map_extra" => d.map_extra = Some(field_ulong(btf, m.type_id).map_err(ferr)?),
            "key_size" => set_size(&mut d.key_size, field_uint(btf, m.type_id).map_err(ferr)?, SizeOf::Key).map_err(err)?,
            "value_size" => set_size(&mut d.value_size, field_uint(btf, m.type_id).map_err(ferr)?, SizeOf::Value).map_err(err)?,
            "key" | "value" => {
                let (tid, size) = field_type(btf, m.type_id).map_err(ferr)?;
                if fname == "key" {
                    set_size(&mut d.key_size, size, SizeOf::Key).map_err(err)?;
                    d.btf_key_type_id = tid;
                } else {
                    set_size(&mut d.value_size, size, SizeOf::Value).map_err(err)?;
                    d.btf_value_type_id = tid;
                }
            }
            "pinning" => {
                if is_inner {
                    return Err(bad(MapProblem::InnerPinned));
                }
                let v = field_uint(btf, m.type_id).map_err(ferr)?;
                if v != PIN_NONE && v != PIN_BY_NAME {
                    return Err(bad(MapProblem::BadPinning { value: v }));
                }
                d.pinning = Some(v);
            }
            "values" => {
                if is_inner {
                    return Err(bad(MapProblem::NestedInner));
                }
                if i != members.len() - 1 {
                    return Err(bad(MapProblem::ValuesNotLast));
                }
                let ty = d.map_type.unwrap_or_default();
                let prog_array = ty == MapType::PROG_ARRAY;
                if !ty.is_map_in_map() && !prog_array {
                    return Err(bad(MapProblem::ValuesWithoutType { map_type: ty }));
                }
                set_size(&mut d.value_size, 4, SizeOf::Value).map_err(err)?;
                let of = if prog_array { ValuesOf::ProgArray } else { ValuesOf::MapInMap };
                let arr = btf.type_by_id(m.type_id).map_err(|e| err(e.into()))?;
                match arr.array() {
                    Some(a) if a.nelems == 0 => {
                        let (_, p) = skip_mods_and_typedefs(btf, a.elem_type).map_err(|e| err(e.into()))?;
                        let Some(p) = p.filter(|p| p.kind() == Kind::Ptr) else {
                            return Err(bad(MapProblem::ValuesElementNotPtr { of }));
                        };
                        let (tid, t) = skip_mods_and_typedefs(btf, p.type_ref().unwrap_or(0)).map_err(|e| err(e.into()))?;
                        let kind = t.map(|t| t.kind());
                        if prog_array {
                            if kind != Some(Kind::FuncProto) {
                                return Err(bad(MapProblem::ValuesTargetKind { of, found: kind }));
                            }
                        } else {
                            if kind != Some(Kind::Struct) {
                                return Err(bad(MapProblem::ValuesTargetKind { of, found: kind }));
                            }
                            d.inner = Some(Box::new(parse_def(btf, &format!("{map_name}.inner"), tid, true)?));
                        }
                    }
                    _ => return Err(bad(MapProblem::ValuesNotZeroSized { of })),
                }
                d.values_offset = Some(m.bit_offset / 8);
            }
            other => return Err(bad(MapProblem::UnknownField { name: other.to_string() })),
        }
    }
    if d.map_type.unwrap_or_default() == MapType::UNSPEC {
        return Err(bad(MapProblem::NoMapType));
    }
    Ok(d)
}

fn set_size(slot: &mut Option<u32>, v: u32, of: SizeOf) -> Result<(), BtfMapError> {
    match *slot {
        Some(old) if old != 0 && old != v => Err(MapProblem::ConflictingSize { of, old, new: v }.into()),
        _ => {
            *slot = Some(v);
            Ok(())
        }
    }
}

/// `__uint(name, N)`: `int (*name)[N]`.
fn field_uint(btf: &Btf, type_id: u32) -> Result<u32, BtfMapError> {
    let (_, t) = skip_mods_and_typedefs(btf, type_id)?;
    let Some(t) = t.filter(|t| t.kind() == Kind::Ptr) else {
        return Err(MapProblem::WrongKind { wanted: Wanted::Ptr, found: t.map(|t| t.kind()) }.into());
    };
    let arr = btf.type_by_id(t.type_ref().unwrap_or(0))?;
    match arr.array() {
        Some(a) => Ok(a.nelems),
        None => Err(MapProblem::WrongKind { wanted: Wanted::Array, found: Some(arr.kind()) }.into()),
    }
}

/// `__ulong(name, N)`: an enum with one enumerator N, or the `__uint` form.
fn field_ulong(btf: &Btf, type_id: u32) -> Result<u64, BtfMapError> {
    let (_, t) = skip_mods_and_typedefs(btf, type_id)?;
    match t {
        Some(t) if t.kind() == Kind::Ptr => field_uint(btf, type_id).map(u64::from),
        Some(t) if t.kind().is_enum() => {
            let mut e = t.enumerators();
            match (e.next(), e.next()) {
                (Some(v), None) => Ok(v.value),
                _ => Err(MapProblem::UlongEnumerators { count: t.vlen() }.into()),
            }
        }
        t => Err(MapProblem::WrongKind { wanted: Wanted::Enum, found: t.map(|t| t.kind()) }.into()),
    }
}

/// `__type(name, T)`: `T *name`; returns T's id and size.
fn field_type(btf: &Btf, type_id: u32) -> Result<(u32, u32), BtfMapError> {
    let t = btf.type_by_id(type_id)?;
    if t.kind() != Kind::Ptr {
        return Err(MapProblem::TypeNotPtr { found: t.kind() }.into());
    }
    let target = t.type_ref().unwrap_or(0);
    let size = resolve_size(btf, target).map_err(|e| BtfMapError::from(e).within(MapPlace::SizeOf(target)))?;
    let size = u32::try_from(size).map_err(|_| BtfMapError::from(MapProblem::TypeTooLarge { type_id: target, size }))?;
    Ok((target, size))
}

/// An initial value of a map-in-map or prog-array slot, from a relocation
/// in `.maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSlotRel {
    /// Index of the outer map in the `defs` given.
    pub map: usize,
    /// The slot's index in the outer map.
    pub index: u32,
    /// The inner map's or program's symbol name.
    pub target: String,
}

/// A relocation in `.maps`: its offset, the symbol's name, and whether the
/// symbol is a map in `.maps` (as opposed to a program).
#[derive(Debug, Clone)]
pub struct MapsRel {
    /// Byte offset of the relocation in `.maps`.
    pub offset: u64,
    /// The symbol it names.
    pub symbol: String,
    /// The symbol is a map of `.maps` (else a program).
    pub symbol_in_maps: bool,
}

/// Turns `.rel.maps` entries into initial slots (libbpf's
/// `bpf_object__collect_map_relos`): each relocation falls inside the
/// `values` array of one map; its index is its distance from the array's
/// start in 8-byte pointers.
pub fn collect_init_slots(defs: &[BtfMapDef], rels: &[MapsRel]) -> Result<Vec<InitSlotRel>, BtfMapError> {
    let mut out = Vec::new();
    for (n, r) in rels.iter().enumerate() {
        let Some(mi) = defs.iter().position(|d| d.sec_offset as u64 <= r.offset && r.offset + 8 <= d.sec_offset as u64 + d.sec_size as u64)
        else {
            return Err(BtfMapError::from(MapProblem::NoMapAtRelocation).within(MapPlace::Relocation {
                index: n,
                symbol: r.symbol.clone(),
                offset: r.offset,
            }));
        };
        let d = &defs[mi];
        let bad = |p: MapProblem| BtfMapError::from(p).within(MapPlace::Map(d.name.clone()));
        let ty = d.map_type.unwrap_or_default();
        if ty.is_map_in_map() {
            if !r.symbol_in_maps {
                return Err(bad(MapProblem::SlotNotBtfMap { symbol: r.symbol.clone() }));
            }
            if ty == MapType::HASH_OF_MAPS && d.key_size != Some(4) {
                return Err(bad(MapProblem::HashOfMapsKeySize { key_size: d.key_size }));
            }
            if !defs.iter().any(|x| x.name == r.symbol) {
                return Err(bad(MapProblem::SlotMapUnknown { symbol: r.symbol.clone() }));
            }
        } else if ty == MapType::PROG_ARRAY {
            if r.symbol_in_maps {
                return Err(bad(MapProblem::SlotNotProgram { symbol: r.symbol.clone() }));
            }
        } else {
            return Err(bad(MapProblem::NoInitialValues { offset: r.offset, map_type: ty }));
        }
        let Some(values) = d.values_offset else {
            return Err(bad(MapProblem::NoValuesField { offset: r.offset }));
        };
        let rel_off = r.offset - d.sec_offset as u64;
        if rel_off < values as u64 || (rel_off - values as u64) % 8 != 0 {
            return Err(bad(MapProblem::NotValuesSlot { offset: r.offset }));
        }
        let slot = (rel_off - values as u64) / 8;
        let index = u32::try_from(slot).map_err(|_| bad(MapProblem::SlotIndexTooLarge { index: slot }))?;
        if let Some(max_entries) = d.max_entries.filter(|&m| index >= m) {
            return Err(bad(MapProblem::SlotBeyondMaxEntries { index, max_entries }));
        }
        out.push(InitSlotRel { map: mi, index, target: r.symbol.clone() });
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
