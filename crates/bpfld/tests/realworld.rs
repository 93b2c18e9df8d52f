//! What real-world programs use and the project's first test objects did
//! not: exception callbacks (`__exception_cb`, `bpf_throw`) and `__arena`
//! global variables in an arena map, loaded and run on the real kernel.

mod common;

use bpfld::TestRunOpts;
use bpfld_testdata::require_kernel;
use common::*;

// --- Exception callbacks ----------------------------------------------------

#[test]
fn exception_callback_is_appended_with_its_func_info() {
    if !require_kernel() {
        return;
    }
    let open = open("exception_cb");
    let obj = open.clone().load().unwrap();
    let p = obj.program("throwing").unwrap().plan();
    let names: Vec<&str> = p.layout.iter().map(|&(i, _)| open.object().programs[i].name.as_str()).collect();
    // After what the program calls, although nothing calls it.
    assert_eq!(names, ["throwing", "first_byte", "exception_cb_handler"]);
    let cb_start = p.layout[2].1 as u32;
    assert!(p.func_info.iter().any(|f| f.insn_off == cb_start), "no func_info at the callback's start {cb_start}: {:?}", p.func_info);
    assert_eq!(p.func_info.len(), 3);
}

#[test]
fn throwing_program_returns_the_callbacks_value() {
    if !require_kernel() {
        return;
    }
    let obj = load("exception_cb");
    let prog = obj.program("throwing").unwrap();
    let run = |first: u8, len: usize| {
        let mut pkt = packet();
        pkt.resize(len, 0);
        pkt[0] = first;
        prog.test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap().retval
    };
    // No throw: the program's own return value.
    assert_eq!(run(0, 64), 7);
    // Throw with the packet length as cookie: the callback returns it + 100.
    assert_eq!(run(1, 64), 164);
    assert_eq!(run(1, 90), 190);
}

// --- Arena globals ----------------------------------------------------------

/// A target with the facts of a kernel that takes any ld_imm64 offset.
fn arena_target(full_range: bool) -> bpfld_obj::Target {
    let vmlinux = bpfld_btf::Btf::from_vec(std::fs::read("/sys/kernel/btf/vmlinux").unwrap()).unwrap();
    let mut t = bpfld_obj::Target::new("facts", vmlinux);
    let mut features = bpfld_obj::KernelFeatures::all();
    features.ldimm64_full_range_off = full_range;
    t.features = Some(features);
    t.overrides.insert(bpfld_obj::arena::PAGE_SIZE_FACT.into(), 4096);
    t
}

#[test]
fn arena_variable_references_point_into_the_arena() {
    let open = open("arena_globals");
    let off = |name: &str| open.globals().iter().find(|g| g.name == name).unwrap().offset as i32;
    // runs, greeting (initialized) then from_user, doubled, as clang lays them out.
    assert_eq!([off("runs"), off("greeting"), off("from_user"), off("doubled")], [0, 8, 24, 32]);
    for (full_range, base) in [(true, 3 * 4096), (false, 0)] {
        let plan = open.plan(Some(&arena_target(full_range))).unwrap();
        assert_eq!(plan.arena.as_ref().unwrap().data_off, base as u64);
        let p = &plan.programs[0];
        let offs: Vec<i32> = p.map_refs.iter().map(|r| p.insns[r.insn_idx + 1].imm()).collect();
        // runs, doubled, from_user, greeting in program order.
        assert_eq!(offs, [base, base + 32, base + 24, base + 8], "full range {full_range}");
        assert!(p.map_refs.iter().all(|r| plan.maps[r.map].real_name == "arena"));
    }
}

#[test]
fn arena_globals_are_placed_in_the_arena_map() {
    let open = open("arena_globals");
    let arena = open.object().arena.as_ref().expect("arena globals");
    assert_eq!(open.object().maps[arena.map].real_name, "arena");
    // runs (8 bytes, = 1000), greeting[16], from_user, doubled.
    assert_eq!(arena.data.len(), 40);
    assert_eq!(open.global("runs").unwrap(), 1000u64.to_ne_bytes());
    assert_eq!(&open.global("greeting").unwrap()[..12], b"hello, arena");
}

#[test]
fn arena_globals_are_shared_between_program_and_user_space() {
    if !require_kernel() {
        return;
    }
    let mut open = open("arena_globals");
    open.set_global("from_user", &21u64.to_ne_bytes()).unwrap();
    let mut obj = match open.load() {
        Ok(o) => o,
        Err(e) if e.errno() == Some(libc::EPERM) && e.to_string().contains("map 'arena'") => {
            // This host's policy refuses BPF_MAP_TYPE_ARENA maps to root
            // with every capability (libbpf gets the same EPERM).
            bpfld_testdata::machine_limit(
                "arena_globals_are_shared_between_program_and_user_space",
                &format!("this host refuses BPF_MAP_TYPE_ARENA maps to root (libbpf too): {e}"),
            );
            return;
        }
        Err(e) => panic!("load arena_globals: {e}"),
    };
    // The initial values were copied into the arena after mapping it.
    assert_eq!(obj.read_global_u64("runs").unwrap(), 1000);
    assert_eq!(obj.read_global_u64("from_user").unwrap(), 21);
    assert_eq!(run_syscall(&obj, "arena_update"), 0);
    // The program wrote through the arena; user space reads the mapping.
    assert_eq!(obj.read_global_u64("runs").unwrap(), 1001);
    assert_eq!(obj.read_global_u64("doubled").unwrap(), 42);
    assert_eq!(&obj.read_global("greeting").unwrap()[..12], b"Hello, arena");
    // User space writes through the mapping; the program reads it back.
    obj.write_global("from_user", &500u64.to_ne_bytes()).unwrap();
    assert_eq!(run_syscall(&obj, "arena_update"), 0);
    assert_eq!(obj.read_global_u64("doubled").unwrap(), 1000);
    assert_eq!(obj.read_global_u64("runs").unwrap(), 1002);
    // The raw mapping: 4 pages, the variables in the last one on this
    // kernel (libbpf 1.7's placement where any ld_imm64 offset is allowed).
    let arena = obj.arena().unwrap();
    assert_eq!(arena.len(), 4 * bpfld_sys::page_size());
    let mut runs = [0u8; 8];
    let off = if bpfld::features().ldimm64_full_range_off { arena.len() - bpfld_sys::page_size() } else { 0 };
    arena.read(off, &mut runs).unwrap();
    assert_eq!(u64::from_ne_bytes(runs), 1002);
    assert!(arena.read(arena.len() - 4, &mut runs).is_err(), "reads past the end are refused");
    let addr = arena.addr();
    assert_ne!(addr, 0);
    obj.arena_mut().unwrap().write(off + 8, &7u64.to_ne_bytes()).unwrap();
    assert_eq!(run_syscall(&obj, "arena_update"), 0);
    assert_eq!(obj.read_global_u64("doubled").unwrap(), 14);
}
