//! The bpf() system call layer: the only crate with unsafe code.
