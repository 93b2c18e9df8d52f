//! Errors of reading a binary's USDT notes: each names the file, and the
//! note (by its offset in `.note.stapsdt`) or the probe.

use std::fmt;
use std::path::PathBuf;

use super::args::ArgsError;

/// What is wrong with one note of `.note.stapsdt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoteProblem {
    /// The note's header, name or description runs past the section.
    Truncated,
    /// A note whose name is not `stapsdt`.
    NotStapsdt,
    /// A `stapsdt` note of another type than 3.
    Type(u32),
    /// A description shorter than three addresses and three strings.
    DescriptionTooShort(u32),
    /// The provider is not NUL-terminated inside the description.
    UnterminatedProvider,
    /// The probe name is empty or missing.
    EmptyName,
    /// The probe name is not NUL-terminated inside the description.
    UnterminatedName,
    /// No argument string after the name.
    MissingArgs,
    /// Provider, name or arguments are not UTF-8.
    NotUtf8,
}

impl fmt::Display for NoteProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NoteProblem::Truncated => f.write_str("truncated note (header, name or description past the section's end)"),
            NoteProblem::NotStapsdt => f.write_str("note name is not 'stapsdt'"),
            NoteProblem::Type(t) => write!(f, "note type {t}, expected 3 (NT_STAPSDT)"),
            NoteProblem::DescriptionTooShort(n) => write!(f, "description of {n} bytes, shorter than 3 addresses and 3 strings"),
            NoteProblem::UnterminatedProvider => f.write_str("provider is not NUL-terminated"),
            NoteProblem::EmptyName => f.write_str("probe name is missing or empty"),
            NoteProblem::UnterminatedName => f.write_str("probe name is not NUL-terminated"),
            NoteProblem::MissingArgs => f.write_str("argument string is missing"),
            NoteProblem::NotUtf8 => f.write_str("provider, name or arguments are not UTF-8"),
        }
    }
}

/// What is wrong with a binary's USDT notes, or with a probe in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsdtErrorKind {
    /// Not an ELF file the reader accepts.
    Elf(object::read::Error),
    /// A 32-bit, big-endian or non-x86-64 ELF (uprobes are placed in
    /// binaries of the host's kind).
    Unsupported(&'static str),
    /// Neither an executable nor a shared library (`e_type`).
    FileType(u16),
    /// No `.note.stapsdt` section: the binary has no USDT probes.
    NoNoteSection,
    /// `.note.stapsdt` is not `SHT_NOTE`.
    NoteSectionType(u32),
    /// No `PT_LOAD` program header to place probes with.
    NoLoadSegments,
    /// A malformed note, at `offset` in `.note.stapsdt`.
    Note {
        /// Byte offset of the note in `.note.stapsdt`.
        offset: u64,
        /// What is wrong with it.
        problem: NoteProblem,
    },
    /// No note of `provider:name`.
    ProbeNotFound {
        /// The provider asked for.
        provider: String,
        /// The probe's name asked for.
        name: String,
    },
    /// The probe's address is in no `PT_LOAD` segment.
    NoSegment {
        /// The probe, `provider:name`.
        probe: String,
        /// Byte offset of its note in `.note.stapsdt`.
        note: u64,
        /// The probe's address (virtual, after `.stapsdt.base` correction).
        addr: u64,
    },
    /// The probe's address is in a segment that is not executable.
    NotExecutable {
        /// The probe, `provider:name`.
        probe: String,
        /// Byte offset of its note in `.note.stapsdt`.
        note: u64,
        /// The probe's address (virtual).
        addr: u64,
    },
    /// The semaphore's address is in no `PT_LOAD` segment.
    SemaphoreNoSegment {
        /// The probe, `provider:name`.
        probe: String,
        /// Byte offset of its note in `.note.stapsdt`.
        note: u64,
        /// The semaphore's address (virtual).
        addr: u64,
    },
    /// The semaphore's address is in an executable segment.
    SemaphoreExecutable {
        /// The probe, `provider:name`.
        probe: String,
        /// Byte offset of its note in `.note.stapsdt`.
        note: u64,
        /// The semaphore's address (virtual).
        addr: u64,
    },
    /// The note's argument string does not parse.
    Args {
        /// The probe, `provider:name`.
        probe: String,
        /// Byte offset of its note in `.note.stapsdt`.
        note: u64,
        /// Which argument and why.
        source: ArgsError,
    },
}

/// An error about the USDT notes of the binary at `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtError {
    /// The executable or library.
    pub path: PathBuf,
    /// What is wrong.
    pub kind: UsdtErrorKind,
}

impl fmt::Display for UsdtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use UsdtErrorKind::*;
        write!(f, "{}: ", self.path.display())?;
        match &self.kind {
            Elf(e) => write!(f, "not an ELF file: {e}"),
            Unsupported(what) => write!(f, "unsupported binary: {what}"),
            FileType(t) => write!(f, "ELF type {t} is neither an executable nor a shared library"),
            NoNoteSection => f.write_str("no USDT notes section (.note.stapsdt)"),
            NoteSectionType(t) => write!(f, "invalid USDT notes section .note.stapsdt (type {t}, not SHT_NOTE)"),
            NoLoadSegments => f.write_str("no PT_LOAD program headers"),
            Note { offset, problem } => write!(f, ".note.stapsdt: note at offset {offset:#x}: {problem}"),
            ProbeNotFound { provider, name } => write!(f, "no USDT probe '{provider}:{name}'"),
            NoSegment { probe, note, addr } => write!(f, "USDT '{probe}' (note at {note:#x}): no ELF program segment at IP {addr:#x}"),
            NotExecutable { probe, note, addr } => {
                write!(f, "USDT '{probe}' (note at {note:#x}): the segment of IP {addr:#x} is not executable")
            }
            SemaphoreNoSegment { probe, note, addr } => {
                write!(f, "USDT '{probe}' (note at {note:#x}): no ELF loadable segment with the semaphore at {addr:#x}")
            }
            SemaphoreExecutable { probe, note, addr } => {
                write!(f, "USDT '{probe}' (note at {note:#x}): the segment of the semaphore at {addr:#x} is executable")
            }
            Args { probe, note, source } => write!(f, "USDT '{probe}' (note at {note:#x}): {source}"),
        }
    }
}

impl std::error::Error for UsdtError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            UsdtErrorKind::Elf(e) => Some(e),
            UsdtErrorKind::Args { source, .. } => Some(source),
            _ => None,
        }
    }
}
