//! Type utilities the loader needs: looking through modifiers and typedefs,
//! sizes and alignments, and finding members by name.
//!
//! The semantics follow libbpf (`skip_mods_and_typedefs`,
//! `btf__resolve_type`, `btf__resolve_size`, `btf__align_of` and CO-RE's
//! member search), with one deliberate difference: every walk is bounded, so
//! a reference loop in untrusted BTF (a typedef naming itself, a struct that
//! contains itself by value) is an [`Error`] naming the type, never a hang or
//! a stack overflow. libbpf's `skip_mods_and_typedefs` and `btf__align_of`
//! have no such bound.

use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::kind::Kind;
use crate::types::{Member, Type};

/// libbpf's `MAX_RESOLVE_DEPTH`: the longest chain of modifiers, typedefs
/// (and, for sizes, arrays and VARs) these functions follow.
pub const MAX_RESOLVE_DEPTH: u32 = 32;

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`: the deepest nesting of anonymous
/// structs and unions [`member_by_name`] descends through.
pub const MAX_MEMBER_DEPTH: usize = 64;

/// The pointer size assumed when a BTF has no `long` to tell (libbpf uses
/// the host's `sizeof(void *)`; bpfld targets 64-bit hosts).
pub const DEFAULT_POINTER_SIZE: u32 = 8;

/// The type with `id`, or `None` for `void` (id 0).
pub fn type_or_void(btf: &Btf, id: u32) -> Result<Option<Type<'_>>> {
    if id == 0 {
        Ok(None)
    } else {
        btf.type_by_id(id).map(Some)
    }
}

/// The kind of an optional type, `None` standing for `void` (libbpf's
/// `BTF_KIND_UNKN`).
pub fn kind_of(t: &Option<Type<'_>>) -> Option<Kind> {
    t.as_ref().map(|t| t.kind())
}

fn skip_while<'a>(btf: &'a Btf, start: u32, what: &str, skip: impl Fn(Kind) -> bool) -> Result<(u32, Option<Type<'a>>)> {
    let mut id = start;
    for _ in 0..=MAX_RESOLVE_DEPTH {
        let t = type_or_void(btf, id)?;
        match t {
            Some(ty) if skip(ty.kind()) => id = ty.raw_size_or_type(),
            _ => return Ok((id, t)),
        }
    }
    Err(Error::types(format!(
        "chain of {what} starting at type [{start}] does not end within {MAX_RESOLVE_DEPTH} links \
         (reached [{id}]; a reference loop?)"
    ))
    .ty(start))
}

/// Looks through CONST, VOLATILE, RESTRICT, TYPE_TAG and TYPEDEF, as libbpf's
/// `skip_mods_and_typedefs`: returns the id reached and its type (`None` for
/// `void`). At most [`MAX_RESOLVE_DEPTH`] links are followed; a longer chain
/// (in practice a loop) is an error naming the starting type.
pub fn skip_mods_and_typedefs(btf: &Btf, id: u32) -> Result<(u32, Option<Type<'_>>)> {
    skip_while(btf, id, "modifiers and typedefs", |k| k.is_modifier() || k == Kind::Typedef)
}

/// Looks through CONST, VOLATILE, RESTRICT and TYPE_TAG only (typedefs are
/// kept), with the same bound as [`skip_mods_and_typedefs`].
pub fn skip_mods(btf: &Btf, id: u32) -> Result<(u32, Option<Type<'_>>)> {
    skip_while(btf, id, "modifiers", |k| k.is_modifier())
}

/// `btf__resolve_type`: looks through modifiers, typedefs and VARs and
/// returns the id reached. Like libbpf, reaching `void` or a FWD is an error,
/// and so is a chain of [`MAX_RESOLVE_DEPTH`] links or more (libbpf counts
/// the links it took and fails when the count reaches the limit, so at most
/// 31 links resolve).
pub fn resolve_type(btf: &Btf, id: u32) -> Result<u32> {
    let start = id;
    let mut id = id;
    let mut depth = 0;
    let mut t = type_or_void(btf, id)?;
    while depth < MAX_RESOLVE_DEPTH {
        match t {
            Some(ty) if ty.kind().is_modifier() || matches!(ty.kind(), Kind::Typedef | Kind::Var) => {
                id = ty.raw_size_or_type();
                t = type_or_void(btf, id)?;
                depth += 1;
            }
            _ => break,
        }
    }
    if depth == MAX_RESOLVE_DEPTH {
        return Err(Error::types(format!(
            "type [{start}] does not resolve within {MAX_RESOLVE_DEPTH} links (reached [{id}]; a reference loop?)"
        ))
        .ty(start));
    }
    match t {
        None => Err(Error::types(format!("type [{start}] resolves to void")).ty(start)),
        Some(ty) if ty.kind() == Kind::Fwd => {
            Err(Error::types(format!("type [{start}] resolves to the forward declaration [{id}]")).ty(start))
        }
        Some(_) => Ok(id),
    }
}

/// The kind `id` has once modifiers and typedefs are looked through, `None`
/// for `void`.
pub fn resolved_kind(btf: &Btf, id: u32) -> Result<Option<Kind>> {
    Ok(kind_of(&skip_mods_and_typedefs(btf, id)?.1))
}

/// Whether `id` is `void` once modifiers and typedefs are looked through.
pub fn is_void(btf: &Btf, id: u32) -> Result<bool> {
    Ok(resolved_kind(btf, id)?.is_none())
}
/// Whether `id` is an INT once modifiers and typedefs are looked through.
pub fn is_int(btf: &Btf, id: u32) -> Result<bool> {
    Ok(resolved_kind(btf, id)? == Some(Kind::Int))
}
/// Whether `id` is a PTR once modifiers and typedefs are looked through.
pub fn is_ptr(btf: &Btf, id: u32) -> Result<bool> {
    Ok(resolved_kind(btf, id)? == Some(Kind::Ptr))
}
/// Whether `id` is a STRUCT or UNION once modifiers and typedefs are looked
/// through.
pub fn is_composite(btf: &Btf, id: u32) -> Result<bool> {
    Ok(resolved_kind(btf, id)?.is_some_and(Kind::is_composite))
}
/// Whether `id` is an ENUM or ENUM64 once modifiers and typedefs are looked
/// through.
pub fn is_any_enum(btf: &Btf, id: u32) -> Result<bool> {
    Ok(resolved_kind(btf, id)?.is_some_and(Kind::is_enum))
}
/// Whether `id` is a FUNC_PROTO once modifiers and typedefs are looked
/// through.
pub fn is_func_proto(btf: &Btf, id: u32) -> Result<bool> {
    Ok(resolved_kind(btf, id)? == Some(Kind::FuncProto))
}
/// Whether `id` is a pointer to a FUNC_PROTO (a function pointer), looking
/// through modifiers and typedefs on both levels.
pub fn is_func_ptr(btf: &Btf, id: u32) -> Result<bool> {
    match skip_mods_and_typedefs(btf, id)?.1 {
        Some(t) if t.kind() == Kind::Ptr => is_func_proto(btf, t.raw_size_or_type()),
        _ => Ok(false),
    }
}

/// The names libbpf's `determine_ptr_size` recognizes as `long` or
/// `unsigned long`.
const LONG_ALIASES: [&[u8]; 11] = [
    b"long",
    b"long int",
    b"int long",
    b"unsigned long",
    b"long unsigned",
    b"unsigned long int",
    b"unsigned int long",
    b"long unsigned int",
    b"long int unsigned",
    b"int unsigned long",
    b"int long unsigned",
];

/// The pointer size a BTF was built for, as libbpf's `determine_ptr_size`
/// guesses it: the size of the first 4- or 8-byte INT (in id order, base
/// first) named `long`, `unsigned long` or a spelling of them, else `None`.
pub fn pointer_size_of(btf: &Btf) -> Option<u32> {
    btf.all_types().find_map(|t| {
        if t.kind() != Kind::Int {
            return None;
        }
        let size = t.raw_size_or_type();
        if size != 4 && size != 8 {
            return None;
        }
        let name = t.name_bytes().ok()?;
        LONG_ALIASES.contains(&name).then_some(size)
    })
}

/// [`pointer_size_of`], defaulting to [`DEFAULT_POINTER_SIZE`] as libbpf's
/// `btf_ptr_sz` defaults to the host's.
pub fn pointer_size(btf: &Btf) -> u32 {
    pointer_size_of(btf).unwrap_or(DEFAULT_POINTER_SIZE)
}

/// `btf__resolve_size`: the size in bytes of an object of type `id`.
///
/// Modifiers, typedefs, VARs and DECL_TAGs are looked through; an ARRAY
/// multiplies its element count into the result; a PTR has the BTF's
/// pointer size ([`pointer_size`]). INT, STRUCT, UNION, ENUM, ENUM64,
/// DATASEC and FLOAT have their `size`. `void`, FWD, FUNC and FUNC_PROTO have
/// no size (an error), and so does a chain that does not end within
/// [`MAX_RESOLVE_DEPTH`] steps. As in libbpf, the element count and the total
/// are limited to `u32::MAX` (E2BIG there, an error here); once an array of
/// zero elements is met the result is 0 whatever follows.
pub fn resolve_size(btf: &Btf, id: u32) -> Result<u64> {
    let start = id;
    let mut id = id;
    let mut nelems: u64 = 1;
    let too_big = || Error::types(format!("size of type [{start}] exceeds {} bytes", u32::MAX)).ty(start);
    for _ in 0..MAX_RESOLVE_DEPTH {
        let Some(t) = type_or_void(btf, id)? else {
            return Err(Error::types(format!("type [{start}] resolves to void, which has no size")).ty(start));
        };
        let size = match t.kind() {
            Kind::Int | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Datasec | Kind::Float => t.raw_size_or_type() as u64,
            Kind::Ptr => pointer_size(btf) as u64,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::Var | Kind::DeclTag | Kind::TypeTag => {
                id = t.raw_size_or_type();
                continue;
            }
            Kind::Array => {
                let a = t.array().expect("ARRAY has array info");
                if nelems != 0 && a.nelems as u64 > u32::MAX as u64 / nelems {
                    return Err(too_big());
                }
                nelems *= a.nelems as u64;
                id = a.elem_type;
                continue;
            }
            Kind::Fwd => {
                return Err(Error::types(format!("type [{start}] resolves to the forward declaration [{id}], which has no size")).ty(start))
            }
            k => return Err(Error::types(format!("type [{start}] resolves to [{id}] of kind {}, which has no size", k.name())).ty(start)),
        };
        if nelems != 0 && size > u32::MAX as u64 / nelems {
            return Err(too_big());
        }
        return Ok(nelems * size);
    }
    Err(Error::types(format!(
        "size of type [{start}] does not resolve within {MAX_RESOLVE_DEPTH} steps (reached [{id}]; a reference loop?)"
    ))
    .ty(start))
}

/// `btf__align_of`: the alignment in bytes of type `id`.
///
/// INT, ENUM, ENUM64 and FLOAT align to their size capped at the pointer
/// size (an 8-byte `long long` aligns to 4 in 32-bit BTF, `__int128` to 8);
/// PTR to the pointer size; modifiers, typedefs and arrays to what they
/// refer to. A STRUCT or UNION aligns to its most aligned member, except
/// that it is taken as packed (alignment 1) when a non-bitfield member sits
/// at an offset that is not a multiple of that member's alignment, or when
/// its size is not a multiple of the alignment found. `void`, FWD, FUNC,
/// FUNC_PROTO, VAR, DATASEC and DECL_TAG have no alignment (an error).
/// Unlike libbpf, recursion is bounded by [`MAX_RESOLVE_DEPTH`] so that a
/// struct containing itself is an error rather than a stack overflow.
pub fn align_of(btf: &Btf, id: u32) -> Result<u32> {
    align_of_at(btf, id, id, 0)
}

fn align_of_at(btf: &Btf, start: u32, id: u32, depth: u32) -> Result<u32> {
    if depth > MAX_RESOLVE_DEPTH {
        return Err(Error::types(format!(
            "alignment of type [{start}] does not resolve within {MAX_RESOLVE_DEPTH} levels (reached [{id}]; a reference loop?)"
        ))
        .ty(start));
    }
    let Some(t) = type_or_void(btf, id)? else {
        return Err(Error::types(format!("type [{start}] reaches void, which has no alignment")).ty(start));
    };
    match t.kind() {
        Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => Ok(pointer_size(btf).min(t.raw_size_or_type())),
        Kind::Ptr => Ok(pointer_size(btf)),
        Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
            align_of_at(btf, start, t.raw_size_or_type(), depth + 1)
        }
        Kind::Array => align_of_at(btf, start, t.array().expect("ARRAY has array info").elem_type, depth + 1),
        Kind::Struct | Kind::Union => {
            let mut max_align = 1u32;
            for m in t.members() {
                let align = align_of_at(btf, start, m.type_id, depth + 1)?;
                max_align = max_align.max(align);
                // A plain member off its natural alignment: the composite
                // must have been declared packed.
                if m.bitfield_size == 0 && m.bit_offset as u64 % (8 * align as u64) != 0 {
                    return Ok(1);
                }
            }
            // Likewise when the size is not a multiple of the alignment.
            if t.raw_size_or_type() % max_align != 0 {
                return Ok(1);
            }
            Ok(max_align)
        }
        k => Err(Error::types(format!("type [{start}] reaches [{id}] of kind {}, which has no alignment", k.name())).ty(start)),
    }
}

/// The composite `id` (looking through modifiers and typedefs), or an error
/// saying what it is instead.
pub fn composite(btf: &Btf, id: u32) -> Result<Type<'_>> {
    match skip_mods_and_typedefs(btf, id)? {
        (_, Some(t)) if t.kind().is_composite() => Ok(t),
        (rid, t) => {
            Err(Error::types(format!("type [{id}] is {} [{rid}], not a STRUCT or UNION", kind_of(&t).map_or("void", Kind::name))).ty(id))
        }
    }
}

/// Member `index` of the composite `id` (looking through modifiers and
/// typedefs).
pub fn member(btf: &Btf, id: u32, index: usize) -> Result<Member> {
    let t = composite(btf, id)?;
    let n = t.vlen();
    t.members().nth(index).ok_or_else(|| Error::types(format!("member index {index} out of range: [{}] has {n} members", t.id())).ty(id))
}

/// Bit offset of member `index` from the start of the composite `id`
/// (`btf_member_bit_offset`: with kflag the low 24 bits of the offset word).
pub fn member_bit_offset(btf: &Btf, id: u32, index: usize) -> Result<u32> {
    Ok(member(btf, id, index)?.bit_offset)
}

/// Bitfield size of member `index` of the composite `id` as
/// `btf_member_bitfield_size` reports it: the top 8 bits of the offset word
/// when the composite has kflag set, 0 otherwise (including for old-style
/// bitfields encoded in the INT; see [`member_bitfield`]).
pub fn member_bitfield_size(btf: &Btf, id: u32, index: usize) -> Result<u32> {
    Ok(member(btf, id, index)?.bitfield_size)
}

/// Where a bitfield member's bits are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bitfield {
    /// Offset in bits of the first bit from the start of the composite.
    pub bit_offset: u32,
    /// Width in bits.
    pub bit_size: u32,
}

/// The bits member `index` of the composite `id` occupies if it is a
/// bitfield, `None` if it is a plain member.
///
/// Two encodings exist. With the composite's kflag set, the member's offset
/// word carries the width (`bitfield_size`). Without kflag, old compilers
/// encoded a bitfield as a member whose type (looking through modifiers and
/// typedefs) is an INT with a bit offset or a width narrower than its size;
/// the kernel still accepts that, adding the INT's bit offset to the
/// member's. libbpf's CO-RE rejects such INTs (see
/// [`crate::relate::types_are_compat`]), but the loader can still describe
/// them.
pub fn member_bitfield(btf: &Btf, id: u32, index: usize) -> Result<Option<Bitfield>> {
    let t = composite(btf, id)?;
    let m = member(btf, id, index)?;
    if t.kflag() {
        return Ok((m.bitfield_size != 0).then_some(Bitfield { bit_offset: m.bit_offset, bit_size: m.bitfield_size }));
    }
    let Some(mt) = skip_mods_and_typedefs(btf, m.type_id)?.1 else {
        return Ok(None);
    };
    let Some(info) = mt.int_info() else {
        return Ok(None);
    };
    let full = mt.raw_size_or_type().saturating_mul(8);
    if info.bit_offset == 0 && info.bits as u32 == full {
        return Ok(None);
    }
    Ok(Some(Bitfield { bit_offset: m.bit_offset.saturating_add(info.bit_offset as u32), bit_size: info.bits as u32 }))
}

/// A member found by [`member_by_name`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberPath {
    /// Member indices from the outer composite down: every index but the
    /// last selects an anonymous struct or union member.
    pub path: Vec<usize>,
    /// Offset in bits of the member from the start of the outer composite
    /// (the offsets along the path summed).
    pub bit_offset: u64,
    /// The composite (after modifiers and typedefs) that holds the member.
    pub parent_id: u32,
    /// The member itself, as its parent records it.
    pub member: Member,
}

/// Finds the member named `name` of the composite `id`, descending into
/// anonymous members as C name lookup does (`struct { union { int a; }; }`
/// has a member `a`).
///
/// Like CO-RE's member search in libbpf (`bpf_core_match_member`), members
/// are visited in order and an anonymous member is searched, depth first,
/// where it stands; the first match wins. An anonymous member that is not a
/// struct or union is skipped. Nesting deeper than [`MAX_MEMBER_DEPTH`] is
/// an error. `Ok(None)` means there is no such member (an empty `name`
/// matches nothing).
pub fn member_by_name(btf: &Btf, id: u32, name: &str) -> Result<Option<MemberPath>> {
    let t = composite(btf, id)?;
    if name.is_empty() {
        return Ok(None);
    }
    let mut path = Vec::new();
    find_member(btf, id, t, name.as_bytes(), &mut path, 0)
}

fn find_member(btf: &Btf, start: u32, t: Type<'_>, name: &[u8], path: &mut Vec<usize>, bit_offset: u64) -> Result<Option<MemberPath>> {
    if path.len() >= MAX_MEMBER_DEPTH {
        return Err(Error::types(format!("anonymous members of [{start}] nest deeper than {MAX_MEMBER_DEPTH} levels (a reference loop?)"))
            .ty(start));
    }
    for (i, m) in t.members().enumerate() {
        let mname = btf.str_raw(m.name_off)?;
        let off = bit_offset + m.bit_offset as u64;
        if mname.is_empty() {
            let (_, inner) = skip_mods_and_typedefs(btf, m.type_id)?;
            let Some(inner) = inner.filter(|it| it.kind().is_composite()) else {
                continue;
            };
            path.push(i);
            if let Some(found) = find_member(btf, start, inner, name, path, off)? {
                return Ok(Some(found));
            }
            path.pop();
        } else if mname == name {
            let mut p = path.clone();
            p.push(i);
            return Ok(Some(MemberPath { path: p, bit_offset: off, parent_id: t.id(), member: m }));
        }
    }
    Ok(None)
}

/// Hand-built BTF for the unit tests of this module and of
/// [`crate::relate`].
#[cfg(test)]
pub(crate) mod test_btf {
    use crate::btf::Btf;
    use crate::kind::{FuncLinkage, Kind};
    use crate::types::ArrayInfo;
    use crate::writer::{OwnedMember, OwnedType, TypeData, Writer};

    /// A tiny builder over [`Writer`]: each method pushes one type and
    /// returns its id.
    pub(crate) struct B {
        pub(crate) w: Writer,
    }

    fn ty(name: &str, kind: Kind, kflag: bool, size_or_type: u32, data: TypeData) -> OwnedType {
        OwnedType { name: name.to_string(), kind, kflag, size_or_type, data }
    }

    impl B {
        pub(crate) fn new() -> B {
            B { w: Writer::new() }
        }
        /// Types of a split BTF on top of `base`.
        pub(crate) fn split(base: &Btf) -> B {
            B { w: Writer::new_split(base) }
        }
        /// The id the next pushed type will get.
        pub(crate) fn next_id(&self) -> u32 {
            self.w.first_id() + self.w.types.len() as u32
        }
        pub(crate) fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
            self.int_raw(name, size, signed as u32, 0, size * 8)
        }
        pub(crate) fn int_raw(&mut self, name: &str, size: u32, encoding: u32, bit_off: u32, bits: u32) -> u32 {
            self.w.push(ty(name, Kind::Int, false, size, TypeData::Int(encoding << 24 | bit_off << 16 | bits)))
        }
        pub(crate) fn float(&mut self, name: &str, size: u32) -> u32 {
            self.w.push(ty(name, Kind::Float, false, size, TypeData::None))
        }
        pub(crate) fn ptr(&mut self, to: u32) -> u32 {
            self.w.push(ty("", Kind::Ptr, false, to, TypeData::None))
        }
        pub(crate) fn typedef(&mut self, name: &str, to: u32) -> u32 {
            self.w.push(ty(name, Kind::Typedef, false, to, TypeData::None))
        }
        pub(crate) fn modifier(&mut self, kind: Kind, to: u32) -> u32 {
            self.w.push(ty("", kind, false, to, TypeData::None))
        }
        pub(crate) fn konst(&mut self, to: u32) -> u32 {
            self.modifier(Kind::Const, to)
        }
        pub(crate) fn array(&mut self, elem: u32, index: u32, nelems: u32) -> u32 {
            self.w.push(ty("", Kind::Array, false, 0, TypeData::Array(ArrayInfo { elem_type: elem, index_type: index, nelems })))
        }
        /// A STRUCT or UNION; members are (name, type, bit offset).
        pub(crate) fn composite(&mut self, kind: Kind, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            let ms = members.iter().map(|&(n, t, off)| OwnedMember { name: n.to_string(), type_id: t, offset: off }).collect();
            self.w.push(ty(name, kind, false, size, TypeData::Members(ms)))
        }
        pub(crate) fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            self.composite(Kind::Struct, name, size, members)
        }
        pub(crate) fn union(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
            self.composite(Kind::Union, name, size, members)
        }
        /// A kflag STRUCT: members are (name, type, bit offset, bitfield size).
        pub(crate) fn strukt_kflag(&mut self, name: &str, size: u32, members: &[(&str, u32, u32, u32)]) -> u32 {
            let ms = members
                .iter()
                .map(|&(n, t, off, bits)| OwnedMember { name: n.to_string(), type_id: t, offset: bits << 24 | off })
                .collect();
            self.w.push(ty(name, Kind::Struct, true, size, TypeData::Members(ms)))
        }
        pub(crate) fn fwd(&mut self, name: &str, is_union: bool) -> u32 {
            self.w.push(ty(name, Kind::Fwd, is_union, 0, TypeData::None))
        }
        pub(crate) fn enum32(&mut self, name: &str, size: u32, values: &[(&str, u32)]) -> u32 {
            let vs = values.iter().map(|&(n, v)| (n.to_string(), v)).collect();
            self.w.push(ty(name, Kind::Enum, false, size, TypeData::Enum(vs)))
        }
        pub(crate) fn enum64(&mut self, name: &str, size: u32, values: &[(&str, u64)]) -> u32 {
            let vs = values.iter().map(|&(n, v)| (n.to_string(), v)).collect();
            self.w.push(ty(name, Kind::Enum64, false, size, TypeData::Enum64(vs)))
        }
        pub(crate) fn proto(&mut self, ret: u32, params: &[u32]) -> u32 {
            let ps = params.iter().enumerate().map(|(i, &t)| (format!("p{i}"), t)).collect();
            self.w.push(ty("", Kind::FuncProto, false, ret, TypeData::Params(ps)))
        }
        pub(crate) fn func(&mut self, name: &str, proto: u32) -> u32 {
            self.w.push(ty(name, Kind::Func, false, proto, TypeData::Func(FuncLinkage::Global)))
        }
        pub(crate) fn var(&mut self, name: &str, to: u32) -> u32 {
            self.w.push(ty(name, Kind::Var, false, to, TypeData::Var(1)))
        }
        pub(crate) fn build(&self) -> Btf {
            Btf::from_vec(self.w.write().expect("write BTF")).expect("parse hand-built BTF")
        }
        pub(crate) fn build_split(&self, base: &Btf) -> Btf {
            Btf::from_vec_split(self.w.write().expect("write BTF"), base).expect("parse hand-built split BTF")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_btf::B;
    use super::*;

    #[test]
    fn skip_mods_and_typedefs_follows_chains() {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let td = b.typedef("s32", int);
        let c = b.konst(td);
        let v = b.modifier(Kind::Volatile, c);
        let tag = b.modifier(Kind::TypeTag, v);
        let cv = b.konst(0);
        let btf = b.build();
        let (id, t) = skip_mods_and_typedefs(&btf, tag).unwrap();
        assert_eq!((id, t.unwrap().kind()), (int, Kind::Int));
        // skip_mods keeps the typedef.
        let (id, t) = skip_mods(&btf, tag).unwrap();
        assert_eq!((id, t.unwrap().kind()), (td, Kind::Typedef));
        // const void is void.
        let (id, t) = skip_mods_and_typedefs(&btf, cv).unwrap();
        assert_eq!(id, 0);
        assert!(t.is_none());
        assert!(skip_mods_and_typedefs(&btf, 0).unwrap().1.is_none());
        assert!(is_int(&btf, tag).unwrap());
        assert!(is_void(&btf, cv).unwrap());
        assert!(!is_ptr(&btf, tag).unwrap());
    }

    #[test]
    fn typedef_loop_is_an_error_naming_the_type() {
        let mut b = B::new();
        let me = b.next_id();
        let td = b.typedef("loop_t", me);
        assert_eq!(td, me);
        // a -> const -> a
        let a = b.next_id();
        b.typedef("a_t", a + 1);
        b.konst(a);
        let btf = b.build();
        for id in [td, a, a + 1] {
            let e = skip_mods_and_typedefs(&btf, id).unwrap_err();
            assert_eq!(e.type_id, Some(id), "{e}");
            assert!(e.to_string().contains(&format!("[{id}]")), "{e}");
            assert!(resolve_type(&btf, id).is_err());
            assert!(resolve_size(&btf, id).is_err());
            assert!(align_of(&btf, id).is_err());
        }
        assert!(skip_mods(&btf, a + 1).is_ok(), "skip_mods stops at the typedef");
    }

    #[test]
    fn depth_limit_is_32_links() {
        // A chain of exactly 32 typedefs resolves; 33 does not.
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let mut last = int;
        let mut chain = Vec::new();
        for i in 0..33 {
            last = b.typedef(&format!("t{i}"), last);
            chain.push(last);
        }
        let btf = b.build();
        assert_eq!(skip_mods_and_typedefs(&btf, chain[31]).unwrap().0, int);
        assert!(skip_mods_and_typedefs(&btf, chain[32]).is_err());
        // btf__resolve_type fails once it has taken 32 links.
        assert_eq!(resolve_type(&btf, chain[30]).unwrap(), int);
        assert!(resolve_type(&btf, chain[31]).is_err());
        // btf__resolve_size gives up after 32 steps (32 links and the INT).
        assert_eq!(resolve_size(&btf, chain[30]).unwrap(), 4);
        assert!(resolve_size(&btf, chain[31]).is_err());
    }

    #[test]
    fn resolve_type_skips_vars_and_rejects_void_and_fwd() {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let c = b.konst(int);
        let v = b.var("x", c);
        let fwd = b.fwd("s", false);
        let pv = b.konst(0);
        let btf = b.build();
        assert_eq!(resolve_type(&btf, v).unwrap(), int);
        assert!(resolve_type(&btf, fwd).is_err());
        assert!(resolve_type(&btf, pv).is_err());
        assert!(resolve_type(&btf, 0).is_err());
    }

    #[test]
    fn sizes_follow_btf_resolve_size() {
        let mut b = B::new();
        let long = b.int("long int", 8, true);
        let char_ = b.int("char", 1, true);
        let ptr = b.ptr(char_);
        let arr = b.array(ptr, long, 3);
        let arr2 = b.array(arr, long, 4);
        let zero = b.array(arr, long, 0);
        let s = b.strukt("s", 24, &[("p", arr, 0)]);
        let td = b.typedef("s_t", s);
        let v = b.var("v", td);
        let fwd = b.fwd("f", false);
        let proto = b.proto(0, &[]);
        let f = b.float("double", 8);
        let huge = b.array(long, long, 0x2000_0000);
        let huge2 = b.array(char_, long, u32::MAX);
        let over = b.array(huge2, long, 2);
        let e = b.enum64("e", 8, &[("A", 1)]);
        let btf = b.build();
        assert_eq!(pointer_size(&btf), 8);
        assert_eq!(resolve_size(&btf, ptr).unwrap(), 8);
        assert_eq!(resolve_size(&btf, arr).unwrap(), 24);
        assert_eq!(resolve_size(&btf, arr2).unwrap(), 96);
        assert_eq!(resolve_size(&btf, zero).unwrap(), 0);
        assert_eq!(resolve_size(&btf, v).unwrap(), 24);
        assert_eq!(resolve_size(&btf, f).unwrap(), 8);
        assert_eq!(resolve_size(&btf, e).unwrap(), 8);
        assert_eq!(resolve_size(&btf, huge2).unwrap(), u32::MAX as u64);
        // 0x2000_0000 * 8 = 2^32: one past what libbpf allows.
        assert!(resolve_size(&btf, huge).is_err());
        assert!(resolve_size(&btf, over).is_err());
        assert!(resolve_size(&btf, fwd).is_err());
        assert!(resolve_size(&btf, proto).is_err());
        assert!(resolve_size(&btf, 0).is_err());
    }

    #[test]
    fn pointer_size_comes_from_long() {
        let mut b = B::new();
        b.int("int", 4, true);
        let c = b.int("char", 1, true);
        let p = b.ptr(c);
        let btf = b.build();
        assert_eq!(pointer_size_of(&btf), None);
        assert_eq!(resolve_size(&btf, p).unwrap(), 8, "default");

        let mut b = B::new();
        b.int("long unsigned int", 4, false);
        let c = b.int("char", 1, true);
        let p = b.ptr(c);
        let ll = b.int("long long int", 8, true);
        let btf = b.build();
        assert_eq!(pointer_size_of(&btf), Some(4));
        assert_eq!(resolve_size(&btf, p).unwrap(), 4);
        assert_eq!(align_of(&btf, p).unwrap(), 4);
        assert_eq!(align_of(&btf, ll).unwrap(), 4, "capped at the pointer size");
    }

    #[test]
    fn alignment_follows_btf_align_of() {
        let mut b = B::new();
        let long = b.int("long int", 8, true);
        let int = b.int("int", 4, true);
        let ch = b.int("char", 1, true);
        let i128 = b.int("__int128", 16, true);
        let p = b.ptr(ch);
        let arr = b.array(int, int, 3);
        let c = b.konst(arr);
        let plain = b.strukt("plain", 16, &[("c", ch, 0), ("l", long, 64)]);
        // struct __attribute__((packed)) { char c; long l; }: l at byte 1.
        let packed = b.strukt("packed", 9, &[("c", ch, 0), ("l", long, 8)]);
        // { long l; char c; } packed only in size: 9 bytes.
        let packed_tail = b.strukt("packed_tail", 9, &[("l", long, 0), ("c", ch, 64)]);
        // A kflag bitfield at an odd offset does not mean packed.
        let bits = b.strukt_kflag("bits", 8, &[("a", int, 0, 3), ("b", int, 3, 5), ("l", int, 32, 0)]);
        let empty = b.strukt("empty", 0, &[]);
        let u = b.union("u", 8, &[("i", int, 0), ("p", p, 0)]);
        let fwd = b.fwd("f", false);
        let proto = b.proto(0, &[]);
        let e = b.enum32("e", 4, &[("A", 0)]);
        let btf = b.build();
        assert_eq!(align_of(&btf, ch).unwrap(), 1);
        assert_eq!(align_of(&btf, i128).unwrap(), 8);
        assert_eq!(align_of(&btf, p).unwrap(), 8);
        assert_eq!(align_of(&btf, c).unwrap(), 4);
        assert_eq!(align_of(&btf, plain).unwrap(), 8);
        assert_eq!(align_of(&btf, packed).unwrap(), 1);
        assert_eq!(align_of(&btf, packed_tail).unwrap(), 1);
        assert_eq!(align_of(&btf, bits).unwrap(), 4);
        assert_eq!(align_of(&btf, empty).unwrap(), 1);
        assert_eq!(align_of(&btf, u).unwrap(), 8);
        assert_eq!(align_of(&btf, e).unwrap(), 4);
        assert!(align_of(&btf, fwd).is_err());
        assert!(align_of(&btf, proto).is_err());
        assert!(align_of(&btf, 0).is_err());
    }

    #[test]
    fn struct_containing_itself_is_an_error() {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let me = b.next_id();
        b.strukt("loop", 8, &[("i", int, 0), ("self", me, 32)]);
        let btf = b.build();
        let e = align_of(&btf, me).unwrap_err();
        assert_eq!(e.type_id, Some(me));
        // Its size is simply its recorded size.
        assert_eq!(resolve_size(&btf, me).unwrap(), 8);
    }

    #[test]
    fn members_by_name_descend_into_anonymous_members() {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let long = b.int("long", 8, true);
        // struct inner { int x; int y; };
        let inner_u = b.union("", 8, &[("x", int, 0), ("y", long, 0)]);
        let c_inner = b.konst(inner_u);
        let anon_s = b.strukt("", 16, &[("a", int, 0), ("", c_inner, 64)]);
        let not_composite = b.int("int2", 4, true);
        let outer =
            b.strukt("outer", 40, &[("first", int, 0), ("", not_composite, 32), ("", anon_s, 64), ("y", int, 192), ("last", long, 256)]);
        let td = b.typedef("outer_t", outer);
        let btf = b.build();

        let m = member_by_name(&btf, td, "x").unwrap().unwrap();
        assert_eq!(m.path, vec![2, 1, 0]);
        assert_eq!(m.bit_offset, 64 + 64);
        assert_eq!(m.parent_id, inner_u);
        assert_eq!(m.member.type_id, int);
        // The first match in member order wins: the anonymous union's `y`
        // comes before outer's own `y`.
        let m = member_by_name(&btf, outer, "y").unwrap().unwrap();
        assert_eq!(m.path, vec![2, 1, 1]);
        assert_eq!(m.member.type_id, long);
        let m = member_by_name(&btf, outer, "last").unwrap().unwrap();
        assert_eq!((m.path, m.bit_offset, m.parent_id), (vec![4], 256, outer));
        assert!(member_by_name(&btf, outer, "nope").unwrap().is_none());
        assert!(member_by_name(&btf, outer, "").unwrap().is_none());
        assert!(member_by_name(&btf, int, "x").is_err(), "not a composite");
        assert_eq!(member_bit_offset(&btf, outer, 4).unwrap(), 256);
        assert!(member(&btf, outer, 5).is_err());
    }

    #[test]
    fn anonymous_member_loop_is_an_error() {
        let mut b = B::new();
        let me = b.next_id();
        b.strukt("loop", 4, &[("", me, 0)]);
        let btf = b.build();
        assert!(member_by_name(&btf, me, "x").is_err());
    }

    #[test]
    fn bitfields_in_both_encodings() {
        let mut b = B::new();
        let int = b.int("unsigned int", 4, false);
        let td = b.typedef("u32", int);
        let kf = b.strukt_kflag("kf", 8, &[("a", td, 0, 3), ("b", int, 3, 13), ("c", int, 32, 0)]);
        // Old style: the INT carries offset and width.
        let legacy_bits = b.int_raw("unsigned int", 4, 0, 2, 5);
        let legacy = b.strukt("legacy", 8, &[("a", legacy_bits, 32), ("b", int, 0)]);
        let btf = b.build();
        assert_eq!(member_bitfield(&btf, kf, 0).unwrap(), Some(Bitfield { bit_offset: 0, bit_size: 3 }));
        assert_eq!(member_bitfield(&btf, kf, 1).unwrap(), Some(Bitfield { bit_offset: 3, bit_size: 13 }));
        assert_eq!(member_bitfield(&btf, kf, 2).unwrap(), None);
        assert_eq!(member_bitfield_size(&btf, kf, 1).unwrap(), 13);
        assert_eq!(member_bit_offset(&btf, kf, 1).unwrap(), 3);
        assert_eq!(member_bitfield(&btf, legacy, 0).unwrap(), Some(Bitfield { bit_offset: 34, bit_size: 5 }));
        assert_eq!(member_bitfield(&btf, legacy, 1).unwrap(), None);
        assert_eq!(member_bitfield_size(&btf, legacy, 0).unwrap(), 0, "libbpf reads only the kflag encoding");
    }

    #[test]
    fn func_ptr_predicate() {
        let mut b = B::new();
        let int = b.int("int", 4, true);
        let proto = b.proto(int, &[int]);
        let td = b.typedef("fn_t", proto);
        let p = b.ptr(td);
        let cp = b.konst(p);
        let e = b.enum32("e", 4, &[]);
        let s = b.strukt("s", 0, &[]);
        let btf = b.build();
        assert!(is_func_ptr(&btf, cp).unwrap());
        assert!(!is_func_ptr(&btf, int).unwrap());
        assert!(is_func_proto(&btf, td).unwrap());
        assert!(is_any_enum(&btf, e).unwrap());
        assert!(is_composite(&btf, s).unwrap());
    }
}
