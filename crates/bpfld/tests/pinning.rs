//! Maps pinned by name (`LIBBPF_PIN_BY_NAME`) on the real kernel: a second
//! load reuses them (the same kernel map, by id, its contents shared and
//! left as they were), an incompatible pin fails the load naming the
//! attribute, a failed load removes the pins it made and only those, and
//! the explicit pin/unpin API. Each test pins under its own directory of
//! the bpffs (`bpffs_test_dir`), removed at the end.

mod common;

use bpfld_asm::types::MapType;
use std::path::{Path, PathBuf};

use bpfld::{Error, LoadOptions, LoadedObject, PinnedMap};
use bpfld_sys::MapCreateAttr;
use bpfld_testdata::{bpffs_test_dir, require_kernel};
use common::*;

const PINNED: [&str; 3] = ["pinned_counts", "pinned_hash_long_name", "pinned_outer"];

fn opts(dir: &Path) -> LoadOptions {
    LoadOptions { pin_root: Some(dir.to_path_buf()), ..Default::default() }
}

fn load_pinned(dir: &Path) -> LoadedObject {
    open("loader_pinned").load_with(&opts(dir)).unwrap_or_else(|e| panic!("{e}"))
}

/// The names in `dir`, sorted.
fn pins(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

fn map_id(obj: &LoadedObject, name: &str) -> u32 {
    obj.map(name).unwrap().info().unwrap().id
}

/// Removes the test's pin directory even when an assertion fails.
struct Cleanup(PathBuf);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_second_load_reuses_the_pinned_maps() {
    if !require_kernel() {
        return;
    }
    let dir = bpffs_test_dir("reuse");
    let _cleanup = Cleanup(dir.clone());

    let first = load_pinned(&dir);
    assert_eq!(pins(&dir), PINNED, "only the maps with pinning are pinned, under their full names");
    let counts = first.map("pinned_counts").unwrap();
    assert!(!counts.is_reused());
    assert_eq!(counts.pin_path(), Some(dir.join("pinned_counts").as_path()));
    assert_eq!(run_syscall(&first, "bump"), 1001);
    assert_eq!(run_syscall(&first, "outer_slot0_set"), 1, "a created map-in-map gets its initial slot");
    // Values for the second load's programs to find, and the initial slot
    // taken out: a reused map must keep it out.
    counts.update_u32(1, &40u64.to_ne_bytes()).unwrap();
    first.map("pinned_hash_long_name").unwrap().update_u32(7, &2u64.to_ne_bytes()).unwrap();
    first.map("pinned_outer").unwrap().delete_u32(0).unwrap();

    let second = load_pinned(&dir);
    for name in PINNED {
        let m = second.map(name).unwrap();
        assert!(m.is_reused(), "{name}");
        assert_eq!(map_id(&second, name), map_id(&first, name), "{name}: the same kernel map");
    }
    assert!(!second.map("private_counts").unwrap().is_reused());
    assert_ne!(map_id(&second, "private_counts"), map_id(&first, "private_counts"));
    assert_eq!(run_syscall(&second, "read_shared"), 42, "values written through the first load");
    assert_eq!(run_syscall(&second, "bump"), 2001, "shared counter at 2, own counter at 1");
    assert_eq!(run_syscall(&second, "outer_slot0_set"), 0, "initial values are not written into a reused map");
    assert_eq!(pins(&dir), PINNED);

    // The pins outlive both objects.
    let id = map_id(&first, "pinned_counts");
    drop(first);
    drop(second);
    let pinned = PinnedMap::open(dir.join("pinned_counts")).unwrap();
    let m = pinned.map().unwrap();
    assert_eq!(m.info().unwrap().id, id);
    assert_eq!(m.get_u64_at(0).unwrap(), Some(2));
    assert_eq!(m.name(), "pinned_counts");

    // A third load, then its cleanup: every pin goes, the maps stay
    // usable while held.
    let third = load_pinned(&dir);
    assert_eq!(map_id(&third, "pinned_counts"), id);
    third.unpin_maps().unwrap();
    assert!(pins(&dir).is_empty(), "{:?}", pins(&dir));
    assert_eq!(run_syscall(&third, "bump"), 3001);
    let e = PinnedMap::open(dir.join("pinned_counts")).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOENT), "{e}");
}

/// Pins a map made by hand at `dir/<name>`.
fn pin_by_hand(dir: &Path, name: &str, map_type: MapType, max_entries: u32) {
    let attr = MapCreateAttr { map_type, key_size: 4, value_size: 8, max_entries, map_name: "by_hand", ..Default::default() };
    let fd = bpfld_sys::map_create(&attr).unwrap();
    bpfld_sys::obj_pin(std::os::fd::AsFd::as_fd(&fd), &dir.join(name)).unwrap();
}

