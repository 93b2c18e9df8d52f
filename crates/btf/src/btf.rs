//! The parsed BTF blob: header, type offsets and string section, over bytes
//! that are borrowed or shared, never copied.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result, Section};
use crate::index::NameIndex;
use crate::kind::Kind;
use crate::name::essential_len;
use crate::offsets::Offsets;
use crate::record_index::{self, BlobLayout, RecordIndex};
use crate::targeted::{NameProbe, PartialIndex, WantedNames};
use crate::types::Type;

const MAGIC: u16 = 0xeb9f;
const HEADER_LEN: usize = 24;
/// `BTF_MAX_TYPE` in the kernel: type ids are 20 bits... in practice the
/// kernel allows 2^20 - 1 = 1,048,575 types (BTF_MAX_TYPE is 0x000fffff).
pub const MAX_TYPE_ID: u32 = 0x000f_ffff;

/// Owner of the bytes a [`Btf`] reads from. A memory map, a `Vec<u8>` or a
/// static slice all qualify; BTF never copies them.
pub type Bytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// A parsed BTF blob: the kernel's vmlinux BTF, a module's split BTF on top
/// of it, or a BPF object's own BTF.
///
/// Parsing validates every record once (kind, lengths, string offsets and
/// referenced type ids) so that later accessors can rely on the layout; only
/// a table of record offsets is allocated (4 bytes per type). The name index
/// is built on first lookup.
#[derive(Clone)]
pub struct Btf {
    inner: Arc<Inner>,
}

struct Inner {
    bytes: Bytes,
    swap: bool,
    /// Byte range of the type section within `bytes`.
    types_start: usize,
    types_end: usize,
    /// Byte range of the string section within `bytes`.
    str_start: usize,
    str_end: usize,
    /// Offset of each own type's record inside the type section; the type
    /// with id `first_id + i` starts at `offsets[i]`.
    offsets: Offsets,
    base: Option<Btf>,
    /// First type id of this blob: 1 for a base BTF, base's count for split.
    first_id: u32,
    /// First string offset of this blob: 0 for base, base's string length
    /// for split.
    first_str: u32,
    index: OnceLock<NameIndex>,
    /// A targeted view's index of the wanted names (see [`Btf::parse_targeted`]).
    partial: Option<PartialIndex>,
    /// Lookups a targeted view could not answer from `partial`.
    fallbacks: AtomicUsize,
    /// Bit `k` set if a type of raw kind `k` is among this blob's own.
    kinds: u32,
}

/// How [`Btf::parse_inner`] finds the records and names.
enum Walking<'a> {
    /// Every record validated, the full index built on the first lookup.
    Full,
    /// One walk checking each record's kind and length, probing names.
    Targeted(&'a WantedNames),
    /// No walk: offsets and names from a record index.
    Indexed(&'a WantedNames, &'a Bytes),
}

impl std::fmt::Debug for Btf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Btf")
            .field("types", &self.inner.offsets.len())
            .field("first_id", &self.inner.first_id)
            .field("split", &self.inner.base.is_some())
            .finish()
    }
}

/// Where a blob's sections are, from its header (checked).
struct Layout {
    swap: bool,
    hdr_len: usize,
    types_start: usize,
    types_end: usize,
    str_start: usize,
    str_end: usize,
}

impl Layout {
    fn read(data: &[u8]) -> Result<Layout> {
        if data.len() < HEADER_LEN {
            return Err(Error::new(Section::Header, format!("truncated: {} bytes, the header alone needs {HEADER_LEN}", data.len())));
        }
        let magic_le = u16::from_le_bytes([data[0], data[1]]);
        if magic_le != MAGIC && magic_le.swap_bytes() != MAGIC {
            return Err(Error::new(Section::Header, format!("bad magic {:#06x} (want {MAGIC:#06x} in either byte order)", magic_le)).at(0));
        }
        // The file is big-endian if its magic reads swapped as little-endian.
        let swap = magic_le != MAGIC;
        let r = Reader { data, swap };
        let version = data[2];
        if version != 1 {
            return Err(Error::new(Section::Header, format!("unsupported version {version}")).at(2));
        }
        let hdr_len = r.u32(4) as usize;
        if hdr_len < HEADER_LEN || hdr_len > data.len() {
            return Err(Error::new(Section::Header, format!("header length {hdr_len} out of range ({HEADER_LEN}..={})", data.len())).at(4));
        }
        // A longer header is allowed only if the extra bytes are zero, as in
        // the kernel: they would be fields we do not understand.
        if data[HEADER_LEN..hdr_len].iter().any(|&b| b != 0) {
            return Err(Error::new(Section::Header, "unknown non-zero header fields").at(HEADER_LEN));
        }
        let (type_off, type_len) = (r.u32(8) as usize, r.u32(12) as usize);
        let (str_off, str_len) = (r.u32(16) as usize, r.u32(20) as usize);
        let body = data.len() - hdr_len;
        let range = |off: usize, len: usize, what: &str, at: usize| -> Result<(usize, usize)> {
            match off.checked_add(len) {
                Some(end) if end <= body => Ok((hdr_len + off, hdr_len + end)),
                _ => Err(Error::new(
                    Section::Header,
                    format!("{what} section [{off:#x}, +{len:#x}) runs past the end of the data ({body:#x} bytes after the header)"),
                )
                .at(at)),
            }
        };
        let (types_start, types_end) = range(type_off, type_len, "type", 8)?;
        let (str_start, str_end) = range(str_off, str_len, "string", 16)?;
        if type_off % 4 != 0 {
            return Err(Error::new(Section::Header, format!("type section offset {type_off:#x} is not 4-byte aligned")).at(8));
        }
        if types_start < str_end && str_start < types_end {
            return Err(Error::new(Section::Header, "type and string sections overlap").at(8));
        }
        Ok(Layout { swap, hdr_len, types_start, types_end, str_start, str_end })
    }
}

