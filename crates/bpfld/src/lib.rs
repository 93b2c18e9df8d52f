//! Load BPF objects into the running kernel.
