//! Tests against the running kernel. Each test first calls
//! `require_kernel()` and returns early (skips) when bpf() is not usable.

use std::collections::BTreeSet;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use bpfld_asm::types::{AttachType, MapType, ProgType};
use bpfld_sys::consts::*;
use bpfld_sys::*;
use bpfld_testdata::require_kernel;

const XDP_PASS: i32 = 2;

// --- A tiny instruction encoder -------------------------------------------

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[0] = code;
    b[1] = (src << 4) | (dst & 0xf);
    b[2..4].copy_from_slice(&off.to_ne_bytes());
    b[4..8].copy_from_slice(&imm.to_ne_bytes());
    b
}
/// `dst = imm` (64-bit).
fn mov_imm(dst: u8, imm: i32) -> [u8; 8] {
    insn(0xb7, dst, 0, 0, imm)
}
/// `dst = src` (64-bit).
fn mov_reg(dst: u8, src: u8) -> [u8; 8] {
    insn(0xbf, dst, src, 0, 0)
}
/// `*(u32 *)(dst + off) = imm`.
fn st_w(dst: u8, off: i16, imm: i32) -> [u8; 8] {
    insn(0x62, dst, 0, off, imm)
}
/// `dst = map` as a `ld_imm64` with the given pseudo source (1 = fd, 5 = idx).
fn ld_map(dst: u8, pseudo: u8, imm: i32) -> [[u8; 8]; 2] {
    [insn(0x18, dst, pseudo, 0, imm), insn(0, 0, 0, 0, 0)]
}
fn exit() -> [u8; 8] {
    insn(0x95, 0, 0, 0, 0)
}
fn code(insns: &[[u8; 8]]) -> Vec<u8> {
    insns.concat()
}

fn load_with(prog_type: ProgType, insns: &[u8], name: &str, log: LogOptions) -> Result<ProgLoaded, LoadError> {
    prog_load(&ProgLoadAttr { prog_type, insns, license: c"GPL", prog_name: name, log, ..Default::default() })
}

fn load(prog_type: ProgType, insns: &[u8], name: &str) -> OwnedFd {
    match load_with(prog_type, insns, name, LogOptions::default()) {
        Ok(p) => p.fd,
        Err(e) => panic!("{e}"),
    }
}

fn create(map_type: MapType, key_size: u32, value_size: u32, max_entries: u32, flags: u32, name: &str) -> OwnedFd {
    map_create(&MapCreateAttr { map_type, key_size, value_size, max_entries, map_flags: flags, map_name: name, ..Default::default() })
        .unwrap_or_else(|e| panic!("{e}"))
}

fn errno<T: std::fmt::Debug>(r: Result<T>) -> Option<i32> {
    r.expect_err("expected an error").errno()
}

// --- Maps -----------------------------------------------------------------

