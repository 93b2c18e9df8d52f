//! struct_ops maps planned offline against the kernels of `shared/btf`
//! (6.1, 6.12, the 6.18 host): the kernel struct and value type, each
//! program's `attach_btf_id` and member index, and the kernel value, all
//! checked against bpftool's dump of the same BTF.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use bpfld_obj::plan::{plan, PlanOptions};
use bpfld_obj::BtfOwner;
use common::*;

/// A struct as bpftool dumps it: its id, size and members (name, bit
/// offset).
struct Dumped {
    id: u32,
    size: u32,
    members: Vec<(String, u32)>,
}

/// `bpftool btf dump file <file>`, the structs named in `names`.
fn bpftool_structs(file: &Path, names: &[&str]) -> Option<HashMap<String, Dumped>> {
    let out = Command::new(bpfld_testdata::bpftool()?).args(["btf", "dump", "file"]).arg(file).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut found = HashMap::new();
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let Some(name) = names.iter().find(|n| l.contains(&format!("] STRUCT '{n}' "))) else { continue };
        if found.contains_key(*name) {
            continue; // the first one, as btf__find_by_name_kind
        }
        let id: u32 = l[1..l.find(']').unwrap()].parse().unwrap();
        let field = |k: &str| l.split_whitespace().find_map(|w| w.strip_prefix(k)).unwrap().parse::<u32>().unwrap();
        let (size, vlen) = (field("size="), field("vlen="));
        let members = (0..vlen)
            .map(|_| {
                let m = lines.next().unwrap().trim();
                let name = m.split('\'').nth(1).unwrap().to_string();
                let bits = m.split_whitespace().find_map(|w| w.strip_prefix("bits_offset=")).unwrap().parse().unwrap();
                (name, bits)
            })
            .collect();
        found.insert(name.to_string(), Dumped { id, size, members });
    }
    Some(found)
}

#[test]
fn tcp_congestion_ops_planned_against_each_shared_kernel() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("struct_ops_cc");
    for release in [K61, K612, K618] {
        let btf_file = dir.join(format!("{release}.btf"));
        let Some(dump) = bpftool_structs(&btf_file, &["tcp_congestion_ops", "bpf_struct_ops_tcp_congestion_ops"]) else { return };
        let ops = &dump["tcp_congestion_ops"];
        let value = &dump["bpf_struct_ops_tcp_congestion_ops"];
        let t = target(&dir, release);
        let p = plan(&obj, Some(&t), &PlanOptions::default()).unwrap_or_else(|e| panic!("{release}: {e}"));

        // One struct_ops map created (the '?' one is not), typed by the
        // kernel's value struct.
        assert_eq!(p.struct_ops.len(), 1, "{release}");
        let st = &p.struct_ops[0];
        assert_eq!((st.name.as_str(), st.struct_name.as_str()), ("bpfld_cc_map", "tcp_congestion_ops"));
        assert_eq!(st.owner, BtfOwner::Vmlinux);
        assert_eq!(st.kern_type_id, ops.id, "{release}: struct tcp_congestion_ops");
        assert_eq!(st.kern_value_type_id, value.id, "{release}: struct bpf_struct_ops_tcp_congestion_ops");
        assert_eq!(st.value.len(), value.size as usize);
        assert!(p.maps.iter().all(|m| m.real_name != "bpfld_cc_alt"), "{release}: the '?' map is planned");
        let map = &p.maps[st.map];
        assert_eq!((map.real_name.as_str(), map.value_size, map.map_flags), ("bpfld_cc_map", value.size, 0));

        // The kernel struct sits at the value member of its type; each
        // member is where bpftool says.
        let data_bits = value.members.iter().find(|(n, _)| n == "data").unwrap().1;
        let member = |name: &str| {
            let i = ops.members.iter().position(|(n, _)| n == name).unwrap();
            (i as u32, (data_bits + ops.members[i].1) as usize / 8)
        };
        let (_, name_off) = member("name");
        assert_eq!(&st.value[name_off..name_off + 13], b"bpfld_cc_map\0", "{release}: name copied at its kernel offset");
        let mut slots: Vec<(&str, &str)> = st.func_slots.iter().map(|s| (s.member.as_str(), s.program.as_str())).collect();
        slots.sort();
        assert_eq!(
            slots,
            [
                ("cong_avoid", "bpfld_cc_cong_avoid"),
                ("init", "bpfld_cc_init"),
                ("ssthresh", "bpfld_cc_ssthresh"),
                ("undo_cwnd", "bpfld_cc_undo_cwnd")
            ]
        );
        for slot in &st.func_slots {
            let (idx, off) = member(&slot.member);
            assert_eq!((slot.member_idx, slot.offset), (idx, off), "{release}: member {}", slot.member);
            let pp = p.programs.iter().find(|pp| pp.name == slot.program).unwrap();
            assert_eq!(pp.attach_btf.map(|a| a.btf_id), Some(ops.id), "{release}: {} attach_btf_id", pp.name);
            assert_eq!(pp.expected_attach_type, idx.into(), "{release}: {} expected_attach_type", pp.name);
            assert!(pp.autoload && pp.error.is_none(), "{release}: {}", pp.name);
            // Every byte of the value but the program slots is as planned:
            // slots are zero until the loader writes fds.
            assert!(st.value[off..off + 8].iter().all(|&b| b == 0));
        }
        // Pointed to by the uncreated map only: not loaded.
        let alt = p.programs.iter().find(|pp| pp.name == "bpfld_cc_alt_ssthresh").unwrap();
        assert!(!alt.autoload, "{release}");
    }
}

