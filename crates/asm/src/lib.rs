//! BPF instructions and kernel ABI constants.