/// Where a blob's type ids and string offsets start (after its base's),
/// its string section checked.
struct Numbering {
    first_id: u32,
    first_str: u32,
    /// One past the last string offset, the base's strings included.
    total_str: u32,
}

impl Numbering {
    fn of(strs: &[u8], base: Option<&Btf>) -> Result<Numbering> {
        let (first_id, first_str) = match base {
            None => {
                if strs.first() != Some(&0) {
                    return Err(Error::new(Section::Strings, "string section must start with an empty string").at(0));
                }
                (1u32, 0u32)
            }
            Some(b) => (b.type_count(), b.strings_len()),
        };
        if !strs.is_empty() && strs.last() != Some(&0) {
            return Err(Error::new(Section::Strings, "string section is not NUL-terminated").at(strs.len() - 1));
        }
        let total_str = first_str as u64 + strs.len() as u64;
        if total_str > u32::MAX as u64 {
            return Err(Error::new(Section::Strings, "string section too large"));
        }
        Ok(Numbering { first_id, first_str, total_str: total_str as u32 })
    }
}

/// What finding the records gives: their offsets, the kinds present and,
/// for a targeted view, the wanted names, the ids they may name and the
/// anonymous enums.
struct Records {
    offsets: Offsets,
    kinds: u32,
    partial: Option<(WantedNames, Vec<u32>, Vec<u32>)>,
}

/// Finds the records of the blob `data` as `walking` says.
fn find_records(data: &[u8], layout: &Layout, numbering: &Numbering, base: Option<&Btf>, walking: Walking<'_>) -> Result<Records> {
    let types = Reader { data: &data[layout.types_start..layout.types_end], swap: layout.swap };
    let strs = &data[layout.str_start..layout.str_end];
    match walking {
        Walking::Full => {
            let (offsets, kinds) = scan_types(types, numbering.first_id, numbering.total_str)?;
            Ok(Records { offsets: Offsets::Walked(offsets), kinds, partial: None })
        }
        Walking::Targeted(w) => {
            let base_strs = base.filter(|b| b.inner.first_str == 0).map(|b| b.str_bytes());
            let probe = NameProbe { wanted: w, own: strs, first_str: numbering.first_str, base: base_strs };
            let walk = walk_types(types, numbering.first_id, numbering.total_str, &probe)?;
            Ok(Records {
                offsets: Offsets::Walked(walk.offsets),
                kinds: walk.kinds,
                partial: Some((w.clone(), walk.hits, walk.anonymous_enums)),
            })
        }
        Walking::Indexed(w, index_bytes) => {
            if base.is_some() {
                return Err(Error::new(Section::RecordIndex, "a record index is for a base BTF, not a split one"));
            }
            let blob = BlobLayout { header: &data[..layout.hdr_len], types: types.data, strings: strs, total_len: data.len() };
            let index = RecordIndex::read((**index_bytes).as_ref(), &blob)?;
            let hits: Vec<u32> = w.essentials().flat_map(|ess| index.candidates(ess)).collect();
            let offsets = Offsets::Indexed { bytes: index_bytes.clone(), start: index.offsets_start(), count: index.count() };
            Ok(Records { offsets, kinds: index.kinds, partial: Some((w.clone(), hits, index.anonymous_enums())) })
        }
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) swap: bool,
}

impl<'a> Reader<'a> {
    #[inline]
    pub(crate) fn u32(&self, off: usize) -> u32 {
        let b = &self.data[off..off + 4];
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        if self.swap {
            v.swap_bytes()
        } else {
            v
        }
    }
}

