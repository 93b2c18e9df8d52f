//! Every committed test object gets a skeleton whose section structs put
//! each variable at its DATASEC offset (the compile-time asserts the
//! skeleton carries are what `tests/skel_project` compiles), with every
//! named map and entry program as a field.

use bpfld_btf::Kind;
use bpfld_gen::{skeleton, SkeletonOptions};
use bpfld_obj::Object;

#[test]
fn every_test_object_has_its_layout_in_its_skeleton() {
    let mut checked = 0;
    for name in bpfld_testdata::test_object_names() {
        let path = bpfld_testdata::test_object(&name);
        let bytes = std::fs::read(&path).unwrap();
        let Ok(obj) = Object::parse(&name, &bytes) else { continue };
        let text = skeleton(&path.to_string_lossy(), &bytes, &SkeletonOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Some(btf) = obj.btf.as_ref() else { continue };
        for m in obj.maps.iter().filter(|m| {
            m.btf_value_type_id != 0
                && matches!(m.origin, bpfld_obj::MapOrigin::Data | bpfld_obj::MapOrigin::Rodata | bpfld_obj::MapOrigin::Bss)
        }) {
            let ds = btf.type_by_id(m.btf_value_type_id).unwrap();
            assert_eq!(ds.kind(), Kind::Datasec);
            let ty = bpfld_gen::ident::camel(&m.real_name);
            assert!(text.contains(&format!("assert!(std::mem::size_of::<{ty}>() == {});", ds.raw_size_or_type())), "{name}: {ty} size");
            for v in ds.datasec_vars() {
                let var = btf.type_by_id(v.type_id).unwrap().name().unwrap().to_string();
                let field = bpfld_gen::ident::snake(&var);
                assert!(text.contains(&format!("assert!(std::mem::offset_of!({ty}, {field}) == {});", v.offset)), "{name}: {ty}.{field}");
                checked += 1;
            }
        }
        for m in &obj.maps {
            assert!(text.contains(&format!("obj.take_map({:?})", m.real_name)), "{name}: map {}", m.real_name);
        }
        for p in obj.programs.iter().filter(|p| !p.is_subprog) {
            assert!(text.contains(&format!("obj.take_program({:?})", p.name)), "{name}: program {}", p.name);
        }
    }
    assert!(checked >= 20, "only {checked} variables checked");
}

#[test]
fn a_bad_object_is_an_error_naming_it() {
    let err = skeleton("x.bpf.o", b"not an ELF file", &SkeletonOptions::default()).unwrap_err();
    assert!(err.to_string().contains('x'), "{err}");
    assert!(std::error::Error::source(&err).is_some());
}
