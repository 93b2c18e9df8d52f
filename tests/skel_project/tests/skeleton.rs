//! The skeleton on the real kernel: a `.rodata` setting given before load,
//! `.bss` counters read after events, `.data` written after load and seen
//! by the program.

use bpfld_skel_project::counter::CounterSkelBuilder;

#[test]
fn rodata_set_before_load_and_bss_read_after_events() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let mut open = CounterSkelBuilder.open().unwrap();
    assert_eq!(open.rodata.target_tgid, 0);
    assert_eq!(open.data.per_slot, [1, 2, 3, 4]);
    open.rodata.target_tgid = std::process::id();
    let mut skel = open.load().unwrap();
    assert!(skel.progs.count_calls.is_some());
    assert_eq!(skel.rodata().target_tgid().unwrap(), std::process::id());
    assert_eq!(skel.bss().hits().unwrap(), 0);
    skel.data_mut().set_bumped_by_user(100).unwrap();
    skel.attach().unwrap();
    assert!(skel.links.count_calls.is_some());
    for _ in 0..10 {
        std::fs::metadata("/").unwrap();
    }
    let hits = skel.bss().hits().unwrap();
    let stats = skel.bss().stats().unwrap();
    assert!(hits >= 10, "{hits} system calls counted");
    assert_eq!(stats.calls, hits);
    assert_eq!(stats.seen, 1);
    // Every call added the value written through the mapping after load.
    let data = skel.data().get().unwrap();
    let added: u64 = data.per_slot.iter().map(|&v| v as u64).sum::<u64>() - 10;
    assert_eq!(added, 100 * hits, "{data:?}");
    // Typed maps (`bpfld::typed_maps`) from the maps' BTF types.
    // (Reading them is system calls of this process too, counted as they
    // go: the total read last is at least the sum read first.)
    let by_id: u64 = skel.maps.calls_by_id.iter().map(|e| e.unwrap().1).sum();
    let exits: u64 = skel.maps.totals.get(0).unwrap();
    assert!(by_id >= 10 && exits >= by_id, "{exits} exits, {by_id} by syscall number");
    // Detached: no more counting.
    skel.links.count_calls = None;
    let before = skel.bss().hits().unwrap();
    std::fs::metadata("/").unwrap();
    assert_eq!(skel.bss().hits().unwrap(), before);
}

#[test]
fn every_test_object_has_a_skeleton_with_its_layout() {
    // Compiling this crate checked each struct's size and offsets; here
    // the sections read back their initial values through the skeleton.
    let open = bpfld_skel_project::objects::loader_globals::LoaderGlobalsSkelBuilder.open().unwrap();
    assert_eq!(open.data.data_var, 42);
    assert_eq!(open.rodata.rodata_var, 7);
    assert_eq!(open.data_custom.custom_data, 100);
    assert_eq!(open.rodata_custom.custom_ro, 200);
    assert_eq!(open.data.data_arr, [1, 2, 3, 4]);
}
