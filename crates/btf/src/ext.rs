//! `.BTF.ext`: per-instruction function info, line info and CO-RE
//! relocation records, grouped by ELF section.
//!
//! An object's `.BTF.ext` is small, so it is decoded into owned records; the
//! section names are resolved against the object's `.BTF` strings.

use crate::btf::{Btf, Reader};
use crate::error::{Error, Result, Section};

/// `bpf_func_info`: the BTF FUNC describing the subprogram at `insn_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FuncInfo {
    /// Byte offset in the ELF section (clang's unit; divide by 8 for an
    /// instruction index).
    pub insn_off: u32,
    /// The FUNC type's id in the object's `.BTF`.
    pub type_id: u32,
}

/// `bpf_line_info`: source position of the instruction at `insn_off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineInfo {
    /// Byte offset in the ELF section, as in [`FuncInfo::insn_off`].
    pub insn_off: u32,
    /// The source file's name: an offset in the `.BTF` string section.
    pub file_name_off: u32,
    /// The source line's text: an offset in the `.BTF` string section.
    pub line_off: u32,
    /// Line number in the top 22 bits, column in the low 10.
    pub line_col: u32,
}

/// The kind of a CO-RE relocation (`enum bpf_core_relo_kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CoreReloKind {
    /// A field's byte offset.
    FieldByteOffset,
    /// A field's size in bytes.
    FieldByteSize,
    /// 1 if the field exists in the target, else 0.
    FieldExists,
    /// 1 if the field is signed.
    FieldSigned,
    /// The left shift that extracts a bitfield from a u64.
    FieldLshiftU64,
    /// The right shift that extracts a bitfield from a u64.
    FieldRshiftU64,
    /// The type's id in the object's own BTF.
    TypeIdLocal,
    /// The matching type's id in the target BTF.
    TypeIdTarget,
    /// 1 if a matching type exists in the target.
    TypeExists,
    /// The target type's size in bytes.
    TypeSize,
    /// 1 if the enumerator exists in the target.
    EnumvalExists,
    /// The enumerator's value in the target.
    EnumvalValue,
    /// 1 if the target type matches in layout and members (`bpf_core_type_matches`).
    TypeMatches,
}

impl CoreReloKind {
    /// The kind of `enum bpf_core_relo_kind` value `v`; `None` for a
    /// value this crate does not know.
    pub fn from_raw(v: u32) -> Option<Self> {
        use CoreReloKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// The `enum bpf_core_relo_kind` value.
    pub fn raw(self) -> u32 {
        self as u32
    }

    /// libbpf's names (`byte_off`, `type_exists`, ...), used in diagnostics.
    pub fn name(self) -> &'static str {
        use CoreReloKind::*;
        match self {
            FieldByteOffset => "byte_off",
            FieldByteSize => "byte_sz",
            FieldExists => "field_exists",
            FieldSigned => "signed",
            FieldLshiftU64 => "lshift_u64",
            FieldRshiftU64 => "rshift_u64",
            TypeIdLocal => "local_type_id",
            TypeIdTarget => "target_type_id",
            TypeExists => "type_exists",
            TypeSize => "type_size",
            EnumvalExists => "enumval_exists",
            EnumvalValue => "enumval_value",
            TypeMatches => "type_matches",
        }
    }

    /// A field relocation (the target's field offset, size, existence,
    /// signedness or bitfield shifts).
    pub fn is_field(self) -> bool {
        (self as u32) <= 5
    }
    /// A type-based relocation (id, existence, size, match).
    pub fn is_type(self) -> bool {
        matches!(self, Self::TypeIdLocal | Self::TypeIdTarget | Self::TypeExists | Self::TypeSize | Self::TypeMatches)
    }
    /// An enumerator relocation (existence, value).
    pub fn is_enumval(self) -> bool {
        matches!(self, Self::EnumvalExists | Self::EnumvalValue)
    }
}

/// `bpf_core_relo`: one CO-RE relocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreRelo {
    /// Byte offset in the ELF section of the instruction to patch.
    pub insn_off: u32,
    /// The root type's id in the object's `.BTF`.
    pub type_id: u32,
    /// The access string (`0:1:2`: member and array indices from the root
    /// type): an offset in the `.BTF` string section.
    pub access_str_off: u32,
    /// What the relocation computes.
    pub kind: CoreReloKind,
}

/// Records of one kind for one ELF section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtSection<T> {
    /// The ELF section's name (`xdp`, `.text`).
    pub sec_name: String,
    /// Its records, in file order.
    pub records: Vec<T>,
}

/// A decoded `.BTF.ext`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// Function info, per ELF section.
    pub func_info: Vec<ExtSection<FuncInfo>>,
    /// Line info, per ELF section.
    pub line_info: Vec<ExtSection<LineInfo>>,
    /// CO-RE relocations, per ELF section (empty if the file has none).
    pub core_relos: Vec<ExtSection<CoreRelo>>,
    /// The func info record size the file declared, in bytes (records
    /// larger than the kernel's are read for their known fields only).
    pub func_info_rec_size: u32,
    /// The line info record size the file declared, in bytes.
    pub line_info_rec_size: u32,
    /// The CO-RE relocation record size the file declared, in bytes.
    pub core_relo_rec_size: u32,
}

const FUNC_INFO_MIN: u32 = 8;
const LINE_INFO_MIN: u32 = 16;
const CORE_RELO_MIN: u32 = 16;

fn err(off: usize, msg: impl Into<String>) -> Error {
    Error::new(Section::Ext, msg).at(off)
}

