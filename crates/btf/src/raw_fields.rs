//! Where the count, size and type-id words of a raw little-endian BTF blob
//! are, without parsing it: what the `object_btf` fuzz target's mutator and
//! bpfld-obj's `btf_extremes` test change in place. Test support, not part
//! of the API (hidden from the docs).
//!
//! The walk is bounded by the blob: a corrupt header or record ends it
//! early instead of panicking, since the fuzz mutator also walks objects
//! it has already broken.

use crate::kind::Kind;

/// One field, by its offset in the file the blob sits in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    /// A whole 32-bit word (header lengths, sizes, type ids, nelems, offsets).
    Word(usize),
    /// The low 16 bits (vlen) of a record's info word.
    Vlen(usize),
}

/// The fields of a blob.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Fields {
    /// Every field: the header's offsets and lengths, each record's vlen
    /// and size/type word, and the words of its trailing data (INT
    /// encoding, ARRAY, members, parameters, DATASEC entries, tag
    /// components; not enumerator values, which are neither counts nor
    /// sizes).
    pub all: Vec<Field>,
    /// The counts and sizes among them: vlens, sizes of sized kinds, ARRAY
    /// element counts, DATASEC entry sizes.
    pub counts: Vec<Field>,
}

/// The fields of the little-endian BTF blob `btf`, which starts at offset
/// `base` of its file.
pub fn find(btf: &[u8], base: usize) -> Fields {
    let mut fields = Fields::default();
    let len = btf.len();
    let word = |o: usize| btf.get(o..o + 4).and_then(|b| b.try_into().ok()).map(|b| u32::from_le_bytes(b) as usize);
    fields.all.extend((4..24).step_by(4).filter(|&o| o + 4 <= len).map(|o| Field::Word(base + o)));
    let (Some(hdr_len), Some(type_off), Some(type_len)) = (word(4), word(8), word(12)) else { return fields };
    let mut off = hdr_len.saturating_add(type_off);
    let end = off.saturating_add(type_len).min(len);
    while off < end && off + 12 <= end {
        let info = word(off + 4).unwrap_or(0);
        let (kind, vlen) = (Kind::from_raw(((info >> 24) & 0x1f) as u32), info & 0xffff);
        let extra = kind.map_or(0, |k| k.extra_len(vlen));
        record_fields(&mut fields, kind, vlen, base + off, extra, base + end);
        off += 12 + extra;
    }
    fields
}

/// The fields of the record at file offset `at`, whose trailing data is
/// `extra` bytes; none past `end`.
fn record_fields(fields: &mut Fields, kind: Option<Kind>, vlen: usize, at: usize, extra: usize, end: usize) {
    fields.all.push(Field::Vlen(at + 4));
    fields.all.push(Field::Word(at + 8));
    fields.counts.push(Field::Vlen(at + 4));
    match kind {
        Some(Kind::Int | Kind::Struct | Kind::Union | Kind::Enum | Kind::Float | Kind::Datasec | Kind::Enum64) => {
            fields.counts.push(Field::Word(at + 8))
        }
        // nelems, the third word after the header.
        Some(Kind::Array) if at + 24 <= end => fields.counts.push(Field::Word(at + 20)),
        _ => {}
    }
    if kind == Some(Kind::Datasec) {
        // Each entry's size, its third word.
        fields.counts.extend(words_before(end, (0..vlen).map(|i| at + 12 + 12 * i + 8)));
    }
    let trailing_words = if kind.is_some_and(Kind::is_enum) { 0 } else { extra / 4 };
    fields.all.extend(words_before(end, (0..trailing_words).map(|i| at + 12 + 4 * i)));
}

/// The words at `offsets` that end by `end`.
fn words_before(end: usize, offsets: impl Iterator<Item = usize>) -> impl Iterator<Item = Field> {
    offsets.filter(move |&o| o + 4 <= end).map(Field::Word)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob of an INT and an ARRAY of it, at file offset 100.
    fn int_and_array() -> Vec<u8> {
        // magic/version/flags, hdr_len, type_off, type_len, str_off, str_len
        let header: [u32; 6] = [0x0001_eb9f, 24, 0, 40, 40, 1];
        // name, info, size, encoding (32 bits)
        let int: [u32; 4] = [0, 1 << 24, 4, 32];
        // name, info, unused, element type, index type, nelems
        let array: [u32; 6] = [0, 3 << 24, 0, 1, 1, 8];
        let mut blob: Vec<u8> = header.iter().chain(&int).chain(&array).flat_map(|w| w.to_le_bytes()).collect();
        blob.push(0);
        blob
    }

    #[test]
    fn finds_header_record_and_trailing_words() {
        let fields = find(&int_and_array(), 100);
        let words = |offsets: &[usize]| offsets.iter().map(|&o| Field::Word(100 + o)).collect::<Vec<_>>();
        let mut all = words(&[4, 8, 12, 16, 20]);
        all.extend([Field::Vlen(128), Field::Word(132), Field::Word(136)]);
        all.extend([Field::Vlen(144), Field::Word(148)]);
        all.extend(words(&[52, 56, 60]));
        assert_eq!(fields.all, all);
        assert_eq!(fields.counts, [Field::Vlen(128), Field::Word(132), Field::Vlen(144), Field::Word(160)]);
    }

    #[test]
    fn a_truncated_blob_ends_the_walk() {
        let blob = int_and_array();
        let fields = find(&blob[..50], 0);
        // The header, and the INT: the ARRAY's header does not fit.
        assert_eq!(fields.all.len(), 5 + 3);
        assert!(find(&blob[..10], 0).all.len() == 1 && find(&[], 0).all.is_empty());
    }
}
