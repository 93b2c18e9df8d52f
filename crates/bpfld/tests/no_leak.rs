//! Nothing leaks: a failed load closes every fd it opened (BTF, maps,
//! programs already loaded, module BTFs), and dropping a loaded object
//! closes all of its fds. Counted in /proc/self/fd, so this file holds a
//! single test: other tests of the same binary would open fds concurrently.

mod common;

use bpfld::Error;
use bpfld_testdata::require_kernel;
use common::*;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn failed_and_dropped_loads_close_every_fd() {
    if !require_kernel() {
        return;
    }
    // Warm up one-time caches (possible CPUs, page size) outside the count.
    drop(load("loader_globals"));
    let before = open_fds();

    // Fails at the third program, after BTF, a map and a program exist.
    let e = open("loader_reject").load().unwrap_err();
    assert!(matches!(e, Error::Program(_)), "{e}");
    assert_eq!(open_fds(), before, "fds left after a rejected program");

    // Fails at the second map, after BTF and a map exist.
    let e = open("loader_bad_map_create").load().unwrap_err();
    assert!(e.to_string().contains("map 'empty_hash'"), "{e}");
    assert_eq!(e.errno(), Some(22));
    assert_eq!(open_fds(), before, "fds left after a refused map");

    // Needs the target (BTF attach): module BTF fds are closed too.
    let obj = open("loader_attach").load_with(&keep_going()).unwrap();
    assert!(open_fds() > before, "a loaded object holds fds");
    drop(obj);
    assert_eq!(open_fds(), before, "fds left after dropping a loaded object");

    // keep_going with a failure, then drop.
    let obj = open("loader_reject").load_with(&keep_going()).unwrap();
    assert!(obj.program("bad_packet_read").unwrap().error().is_some());
    drop(obj);
    assert_eq!(open_fds(), before, "fds left after a partial load");

    // Map-in-map and prog arrays (inner map templates are closed).
    for name in ["loader_maps", "loader_tailcall", "loader_subprogs"] {
        drop(load(name));
        assert_eq!(open_fds(), before, "fds left after {name}");
    }
}
