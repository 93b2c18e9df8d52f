//! USDT (user statically-defined tracing) probes, as libbpf 1.7's
//! `usdt.c` handles them, without a system call:
//! - in the plan: `SEC("usdt")` programs are loaded with
//!   `expected_attach_type = BPF_TRACE_UPROBE_MULTI` on kernels that have
//!   uprobe_multi links (with process pid filtering,
//!   [`KernelFeatures::uprobe_multi_link`](crate::KernelFeatures)), so that
//!   each USDT is attached through one link; elsewhere with 0, for single
//!   uprobes;
//! - [`notes`]: a target binary's `.note.stapsdt` notes, the probe sites
//!   of one `provider:name` as file offsets (what uprobes take) with their
//!   semaphores;
//! - [`args`]: the x86-64 argument specs of a note (`-4@%eax`,
//!   `8@-8(%rbp)`, `4@$5`, `1@-96(%rbp,%rax,8)`);
//! - [`layout`]: those specs encoded as the object's own `usdt.bpf.h`
//!   declares `struct __bpf_usdt_spec` (read from its BTF, since objects
//!   are built against different libbpf versions);
//! - [`spec_ids`]: spec ids of one object, reused after detach.

pub mod args;
pub mod error;
pub mod layout;
pub mod notes;
pub mod spec_ids;

pub use args::{parse_args, ArgLocation, ArgProblem, ArgSpec, ArgsError, PtRegsOffset};
pub use error::{NoteProblem, UsdtError, UsdtErrorKind};
pub use layout::{LayoutError, SpecLayout};
pub use notes::{UsdtBinary, UsdtNote, UsdtSite};
pub use spec_ids::{SpecId, SpecIdPool, SpecIdsExhausted};

use crate::features::KernelFeatures;
use crate::plan::LoadPlan;
use crate::target::Target;

/// Whether USDT programs are loaded for uprobe_multi links on `target`.
pub fn uprobe_multi_link(target: &Target) -> bool {
    target.features().uprobe_multi_link
}

/// Gives the USDT programs of `plan` the attach type `features` call for
/// (the plan's features may differ from the target's: a loader forcing
/// single uprobes plans without uprobe_multi links).
pub fn fit_attach_types(plan: &mut LoadPlan, features: &KernelFeatures) {
    let multi = bpfld_asm::types::AttachType::TRACE_UPROBE_MULTI;
    for p in &mut plan.programs {
        if crate::section::classify(&p.section).is_some_and(|d| d.is_usdt()) {
            p.expected_attach_type = if features.uprobe_multi_link { multi } else { bpfld_asm::types::AttachType::UNSET };
        }
    }
}
