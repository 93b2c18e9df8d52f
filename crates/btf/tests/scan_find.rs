//! `Btf::scan_find` (one pass, no index) answers as the indexed lookups do,
//! exact and by essential name, with and without a kind.

use std::sync::Arc;

use bpfld_btf::{essential_name, Btf, Kind};

#[test]
fn scanning_finds_what_the_index_finds() {
    let Ok(bytes) = std::fs::read("/sys/kernel/btf/vmlinux") else {
        bpfld_testdata::skip::<()>("no /sys/kernel/btf/vmlinux");
        return;
    };
    let btf = Btf::parse(Arc::new(bytes)).unwrap();
    let mut names: Vec<String> = btf.own_types().step_by(2999).filter_map(|t| t.name().ok().map(str::to_string)).collect();
    names.extend(["task_struct", "task_struct___flavor", "bpf_task_acquire", "no_such_name", "int", ""].map(String::from));
    let mut hits = 0;
    for n in &names {
        for kind in [None, Some(Kind::Struct), Some(Kind::Func), Some(Kind::Typedef)] {
            let exact = btf.scan_find(n, kind, false);
            let indexed = btf.find(n, kind);
            assert!(exact == indexed, "{n:?} {kind:?}: scan {} ids, index {} ids", exact.len(), indexed.len());
            let ess = essential_name(n);
            let (scan, indexed) = (btf.scan_find(ess, kind, true), btf.find_by_essential_name(ess, kind));
            assert!(scan == indexed, "{ess:?} (essential) {kind:?}: scan {} ids, index {} ids", scan.len(), indexed.len());
            hits += exact.len();
        }
    }
    assert!(hits > names.len() / 2, "only {hits} hits for {} names", names.len());
}