#[test]
fn hash_map_element_ops() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::HASH, 4, 8, 16, 0, "test_hash");
    let m = MapRef::new(fd.as_fd()).unwrap();
    assert_eq!((m.key_size(), m.value_size(), m.map_type()), (4, 8, MapType::HASH));

    for k in 0..5u32 {
        m.update(&k.to_ne_bytes(), &(u64::from(k) * 100).to_ne_bytes(), BPF_ANY).unwrap();
    }
    let mut v = [0u8; 8];
    for k in 0..5u32 {
        assert!(m.lookup(&k.to_ne_bytes(), &mut v, 0).unwrap());
        assert_eq!(u64::from_ne_bytes(v), u64::from(k) * 100);
    }
    assert!(!m.lookup(&99u32.to_ne_bytes(), &mut v, 0).unwrap());

    assert_eq!(errno(m.update(&1u32.to_ne_bytes(), &[0; 8], BPF_NOEXIST)), Some(libc::EEXIST));
    assert_eq!(errno(m.update(&42u32.to_ne_bytes(), &[0; 8], BPF_EXIST)), Some(libc::ENOENT));

    // Iterate with get_next_key.
    let mut keys = BTreeSet::new();
    let mut key = [0u8; 4];
    let mut cur: Option<[u8; 4]> = None;
    while m.next_key(cur.as_ref().map(|k| &k[..]), &mut key).unwrap() {
        keys.insert(u32::from_ne_bytes(key));
        cur = Some(key);
    }
    assert_eq!(keys, (0..5).collect());

    m.delete(&3u32.to_ne_bytes()).unwrap();
    assert!(!m.lookup(&3u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(errno(m.delete(&3u32.to_ne_bytes())), Some(libc::ENOENT));

    // Free-function forms.
    map_update_elem(fd.as_fd(), &7u32.to_ne_bytes(), &77u64.to_ne_bytes(), BPF_ANY).unwrap();
    assert!(map_lookup_elem(fd.as_fd(), &7u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u64::from_ne_bytes(v), 77);
    let mut first = [0u8; 4];
    assert!(map_get_next_key(fd.as_fd(), None, &mut first).unwrap());
    map_delete_elem(fd.as_fd(), &7u32.to_ne_bytes()).unwrap();

    // Wrong sizes are rejected before the syscall.
    let e = m.update(&[0u8; 3], &[0u8; 8], BPF_ANY).unwrap_err();
    assert_eq!((e.errno(), e.kind()), (None, io::ErrorKind::InvalidInput));
    let e = m.lookup(&[0u8; 4], &mut [0u8; 4], 0).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("'test_hash'"), "{e}");
}

#[test]
fn map_info_and_ids() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::HASH, 8, 16, 32, BPF_F_NO_PREALLOC, "a_long_map_name_truncated");
    let info = map_info(fd.as_fd()).unwrap();
    assert_eq!(info.map_type, MapType::HASH);
    assert_eq!((info.key_size, info.value_size, info.max_entries), (8, 16, 32));
    assert_eq!(info.map_flags, BPF_F_NO_PREALLOC);
    assert_eq!(info.name, "a_long_map_name");
    assert!(info.id > 0);

    let again = map_get_fd_by_id(info.id).unwrap();
    assert_eq!(map_info(again.as_fd()).unwrap().id, info.id);

    let mut found = false;
    let mut id = 0;
    while let Some(next) = map_get_next_id(id).unwrap() {
        found |= next == info.id;
        id = next;
    }
    assert!(found);
    assert_eq!(errno(map_get_fd_by_id(u32::MAX)), Some(libc::ENOENT));
}

#[test]
fn array_map_element_ops() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::ARRAY, 4, 4, 4, 0, "test_array");
    let m = MapRef::new(fd.as_fd()).unwrap();
    let mut v = [0xffu8; 4];
    assert!(m.lookup(&2u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(v, [0; 4]);
    m.update(&2u32.to_ne_bytes(), &0xdead_beefu32.to_ne_bytes(), BPF_ANY).unwrap();
    assert!(m.lookup(&2u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u32::from_ne_bytes(v), 0xdead_beef);
    assert_eq!(errno(m.delete(&2u32.to_ne_bytes())), Some(libc::EINVAL));
    assert!(!m.lookup(&10u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(errno(m.update(&10u32.to_ne_bytes(), &v, BPF_ANY)), Some(libc::E2BIG));
}

#[test]
fn frozen_map_rejects_user_updates() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::ARRAY, 4, 8, 1, 0, "test_frozen");
    let m = MapRef::new(fd.as_fd()).unwrap();
    m.update(&0u32.to_ne_bytes(), &5u64.to_ne_bytes(), BPF_ANY).unwrap();
    m.freeze().unwrap();
    let e = m.update(&0u32.to_ne_bytes(), &6u64.to_ne_bytes(), BPF_ANY).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EPERM));
    assert!(e.to_string().starts_with("bpf(BPF_MAP_UPDATE_ELEM) of 'test_frozen': "), "{e}");
    let mut v = [0u8; 8];
    assert!(m.lookup(&0u32.to_ne_bytes(), &mut v, 0).unwrap());
    assert_eq!(u64::from_ne_bytes(v), 5);
}

