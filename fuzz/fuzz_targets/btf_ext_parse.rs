//! `.BTF.ext` against a small valid BTF: arbitrary record sizes, counts
//! and offsets must be rejected with errors, never panics.
#![no_main]

use bpfld_btf::{
    ext::BtfExt,
    writer::{OwnedType, TypeData, Writer},
    Btf, Kind,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut w = Writer::new();
    w.push(OwnedType { name: "int".into(), kind: Kind::Int, kflag: false, size_or_type: 4, data: TypeData::Int(32) });
    w.push(OwnedType { name: ".text".into(), kind: Kind::Typedef, kflag: false, size_or_type: 1, data: TypeData::None });
    let btf = Btf::from_vec(w.write().unwrap()).unwrap();
    let _ = BtfExt::parse(data, &btf);
});
