//! Why a CO-RE relocation cannot be applied, with its [`ErrorKind`]: a
//! malformed record or access string is `InvalidInput`, candidates that
//! disagree or a relocation the kernel's types cannot satisfy
//! `Incompatible`. Messages are libbpf's where it has one.

use std::fmt;

use crate::error::{ErrorKind, Kind};

/// A CO-RE relocation that failed.
#[derive(Debug, Clone)]
pub enum CoreError {
    /// A BTF (the object's or the kernel's) does not read: `what` says
    /// what was being read. The message shows the BTF error's text alone,
    /// as libbpf does; `source` keeps its section, offset and type id.
    Btf {
        /// What was being read, if anything.
        what: Option<String>,
        /// The BTF error, with its section, offset and type id.
        source: bpfld_btf::Error,
    },
    /// The relocation record, its access string, or the instruction it
    /// patches is malformed.
    Malformed(String),
    /// A relocation kind or type bpfld (as libbpf) cannot relocate.
    Unsupported(String),
    /// The target's types cannot satisfy it: candidates disagree, a value
    /// does not fit the instruction.
    Incompatible(String),
    /// A cause under a step of the relocation ("parsing \[5\] struct x + 0:1
    /// failed", "error matching candidate #2 ...").
    During {
        /// The step.
        what: String,
        /// What went wrong in it.
        cause: Box<CoreError>,
    },
}

impl CoreError {
    pub(crate) fn during(self, what: impl Into<String>) -> CoreError {
        CoreError::During { what: what.into(), cause: Box::new(self) }
    }
}

impl From<bpfld_btf::Error> for CoreError {
    fn from(source: bpfld_btf::Error) -> Self {
        CoreError::Btf { what: None, source }
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreError::Btf { what: None, source } => f.write_str(&source.message),
            CoreError::Btf { what: Some(what), source } => write!(f, "{what}: {}", source.message),
            CoreError::Malformed(m) | CoreError::Unsupported(m) | CoreError::Incompatible(m) => f.write_str(m),
            CoreError::During { what, cause } => write!(f, "{what}: {cause}"),
        }
    }
}

impl std::error::Error for CoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreError::Btf { source, .. } => Some(source),
            CoreError::During { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

impl Kind for CoreError {
    fn kind(&self) -> ErrorKind {
        match self {
            CoreError::Btf { .. } | CoreError::Malformed(_) => ErrorKind::InvalidInput,
            CoreError::Unsupported(_) => ErrorKind::Unsupported,
            CoreError::Incompatible(_) => ErrorKind::Incompatible,
            CoreError::During { cause, .. } => cause.kind(),
        }
    }
}