#[test]
fn queue_lookup_and_delete_pops() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::QUEUE, 0, 4, 4, 0, "test_queue");
    let m = MapRef::new(fd.as_fd()).unwrap();
    assert_eq!(m.key_size(), 0);
    m.update(&[], &1u32.to_ne_bytes(), BPF_ANY).unwrap();
    m.update(&[], &2u32.to_ne_bytes(), BPF_ANY).unwrap();
    let mut v = [0u8; 4];
    assert!(m.lookup_and_delete(&[], &mut v, 0).unwrap());
    assert_eq!(u32::from_ne_bytes(v), 1);
    assert!(map_lookup_and_delete_elem(fd.as_fd(), &[], &mut v, 0).unwrap());
    assert_eq!(u32::from_ne_bytes(v), 2);
    assert!(!m.lookup_and_delete(&[], &mut v, 0).unwrap());
}

#[test]
fn percpu_values_have_one_slot_per_possible_cpu() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::PERCPU_ARRAY, 4, 4, 1, 0, "test_percpu");
    let m = MapRef::new(fd.as_fd()).unwrap();
    let cpus = possible_cpus().unwrap();
    assert_eq!(m.value_size(), 8 * cpus);
    let value: Vec<u8> = (0..cpus as u64).flat_map(|c| (c + 10).to_ne_bytes()).collect();
    m.update(&0u32.to_ne_bytes(), &value, BPF_ANY).unwrap();
    let mut out = vec![0u8; m.value_size()];
    assert!(m.lookup(&0u32.to_ne_bytes(), &mut out, 0).unwrap());
    for c in 0..cpus {
        let slot = &out[c * 8..c * 8 + 4];
        assert_eq!(u32::from_ne_bytes(slot.try_into().unwrap()), c as u32 + 10);
    }
}

#[test]
fn mmap_array_map() {
    if !require_kernel() {
        return;
    }
    let fd = create(MapType::ARRAY, 4, 8, 4, BPF_F_MMAPABLE, "test_mmap");
    let m = MapRef::new(fd.as_fd()).unwrap();
    let mut mm = MmapedMap::new(fd.as_fd(), true).unwrap();
    assert_eq!(mm.len(), 32);
    {
        let data = mm.as_mut_slice().unwrap();
        for i in 0..4u64 {
            data[i as usize * 8..][..8].copy_from_slice(&(i * 1000 + 1).to_ne_bytes());
        }
    }
    let mut v = [0u8; 8];
    for i in 0..4u32 {
        assert!(m.lookup(&i.to_ne_bytes(), &mut v, 0).unwrap());
        assert_eq!(u64::from_ne_bytes(v), u64::from(i) * 1000 + 1);
    }
    m.update(&3u32.to_ne_bytes(), &99u64.to_ne_bytes(), BPF_ANY).unwrap();
    assert_eq!(&mm.as_slice()[24..32], &99u64.to_ne_bytes());

    let ro = MmapedMap::new(fd.as_fd(), false).unwrap();
    let mut ro = ro;
    assert!(ro.as_mut_slice().is_none());
    assert_eq!(&ro.as_slice()[24..32], &99u64.to_ne_bytes());

    // The mapping outlives the fd.
    drop(fd);
    assert_eq!(&mm.as_slice()[0..8], &1u64.to_ne_bytes());

    // Frozen maps can only be mapped read-only.
    let frozen = create(MapType::ARRAY, 4, 4, 1, BPF_F_MMAPABLE, "test_mmap_ro");
    map_freeze(frozen.as_fd()).unwrap();
    let e = MmapedMap::new(frozen.as_fd(), true).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EPERM), "{e}");
    assert_eq!(e.operation(), Operation::Mmap);
    MmapedMap::new(frozen.as_fd(), false).unwrap();

    let plain = create(MapType::ARRAY, 4, 4, 1, 0, "test_no_mmap");
    let e = MmapedMap::new(plain.as_fd(), false).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

// --- Programs -------------------------------------------------------------

