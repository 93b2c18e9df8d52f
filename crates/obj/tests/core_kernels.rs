//! CO-RE relocation of the committed `core_*` test objects against the real
//! kernels of `shared/btf` (Debian 6.1 and 6.12, the 6.18 host), offline.
//!
//! Expected values come from two independent places: constants read off
//! `bpftool btf dump file <kernel>.btf` (noted per kernel below), and the
//! BTF crate's own member and enumerator lookups, which share no code with
//! the CO-RE module.

mod core_common;

use bpfld_asm::insn::poison;
use bpfld_asm::Insn;
use bpfld_btf::ext::CoreReloKind as K;
use bpfld_btf::resolve::member_by_name;
use bpfld_btf::{Btf, Kind};
use bpfld_obj::core::{CoreFailure, PatchAction};
use bpfld_obj::BtfOwner;
use core_common::*;

/// Per-kernel facts, from `bpftool btf dump file <kernel>.btf`.
struct Facts {
    release: &'static str,
    task_struct_id: u32,
    task_struct_size: u64,
    /// Byte offsets in task_struct.
    pid: u64,
    tgid: u64,
    comm: u64,
    signal: u64,
    mm: u64,
    /// Bit offset of task_struct.sched_reset_on_fork (a 1-bit bitfield).
    reset_on_fork_bit: u64,
    /// signal_struct.rlim, mm_struct.exe_file, file.f_inode.
    rlim: u64,
    exe_file: u64,
    f_inode: u64,
    /// The inode's change time field: (flavor 1 = i_ctime, 3 =
    /// i_ctime_sec, its byte offset).
    ctime: (u8, u64),
    /// cpuhp_state values of CPUHP_BP_PREPARE_DYN and CPUHP_AP_ONLINE_DYN.
    cpuhp: (i64, i64),
}

/// The Debian kernels' facts, read off bpftool once and written down.
const DEBIAN_FACTS: [Facts; 2] = [
    Facts {
        release: K61,
        task_struct_id: 193,
        task_struct_size: 9792,
        pid: 2416,
        tgid: 2420,
        comm: 2976,
        signal: 3072,
        mm: 2272,
        reset_on_fork_bit: 18720,
        rlim: 688,
        exe_file: 944,
        f_inode: 32,
        ctime: (1, 120),
        cpuhp: (70, 201),
    },
    Facts {
        release: K612,
        task_struct_id: 112,
        task_struct_size: 9792,
        pid: 2432,
        tgid: 2436,
        comm: 2976,
        signal: 3072,
        mm: 2304,
        reset_on_fork_bit: 18848,
        rlim: 680,
        exe_file: 1168,
        f_inode: 40,
        ctime: (3, 104),
        cpuhp: (64, 192),
    },
];

/// The host's facts, read off bpftool at run time: the host kernel is
/// rebuilt now and then, and its layouts move.
fn host_facts(dir: &std::path::Path) -> Option<Facts> {
    let d = bpfld_testdata::BpftoolDump::of(&dir.join(format!("{K618}.btf")), None)?;
    let bytes = |s: &str, m: &str| d.member_bits(s, m).map(|b| b / 8).unwrap_or_else(|| panic!("bpftool: {s}.{m}"));
    let (task_struct_id, task_struct_size) = d.struct_id_size("task_struct").expect("bpftool: task_struct");
    let ctime = match d.member_bits("inode", "i_ctime_sec") {
        Some(bits) => (3, bits / 8),
        None => (1, bytes("inode", "i_ctime")),
    };
    let enumerator = |n: &str| d.enum_value("cpuhp_state", n).unwrap_or_else(|| panic!("bpftool: {n}"));
    Some(Facts {
        release: K618,
        task_struct_id,
        task_struct_size,
        pid: bytes("task_struct", "pid"),
        tgid: bytes("task_struct", "tgid"),
        comm: bytes("task_struct", "comm"),
        signal: bytes("task_struct", "signal"),
        mm: bytes("task_struct", "mm"),
        reset_on_fork_bit: d.member_bits("task_struct", "sched_reset_on_fork").expect("bpftool: sched_reset_on_fork"),
        rlim: bytes("signal_struct", "rlim"),
        exe_file: bytes("mm_struct", "exe_file"),
        f_inode: bytes("file", "f_inode"),
        ctime,
        cpuhp: (enumerator("CPUHP_BP_PREPARE_DYN"), enumerator("CPUHP_AP_ONLINE_DYN")),
    })
}

