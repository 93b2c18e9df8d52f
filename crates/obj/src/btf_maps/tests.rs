//! Typed errors of `.maps` parsing on hand-built BTF: the problem's
//! facts, where it is (map, attribute), its kind and its text.

use bpfld_btf::writer::{OwnedMember, OwnedType, TypeData, Writer};
use bpfld_btf::{ArrayInfo, Btf, Kind, VarSecInfo};

use super::*;
use crate::error::{ErrorKind, Kind as _};

/// How a test map spells one attribute.
enum Attr {
    /// `__uint(name, N)`.
    Uint(u32),
    /// The member's type is `int` itself (not the `__uint` encoding).
    Int,
}

/// `.maps` with one map `m` of the given attributes and VAR linkage
/// (1: global), and the section's size.
fn maps_btf(attrs: &[(&str, Attr)], linkage: u32) -> (Btf, usize) {
    let mut w = Writer::new();
    let mut push = |name: &str, kind: Kind, size_or_type: u32, data: TypeData| {
        w.push(OwnedType { name: name.into(), kind, kflag: false, size_or_type, data })
    };
    let int = push("int", Kind::Int, 4, TypeData::Int(32));
    let mut members = Vec::new();
    for (i, (name, attr)) in attrs.iter().enumerate() {
        let type_id = match attr {
            Attr::Uint(n) => {
                let arr = push("", Kind::Array, 0, TypeData::Array(ArrayInfo { elem_type: int, index_type: int, nelems: *n }));
                push("", Kind::Ptr, arr, TypeData::None)
            }
            Attr::Int => int,
        };
        members.push(OwnedMember { name: name.to_string(), type_id, offset: i as u32 * 64 });
    }
    let size = attrs.len() as u32 * 8;
    let def = push("", Kind::Struct, size, TypeData::Members(members));
    let var = push("m", Kind::Var, def, TypeData::Var(linkage));
    push(".maps", Kind::Datasec, size, TypeData::Datasec(vec![VarSecInfo { type_id: var, offset: 0, size }]));
    (Btf::from_vec(w.write().unwrap()).unwrap(), size as usize)
}

fn parse_err(attrs: &[(&str, Attr)], linkage: u32) -> BtfMapError {
    let (btf, size) = maps_btf(attrs, linkage);
    parse_btf_maps(&btf, size).unwrap_err()
}

const HASH: u32 = 1;

#[test]
fn a_good_map_parses() {
    let (btf, size) = maps_btf(&[("type", Attr::Uint(HASH)), ("max_entries", Attr::Uint(16)), ("key_size", Attr::Uint(4))], 1);
    let defs = parse_btf_maps(&btf, size).unwrap();
    assert_eq!((defs[0].name.as_str(), defs[0].max_entries, defs[0].key_size), ("m", Some(16), Some(4)));
}

