//! The x86 boot protocol's setup header: where a bzImage keeps its
//! compressed kernel.
//!
//! Since boot protocol 2.08 the header says exactly where the payload is
//! (`payload_offset`, `payload_length`), so nothing is guessed by scanning
//! for compression magics (a scan can hit a magic inside the setup code or
//! inside the payload itself).

use crate::compression::Compression;
use crate::error::{BzImageError, Error, Result};

/// Offsets in the setup header (Documentation/arch/x86/boot.rst).
const SETUP_SECTS: usize = 0x1f1;
const HEADER_MAGIC: usize = 0x202;
const VERSION: usize = 0x206;
const KERNEL_VERSION: usize = 0x20e;
const PAYLOAD_OFFSET: usize = 0x248;
const PAYLOAD_LENGTH: usize = 0x24c;
const HEADER_END: usize = 0x250;

/// The payload of a bzImage.
#[derive(Debug, Clone)]
pub struct BzImage<'a> {
    /// Boot protocol version, e.g. 0x20f.
    pub protocol: u16,
    /// Offset of the payload in the file.
    pub payload_offset: u64,
    /// The compressed payload, without the decompressed size the kernel
    /// build appends (gzip keeps its trailer: that size is part of it).
    pub payload: &'a [u8],
    /// The payload's format, from its magic bytes.
    pub compression: Compression,
    /// The size the payload decompresses to, as the build recorded it
    /// (the last 4 bytes of the payload).
    pub decompressed_size: u32,
    /// The kernel version string (`6.1.0-56-amd64 (debian-kernel@...) #1 SMP ...`).
    pub version: Option<String>,
}

impl BzImage<'_> {
    /// The release (`uname -r`): the first word of the version string.
    pub fn release(&self) -> Option<&str> {
        self.version.as_deref().and_then(|v| v.split_whitespace().next())
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Whether `data` has a setup header (the `HdrS` magic).
pub fn is_bzimage(data: &[u8]) -> bool {
    data.get(HEADER_MAGIC..HEADER_MAGIC + 4) == Some(b"HdrS")
}

/// Reads the setup header of `data` (file name `file` for errors).
pub fn parse<'a>(file: &str, data: &'a [u8]) -> Result<BzImage<'a>> {
    if !is_bzimage(data) {
        return Err(Error::at(file, HEADER_MAGIC as u64, BzImageError::NoMagic));
    }
    if data.len() < HEADER_END {
        let len = data.len() as u64;
        return Err(Error::at(file, len, BzImageError::Truncated { len, header_end: HEADER_END as u64 }));
    }
    let protocol = le16(data, VERSION);
    if protocol < 0x208 {
        return Err(Error::at(file, VERSION as u64, BzImageError::OldProtocol { protocol }));
    }
    let setup_sects = match data[SETUP_SECTS] {
        0 => 4,
        n => n as u64,
    };
    // The protected-mode code, which payload_offset is relative to,
    // follows the boot sector and the setup sectors.
    let pm_start = (setup_sects + 1) * 512;
    let rel = le32(data, PAYLOAD_OFFSET) as u64;
    let len = le32(data, PAYLOAD_LENGTH) as u64;
    let start = pm_start + rel;
    let end = start + len;
    if end > data.len() as u64 {
        let file_len = data.len() as u64;
        let cause = BzImageError::PayloadPastEnd { start, setup_sects, payload_offset: rel, len, end, file_len };
        return Err(Error::at(file, PAYLOAD_OFFSET as u64, cause));
    }
    let raw = &data[start as usize..end as usize];
    let Some(compression) = Compression::detect(raw) else {
        let head: String = raw.iter().take(6).map(|b| format!("{b:02x}")).collect();
        return Err(Error::at(file, start, BzImageError::UnknownCompression { head }));
    };
    if raw.len() < 8 {
        return Err(Error::at(file, start, BzImageError::PayloadTooShort { len, compression }));
    }
    let decompressed_size = le32(raw, raw.len() - 4);
    let payload = if compression.kernel_appends_size() { &raw[..raw.len() - 4] } else { raw };
    let version = match le16(data, KERNEL_VERSION) {
        0 => None,
        off => {
            let at = off as usize + 0x200;
            data.get(at..).map(|s| {
                let s = &s[..s.iter().position(|&b| b == 0).unwrap_or(s.len()).min(256)];
                String::from_utf8_lossy(s).into_owned()
            })
        }
    };
    Ok(BzImage { protocol, payload_offset: start, payload, compression, decompressed_size, version })
}