impl Btf {
    /// Parses a standalone (base) BTF blob such as `/sys/kernel/btf/vmlinux`
    /// or an object's `.BTF` section.
    pub fn parse(bytes: Bytes) -> Result<Btf> {
        Self::parse_inner(bytes, None, Walking::Full)
    }

    /// Parses a BTF blob for lookups of `wanted` names only (see the
    /// `targeted` module): one pass over the strings for those names, one
    /// walk over the type records, no full name index. Lookups of other
    /// names still work (they build the full index) and are counted in
    /// [`Btf::fallback_lookups`]. Records are checked to have a known kind
    /// and to fit, not validated member by member as [`Btf::parse`] does.
    pub fn parse_targeted(bytes: Bytes, wanted: &WantedNames) -> Result<Btf> {
        Self::parse_inner(bytes, None, Walking::Targeted(wanted))
    }

    /// [`Btf::parse_targeted`] without the walk: the record offsets, the
    /// ids of the wanted names, the kinds and the anonymous enums come from
    /// `index`, the [`Btf::record_index`] of the same blob. Only the
    /// records and strings lookups reach are read; each record read is
    /// checked to be of a known kind and to fit. An index made from
    /// another blob, or damaged, is an error.
    pub fn parse_indexed(bytes: Bytes, index: Bytes, wanted: &WantedNames) -> Result<Btf> {
        Self::parse_inner(bytes, None, Walking::Indexed(wanted, &index))
    }

    /// The record index of this (base) blob, for [`Btf::parse_indexed`].
    pub fn record_index(&self) -> Result<Vec<u8>> {
        if self.inner.base.is_some() {
            return Err(Error::new(Section::RecordIndex, "a record index is made for a base BTF, not a split one"));
        }
        let Some(offsets) = self.inner.offsets.walked() else {
            return Err(Error::new(Section::RecordIndex, "this view was itself made with a record index"));
        };
        record_index::write(self, offsets, self.inner.kinds, &self.blob_layout())
    }

