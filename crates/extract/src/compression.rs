//! The compression formats of kernel payloads, modules and package
//! members, told apart by their leading magic bytes, and decoded with
//! pure-Rust decoders.
//!
//! The kernel's lz4 payload is the *legacy* lz4 frame (`lz4 -l`), which
//! lz4_flex's frame decoder does not read; it is a magic followed by
//! independent blocks, so it is decoded here block by block with lz4_flex's
//! block decoder.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};

/// A compression format this crate decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// gzip (deflate), as `.gz` and CONFIG_KERNEL_GZIP write it.
    Gzip,
    /// `.xz`, with any filter chain xz-embedded reads (the kernel's payload
    /// runs the x86 BCJ filter before LZMA2).
    Xz,
    /// A zstd frame; its content checksum, when the frame has one, is
    /// verified.
    Zstd,
    /// The legacy lz4 frame: the kernel's `lz4 -l` payload.
    Lz4Legacy,
    /// The current lz4 frame format.
    Lz4Frame,
    /// bzip2 (`BZh1` to `BZh9`).
    Bzip2,
    /// The legacy `.lzma` format (`lzma -9`, CONFIG_KERNEL_LZMA).
    Lzma,
}

const LZ4_LEGACY_MAGIC: u32 = 0x184c_2102;
/// Every legacy lz4 block decompresses to at most 8 MiB.
const LZ4_LEGACY_BLOCK: usize = 8 << 20;

impl Compression {
    /// The format whose magic `data` starts with.
    pub fn detect(data: &[u8]) -> Option<Compression> {
        let starts = |m: &[u8]| data.starts_with(m);
        if starts(&[0x1f, 0x8b, 0x08]) {
            Some(Compression::Gzip)
        } else if starts(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
            Some(Compression::Xz)
        } else if starts(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Compression::Zstd)
        } else if starts(&LZ4_LEGACY_MAGIC.to_le_bytes()) {
            Some(Compression::Lz4Legacy)
        } else if starts(&[0x04, 0x22, 0x4d, 0x18]) {
            Some(Compression::Lz4Frame)
        } else if data.len() >= 4 && starts(b"BZh") && (b'1'..=b'9').contains(&data[3]) {
            Some(Compression::Bzip2)
        } else if starts(&[0x5d, 0x00, 0x00]) {
            // lc=3 lp=0 pb=2 and a dictionary of at least 16 MiB: what
            // `lzma -9`, and so the kernel, writes.
            Some(Compression::Lzma)
        } else {
            None
        }
    }

    /// The format's name for messages (`"gzip"`, `"lz4 (legacy frame)"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::Lz4Legacy => "lz4 (legacy frame)",
            Compression::Lz4Frame => "lz4",
            Compression::Bzip2 => "bzip2",
            Compression::Lzma => "lzma",
        }
    }

    /// Whether the kernel build appends the decompressed size (4 bytes,
    /// little endian) after this payload: every format but gzip, whose own
    /// trailer already ends with that size.
    pub fn kernel_appends_size(self) -> bool {
        self != Compression::Gzip
    }
}

/// A decoding failure; `offset` is relative to the start of the compressed
/// data, the caller adds where that data sits in its file.
#[derive(Debug)]
pub struct DecodeError {
    /// Where in the compressed data, in bytes, decoding failed; for the
    /// streaming decoders, how far they had read (they read ahead, so the
    /// bad spot is at or before it).
    pub offset: u64,
    /// The format being decoded.
    pub format: Compression,
    /// What is wrong.
    pub kind: DecodeErrorKind,
}

