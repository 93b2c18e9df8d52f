//! BTF sanitization for kernels that lack a BTF kind or linkage, kind by
//! kind as libbpf 1.7's `bpf_object__sanitize_btf` does it, so that the
//! object's BTF still loads there (and with it func_info, line_info and
//! map value types such as `bpf_spin_lock`).
//!
//! Every replacement keeps the type's id and its record's size class, so
//! that every id held elsewhere (func_info, map key/value types, CO-RE)
//! stays valid, and the string section is kept as a prefix, so that the
//! string offsets of line_info stay valid too.

use bpfld_btf::writer::{OwnedMember, OwnedType, TypeData, Writer};
use bpfld_btf::{Btf, FuncLinkage, Kind};

use crate::btf_fixup::BtfFixError;
use crate::features::KernelFeatures;

/// The name libbpf gives the INT that ENUM64 values turn into.
const ENUM64_PLACEHOLDER: &str = "enum64_placeholder";

/// An 8-bit unsigned INT encoding (bits 0..7: size in bits).
const INT_8_BITS: u32 = 8;

/// The object's BTF as `features`' kernel can load it, or `None` if it
/// already can (nothing to change).
pub fn sanitize_btf(btf: &Btf, features: &KernelFeatures) -> Result<Option<Vec<u8>>, BtfFixError> {
    if !features.btf_needs_sanitizing() {
        return Ok(None);
    }
    let mut w = Writer::from_btf(btf)?;
    let mut changed = false;
    let mut placeholder = None;
    for i in 0..w.types.len() {
        let Some(new) = sanitized(&w, &w.types[i], features, &mut placeholder) else { continue };
        w.types[i] = new;
        changed = true;
    }
    if let Some(p) = placeholder {
        // Its id was chosen as the next free one; push it there now.
        let id = w.push(OwnedType {
            name: ENUM64_PLACEHOLDER.into(),
            kind: Kind::Int,
            kflag: false,
            size_or_type: 1,
            data: TypeData::Int(INT_8_BITS),
        });
        debug_assert_eq!(id, p);
    }
    if !changed {
        return Ok(None);
    }
    Ok(Some(w.write()?))
}

/// The replacement of one type, if `features` needs one (the first rule
/// that applies, in libbpf's order).
fn sanitized(w: &Writer, t: &OwnedType, f: &KernelFeatures, placeholder: &mut Option<u32>) -> Option<OwnedType> {
    let mut n = t.clone();
    match t.kind {
        // VAR (no DATASEC) and DECL_TAG: a 1-byte INT, smaller than any
        // variable, so that no size check can fail.
        Kind::Var if !f.btf_datasec => n = byte_int(&t.name),
        Kind::DeclTag if !f.btf_decl_tag => n = byte_int(&t.name),
        Kind::Datasec if !f.btf_datasec => {
            let TypeData::Datasec(vars) = &t.data else { return None };
            let members = vars
                .iter()
                .map(|v| OwnedMember {
                    name: w.get(v.type_id).map(|var| var.name.clone()).unwrap_or_default(),
                    type_id: v.type_id,
                    offset: v.offset.wrapping_mul(8),
                })
                .collect();
            n.name = t.name.replace(['.', '?'], "_");
            n.kind = Kind::Struct;
            n.kflag = false;
            n.data = TypeData::Members(members);
        }
        Kind::Datasec if !f.btf_qmark_datasec && t.name.starts_with('?') => n.name.replace_range(..1, "_"),
        Kind::FuncProto if !f.btf_func => {
            let TypeData::Params(params) = &t.data else { return None };
            n.kind = Kind::Enum;
            n.kflag = false;
            n.size_or_type = 4;
            n.data = TypeData::Enum(params.clone());
        }
        Kind::Func if !f.btf_func => {
            n.kind = Kind::Typedef;
            n.data = TypeData::None;
        }
        Kind::Func if !f.btf_global_func && t.data != TypeData::Func(FuncLinkage::Static) => n.data = TypeData::Func(FuncLinkage::Static),
        // An anonymous empty STRUCT of the same size: "float" is no valid
        // struct name.
        Kind::Float if !f.btf_float => {
            n.name.clear();
            n.kind = Kind::Struct;
            n.data = TypeData::Members(Vec::new());
        }
        Kind::TypeTag if !f.btf_type_tag => {
            n.name.clear();
            n.kind = Kind::Const;
        }
        // Before ENUM64 the kernel refuses an ENUM's kind flag (signedness).
        Kind::Enum if !f.btf_enum64 && t.kflag => n.kflag = false,
        Kind::Enum64 if !f.btf_enum64 => {
            let TypeData::Enum64(values) = &t.data else { return None };
            let p = *placeholder.get_or_insert(w.first_id() + w.types.len() as u32);
            n.kind = Kind::Union;
            n.kflag = false;
            n.data = TypeData::Members(values.iter().map(|(name, _)| OwnedMember { name: name.clone(), type_id: p, offset: 0 }).collect());
        }
        _ => return None,
    }
    Some(n)
}

