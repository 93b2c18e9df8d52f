//! Loads the loader's test objects into the running kernel and checks what
//! the kernel says: values programs wrote, map contents, verdicts.

mod common;

use std::os::fd::AsFd;

use bpfld::{Error, MapType, ProgramState, TestRunOpts};
use bpfld_testdata::require_kernel;
use common::*;

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;
const EPERM: i32 = 1;
const EACCES: i32 = 13;

// --- Global data ------------------------------------------------------------

#[test]
fn global_data_maps_hold_initial_values_after_load() {
    if !require_kernel() {
        return;
    }
    let open = open("loader_globals");
    let obj = open.clone().load().unwrap();
    // Every global data map, read back through the kernel, equals the
    // section's bytes from the ELF (.bss: zeros).
    for m in obj.loaded_maps() {
        let map = obj.map(&m.spec.real_name).unwrap();
        let v = map.lookup_u32(0).unwrap().unwrap_or_else(|| panic!("{} has no element 0", m.spec.real_name));
        let want = if m.spec.data.is_empty() { vec![0; m.spec.value_size as usize] } else { m.spec.data.clone() };
        assert_eq!(v, want, "{}", m.spec.real_name);
    }
    assert_eq!(u32_of(&obj.map(".data").unwrap().lookup_u32(0).unwrap().unwrap()), 42);
    assert_eq!(obj.read_global_u64("data_var").unwrap(), 42);
    assert_eq!(obj.read_global_u64("rodata_var").unwrap(), 7);
    assert_eq!(obj.read_global_u64("custom_data").unwrap(), 100);
    assert_eq!(obj.read_global_u64("custom_ro").unwrap(), 200);
    assert_eq!(obj.read_global("data_arr").unwrap(), [1u64, 2, 3, 4].iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<_>>());
    assert_eq!(obj.read_global_u64("bss_var").unwrap(), 0);
    // Names as libbpf gives them, as the kernel reports them.
    let mut names: Vec<String> = obj.loaded_maps().iter().map(|m| bpfld_sys::map_info(m.fd.as_fd()).unwrap().name).collect();
    names.sort();
    assert_eq!(names, [".data.custom", ".rodata.custom", "loader_g.bss", "loader_g.data", "loader_g.rodata"]);
}

#[test]
fn programs_see_globals_set_before_load_and_write_them() {
    if !require_kernel() {
        return;
    }
    let mut open = open("loader_globals");
    assert_eq!(open.global("rodata_var").unwrap(), 7i32.to_ne_bytes());
    open.set_global("rodata_var", &1000i32.to_ne_bytes()).unwrap();
    open.set_global("data_arr", &[10u64, 20, 30, 40].iter().flat_map(|v| v.to_ne_bytes()).collect::<Vec<_>>()).unwrap();
    // Sizes are checked.
    assert!(open.set_global("rodata_var", &[0u8; 8]).is_err());
    let obj = open.load().unwrap();
    assert_eq!(run_syscall(&obj, "read_globals"), 0);
    // bss_var = data_var + rodata_var + custom_data + custom_ro.
    assert_eq!(obj.read_global_u64("bss_var").unwrap(), 42 + 1000 + 100 + 200);
    assert_eq!(obj.read_global_u64("sum_out").unwrap(), 100);
    assert_eq!(obj.read_global_u64("data_var").unwrap(), 43);
    assert_eq!(obj.read_global_u64("custom_data").unwrap(), 101);
    assert_eq!(obj.read_global_u64("runs").unwrap(), 1);
    // The second program of the section shares the globals and returns the
    // .rodata value set before load.
    assert_eq!(run_syscall(&obj, "bump_runs"), 1000);
    assert_eq!(obj.read_global_u64("runs").unwrap(), 11);
    // The same value through a map lookup (the kernel's view, not the mmap).
    let bss = obj.map(".bss").unwrap().lookup_u32(0).unwrap().unwrap();
    let runs = obj.globals().iter().find(|g| g.name == "runs").unwrap();
    assert_eq!(runs.section, ".bss");
    assert_eq!(u64_of(&bss[runs.offset..]), 11);
}

