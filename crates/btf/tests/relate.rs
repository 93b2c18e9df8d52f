//! Type relations and resolution on the real kernel BTF in shared/btf: the
//! prototype and struct changes between 6.1, 6.12 and 6.18 that bpfld's
//! kfunc and CO-RE resolution must judge exactly as libbpf does.
//!
//! Every expectation below was checked against libbpf itself
//! (`bpf_core_types_are_compat` / `bpf_core_types_match` /
//! `btf__resolve_size` / `btf__align_of` linked from libbpf.a, whose code
//! for these functions is unchanged up to 1.7). For a wider comparison, set
//! `BPFLD_RELATE_ORACLE` to one or more files (separated by `:`) of libbpf's
//! answers, each starting with a line
//! `# <local vmlinux> <local module or -> <target vmlinux> <target module or ->`
//! (paths relative to shared/btf) followed by lines
//! `<KIND> <name> <compat> <match>` (1, 0, or -1 for an error), the first
//! type of that name and kind on both sides; FUNCs compare their
//! prototypes. [`oracle_files_agree`] checks every line.

mod common;

use std::path::Path;

use bpfld_btf::relate::{types_are_compat, types_are_same, types_match};
use bpfld_btf::resolve::{align_of, member_by_name, pointer_size_of, resolve_size, resolve_type};
use bpfld_btf::{Btf, Kind};
use common::*;

const R61: &str = "6.1.0-56-amd64";
const R612: &str = "6.12.117+deb12-amd64";
const R618: &str = "6.18-host";

fn vmlinux(dir: &Path, rel: &str) -> Btf {
    load(&dir.join(format!("{rel}.btf")))
}

fn module(dir: &Path, rel: &str, name: &str) -> Btf {
    let base = vmlinux(dir, rel);
    load_split(&dir.join(rel).join("modules").join(format!("{name}.btf")), &base)
}

/// The FUNC_PROTO of the FUNC `name`, as libbpf looks kfuncs up.
fn proto(btf: &Btf, name: &str) -> u32 {
    let f = btf.find_first(name, Kind::Func).unwrap_or_else(|| panic!("no FUNC {name}"));
    btf.type_by_id(f).unwrap().type_ref().unwrap()
}

fn strukt(btf: &Btf, name: &str) -> u32 {
    btf.find_first(name, Kind::Struct).unwrap_or_else(|| panic!("no STRUCT {name}"))
}

/// (compat, match) of the first `kind` named `name` in both BTFs.
fn relate(l: &Btf, t: &Btf, kind: Kind, name: &str) -> (bool, bool) {
    let (lid, tid) = if kind == Kind::Func {
        (proto(l, name), proto(t, name))
    } else {
        (l.find_first(name, kind).unwrap(), t.find_first(name, kind).unwrap())
    };
    (types_are_compat(l, lid, t, tid).unwrap(), types_match(l, lid, t, tid).unwrap())
}

#[test]
fn bbr_main_changed_its_prototype() {
    let Some(dir) = kernel_btf_dir() else { return };
    // (struct sock *, const struct rate_sample *) on 6.1,
    // (struct sock *, u32 ack, int flag, const struct rate_sample *) on 6.12.
    let old = module(&dir, R61, "tcp_bbr");
    let new = module(&dir, R612, "tcp_bbr");
    assert_eq!(old.type_by_id(proto(&old, "bbr_main")).unwrap().vlen(), 2);
    assert_eq!(new.type_by_id(proto(&new, "bbr_main")).unwrap().vlen(), 4);
    assert_eq!(relate(&old, &new, Kind::Func, "bbr_main"), (false, false));
    assert_eq!(relate(&new, &old, Kind::Func, "bbr_main"), (false, false));
    // bbr_init kept (struct sock *).
    assert_eq!(relate(&old, &new, Kind::Func, "bbr_init"), (true, true));
}

#[test]
fn bpf_task_acquire_is_compatible_from_6_12_to_6_18() {
    let Some(dir) = kernel_btf_dir() else { return };
    let k612 = vmlinux(&dir, R612);
    let k618 = vmlinux(&dir, R618);
    assert_eq!(relate(&k612, &k618, Kind::Func, "bpf_task_acquire"), (true, true));
    assert_eq!(relate(&k618, &k612, Kind::Func, "bpf_task_acquire"), (true, true));
    assert!(k612.find_first("bpf_task_acquire", Kind::Func).is_some());
    assert!(vmlinux(&dir, R61).find_first("bpf_task_acquire", Kind::Func).is_none());
}

