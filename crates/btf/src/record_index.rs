//! A record index of a base BTF blob: what numbering its records and
//! finding names in it would otherwise cost a walk over every record.
//!
//! BTF has no index of its own: the record of type `n` is found by reading
//! the `n - 1` records before it, each record's length depending on its
//! kind and `vlen`. For a vmlinux BTF of 126k types that walk is most of
//! the cost of checking an object against a kernel, and it is the same
//! walk every time the same kernel is checked. The record index, written
//! once per kernel ([`Btf::record_index`], `bpfld btf index`), holds every
//! record's offset, the ids by hash of essential name, the kinds present
//! and the anonymous enums; [`Btf::parse_indexed`] then reads only the
//! records and strings a check reaches.
//!
//! The index names the blob it was made from by length and a fingerprint
//! (the header and the first and last 4 KiB of each section). Its offsets
//! are read in place, not checked up front (that would read them all): a
//! view made with it checks each record it reads to be of a known kind
//! and to fit in the type section, so a stale or corrupt index gives an
//! error, never a read out of bounds.
//!
//! Layout (little-endian): the magic `BPFLDRIX`, version, record count,
//! kinds bitmask, anonymous enum count, name count, a check word (a hash
//! of the header with it zeroed: the kinds, counts and fingerprint are
//! read as they are), the blob's length and fingerprint (u64 each); then the record offsets
//! (u32 each), the anonymous enum ids (u32 each) and the names as
//! (hash u32, id u32) sorted by hash, then id: the hash is the high half
//! of the essential name's [`hash`], and only picks candidates, whose
//! names a lookup then compares.

use crate::btf::Btf;
use crate::error::{Error, Result, Section};
use crate::name::{essential_len, hash};

const MAGIC: &[u8; 8] = b"BPFLDRIX";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 48;
const NAME_LEN: usize = 8;
/// Bytes of each end of a section that the fingerprint covers.
const FINGERPRINT_SPAN: usize = 4096;

/// The blob's parts a fingerprint covers: the header and both ends of the
/// type and string sections.
pub(crate) struct BlobLayout<'a> {
    pub(crate) header: &'a [u8],
    pub(crate) types: &'a [u8],
    pub(crate) strings: &'a [u8],
    pub(crate) total_len: usize,
}

impl BlobLayout<'_> {
    fn fingerprint(&self) -> u64 {
        let ends = |s: &[u8]| {
            let n = s.len().min(FINGERPRINT_SPAN);
            [hash(&s[..n]), hash(&s[s.len() - n..])]
        };
        let parts = [[hash(self.header), self.types.len() as u64], ends(self.types), ends(self.strings)];
        parts.iter().flatten().fold(0xcbf2_9ce4_8422_2325u64, |h, &p| (h.rotate_left(23) ^ p).wrapping_mul(0x0100_0000_01b3))
    }
}

/// A record index read from its bytes, checked against the blob it names.
pub(crate) struct RecordIndex<'a> {
    bytes: &'a [u8],
    count: usize,
    pub(crate) kinds: u32,
    anonymous_enums: usize,
    names: usize,
}

fn index_error(message: impl Into<String>) -> Error {
    Error::new(Section::RecordIndex, message)
}

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn dword(b: &[u8], at: usize) -> u64 {
    u64::from(word(b, at)) | u64::from(word(b, at + 4)) << 32
}

