//! Pure BPF object model: open an ELF object and plan its load against a target.
