//! What is wrong with a file that is not a whole ELF64 object, said
//! precisely (empty, not ELF, 32-bit, truncated header, section header
//! table or section data past the end of the file) before the ELF reader
//! runs, whose errors do not say where or by how much.

const EHDR_LEN: usize = 64;
const SHDR_LEN: usize = 64;
const SHT_NULL: u32 = 0;
const SHT_NOBITS: u32 = 8;

/// Little- or big-endian reads of the header's fields.
struct Fields<'a> {
    data: &'a [u8],
    big: bool,
}

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        let mut b: [u8; N] = self.data.get(at..at.checked_add(N)?)?.try_into().ok()?;
        if self.big {
            b.reverse();
        }
        Some(b)
    }
    fn u16(&self, at: usize) -> Option<u64> {
        self.bytes::<2>(at).map(|b| u16::from_le_bytes(b).into())
    }
    fn u32(&self, at: usize) -> Option<u32> {
        self.bytes::<4>(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: usize) -> Option<u64> {
        self.bytes::<8>(at).map(u64::from_le_bytes)
    }
}

/// Why a file is not a whole ELF64 object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// 0 bytes.
    Empty,
    /// Does not start with the ELF magic; `head` is its first bytes in hex.
    NotElf {
        /// The file's first bytes, in hex.
        head: String,
    },
    /// A 32-bit ELF file (BPF objects are ELF64).
    Elf32,
    /// Shorter than the ELF64 header.
    TruncatedHeader {
        /// The file's length in bytes.
        len: usize,
    },
    /// `EI_DATA` is neither little- nor big-endian: its value.
    UnknownByteOrder(u8),
    /// `e_shoff` is 0: no section header table.
    NoSectionHeaders,
    /// `e_shentsize` is not 64: its value.
    SectionHeaderSize(u64),
    /// The section header table runs past the end of the file.
    TruncatedSectionHeaders {
        /// Its offset in the file (`e_shoff`).
        shoff: u64,
        /// Its number of entries (`e_shnum`).
        shnum: u64,
        /// Bytes an entry (`e_shentsize`).
        shentsize: u64,
        /// The file's length in bytes.
        len: usize,
    },
    /// A section's contents run past the end of the file.
    TruncatedSection {
        /// The section's index.
        index: usize,
        /// Its offset in the file (`sh_offset`).
        offset: u64,
        /// Its size in bytes (`sh_size`).
        size: u64,
        /// The file's length in bytes.
        len: usize,
    },
}

impl std::fmt::Display for ElfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ElfError::Empty => f.write_str("empty file (0 bytes), not an ELF object"),
            ElfError::NotElf { head } => write!(f, "not an ELF file (it starts with bytes {head}, not 7f454c46)"),
            ElfError::Elf32 => f.write_str("a 32-bit ELF file, not a 64-bit BPF object"),
            ElfError::TruncatedHeader { len } => write!(f, "truncated: {len} bytes, the ELF64 header needs {EHDR_LEN}"),
            ElfError::UnknownByteOrder(b) => write!(f, "unknown ELF byte order {b} (EI_DATA)"),
            ElfError::NoSectionHeaders => f.write_str("no section header table (e_shoff is 0)"),
            ElfError::SectionHeaderSize(n) => write!(f, "section header entries of {n} bytes, not {SHDR_LEN}"),
            ElfError::TruncatedSectionHeaders { shoff, shnum, shentsize, len } => write!(
                f,
                "truncated: section header table at {shoff:#x} ({shnum} entries of {shentsize} bytes) runs past the end of the {len}-byte file"
            ),
            ElfError::TruncatedSection { index, offset, size, len } => {
                write!(f, "truncated: section [{index}] data at {offset:#x} (+{size:#x} bytes) runs past the end of the {len}-byte file")
            }
        }
    }
}

impl std::error::Error for ElfError {}

impl crate::error::Kind for ElfError {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::InvalidInput
    }
}

