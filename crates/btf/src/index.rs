//! The name index: an open-addressing hash table of type ids keyed by the
//! hash of each type's *essential* name.
//!
//! One table answers both exact-name lookups (kfuncs, `btf__find_by_name_kind`)
//! and essential-name lookups (CO-RE candidates, flavors), because every type
//! named `N` has the essential name of `N`: an exact lookup probes the bucket
//! of `essential(N)` and compares full names. Storing only `u32` ids keeps the
//! index at 4 bytes per slot (about 1 MiB for vmlinux) and names are compared
//! in place in the string section.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::btf::Btf;
use crate::kind::Kind;
use crate::name::{essential_len, hash, scan_name};

pub(crate) struct NameIndex {
    /// `id - first_id + 1` of each named type, 0 for an empty slot. Atomic
    /// so that several threads can fill it (on x86 and arm64 a relaxed load
    /// is a plain load, so lookups pay nothing for it).
    slots: Vec<AtomicU32>,
    mask: usize,
}

/// Below this many types one thread builds the index: threads cost more
/// than they save on module and object BTF.
const PARALLEL_MIN_TYPES: usize = 32 * 1024;

impl NameIndex {
    pub(crate) fn build(btf: &Btf) -> NameIndex {
        let n = btf.own_type_count() as usize;
        // Load factor at most 1/2 keeps probe sequences short.
        let cap = (n * 2).next_power_of_two().max(16);
        let mask = cap - 1;
        let slots: Vec<AtomicU32> = (0..cap).map(|_| AtomicU32::new(0)).collect();
        let threads = if n < PARALLEL_MIN_TYPES { 1 } else { std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(4) };
        if threads == 1 {
            insert_range(btf, &slots, mask, 0..n);
        } else {
            // The index is the dominant cost of opening vmlinux BTF (126k
            // types): split the types between threads; insertion order does
            // not matter because lookups sort what they find.
            let chunk = n.div_ceil(threads);
            std::thread::scope(|s| {
                for t in 1..threads {
                    let slots = &slots;
                    s.spawn(move || insert_range(btf, slots, mask, t * chunk..((t + 1) * chunk).min(n)));
                }
                insert_range(btf, &slots, mask, 0..chunk.min(n));
            });
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
            let slot = self.slots[i].load(Ordering::Relaxed);
            if slot == 0 {
                return;
            }
            if let Ok(t) = btf.type_by_id(first + slot - 1) {
                if let Ok(name) = t.name_bytes() {
                    if name.len() >= ess.len() && &name[..ess.len()] == ess && essential_len(name) == ess.len() && !f(t, name) {
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

/// Inserts own types `range` (indexes from 0) into `slots`. One pass
/// straight over the raw records and strings: no typed views, no buffer of
/// hashes, no UTF-8 checks.
fn insert_range(btf: &Btf, slots: &[AtomicU32], mask: usize, range: Range<usize>) {
    let strs = btf.own_strings();
    let first_str = btf.strings_len() - strs.len() as u32;
    btf.for_each_own_name_off(range, |i, name_off| {
        if name_off == 0 {
            return;
        }
        let (len, h) = if name_off >= first_str {
            // In range for every parsed blob; a view made with a record
            // index has not read each record's name yet.
            let Some(rest) = strs.get((name_off - first_str) as usize..) else { return };
            scan_name(rest)
        } else {
            // A split BTF's type named by a base string.
            match btf.str_raw(name_off) {
                Ok(b) => (b.len(), hash(&b[..essential_len(b)])),
                Err(_) => return,
            }
        };
        if len == 0 {
            return;
        }
        let mut h = h as usize & mask;
        loop {
            if slots[h].load(Ordering::Relaxed) == 0
                && slots[h].compare_exchange(0, i as u32 + 1, Ordering::Relaxed, Ordering::Relaxed).is_ok()
            {
                return;
            }
            h = (h + 1) & mask;
        }
    });
}
