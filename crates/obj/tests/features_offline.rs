//! Kernel features derived offline from the vmlinux BTF of the kernels in
//! `shared/btf` (Debian 6.1 and 6.12, the 6.18 host), against what each
//! release has (facts from `bpftool btf dump file`: `enum bpf_attach_type`,
//! `enum bpf_func_id`, the `BTF_KIND_*` enum).

use std::sync::Arc;

use bpfld_btf::Btf;
use bpfld_obj::{kernel_version, Feature, KernelEnums, KernelFeatures};

fn vmlinux(release: &str) -> Option<Btf> {
    let dir = bpfld_testdata::shared_btf_dir()?;
    let bytes = std::fs::read(dir.join(format!("{release}.btf"))).unwrap();
    Some(Btf::parse(Arc::new(bytes)).unwrap())
}

#[test]
fn debian_6_1() {
    let Some(btf) = vmlinux(bpfld_testdata::K61) else { return };
    let f = KernelFeatures::from_btf(&btf, Some(kernel_version(6, 1, 158)));
    // 6.1 has every BTF kind, memcg accounting, cookies, kfunc calls...
    for x in [Feature::BtfFloat, Feature::BtfDeclTag, Feature::BtfTypeTag, Feature::BtfEnum64, Feature::MemcgAccount, Feature::BpfCookie] {
        assert!(f.has(x), "{}", x.name());
    }
    assert!(f.kfunc_call && f.perf_link && f.kprobe_multi_link && f.probe_read_kernel && f.prog_bind_map && f.module_btf);
    // ...but no multi-uprobe links (6.6), no `__arg_ctx` (6.8), no `?`
    // DATASEC names (6.9).
    assert_eq!(
        f.missing(),
        [Feature::BtfQmarkDatasec, Feature::UprobeMultiLink, Feature::ArgCtxTag, Feature::Ldimm64FullRangeOff, Feature::UprobeSyscall]
    );
    assert!(f.btf_needs_sanitizing());
    let e = KernelEnums::from_btf(&btf);
    assert_eq!(e.value("BPF_FUNC_user_ringbuf_drain"), Some(209));
    assert!(e.knows("BPF_MAP_TYPE_", "USER_RINGBUF") && !e.knows("BPF_MAP_TYPE_", "CGRP_STORAGE"));
    assert!(e.knows("BPF_PROG_TYPE_", "SYSCALL") && !e.knows("BPF_PROG_TYPE_", "NETFILTER"));
    assert_eq!(e.value("BTF_KIND_ENUM64"), Some(19));
}

#[test]
fn debian_6_12_and_host_6_18() {
    for (release, version) in [(bpfld_testdata::K612, kernel_version(6, 12, 57)), (bpfld_testdata::K618, kernel_version(6, 18, 44))] {
        let Some(btf) = vmlinux(release) else { return };
        let f = KernelFeatures::from_btf(&btf, Some(version));
        let mut want = vec![Feature::Ldimm64FullRangeOff];
        if release == bpfld_testdata::K612 {
            want.push(Feature::UprobeSyscall);
        }
        want.sort_by_key(|x| Feature::ALL.iter().position(|y| y == x));
        assert_eq!(f.missing(), want, "{release}");
        assert!(!KernelFeatures { btf_qmark_datasec: true, ..f }.btf_needs_sanitizing(), "{release}");
    }
}

#[test]
fn unknown_version_is_decided_by_btf_alone() {
    let Some(btf) = vmlinux(bpfld_testdata::K61) else { return };
    let f = KernelFeatures::from_btf(&btf, None);
    assert!(f.btf_qmark_datasec && f.arg_ctx_tag, "unknown release: yes, as for a new kernel");
    assert!(!f.uprobe_multi_link, "the attach type is not in 6.1's BTF");
}
