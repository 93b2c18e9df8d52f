//! The one error type of extraction: the file and offset, and a typed cause.

use std::fmt;
use std::io;

use crate::compression::{Compression, DecodeError};

/// Why extraction failed, with the file it failed on (an archive member is
/// named `archive: member`) and, where the input is at fault, the byte
/// offset in that file so the bad spot can be looked at with a hex dump.
#[derive(Debug)]
pub struct Error {
    /// The file, or `archive: member` for a file inside a package.
    pub file: String,
    /// Offset in `file` (in the bytes as stored, before any decompression
    /// of that file) where the problem was found.
    pub offset: Option<u64>,
    /// What is wrong, without the file and offset (`Display` puts them
    /// in front).
    pub cause: Cause,
}

impl Error {
    /// A failure not tied to a byte offset in the file (e.g. an I/O error
    /// or a missing package member).
    pub fn new(file: impl Into<String>, cause: impl Into<Cause>) -> Error {
        Error { file: file.into(), offset: None, cause: cause.into() }
    }

    /// A failure at byte `offset` of `file`.
    pub fn at(file: impl Into<String>, offset: u64, cause: impl Into<Cause>) -> Error {
        Error { file: file.into(), offset: Some(offset), cause: cause.into() }
    }

    /// An I/O error of `op` (`"open"`, `"write"`...) on `file`.
    pub(crate) fn io(file: impl Into<String>, op: &'static str, source: io::Error) -> Error {
        Error::new(file, Cause::Io { op, source })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(off) => write!(f, "{}: offset {off:#x}: {}", self.file, self.cause),
            None => write!(f, "{}: {}", self.file, self.cause),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.cause)
    }
}

/// A result whose error is this crate's [`Error`] (the decoders of
/// `compression` return a [`DecodeError`] or `io::Error` instead).
pub type Result<T> = std::result::Result<T, Error>;

/// What is wrong with a file.
#[derive(Debug)]
pub enum Cause {
    /// A file system operation failed (opening the package, writing the
    /// release directory).
    Io {
        /// What was being done (`"open"`, `"write"`, `"rename into place"`).
        op: &'static str,
        /// The system's error.
        source: io::Error,
    },
    /// The file is none of the formats read here.
    UnknownFormat {
        /// Its first bytes, in hex.
        head: String,
    },
    /// The bzImage's setup header is missing, too old or points outside
    /// the file.
    BzImage(BzImageError),
    /// A compressed payload or file does not decode.
    Decode {
        /// Where the payload starts in a bzImage; `None` for a whole
        /// compressed file.
        payload_offset: Option<u64>,
        /// What the decoder found.
        source: DecodeError,
    },
    /// A bzImage payload decompressed to another size than the one the
    /// build recorded.
    PayloadSize {
        /// The payload's format.
        compression: Compression,
        /// The size it decompressed to.
        decompressed: usize,
        /// The size the bzImage records.
        recorded: u32,
    },
    /// The ELF file, or its `.BTF` section, is not what it should be.
    Elf(ElfError),
    /// A Debian package is malformed or is not a kernel image package.
    Package(PackageError),
    /// The release directory to write already exists.
    DestinationExists,
    /// The release directory's path ends without a directory name (`/`, `..`).
    NotADirectoryName,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Io { op, source } => write!(f, "{op}: {source}"),
            Cause::UnknownFormat { head } => {
                write!(f, "starts with {head}: not a bzImage, an ELF file, a compressed ELF file or a Debian package")
            }
            Cause::BzImage(e) => e.fmt(f),
            Cause::Decode { payload_offset: Some(at), source } => write!(f, "bzImage payload at {at:#x}: {source}"),
            Cause::Decode { payload_offset: None, source } => source.fmt(f),
            Cause::PayloadSize { compression, decompressed, recorded } => {
                write!(f, "{} payload decompressed to {decompressed} bytes, the bzImage records {recorded}", compression.name())
            }
            Cause::Elf(e) => e.fmt(f),
            Cause::Package(e) => e.fmt(f),
            Cause::DestinationExists => f.write_str("already exists (--force replaces it)"),
            Cause::NotADirectoryName => f.write_str("not a directory name"),
        }
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Cause::Io { source, .. } => Some(source),
            Cause::Decode { source, .. } => Some(source),
            // Transparent: these say what their variant says.
            Cause::BzImage(e) => e.source(),
            Cause::Elf(e) => e.source(),
            Cause::Package(e) => e.source(),
            _ => None,
        }
    }
}

impl From<BzImageError> for Cause {
    fn from(e: BzImageError) -> Cause {
        Cause::BzImage(e)
    }
}

impl From<ElfError> for Cause {
    fn from(e: ElfError) -> Cause {
        Cause::Elf(e)
    }
}

impl From<PackageError> for Cause {
    fn from(e: PackageError) -> Cause {
        Cause::Package(e)
    }
}

