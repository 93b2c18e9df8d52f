//! Typed, zero-copy views of BTF type records.

use crate::btf::{Btf, Reader};
use crate::error::Result;
use crate::kind::{FuncLinkage, Kind, VarLinkage};

/// A view of one type record. Cheap to copy; reads fields from the blob on
/// demand. Parsing validated the record's layout, so accessors do not fail
/// except where they resolve strings.
#[derive(Clone, Copy)]
pub struct Type<'a> {
    btf: &'a Btf,
    id: u32,
    off: usize,
    r: Reader<'a>,
}

impl std::fmt::Debug for Type<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {} '{}'", self.id, self.kind().name(), self.name().unwrap_or("<bad name>"))
    }
}

/// A STRUCT or UNION member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its name: an offset in the string section (0: anonymous).
    pub name_off: u32,
    /// Its type's id.
    pub type_id: u32,
    /// Offset in bits from the start of the composite.
    pub bit_offset: u32,
    /// Bitfield size in bits, 0 if the member is not a bitfield.
    pub bitfield_size: u32,
}

/// An ENUM or ENUM64 enumerator, widened to 64 bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Enumerator {
    /// Its name: an offset in the string section.
    pub name_off: u32,
    /// The raw value; interpret with [`Type::is_signed_enum`].
    pub value: u64,
}

/// A FUNC_PROTO parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// Its name: an offset in the string section (0: unnamed).
    pub name_off: u32,
    /// Its type's id; 0 with no name for a trailing `...`.
    pub type_id: u32,
}

/// A DATASEC entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarSecInfo {
    /// The VAR's (or, for `.ksyms`, the FUNC's) type id.
    pub type_id: u32,
    /// Its byte offset in the section.
    pub offset: u32,
    /// Its size in bytes.
    pub size: u32,
}

/// An ARRAY's description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArrayInfo {
    /// The element type's id.
    pub elem_type: u32,
    /// The index type's id (an INT; the kernel ignores it).
    pub index_type: u32,
    /// The number of elements (not bytes).
    pub nelems: u32,
}

/// An INT's encoding word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntInfo {
    /// `BTF_INT_SIGNED | BTF_INT_CHAR | BTF_INT_BOOL` bits.
    pub encoding: u8,
    /// Bit offset of the value inside its `size` bytes (0 as clang emits).
    pub bit_offset: u8,
    /// Width in bits (the kernel accepts at most 128).
    pub bits: u8,
}

impl IntInfo {
    /// The `BTF_INT_SIGNED` bit is set.
    pub fn is_signed(&self) -> bool {
        self.encoding & crate::kind::int_encoding::SIGNED != 0
    }
}

impl<'a> Type<'a> {
    pub(crate) fn new(btf: &'a Btf, id: u32, off: usize) -> Self {
        Type { btf, id, off, r: btf.reader() }
    }