    fn blob_layout(&self) -> BlobLayout<'_> {
        let data: &[u8] = (*self.inner.bytes).as_ref();
        let hdr_len = Reader { data, swap: self.inner.swap }.u32(4) as usize;
        BlobLayout {
            header: &data[..hdr_len],
            types: &data[self.inner.types_start..self.inner.types_end],
            strings: &data[self.inner.str_start..self.inner.str_end],
            total_len: data.len(),
        }
    }

    /// [`Btf::parse_targeted`] for a module's split BTF on `base`.
    pub fn parse_split_targeted(bytes: Bytes, base: &Btf, wanted: &WantedNames) -> Result<Btf> {
        Self::parse_inner(bytes, Some(base.clone()), Walking::Targeted(wanted))
    }

    /// Parses a module's split BTF on top of `base`.
    ///
    /// Split BTF continues the base's type ids and string offsets. Pairing it
    /// with the wrong base is detected when a string offset or a type id
    /// falls outside the combined range; a base with *more* types than the
    /// right one can still go unnoticed, which is why callers should pair
    /// modules with the vmlinux of the same release.
    pub fn parse_split(bytes: Bytes, base: &Btf) -> Result<Btf> {
        Self::parse_inner(bytes, Some(base.clone()), Walking::Full)
    }

    /// Convenience for owned bytes.
    pub fn from_vec(v: Vec<u8>) -> Result<Btf> {
        Self::parse(Arc::new(v))
    }

    /// Convenience for owned split bytes.
    pub fn from_vec_split(v: Vec<u8>, base: &Btf) -> Result<Btf> {
        Self::parse_split(Arc::new(v), base)
    }

    fn parse_inner(bytes: Bytes, base: Option<Btf>, walking: Walking<'_>) -> Result<Btf> {
        let data: &[u8] = (*bytes).as_ref();
        let layout = Layout::read(data)?;
        let strs = &data[layout.str_start..layout.str_end];
        let numbering = Numbering::of(strs, base.as_ref())?;
        let records = find_records(data, &layout, &numbering, base.as_ref(), walking)?;
        let mut btf = Btf {
            inner: Arc::new(Inner {
                bytes,
                swap: layout.swap,
                types_start: layout.types_start,
                types_end: layout.types_end,
                str_start: layout.str_start,
                str_end: layout.str_end,
                offsets: records.offsets,
                base,
                first_id: numbering.first_id,
                first_str: numbering.first_str,
                index: OnceLock::new(),
                partial: None,
                fallbacks: AtomicUsize::new(0),
                kinds: records.kinds,
            }),
        };
        if let Some((w, hits, anonymous_enums)) = records.partial {
            let mut index = btf.partial_index(w, hits);
            index.anonymous_enums = anonymous_enums;
            Arc::get_mut(&mut btf.inner).expect("not shared yet").partial = Some(index);
        }
        Ok(btf)
    }

    /// The partial index of a targeted view: `hits` are own types named by
    /// a wanted own string (or, for split BTF, by any base string).
    fn partial_index(&self, wanted: WantedNames, hits: Vec<u32>) -> PartialIndex {
        let mut index = PartialIndex::new(wanted);
        for id in hits {
            let Ok(name) = self.type_by_id(id).and_then(|t| t.name_bytes()) else { continue };
            if index.wanted.covers(&name[..essential_len(name)]) {
                index.insert(name, id);
            }
        }
        index
    }

    /// Lookups of names a targeted view was not parsed for (each built or
    /// used the full index); 0 for a full parse.
    pub fn fallback_lookups(&self) -> usize {
        self.inner.fallbacks.load(Ordering::Relaxed)
    }

    /// The own types of a targeted view named by a wanted name, in id
    /// order (empty for a full parse).
    pub fn targeted_type_ids(&self) -> Vec<u32> {
        self.inner.partial.as_ref().map(|p| p.ids()).unwrap_or_default()
    }

    /// Whether any type (own or the base's) is of kind `k`: known from
    /// parsing, no scan.
    pub fn has_kind(&self, k: Kind) -> bool {
        self.inner.kinds & (1 << k as u32) != 0 || self.inner.base.as_ref().is_some_and(|b| b.has_kind(k))
    }

    /// The first anonymous ENUM (base first) whose first enumerator is
    /// named `first`: how the kernel's anonymous `BTF_KIND_*` enum is
    /// found. A targeted view knows its anonymous enums from its walk.
    pub fn find_anonymous_enum(&self, first: &str) -> Option<u32> {
        if let Some(id) = self.inner.base.as_ref().and_then(|b| b.find_anonymous_enum(first)) {
            return Some(id);
        }
        let starts_with_first = |t: &Type<'_>| {
            t.kind() == Kind::Enum && t.name_off() == 0 && t.enumerators().next().is_some_and(|e| t.str(e.name_off) == Ok(first))
        };
        match &self.inner.partial {
            Some(p) => p.anonymous_enums.iter().filter_map(|&id| self.type_by_id(id).ok()).find(starts_with_first).map(|t| t.id()),
            None => self.own_types().find(starts_with_first).map(|t| t.id()),
        }
    }

    /// Whether this view was made with a record index
    /// ([`Btf::parse_indexed`]).
    pub fn is_indexed(&self) -> bool {
        self.inner.offsets.is_indexed()
    }

    /// Whether this is a targeted view ([`Btf::parse_targeted`]).
    pub fn is_targeted(&self) -> bool {
        self.inner.partial.is_some()
    }

    /// Own type ids whose essential name is that of `key`, from a targeted
    /// view's partial index; `None` (and a counted fallback) if not covered.
    fn partial_lookup(&self, key: &[u8]) -> Option<&[u32]> {
        let partial = self.inner.partial.as_ref()?;
        let found = partial.lookup(&key[..essential_len(key)]);
        if found.is_none() {
            self.inner.fallbacks.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Own ids from the partial index matching `kind` and, unless
    /// `essential`, exactly `key`.
    fn partial_find(&self, ids: &[u32], key: &[u8], kind: Option<Kind>, essential: bool) -> Vec<u32> {
        ids.iter()
            .copied()
            .filter(|&id| {
                self.type_by_id(id)
                    .is_ok_and(|t| kind.is_none_or(|k| k == t.kind()) && (essential || t.name_bytes().is_ok_and(|n| n == key)))
            })
            .collect()
    }

    pub(crate) fn reader(&self) -> Reader<'_> {
        let data: &[u8] = (*self.inner.bytes).as_ref();
        Reader { data: &data[self.inner.types_start..self.inner.types_end], swap: self.inner.swap }
    }

    fn str_bytes(&self) -> &[u8] {
        let data: &[u8] = (*self.inner.bytes).as_ref();
        &data[self.inner.str_start..self.inner.str_end]
    }

    /// Whether the blob is big-endian (BTF records are read in the blob's
    /// own byte order, whatever this machine's is).
    pub fn is_big_endian(&self) -> bool {
        self.inner.swap
    }

    /// The base BTF of a split BTF.
    pub fn base(&self) -> Option<&Btf> {
        self.inner.base.as_ref()
    }

    /// One past the highest type id, counting the base's types and type 0
    /// (`void`): valid ids are `0..type_count()`.
    pub fn type_count(&self) -> u32 {
        self.inner.first_id + self.inner.offsets.len() as u32
    }

    /// The first type id that this blob (not its base) defines.
    pub fn first_own_id(&self) -> u32 {
        self.inner.first_id
    }

    /// Number of types this blob itself defines.
    pub fn own_type_count(&self) -> u32 {
        self.inner.offsets.len() as u32
    }

    /// Total length of the string space (base plus own).
    pub fn strings_len(&self) -> u32 {
        self.inner.first_str + self.str_bytes().len() as u32
    }

    /// The raw bytes of this blob.
    pub fn raw_bytes(&self) -> &[u8] {
        (*self.inner.bytes).as_ref()
    }

    /// The raw string section of this blob only.
    pub fn own_strings(&self) -> &[u8] {
        self.str_bytes()
    }

    /// The bytes of the NUL-terminated string at `off` (without the NUL).
    pub fn str_raw(&self, off: u32) -> Result<&[u8]> {
        if off < self.inner.first_str {
            // Split BTF: strings below first_str live in the base.
            return self.inner.base.as_ref().expect("first_str > 0 implies a base").str_raw(off);
        }
        let s = self.str_bytes();
        let rel = (off - self.inner.first_str) as usize;
        if rel >= s.len() {
            return Err(Error::new(
                Section::Strings,
                format!("string offset {off} out of range (string space is {} bytes)", self.strings_len()),
            ));
        }
        // Parsing checked that the section ends in NUL, so a NUL is found.
        let end = memchr::memchr(0, &s[rel..]).map(|e| rel + e).unwrap_or(s.len());
        Ok(&s[rel..end])
    }

    /// The string at `off`.
    pub fn str(&self, off: u32) -> Result<&str> {
        let raw = self.str_raw(off)?;
        std::str::from_utf8(raw).map_err(|_| Error::new(Section::Strings, format!("string at offset {off} is not valid UTF-8")))
    }

    /// The type with `id`. Id 0 is `void` and has no record: it is an error
    /// here; callers check for 0 first (see [`Btf::is_void`]).
    pub fn type_by_id(&self, id: u32) -> Result<Type<'_>> {
        if id < self.inner.first_id {
            return match &self.inner.base {
                Some(b) => b.type_by_id(id),
                None => Err(Error::types("type id 0 (void) has no record").ty(id)),
            };
        }
        let idx = (id - self.inner.first_id) as usize;
        let Some(off) = self.inner.offsets.get(idx) else {
            return Err(Error::types(format!("type id out of range (last id is {})", self.type_count() - 1)).ty(id));
        };
        if self.inner.offsets.is_indexed() {
            self.check_indexed_record(id, off as usize)?;
        }
        Ok(Type::new(self, id, off as usize))
    }

    /// Whether `id` is `void` (0).
    pub fn is_void(id: u32) -> bool {
        id == 0
    }

    /// All types this blob defines (not the base's), in id order. (Of a
    /// view made with a damaged record index: up to the first record that
    /// does not fit.)
    pub fn own_types(&self) -> impl Iterator<Item = Type<'_>> + '_ {
        let first = self.inner.first_id;
        self.inner
            .offsets
            .range(0..self.inner.offsets.len())
            .enumerate()
            .map(move |(i, off)| (first + i as u32, off as usize))
            .take_while(move |&(id, off)| !self.inner.offsets.is_indexed() || self.check_indexed_record(id, off).is_ok())
            .map(move |(id, off)| Type::new(self, id, off))
    }

    /// A record whose offset came from a record index must be of a known
    /// kind and fit in the type section (what the walk checks of every
    /// record), and its name must be in the string section.
    fn check_indexed_record(&self, id: u32, off: usize) -> Result<()> {
        let r = self.reader();
        let len = self.inner.types_end - self.inner.types_start;
        let fits = off % 4 == 0 && off + 12 <= len && {
            let (name_off, info) = (r.u32(off), r.u32(off + 4));
            let raw_kind = (info >> 24) & 0x1f;
            KNOWN_KINDS & (1 << raw_kind) != 0 && off + record_len(info) <= len && name_off < self.strings_len()
        };
        if !fits {
            return Err(Error::new(Section::RecordIndex, "its offset does not lead to a whole record: the index does not fit this BTF")
                .at(off)
                .ty(id));
        }
        Ok(())
    }

    /// All types including the base's, in id order (excluding void).
    pub fn all_types(&self) -> Box<dyn Iterator<Item = Type<'_>> + '_> {
        match &self.inner.base {
            Some(b) => Box::new(b.all_types().chain(self.own_types())),
            None => Box::new(self.own_types()),
        }
    }

    /// Calls `f(i, name_off)` for the own types `range`, `i` counting from
    /// 0 (the type with id `first_own_id() + i`), reading only the name
    /// word.
    pub(crate) fn for_each_own_name_off(&self, range: std::ops::Range<usize>, mut f: impl FnMut(usize, u32)) {
        let r = self.reader();
        let start = range.start;
        let len = r.data.len();
        for (i, off) in self.inner.offsets.range(range).enumerate() {
            // Always in bounds but where the offsets came from a record
            // index, whose records are checked only when read.
            if (off as usize) + 4 <= len {
                f(start + i, r.u32(off as usize));
            }
        }
    }

    pub(crate) fn index(&self) -> &NameIndex {
        self.inner.index.get_or_init(|| NameIndex::build(self))
    }

    /// Builds the name index now instead of at the first lookup.
    pub fn build_index(&self) {
        let _ = self.index();
    }

    /// Bytes of heap memory this value owns (offset table and index), not
    /// counting the blob's bytes or the base.
    pub fn heap_bytes(&self) -> usize {
        let idx =
            self.inner.index.get().map(|i| i.heap_bytes()).unwrap_or(0) + self.inner.partial.as_ref().map(|p| p.heap_bytes()).unwrap_or(0);
        self.inner.offsets.heap_bytes() + idx
    }

    /// Ids of this blob's own types named exactly `name` of `kind` (any kind
    /// if `None`), in id order. Uses the name index, not a scan.
    pub fn find_own(&self, name: &str, kind: Option<Kind>) -> Vec<u32> {
        if let Some(ids) = self.partial_lookup(name.as_bytes()) {
            return self.partial_find(ids, name.as_bytes(), kind, false);
        }
        self.index().find(self, name.as_bytes(), kind, false)
    }

    /// Ids of this blob's types whose *essential* name (flavor stripped) is
    /// `essential`, of `kind` (any if `None`).
    pub fn find_own_by_essential_name(&self, essential: &str, kind: Option<Kind>) -> Vec<u32> {
        if let Some(ids) = self.partial_lookup(essential.as_bytes()) {
            return self.partial_find(ids, essential.as_bytes(), kind, true);
        }
        self.index().find(self, essential.as_bytes(), kind, true)
    }

    /// Like [`Btf::find_own`], searching the base first for split BTF.
    pub fn find(&self, name: &str, kind: Option<Kind>) -> Vec<u32> {
        let mut v = match &self.inner.base {
            Some(b) => b.find(name, kind),
            None => Vec::new(),
        };
        v.extend(self.find_own(name, kind));
        v
    }

    /// Like [`Btf::find`] (with `essential`, [`Btf::find_by_essential_name`]),
    /// by one pass over the types instead of through the name index: a
    /// process that looks up one name (`bpfld btf find`) spends less on the
    /// pass than on indexing every name, as libbpf's
    /// `btf__find_by_name_kind` does. Anonymous types have no name to find.
    pub fn scan_find(&self, name: &str, kind: Option<Kind>, essential: bool) -> Vec<u32> {
        let mut found = match &self.inner.base {
            Some(b) => b.scan_find(name, kind, essential),
            None => Vec::new(),
        };
        let key = name.as_bytes();
        let strs = self.str_bytes();
        let first_str = self.inner.first_str;
        let first_id = self.inner.first_id;
        self.for_each_own_name_off(0..self.inner.offsets.len(), |i, name_off| {
            // Compare the key in place first; look for the name's end only
            // on a match.
            let candidate = match name_off.checked_sub(first_str) {
                Some(off) => {
                    strs.get(off as usize..).filter(|s| s.starts_with(key)).map(|s| &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())])
                }
                None => self.str_raw(name_off).ok().filter(|s| s.starts_with(key)),
            };
            let Some(s) = candidate.filter(|s| !s.is_empty()) else { return };
            let hit = if essential { crate::name::essential_len(s) == key.len() } else { s.len() == key.len() };
            let id = first_id + i as u32;
            if hit && kind.is_none_or(|k| self.type_by_id(id).is_ok_and(|t| t.kind() == k)) {
                found.push(id);
            }
        });
        found
    }

    /// Like [`Btf::find_own_by_essential_name`], base first.
    pub fn find_by_essential_name(&self, essential: &str, kind: Option<Kind>) -> Vec<u32> {
        let mut v = match &self.inner.base {
            Some(b) => b.find_by_essential_name(essential, kind),
            None => Vec::new(),
        };
        v.extend(self.find_own_by_essential_name(essential, kind));
        v
    }

    /// The first type named `name` of `kind` (base first), as
    /// `btf__find_by_name_kind` returns.
    pub fn find_first(&self, name: &str, kind: Kind) -> Option<u32> {
        if let Some(b) = &self.inner.base {
            if let Some(id) = b.find_first(name, kind) {
                return Some(id);
            }
        }
        if let Some(ids) = self.partial_lookup(name.as_bytes()) {
            return self.partial_find(ids, name.as_bytes(), Some(kind), false).first().copied();
        }
        self.index().find_first(self, name.as_bytes(), kind)
    }
}