/// Checks that `data` holds a whole ELF64 header, section header table and
/// section contents; the error says what is missing and where.
pub(crate) fn check_elf_bounds(data: &[u8]) -> Result<(), ElfError> {
    let len = data.len();
    if len == 0 {
        return Err(ElfError::Empty);
    }
    if !data.starts_with(b"\x7fELF") {
        return Err(ElfError::NotElf { head: data.iter().take(4).map(|b| format!("{b:02x}")).collect() });
    }
    match data.get(4) {
        Some(2) if len >= EHDR_LEN => {}
        Some(1) => return Err(ElfError::Elf32),
        _ => return Err(ElfError::TruncatedHeader { len }),
    }
    let big = match data[5] {
        1 => false,
        2 => true,
        other => return Err(ElfError::UnknownByteOrder(other)),
    };
    let f = Fields { data, big };
    let (shoff, shentsize, shnum) = (f.u64(0x28).unwrap_or(0), f.u16(0x3a).unwrap_or(0), f.u16(0x3c).unwrap_or(0));
    if shoff == 0 {
        return Err(ElfError::NoSectionHeaders);
    }
    if shentsize != SHDR_LEN as u64 {
        return Err(ElfError::SectionHeaderSize(shentsize));
    }
    let table_end = shnum.checked_mul(shentsize).and_then(|n| n.checked_add(shoff));
    if table_end.is_none_or(|end| end > len as u64) {
        return Err(ElfError::TruncatedSectionHeaders { shoff, shnum, shentsize, len });
    }
    check_sections(&f, shoff as usize, shnum as usize)
}

/// Checks that every section with data lies inside the file.
fn check_sections(f: &Fields<'_>, shoff: usize, shnum: usize) -> Result<(), ElfError> {
    let len = f.data.len();
    for index in 0..shnum {
        let at = shoff + index * SHDR_LEN;
        let (kind, offset, size) = (f.u32(at + 4).unwrap_or(0), f.u64(at + 24).unwrap_or(0), f.u64(at + 32).unwrap_or(0));
        if kind == SHT_NULL || kind == SHT_NOBITS {
            continue;
        }
        if offset.checked_add(size).is_none_or(|end| end > len as u64) {
            return Err(ElfError::TruncatedSection { index, offset, size, len });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(shoff: u64, shnum: u16) -> Vec<u8> {
        let mut h = vec![0u8; EHDR_LEN];
        h[..6].copy_from_slice(b"\x7fELF\x02\x01");
        h[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        h[0x3a..0x3c].copy_from_slice(&(SHDR_LEN as u16).to_le_bytes());
        h[0x3c..0x3e].copy_from_slice(&shnum.to_le_bytes());
        h
    }

    #[test]
    fn each_defect_is_named() {
        assert_eq!(check_elf_bounds(b"").unwrap_err().to_string(), "empty file (0 bytes), not an ELF object");
        assert_eq!(check_elf_bounds(b"#!/bin/sh\n").unwrap_err(), ElfError::NotElf { head: "23212f62".into() });
        assert_eq!(check_elf_bounds(b"\x7fELF\x01").unwrap_err(), ElfError::Elf32);
        assert_eq!(check_elf_bounds(b"\x7fELF\x02\x01").unwrap_err().to_string(), "truncated: 6 bytes, the ELF64 header needs 64");
        let mut h = header(0x1000, 3);
        h.resize(1000, 0);
        assert_eq!(
            check_elf_bounds(&h).unwrap_err().to_string(),
            "truncated: section header table at 0x1000 (3 entries of 64 bytes) runs past the end of the 1000-byte file"
        );
        let mut h = header(64, 2);
        h.resize(64 + 2 * 64, 0);
        let s1 = 64 + 64;
        h[s1 + 4] = 1; // SHT_PROGBITS
        h[s1 + 24..s1 + 32].copy_from_slice(&0x100u64.to_le_bytes());
        h[s1 + 32..s1 + 40].copy_from_slice(&0x1000u64.to_le_bytes());
        assert_eq!(check_elf_bounds(&h).unwrap_err(), ElfError::TruncatedSection { index: 1, offset: 0x100, size: 0x1000, len: 192 });
        h[s1 + 24..s1 + 32].copy_from_slice(&0x40u64.to_le_bytes());
        h[s1 + 32..s1 + 40].copy_from_slice(&0x10u64.to_le_bytes());
        assert_eq!(check_elf_bounds(&h), Ok(()));
    }
}
