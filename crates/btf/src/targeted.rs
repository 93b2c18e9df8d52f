//! A targeted view of a BTF blob: parsed for a known set of names only.
//!
//! Checking an object against a kernel looks up a few dozen names (its
//! externs, the types its CO-RE relocations start from, attach targets) in
//! a vmlinux BTF of 100k+ types. Indexing every name costs several times
//! reading the file; this view instead finds the wanted names in one
//! sequential pass over the string section, then walks the type records
//! once (which it must do anyway to number them), keeping the ids of the
//! types named by those strings. Lookups of those names answer exactly as
//! the full index would; a lookup of any other name builds the full index
//! (correct, only slower) and is counted, so callers can tell that their
//! list of names was incomplete.
//!
//! What it does not do: validate the members, parameters and references of
//! every record up front, as a full parse does. Records are still checked
//! to be of a known kind and to fit in the type section, so every accessor
//! stays in bounds; a dangling reference or string offset shows up as an
//! error when (and if) it is reached.

use std::collections::{HashMap, HashSet};

use crate::name::essential_len;

/// The names a targeted view must answer for, by essential name (a lookup
/// of `task_struct` or of `task_struct___old` is covered by `task_struct`).
#[derive(Debug, Clone, Default)]
pub struct WantedNames {
    essentials: HashSet<Box<[u8]>>,
    /// A 64 Ki-bit filter keyed by (length, first byte, last byte): almost
    /// every string of a kernel's string section is rejected by one bit
    /// test, without hashing it.
    filter: Vec<u64>,
    /// A 64 Ki-bit filter of the first two bytes of every wanted name (a
    /// NUL or `_` second byte for one-byte names, which a flavor may
    /// follow): any string whose essential name is wanted starts with one
    /// of those pairs, flavored or not.
    prefixes: Vec<u64>,
}

fn prefix_bit(a: u8, b: u8) -> usize {
    (a as usize) << 8 | b as usize
}

const FILTER_WORDS: usize = 1024;

fn filter_bit(name: &[u8]) -> usize {
    let (first, last) = (name[0] as usize, name[name.len() - 1] as usize);
    (name.len().wrapping_mul(0x9e37) ^ (first << 6) ^ (last << 1) ^ last >> 3) & (FILTER_WORDS * 64 - 1)
}

impl WantedNames {
    /// An empty set.
    pub fn new() -> WantedNames {
        WantedNames { essentials: HashSet::new(), filter: vec![0; FILTER_WORDS], prefixes: vec![0; FILTER_WORDS] }
    }

    /// Adds `name` (its essential name is what is kept).
    pub fn add(&mut self, name: &str) {
        let b = name.as_bytes();
        let ess = &b[..essential_len(b)];
        if ess.is_empty() {
            return;
        }
        if self.filter.is_empty() {
            self.filter = vec![0; FILTER_WORDS];
            self.prefixes = vec![0; FILTER_WORDS];
        }
        let bit = filter_bit(ess);
        self.filter[bit / 64] |= 1 << (bit % 64);
        let seconds: &[u8] = if ess.len() == 1 { b"\0_" } else { &ess[1..2] };
        for &b in seconds {
            let bit = prefix_bit(ess[0], b);
            self.prefixes[bit / 64] |= 1 << (bit % 64);
        }
        self.essentials.insert(ess.into());
    }

    /// Adds every name of `names`.
    pub fn extend<'a>(&mut self, names: impl IntoIterator<Item = &'a str>) {
        for n in names {
            self.add(n);
        }
    }

    /// Adds every name of `other`.
    pub fn union(&mut self, other: &WantedNames) {
        for ess in &other.essentials {
            // Essential names are their own essential names.
            self.add(std::str::from_utf8(ess).unwrap_or_default());
        }
    }

    /// How many distinct essential names it holds.
    pub fn len(&self) -> usize {
        self.essentials.len()
    }

    /// It holds no name.
    pub fn is_empty(&self) -> bool {
        self.essentials.is_empty()
    }

    /// Whether lookups of names whose essential name is `ess` are covered.
    pub fn covers(&self, ess: &[u8]) -> bool {
        !ess.is_empty() && self.might_cover(ess) && self.essentials.contains(ess)
    }

    #[inline]
    fn might_cover(&self, ess: &[u8]) -> bool {
        debug_assert!(!ess.is_empty());
        let bit = filter_bit(ess);
        self.filter.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }
}

