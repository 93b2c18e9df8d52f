//! Every kernel and module BTF in shared/btf, and the running kernel's,
//! parsed and compared with bpftool's dump of the same file.

mod common;

use std::process::Command;

use bpfld_btf::{dump, writer::Writer, Btf, Kind};
use common::*;

fn bpftool_dump(file: &std::path::Path, base: Option<&std::path::Path>) -> Option<String> {
    let tool = bpftool()?;
    let mut cmd = Command::new(tool);
    if let Some(b) = base {
        cmd.arg("-B").arg(b);
    }
    let out = cmd.arg("btf").arg("dump").arg("file").arg(file).output().expect("run bpftool");
    assert!(out.status.success(), "bpftool failed on {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).expect("bpftool output is UTF-8"))
}

fn assert_same_dump(ours: &str, theirs: &str, what: &str) {
    if ours == theirs {
        return;
    }
    for (i, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        assert_eq!(a, b, "{what}: first difference with bpftool at line {}", i + 1);
    }
    assert_eq!(ours.lines().count(), theirs.lines().count(), "{what}: line count differs from bpftool");
}

#[test]
fn vmlinux_and_modules_match_bpftool() {
    let Some(dir) = kernel_btf_dir() else { return };
    for (rel, vmlinux, mods) in kernels(&dir) {
        let base = load(&vmlinux);
        let ours = dump::dump(&base).unwrap();
        if let Some(theirs) = bpftool_dump(&vmlinux, None) {
            assert_same_dump(&ours, &theirs, &rel);
        }
        let Ok(entries) = std::fs::read_dir(&mods) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().and_then(|x| x.to_str()) != Some("btf") {
                continue;
            }
            let m = load_split(&p, &base);
            assert_eq!(m.first_own_id(), base.type_count(), "{}: ids continue the base", p.display());
            let ours = dump::dump(&m).unwrap();
            if let Some(theirs) = bpftool_dump(&p, Some(&vmlinux)) {
                assert_same_dump(&ours, &theirs, &p.display().to_string());
            }
        }
    }
}

/// The highest type id in bpftool's dump of `file`.
fn bpftool_type_count(file: &std::path::Path) -> Option<u32> {
    let out = std::process::Command::new(common::bpftool()?).args(["btf", "dump", "file"]).arg(file).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok()).max()
}

#[test]
fn type_counts_and_known_types() {
    let Some(dir) = kernel_btf_dir() else { return };
    // Debian's counts from shared/btf/README.md; the host's is whatever
    // bpftool counts in the host's blob (the host kernel is rebuilt now
    // and then).
    let host = dir.join("6.18-host.btf");
    let Some(host_count) = bpftool_type_count(&host) else { return };
    let want = [("6.1.0-56-amd64", 100_750u32), ("6.12.117+deb12-amd64", 112_768), ("6.18-host", host_count)];
    for (rel, n) in want {
        let btf = load(&dir.join(format!("{rel}.btf")));
        assert_eq!(btf.type_count() - 1, n, "{rel}: type count");
        let ts = btf.find("task_struct", Some(Kind::Struct));
        assert_eq!(ts.len(), 1, "{rel}: one struct task_struct");
        let t = btf.type_by_id(ts[0]).unwrap();
        assert!(t.size().unwrap() > 1000, "{rel}: task_struct is large");
        assert!(t.members().any(|m| t.str(m.name_off).unwrap() == "pid"), "{rel}: task_struct has pid");
    }
    // bpf_task_acquire: absent on 6.1, present on 6.12 and 6.18.
    let b61 = load(&dir.join("6.1.0-56-amd64.btf"));
    assert!(b61.find_first("bpf_task_acquire", Kind::Func).is_none());
    for rel in ["6.12.117+deb12-amd64", "6.18-host"] {
        let b = load(&dir.join(format!("{rel}.btf")));
        let f = b.find_first("bpf_task_acquire", Kind::Func).expect("bpf_task_acquire");
        let proto = b.type_by_id(b.type_by_id(f).unwrap().type_ref().unwrap()).unwrap();
        assert_eq!(proto.kind(), Kind::FuncProto);
        assert_eq!(proto.params().len(), 1, "{rel}: bpf_task_acquire takes one argument");
    }
}

#[test]
fn module_kfuncs_found_in_split_btf() {
    let Some(dir) = kernel_btf_dir() else { return };
    for rel in ["6.1.0-56-amd64", "6.12.117+deb12-amd64"] {
        let base = load(&dir.join(format!("{rel}.btf")));
        let m = load_split(&dir.join(rel).join("modules/nf_conntrack.btf"), &base);
        let own = m.find_own("bpf_xdp_ct_lookup", Some(Kind::Func));
        assert_eq!(own.len(), 1, "{rel}: bpf_xdp_ct_lookup in nf_conntrack");
        assert!(own[0] >= base.type_count());
        assert!(base.find_first("bpf_xdp_ct_lookup", Kind::Func).is_none(), "{rel}: not in vmlinux");
        // Lookups through a split BTF see the base's types too.
        assert!(!m.find("task_struct", Some(Kind::Struct)).is_empty());
        let bbr = load_split(&dir.join(rel).join("modules/tcp_bbr.btf"), &base);
        assert_eq!(bbr.find_own("bbr_main", Some(Kind::Func)).len(), 1);
    }
}

#[test]
fn split_btf_on_the_wrong_base_is_detected() {
    let Some(dir) = kernel_btf_dir() else { return };
    // 6.12's module refers to ids and strings beyond 6.1's vmlinux.
    let b61 = load(&dir.join("6.1.0-56-amd64.btf"));
    let bytes = std::fs::read(dir.join("6.12.117+deb12-amd64/modules/nf_conntrack.btf")).unwrap();
    let err = Btf::from_vec_split(bytes, &b61).unwrap_err().to_string();
    assert!(err.contains("out of range") || err.contains("wrong base"), "{err}");
}

#[test]
fn running_kernel_vmlinux_parses() {
    let p = std::path::Path::new("/sys/kernel/btf/vmlinux");
    if !p.exists() {
        bpfld_testdata::skip::<()>("/sys/kernel/btf/vmlinux not present");
        return;
    }
    let btf = load(p);
    assert!(btf.type_count() > 50_000);
    assert!(btf.find_first("bpf_prog", Kind::Struct).is_some());
}

#[test]
fn round_trip_every_kernel() {
    let Some(dir) = kernel_btf_dir() else { return };
    for (rel, vmlinux, mods) in kernels(&dir) {
        let base = load(&vmlinux);
        let bytes = Writer::from_btf(&base).unwrap().write().unwrap();
        let again = Btf::from_vec(bytes).unwrap();
        assert_eq!(dump::dump(&base).unwrap(), dump::dump(&again).unwrap(), "{rel}: round trip");
        let modfile = mods.join("nf_conntrack.btf");
        if !modfile.exists() {
            continue; // the host has nf_conntrack built in
        }
        let m = load_split(&modfile, &base);
        let mbytes = Writer::from_btf(&m).unwrap().write().unwrap();
        let magain = Btf::from_vec_split(mbytes, &again).unwrap();
        assert_eq!(dump::dump(&m).unwrap(), dump::dump(&magain).unwrap(), "{rel}: module round trip");
    }
}
