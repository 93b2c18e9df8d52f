//! Candidate target types of a local type, and their cache: libbpf 1.7's
//! `bpf_core_find_cands` and `bpf_core_add_cands`, with the lookups done
//! through the BTF name index instead of libbpf's scan of every type.
//!
//! A candidate is a target type whose *essential* name (the part before a
//! `___flavor` suffix) equals the local type's essential name and whose
//! kind is the local type's kind (ENUM and ENUM64 count as one kind). So
//! the local `task_struct___old` has the candidates `task_struct` and
//! `task_struct___2`, but not the FWD `task_struct` or `task_struct_ext`.
//! Anonymous target types are never candidates.
//!
//! Where libbpf looks, and in which order (which decides the first match,
//! whose result the relocation takes):
//!
//! 1. vmlinux BTF, in id order;
//! 2. **only if vmlinux has no candidate at all**, the module BTFs, in the
//!    target's module order, each in id order over its own types (not the
//!    vmlinux types it is split on). A type that exists in vmlinux is thus
//!    never looked up in modules, even if a module defines a namesake.
//!
//! The list is computed once per local type id and cached for the whole
//! object; relocations then *prune* it (see `resolve`), so a later
//! relocation on the same type sees only the candidates every earlier one
//! matched — libbpf shares and shrinks the list the same way, and the
//! pruning decides which candidate later relocations pick.

use super::error::CoreError;
use std::collections::HashMap;

use bpfld_btf::name::essential_name;
use bpfld_btf::{Btf, Kind, Type};

use crate::target::{BtfOwner, Target};

/// A target type that may correspond to a local type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate {
    /// vmlinux or the module whose BTF has it.
    pub owner: BtfOwner,
    /// Its id in that BTF.
    pub type_id: u32,
}

/// `btf_kind_core_compat`: equal kinds, or ENUM against ENUM64.
fn kinds_core_compat(a: Kind, b: Kind) -> bool {
    a == b || (a.is_enum() && b.is_enum())
}

/// Candidates of `local` (a named type) among `btf`'s own types, in id
/// order (`bpf_core_add_cands`).
fn own_candidates(local: &Type<'_>, essential: &str, owner: BtfOwner, btf: &Btf, out: &mut Vec<Candidate>) {
    let lk = local.kind();
    for id in btf.find_own_by_essential_name(essential, None) {
        let Ok(t) = btf.type_by_id(id) else { continue };
        if kinds_core_compat(t.kind(), lk) {
            out.push(Candidate { owner, type_id: id });
        }
    }
}

/// Searches `target` for the candidates of local type `local` (already
/// known to be named), vmlinux first and modules only if vmlinux has none.
pub(crate) fn find_candidates(local: &Type<'_>, target: &Target) -> Result<Vec<Candidate>, CoreError> {
    let name = local.name()?;
    let essential = essential_name(name);
    let mut out = Vec::new();
    own_candidates(local, essential, BtfOwner::Vmlinux, target.core_btf_of(BtfOwner::Vmlinux), &mut out);
    // libbpf searches module BTFs only without a custom vmlinux BTF.
    if !out.is_empty() || target.core_btf.is_some() {
        return Ok(out);
    }
    for (i, m) in target.searched_modules().iter().enumerate() {
        own_candidates(local, essential, BtfOwner::Module(i), &m.btf, &mut out);
    }
    Ok(out)
}

/// Candidate lists by local type id, shared by every relocation of one
/// object (libbpf's `cand_cache`).
#[derive(Debug, Default)]
pub(crate) struct CandidateCache {
    lists: HashMap<u32, Vec<Candidate>>,
}

impl CandidateCache {
    /// The (possibly pruned) candidate list of `local_id`, searched on
    /// first use.
    pub(crate) fn get_or_find(&mut self, local_id: u32, local: &Type<'_>, target: &Target) -> Result<&mut Vec<Candidate>, CoreError> {
        match self.lists.entry(local_id) {
            std::collections::hash_map::Entry::Occupied(e) => Ok(e.into_mut()),
            std::collections::hash_map::Entry::Vacant(e) => Ok(e.insert(find_candidates(local, target)?)),
        }
    }

    /// Number of distinct local types searched so far.
    pub(crate) fn len(&self) -> usize {
        self.lists.len()
    }
}