/// String offsets (from `first_str`) of the strings in `strs` whose
/// essential name is wanted: one pass over the section, a word at a time,
/// a bit test per string on its first two bytes, the flavor rule and the
/// exact comparison only for the few strings that pass it.
pub(crate) fn wanted_string_offsets(strs: &[u8], first_str: u32, wanted: &WantedNames) -> Vec<u32> {
    let mut out = Vec::new();
    if wanted.is_empty() {
        return out;
    }
    let mut start = 0usize;
    let mut on_string_end = |end: usize| {
        if end > start {
            // strs[end] is the NUL: a one-byte string pairs with it.
            let bit = prefix_bit(strs[start], strs[start + 1]);
            if wanted.prefixes[bit / 64] & (1 << (bit % 64)) != 0 {
                let s = &strs[start..end];
                let ess = &s[..essential_len(s)];
                if !ess.is_empty() && wanted.might_cover(ess) && wanted.essentials.contains(ess) {
                    out.push(first_str + start as u32);
                }
            }
        }
        start = end + 1;
    };
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut chunks = strs.chunks_exact(8);
    let mut base = 0usize;
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        // Exact zero-byte flags (no borrow between bytes).
        let mut z = !(((w & !HIGH) + !HIGH) | w) & HIGH;
        while z != 0 {
            on_string_end(base + (z.trailing_zeros() / 8) as usize);
            z &= z - 1;
        }
        base += 8;
    }
    for (i, &b) in chunks.remainder().iter().enumerate() {
        if b == 0 {
            on_string_end(base + i);
        }
    }
    out
}

/// A sorted set of string offsets with a one-bit-per-bucket filter in
/// front: the type walk asks it once per record.
pub(crate) struct OffsetSet {
    sorted: Vec<u32>,
    filter: [u64; 64],
}

impl OffsetSet {
    pub(crate) fn new(mut offsets: Vec<u32>) -> OffsetSet {
        offsets.sort_unstable();
        offsets.dedup();
        let mut filter = [0u64; 64];
        for &o in &offsets {
            let b = Self::bit(o);
            filter[b / 64] |= 1 << (b % 64);
        }
        OffsetSet { sorted: offsets, filter }
    }

    #[inline]
    fn bit(off: u32) -> usize {
        (off.wrapping_mul(0x9e37_79b9) >> 20) as usize & 4095
    }

    #[inline]
    pub(crate) fn contains(&self, off: u32) -> bool {
        let b = Self::bit(off);
        self.filter[b / 64] & (1 << (b % 64)) != 0 && self.sorted.binary_search(&off).is_ok()
    }
}

/// The part of the name index a targeted view has: the ids of the types
/// whose essential name is wanted, by essential name, in id order.
pub(crate) struct PartialIndex {
    pub(crate) wanted: WantedNames,
    by_essential: HashMap<Box<[u8]>, Vec<u32>>,
}

impl PartialIndex {
    pub(crate) fn new(wanted: WantedNames) -> PartialIndex {
        PartialIndex { wanted, by_essential: HashMap::new() }
    }

    /// Records type `id` named `name` (its essential name must be wanted).
    pub(crate) fn insert(&mut self, name: &[u8], id: u32) {
        let ess = &name[..essential_len(name)];
        self.by_essential.entry(ess.into()).or_default().push(id);
    }

    /// The ids of own types whose essential name is `ess`, in id order, or
    /// `None` if `ess` is not covered.
    pub(crate) fn lookup(&self, ess: &[u8]) -> Option<&[u32]> {
        if !self.wanted.covers(ess) {
            return None;
        }
        Some(self.by_essential.get(ess).map(Vec::as_slice).unwrap_or(&[]))
    }

    /// Every id of the index, in id order.
    pub(crate) fn ids(&self) -> Vec<u32> {
        let mut v: Vec<u32> = self.by_essential.values().flatten().copied().collect();
        v.sort_unstable();
        v
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.by_essential.iter().map(|(k, v)| k.len() + v.capacity() * 4 + 48).sum::<usize>() + self.wanted.filter.len() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_strings_by_essential_name() {
        let mut w = WantedNames::new();
        w.extend(["task_struct___old", "bpf_kfunc", "pid"]);
        let strs = b"\0task_struct\0pid_t\0task_struct___2\0pid\0bpf_kfunc\0a___b___task_struct\0____x\0";
        let found = wanted_string_offsets(strs, 0, &w);
        let names: Vec<&[u8]> = found
            .iter()
            .map(|&o| {
                let s = &strs[o as usize..];
                &s[..s.iter().position(|&b| b == 0).unwrap()]
            })
            .collect();
        assert_eq!(names, [&b"task_struct"[..], b"task_struct___2", b"pid", b"bpf_kfunc"]);
        assert!(w.covers(b"task_struct") && !w.covers(b"task_struct___old") && !w.covers(b"pid_t"));
    }

    #[test]
    fn offset_set() {
        let s = OffsetSet::new(vec![5, 1 << 20, 77, 5]);
        assert!(s.contains(5) && s.contains(77) && s.contains(1 << 20));
        assert!(!s.contains(6) && !s.contains(0));
    }
}