/// What is wrong with compressed data.
#[derive(Debug)]
pub enum DecodeErrorKind {
    /// The input ends (at `end`) before the end of the stream.
    Truncated {
        /// The input's length.
        end: u64,
        /// The decoder's error.
        source: io::Error,
    },
    /// The decoder refused the data.
    Corrupt {
        /// How far the decoder had read.
        read: u64,
        /// The decoder's error.
        source: io::Error,
    },
    /// The data decompresses to more than `limit` bytes.
    TooLarge {
        /// The most it may decompress to.
        limit: u64,
    },
    /// A legacy lz4 frame without its magic.
    Lz4BadMagic,
    /// A legacy lz4 block size cut short by the end of the input.
    Lz4SizeCut,
    /// A legacy lz4 block claims more bytes than a block compresses to.
    Lz4BlockTooLarge {
        /// The bytes it claims.
        size: usize,
    },
    /// A legacy lz4 block runs past the end of the input.
    Lz4BlockCut {
        /// Where the block's size is.
        block: u64,
        /// The bytes it claims.
        size: usize,
    },
    /// A legacy lz4 block does not decode.
    Lz4Block(lz4_flex::block::DecompressError),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, at) = (self.format.name(), self.offset);
        match &self.kind {
            DecodeErrorKind::Truncated { end, source } => {
                write!(f, "truncated {name} data: input ends at offset {end:#x} before the end of the stream ({source})")
            }
            DecodeErrorKind::Corrupt { read, source } => {
                write!(f, "corrupt {name} data (decoder had read up to offset {read:#x}): {source}")
            }
            DecodeErrorKind::TooLarge { limit } if self.format == Compression::Lz4Legacy => {
                write!(f, "lz4 data decompresses to more than the {limit} bytes expected")
            }
            DecodeErrorKind::TooLarge { limit } => write!(f, "{name} data decompresses to more than the {limit} bytes expected"),
            DecodeErrorKind::Lz4BadMagic => f.write_str("not a legacy lz4 frame (bad magic)"),
            DecodeErrorKind::Lz4SizeCut => write!(f, "truncated lz4 data: block size at offset {at:#x} cut short"),
            DecodeErrorKind::Lz4BlockTooLarge { size } => {
                write!(f, "corrupt lz4 data: block at offset {at:#x} claims {size} bytes, more than an 8 MiB block compresses to")
            }
            DecodeErrorKind::Lz4BlockCut { block, size } => {
                write!(f, "truncated lz4 data: block at offset {block:#x} needs {size} bytes, input ends at offset {at:#x}")
            }
            DecodeErrorKind::Lz4Block(e) => write!(f, "corrupt lz4 data: block at offset {at:#x}: {e}"),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            DecodeErrorKind::Truncated { source, .. } | DecodeErrorKind::Corrupt { source, .. } => Some(source),
            DecodeErrorKind::Lz4Block(e) => Some(e),
            _ => None,
        }
    }
}

/// Counts how far the decoder has read, to say where decoding failed.
struct CountingSlice<'a> {
    data: &'a [u8],
    pos: &'a Cell<usize>,
}

impl Read for CountingSlice<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let pos = self.pos.get();
        let rest = &self.data[pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos.set(pos + n);
        Ok(n)
    }
}

/// ruzstd computes the frame's content checksum but leaves comparing it to
/// the caller; without the comparison a flipped bit would decode silently
/// to a wrong kernel.
struct ZstdChecked<R: Read> {
    decoder: Option<ruzstd::decoding::StreamingDecoder<R, ruzstd::decoding::FrameDecoder>>,
}

impl<R: Read> Read for ZstdChecked<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(decoder) = self.decoder.as_mut() else { return Ok(0) };
        let n = decoder.read(buf)?;
        if n == 0 && !buf.is_empty() {
            let frame = self.decoder.take().map(|d| d.into_frame_decoder());
            if let Some((stored, computed)) = frame.and_then(|f| Some((f.get_checksum_from_data()?, f.get_calculated_checksum()?))) {
                if stored != computed {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("content checksum {computed:#010x} does not match the frame's {stored:#010x}"),
                    ));
                }
            }
        }
        Ok(n)
    }
}

