//! USDT programs in the plan: libbpf 1.7 loads `SEC("usdt")` programs with
//! `expected_attach_type = BPF_TRACE_UPROBE_MULTI` on kernels that have
//! uprobe_multi links (with process pid filtering,
//! [`KernelFeatures::uprobe_multi_link`](crate::KernelFeatures)), so that
//! each USDT is attached through one link; elsewhere with 0, for single
//! uprobes.

use crate::target::Target;

/// Whether USDT programs are loaded for uprobe_multi links on `target`.
pub fn uprobe_multi_link(target: &Target) -> bool {
    target.features().uprobe_multi_link
}
