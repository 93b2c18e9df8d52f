//! Owned, editable types and the writer that serializes them back to BTF.
//!
//! bpfld-obj edits an object's BTF before handing it to the kernel (DATASEC
//! sizes, VAR offsets, linkage fixes, sanitizing kinds an old kernel lacks):
//! it makes those edits on these owned copies; this module only copies and
//! serializes. Object BTF is small, so owned copies are cheap; kernel BTF is
//! never copied this way.

use std::collections::HashMap;

use crate::btf::Btf;
use crate::error::Result;
use crate::kind::{FuncLinkage, Kind};
use crate::types::{ArrayInfo, Type, VarSecInfo};

/// A named member, parameter or enumerator of an owned type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedMember {
    /// Its name (`""`: anonymous).
    pub name: String,
    /// Its type's id.
    pub type_id: u32,
    /// The raw offset word (with the bitfield size in the top 8 bits when the
    /// composite's kflag is set).
    pub offset: u32,
}

/// Kind-specific data of an owned type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeData {
    /// PTR, FWD, TYPEDEF, modifiers, FLOAT, TYPE_TAG: nothing beyond the header.
    None,
    /// The INT encoding word.
    Int(u32),
    /// ARRAY: element type, index type, count.
    Array(ArrayInfo),
    /// STRUCT/UNION members.
    Members(Vec<OwnedMember>),
    /// ENUM enumerators (raw 32-bit values).
    Enum(Vec<(String, u32)>),
    /// ENUM64 enumerators.
    Enum64(Vec<(String, u64)>),
    /// FUNC_PROTO parameters: (name, type id).
    Params(Vec<(String, u32)>),
    /// FUNC linkage.
    Func(FuncLinkage),
    /// VAR linkage.
    Var(u32),
    /// DATASEC entries.
    Datasec(Vec<VarSecInfo>),
    /// DECL_TAG component index.
    DeclTag(i32),
}

/// An editable copy of one BTF type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedType {
    /// Its name (`""`: anonymous).
    pub name: String,
    /// Its kind; [`data`](OwnedType::data) must match it.
    pub kind: Kind,
    /// The kind flag (see [`Type::kflag`]).
    pub kflag: bool,
    /// `size` or `type`, depending on the kind.
    pub size_or_type: u32,
    /// What follows the header; its length gives `vlen`.
    pub data: TypeData,
}

impl OwnedType {
    /// Copies a parsed type.
    pub fn from_type(t: &Type<'_>) -> Result<OwnedType> {
        let kind = t.kind();
        let data = match kind {
            Kind::Int => TypeData::Int(t.raw_int_word().expect("INT")),
            Kind::Array => TypeData::Array(t.array().expect("ARRAY")),
            Kind::Struct | Kind::Union => TypeData::Members(
                t.members()
                    .zip(t.raw_member_offsets())
                    .map(|(m, raw)| Ok(OwnedMember { name: t.str(m.name_off)?.to_string(), type_id: m.type_id, offset: raw }))
                    .collect::<Result<_>>()?,
            ),
            Kind::Enum => {
                TypeData::Enum(t.enumerators().map(|e| Ok((t.str(e.name_off)?.to_string(), e.value as u32))).collect::<Result<_>>()?)
            }
            Kind::Enum64 => {
                TypeData::Enum64(t.enumerators().map(|e| Ok((t.str(e.name_off)?.to_string(), e.value))).collect::<Result<_>>()?)
            }
            Kind::FuncProto => {
                TypeData::Params(t.params().map(|p| Ok((t.str(p.name_off)?.to_string(), p.type_id))).collect::<Result<_>>()?)
            }
            Kind::Func => TypeData::Func(t.func_linkage().expect("FUNC")),
            Kind::Var => TypeData::Var(t.var_linkage().expect("VAR").raw()),
            Kind::Datasec => TypeData::Datasec(t.datasec_vars().collect()),
            Kind::DeclTag => TypeData::DeclTag(t.decl_tag_component().expect("DECL_TAG")),
            _ => TypeData::None,
        };
        Ok(OwnedType { name: t.name()?.to_string(), kind, kflag: t.kflag(), size_or_type: t.raw_size_or_type(), data })
    }

    fn vlen(&self) -> usize {
        match &self.data {
            TypeData::Members(m) => m.len(),
            TypeData::Enum(v) => v.len(),
            TypeData::Enum64(v) => v.len(),
            TypeData::Params(v) => v.len(),
            TypeData::Datasec(v) => v.len(),
            TypeData::Func(l) => l.raw() as usize,
            _ => 0,
        }
    }
}

