//! Why an extern cannot be declared or resolved, with its [`ErrorKind`]:
//! a strong kfunc the kernel lacks is `NotFound`, one whose prototype
//! differs `Incompatible`, a malformed declaration `InvalidInput`.

use std::fmt;

use super::resolve::Unresolved;
use crate::error::{ErrorKind, Kind};

/// An extern that is malformed in the object, or that did not resolve on
/// the target. Each message is libbpf's wording where libbpf has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternError {
    /// The declaration is malformed (no BTF, wrong linkage, no DATASEC).
    Declaration(String),
    /// The object's BTF does not read at the declaration; `what` says
    /// what was being read, if anything.
    DeclarationBtf {
        /// What was being read, if anything.
        what: Option<String>,
        /// Where and why the BTF does not read.
        source: bpfld_btf::Error,
    },
    /// A declaration libbpf does not support either.
    UnsupportedDeclaration(String),
    /// A strong extern did not resolve: `unresolved` says how.
    Unresolved {
        /// Why it did not resolve (not found, incompatible, ...).
        unresolved: Unresolved,
        /// libbpf's wording of it.
        message: String,
    },
    /// The kernel's BTF does not read at the extern's type.
    KernelBtf {
        /// What was being read.
        what: String,
        /// Where and why the kernel's BTF does not read.
        source: bpfld_btf::Error,
    },
    /// Several kernel symbols of that name.
    Ambiguous(String),
    /// A kconfig value that does not fit the extern's type or slot.
    BadValue(String),
    /// The target lacks what resolving needs (its `.config`, kallsyms,
    /// version).
    TargetUnknown(String),
    /// A required flavor group none of whose members resolved.
    RequiredGroup(String),
}

impl fmt::Display for ExternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExternError::DeclarationBtf { what: None, source } => source.fmt(f),
            ExternError::DeclarationBtf { what: Some(what), source } | ExternError::KernelBtf { what, source } => {
                write!(f, "{what}: {source}")
            }
            ExternError::Declaration(m)
            | ExternError::UnsupportedDeclaration(m)
            | ExternError::Unresolved { message: m, .. }
            | ExternError::Ambiguous(m)
            | ExternError::BadValue(m)
            | ExternError::TargetUnknown(m)
            | ExternError::RequiredGroup(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ExternError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExternError::DeclarationBtf { source, .. } | ExternError::KernelBtf { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Kind for ExternError {
    fn kind(&self) -> ErrorKind {
        match self {
            ExternError::Declaration(_) | ExternError::DeclarationBtf { .. } | ExternError::KernelBtf { .. } => ErrorKind::InvalidInput,
            ExternError::UnsupportedDeclaration(_) => ErrorKind::Unsupported,
            ExternError::Unresolved { unresolved: Unresolved::Incompatible { .. }, .. } => ErrorKind::Incompatible,
            ExternError::Unresolved { unresolved: Unresolved::UnknownOffline, .. } => ErrorKind::Unsupported,
            ExternError::Unresolved { .. } | ExternError::TargetUnknown(_) | ExternError::RequiredGroup(_) => ErrorKind::NotFound,
            ExternError::Ambiguous(_) | ExternError::BadValue(_) => ErrorKind::Incompatible,
        }
    }
}

impl From<bpfld_btf::Error> for ExternError {
    fn from(source: bpfld_btf::Error) -> Self {
        ExternError::DeclarationBtf { what: None, source }
    }
}