/// Every kernel's facts.
fn all_facts(dir: &std::path::Path) -> Vec<Facts> {
    let mut v: Vec<Facts> = DEBIAN_FACTS.into_iter().collect();
    v.extend(host_facts(dir));
    v
}

/// Byte offset of `field` in the kernel's `strukt`, by the BTF crate.
fn btf_offset(btf: &Btf, strukt: &str, field: &str) -> u64 {
    let id = btf.find_first(strukt, Kind::Struct).unwrap();
    member_by_name(btf, id, field).unwrap().unwrap_or_else(|| panic!("{strukt}.{field}")).bit_offset / 8
}

/// Value of enumerator `name` of the kernel's `enum_name`, by the BTF crate
/// (sign-extended from 32 bits, as libbpf relocates it).
fn btf_enumerator(btf: &Btf, enum_name: &str, name: &str) -> Option<u64> {
    let id = btf.find_first(enum_name, Kind::Enum).or_else(|| btf.find_first(enum_name, Kind::Enum64))?;
    let t = btf.type_by_id(id).unwrap();
    let e = t.enumerators().find(|e| btf.str(e.name_off).unwrap() == name)?;
    Some(if t.kind() == Kind::Enum { e.value as u32 as i32 as i64 as u64 } else { e.value })
}

fn poisoned(insns: &[Vec<Insn>], prog: usize, idx: usize) -> bool {
    insns[prog][idx] == Insn::call_helper(poison::CORE_RELO)
}

#[test]
fn field_offsets_sizes_and_arrays_of_structs() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("core_fields");
    for f in &all_facts(&dir) {
        let t = target(&dir, f.release, false);
        let vm = &t.vmlinux;
        let (rep, insns) = run(&obj, &t).unwrap();
        let val = |p: &str, k, ty: &str, a: &str| one(&rep, &obj, p, k, ty, a).new_value;
        let rel = f.release;
        for (field, want, access) in
            [("pid", f.pid, "0:2"), ("tgid", f.tgid, "0:3"), ("comm", f.comm, "0:4"), ("signal", f.signal, "0:6"), ("mm", f.mm, "0:5")]
        {
            assert_eq!(btf_offset(vm, "task_struct", field), want, "{rel}: bpftool vs BTF crate on task_struct.{field}");
            let prog = if field == "mm" { "flavors" } else { "fields" };
            assert_eq!(val(prog, K::FieldByteOffset, "task_struct", access), want, "{rel}: task_struct.{field}");
        }
        assert_eq!(val("fields", K::FieldByteSize, "task_struct", "0:2"), 4, "{rel}");
        assert_eq!(val("fields", K::FieldByteSize, "task_struct", "0:4"), 16, "{rel}: comm[16]");
        // An array of structs: rlim[7].rlim_cur, 16-byte elements.
        assert_eq!(btf_offset(vm, "signal_struct", "rlim"), f.rlim);
        assert_eq!(val("fields", K::FieldByteOffset, "signal_struct", "0:1"), f.rlim, "{rel}");
        assert_eq!(val("fields", K::FieldByteSize, "signal_struct", "0:1"), 256, "{rel}: rlim[16]");
        assert_eq!(val("fields", K::FieldByteOffset, "signal_struct", "0:1:7:0"), f.rlim + 7 * 16, "{rel}");
        assert_eq!(val("fields", K::FieldByteOffset, "signal_struct", "0:1:7:1"), f.rlim + 7 * 16 + 8, "{rel}");
        // exe_file sits inside an anonymous struct of mm_struct: the target
        // spec goes through it.
        assert_eq!(btf_offset(vm, "mm_struct", "exe_file"), f.exe_file);
        let r = one(&rep, &obj, "fields", K::FieldByteOffset, "mm_struct", "0:0");
        assert_eq!(r.new_value, f.exe_file, "{rel}");
        let tspec = &r.target.as_ref().unwrap().spec;
        assert!(tspec.contains("struct mm_struct.exe_file (0:0:") && tspec.ends_with(&format!("@ offset {})", f.exe_file)), "{tspec}");
        assert_eq!(val("flavors", K::FieldByteOffset, "file", "0:0"), f.f_inode, "{rel}");
        // The patched instruction holds the value: `rX = imm`.
        let r = one(&rep, &obj, "fields", K::FieldByteOffset, "task_struct", "0:2");
        assert_eq!(insns[r.program][r.insn_idx].imm() as u64, f.pid);
        assert_eq!(r.target.as_ref().map(|t| (t.owner, t.type_id)), Some((BtfOwner::Vmlinux, f.task_struct_id)));
        assert_eq!(r.spec, "<byte_off> [5] struct task_struct.pid (0:2 @ offset 8)");
    }
}