#[test]
fn an_incompatible_pinned_map_fails_the_load_naming_the_attribute() {
    if !require_kernel() {
        return;
    }
    let dir = bpffs_test_dir("mismatch");
    let _cleanup = Cleanup(dir.clone());
    // The second pinned map of the object, with 32 entries instead of 16:
    // the first one is created and pinned before the mismatch is found.
    pin_by_hand(&dir, "pinned_hash_long_name", bpfld_asm::types::MapType::HASH, 32);
    let e = open("loader_pinned").load_with(&opts(&dir)).unwrap_err();
    let path = dir.join("pinned_hash_long_name");
    match &e {
        Error::PinnedMapMismatch { map, path: p, attribute, pinned, object_value, .. } => {
            assert_eq!((map.as_str(), p, *attribute, *pinned, *object_value), ("pinned_hash_long_name", &path, "max_entries", 32, 16));
        }
        other => panic!("not a mismatch: {other}"),
    }
    let msg = e.to_string();
    assert_eq!(
        msg,
        format!(
            "loader_pinned: map 'pinned_hash_long_name': couldn't reuse pinned map at '{}': parameter mismatch: \
             max_entries is 32 in the pinned map, 16 in the object",
            path.display()
        )
    );
    assert_eq!(e.errno(), Some(libc::EINVAL));
    assert_eq!(pins(&dir), ["pinned_hash_long_name"], "the pin of pinned_counts made by the failed load is gone");

    // Another type under the first map's name.
    let dir2 = bpffs_test_dir("mismatch_type");
    let _cleanup2 = Cleanup(dir2.clone());
    pin_by_hand(&dir2, "pinned_counts", bpfld_asm::types::MapType::HASH, 4);
    let e = open("loader_pinned").load_with(&opts(&dir2)).unwrap_err().to_string();
    assert!(e.contains("map 'pinned_counts'") && e.contains("type is 1 in the pinned map, 2 in the object"), "{e}");
    assert_eq!(pins(&dir2), ["pinned_counts"]);
}

#[test]
fn a_failed_load_removes_only_the_pins_it_made() {
    if !require_kernel() {
        return;
    }
    let dir = bpffs_test_dir("failed");
    let _cleanup = Cleanup(dir.clone());
    // The '?' program the verifier refuses, without keep_going: the load
    // fails after every map was created and pinned.
    let failing = LoadOptions { load_disabled: true, ..opts(&dir) };
    let e = open("loader_pinned").load_with(&failing).unwrap_err();
    assert!(matches!(&e, Error::Program(p) if p.program == "refused"), "{e}");
    assert!(pins(&dir).is_empty(), "pins left by a failed load: {:?}", pins(&dir));

    // Pins that were there before a failed load stay.
    let ok = load_pinned(&dir);
    let id = map_id(&ok, "pinned_counts");
    assert!(open("loader_pinned").load_with(&failing).is_err());
    assert_eq!(pins(&dir), PINNED);
    assert_eq!(PinnedMap::open(dir.join("pinned_counts")).unwrap().map().unwrap().info().unwrap().id, id);
}

#[test]
fn maps_and_programs_pin_and_unpin_by_path() {
    if !require_kernel() {
        return;
    }
    let dir = bpffs_test_dir("explicit");
    let _cleanup = Cleanup(dir.clone());
    let obj = load_pinned(&dir);

    // A map that is not pinned by name, in a directory pin() creates.
    let private = obj.map("private_counts").unwrap();
    let path = dir.join("sub").join("private");
    private.pin(&path).unwrap();
    private.update_u32(0, &5u64.to_ne_bytes()).unwrap();
    let reopened = PinnedMap::open(&path).unwrap();
    assert_eq!(reopened.map().unwrap().info().unwrap().id, private.info().unwrap().id);
    assert_eq!(reopened.map().unwrap().get_u64_at(0).unwrap(), Some(5));
    private.unpin(&path).unwrap();
    assert!(!path.exists());

    let prog = obj.program("bump").unwrap();
    let ppath = dir.join("bump");
    prog.pin(&ppath).unwrap();
    let fd = bpfld_sys::obj_get(&ppath, 0).unwrap();
    let pinned_id = bpfld_sys::prog_info(std::os::fd::AsFd::as_fd(&fd)).unwrap().id;
    assert_eq!(pinned_id, bpfld_sys::prog_info(prog.fd().unwrap()).unwrap().id);
    prog.unpin(&ppath).unwrap();
    assert!(!ppath.exists());

    // Outside a bpffs.
    let e = private.pin("/tmp/bpfld-not-bpffs/x").unwrap_err().to_string();
    assert!(e.contains("is not on BPF FS"), "{e}");
    let _ = std::fs::remove_dir("/tmp/bpfld-not-bpffs");
    // Something that is not a map.
    prog.pin(&ppath).unwrap();
    let e = PinnedMap::open(&ppath).unwrap_err().to_string();
    assert!(e.contains("is not a pinned map"), "{e}");
}

/// A pinned map whose symbol (set with an asm label) is `../escaped_pin`
/// is refused, naming the map, and nothing is pinned inside or outside the
/// pin root.
#[test]
fn a_map_name_that_leaves_the_pin_root_is_refused() {
    if !require_kernel() {
        return;
    }
    let parent = bpffs_test_dir("escape");
    let _cleanup = Cleanup(parent.clone());
    let root = parent.join("root");
    std::fs::create_dir(&root).unwrap();
    let err = open("loader_pin_escape").load_with(&opts(&root)).expect_err("the load is refused");
    let msg = err.to_string();
    assert!(msg.contains("map '../escaped_pin': refused to pin"), "{msg}");
    let Error::PinPath { source: bpfld::error::PinPathError::BadName { map, why, .. }, .. } = &err else { panic!("{err:?}") };
    assert_eq!((map.as_str(), *why), ("../escaped_pin", "holds a '/'"));
    assert_eq!(err.kind(), bpfld::ErrorKind::InvalidInput);
    assert_eq!(pins(&parent), ["root"], "nothing pinned beside the root");
    assert!(pins(&root).is_empty(), "nothing pinned in the root");
}