#[test]
fn writes_through_the_mapping_reach_programs() {
    if !require_kernel() {
        return;
    }
    let mut obj = load("loader_globals");
    obj.write_global("data_var", &5i32.to_ne_bytes()).unwrap();
    obj.write_global("custom_data", &1i32.to_ne_bytes()).unwrap();
    run_syscall(&obj, "read_globals");
    assert_eq!(obj.read_global_u64("bss_var").unwrap(), 5 + 7 + 1 + 200);
    // .rodata is frozen: neither the API nor a raw update can change it.
    let e = obj.write_global("rodata_var", &1i32.to_ne_bytes()).unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");
    let ro = obj.map(".rodata").unwrap();
    let e = ro.update_u32(0, &9i32.to_ne_bytes()).unwrap_err();
    assert_eq!(e.errno(), Some(EPERM), "{e}");
    let e = obj.map(".rodata.custom").unwrap().update_u32(0, &9i32.to_ne_bytes()).unwrap_err();
    assert_eq!(e.errno(), Some(EPERM), "{e}");
    // .data is not frozen.
    obj.map(".data.custom").unwrap().update_u32(0, &3i32.to_ne_bytes()).unwrap();
    assert_eq!(obj.read_global_u64("custom_data").unwrap(), 3);
}

// --- Maps -------------------------------------------------------------------

#[test]
fn maps_of_every_kind_are_created_and_used() {
    if !require_kernel() {
        return;
    }
    let obj = load("loader_maps");
    let info = |n: &str| bpfld_sys::map_info(obj.map(n).unwrap().fd()).unwrap();
    assert_eq!((info("hash").map_type, info("hash").max_entries), (MapType::HASH, 16));
    assert_eq!((info("array").key_size, info("array").value_size), (4, 8));
    assert_eq!((info("ringbuf").map_type, info("ringbuf").max_entries), (MapType::RINGBUF, 4096));
    assert_eq!(info("outer").map_type, MapType::ARRAY_OF_MAPS);
    assert_eq!(info("outer_hash").map_type, MapType::HASH_OF_MAPS);
    // Map-in-map slots from the object: the kernel returns inner map ids.
    let outer = obj.map("outer").unwrap();
    let id = |n: &str| info(n).id;
    assert_eq!(u32_of(&outer.lookup_u32(0).unwrap().unwrap()), id("inner_a"));
    assert_eq!(u32_of(&outer.lookup_u32(1).unwrap().unwrap()), id("inner_b"));
    let outer_hash = obj.map("outer_hash").unwrap();
    let keys: Vec<Vec<u8>> = outer_hash.keys().collect::<Result<_, _>>().unwrap();
    assert_eq!(keys, vec![3u32.to_ne_bytes().to_vec()]);
    assert_eq!(u32_of(&outer_hash.lookup_u32(3).unwrap().unwrap()), id("inner_b"));

    assert_eq!(run_syscall(&obj, "fill_maps"), 0);
    assert_eq!(obj.map("hash").unwrap().get_u64_at(1).unwrap(), Some(111));
    assert_eq!(obj.map("array").unwrap().get_u64_at(2).unwrap(), Some(222));
    // inner_b reached through outer[1] (= 333) then outer_hash[3] (+ 1000).
    assert_eq!(obj.map("inner_b").unwrap().get_u64_at(0).unwrap(), Some(1333));
    assert_eq!(obj.map("inner_a").unwrap().get_u64_at(0).unwrap(), Some(0));

    // XDP and tc programs on a packet.
    let pkt = packet();
    let xdp = obj.program("xdp_count").unwrap();
    for _ in 0..3 {
        let r = xdp.test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
        assert_eq!(r.retval, XDP_PASS);
    }
    assert_eq!(obj.map("array").unwrap().get_u64_at(0).unwrap(), Some(3));
    let r = obj.program("tc_len").unwrap().test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
    assert_eq!(r.retval, 2);
    assert_eq!(obj.map("hash").unwrap().get_u64_at(2).unwrap(), Some(pkt.len() as u64));

    // Element operations from user space.
    let hash = obj.map("hash").unwrap();
    let mut keys: Vec<u32> = hash.keys().map(|k| u32_of(&k.unwrap())).collect();
    keys.sort();
    assert_eq!(keys, [1, 2]);
    hash.update_u32(7, &77u64.to_ne_bytes()).unwrap();
    assert_eq!(hash.get_u64_at(7).unwrap(), Some(77));
    hash.delete_u32(7).unwrap();
    assert_eq!(hash.lookup_u32(7).unwrap(), None);
    assert!(hash.update_u32(8, &[0u8; 4]).is_err(), "a 4-byte value for an 8-byte map is refused");
}