/// Record length by raw kind, as (fixed extra bytes, bytes per `vlen`
/// entry); `None` for an unknown kind. A table instead of a match keeps the
/// walk's loop short: it runs once per type of vmlinux.
const RECORD_LAYOUT: [Option<(u32, u32)>; 32] = {
    let mut t = [None; 32];
    let mut k = 1;
    while k <= 19 {
        t[k] = Some((0, 0));
        k += 1;
    }
    t[Kind::Int as usize] = Some((4, 0));
    t[Kind::Array as usize] = Some((12, 0));
    t[Kind::Struct as usize] = Some((0, 12));
    t[Kind::Union as usize] = Some((0, 12));
    t[Kind::Enum as usize] = Some((0, 8));
    t[Kind::FuncProto as usize] = Some((0, 8));
    t[Kind::Var as usize] = Some((4, 0));
    t[Kind::Datasec as usize] = Some((0, 12));
    t[Kind::DeclTag as usize] = Some((4, 0));
    t[Kind::Enum64 as usize] = Some((0, 12));
    t
};

/// [`RECORD_LAYOUT`] packed for the targeted walk: two bits per raw kind
/// of the fixed extra words (`FIXED_WORDS`) and of the words per `vlen`
/// entry (`ENTRY_WORDS`), and a bit per known kind. Shifts of constants
/// instead of a table load keep the record-to-record dependency short.
const FIXED_WORDS: u64 = pack_layout(false);
const ENTRY_WORDS: u64 = pack_layout(true);
const KNOWN_KINDS: u32 = {
    let mut bits = 0;
    let mut k = 0;
    while k < 32 {
        if RECORD_LAYOUT[k].is_some() {
            bits |= 1 << k;
        }
        k += 1;
    }
    bits
};