#[test]
fn socket_filter_test_run() {
    if !require_kernel() {
        return;
    }
    let prog = load(ProgType::SOCKET_FILTER, &code(&[mov_imm(0, 42), exit()]), "sf_42");
    let packet = [0u8; 64];
    let r = prog_test_run(prog.as_fd(), &TestRunOpts { data_in: &packet, ..Default::default() }).unwrap();
    assert_eq!(r.retval, 42);
}

#[test]
fn xdp_test_run_returns_packet() {
    if !require_kernel() {
        return;
    }
    let prog = load(ProgType::XDP, &code(&[mov_imm(0, XDP_PASS), exit()]), "xdp_pass");
    let packet: Vec<u8> = (0..64u8).collect();
    let r = prog_test_run(prog.as_fd(), &TestRunOpts { data_in: &packet, data_out_size: 256, repeat: 3, ..Default::default() }).unwrap();
    assert_eq!(r.retval, XDP_PASS as u32);
    assert_eq!(r.data_out, packet);

    // Too small an output buffer is ENOSPC.
    let e = prog_test_run(prog.as_fd(), &TestRunOpts { data_in: &packet, data_out_size: 16, ..Default::default() }).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOSPC));
}

#[test]
fn syscall_program_writes_its_context() {
    if !require_kernel() {
        return;
    }
    let insns = code(&[st_w(1, 0, 7), mov_imm(0, 42), exit()]);
    let prog = prog_load(&ProgLoadAttr {
        prog_type: ProgType::SYSCALL,
        prog_flags: BPF_F_SLEEPABLE,
        insns: &insns,
        license: c"GPL",
        prog_name: "syscall_42",
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let ctx = [0u8; 8];
    let r = prog_test_run(prog.fd.as_fd(), &TestRunOpts { ctx_in: &ctx, ..Default::default() }).unwrap();
    assert_eq!(r.retval, 42);
    assert_eq!(&r.ctx_in_after[..4], &7u32.to_ne_bytes());
    assert_eq!(ctx, [0; 8], "the caller's slice is never written");
}

#[test]
fn invalid_program_error_carries_log() {
    if !require_kernel() {
        return;
    }
    let insns = code(&[mov_reg(0, 2), exit()]);
    let e = load_with(ProgType::SOCKET_FILTER, &insns, "bad_prog", LogOptions::with_level(1)).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EACCES), "{e}");
    assert!(e.log().contains("R2 !read_ok"), "{}", e.log());
    assert!(!e.log_truncated());
    let s = e.to_string();
    assert!(s.starts_with("bpf(BPF_PROG_LOAD) of 'bad_prog': Permission denied (os error 13)"), "{s}");
    assert!(s.contains("R2 !read_ok"), "{s}");

    // Default options: load without a log, retry with one on failure.
    let e = load_with(ProgType::SOCKET_FILTER, &insns, "bad_prog", LogOptions::default()).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EACCES));
    assert!(e.log().contains("R2 !read_ok"), "{}", e.log());

    // No log at all.
    let e = load_with(ProgType::SOCKET_FILTER, &insns, "bad_prog", LogOptions::none()).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EACCES));
    assert!(e.log().is_empty());

    // Malformed input never reaches the kernel.
    let e = load_with(ProgType::SOCKET_FILTER, &insns[..12], "bad_len", LogOptions::none()).unwrap_err();
    assert_eq!(e.errno(), None);
    assert_eq!(e.sys_error().kind(), io::ErrorKind::InvalidInput);
}

/// `n` moves into r3..r9 followed by `r0 = r2` (invalid if `bad`) or `r0 = 0`, `exit`.
fn long_program(n: i32, bad: bool) -> Vec<u8> {
    let mut insns: Vec<[u8; 8]> = (0..n).map(|i| mov_imm((i % 7) as u8 + 3, i)).collect();
    insns.push(if bad { mov_reg(0, 2) } else { mov_imm(0, 0) });
    insns.push(exit());
    code(&insns)
}