/// What is wrong with a bzImage's setup header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BzImageError {
    /// No `HdrS` magic.
    NoMagic,
    /// The file ends inside the setup header.
    Truncated {
        /// The file's length.
        len: u64,
        /// Where the header ends.
        header_end: u64,
    },
    /// The boot protocol predates `payload_offset`/`payload_length` (2.08).
    OldProtocol {
        /// The header's protocol version, e.g. 0x206.
        protocol: u16,
    },
    /// The payload the header points to runs past the end of the file.
    PayloadPastEnd {
        /// Where the payload starts in the file.
        start: u64,
        /// The setup sectors before the protected-mode code.
        setup_sects: u64,
        /// The header's `payload_offset` (relative to the protected-mode code).
        payload_offset: u64,
        /// The header's `payload_length`.
        len: u64,
        /// Where the payload would end.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// The payload starts with no compression magic read here.
    UnknownCompression {
        /// Its first bytes, in hex.
        head: String,
    },
    /// The payload is shorter than any stream of its format.
    PayloadTooShort {
        /// Its length.
        len: u64,
        /// Its format.
        compression: Compression,
    },
}

impl fmt::Display for BzImageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BzImageError::NoMagic => f.write_str("not a bzImage: no 'HdrS' setup header magic"),
            BzImageError::Truncated { len, header_end } => {
                write!(f, "truncated bzImage: file ends at {len:#x}, inside the setup header (ends at {header_end:#x})")
            }
            BzImageError::OldProtocol { protocol } => write!(
                f,
                "boot protocol {}.{:02} has no payload_offset/payload_length (needs 2.08, kernel 2.6.26)",
                protocol >> 8,
                protocol & 0xff
            ),
            BzImageError::PayloadPastEnd { start, setup_sects, payload_offset, len, end, file_len } => write!(
                f,
                "payload at {start:#x} ({setup_sects} setup sectors, payload_offset {payload_offset:#x}) of {len} bytes ends at {end:#x}, past the end of the file ({file_len:#x}): truncated bzImage"
            ),
            BzImageError::UnknownCompression { head } => {
                write!(f, "payload starts with {head}: not a compression format bpfld reads (gzip, xz, zstd, lz4, bzip2, lzma)")
            }
            BzImageError::PayloadTooShort { len, compression } => {
                write!(f, "payload of {len} bytes is too short to hold a {} stream", compression.name())
            }
        }
    }
}

impl std::error::Error for BzImageError {}

/// What is wrong with an ELF file or its `.BTF` section.
#[derive(Debug)]
pub enum ElfError {
    /// The data does not start with the ELF magic.
    NotElf {
        /// Its first bytes, in hex.
        head: String,
    },
    /// The ELF parser refused the file.
    Malformed(object::Error),
    /// The ELF file is neither executable nor relocatable.
    UnexpectedKind(object::ObjectKind),
    /// The `.BTF` section's data could not be read.
    BtfData(object::Error),
    /// The `.BTF` section does not hold a BTF header that fits it.
    BtfHeader(BtfHeaderError),
    /// A package's kernel image holds a relocatable ELF file.
    NotVmlinux,
    /// A package's vmlinux has no `.BTF` section.
    NoVmlinuxBtf,
    /// A package's module is not a relocatable ELF file.
    NotModule,
}

impl fmt::Display for ElfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ElfError::NotElf { head } => write!(f, "not an ELF file (starts with {head})"),
            ElfError::Malformed(e) => write!(f, "bad ELF file: {e}"),
            ElfError::UnexpectedKind(k) => write!(f, "ELF file of kind {k:?} is neither a vmlinux nor a module"),
            ElfError::BtfData(e) => write!(f, "section .BTF: {e}"),
            ElfError::BtfHeader(e) => write!(f, "section .BTF: {e}"),
            ElfError::NotVmlinux => f.write_str("holds a relocatable ELF file, not a vmlinux"),
            ElfError::NoVmlinuxBtf => f.write_str("the vmlinux has no .BTF section (kernel built without CONFIG_DEBUG_INFO_BTF)"),
            ElfError::NotModule => f.write_str("is not a relocatable ELF file (not a module)"),
        }
    }
}

impl std::error::Error for ElfError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ElfError::Malformed(e) | ElfError::BtfData(e) => Some(e),
            ElfError::BtfHeader(e) => Some(e),
            _ => None,
        }
    }
}

/// What is wrong with the BTF header at the start of a `.BTF` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BtfHeaderError {
    /// The section is shorter than a header.
    Short {
        /// The section's length.
        len: usize,
        /// A header's length.
        header_len: usize,
    },
    /// The magic is not `0xeb9f` (little endian).
    Magic {
        /// The magic found.
        magic: u16,
        /// The magic wanted.
        want: u16,
    },
    /// A BTF version other than 1.
    Version(u8),
    /// `hdr_len` is shorter than a header or longer than the section.
    HdrLen {
        /// The header's `hdr_len`.
        hdr_len: u64,
        /// The section's length.
        len: usize,
    },
    /// The type or string section runs past the end of the section.
    PastEnd {
        /// `"type"` or `"string"`.
        part: &'static str,
        /// Its length.
        len: u64,
        /// Its offset after the header.
        off: u64,
        /// The section's length.
        size: usize,
    },
}