/// Two bits per raw kind: its fixed extra words, or (`per_entry`) its
/// words per `vlen` entry.
const fn pack_layout(per_entry: bool) -> u64 {
    let mut packed = 0u64;
    let mut k = 0;
    while k < 32 {
        if let Some((fixed, entry)) = RECORD_LAYOUT[k] {
            let words = if per_entry { entry / 4 } else { fixed / 4 };
            packed |= (words as u64 & 3) << (2 * k);
        }
        k += 1;
    }
    packed
}

/// Bytes of the record whose `info` word is given (of a known kind).
#[inline(always)]
fn record_len(info: u32) -> usize {
    let shift = 2 * ((info >> 24) & 0x1f);
    let fixed = (FIXED_WORDS >> shift) & 3;
    let entry = (ENTRY_WORDS >> shift) & 3;
    4 * (3 + fixed as usize + entry as usize * (info & 0xffff) as usize)
}

/// What the targeted walk learns: every record's offset, the ids of the
/// types a wanted name names, the kinds present, the anonymous enums.
struct Walk {
    offsets: Vec<u32>,
    hits: Vec<u32>,
    kinds: u32,
    anonymous_enums: Vec<u32>,
}

/// The targeted walk: each record's kind, length and name offset checked,
/// its offset recorded, its name probed for the wanted names (one bit test
/// for almost every record; see [`NameProbe`]).
fn walk_types(r: Reader<'_>, first_id: u32, total_str: u32, probe: &NameProbe<'_>) -> Result<Walk> {
    if r.swap {
        walk_types_in::<true>(r.data, first_id, total_str, probe)
    } else {
        walk_types_in::<false>(r.data, first_id, total_str, probe)
    }
}