/// The names of the DATASECs of a plan's object BTF.
fn datasec_names(p: &bpfld_obj::LoadPlan) -> Vec<String> {
    let btf = bpfld_btf::Btf::from_vec(p.btf.clone().unwrap()).unwrap();
    btf.own_types().filter(|t| t.kind() == bpfld_btf::Kind::Datasec).map(|t| t.name().unwrap().to_string()).collect()
}

#[test]
fn qmark_datasec_renamed_for_kernels_before_6_9() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("struct_ops_cc");
    // 6.1 refuses a DATASEC named "?.struct_ops" (BTF_LOAD: "Invalid
    // name"); libbpf renames it, so does the plan.
    let p = plan(&obj, Some(&target(&dir, K61)), &PlanOptions::default()).unwrap();
    let names = datasec_names(&p);
    assert!(names.contains(&"_.struct_ops".to_string()) && !names.iter().any(|n| n.starts_with('?')), "{names:?}");
    for release in [K612, K618] {
        let p = plan(&obj, Some(&target(&dir, release)), &PlanOptions::default()).unwrap();
        assert!(datasec_names(&p).contains(&"?.struct_ops".to_string()), "{release}");
    }
}

#[test]
fn struct_ops_links_only_where_the_kernel_has_them() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("struct_ops_cc_link");
    let e = plan(&obj, Some(&target(&dir, K61)), &PlanOptions::default()).unwrap_err();
    assert!(e.to_string().contains("map 'bpfld_cc': .struct_ops.link maps need struct_ops BPF links (Linux 6.4+)"), "{e}");
    for release in [K612, K618] {
        let p = plan(&obj, Some(&target(&dir, release)), &PlanOptions::default()).unwrap_or_else(|e| panic!("{release}: {e}"));
        let st = &p.struct_ops[0];
        assert!(st.link);
        assert_eq!(p.maps[st.map].map_flags, bpfld_obj::struct_ops::BPF_F_LINK);
        // The flavored local struct found the kernel's; its extra member,
        // zero, is skipped.
        assert_eq!(st.struct_name, "tcp_congestion_ops");
        assert_eq!(st.skipped_members, ["bpfld_not_in_kernel"]);
    }
}

#[test]
fn bbr_main_flavor_per_kernel() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("struct_ops_bbr");
    for (release, flavor) in [(K61, "bbr_main___v6_1"), (K612, "bbr_main___v6_12"), (K618, "bbr_main___v6_12")] {
        let p = plan(&obj, Some(&target(&dir, release)), &PlanOptions::default()).unwrap_or_else(|e| panic!("{release}: {e}"));
        let resolved: Vec<&str> =
            p.externs.iter().filter(|e| e.resolved && e.name.starts_with("bbr_main")).map(|e| e.name.as_str()).collect();
        assert_eq!(resolved, [flavor], "{release}");
        let cc = p.programs.iter().find(|pp| pp.name == "bpfld_bbr_cong_control").unwrap();
        assert!(cc.error.is_none(), "{release}: {:?}", cc.error);
        let Some(dump) = bpftool_structs(&dir.join(format!("{release}.btf")), &["tcp_congestion_ops"]) else { return };
        let ops = &dump["tcp_congestion_ops"];
        let idx = ops.members.iter().position(|(n, _)| n == "cong_control").unwrap() as u32;
        assert_eq!((cc.attach_btf.map(|a| a.btf_id), cc.expected_attach_type), (Some(ops.id), idx.into()), "{release}");
    }
}

#[test]
fn missing_kernel_struct_refuses_the_object() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("struct_ops_cc");
    // A struct no kernel has (the local type renamed after open).
    let mut o = obj.clone();
    o.struct_ops[0].type_name = "tcp_congestion_opz".into();
    let e = plan(&o, Some(&target(&dir, K61)), &PlanOptions::default()).unwrap_err();
    assert_eq!(e.to_string(), "struct_ops_cc: map 'bpfld_cc_map': struct bpf_struct_ops_tcp_congestion_opz is not found in kernel BTF");
    // Without a target at all.
    let e = plan(&obj, None, &PlanOptions::default()).unwrap_err();
    assert!(e.to_string().contains("need a target kernel"), "{e}");
}