/// Builds a BTF blob from owned types.
#[derive(Debug, Clone, Default)]
pub struct Writer {
    /// Types in id order; the first gets id `first_id`.
    pub types: Vec<OwnedType>,
    first_id: u32,
    first_str: u32,
    /// The own string section of the BTF this writer was made from: kept
    /// as is (new strings are appended) so that string offsets held
    /// outside the types (`.BTF.ext` section names, line info, CO-RE access
    /// strings) stay valid in the written BTF, as libbpf's in-place edits
    /// keep them.
    kept_strings: Option<Vec<u8>>,
}

/// Errors of serialization: a type with more members than BTF can encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteError(pub String);

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BTF writer: {}", self.0)
    }
}
impl std::error::Error for WriteError {}

impl Writer {
    /// An empty standalone BTF (ids from 1).
    pub fn new() -> Writer {
        Writer { types: Vec::new(), first_id: 1, first_str: 0, kept_strings: None }
    }

    /// An empty split BTF on top of `base`.
    pub fn new_split(base: &Btf) -> Writer {
        Writer { types: Vec::new(), first_id: base.type_count(), first_str: base.strings_len(), kept_strings: None }
    }

    /// A writer holding copies of `btf`'s own types (a split BTF stays split
    /// on the same base).
    pub fn from_btf(btf: &Btf) -> Result<Writer> {
        let mut w = match btf.base() {
            Some(b) => Writer::new_split(b),
            None => Writer::new(),
        };
        w.types = btf.own_types().map(|t| OwnedType::from_type(&t)).collect::<Result<_>>()?;
        w.kept_strings = Some(btf.own_strings().to_vec());
        Ok(w)
    }

    /// Appends a type and returns its id.
    pub fn push(&mut self, t: OwnedType) -> u32 {
        self.types.push(t);
        self.first_id + self.types.len() as u32 - 1
    }

    /// The type with `id`, if this writer holds it.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut OwnedType> {
        let i = id.checked_sub(self.first_id)? as usize;
        self.types.get_mut(i)
    }

    /// The type with `id`, if this writer holds it (not a base type).
    pub fn get(&self, id: u32) -> Option<&OwnedType> {
        let i = id.checked_sub(self.first_id)? as usize;
        self.types.get(i)
    }

    /// The id of the writer's first type: 1, or for split BTF the id after
    /// the base's last.
    pub fn first_id(&self) -> u32 {
        self.first_id
    }

    /// Serializes to little-endian BTF, deduplicating strings. A writer made
    /// by [`Writer::from_btf`] keeps the original string section as a prefix
    /// (every old offset stays valid) and appends only new strings. For split BTF
    /// the string offsets continue the base's; names found in the base are
    /// not reused (as pahole does not), which keeps the writer independent
    /// of the base's contents.
    pub fn write(&self) -> Result<Vec<u8>, WriteError> {
        let mut strs = match &self.kept_strings {
            Some(kept) => Strings::keeping(self.first_str, kept),
            None => Strings::new(self.first_str, self.first_id == 1),
        };
        let mut tbuf: Vec<u8> = Vec::with_capacity(self.types.len() * 32);
        let put = |b: &mut Vec<u8>, v: u32| b.extend_from_slice(&v.to_le_bytes());
        for (i, t) in self.types.iter().enumerate() {
            let id = self.first_id as usize + i;
            let vlen = t.vlen();
            if vlen > 0xffff {
                return Err(WriteError(format!("type [{id}] '{}' has {vlen} entries, at most 65535 fit", t.name)));
            }
            let info = (t.kflag as u32) << 31 | (t.kind as u32) << 24 | vlen as u32;
            put(&mut tbuf, strs.add(&t.name));
            put(&mut tbuf, info);
            put(&mut tbuf, t.size_or_type);
            match &t.data {
                TypeData::None | TypeData::Func(_) => {}
                TypeData::Int(w) => put(&mut tbuf, *w),
                TypeData::Array(a) => {
                    put(&mut tbuf, a.elem_type);
                    put(&mut tbuf, a.index_type);
                    put(&mut tbuf, a.nelems);
                }
                TypeData::Members(ms) => {
                    for m in ms {
                        put(&mut tbuf, strs.add(&m.name));
                        put(&mut tbuf, m.type_id);
                        put(&mut tbuf, m.offset);
                    }
                }
                TypeData::Enum(vs) => {
                    for (n, v) in vs {
                        put(&mut tbuf, strs.add(n));
                        put(&mut tbuf, *v);
                    }
                }
                TypeData::Enum64(vs) => {
                    for (n, v) in vs {
                        put(&mut tbuf, strs.add(n));
                        put(&mut tbuf, *v as u32);
                        put(&mut tbuf, (*v >> 32) as u32);
                    }
                }
                TypeData::Params(ps) => {
                    for (n, ty) in ps {
                        put(&mut tbuf, strs.add(n));
                        put(&mut tbuf, *ty);
                    }
                }
                TypeData::Var(l) => put(&mut tbuf, *l),
                TypeData::Datasec(vs) => {
                    for v in vs {
                        put(&mut tbuf, v.type_id);
                        put(&mut tbuf, v.offset);
                        put(&mut tbuf, v.size);
                    }
                }
                TypeData::DeclTag(c) => put(&mut tbuf, *c as u32),
            }
        }
        let sbuf = strs.bytes;
        let mut out = Vec::with_capacity(24 + tbuf.len() + sbuf.len());
        out.extend_from_slice(&0xeb9fu16.to_le_bytes());
        out.push(1); // version
        out.push(0); // flags
        put(&mut out, 24);
        put(&mut out, 0);
        put(&mut out, tbuf.len() as u32);
        put(&mut out, tbuf.len() as u32);
        put(&mut out, sbuf.len() as u32);
        out.extend_from_slice(&tbuf);
        out.extend_from_slice(&sbuf);
        Ok(out)
    }
}