// --- Subprograms and callbacks ----------------------------------------------

#[test]
fn subprograms_and_callbacks_run() {
    if !require_kernel() {
        return;
    }
    let obj = load("loader_subprogs");
    run_syscall(&obj, "run_loop");
    assert_eq!(obj.read_global_u64("loop_count").unwrap(), 10, "bpf_loop callback runs");
    assert_eq!(obj.read_global_u64("loop_sum").unwrap(), 45);
    run_syscall(&obj, "run_static");
    assert_eq!(obj.read_global_u64("static_out").unwrap(), 42);
    run_syscall(&obj, "run_global");
    assert_eq!(obj.read_global_u64("global_out").unwrap(), 42 + 100);
    let r = obj.program("run_raw_tp").unwrap().test_run(&TestRunOpts { ctx_in: &[0u8; 8], ..Default::default() }).unwrap();
    assert_eq!(r.retval, 0);
    assert_eq!(obj.read_global_u64("raw_tp_out").unwrap(), 3 + 9);
    // Each program carries its own copy of what it calls: the kernel saw
    // two functions (func_info records) in run_global.
    let info = bpfld_sys::prog_info(obj.program("run_global").unwrap().fd().unwrap()).unwrap();
    assert_eq!(info.nr_func_info, 3, "run_global, global_add, static_mul");
    assert!(info.nr_line_info > 0);
}

// --- Tail calls -------------------------------------------------------------

#[test]
fn prog_array_initial_slot_makes_the_tail_call_work() {
    if !require_kernel() {
        return;
    }
    let obj = load("loader_tailcall");
    let jmp = obj.map("jmp_table").unwrap();
    let target_id = bpfld_sys::prog_info(obj.program("tail_target").unwrap().fd().unwrap()).unwrap().id;
    assert_eq!(u32_of(&jmp.lookup_u32(1).unwrap().unwrap()), target_id);
    assert_eq!(jmp.lookup_u32(0).unwrap(), None);
    let pkt = packet();
    let r = obj.program("tail_entry").unwrap().test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
    assert_eq!(r.retval, XDP_DROP, "tail_target's verdict");
    assert_eq!(obj.read_global_u64("target_hits").unwrap(), 1);
    // Empty the slot: the entry program falls through.
    jmp.delete_u32(1).unwrap();
    let r = obj.program("tail_entry").unwrap().test_run(&TestRunOpts { data_in: &pkt, ..Default::default() }).unwrap();
    assert_eq!(r.retval, XDP_PASS);
}

// --- Verifier rejections ----------------------------------------------------

#[test]
fn a_rejected_program_fails_the_load_with_its_name_and_the_verifier_reason() {
    if !require_kernel() {
        return;
    }
    let e = open("loader_reject").load().unwrap_err();
    let Error::Program(p) = &e else { panic!("not a program error: {e}") };
    assert_eq!(p.program, "bad_packet_read");
    assert_eq!(p.section, "xdp");
    assert_eq!(p.errno, Some(EACCES));
    let s = e.to_string();
    assert!(s.contains("program 'bad_packet_read'"), "{s}");
    assert!(s.contains("invalid access to packet"), "{s}");
    assert!(p.log.contains("R1 offset is outside of the packet"), "full log kept: {}", p.log);
    assert!(p.log.contains("processed "), "log not cut: {}", p.log);
}

