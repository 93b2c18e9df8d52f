//! BTF out of what distributions ship: kernel images (bzImage or vmlinux),
//! modules (`.ko`, `.ko.xz`, `.ko.zst`, `.ko.gz`) and Debian kernel
//! packages, so that `bpfld check` can plan against kernels that are not
//! running. A package becomes a *kernel release directory* (see
//! `docs/targets.md`).
//!
//! Every decoder is pure Rust; every failure names the file and, where the
//! input is at fault, the offset in it.
#![forbid(unsafe_code)]

pub mod bzimage;
pub mod compression;
pub mod deb;
pub mod elf_btf;
mod error;
pub mod release_dir;

use std::borrow::Cow;

pub use compression::Compression;
pub use deb::{extract_deb, is_deb, DebOptions, ModuleBtf, ReleaseReport};
pub use elf_btf::ElfKind;
pub use error::{BtfHeaderError, BzImageError, Cause, ElfError, Error, PackageError, Result, StreamEnd, StreamStep};

/// No kernel or module decompresses to more than this; a payload that
/// claims more is corrupt (or a decompression bomb).
pub const MAX_DECOMPRESSED: u64 = 2 << 30;

/// Where the ELF file came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The payload of a bzImage.
    BzImage {
        /// The payload's format, from its magic bytes.
        compression: Compression,
        /// File offset of the compressed payload in the bzImage, in bytes.
        payload_offset: u64,
        /// The kernel version string the setup header points to; `None`
        /// when it points to none or past the end of the file.
        version: Option<String>,
    },
    /// A whole compressed file (`.ko.xz`, `vmlinux.gz`, ...).
    Compressed(Compression),
    /// An ELF file as it was.
    Elf,
}

impl Source {
    /// One line for messages and reports, e.g. `bzImage, xz payload at
    /// 0x4a4f00`, `zstd-compressed ELF` or `ELF`.
    pub fn describe(&self) -> String {
        match self {
            Source::BzImage { compression, payload_offset, .. } => {
                format!("bzImage, {} payload at {payload_offset:#x}", compression.name())
            }
            Source::Compressed(c) => format!("{}-compressed ELF", c.name()),
            Source::Elf => "ELF".to_string(),
        }
    }
}

/// The BTF of one kernel image or module.
#[derive(Debug, Clone)]
pub struct Extracted {
    /// How the ELF file was stored in the input.
    pub source: Source,
    /// Whether the ELF file is a vmlinux (base BTF) or a module (split BTF).
    pub kind: ElfKind,
    /// The `.BTF` section, `None` if the ELF file has none.
    pub btf: Option<Vec<u8>>,
}

/// The ELF file inside `bytes`: a bzImage's payload decompressed, a
/// compressed file decompressed, or `bytes` itself.
pub fn open_elf<'a>(file: &str, bytes: &'a [u8]) -> Result<(Source, Cow<'a, [u8]>)> {
    if bzimage::is_bzimage(bytes) {
        let image = bzimage::parse(file, bytes)?;
        let expected = image.decompressed_size as u64;
        let elf = compression::decompress(image.compression, image.payload, expected.min(MAX_DECOMPRESSED)).map_err(|e| {
            Error::at(file, image.payload_offset + e.offset, Cause::Decode { payload_offset: Some(image.payload_offset), source: e })
        })?;
        // gzip records the size modulo 2^32, as the header field does.
        if elf.len() as u32 != image.decompressed_size {
            let at = image.payload_offset + image.payload.len() as u64;
            let cause = Cause::PayloadSize { compression: image.compression, decompressed: elf.len(), recorded: image.decompressed_size };
            return Err(Error::at(file, at, cause));
        }
        let source = Source::BzImage { compression: image.compression, payload_offset: image.payload_offset, version: image.version };
        return Ok((source, Cow::Owned(elf)));
    }
    if let Some(c) = Compression::detect(bytes) {
        let elf = compression::decompress(c, bytes, MAX_DECOMPRESSED)
            .map_err(|e| Error::at(file, e.offset, Cause::Decode { payload_offset: None, source: e }))?;
        return Ok((Source::Compressed(c), Cow::Owned(elf)));
    }
    if bytes.starts_with(b"\x7fELF") {
        return Ok((Source::Elf, Cow::Borrowed(bytes)));
    }
    let head: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Err(Error::at(file, 0, Cause::UnknownFormat { head }))
}

/// The `.BTF` of a kernel image or module file's contents `bytes`.
pub fn extract_btf(file: &str, bytes: &[u8]) -> Result<Extracted> {
    let (source, elf) = open_elf(file, bytes)?;
    // Errors inside a decompressed ELF name the decompressed data, with
    // offsets into it.
    let elf_name = match &source {
        Source::Elf => file.to_string(),
        _ => format!("{file} (decompressed ELF)"),
    };
    let found = elf_btf::find_btf(&elf_name, &elf)?;
    Ok(Extracted { source, kind: found.kind, btf: found.btf.map(|(data, _)| data.to_vec()) })
}