#[test]
fn bad_attribute_values_name_map_and_value() {
    let e = parse_err(&[("type", Attr::Uint(HASH)), ("pinning", Attr::Uint(7))], 1);
    assert!(matches!(e.problem, MapProblem::BadPinning { value: 7 }), "{e:?}");
    assert_eq!(e.map_name(), Some("m"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert_eq!(e.to_string(), "map 'm': invalid pinning value 7");

    let e = parse_err(&[("type", Attr::Uint(HASH)), ("key_size", Attr::Uint(4)), ("key_size", Attr::Uint(8))], 1);
    assert!(matches!(e.problem, MapProblem::ConflictingSize { of: SizeOf::Key, old: 4, new: 8 }), "{e:?}");
    assert_eq!(e.to_string(), "map 'm': conflicting key size 4 != 8");

    let e = parse_err(&[("type", Attr::Uint(HASH)), ("colour", Attr::Uint(1))], 1);
    assert!(matches!(&e.problem, MapProblem::UnknownField { name } if name == "colour"), "{e:?}");
    assert_eq!(e.to_string(), "map 'm': unknown field 'colour'");

    let e = parse_err(&[("max_entries", Attr::Uint(1))], 1);
    assert!(matches!(e.problem, MapProblem::NoMapType), "{e:?}");
    assert_eq!(e.to_string(), "map 'm': map type is not specified");
}

#[test]
fn wrong_kinds_name_the_attribute_and_what_was_wanted() {
    let e = parse_err(&[("type", Attr::Uint(HASH)), ("max_entries", Attr::Int)], 1);
    assert!(matches!(e.problem, MapProblem::WrongKind { wanted: Wanted::Ptr, found: Some(Kind::Int) }), "{e:?}");
    assert_eq!(e.at, vec![MapPlace::Map("m".into()), MapPlace::Field("max_entries".into())]);
    assert_eq!((e.map_name(), e.field()), (Some("m"), Some("max_entries")));
    assert_eq!(e.to_string(), "map 'm': field 'max_entries': expected PTR, got INT");

    let e = parse_err(&[("type", Attr::Uint(HASH)), ("map_extra", Attr::Int)], 1);
    assert!(matches!(e.problem, MapProblem::WrongKind { wanted: Wanted::Enum, found: Some(Kind::Int) }), "{e:?}");
    assert_eq!(e.to_string(), "map 'm': field 'map_extra': expected ENUM or ENUM64, got INT");
}

#[test]
fn static_maps_are_unsupported() {
    let e = parse_err(&[("type", Attr::Uint(HASH))], 0);
    assert!(matches!(e.problem, MapProblem::Linkage { linkage: bpfld_btf::VarLinkage::Static }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert_eq!(e.to_string(), "map 'm': unsupported linkage Static (maps must be global)");
}

#[test]
fn the_section_must_hold_the_definitions() {
    let (btf, size) = maps_btf(&[("type", Attr::Uint(HASH))], 1);
    let e = parse_btf_maps(&btf, size - 1).unwrap_err();
    assert!(matches!(e.problem, MapProblem::PastSection { offset: 0, size: 8, section_size: 7 }), "{e:?}");
    assert_eq!(e.to_string(), "map 'm': definition at offset 0x0 size 0x8 runs past the section's 0x7 bytes");
}

#[test]
fn initial_values_are_checked_against_the_slots() {
    let outer = BtfMapDef {
        name: "progs".into(),
        map_type: Some(MapType::PROG_ARRAY),
        max_entries: Some(2),
        sec_offset: 0,
        sec_size: 32 + 16,
        values_offset: Some(32),
        ..Default::default()
    };
    let rel = |offset: u64, symbol: &str, symbol_in_maps: bool| MapsRel { offset, symbol: symbol.into(), symbol_in_maps };
    let slots = collect_init_slots(std::slice::from_ref(&outer), &[rel(40, "prog", false)]).unwrap();
    assert_eq!(slots, vec![InitSlotRel { map: 0, index: 1, target: "prog".into() }]);

    let small = BtfMapDef { max_entries: Some(1), ..outer.clone() };
    let e = collect_init_slots(&[small], &[rel(40, "prog", false)]).unwrap_err();
    assert!(matches!(e.problem, MapProblem::SlotBeyondMaxEntries { index: 1, max_entries: 1 }), "{e:?}");
    assert_eq!(e.to_string(), "map 'progs': initial value at slot 1 is beyond max_entries 1");

    let e = collect_init_slots(std::slice::from_ref(&outer), &[rel(40, "other", true)]).unwrap_err();
    assert!(matches!(&e.problem, MapProblem::SlotNotProgram { symbol } if symbol == "other"), "{e:?}");

    let e = collect_init_slots(std::slice::from_ref(&outer), &[rel(64, "prog", false)]).unwrap_err();
    assert!(matches!(e.problem, MapProblem::NoMapAtRelocation), "{e:?}");
    assert_eq!(e.at, vec![MapPlace::Relocation { index: 0, symbol: "prog".into(), offset: 64 }]);
    assert_eq!(e.to_string(), "relocation #0 ('prog') at offset 0x40: no map definition there");
}