#[test]
fn bpf_lookup_user_key_u32_vs_s32() {
    let Some(dir) = kernel_btf_dir() else { return };
    let k61 = vmlinux(&dir, R61);
    let k612 = vmlinux(&dir, R612);
    let k618 = vmlinux(&dir, R618);
    // `u32 serial` became `s32 serial`: compat ignores signedness (as
    // libbpf does: any two INTs are compatible), match does not.
    assert_eq!(relate(&k612, &k618, Kind::Func, "bpf_lookup_user_key"), (true, false));
    assert_eq!(relate(&k61, &k618, Kind::Func, "bpf_lookup_user_key"), (true, false));
    assert_eq!(relate(&k61, &k612, Kind::Func, "bpf_lookup_user_key"), (true, true));
}

#[test]
fn bpf_verify_pkcs7_signature_dynptr_kern_vs_dynptr() {
    let Some(dir) = kernel_btf_dir() else { return };
    // struct bpf_dynptr_kern * on 6.1, struct bpf_dynptr * on 6.12: compat
    // does not compare the pointees' names, match does.
    let k61 = vmlinux(&dir, R61);
    let k612 = vmlinux(&dir, R612);
    assert_eq!(relate(&k61, &k612, Kind::Func, "bpf_verify_pkcs7_signature"), (true, false));
}

#[test]
fn bpf_ct_opts_grew_from_12_to_16_bytes() {
    let Some(dir) = kernel_btf_dir() else { return };
    let old = module(&dir, R61, "nf_conntrack");
    let new = module(&dir, R612, "nf_conntrack");
    let host = vmlinux(&dir, R618);
    let (o, n) = (strukt(&old, "bpf_ct_opts"), strukt(&new, "bpf_ct_opts"));
    assert_eq!(resolve_size(&old, o).unwrap(), 12);
    assert_eq!(resolve_size(&new, n).unwrap(), 16);
    assert_eq!(align_of(&new, n).unwrap(), 4);
    // Composites are always compatible; they match in neither direction:
    // 6.12's has more members than 6.1's, and 6.1's `u8 reserved[2]` meets
    // 6.12's `u8 reserved[3]`.
    assert_eq!(relate(&old, &new, Kind::Struct, "bpf_ct_opts"), (true, false));
    assert_eq!(relate(&new, &old, Kind::Struct, "bpf_ct_opts"), (true, false));
    // 6.18 (nf_conntrack built in) has 6.12's layout.
    assert_eq!(relate(&new, &host, Kind::Struct, "bpf_ct_opts"), (true, true));
    // The kfunc taking it kept a matching prototype: the struct is behind a
    // pointer there.
    assert_eq!(relate(&old, &new, Kind::Func, "bpf_skb_ct_lookup"), (true, true));
}

#[test]
fn task_struct_is_compatible_but_does_not_match_across_kernels() {
    let Some(dir) = kernel_btf_dir() else { return };
    let k61 = vmlinux(&dir, R61);
    let k618 = vmlinux(&dir, R618);
    assert_eq!(relate(&k61, &k618, Kind::Struct, "task_struct"), (true, false));
    let (a, b) = (strukt(&k61, "task_struct"), strukt(&k618, "task_struct"));
    assert_eq!(resolve_size(&k61, a).unwrap(), 9792);
    assert_eq!(resolve_size(&k618, b).unwrap(), 3264);
    assert_eq!(align_of(&k61, a).unwrap(), 8);
}