fn walk_types_in<const SWAP: bool>(data: &[u8], first_id: u32, total_str: u32, probe: &NameProbe<'_>) -> Result<Walk> {
    let word = |b: &[u8], at: usize| {
        let v = u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
        if SWAP {
            v.swap_bytes()
        } else {
            v
        }
    };
    let len = data.len();
    let mut w = Walk { offsets: Vec::with_capacity(len / 24), hits: Vec::new(), kinds: 0, anonymous_enums: Vec::new() };
    let mut off = 0usize;
    while let Some(head) = data.get(off..off + 12) {
        let (name_off, info) = (word(head, 0), word(head, 4));
        let id = first_id + w.offsets.len() as u32;
        let raw_kind = (info >> 24) & 0x1f;
        if KNOWN_KINDS & (1 << raw_kind) == 0 {
            return Err(Error::types(format!("unknown kind {raw_kind}")).at(off).ty(id));
        }
        if name_off >= total_str {
            return Err(Error::types(format!("name offset {name_off} out of range (string space is {total_str} bytes)")).at(off).ty(id));
        }
        let end = off + record_len(info);
        if end > len {
            return Err(Error::types(format!("type record needs {} bytes, only {} left", end - off, len - off)).at(off).ty(id));
        }
        if name_off != 0 {
            if probe.hit(name_off) {
                w.hits.push(id);
            }
        } else if raw_kind == Kind::Enum as u32 {
            w.anonymous_enums.push(id);
        }
        w.kinds |= 1 << raw_kind;
        w.offsets.push(off as u32);
        off = end;
    }
    if off < len {
        let id = first_id + w.offsets.len() as u32;
        return Err(Error::types(format!("truncated type record: {} bytes left, need 12", len - off)).at(off).ty(id));
    }
    if first_id as usize + w.offsets.len() > MAX_TYPE_ID as usize + 1 {
        return Err(Error::types(format!("more than {MAX_TYPE_ID} types")));
    }
    Ok(w)
}