#[test]
fn direct_loads_get_offsets_and_widths() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("core_fields");
    for f in &all_facts(&dir) {
        let (rep, insns) = run(&obj, &target(&dir, f.release, false)).unwrap();
        let pid = one(&rep, &obj, "direct", K::FieldByteOffset, "task_struct___u32", "0:1");
        assert_eq!(pid.action, PatchAction::MemOff { mem_size: None });
        assert_eq!(insns[pid.program][pid.insn_idx].off() as u64, f.pid, "{}", f.release);
        // rlim_cur is declared u32 locally, u64 in the kernel: the element
        // stride and the load width follow the kernel.
        let cur = one(&rep, &obj, "direct", K::FieldByteOffset, "signal_struct___u32", "0:0:7:0");
        assert_eq!((cur.orig_value, cur.new_value), (56, f.rlim + 7 * 16), "{}", f.release);
        assert_eq!(cur.action, PatchAction::MemOff { mem_size: Some((4, 8)) });
        let insn = insns[cur.program][cur.insn_idx];
        assert_eq!(insn.code(), 0x79, "{}: ldxdw", f.release);
        assert_eq!(obj.programs[cur.program].insns[cur.insn_idx].code(), 0x61, "ldxw in the object");
    }
}

#[test]
fn a_real_kernel_bitfield() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("core_fields");
    for f in &all_facts(&dir) {
        let t = target(&dir, f.release, false);
        let id = t.vmlinux.find_first("task_struct", Kind::Struct).unwrap();
        let m = member_by_name(&t.vmlinux, id, "sched_reset_on_fork").unwrap().unwrap();
        assert_eq!((m.bit_offset, m.member.bitfield_size), (f.reset_on_fork_bit, 1), "{}", f.release);
        let (rep, _) = run(&obj, &t).unwrap();
        let all = |k| find(&rep, &obj, "bitfields", k, "task_struct", "0:1");
        // The bit's 4-byte unsigned int unit.
        let unit = f.reset_on_fork_bit / 8 / 4 * 4;
        let lshift = 64 - (f.reset_on_fork_bit + 1 - unit * 8);
        for (k, want) in
            [(K::FieldByteOffset, unit), (K::FieldByteSize, 4), (K::FieldLshiftU64, lshift), (K::FieldRshiftU64, 63), (K::FieldSigned, 0)]
        {
            let rs = all(k);
            assert!(!rs.is_empty(), "{}: no {} relocation", f.release, k.name());
            for r in rs {
                assert_eq!(r.new_value, want, "{}: {}", f.release, k.name());
            }
        }
        let r = all(K::FieldByteOffset)[0];
        assert!(r.target.as_ref().unwrap().spec.ends_with(&format!("@ offset {})", f.reset_on_fork_bit / 8)), "{:?}", r.target);
    }
}