#[test]
fn sizes_alignment_and_members_on_6_1() {
    let Some(dir) = kernel_btf_dir() else { return };
    let k = vmlinux(&dir, R61);
    assert_eq!(pointer_size_of(&k), Some(8));
    let td = |n: &str| k.find_first(n, Kind::Typedef).unwrap();
    let (u64_, pid_t, spinlock_t) = (td("u64"), td("pid_t"), td("spinlock_t"));
    assert_eq!((resolve_size(&k, u64_).unwrap(), align_of(&k, u64_).unwrap()), (8, 8));
    assert_eq!((resolve_size(&k, pid_t).unwrap(), align_of(&k, pid_t).unwrap()), (4, 4));
    assert_eq!(resolve_type(&k, pid_t).unwrap(), k.find_first("int", Kind::Int).unwrap());
    assert_eq!((resolve_size(&k, spinlock_t).unwrap(), align_of(&k, spinlock_t).unwrap()), (4, 4));
    let xdp_md = strukt(&k, "xdp_md");
    assert_eq!((resolve_size(&k, xdp_md).unwrap(), align_of(&k, xdp_md).unwrap()), (24, 4));
    let skb = strukt(&k, "sk_buff");
    assert_eq!((resolve_size(&k, skb).unwrap(), align_of(&k, skb).unwrap()), (232, 8));
    // sk_buff { union { struct { next; prev; union { dev; ... } } ... } }
    let dev = member_by_name(&k, skb, "dev").unwrap().unwrap();
    assert_eq!((dev.path.as_slice(), dev.bit_offset), (&[0, 0, 2, 0][..], 128));
    let destructor = member_by_name(&k, skb, "destructor").unwrap().unwrap();
    assert_eq!((destructor.path.as_slice(), destructor.bit_offset), (&[4, 0, 1][..], 768));
    let mstamp = member_by_name(&k, skb, "skb_mstamp_ns").unwrap().unwrap();
    assert_eq!((mstamp.path.as_slice(), mstamp.bit_offset), (&[2, 1][..], 256));
    let len = member_by_name(&k, skb, "len").unwrap().unwrap();
    assert_eq!((len.path.as_slice(), len.bit_offset, len.parent_id), (&[6][..], 896, skb));
    assert!(member_by_name(&k, skb, "no_such_member").unwrap().is_none());
}

#[test]
fn module_types_from_the_base_are_the_same_record() {
    let Some(dir) = kernel_btf_dir() else { return };
    let base = vmlinux(&dir, R612);
    let bbr = load_split(&dir.join(R612).join("modules/tcp_bbr.btf"), &base);
    let ct = load_split(&dir.join(R612).join("modules/nf_conntrack.btf"), &base);
    let sock = strukt(&base, "sock");
    assert!(types_are_same(&bbr, sock, &ct, sock));
    let own = bbr.first_own_id();
    assert!(!types_are_same(&bbr, own, &ct, own), "module ids overlap but name different types");
    // The same kernel loaded twice is a different blob.
    assert!(!types_are_same(&base, sock, &vmlinux(&dir, R612), sock));
}

/// Compares with libbpf's answers recorded in the files named by
/// `BPFLD_RELATE_ORACLE` (see the module docs); does nothing without it.
#[test]
fn oracle_files_agree() {
    let Ok(files) = std::env::var("BPFLD_RELATE_ORACLE") else {
        bpfld_testdata::machine_limit("", "BPFLD_RELATE_ORACLE not set: libbpf's answers are recorded by hand (see the module docs)");
        return;
    };
    let Some(dir) = kernel_btf_dir() else { return };
    let open = |base: &str, split: &str| {
        let b = load(&dir.join(base));
        if split == "-" {
            b
        } else {
            load_split(&dir.join(split), &b)
        }
    };
    let mut checked = 0usize;
    for file in files.split(':').filter(|f| !f.is_empty()) {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("read {file}: {e}"));
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().expect("header").trim_start_matches('#').split_whitespace().collect();
        assert_eq!(head.len(), 4, "{file}: header names two base/split pairs");
        let (l, t) = (open(head[0], head[1]), open(head[2], head[3]));
        let mut wrong = Vec::new();
        for line in lines {
            let f: Vec<&str> = line.split_whitespace().collect();
            let kind = Kind::from_name(f[0]).unwrap();
            let (lid, tid) = if kind == Kind::Func {
                (proto(&l, f[1]), proto(&t, f[1]))
            } else {
                (l.find_first(f[1], kind).unwrap(), t.find_first(f[1], kind).unwrap())
            };
            let code = |r: bpfld_btf::Result<bool>| match r {
                Ok(b) => (b as i32).to_string(),
                Err(_) => "-1".to_string(),
            };
            let ours = (code(types_are_compat(&l, lid, &t, tid)), code(types_match(&l, lid, &t, tid)));
            if (ours.0.as_str(), ours.1.as_str()) != (f[2], f[3]) {
                wrong.push(format!("{line} (ours: {} {})", ours.0, ours.1));
            }
            checked += 1;
        }
        assert!(wrong.is_empty(), "{file}: {} disagreements with libbpf, e.g.\n{}", wrong.len(), wrong[..wrong.len().min(20)].join("\n"));
    }
    eprintln!("{checked} relations agree with libbpf");
}
