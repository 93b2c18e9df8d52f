//! What the differential tests share.
// Each test binary uses part of it (plan-only mode is the corpus test's).
#![allow(dead_code)]

pub mod differential;
pub mod libbpf_object;
pub mod sched_ext_btf;