#[test]
fn existence_and_flavors() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("core_fields");
    for f in &all_facts(&dir) {
        let rel = f.release;
        let (rep, insns) = run(&obj, &target(&dir, rel, false)).unwrap();
        let exists = |ty: &str, a: &str| one(&rep, &obj, "exists", K::FieldExists, ty, a).new_value;
        let (flavor, ctime_off) = f.ctime;
        assert_eq!(exists("task_struct", "0:2"), 1);
        assert_eq!(exists("task_struct", "0:7"), 0, "bpfld_no_such_field");
        assert_eq!(exists("inode___old", "0:2"), u64::from(flavor == 1), "{rel}: i_ctime");
        assert_eq!(exists("inode___mid", "0:0"), 0, "{rel}: __i_ctime (6.6-6.10 only)");
        assert_eq!(exists("inode___new", "0:1"), u64::from(flavor == 3), "{rel}: i_ctime_sec");
        // The guarded read of the missing field is poisoned, not an error.
        let r = one(&rep, &obj, "exists", K::FieldByteOffset, "task_struct", "0:7");
        assert!(r.poisoned() && poisoned(&insns, r.program, r.insn_idx));
        assert_eq!(r.failure, Some(CoreFailure::NoMatch { candidates: 1 }));
        assert_eq!(
            r.log_explanation(),
            "failed to resolve CO-RE relocation <byte_off> [5] struct task_struct.bpfld_no_such_field (0:7 @ offset 48)"
        );

        // The flavor the kernel has is relocated, the others poisoned.
        let new = one(&rep, &obj, "flavors", K::FieldByteOffset, "inode___new", "0:1");
        let old = one(&rep, &obj, "flavors", K::FieldByteOffset, "inode___old", "0:2:0");
        let mid = one(&rep, &obj, "flavors", K::FieldByteOffset, "inode___mid", "0:0:0");
        assert!(mid.poisoned());
        let (used, unused) = if flavor == 3 { (new, old) } else { (old, new) };
        assert_eq!((used.new_value, used.poisoned()), (ctime_off, false), "{rel}");
        assert!(unused.poisoned() && poisoned(&insns, unused.program, unused.insn_idx), "{rel}");
        let field = if flavor == 3 { "i_ctime_sec" } else { "i_ctime" };
        assert_eq!(btf_offset(&target(&dir, rel, false).vmlinux, "inode", field), ctime_off);
        // i_ino, and __i_nlink through the kernel's anonymous union.
        assert_eq!(one(&rep, &obj, "flavors", K::FieldByteOffset, "inode___old", "0:0").new_value, 64);
        let nlink = one(&rep, &obj, "flavors", K::FieldByteOffset, "inode___old", "0:1:1");
        assert_eq!(nlink.new_value, 72);
        assert!(nlink.target.as_ref().unwrap().spec.contains("struct inode.__i_nlink (0:"), "{:?}", nlink.target);
    }
}