impl fmt::Display for BtfHeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BtfHeaderError::Short { len, header_len } => write!(f, "{len} bytes, shorter than a BTF header ({header_len})"),
            BtfHeaderError::Magic { magic, want } => write!(f, "bad BTF magic {magic:#06x} (want {want:#06x}, little endian)"),
            BtfHeaderError::Version(v) => write!(f, "BTF version {v} (bpfld reads version 1)"),
            BtfHeaderError::HdrLen { hdr_len, len } => write!(f, "BTF hdr_len {hdr_len} outside 24..={len}"),
            BtfHeaderError::PastEnd { part, len, off, size } => {
                write!(f, "BTF {part} section ({len} bytes at {off:#x} after the header) runs past the section's {size} bytes")
            }
        }
    }
}

impl std::error::Error for BtfHeaderError {}

/// What is wrong with a Debian kernel package.
#[derive(Debug)]
pub enum PackageError {
    /// The file is not an `ar` archive.
    NotAr(io::Error),
    /// The archive has no `data.tar.*` member.
    NoDataTar,
    /// `data.tar.<suffix>` names a compression not read here.
    UnknownCompression {
        /// The suffix after `data.tar`.
        suffix: String,
    },
    /// The decoder of `data.tar.*` could not start.
    Decoder {
        /// The member's compression.
        format: Compression,
        /// The decoder's error.
        source: io::Error,
    },
    /// Reading the tar stream failed.
    Stream {
        /// What was being read.
        step: StreamStep,
        /// Whether the member's bytes had run out, and how.
        end: StreamEnd,
        /// The reader's error.
        source: io::Error,
    },
    /// The package holds two `boot/vmlinuz-*`.
    TwoKernels {
        /// The release of the first.
        first: String,
        /// The path of the second.
        second: String,
    },
    /// The package holds no `boot/vmlinuz-*`.
    NoKernel,
    /// `boot/config-*` is of another release than the kernel.
    ConfigMismatch {
        /// The config's release.
        config: String,
        /// The kernel's release.
        release: String,
    },
    /// Modules of another release than the kernel.
    ModuleRelease {
        /// The modules' release.
        other: String,
        /// The kernel's release.
        release: String,
    },
    /// Modules asked for that the package does not hold.
    MissingModules {
        /// Their names.
        modules: Vec<String>,
        /// The kernel's release.
        release: String,
    },
}

impl fmt::Display for PackageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageError::NotAr(e) => write!(f, "not a Debian package (bad ar archive): {e}"),
            PackageError::NoDataTar => f.write_str("no data.tar.* member: not a Debian binary package"),
            PackageError::UnknownCompression { suffix } => write!(f, "unknown compression '{suffix}'"),
            PackageError::Decoder { format, source } => write!(f, "{}: {source}", format.name()),
            PackageError::Stream { step, end, source } => {
                write!(f, "{step}: ")?;
                match end {
                    StreamEnd::Truncated { at, member_size } => write!(
                        f,
                        "the package ends {at} bytes into this member, which should have {member_size}: truncated package ({source})"
                    ),
                    StreamEnd::NoEndMarker => write!(f, "the compressed stream ends before its end marker ({source})"),
                    StreamEnd::Inside => source.fmt(f),
                }
            }
            PackageError::TwoKernels { first, second } => write!(f, "two kernel images: boot/vmlinuz-{first} and {second}"),
            PackageError::NoKernel => f.write_str("no boot/vmlinuz-<release>: not a kernel image package"),
            PackageError::ConfigMismatch { config, release } => write!(f, "boot/config-{config} does not match boot/vmlinuz-{release}"),
            PackageError::ModuleRelease { other, release } => write!(f, "modules of release {other} beside boot/vmlinuz-{release}"),
            PackageError::MissingModules { modules, release } => {
                write!(f, "no module named {} in lib/modules/{release}", modules.join(", "))
            }
        }
    }
}

impl std::error::Error for PackageError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PackageError::NotAr(e) | PackageError::Decoder { source: e, .. } | PackageError::Stream { source: e, .. } => Some(e),
            _ => None,
        }
    }
}

/// What was being read from a package's tar stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StreamStep {
    /// The stream's entries.
    Entries,
    /// An entry's name.
    EntryName,
    /// The body of the entry at this path.
    Body(String),
}

impl fmt::Display for StreamStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamStep::Entries => f.write_str("reading the tar stream"),
            StreamStep::EntryName => f.write_str("tar entry name"),
            StreamStep::Body(path) => write!(f, "reading {path}"),
        }
    }
}

/// Where a package member's bytes stood when its stream failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// The package ended `at` bytes into a member of `member_size`.
    Truncated {
        /// How far the member was read.
        at: u64,
        /// Its size in the archive's header.
        member_size: u64,
    },
    /// The member was read whole; the compressed stream in it is cut.
    NoEndMarker,
    /// The member's bytes had not run out: its data is bad.
    Inside,
}