impl<'a> RecordIndex<'a> {
    /// Reads the index in `bytes`, checking its layout and that it was
    /// made from the blob `blob` describes.
    pub(crate) fn read(bytes: &'a [u8], blob: &BlobLayout<'_>) -> Result<RecordIndex<'a>> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(index_error("not a bpfld record index (bad magic or shorter than its header)").at(0));
        }
        if word(bytes, 8) != VERSION {
            return Err(index_error(format!("unsupported version {} (this bpfld writes {VERSION})", word(bytes, 8))).at(8));
        }
        let count = word(bytes, 12) as usize;
        if count > crate::MAX_TYPE_ID as usize {
            return Err(index_error(format!("{count} records: more than BTF allows")).at(12));
        }
        let (anonymous_enums, names) = (word(bytes, 20) as usize, word(bytes, 24) as usize);
        let want = HEADER_LEN as u64 + 4 * (count as u64 + anonymous_enums as u64) + NAME_LEN as u64 * names as u64;
        if want != bytes.len() as u64 {
            return Err(index_error(format!(
                "{count} records, {anonymous_enums} anonymous enums and {names} names need {want} bytes, the file has {}",
                bytes.len()
            ))
            .at(12));
        }
        if word(bytes, 28) != header_check(&bytes[..HEADER_LEN]) {
            return Err(index_error("its header does not match its check word (damaged)").at(28));
        }
        if dword(bytes, 32) != blob.total_len as u64 || dword(bytes, 40) != blob.fingerprint() {
            return Err(index_error(format!(
                "made from another BTF file (of {} bytes; this one has {}, or differs in content): write the index again",
                dword(bytes, 32),
                blob.total_len
            ))
            .at(32));
        }
        if (count == 0) != blob.types.is_empty() {
            return Err(index_error(format!("{count} records for a type section of {} bytes", blob.types.len())).at(12));
        }
        Ok(RecordIndex { bytes, count, kinds: word(bytes, 16), anonymous_enums, names })
    }

    /// Where the record offsets (little-endian words, in id order) start.
    pub(crate) fn offsets_start(&self) -> usize {
        HEADER_LEN
    }

    /// How many records it numbers.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The anonymous ENUM types, in id order.
    pub(crate) fn anonymous_enums(&self) -> Vec<u32> {
        let start = HEADER_LEN + 4 * self.count;
        self.bytes[start..start + 4 * self.anonymous_enums].chunks_exact(4).map(|c| word(c, 0)).collect()
    }

    /// The ids of the records whose essential name hashes as `ess` does
    /// (candidates: the caller compares the names).
    pub(crate) fn candidates(&self, ess: &[u8]) -> impl Iterator<Item = u32> + '_ {
        let start = HEADER_LEN + 4 * (self.count + self.anonymous_enums);
        let table = &self.bytes[start..start + NAME_LEN * self.names];
        let entry = |i: usize| (word(table, NAME_LEN * i), word(table, NAME_LEN * i + 4));
        let h = name_key(ess);
        let first = partition_point(self.names, |i| entry(i).0 < h);
        (first..self.names).map(entry).take_while(move |&(eh, _)| eh == h).map(|(_, id)| id)
    }
}

/// The check word of an index header: a hash of its bytes with the check
/// word itself (at 28) taken as zero.
fn header_check(header: &[u8]) -> u32 {
    let mut h = [0u8; HEADER_LEN];
    h.copy_from_slice(&header[..HEADER_LEN]);
    h[28..32].fill(0);
    (hash(&h) >> 32) as u32
}

/// The key of an essential name in the names table.
fn name_key(ess: &[u8]) -> u32 {
    (hash(ess) >> 32) as u32
}

/// The first `i` in `0..n` for which `before(i)` is false (`before` is
/// true for a prefix).
fn partition_point(n: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Writes the record index of `btf` (see the module documentation).
pub(crate) fn write(btf: &Btf, offsets: &[u32], kinds: u32, blob: &BlobLayout<'_>) -> Result<Vec<u8>> {
    let mut anonymous_enums = Vec::new();
    let mut names: Vec<(u32, u32)> = Vec::new();
    for t in btf.own_types() {
        let name = t.name_bytes()?;
        if !name.is_empty() {
            names.push((name_key(&name[..essential_len(name)]), t.id()));
        } else if t.kind() == crate::Kind::Enum {
            anonymous_enums.push(t.id());
        }
    }
    names.sort_unstable();
    let mut out = Vec::with_capacity(HEADER_LEN + 4 * (offsets.len() + anonymous_enums.len()) + NAME_LEN * names.len());
    out.extend_from_slice(MAGIC);
    for w in [VERSION, offsets.len() as u32, kinds, anonymous_enums.len() as u32, names.len() as u32, 0] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&(blob.total_len as u64).to_le_bytes());
    out.extend_from_slice(&blob.fingerprint().to_le_bytes());
    let check = header_check(&out);
    out[28..32].copy_from_slice(&check.to_le_bytes());
    offsets.iter().chain(&anonymous_enums).for_each(|w| out.extend_from_slice(&w.to_le_bytes()));
    for (key, id) in names {
        out.extend_from_slice(&key.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
    }
    Ok(out)
}