/// A streaming decoder of `format` over `inner` (the package reader
/// decodes `data.tar.*` this way, never holding it whole).
pub fn reader<'a, R: Read + 'a>(format: Compression, inner: R) -> io::Result<Box<dyn Read + 'a>> {
    Ok(match format {
        Compression::Gzip => Box::new(flate2::read::GzDecoder::new(inner)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(inner, false)),
        Compression::Zstd => Box::new(ZstdChecked {
            decoder: Some(
                ruzstd::decoding::StreamingDecoder::new(inner).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?,
            ),
        }),
        Compression::Lz4Frame => Box::new(lz4_flex::frame::FrameDecoder::new(inner)),
        Compression::Bzip2 => Box::new(bzip2::read::BzDecoder::new(inner)),
        Compression::Lzma => Box::new(lzma_rust2::LzmaReader::new_mem_limit(inner, u32::MAX, None)?),
        Compression::Lz4Legacy => {
            // Only ever a kernel payload, which is decoded from memory.
            return Err(io::Error::new(io::ErrorKind::Unsupported, "legacy lz4 frames are decoded from memory only"));
        }
    })
}

/// Decodes all of `data` (one stream of `format`); fails rather than
/// returning more than `limit` bytes.
pub fn decompress(format: Compression, data: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    if format == Compression::Lz4Legacy {
        return lz4_legacy(data, limit);
    }
    let pos = Cell::new(0usize);
    let input = CountingSlice { data, pos: &pos };
    let mut out = Vec::new();
    let res = reader(format, input).and_then(|r| r.take(limit.saturating_add(1)).read_to_end(&mut out));
    if let Err(source) = res {
        let read = pos.get();
        // Decoders report running out of input as UnexpectedEof (ruzstd
        // only inside its message); anything else is bad data.
        let eof = source.kind() == io::ErrorKind::UnexpectedEof || source.to_string().contains("UnexpectedEof");
        return Err(if read >= data.len() && eof {
            let end = data.len() as u64;
            DecodeError { offset: end, format, kind: DecodeErrorKind::Truncated { end, source } }
        } else {
            DecodeError { offset: read as u64, format, kind: DecodeErrorKind::Corrupt { read: read as u64, source } }
        });
    }
    if out.len() as u64 > limit {
        return Err(DecodeError { offset: pos.get() as u64, format, kind: DecodeErrorKind::TooLarge { limit } });
    }
    Ok(out)
}

fn lz4_legacy(data: &[u8], limit: u64) -> Result<Vec<u8>, DecodeError> {
    let err = |offset: usize, kind: DecodeErrorKind| DecodeError { offset: offset as u64, format: Compression::Lz4Legacy, kind };
    if !data.starts_with(&LZ4_LEGACY_MAGIC.to_le_bytes()) {
        return Err(err(0, DecodeErrorKind::Lz4BadMagic));
    }
    let max_block = LZ4_LEGACY_BLOCK + LZ4_LEGACY_BLOCK / 255 + 16;
    let mut out = Vec::new();
    let mut block = vec![0u8; LZ4_LEGACY_BLOCK];
    let mut pos = 4;
    while pos < data.len() {
        let Some(size) = data.get(pos..pos + 4) else {
            return Err(err(pos, DecodeErrorKind::Lz4SizeCut));
        };
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]);
        if size == LZ4_LEGACY_MAGIC {
            // Concatenated frames (lz4 -l of several inputs).
            pos += 4;
            continue;
        }
        let size = size as usize;
        if size > max_block {
            return Err(err(pos, DecodeErrorKind::Lz4BlockTooLarge { size }));
        }
        let start = pos + 4;
        let Some(input) = data.get(start..start + size) else {
            return Err(err(data.len(), DecodeErrorKind::Lz4BlockCut { block: pos as u64, size }));
        };
        let n = lz4_flex::block::decompress_into(input, &mut block).map_err(|e| err(pos, DecodeErrorKind::Lz4Block(e)))?;
        out.extend_from_slice(&block[..n]);
        if out.len() as u64 > limit {
            return Err(err(pos, DecodeErrorKind::TooLarge { limit }));
        }
        pos = start + size;
    }
    Ok(out)
}