#[test]
fn types_enums_and_subprograms() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("core_types");
    let local = obj.btf.as_ref().unwrap();
    let local_task = local.find_first("task_struct", Kind::Struct).unwrap();
    for f in &all_facts(&dir) {
        let rel = f.release;
        let t = target(&dir, rel, false);
        let vm = &t.vmlinux;
        let (rep, insns) = run(&obj, &t).unwrap();
        let ty = |k, name: &str| one(&rep, &obj, "types", k, name, "0");
        assert_eq!(ty(K::TypeExists, "task_struct").new_value, 1);
        let no = ty(K::TypeExists, "bpfld_no_such_struct");
        assert_eq!((no.new_value, &no.failure), (0, &Some(CoreFailure::NoCandidate)));
        assert_eq!(ty(K::TypeSize, "task_struct").new_value, f.task_struct_size, "{rel}");
        assert_eq!(vm.find_first("task_struct", Kind::Struct), Some(f.task_struct_id));
        let id = ty(K::TypeIdTarget, "task_struct");
        assert_eq!(id.new_value, u64::from(f.task_struct_id), "{rel}");
        assert_eq!(id.action, PatchAction::LdImm64);
        assert_eq!(insns[id.program][id.insn_idx].imm() as u64, u64::from(f.task_struct_id));
        assert_eq!(ty(K::TypeIdLocal, "task_struct").new_value, u64::from(local_task));
        assert_eq!(ty(K::TypeMatches, "list_head").new_value, 1, "{rel}");
        assert_eq!(ty(K::TypeMatches, "list_head___bad").new_value, 0, "{rel}");
        assert_eq!(ty(K::TypeExists, "list_head___bad").new_value, 1, "{rel}: exists only wants a compatible kind");
        // Two identical elf_note_info in the kernel: both match, and agree.
        let note = one(&rep, &obj, "types", K::FieldByteOffset, "elf_note_info", "0:0");
        assert_eq!((note.new_value, note.candidates, note.matched), (232, 2, 2), "{rel}");
        assert_eq!(vm.find("elf_note_info", Some(Kind::Struct)).len(), 2);
        assert_eq!(ty(K::TypeSize, "elf_note_info").new_value, 248);

        let ev = |k, a: &str| one(&rep, &obj, "enums", k, "cpuhp_state", a);
        assert_eq!(ev(K::EnumvalValue, "2").new_value as i64, f.cpuhp.0, "{rel}: CPUHP_BP_PREPARE_DYN");
        assert_eq!(ev(K::EnumvalValue, "3").new_value as i64, f.cpuhp.1, "{rel}: CPUHP_AP_ONLINE_DYN");
        assert_eq!(btf_enumerator(vm, "cpuhp_state", "CPUHP_BP_PREPARE_DYN"), Some(f.cpuhp.0 as u64));
        assert_eq!(ev(K::EnumvalValue, "4").new_value, btf_enumerator(vm, "cpuhp_state", "CPUHP_ONLINE").unwrap());
        assert_eq!(ev(K::EnumvalValue, "0").new_value, u64::MAX, "CPUHP_INVALID = -1");
        assert_eq!(ev(K::EnumvalExists, "5").new_value, 0);
        assert!(ev(K::EnumvalValue, "5").poisoned());
        // netdev_priv_flags: ENUM64 on 6.1, 32-bit ENUM later.
        let nd = |k, a: &str| one(&rep, &obj, "enums", k, "netdev_priv_flags", a);
        let on_61 = rel == K61;
        assert_eq!(nd(K::EnumvalExists, "2").new_value, u64::from(on_61), "{rel}: IFF_CHANGE_PROTO_DOWN");
        assert_eq!(nd(K::EnumvalValue, "2").poisoned(), !on_61);
        if on_61 {
            assert_eq!(nd(K::EnumvalValue, "2").new_value, 1 << 32);
        }
        // 0x80000000 in an unsigned 32-bit ENUM reads as a negative int to
        // libbpf, which sign-extends it into the 64-bit immediate.
        let want = if on_61 { 0x8000_0000 } else { 0xffff_ffff_8000_0000 };
        assert_eq!(nd(K::EnumvalValue, "1").new_value, want, "{rel}: IFF_TX_SKB_NO_LINEAR");
        assert_eq!(btf_enumerator(vm, "netdev_priv_flags", "IFF_TX_SKB_NO_LINEAR"), Some(want));
        let pc = one(&rep, &obj, "enums", K::EnumvalValue, "perf_callchain_context", "0");
        assert_eq!(pc.new_value, -128i64 as u64);
        let hmm = one(&rep, &obj, "enums", K::EnumvalValue, "hmm_pfn_flags", "0");
        let has_hmm = rel != K618;
        assert_eq!(hmm.poisoned(), !has_hmm, "{rel}");
        if has_hmm {
            assert_eq!(hmm.new_value, 1 << 63);
            let h = hmm.action;
            assert_eq!(h, PatchAction::LdImm64);
        } else {
            // Both halves of the ld_imm64 are poisoned.
            assert!(poisoned(&insns, hmm.program, hmm.insn_idx) && poisoned(&insns, hmm.program, hmm.insn_idx + 1));
        }

        // The .text subprogram's relocation is applied to the subprogram,
        // once.
        let sub = find(&rep, &obj, "pid_offset_in_subprog", K::FieldByteOffset, "task_struct", "0:0");
        assert_eq!(sub.len(), 1);
        assert_eq!(sub[0].new_value, f.pid);
        assert!(obj.programs[sub[0].program].is_subprog);
        // The SEC("?syscall") program's relocation is skipped, as libbpf.
        let nl = prog(&obj, "not_loaded");
        assert!(rep.relocations.iter().all(|r| r.program != nl));
        assert_eq!(rep.skipped.len(), 1);
        assert!(rep.skipped[0].reason.contains("not_loaded"), "{:?}", rep.skipped);
        assert_eq!(insns[nl], obj.programs[nl].insns);
        // One candidate search per local type, however many relocations.
        let distinct: std::collections::BTreeSet<u32> =
            rep.relocations.iter().filter(|r| r.kind != K::TypeIdLocal).map(|r| r.local_type_id).collect();
        assert_eq!(rep.types_searched, distinct.len());
    }
}

