//! The `.BTF` section of a vmlinux or module ELF file, checked to be BTF.
//!
//! The section is copied out byte for byte (as `llvm-objcopy
//! --dump-section .BTF=` does): in vmlinux it is the base BTF, in a module
//! the split BTF whose type ids continue after that vmlinux's.

use object::{Object, ObjectKind, ObjectSection};

use crate::error::{BtfHeaderError, ElfError, Error, Result};

const BTF_MAGIC: u16 = 0xeb9f;
const BTF_HEADER_LEN: usize = 24;

/// What the ELF file is, from its `e_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ElfKind {
    /// `ET_EXEC` (or `ET_DYN`): a vmlinux; its `.BTF` is base BTF.
    Vmlinux,
    /// `ET_REL`: a module; its `.BTF` is split BTF.
    Module,
}

impl ElfKind {
    /// `"vmlinux"` or `"module"`, for messages.
    pub fn name(self) -> &'static str {
        match self {
            ElfKind::Vmlinux => "vmlinux",
            ElfKind::Module => "module",
        }
    }
}

/// The `.BTF` section of an ELF file.
#[derive(Debug)]
pub struct ElfBtf<'a> {
    /// The ELF file's type, which says whether its BTF is base or split.
    pub kind: ElfKind,
    /// The section and its file offset; `None` when the file has no `.BTF`
    /// (a kernel or module built without CONFIG_DEBUG_INFO_BTF).
    pub btf: Option<(&'a [u8], u64)>,
}

/// Finds `.BTF` in the ELF file `elf` (named `file` in errors).
pub fn find_btf<'a>(file: &str, elf: &'a [u8]) -> Result<ElfBtf<'a>> {
    if !elf.starts_with(b"\x7fELF") {
        let head: String = elf.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(Error::at(file, 0, ElfError::NotElf { head }));
    }
    let obj = object::File::parse(elf).map_err(|e| Error::new(file, ElfError::Malformed(e)))?;
    let kind = match obj.kind() {
        ObjectKind::Relocatable => ElfKind::Module,
        ObjectKind::Executable | ObjectKind::Dynamic => ElfKind::Vmlinux,
        k => return Err(Error::new(file, ElfError::UnexpectedKind(k))),
    };
    let Some(section) = obj.section_by_name(".BTF") else {
        return Ok(ElfBtf { kind, btf: None });
    };
    let offset = section.file_range().map(|(off, _)| off).unwrap_or(0);
    let data = section.data().map_err(|e| Error::at(file, offset, ElfError::BtfData(e)))?;
    check_header(file, data, offset)?;
    Ok(ElfBtf { kind, btf: Some((data, offset)) })
}

/// Checks that `data` (at `offset` in `file`) starts with a BTF header
/// whose type and string sections lie inside it, so that a wrong cut shows
/// up here and not as a parse error of the written file later.
pub fn check_header(file: &str, data: &[u8], offset: u64) -> Result<()> {
    let bad = |at: usize, e: BtfHeaderError| Err(Error::at(file, offset + at as u64, ElfError::BtfHeader(e)));
    if data.len() < BTF_HEADER_LEN {
        return bad(0, BtfHeaderError::Short { len: data.len(), header_len: BTF_HEADER_LEN });
    }
    let u32_at = |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]) as u64;
    let magic = u16::from_le_bytes([data[0], data[1]]);
    if magic != BTF_MAGIC {
        return bad(0, BtfHeaderError::Magic { magic, want: BTF_MAGIC });
    }
    if data[2] != 1 {
        return bad(2, BtfHeaderError::Version(data[2]));
    }
    let hdr_len = u32_at(4);
    if hdr_len < BTF_HEADER_LEN as u64 || hdr_len > data.len() as u64 {
        return bad(4, BtfHeaderError::HdrLen { hdr_len, len: data.len() });
    }
    for (part, at) in [("type", 8usize), ("string", 16)] {
        let (off, len) = (u32_at(at), u32_at(at + 4));
        if hdr_len + off + len > data.len() as u64 {
            return bad(at, BtfHeaderError::PastEnd { part, len, off, size: data.len() });
        }
    }
    Ok(())
}
