//! Where each type record starts: a table the parse builds, or the one in
//! a record index, read in place.

use crate::btf::Bytes;

/// The offset of each own record in the type section, by `id - first_id`.
pub(crate) enum Offsets {
    /// Built by walking the records (each one checked).
    Walked(Vec<u32>),
    /// `count` little-endian words at `start` in a record index's bytes
    /// (not checked: a record is checked when it is read).
    Indexed { bytes: Bytes, start: usize, count: usize },
}

impl Offsets {
    pub(crate) fn len(&self) -> usize {
        match self {
            Offsets::Walked(v) => v.len(),
            Offsets::Indexed { count, .. } => *count,
        }
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<u32> {
        match self {
            Offsets::Walked(v) => v.get(i).copied(),
            Offsets::Indexed { bytes, start, count } => {
                let b = (**bytes).as_ref().get(start + 4 * i..start + 4 * i + 4).filter(|_| i < *count)?;
                Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
        }
    }

    /// The offsets of `range`, in order (a walked table's as a slice:
    /// building the full name index iterates all of them).
    pub(crate) fn range(&self, range: std::ops::Range<usize>) -> OffsetsIter<'_> {
        match self {
            Offsets::Walked(v) => OffsetsIter::Walked(v[range].iter()),
            Offsets::Indexed { .. } => OffsetsIter::Indexed(self, range),
        }
    }

    /// Whether the offsets come from a record index (each record is then
    /// checked when it is read).
    pub(crate) fn is_indexed(&self) -> bool {
        matches!(self, Offsets::Indexed { .. })
    }

    /// The walked table, for a blob whose records were all checked.
    pub(crate) fn walked(&self) -> Option<&[u32]> {
        match self {
            Offsets::Walked(v) => Some(v),
            Offsets::Indexed { .. } => None,
        }
    }

    /// Bytes of heap memory it owns.
    pub(crate) fn heap_bytes(&self) -> usize {
        match self {
            Offsets::Walked(v) => v.capacity() * 4,
            Offsets::Indexed { .. } => 0,
        }
    }
}

/// The iterator of [`Offsets::range`].
pub(crate) enum OffsetsIter<'a> {
    Walked(std::slice::Iter<'a, u32>),
    Indexed(&'a Offsets, std::ops::Range<usize>),
}

impl Iterator for OffsetsIter<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        match self {
            OffsetsIter::Walked(it) => it.next().copied(),
            OffsetsIter::Indexed(offsets, range) => offsets.get(range.next()?),
        }
    }
}