#[test]
fn module_types_are_searched_only_when_vmlinux_has_none() {
    let Some(dir) = kernel_btf_dir() else { return };
    let obj = object("core_module");
    for f in &all_facts(&dir) {
        let rel = f.release;
        for with_modules in [false, true] {
            let t = target(&dir, rel, with_modules);
            let module = |name: &str| t.modules.iter().position(|m| m.name == name).map(BtfOwner::Module);
            let (rep, _) = run(&obj, &t).unwrap();
            let get = |k, ty: &str, a: &str| one(&rep, &obj, "module_types", k, ty, a);
            // bbr: tcp_bbr module on 6.1/6.12, built in on 6.18.
            let bbr_owner = if rel == K618 { Some(BtfOwner::Vmlinux) } else { module("tcp_bbr") };
            let bbr = get(K::TypeExists, "bbr", "0");
            assert_eq!(bbr.target.as_ref().map(|t| t.owner), bbr_owner, "{rel} modules={with_modules}");
            let mode = get(K::FieldByteOffset, "bbr", "0:1");
            if let Some(owner) = bbr_owner {
                let btf = t.btf(owner);
                let id = btf.find_first("bbr", Kind::Struct).unwrap();
                let m = member_by_name(btf, id, "mode").unwrap().unwrap();
                assert_eq!(mode.new_value, m.bit_offset / 8 / 4 * 4, "{rel}");
                assert_eq!(mode.target.as_ref().unwrap().type_id, id);
            } else {
                assert_eq!(bbr.new_value, 0);
                assert!(mode.poisoned());
                assert_eq!(mode.failure, Some(CoreFailure::NoCandidate));
            }
            // dctcp: 28 bytes on 6.1, 36 with plb on 6.12, absent on the
            // host's vmlinux.
            let dctcp = get(K::TypeSize, "dctcp", "0");
            match (rel, module("tcp_dctcp")) {
                (K61, Some(m)) => {
                    assert_eq!((dctcp.new_value, dctcp.target.as_ref().unwrap().owner), (28, m));
                    assert_eq!(get(K::FieldExists, "dctcp", "0:2").new_value, 0);
                }
                (K612, Some(m)) => {
                    assert_eq!((dctcp.new_value, dctcp.target.as_ref().unwrap().owner), (36, m));
                    assert_eq!(get(K::FieldExists, "dctcp", "0:2").new_value, 1);
                }
                _ => assert!(dctcp.poisoned() || dctcp.new_value == 0, "{rel}: {dctcp:?}"),
            }
            // file_system_type: in vmlinux, and (on 6.1) repeated by the
            // nf_conntrack module, which is then not searched.
            let fst = get(K::TypeIdTarget, "file_system_type", "0");
            let vm_id = t.vmlinux.find_first("file_system_type", Kind::Struct).unwrap();
            assert_eq!((fst.new_value, fst.candidates), (u64::from(vm_id), 1), "{rel}");
            if rel == K61 && with_modules {
                let m = module("nf_conntrack").unwrap();
                assert!(!t.btf(m).find_own("file_system_type", Some(Kind::Struct)).is_empty());
            }
        }
    }
}

#[test]
fn candidate_pruning_and_ambiguity_on_real_kernels() {
    let Some(dir) = kernel_btf_dir() else { return };
    let pruning = object("core_pruning");
    let ambiguous = object("core_ambiguous");
    for rel in KERNELS {
        let t = target(&dir, rel, false);
        // Two different dma_chan structs in every kernel.
        let sizes: Vec<u32> =
            t.vmlinux.find("dma_chan", Some(Kind::Struct)).iter().map(|&i| t.vmlinux.type_by_id(i).unwrap().size().unwrap()).collect();
        assert_eq!(sizes.len(), 2, "{rel}");
        let (rep, _) = run(&pruning, &t).unwrap();
        let cookie = one(&rep, &pruning, "cookie_offset", K::FieldByteOffset, "dma_chan", "0:0");
        assert_eq!((cookie.new_value, cookie.candidates, cookie.matched), (16, 2, 1), "{rel}");
        let size = one(&rep, &pruning, "size_after_pruning", K::TypeSize, "dma_chan", "0");
        assert_eq!((size.new_value, size.candidates), (112, 1), "{rel}: the list was pruned to the dma_chan with cookie");
        let e = run(&ambiguous, &t).unwrap_err().to_string();
        assert!(
            e.starts_with("core_ambiguous: program 'ambiguous_size': insn 0: CO-RE relocation #0 (type_size of [5], access '0'): relocation decision ambiguity: success "),
            "{rel}: {e}"
        );
        for s in sizes {
            assert!(e.contains(&format!("success {s}")), "{e}");
        }
    }
}
