//! Maps pinned by name, bpfld against libbpf 1.7 on the same pins: each
//! loader reuses what the other pinned (the same kernel maps, by id), both
//! refuse the same incompatible pin and clean up alike after a failed load
//! (libbpf unpins what it pinned, keeps what it reused).

#[path = "common/libbpf_object.rs"]
mod libbpf_object;

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bpfld::{LoadOptions, OpenObject};
use bpfld_testdata::{bpffs_test_dir, require_kernel};
use libbpf_object::{cstr, LibObj};

const PINNED: [&str; 3] = ["pinned_counts", "pinned_hash_long_name", "pinned_outer"];

/// `EINVAL`.
const EINVAL: i32 = 22;

static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

fn capture(_level: libbpf_rs::PrintLevel, msg: String) {
    LIBBPF_LOG.lock().unwrap().push_str(&msg);
}

/// libbpf loads `loader_pinned` with `pin_root`, with its `?` program on
/// or off; the errno if the load fails.
fn libbpf_load(pin_root: &Path, with_refused: bool) -> Result<LibObj, i32> {
    let path = cstr(bpfld_testdata::test_object("loader_pinned").to_str().unwrap());
    let root = cstr(pin_root.to_str().unwrap());
    let opts = libbpf_sys::bpf_object_open_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _,
        pin_root_path: root.as_ptr(),
        ..Default::default()
    };
    // SAFETY: a valid path and options of their own size, alive for the call.
    let obj = LibObj(unsafe { libbpf_sys::bpf_object__open_file(path.as_ptr(), &opts) });
    assert!(!obj.0.is_null());
    if with_refused {
        let name = cstr("refused");
        // SAFETY: obj is open and not loaded; the program exists.
        unsafe {
            let p = libbpf_sys::bpf_object__find_program_by_name(obj.0, name.as_ptr());
            assert!(!p.is_null());
            libbpf_sys::bpf_program__set_autoload(p, true);
        }
    }
    // SAFETY: obj is open and not loaded.
    match unsafe { libbpf_sys::bpf_object__load(obj.0) } {
        0 => Ok(obj),
        e => Err(-e),
    }
}

/// The kernel id of libbpf's map `name`.
fn libbpf_map_id(obj: &LibObj, name: &str) -> u32 {
    let c = cstr(name);
    // SAFETY: obj is loaded; the fd belongs to it and is alive here.
    let fd = unsafe { libbpf_sys::bpf_map__fd(libbpf_sys::bpf_object__find_map_by_name(obj.0, c.as_ptr())) };
    assert!(fd >= 0, "{name}");
    // SAFETY: as above.
    bpfld_sys::map_info(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap().id
}

fn bpfld_load(pin_root: &Path, with_refused: bool) -> bpfld::Result<bpfld::LoadedObject> {
    let opts = LoadOptions { pin_root: Some(pin_root.to_path_buf()), load_disabled: with_refused, ..Default::default() };
    OpenObject::open(bpfld_testdata::test_object("loader_pinned"))?.load_with(&opts)
}

fn pins(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

struct Cleanup(Vec<PathBuf>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

#[test]
fn bpfld_and_libbpf_share_pinned_maps_and_refuse_alike() {
    if !require_kernel() {
        return;
    }
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, capture)));
    let dirs: Vec<PathBuf> =
        ["interop-lib-first", "interop-bpfld-first", "interop-mismatch", "interop-failed"].iter().map(|n| bpffs_test_dir(n)).collect();
    let _cleanup = Cleanup(dirs.clone());

    // libbpf pins, bpfld reuses.
    let lib = libbpf_load(&dirs[0], false).unwrap();
    assert_eq!(pins(&dirs[0]), PINNED);
    let ours = bpfld_load(&dirs[0], false).unwrap();
    for name in PINNED {
        assert!(ours.map(name).unwrap().is_reused(), "{name}");
        assert_eq!(ours.map(name).unwrap().info().unwrap().id, libbpf_map_id(&lib, name), "{name}");
    }
    drop((lib, ours));

    // bpfld pins, libbpf reuses.
    let ours = bpfld_load(&dirs[1], false).unwrap();
    assert_eq!(pins(&dirs[1]), PINNED);
    let lib = libbpf_load(&dirs[1], false).unwrap();
    for name in PINNED {
        assert_eq!(libbpf_map_id(&lib, name), ours.map(name).unwrap().info().unwrap().id, "{name}");
    }
    drop((lib, ours));

    // A pin with other attributes: both refuse with EINVAL, libbpf saying
    // "parameter mismatch" as bpfld does, and both remove the pin of the
    // map they created before finding it.
    let attr = bpfld_sys::MapCreateAttr {
        map_type: bpfld::MapType::HASH,
        key_size: 4,
        value_size: 8,
        max_entries: 32,
        map_name: "by_hand",
        ..Default::default()
    };
    let fd = bpfld_sys::map_create(&attr).unwrap();
    bpfld_sys::obj_pin(std::os::fd::AsFd::as_fd(&fd), &dirs[2].join("pinned_hash_long_name")).unwrap();
    LIBBPF_LOG.lock().unwrap().clear();
    assert_eq!(libbpf_load(&dirs[2], false).err(), Some(EINVAL));
    let log = std::mem::take(&mut *LIBBPF_LOG.lock().unwrap());
    let path = dirs[2].join("pinned_hash_long_name");
    assert!(log.contains(&format!("couldn't reuse pinned map at '{}': parameter mismatch", path.display())), "{log}");
    assert_eq!(pins(&dirs[2]), ["pinned_hash_long_name"]);
    let e = bpfld_load(&dirs[2], false).unwrap_err();
    assert_eq!(e.errno(), Some(EINVAL));
    assert!(e.to_string().contains(&format!("couldn't reuse pinned map at '{}': parameter mismatch: max_entries", path.display())), "{e}");
    assert_eq!(pins(&dirs[2]), ["pinned_hash_long_name"]);

    // A program refused after the maps were pinned: neither leaves a pin.
    assert!(libbpf_load(&dirs[3], true).is_err());
    assert!(pins(&dirs[3]).is_empty(), "libbpf left {:?}", pins(&dirs[3]));
    assert!(bpfld_load(&dirs[3], true).is_err());
    assert!(pins(&dirs[3]).is_empty(), "bpfld left {:?}", pins(&dirs[3]));
    // With the maps pinned before, neither removes them.
    let keep = bpfld_load(&dirs[3], false).unwrap();
    assert!(libbpf_load(&dirs[3], true).is_err());
    assert_eq!(pins(&dirs[3]), PINNED, "libbpf removed reused pins");
    assert!(bpfld_load(&dirs[3], true).is_err());
    assert_eq!(pins(&dirs[3]), PINNED, "bpfld removed reused pins");
    drop(keep);
}