fn byte_int(name: &str) -> OwnedType {
    OwnedType { name: name.into(), kind: Kind::Int, kflag: false, size_or_type: 1, data: TypeData::Int(INT_8_BITS) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfld_btf::VarSecInfo;

    fn all_but(f: impl FnOnce(&mut KernelFeatures)) -> KernelFeatures {
        let mut k = KernelFeatures::all();
        f(&mut k);
        k
    }

    fn int(w: &mut Writer) -> u32 {
        w.push(OwnedType { name: "int".into(), kind: Kind::Int, kflag: false, size_or_type: 4, data: TypeData::Int(32 | (1 << 24)) })
    }

    fn build(w: &Writer) -> Btf {
        Btf::from_vec(w.write().unwrap()).unwrap()
    }

    fn sanitize(btf: &Btf, f: &KernelFeatures) -> Btf {
        Btf::from_vec(sanitize_btf(btf, f).unwrap().expect("something to change")).unwrap()
    }

    /// `int x` in `.data`, `static int y` in `?.bss`.
    fn globals() -> (Btf, [u32; 5]) {
        let mut w = Writer::new();
        let i = int(&mut w);
        let x = w.push(OwnedType { name: "x".into(), kind: Kind::Var, kflag: false, size_or_type: i, data: TypeData::Var(1) });
        let y = w.push(OwnedType { name: "y".into(), kind: Kind::Var, kflag: false, size_or_type: i, data: TypeData::Var(0) });
        let data = TypeData::Datasec(vec![VarSecInfo { type_id: x, offset: 8, size: 4 }]);
        let d = w.push(OwnedType { name: ".data".into(), kind: Kind::Datasec, kflag: false, size_or_type: 16, data });
        let data = TypeData::Datasec(vec![VarSecInfo { type_id: y, offset: 0, size: 4 }]);
        let b = w.push(OwnedType { name: "?.bss".into(), kind: Kind::Datasec, kflag: false, size_or_type: 4, data });
        (build(&w), [i, x, y, d, b])
    }

    #[test]
    fn nothing_to_do_for_a_new_kernel() {
        let (btf, _) = globals();
        assert_eq!(sanitize_btf(&btf, &KernelFeatures::all()).unwrap(), None);
        // A kernel lacking only what the object does not use: no change.
        assert_eq!(sanitize_btf(&btf, &all_but(|k| k.btf_float = false)).unwrap(), None);
    }

    #[test]
    fn datasec_becomes_struct_and_var_a_byte_int() {
        let (btf, [_, x, y, d, b]) = globals();
        let s = sanitize(&btf, &all_but(|k| k.btf_datasec = false));
        let t = s.type_by_id(d).unwrap();
        assert_eq!((t.kind(), t.name().unwrap(), t.size()), (Kind::Struct, "_data", Some(16)));
        let m: Vec<_> = t.members().map(|m| (t.str(m.name_off).unwrap().to_string(), m.type_id, m.bit_offset)).collect();
        assert_eq!(m, [("x".to_string(), x, 64)]);
        assert_eq!(s.type_by_id(b).unwrap().name().unwrap(), "__bss");
        for v in [x, y] {
            let t = s.type_by_id(v).unwrap();
            assert_eq!((t.kind(), t.size(), t.int_info().unwrap().bits), (Kind::Int, Some(1), 8));
        }
        assert_eq!(s.type_by_id(x).unwrap().name().unwrap(), "x");
    }

    #[test]
    fn qmark_datasec_renamed_only() {
        let (btf, [_, x, _, d, b]) = globals();
        let s = sanitize(&btf, &all_but(|k| k.btf_qmark_datasec = false));
        assert_eq!(s.type_by_id(b).unwrap().name().unwrap(), "_.bss");
        assert_eq!(s.type_by_id(b).unwrap().kind(), Kind::Datasec);
        assert_eq!(s.type_by_id(d).unwrap().name().unwrap(), ".data");
        assert_eq!(s.type_by_id(x).unwrap().kind(), Kind::Var);
    }

    /// `int f(int a)` (global) and its proto.
    fn function() -> (Btf, u32, u32) {
        let mut w = Writer::new();
        let i = int(&mut w);
        let proto = w.push(OwnedType {
            name: String::new(),
            kind: Kind::FuncProto,
            kflag: false,
            size_or_type: i,
            data: TypeData::Params(vec![("a".into(), i)]),
        });
        let f = w.push(OwnedType {
            name: "f".into(),
            kind: Kind::Func,
            kflag: false,
            size_or_type: proto,
            data: TypeData::Func(FuncLinkage::Global),
        });
        (build(&w), proto, f)
    }

    #[test]
    fn func_becomes_typedef_and_proto_enum() {
        let (btf, proto, f) = function();
        let s = sanitize(&btf, &all_but(|k| k.btf_func = false));
        let t = s.type_by_id(f).unwrap();
        assert_eq!((t.kind(), t.name().unwrap(), t.type_ref()), (Kind::Typedef, "f", Some(proto)));
        let p = s.type_by_id(proto).unwrap();
        assert_eq!((p.kind(), p.size()), (Kind::Enum, Some(4)));
        let e: Vec<_> = p.enumerators().map(|e| (p.str(e.name_off).unwrap().to_string(), e.value)).collect();
        assert_eq!(e, [("a".to_string(), 1)]);
    }

    #[test]
    fn global_func_becomes_static() {
        let (btf, proto, f) = function();
        let s = sanitize(&btf, &all_but(|k| k.btf_global_func = false));
        let t = s.type_by_id(f).unwrap();
        assert_eq!((t.kind(), t.func_linkage()), (Kind::Func, Some(FuncLinkage::Static)));
        assert_eq!(s.type_by_id(proto).unwrap().kind(), Kind::FuncProto);
    }

    #[test]
    fn float_becomes_anonymous_empty_struct() {
        let mut w = Writer::new();
        let fl = w.push(OwnedType { name: "float".into(), kind: Kind::Float, kflag: false, size_or_type: 4, data: TypeData::None });
        let s = sanitize(&build(&w), &all_but(|k| k.btf_float = false));
        let t = s.type_by_id(fl).unwrap();
        assert_eq!((t.kind(), t.name().unwrap(), t.size(), t.vlen()), (Kind::Struct, "", Some(4), 0));
    }

    #[test]
    fn decl_tag_becomes_byte_int_and_type_tag_const() {
        let mut w = Writer::new();
        let i = int(&mut w);
        let tag = w.push(OwnedType { name: "user".into(), kind: Kind::TypeTag, kflag: false, size_or_type: i, data: TypeData::None });
        let ptr = w.push(OwnedType { name: String::new(), kind: Kind::Ptr, kflag: false, size_or_type: tag, data: TypeData::None });
        let dt = w.push(OwnedType { name: "x".into(), kind: Kind::DeclTag, kflag: false, size_or_type: i, data: TypeData::DeclTag(-1) });
        let btf = build(&w);
        let s = sanitize(&btf, &all_but(|k| k.btf_decl_tag = false));
        let t = s.type_by_id(dt).unwrap();
        assert_eq!((t.kind(), t.size(), t.name().unwrap()), (Kind::Int, Some(1), "x"));
        assert_eq!(s.type_by_id(tag).unwrap().kind(), Kind::TypeTag, "only what is missing changes");
        let s = sanitize(&btf, &all_but(|k| k.btf_type_tag = false));
        let t = s.type_by_id(tag).unwrap();
        assert_eq!((t.kind(), t.name().unwrap(), t.type_ref()), (Kind::Const, "", Some(i)));
        assert_eq!(s.type_by_id(ptr).unwrap().type_ref(), Some(tag));
    }

    #[test]
    fn enum64_becomes_union_and_enum_loses_kind_flag() {
        let mut w = Writer::new();
        let e64 = w.push(OwnedType {
            name: "big".into(),
            kind: Kind::Enum64,
            kflag: false,
            size_or_type: 8,
            data: TypeData::Enum64(vec![("A".into(), 1 << 40), ("B".into(), 2)]),
        });
        let signed = w.push(OwnedType {
            name: "s".into(),
            kind: Kind::Enum,
            kflag: true,
            size_or_type: 4,
            data: TypeData::Enum(vec![("M".into(), u32::MAX)]),
        });
        let s = sanitize(&build(&w), &all_but(|k| k.btf_enum64 = false));
        let placeholder = s.type_count() - 1;
        let p = s.type_by_id(placeholder).unwrap();
        assert_eq!((p.kind(), p.name().unwrap(), p.size()), (Kind::Int, ENUM64_PLACEHOLDER, Some(1)));
        let u = s.type_by_id(e64).unwrap();
        assert_eq!((u.kind(), u.size(), u.name().unwrap()), (Kind::Union, Some(8), "big"));
        let m: Vec<_> = u.members().map(|m| (u.str(m.name_off).unwrap().to_string(), m.type_id, m.bit_offset)).collect();
        assert_eq!(m, [("A".to_string(), placeholder, 0), ("B".to_string(), placeholder, 0)]);
        let e = s.type_by_id(signed).unwrap();
        assert_eq!((e.kind(), e.kflag()), (Kind::Enum, false));
    }

    #[test]
    fn string_offsets_survive() {
        // line_info's file and line strings are offsets into the string
        // section: a renamed DATASEC must not move them.
        let (btf, [_, _, _, d, _]) = globals();
        let off = btf.type_by_id(d).unwrap().name_off();
        let s = sanitize(&btf, &all_but(|k| k.btf_datasec = false));
        assert_eq!(s.str(off).unwrap(), ".data");
    }
}
