//! The name index: an open-addressing hash table of type ids keyed by the
//! hash of each type's *essential* name.
//!
//! One table answers both exact-name lookups (kfuncs, `btf__find_by_name_kind`)
//! and essential-name lookups (CO-RE candidates, flavors), because every type
//! named `N` has the essential name of `N`: an exact lookup probes the bucket
//! of `essential(N)` and compares full names. Storing only `u32` ids keeps the
//! index at 4 bytes per slot (about 1 MiB for vmlinux) and names are compared
//! in place in the string section.

use crate::btf::Btf;
use crate::kind::Kind;
use crate::name::{essential_len, hash};

pub(crate) struct NameIndex {
    /// `id - first_id + 1` of each named type, 0 for an empty slot.
    slots: Vec<u32>,
    mask: usize,
}

impl NameIndex {
    pub(crate) fn build(btf: &Btf) -> NameIndex {
        let first = btf.first_own_id();
        let named: Vec<(u32, u64)> = btf
            .own_types()
            .filter_map(|t| {
                let name = t.name_bytes().ok()?;
                if name.is_empty() {
                    return None;
                }
                Some((t.id(), hash(&name[..essential_len(name)])))
            })
            .collect();
        // Load factor at most 1/2 keeps probe sequences short.
        let cap = (named.len() * 2).next_power_of_two().max(16);
        let mask = cap - 1;
        let mut slots = vec![0u32; cap];
        for (id, h) in named {
            let mut i = h as usize & mask;
            while slots[i] != 0 {
                i = (i + 1) & mask;
            }
            slots[i] = id - first + 1;
        }
        NameIndex { slots, mask }
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * 4
    }

    /// Calls `f` with every own type whose essential name equals the
    /// essential name of `key`; `f` returns false to stop.
    fn probe<'b>(&self, btf: &'b Btf, key: &[u8], mut f: impl FnMut(crate::types::Type<'b>, &'b [u8]) -> bool) {
        let ess = &key[..essential_len(key)];
        let first = btf.first_own_id();
        let mut i = hash(ess) as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return;
            }
            if let Ok(t) = btf.type_by_id(first + slot - 1) {
                if let Ok(name) = t.name_bytes() {
                    if name.len() >= ess.len() && &name[..ess.len()] == ess && essential_len(name) == ess.len() && !f(t, name)
                    {
                        return;
                    }
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    pub(crate) fn find(&self, btf: &Btf, key: &[u8], kind: Option<Kind>, essential: bool) -> Vec<u32> {
        let mut out = Vec::new();
        self.probe(btf, key, |t, name| {
            if kind.is_none_or(|k| k == t.kind()) && (essential || name == key) {
                out.push(t.id());
            }
            true
        });
        // Probing order follows hash slots; callers expect id order.
        out.sort_unstable();
        out
    }

    pub(crate) fn find_first(&self, btf: &Btf, key: &[u8], kind: Kind) -> Option<u32> {
        let mut best: Option<u32> = None;
        self.probe(btf, key, |t, name| {
            if t.kind() == kind && name == key {
                best = Some(best.map_or(t.id(), |b: u32| b.min(t.id())));
            }
            true
        });
        best
    }
}
