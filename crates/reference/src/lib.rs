//! Differential tests and benchmarks against libbpf 1.7; see tests/ and benches/.
#![forbid(unsafe_code)]