#[test]
fn log_grows_until_complete() {
    if !require_kernel() {
        return;
    }
    let big = |level| LogOptions { initial_size: 16 << 20, ..LogOptions::with_level(level) };
    let tiny = |level| LogOptions { initial_size: 1, ..LogOptions::with_level(level) };

    // Successful load, level 2: the log comes back with the program.
    let insns = long_program(300, false);
    let reference = load_with(ProgType::SOCKET_FILTER, &insns, "long_ok", big(BPF_LOG_LEVEL2)).unwrap();
    let grown = load_with(ProgType::SOCKET_FILTER, &insns, "long_ok", tiny(BPF_LOG_LEVEL2)).unwrap();
    assert!(reference.log.len() > 4 * 128, "log is only {} bytes", reference.log.len());
    assert_eq!(grown.log, reference.log);
    assert!(grown.log.contains("processed"), "{}", grown.log);

    // Failed load, level 1: the error is the verifier's, not ENOSPC.
    let insns = long_program(300, true);
    let reference = load_with(ProgType::SOCKET_FILTER, &insns, "long_bad", big(BPF_LOG_LEVEL1)).unwrap_err();
    let grown = load_with(ProgType::SOCKET_FILTER, &insns, "long_bad", tiny(BPF_LOG_LEVEL1)).unwrap_err();
    assert_eq!(grown.errno(), Some(libc::EACCES));
    assert!(reference.log().len() > 128);
    assert_eq!(grown.log(), reference.log());
    assert!(grown.log().contains("R2 !read_ok"));
    assert!(!grown.log_truncated());

    // A log that does not fit the maximum is reported as truncated.
    let capped = LogOptions { max_size: 256, ..tiny(BPF_LOG_LEVEL1) };
    let e = load_with(ProgType::SOCKET_FILTER, &insns, "long_bad", capped).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOSPC));
    assert!(e.log_truncated());
    assert!(e.log().len() < 256);
}

#[test]
fn prog_info_returns_xlated_instructions() {
    if !require_kernel() {
        return;
    }
    let insns = code(&[mov_imm(0, 42), exit()]);
    let fd = load(ProgType::SOCKET_FILTER, &insns, "a_very_long_program_name");
    let info = prog_info(fd.as_fd()).unwrap();
    assert_eq!(info.prog_type, ProgType::SOCKET_FILTER);
    assert_eq!(info.name, "a_very_long_pro");
    assert_eq!(info.xlated_prog_insns, insns);
    assert!(info.map_ids.is_empty());
    assert!(info.gpl_compatible);
    assert!(info.id > 0);

    let again = prog_get_fd_by_id(info.id).unwrap();
    assert_eq!(prog_info(again.as_fd()).unwrap().id, info.id);
    let mut found = false;
    let mut id = 0;
    while let Some(next) = prog_get_next_id(id).unwrap() {
        found |= next == info.id;
        id = next;
    }
    assert!(found);
}

