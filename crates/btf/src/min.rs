//! Minimizing a kernel's BTF to what some objects need, as `bpftool gen
//! min_core_btf` does for kernels shipped without BTF (BTFHub): a few KB
//! per kernel instead of megabytes.
//!
//! What is kept: the root types (every type a plan may look up by name,
//! chosen by the caller) and everything they reach, except that a struct or
//! union keeps only its anonymous members and the members whose names the
//! caller lists (the field names the objects use), unless the caller asks
//! for it whole. Offsets, sizes and the order of the kept types are those
//! of the original, so lookups by name and field accesses by name answer
//! the same; ids are renumbered (the map is returned).

use std::collections::{BTreeSet, HashSet};

use crate::btf::Btf;
use crate::error::Result;
use crate::kind::Kind;
use crate::types::Type;
use crate::writer::{OwnedType, TypeData, WriteError, Writer};

/// What to keep.
#[derive(Debug, Clone, Default)]
pub struct MinSpec {
    /// Types kept with everything they reach.
    pub roots: Vec<u32>,
    /// Member names kept in structs and unions (besides anonymous ones).
    pub member_names: HashSet<String>,
    /// Structs and unions kept with all their members.
    pub whole: HashSet<u32>,
}

/// A minimized BTF: the blob and, for each of its type ids from 1, the id
/// the type had in the original.
#[derive(Debug, Clone)]
pub struct MinBtf {
    /// The minimized BTF, little-endian, standalone.
    pub bytes: Vec<u8>,
    /// `original_ids[i]`: the original id of new type `i + 1`, ascending.
    pub original_ids: Vec<u32>,
}

impl MinBtf {
    /// The new id of original type `old`, if kept.
    pub fn new_id(&self, old: u32) -> Option<u32> {
        if old == 0 {
            return Some(0);
        }
        self.original_ids.binary_search(&old).ok().map(|i| i as u32 + 1)
    }
}

/// Errors of [`minimize`]: a bad type in the original, or a type the
/// writer cannot encode.
#[derive(Debug)]
pub enum MinError {
    /// A root or reached type of the original is missing or does not read
    /// (an id out of range, a bad string offset).
    Btf(crate::error::Error),
    /// The kept types cannot be serialized.
    Write(WriteError),
}

impl std::fmt::Display for MinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MinError::Btf(e) => write!(f, "{e}"),
            MinError::Write(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for MinError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            MinError::Btf(e) => Some(e),
            MinError::Write(_) => None,
        }
    }
}

/// Whether member `name` of composite `id` is kept.
fn keeps_member(spec: &MinSpec, id: u32, name: &str) -> bool {
    name.is_empty() || spec.whole.contains(&id) || spec.member_names.contains(name)
}

/// The types `t` refers to, within what is kept of it.
fn references(btf: &Btf, spec: &MinSpec, t: &Type<'_>) -> Result<Vec<u32>> {
    Ok(match t.kind() {
        Kind::Struct | Kind::Union => {
            let mut v = Vec::new();
            for m in t.members() {
                if keeps_member(spec, t.id(), btf.str(m.name_off)?) {
                    v.push(m.type_id);
                }
            }
            v
        }
        Kind::FuncProto => std::iter::once(t.raw_size_or_type()).chain(t.params().map(|p| p.type_id)).collect(),
        Kind::Array => t.array().map(|a| vec![a.elem_type, a.index_type]).unwrap_or_default(),
        Kind::Datasec => t.datasec_vars().map(|v| v.type_id).collect(),
        _ => t.type_ref().into_iter().collect(),
    })
}

/// Keeps `spec.roots` and what they reach (see the module documentation).
pub fn minimize(btf: &Btf, spec: &MinSpec) -> std::result::Result<MinBtf, MinError> {
    let mut kept = BTreeSet::new();
    let mut work: Vec<u32> = spec.roots.clone();
    while let Some(id) = work.pop() {
        if id == 0 || !kept.insert(id) {
            continue;
        }
        let t = btf.type_by_id(id).map_err(MinError::Btf)?;
        work.extend(references(btf, spec, &t).map_err(MinError::Btf)?);
    }
    let original_ids: Vec<u32> = kept.into_iter().collect();
    let new_id = |old: u32| if old == 0 { 0 } else { original_ids.binary_search(&old).map(|i| i as u32 + 1).unwrap_or(0) };
    let mut w = Writer::new();
    for &old in &original_ids {
        let t = btf.type_by_id(old).map_err(MinError::Btf)?;
        let mut o = OwnedType::from_type(&t).map_err(MinError::Btf)?;
        match &mut o.data {
            TypeData::Members(ms) => {
                ms.retain(|m| keeps_member(spec, old, &m.name));
                for m in ms.iter_mut() {
                    m.type_id = new_id(m.type_id);
                }
            }
            TypeData::Params(ps) => ps.iter_mut().for_each(|p| p.1 = new_id(p.1)),
            TypeData::Array(a) => {
                a.elem_type = new_id(a.elem_type);
                a.index_type = new_id(a.index_type);
            }
            TypeData::Datasec(vs) => vs.iter_mut().for_each(|v| v.type_id = new_id(v.type_id)),
            _ => {}
        }
        if t.type_ref().is_some() {
            o.size_or_type = new_id(o.size_or_type);
        }
        w.push(o);
    }
    let bytes = w.write().map_err(MinError::Write)?;
    Ok(MinBtf { bytes, original_ids })
}
