//! Spec ids of one object: small integers, the keys of its
//! `__bpf_usdt_specs` array map. An attachment takes one per distinct
//! argument string and gives them back when it is detached; given-back ids
//! are reused first (last given back, first reused), as libbpf does.

use std::fmt;

/// A spec id: an index into `__bpf_usdt_specs`, and the BPF cookie of
/// the probes that use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpecId(pub u32);

/// Every id below the specs map's `max_entries` is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecIdsExhausted {
    /// The specs map's `max_entries`: how many ids there are.
    pub max_entries: u32,
}

impl fmt::Display for SpecIdsExhausted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "all {} USDT spec ids are in use (raise BPF_USDT_MAX_SPEC_CNT)", self.max_entries)
    }
}

impl std::error::Error for SpecIdsExhausted {}

/// The spec ids of one object.
#[derive(Debug, Clone)]
pub struct SpecIdPool {
    max_entries: u32,
    next: u32,
    free: Vec<SpecId>,
}

impl SpecIdPool {
    /// A pool of the ids `0..max_entries`, all free.
    pub fn new(max_entries: u32) -> SpecIdPool {
        SpecIdPool { max_entries, next: 0, free: Vec::new() }
    }

    /// A free id.
    pub fn take(&mut self) -> Result<SpecId, SpecIdsExhausted> {
        if let Some(id) = self.free.pop() {
            return Ok(id);
        }
        if self.next >= self.max_entries {
            return Err(SpecIdsExhausted { max_entries: self.max_entries });
        }
        self.next += 1;
        Ok(SpecId(self.next - 1))
    }

    /// Gives `ids` back.
    pub fn give_back(&mut self, ids: &[SpecId]) {
        self.free.extend_from_slice(ids);
    }

    /// How many ids are taken.
    pub fn in_use(&self) -> usize {
        self.next as usize - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_reused_and_bounded() {
        let mut p = SpecIdPool::new(3);
        let a: Vec<SpecId> = (0..3).map(|_| p.take().unwrap()).collect();
        assert_eq!(a, [SpecId(0), SpecId(1), SpecId(2)]);
        assert_eq!(p.take(), Err(SpecIdsExhausted { max_entries: 3 }));
        p.give_back(&a[..2]);
        assert_eq!(p.in_use(), 1);
        assert_eq!(p.take(), Ok(SpecId(1)));
        assert_eq!(p.take(), Ok(SpecId(0)));
        assert!(p.take().is_err());
    }
}