    /// The BTF this record lives in (the base, for a base type reached
    /// through a split BTF).
    pub fn btf(&self) -> &'a Btf {
        self.btf
    }
    /// Its type id (split BTF ids continue after the base's).
    pub fn id(&self) -> u32 {
        self.id
    }
    /// Its name: an offset in the string section (0: anonymous).
    pub fn name_off(&self) -> u32 {
        self.r.u32(self.off)
    }
    fn info(&self) -> u32 {
        self.r.u32(self.off + 4)
    }
    /// Its kind (bits 24..29 of `info`).
    pub fn kind(&self) -> Kind {
        // Validated at parse time.
        Kind::from_raw((self.info() >> 24) & 0x1f).unwrap_or(Kind::Int)
    }
    /// The `vlen` of `info`: the number of members, enumerators,
    /// parameters or section entries (a FUNC's linkage).
    pub fn vlen(&self) -> usize {
        (self.info() & 0xffff) as usize
    }
    /// The kind flag (bit 31 of `info`): bitfield offsets in STRUCT and
    /// UNION, a union for FWD, signed values for ENUM/ENUM64, an attribute
    /// tag for DECL_TAG/TYPE_TAG.
    pub fn kflag(&self) -> bool {
        self.info() >> 31 == 1
    }
    /// The raw `info` word.
    pub fn raw_info(&self) -> u32 {
        self.info()
    }
    /// The raw `size`/`type` word.
    pub fn raw_size_or_type(&self) -> u32 {
        self.r.u32(self.off + 8)
    }
    /// Byte length of the whole record.
    pub fn record_len(&self) -> usize {
        12 + self.kind().extra_len(self.vlen())
    }
    /// The whole record's bytes, in the blob's byte order.
    pub fn record_bytes(&self) -> &'a [u8] {
        &self.r.data[self.off..self.off + self.record_len()]
    }

    /// The type's name; `""` for anonymous types.
    pub fn name(&self) -> Result<&'a str> {
        self.btf.str(self.name_off())
    }
    /// The type's name as bytes, not checked for UTF-8; fails if the name
    /// offset is outside the string section.
    pub fn name_bytes(&self) -> Result<&'a [u8]> {
        self.btf.str_raw(self.name_off())
    }
    /// Resolves a string offset found in this type's members or params.
    pub fn str(&self, off: u32) -> Result<&'a str> {
        self.btf.str(off)
    }

    /// `size` of INT, STRUCT, UNION, ENUM, ENUM64, DATASEC and FLOAT.
    pub fn size(&self) -> Option<u32> {
        match self.kind() {
            Kind::Int | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Datasec | Kind::Float => {
                Some(self.raw_size_or_type())
            }
            _ => None,
        }
    }

    /// The referenced type of PTR, TYPEDEF, modifiers, FUNC, VAR, DECL_TAG,
    /// TYPE_TAG, and the return type of FUNC_PROTO.
    pub fn type_ref(&self) -> Option<u32> {
        self.kind().refers_by_size_or_type().then(|| self.raw_size_or_type())
    }

    fn body(&self) -> usize {
        self.off + 12
    }

    /// An INT's encoding, offset and width; `None` for other kinds.
    pub fn int_info(&self) -> Option<IntInfo> {
        (self.kind() == Kind::Int).then(|| {
            let v = self.r.u32(self.body());
            IntInfo { encoding: ((v >> 24) & 0x0f) as u8, bit_offset: ((v >> 16) & 0xff) as u8, bits: (v & 0xff) as u8 }
        })
    }

    /// The raw INT encoding word (for faithful re-serialization).
    pub fn raw_int_word(&self) -> Option<u32> {
        (self.kind() == Kind::Int).then(|| self.r.u32(self.body()))
    }

    /// An ARRAY's element type, index type and count; `None` for other
    /// kinds.
    pub fn array(&self) -> Option<ArrayInfo> {
        (self.kind() == Kind::Array).then(|| {
            let b = self.body();
            ArrayInfo { elem_type: self.r.u32(b), index_type: self.r.u32(b + 4), nelems: self.r.u32(b + 8) }
        })
    }

    /// Members of a STRUCT or UNION (empty for other kinds). With `kflag`
    /// set, the member's offset word holds the bitfield size in its top 8
    /// bits.
    pub fn members(&self) -> impl ExactSizeIterator<Item = Member> + 'a {
        let n = if self.kind().is_composite() { self.vlen() } else { 0 };
        let (r, b, kflag) = (self.r, self.body(), self.kflag());
        (0..n).map(move |i| {
            let o = b + i * 12;
            let raw = r.u32(o + 8);
            let (bit_offset, bitfield_size) = if kflag { (raw & 0x00ff_ffff, raw >> 24) } else { (raw, 0) };
            Member { name_off: r.u32(o), type_id: r.u32(o + 4), bit_offset, bitfield_size }
        })
    }

    /// Raw member offset words (for faithful re-serialization).
    pub(crate) fn raw_member_offsets(&self) -> impl Iterator<Item = u32> + 'a {
        let n = if self.kind().is_composite() { self.vlen() } else { 0 };
        let (r, b) = (self.r, self.body());
        (0..n).map(move |i| r.u32(b + i * 12 + 8))
    }

    /// Whether an ENUM/ENUM64's values are signed (`kflag`).
    pub fn is_signed_enum(&self) -> bool {
        self.kind().is_enum() && self.kflag()
    }

    /// Enumerators of ENUM or ENUM64; 32-bit values are sign- or
    /// zero-extended according to `kflag`.
    pub fn enumerators(&self) -> impl ExactSizeIterator<Item = Enumerator> + 'a {
        let kind = self.kind();
        let n = if kind.is_enum() { self.vlen() } else { 0 };
        let (r, b, signed) = (self.r, self.body(), self.kflag());
        (0..n).map(move |i| {
            if kind == Kind::Enum {
                let o = b + i * 8;
                let v = r.u32(o + 4);
                let value = if signed { v as i32 as i64 as u64 } else { v as u64 };
                Enumerator { name_off: r.u32(o), value }
            } else {
                let o = b + i * 12;
                let lo = r.u32(o + 4) as u64;
                let hi = r.u32(o + 8) as u64;
                Enumerator { name_off: r.u32(o), value: hi << 32 | lo }
            }
        })
    }

    /// Parameters of a FUNC_PROTO (empty for other kinds).
    pub fn params(&self) -> impl ExactSizeIterator<Item = Param> + 'a {
        let n = if self.kind() == Kind::FuncProto { self.vlen() } else { 0 };
        let (r, b) = (self.r, self.body());
        (0..n).map(move |i| {
            let o = b + i * 8;
            Param { name_off: r.u32(o), type_id: r.u32(o + 4) }
        })
    }

    /// A FUNC's linkage; `None` for other kinds.
    pub fn func_linkage(&self) -> Option<FuncLinkage> {
        (self.kind() == Kind::Func).then(|| FuncLinkage::from_raw(self.vlen() as u16))
    }

    /// A VAR's linkage; `None` for other kinds.
    pub fn var_linkage(&self) -> Option<VarLinkage> {
        (self.kind() == Kind::Var).then(|| VarLinkage::from_raw(self.r.u32(self.body())))
    }

    /// The variables of a DATASEC (empty for other kinds).
    pub fn datasec_vars(&self) -> impl ExactSizeIterator<Item = VarSecInfo> + 'a {
        let n = if self.kind() == Kind::Datasec { self.vlen() } else { 0 };
        let (r, b) = (self.r, self.body());
        (0..n).map(move |i| {
            let o = b + i * 12;
            VarSecInfo { type_id: r.u32(o), offset: r.u32(o + 4), size: r.u32(o + 8) }
        })
    }

    /// DECL_TAG's component index: -1 for the type itself, else a member or
    /// parameter index.
    pub fn decl_tag_component(&self) -> Option<i32> {
        (self.kind() == Kind::DeclTag).then(|| self.r.u32(self.body()) as i32)
    }

    /// FWD: whether it declares a union (kflag) rather than a struct.
    pub fn fwd_is_union(&self) -> bool {
        self.kind() == Kind::Fwd && self.kflag()
    }
}