#[test]
fn prog_info_map_ids_and_fd_array() {
    if !require_kernel() {
        return;
    }
    let map = create(MapType::ARRAY, 4, 4, 1, 0, "used_map");
    let map_id = map_info(map.as_fd()).unwrap().id;

    // ld_imm64 with a map fd.
    let [a, b] = ld_map(1, 1, map.as_raw_fd());
    let fd = load(ProgType::SOCKET_FILTER, &code(&[a, b, mov_imm(0, 0), exit()]), "uses_map");
    assert_eq!(prog_info(fd.as_fd()).unwrap().map_ids, vec![map_id]);

    // ld_imm64 with an index into fd_array; bind an otherwise unused map.
    let unused = create(MapType::ARRAY, 4, 4, 1, 0, "bound_map");
    let unused_id = map_info(unused.as_fd()).unwrap().id;
    let fds = [map.as_raw_fd(), unused.as_raw_fd()];
    let [a, b] = ld_map(1, 5, 0);
    let insns = code(&[a, b, mov_imm(0, 0), exit()]);
    let p = prog_load(&ProgLoadAttr {
        prog_type: ProgType::SOCKET_FILTER,
        insns: &insns,
        license: c"GPL",
        prog_name: "fd_array",
        fd_array: &fds,
        bind_fd_array: true,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let ids: BTreeSet<u32> = prog_info(p.fd.as_fd()).unwrap().map_ids.into_iter().collect();
    assert_eq!(ids, [map_id, unused_id].into_iter().collect());

    // prog_bind_map.
    let other = create(MapType::ARRAY, 4, 4, 1, 0, "late_bound");
    let other_id = map_info(other.as_fd()).unwrap().id;
    prog_bind_map(fd.as_fd(), other.as_fd()).unwrap();
    let ids: BTreeSet<u32> = prog_info(fd.as_fd()).unwrap().map_ids.into_iter().collect();
    assert_eq!(ids, [map_id, other_id].into_iter().collect());
}

// --- BTF ------------------------------------------------------------------

/// Header + `int` (signed, 32 bits) + string table "\0int\0".
fn minimal_btf(magic: u16) -> Vec<u8> {
    let strings = b"\0int\0";
    let types: Vec<u8> = [1u32, 0x0100_0000, 4, 0x0100_0020].iter().flat_map(|v| v.to_ne_bytes()).collect();
    let mut b = Vec::new();
    b.extend_from_slice(&magic.to_ne_bytes());
    b.push(1); // version
    b.push(0); // flags
    for v in [24u32, 0, types.len() as u32, types.len() as u32, strings.len() as u32] {
        b.extend_from_slice(&v.to_ne_bytes()); // hdr_len, type_off/len, str_off/len
    }
    b.extend_from_slice(&types);
    b.extend_from_slice(strings);
    b
}

#[test]
fn btf_load_and_info() {
    if !require_kernel() {
        return;
    }
    let blob = minimal_btf(0xeb9f);
    let fd = btf_load(&blob, LogOptions::with_level(1)).unwrap_or_else(|e| panic!("{e}"));
    let info = btf_info(fd.as_fd()).unwrap();
    assert!(info.id > 0);
    assert_eq!(info.name, "");
    assert!(!info.kernel_btf);
    assert_eq!(info.btf_size as usize, blob.len());
    assert_eq!(btf_raw_data(fd.as_fd()).unwrap(), blob);
    let again = btf_get_fd_by_id(info.id).unwrap();
    assert_eq!(btf_info(again.as_fd()).unwrap().id, info.id);

    // A map described by the BTF.
    let map = map_create(&MapCreateAttr {
        map_type: MapType::ARRAY,
        key_size: 4,
        value_size: 4,
        max_entries: 1,
        map_name: "btf_map",
        btf_fd: Some(fd.as_fd()),
        btf_key_type_id: 1,
        btf_value_type_id: 1,
        ..Default::default()
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let mi = map_info(map.as_fd()).unwrap();
    assert_eq!((mi.btf_id, mi.btf_key_type_id, mi.btf_value_type_id), (info.id, 1, 1));
}

#[test]
fn invalid_btf_error_carries_log() {
    if !require_kernel() {
        return;
    }
    let e = btf_load(&minimal_btf(0xeb9e), LogOptions::default()).unwrap_err();
    assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
    assert!(e.log().contains("magic"), "{}", e.log());
    assert!(e.to_string().starts_with("bpf(BPF_BTF_LOAD): "), "{e}");
}

#[test]
fn enumerate_btf_finds_vmlinux() {
    if !require_kernel() {
        return;
    }
    let mut id = 0;
    let mut vmlinux = None;
    while let Some(next) = btf_get_next_id(id).unwrap() {
        id = next;
        // Objects can disappear between the two calls.
        let Ok(fd) = btf_get_fd_by_id(id) else {
            continue;
        };
        let info = btf_info(fd.as_fd()).unwrap();
        if info.name == "vmlinux" {
            vmlinux = Some((info, fd));
            break;
        }
    }
    let (info, fd) = vmlinux.expect("no BTF object named vmlinux");
    assert!(info.kernel_btf);
    let raw = btf_raw_data(fd.as_fd()).unwrap();
    assert_eq!(raw.len(), info.btf_size as usize);
    assert_eq!(&raw[..2], &0xeb9fu16.to_ne_bytes());
    if let Ok(file) = std::fs::read("/sys/kernel/btf/vmlinux") {
        assert_eq!(raw, file);
    }
}

// --- Attachment and pinning -----------------------------------------------

#[test]
fn raw_tracepoint_link() {
    if !require_kernel() {
        return;
    }
    let prog = load(ProgType::RAW_TRACEPOINT, &code(&[mov_imm(0, 0), exit()]), "raw_tp");
    let link = raw_tracepoint_open(Some(c"sys_enter"), prog.as_fd()).unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    let mut id = 0;
    while let Some(next) = link_get_next_id(id).unwrap() {
        n += 1;
        id = next;
    }
    assert!(n >= 1);
    drop(link);
    let e = raw_tracepoint_open(Some(c"no_such_tracepoint_xyz"), prog.as_fd()).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
    assert!(e.to_string().contains("'no_such_tracepoint_xyz'"), "{e}");
}

/// A cgroup v2 mount point, if any.
fn cgroup2_mount() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&"cgroup2")).then(|| f[1].to_string())
    })
}