/// Walks the type section once, validating each record and recording its
/// offset. Allocation grows with the records actually present.
fn scan_types(r: Reader<'_>, first_id: u32, total_str: u32) -> Result<(Vec<u32>, u32)> {
    let len = r.data.len();
    let mut offsets = Vec::with_capacity(len / 16);
    let mut kinds = 0u32;
    let mut off = 0usize;
    let mut max_ref: u32 = 0;
    let mut max_ref_from: u32 = 0;
    let check_str = |name_off: u32, id: u32, at: usize, what: &str| -> Result<()> {
        if name_off >= total_str {
            Err(Error::types(format!("{what} name offset {name_off} out of range (string space is {total_str} bytes)")).at(at).ty(id))
        } else {
            Ok(())
        }
    };
    while off < len {
        let id = first_id + offsets.len() as u32;
        if id > MAX_TYPE_ID {
            return Err(Error::types(format!("more than {MAX_TYPE_ID} types")).at(off).ty(id));
        }
        if len - off < 12 {
            return Err(Error::types(format!("truncated type record: {} bytes left, need 12", len - off)).at(off).ty(id));
        }
        let name_off = r.u32(off);
        let info = r.u32(off + 4);
        let size_or_type = r.u32(off + 8);
        let raw_kind = (info >> 24) & 0x1f;
        kinds |= 1 << raw_kind;
        let vlen = (info & 0xffff) as usize;
        let Some(kind) = Kind::from_raw(raw_kind) else {
            return Err(Error::types(format!("unknown kind {raw_kind}")).at(off).ty(id));
        };
        check_str(name_off, id, off, kind.name())?;
        let extra = kind.extra_len(vlen);
        let end = off + 12 + extra;
        if end > len {
            return Err(Error::types(format!(
                "{} record with vlen {vlen} needs {} bytes, only {} left",
                kind.name(),
                12 + extra,
                len - off
            ))
            .at(off)
            .ty(id));
        }
        let mut note_ref = |t: u32| {
            if t > max_ref {
                max_ref = t;
                max_ref_from = id;
            }
        };
        let body = off + 12;
        if kind.refers_by_size_or_type() {
            note_ref(size_or_type);
        }
        match kind {
            Kind::Array => {
                note_ref(r.u32(body));
                note_ref(r.u32(body + 4));
            }
            Kind::Struct | Kind::Union => {
                for m in 0..vlen {
                    let mo = body + m * 12;
                    check_str(r.u32(mo), id, mo, "member")?;
                    note_ref(r.u32(mo + 4));
                }
            }
            Kind::Enum => {
                for m in 0..vlen {
                    check_str(r.u32(body + m * 8), id, body + m * 8, "enumerator")?;
                }
            }
            Kind::Enum64 => {
                for m in 0..vlen {
                    check_str(r.u32(body + m * 12), id, body + m * 12, "enumerator")?;
                }
            }
            Kind::FuncProto => {
                for m in 0..vlen {
                    let mo = body + m * 8;
                    check_str(r.u32(mo), id, mo, "parameter")?;
                    note_ref(r.u32(mo + 4));
                }
            }
            Kind::Datasec => {
                for m in 0..vlen {
                    note_ref(r.u32(body + m * 12));
                }
            }
            _ => {}
        }
        offsets.push(off as u32);
        off = end;
    }
    let count = first_id + offsets.len() as u32;
    if max_ref >= count {
        return Err(Error::types(format!(
            "refers to type id {max_ref}, but the last type id is {} (split BTF on the wrong base?)",
            count - 1
        ))
        .ty(max_ref_from));
    }
    Ok((offsets, kinds))
}
