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

use crate::name::{self, essential_len};

/// The names a targeted view must answer for, by essential name (a lookup
/// of `task_struct` or of `task_struct___old` is covered by `task_struct`).
#[derive(Debug, Clone, Default)]
pub struct WantedNames {
    essentials: HashSet<Box<[u8]>>,
    /// A 64 Ki-bit filter keyed by (length, first byte, last byte) of an
    /// essential name: most lookups of names not wanted are told apart
    /// without hashing.
    filter: Vec<u64>,
    /// A 64 Ki-bit filter of the first four bytes of the strings a wanted
    /// name may appear as (see [`head_key`]): the type walk tests each
    /// named record against it with one load and one bit test.
    heads: Vec<u64>,
    /// A 64 Ki-bit filter of the wanted names' hashes ([`name::hash`]):
    /// what a string that passed the head filter is tested against next,
    /// in the same pass that finds its end and flavor.
    hashes: Vec<u64>,
}

const FILTER_WORDS: usize = 1024;

fn filter_bit(name: &[u8]) -> usize {
    let (first, last) = (name[0] as usize, name[name.len() - 1] as usize);
    (name.len().wrapping_mul(0x9e37) ^ (first << 6) ^ (last << 1) ^ last >> 3) & (FILTER_WORDS * 64 - 1)
}

/// The first four bytes of the string at `at` in `strs`, the bytes after
/// its NUL cleared: the key of [`WantedNames`]'s head filter.
#[inline]
pub(crate) fn head_key(strs: &[u8], at: usize) -> u32 {
    let w = match strs.get(at..at + 4) {
        Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        None => strs.get(at..).unwrap_or_default().iter().rev().fold(0, |w, &b| w << 8 | b as u32),
    };
    // Exact zero-byte flags (no borrow between bytes): everything from the
    // first zero byte on is cleared.
    let zeros = !(((w & 0x7f7f_7f7f).wrapping_add(0x7f7f_7f7f)) | w) & 0x8080_8080;
    w & ((1u64 << zeros.trailing_zeros()) - 1) as u32
}

#[inline]
fn hash_bit(hash: u64) -> usize {
    (hash >> 48) as usize
}

#[inline]
fn head_bit(key: u32) -> usize {
    (key.wrapping_mul(0x9e37_79b1) >> 16) as usize
}

impl WantedNames {
    /// An empty set.
    pub fn new() -> WantedNames {
        WantedNames {
            essentials: HashSet::new(),
            filter: vec![0; FILTER_WORDS],
            heads: vec![0; FILTER_WORDS],
            hashes: vec![0; FILTER_WORDS],
        }
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
            self.heads = vec![0; FILTER_WORDS];
            self.hashes = vec![0; FILTER_WORDS];
        }
        let bit = filter_bit(ess);
        self.filter[bit / 64] |= 1 << (bit % 64);
        let bit = hash_bit(name::hash(ess));
        self.hashes[bit / 64] |= 1 << (bit % 64);
        for key in Self::head_keys(ess) {
            let bit = head_bit(key);
            self.heads[bit / 64] |= 1 << (bit % 64);
        }
        self.essentials.insert(ess.into());
    }

    /// The head keys of the strings whose essential name is `ess`: its
    /// first four bytes; for a shorter name, the name alone and the name
    /// followed by the underscores of a `___flavor`.
    fn head_keys(ess: &[u8]) -> [u32; 2] {
        let mut exact = [0u8; 5];
        let mut flavored = [b'_'; 5];
        let n = ess.len().min(4);
        exact[..n].copy_from_slice(&ess[..n]);
        flavored[..n].copy_from_slice(&ess[..n]);
        [head_key(&exact, 0), head_key(&flavored, 0)]
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

    /// The essential names it holds, in no particular order.
    pub(crate) fn essentials(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.essentials.iter().map(|e| &e[..])
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

    /// Whether the string at `at` in `strs` may be named by a wanted name:
    /// false for almost every string that is not, with one bit test.
    #[inline]
    pub(crate) fn may_name(&self, strs: &[u8], at: usize) -> bool {
        let bit = head_bit(head_key(strs, at));
        self.heads.get(bit / 64).is_some_and(|w| w & (1 << (bit % 64)) != 0)
    }

    /// Whether the NUL-terminated string at `at` in `strs` has a wanted
    /// essential name.
    pub(crate) fn names(&self, strs: &[u8], at: usize) -> bool {
        let Some(rest) = strs.get(at..) else { return false };
        let (len, hash) = name::scan_name(rest);
        let bit = hash_bit(hash);
        if self.hashes.get(bit / 64).is_none_or(|w| w & (1 << (bit % 64)) == 0) {
            return false;
        }
        let s = &rest[..len];
        self.covers(&s[..essential_len(s)])
    }
}

/// Where the type walk of a targeted view looks up a record's name: the
/// blob's own strings (from `first_str` on) and, for split BTF, the base's.
pub(crate) struct NameProbe<'a> {
    pub(crate) wanted: &'a WantedNames,
    pub(crate) own: &'a [u8],
    pub(crate) first_str: u32,
    /// The base's string section when it starts at offset 0 (a base that
    /// is itself split is not probed: its names are matched afterwards).
    pub(crate) base: Option<&'a [u8]>,
}