impl BtfExt {
    /// Decodes `data` (the `.BTF.ext` section) against the object's `btf`,
    /// whose strings the section names and CO-RE access strings index.
    pub fn parse(data: &[u8], btf: &Btf) -> Result<BtfExt> {
        if data.len() < 8 {
            return Err(err(0, format!("truncated header: {} bytes", data.len())));
        }
        let magic = u16::from_le_bytes([data[0], data[1]]);
        let swap = match magic {
            0xeb9f => false,
            0x9feb => true,
            m => return Err(err(0, format!("bad magic {m:#06x}"))),
        };
        if swap != btf.is_big_endian() {
            return Err(err(0, "byte order differs from the object's .BTF"));
        }
        if data[2] != 1 {
            return Err(err(2, format!("unsupported version {}", data[2])));
        }
        let r = Reader { data, swap };
        let hdr_len = r.u32(4) as usize;
        // func_info and line_info are mandatory; core_relo came later.
        if hdr_len < 24 || hdr_len > data.len() {
            return Err(err(4, format!("header length {hdr_len} out of range (24..={})", data.len())));
        }
        let field = |i: usize| r.u32(8 + 4 * i);
        let mut ext = BtfExt::default();
        let fi = sub_section(data, hdr_len, field(0), field(1), 8)?;
        let li = sub_section(data, hdr_len, field(2), field(3), 16)?;
        let (fi_size, fi_secs) = parse_info(r, fi, FUNC_INFO_MIN, btf, "func_info")?;
        ext.func_info_rec_size = fi_size;
        ext.func_info = map_recs(fi_secs, |o| FuncInfo { insn_off: r.u32(o), type_id: r.u32(o + 4) });
        let (li_size, li_secs) = parse_info(r, li, LINE_INFO_MIN, btf, "line_info")?;
        ext.line_info_rec_size = li_size;
        ext.line_info = map_recs(li_secs, |o| LineInfo {
            insn_off: r.u32(o),
            file_name_off: r.u32(o + 4),
            line_off: r.u32(o + 8),
            line_col: r.u32(o + 12),
        });
        if hdr_len >= 32 {
            let cr = sub_section(data, hdr_len, field(4), field(5), 24)?;
            let (cr_size, cr_secs) = parse_info(r, cr, CORE_RELO_MIN, btf, "core_relo")?;
            ext.core_relo_rec_size = cr_size;
            let mut out = Vec::with_capacity(cr_secs.len());
            for (name, offs) in cr_secs {
                let mut records = Vec::with_capacity(offs.len());
                for o in offs {
                    let raw = r.u32(o + 12);
                    let kind = CoreReloKind::from_raw(raw)
                        .ok_or_else(|| err(o + 12, format!("core_relo in '{name}': unknown relocation kind {raw}")))?;
                    let access_str_off = r.u32(o + 8);
                    btf.str(access_str_off)
                        .map_err(|e| err(o + 8, format!("core_relo in '{name}': access string offset {access_str_off}: {}", e.message)))?;
                    records.push(CoreRelo { insn_off: r.u32(o), type_id: r.u32(o + 4), access_str_off, kind });
                }
                out.push(ExtSection { sec_name: name, records });
            }
            ext.core_relos = out;
        }
        Ok(ext)
    }
}

type RawSections = Vec<(String, Vec<usize>)>;

fn map_recs<T>(secs: RawSections, f: impl Fn(usize) -> T) -> Vec<ExtSection<T>> {
    secs.into_iter().map(|(sec_name, offs)| ExtSection { sec_name, records: offs.into_iter().map(&f).collect() }).collect()
}

/// The byte range `[hdr_len + off, +len)`, checked against the data.
fn sub_section(data: &[u8], hdr_len: usize, off: u32, len: u32, at: usize) -> Result<(usize, usize)> {
    let start = hdr_len.checked_add(off as usize);
    match start.and_then(|s| s.checked_add(len as usize)) {
        Some(end) if end <= data.len() => Ok((start.unwrap_or(0), end)),
        _ => Err(err(at, format!("sub-section [{off:#x}, +{len:#x}) runs past the end ({} bytes)", data.len()))),
    }
}

/// Walks one info sub-section: a record size, then per ELF section
/// `{sec_name_off, num_info, records...}`. Returns record byte offsets.
fn parse_info(r: Reader<'_>, (start, end): (usize, usize), min: u32, btf: &Btf, what: &str) -> Result<(u32, RawSections)> {
    if start == end {
        return Ok((0, Vec::new()));
    }
    if end - start < 4 {
        return Err(err(start, format!("{what}: truncated record size")));
    }
    let rec_size = r.u32(start);
    if rec_size < min || rec_size % 4 != 0 {
        return Err(err(start, format!("{what}: record size {rec_size} invalid (at least {min}, multiple of 4)")));
    }
    let mut secs = Vec::new();
    let mut off = start + 4;
    while off < end {
        if end - off < 8 {
            return Err(err(off, format!("{what}: truncated section header")));
        }
        let name_off = r.u32(off);
        let n = r.u32(off + 4) as usize;
        let name = btf.str(name_off).map_err(|e| err(off, format!("{what}: section name offset {name_off}: {}", e.message)))?.to_string();
        if n == 0 {
            return Err(err(off + 4, format!("{what} for section '{name}': zero records")));
        }
        let body = off + 8;
        let need = n.checked_mul(rec_size as usize).filter(|&b| b <= end - body);
        let Some(bytes) = need else {
            return Err(err(
                off + 4,
                format!("{what} for section '{name}': {n} records of {rec_size} bytes run past the end of the sub-section"),
            ));
        };
        // Offsets only: allocation is bounded by the bytes present.
        secs.push((name, (0..n).map(|i| body + i * rec_size as usize).collect()));
        off = body + bytes;
    }
    Ok((rec_size, secs))
}