#[test]
fn cgroup_link_create_and_detach() {
    if !require_kernel() {
        return;
    }
    let Some(root) = cgroup2_mount() else {
        bpfld_testdata::skip::<()>("no cgroup2 mount");
        return;
    };
    let dir = format!("{root}/bpfld_sys_test_{}", std::process::id());
    if let Err(e) = std::fs::create_dir(&dir) {
        bpfld_testdata::skip::<()>(&format!("cannot create cgroup {dir}: {e}"));
        return;
    }
    let result = std::panic::catch_unwind(|| {
        let cg = std::fs::File::open(&dir).unwrap();
        let prog = prog_load(&ProgLoadAttr {
            prog_type: ProgType::CGROUP_SKB,
            expected_attach_type: AttachType::CGROUP_INET_INGRESS,
            insns: &code(&[mov_imm(0, 1), exit()]),
            license: c"GPL",
            prog_name: "cg_allow",
            ..Default::default()
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let link = link_create(prog.fd.as_fd(), LinkTarget::Fd(cg.as_fd()), AttachType::CGROUP_INET_INGRESS, 0, None)
            .unwrap_or_else(|e| panic!("{e}"));
        link_detach(link.as_fd()).unwrap();
    });
    let _ = std::fs::remove_dir(&dir);
    if let Err(p) = result {
        std::panic::resume_unwind(p);
    }
}

/// A bpffs mount point, if any.
fn bpffs_mount() -> Option<String> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    mounts.lines().find_map(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        (f.get(2) == Some(&"bpf")).then(|| f[1].to_string())
    })
}

#[test]
fn pin_and_get() {
    if !require_kernel() {
        return;
    }
    let Some(bpffs) = bpffs_mount() else {
        bpfld_testdata::skip::<()>("no bpffs mounted");
        return;
    };
    let map = create(MapType::ARRAY, 4, 4, 1, 0, "pinned");
    let id = map_info(map.as_fd()).unwrap().id;
    let path = std::path::PathBuf::from(format!("{bpffs}/bpfld_sys_test_{}", std::process::id()));
    obj_pin(map.as_fd(), &path).unwrap();
    let got = obj_get(&path, 0);
    let _ = std::fs::remove_file(&path);
    assert_eq!(map_info(got.unwrap().as_fd()).unwrap().id, id);
    let e = obj_get(&path, 0).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT));
}

#[test]
fn pin_outside_bpffs_fails_with_context() {
    if !require_kernel() {
        return;
    }
    let map = create(MapType::ARRAY, 4, 4, 1, 0, "not_pinned");
    let e = obj_pin(map.as_fd(), std::path::Path::new("/tmp/bpfld_not_bpffs")).unwrap_err();
    assert!(e.errno().is_some());
    assert!(e.to_string().starts_with("bpf(BPF_OBJ_PIN) of '/tmp/bpfld_not_bpffs': "), "{e}");
    let e = obj_pin(map.as_fd(), std::path::Path::new("/tmp/a\0b")).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn bpf_is_usable_here() {
    if !require_kernel() {
        return;
    }
    bpf_usable().unwrap();
}