impl NameProbe<'_> {
    /// Whether the name at `name_off` (not 0) may be wanted: exact for own
    /// and base strings, `true` for strings of a split base.
    #[inline]
    pub(crate) fn hit(&self, name_off: u32) -> bool {
        let (strs, at) = match name_off.checked_sub(self.first_str) {
            Some(rel) => (self.own, rel as usize),
            None => match self.base {
                Some(b) => (b, name_off as usize),
                None => return true,
            },
        };
        self.wanted.may_name(strs, at) && self.wanted.names(strs, at)
    }
}

/// The part of the name index a targeted view has: the ids of the types
/// whose essential name is wanted, by essential name, in id order.
pub(crate) struct PartialIndex {
    pub(crate) wanted: WantedNames,
    by_essential: HashMap<Box<[u8]>, Vec<u32>>,
    /// Own anonymous ENUM types, in id order (the kernel's `BTF_KIND_*`
    /// enum is one, found by its first enumerator).
    pub(crate) anonymous_enums: Vec<u32>,
}

impl PartialIndex {
    pub(crate) fn new(wanted: WantedNames) -> PartialIndex {
        PartialIndex { wanted, by_essential: HashMap::new(), anonymous_enums: Vec::new() }
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
        self.by_essential.iter().map(|(k, v)| k.len() + v.capacity() * 4 + 48).sum::<usize>()
            + (self.wanted.filter.len() + self.wanted.heads.len() + self.wanted.hashes.len()) * 8
            + self.anonymous_enums.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_strings_by_essential_name() {
        let mut w = WantedNames::new();
        w.extend(["task_struct___old", "bpf_kfunc", "pid", "u8", "x"]);
        let strs = b"\0task_struct\0pid_t\0task_struct___2\0pid\0bpf_kfunc\0a___b___task_struct\0____x\0u8___y\0x___1\0u8\0x\0pi\0";
        let found: Vec<&[u8]> = (0..strs.len())
            .filter(|&i| i > 0 && strs[i - 1] == 0 && strs[i] != 0)
            .filter(|&i| {
                let named = w.names(strs, i);
                // The head filter never refuses a wanted string.
                assert!(!named || w.may_name(strs, i));
                named
            })
            .map(|i| &strs[i..i + strs[i..].iter().position(|&b| b == 0).unwrap()])
            .collect();
        assert_eq!(found, [&b"task_struct"[..], b"task_struct___2", b"pid", b"bpf_kfunc", b"u8___y", b"x___1", b"u8", b"x"]);
        assert!(w.covers(b"task_struct") && !w.covers(b"task_struct___old") && !w.covers(b"pid_t"));
    }

    #[test]
    fn head_keys_stop_at_the_nul() {
        assert_eq!(head_key(b"ab\0cd", 0), u32::from_le_bytes(*b"ab\0\0"));
        assert_eq!(head_key(b"abcdef", 2), u32::from_le_bytes(*b"cdef"));
        assert_eq!(head_key(b"xabc", 2), u32::from_le_bytes(*b"bc\0\0"));
        assert_eq!(head_key(b"x", 5), 0);
    }
}
