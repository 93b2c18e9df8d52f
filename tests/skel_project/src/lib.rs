//! A package that builds its BPF program with `bpfld-build`, as a user's
//! would: `src/bpf/counter.bpf.c` against the running kernel's generated
//! `vmlinux.h`, and its skeleton. The skeletons of every committed test
//! object are compiled here too (`objects`): each asserts its structs'
//! sizes and offsets against the object's BTF at compile time, and all of
//! it must pass `deny(warnings)` and clippy.

#![deny(warnings)]
#![forbid(unsafe_code)]

/// The skeleton of `src/bpf/counter.bpf.c`.
pub mod counter {
    include!(concat!(env!("OUT_DIR"), "/counter.skel.rs"));
}

/// The skeletons of `tests/bpf/obj/*.bpf.o`.
pub mod objects {
    include!(concat!(env!("OUT_DIR"), "/objects.rs"));
}
