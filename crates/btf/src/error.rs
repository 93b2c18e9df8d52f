//! Errors that say what is wrong and where: the section, the byte offset and
//! the type id, so that a corrupt or mismatched BTF file can be diagnosed from
//! the message alone.

use std::fmt;

/// Where in a BTF blob an error was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The fixed header (magic, version, section offsets and lengths).
    Header,
    /// The type records.
    Types,
    /// The string table.
    Strings,
    /// A `.BTF.ext` section (func info, line info, CO-RE relocations).
    Ext,
    /// A record index made by `bpfld btf index` ([`crate::Btf::record_index`]).
    RecordIndex,
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Section::Header => "BTF header",
            Section::Types => "BTF type section",
            Section::Strings => "BTF string section",
            Section::Ext => "BTF.ext",
            Section::RecordIndex => "BTF record index",
        })
    }
}

/// A BTF parsing or resolution error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The part of the blob at fault.
    pub section: Section,
    /// Byte offset inside the section (or the blob for the header).
    pub offset: Option<usize>,
    /// The type the error concerns.
    pub type_id: Option<u32>,
    /// What is wrong.
    pub message: String,
}

/// `Result` with this crate's [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn new(section: Section, message: impl Into<String>) -> Self {
        Error { section, offset: None, type_id: None, message: message.into() }
    }
    pub(crate) fn at(mut self, offset: usize) -> Self {
        self.offset = Some(offset);
        self
    }
    pub(crate) fn ty(mut self, id: u32) -> Self {
        self.type_id = Some(id);
        self
    }
    pub(crate) fn types(message: impl Into<String>) -> Self {
        Error::new(Section::Types, message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.section)?;
        if let Some(off) = self.offset {
            write!(f, " at offset {off:#x}")?;
        }
        if let Some(id) = self.type_id {
            write!(f, ", type [{id}]")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {}
