//! Parse arbitrary bytes as BTF, then walk, dump, index and rewrite what
//! parsed: nothing may panic, hang or allocate beyond the input's size.
#![no_main]

use bpfld_btf::{dump, writer::Writer, Btf, Kind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(btf) = Btf::from_vec(data.to_vec()) else { return };
    let _ = dump::dump(&btf);
    for t in btf.own_types() {
        let _ = t.name();
        let _ = bpfld_btf::resolve::resolve_size(&btf, t.id());
        let _ = bpfld_btf::relate::types_are_compat(&btf, t.id(), &btf, t.id());
        let _ = bpfld_btf::relate::types_match(&btf, t.id(), &btf, t.id());
    }
    let _ = btf.find("a", None);
    let _ = btf.find_by_essential_name("a", Some(Kind::Struct));
    if let Ok(w) = Writer::from_btf(&btf) {
        if let Ok(bytes) = w.write() {
            let again = Btf::from_vec(bytes).expect("written BTF parses");
            assert_eq!(dump::dump(&btf).ok(), dump::dump(&again).ok());
        }
    }
    // Split BTF on itself: ids and strings continue after it.
    let _ = Btf::from_vec_split(data.to_vec(), &btf);
});