#[test]
fn with_keep_going_the_other_programs_load_and_run() {
    if !require_kernel() {
        return;
    }
    let obj = open("loader_reject").load_with(&keep_going()).unwrap();
    let bad = obj.program("bad_packet_read").unwrap();
    assert!(!bad.is_loaded());
    let err = bad.error().unwrap();
    assert!(err.short_reason().contains("outside of the packet"), "{err}");
    assert!(bad.fd().unwrap_err().to_string().contains("bad_packet_read"));
    assert!(matches!(obj.program("good_first").unwrap().state(), ProgramState::Loaded));
    run_syscall(&obj, "good_first");
    run_syscall(&obj, "good_second");
    assert_eq!(obj.read_global_u64("good_runs").unwrap(), 101);
}

#[test]
fn a_program_in_an_unknown_section_is_refused_by_name_and_others_load() {
    if !require_kernel() {
        return;
    }
    let e = open("loader_bad_section").load().unwrap_err().to_string();
    assert!(e.contains("program 'in_unknown_section'") && e.contains("section 'not_a_program_type'"), "{e}");
    let obj = open("loader_bad_section").load_with(&keep_going()).unwrap();
    let bad = obj.program("in_unknown_section").unwrap();
    assert_eq!(bad.error().unwrap().errno, None, "refused before asking the kernel");
    assert_eq!(bad.error().unwrap().message, "missing BPF prog type, check ELF section name 'not_a_program_type'");
    assert_eq!(run_syscall(&obj, "in_known_section"), 0);
}

// --- Poisoned instructions ----------------------------------------------------

#[test]
fn a_reached_poisoned_relocation_is_explained_in_libbpf_words() {
    if !require_kernel() {
        return;
    }
    // Off by default ("?" section): the object loads without it.
    let obj = load("loader_poisoned");
    assert!(matches!(obj.program("unguarded_core").unwrap().state(), ProgramState::Disabled));
    let r = obj.program("guarded_core").unwrap().test_run(&TestRunOpts { ctx_in: &[0u8; 8], ..Default::default() }).unwrap();
    assert_eq!(r.retval, 0);
    assert_eq!(obj.read_global_u64("out").unwrap(), 7, "the field does not exist: the guarded fallback ran");

    // Turned on, the verifier reaches the poisoned instruction.
    let mut open = open("loader_poisoned");
    open.set_autoload("unguarded_core", true).unwrap();
    let e = open.load().unwrap_err();
    let Error::Program(p) = &e else { panic!("{e}") };
    assert_eq!(p.program, "unguarded_core");
    assert_eq!(
        p.verifier_summary()[1..],
        [
            "1: <invalid CO-RE relocation>",
            "failed to resolve CO-RE relocation <byte_off> [5] struct task_struct___bpfld.bpfld_no_such_field (0:0 @ offset 0)"
        ]
    );
    assert!(!p.log.contains("unknown#195896080"), "the poison line is rewritten: {}", p.log);
}

#[test]
fn a_reached_poisoned_kfunc_call_names_the_kfunc() {
    if !require_kernel() {
        return;
    }
    let obj =
        open("kfunc_weak_missing").load_with(&bpfld::LoadOptions { keep_going: true, load_disabled: true, ..Default::default() }).unwrap();
    let e = obj.program("unguarded").unwrap().error().unwrap();
    assert_eq!(e.short_reason(), "kfunc 'bpfld_missing_kfunc' is referenced but wasn't resolved");
    assert!(e.log.contains("<invalid kfunc call>"), "{}", e.log);
    assert!(obj.program("guarded").unwrap().is_loaded());
}
