//! The one error type of extraction.

use std::fmt;

/// Why extraction failed, with the file it failed on (an archive member is
/// named `archive: member`) and, where the input is at fault, the byte
/// offset in that file so the bad spot can be looked at with a hex dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The file, or `archive: member` for a file inside a package.
    pub file: String,
    /// Offset in `file` (in the bytes as stored, before any decompression
    /// of that file) where the problem was found.
    pub offset: Option<u64>,
    /// What is wrong, without the file and offset (`Display` puts them
    /// in front).
    pub message: String,
}

impl Error {
    /// A failure not tied to a byte offset in the file (e.g. an I/O error
    /// or a missing package member).
    pub fn new(file: impl Into<String>, message: impl Into<String>) -> Error {
        Error { file: file.into(), offset: None, message: message.into() }
    }

    /// A failure at byte `offset` of `file`.
    pub fn at(file: impl Into<String>, offset: u64, message: impl Into<String>) -> Error {
        Error { file: file.into(), offset: Some(offset), message: message.into() }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset {
            Some(off) => write!(f, "{}: offset {off:#x}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for Error {}

/// A result whose error is this crate's [`Error`] (the decoders of
/// `compression` return a `DecodeError` or `io::Error` instead).
pub type Result<T> = std::result::Result<T, Error>;