struct Strings {
    bytes: Vec<u8>,
    seen: HashMap<String, u32>,
    first: u32,
}

impl Strings {
    fn new(first: u32, base: bool) -> Strings {
        let mut s = Strings { bytes: Vec::new(), seen: HashMap::new(), first };
        if base {
            // A base BTF's string section starts with the empty string.
            s.bytes.push(0);
            s.seen.insert(String::new(), 0);
        }
        s
    }
    /// Starts from an existing string section, whose strings keep their
    /// offsets and are reused.
    fn keeping(first: u32, kept: &[u8]) -> Strings {
        let mut s = Strings { bytes: kept.to_vec(), seen: HashMap::new(), first };
        let mut off = 0usize;
        for part in kept.split(|&b| b == 0) {
            if let Ok(name) = std::str::from_utf8(part) {
                s.seen.entry(name.to_string()).or_insert(first + off as u32);
            }
            off += part.len() + 1;
        }
        if s.bytes.last().is_some_and(|&b| b != 0) {
            // A section must end with a NUL for appended strings to start clean.
            s.bytes.push(0);
        }
        s
    }

    fn add(&mut self, name: &str) -> u32 {
        // Offset 0 is the empty string in a base and, through it, in split BTF.
        if name.is_empty() {
            return 0;
        }
        if let Some(&off) = self.seen.get(name) {
            return off;
        }
        let off = self.first + self.bytes.len() as u32;
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.seen.insert(name.to_string(), off);
        off
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Btf;

    fn int(name: &str) -> OwnedType {
        OwnedType { name: name.into(), kind: Kind::Int, kflag: false, size_or_type: 4, data: TypeData::Int(32) }
    }

    #[test]
    fn rewriting_keeps_string_offsets() {
        let mut w = Writer::new();
        w.push(int("a_int"));
        w.push(int("b_int"));
        let first = Btf::from_vec(w.write().unwrap()).unwrap();
        let b_off = first.type_by_id(2).unwrap().name_off();
        // Rename type 2: its old name is no longer referenced by any type,
        // but offsets held elsewhere (.BTF.ext) must still find it.
        let mut w = Writer::from_btf(&first).unwrap();
        w.get_mut(2).unwrap().name = "c_new".into();
        let second = Btf::from_vec(w.write().unwrap()).unwrap();
        assert_eq!(second.str(b_off).unwrap(), "b_int");
        assert_eq!(second.type_by_id(1).unwrap().name_off(), first.type_by_id(1).unwrap().name_off());
        assert_eq!(second.type_by_id(2).unwrap().name().unwrap(), "c_new");
        assert!(second.type_by_id(2).unwrap().name_off() as usize >= first.own_strings().len());
    }
}
