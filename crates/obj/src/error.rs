//! Errors of opening and planning an object. Each names where the problem
//! is (object, section, symbol, offset) and reads "context: cause"; its
//! [`ErrorKind`] says what kind of problem it is, and [`std::error::Error::source`]
//! gives the typed cause beneath (a BTF error with its type id and offset,
//! a module's error enum), so callers match kinds and causes, not text.

use std::fmt;
use std::sync::Arc;

/// What kind of problem an error is: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The object (its ELF, BTF, BTF.ext, relocations, map or program
    /// definitions) or an input file is malformed.
    InvalidInput,
    /// Something the object names is not there: a kernel function, type
    /// or symbol, an attach target, a map, a program.
    NotFound,
    /// The object needs what the target kernel (or bpfld) does not
    /// support: a map, program or BTF kind, a feature.
    Unsupported,
    /// The object and the target disagree: a CO-RE relocation the kernel's
    /// types cannot satisfy, a kconfig value that does not fit its extern,
    /// a struct_ops member of another type.
    Incompatible,
    /// The operation is not permitted.
    PermissionDenied,
    /// A file could not be read.
    Io,
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidInput => "invalid input",
            ErrorKind::NotFound => "not found",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Incompatible => "incompatible",
            ErrorKind::PermissionDenied => "permission denied",
            ErrorKind::Io => "I/O error",
        })
    }
}

/// An error that knows its [`ErrorKind`]: every cause an [`Error`] wraps.
pub trait Kind: std::error::Error + Send + Sync + 'static {
    /// What kind of problem this is, for matching.
    fn kind(&self) -> ErrorKind;
}

impl Kind for bpfld_btf::Error {
    /// A BTF error is a corrupt or unexpected BTF blob.
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

impl Kind for bpfld_btf::writer::WriteError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// A line of a kernel text file (`.config`, `/proc/kallsyms`) that does
/// not parse; `line` counts from 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineError {
    /// A `.config` line that is neither `CONFIG_X=value`, a comment nor blank.
    NotSetting {
        /// The line number, from 1.
        line: usize,
        /// The line.
        text: String,
    },
    /// A `.config` setting whose name is not a `CONFIG_` name.
    NotConfigName {
        /// The line number, from 1.
        line: usize,
        /// The name before `=`.
        name: String,
    },
    /// A kallsyms line without address, type and name.
    NotSymbol {
        /// The line number, from 1.
        line: usize,
        /// The line.
        text: String,
    },
    /// A kallsyms address that is not hexadecimal.
    BadAddress {
        /// The line number, from 1.
        line: usize,
        /// The address field as written.
        addr: String,
        /// Why it does not parse.
        source: std::num::ParseIntError,
    },
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineError::NotSetting { line, text } => write!(f, "line {line}: expected CONFIG_NAME=value, got {text:?}"),
            LineError::NotConfigName { line, name } => write!(f, "line {line}: {name:?} is not a CONFIG_ name"),
            LineError::NotSymbol { line, text } => write!(f, "line {line}: expected 'address type name', got {text:?}"),
            LineError::BadAddress { line, addr, source } => write!(f, "line {line}: address {addr:?}: {source}"),
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LineError::BadAddress { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Kind for LineError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

/// The typed cause of an [`Error`]; shared so that errors stay `Clone`.
type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// An error of opening or planning an object.
///
/// Its `Display` is the whole story on one line, "object: context...:
/// message", where `message` already includes the cause's text (as a
/// cilium/ebpf error wrapped with `%w` does); [`Error::kind`] and
/// `source()` are for matching, not for printing again.
#[derive(Debug, Clone)]
pub struct Error {
    /// The object's name (see [`crate::Object::name`]).
    pub object: String,
    /// Context from outermost to innermost: "section 'xdp'", "symbol 'x'",
    /// "insn 12", "offset 0x60".
    pub context: Vec<String>,
    /// What is wrong, innermost; includes the cause's text.
    pub message: String,
    kind: ErrorKind,
    source: Option<Source>,
}

/// `Result` with this crate's [`Error`] as its default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A malformed-input error with no typed cause.
    pub fn new(object: &str, message: impl Into<String>) -> Error {
        Error::of_kind(object, ErrorKind::InvalidInput, message)
    }
    /// An error of `kind` with no typed cause.
    pub fn of_kind(object: &str, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { object: object.to_string(), context: Vec::new(), message: message.into(), kind, source: None }
    }
    /// Adds an innermost context.
    pub fn ctx(mut self, c: impl Into<String>) -> Error {
        self.context.push(c.into());
        self
    }
    /// What kind of problem this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The typed cause as `E`, if it is one (`bpfld_btf::Error`,
    /// [`crate::core::CoreError`], ...).
    pub fn cause<E: std::error::Error + 'static>(&self) -> Option<&E> {
        self.source.as_deref().and_then(|s| s.downcast_ref::<E>())
    }
}

/// Errors compare by what they say and their kind (the cause's text is in
/// the message).
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind == other.kind && self.object == other.object && self.context == other.context && self.message == other.message
    }
}

impl Eq for Error {}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.object)?;
        for c in &self.context {
            write!(f, ": {c}")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_deref().map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Builds errors for one object with a fixed context prefix.
#[derive(Clone)]
pub(crate) struct Ctx<'a> {
    pub object: &'a str,
    pub context: Vec<String>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(object: &'a str) -> Self {
        Ctx { object, context: Vec::new() }
    }
    pub(crate) fn with(&self, c: impl Into<String>) -> Self {
        let mut n = self.clone();
        n.context.push(c.into());
        n
    }
    /// A malformed-object error.
    pub(crate) fn err(&self, message: impl Into<String>) -> Error {
        self.err_kind(ErrorKind::InvalidInput, message)
    }
    pub(crate) fn err_kind(&self, kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { object: self.object.to_string(), context: self.context.clone(), message: message.into(), kind, source: None }
    }
    /// Wraps a typed cause: its text is the message, its kind the kind.
    pub(crate) fn wrap<E: Kind>(&self, cause: E) -> Error {
        let mut e = self.err_kind(cause.kind(), cause.to_string());
        e.source = Some(Arc::new(cause));
        e
    }
    /// Wraps a cause of another crate (the `object` crate's ELF errors) as
    /// malformed input: "what: cause".
    pub(crate) fn wrap_foreign<E: std::error::Error + Send + Sync + 'static>(&self, what: &str, cause: E) -> Error {
        let message = if what.is_empty() { cause.to_string() } else { format!("{what}: {cause}") };
        let mut e = self.err(message);
        e.source = Some(Arc::new(cause));
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_cause_keeps_text_kind_and_type() {
        let btf = bpfld_btf::Btf::from_vec(vec![0; 4]).unwrap_err();
        let e = Ctx::new("o.bpf.o").with("section '.BTF'").wrap(btf.clone());
        assert_eq!(e.to_string(), format!("o.bpf.o: section '.BTF': {btf}"));
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.cause::<bpfld_btf::Error>(), Some(&btf));
        let src = std::error::Error::source(&e).unwrap();
        assert_eq!(src.to_string(), btf.to_string());
    }
}
