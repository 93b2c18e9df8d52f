//! Why a skeleton cannot be generated.

use std::fmt;

/// Why [`skeleton`](crate::skeleton) failed: the object, or its BTF.
#[derive(Debug)]
pub enum GenError {
    /// The object does not open.
    Object(bpfld_obj::Error),
    /// Its BTF holds something the skeleton cannot describe.
    Btf(String),
}

/// `Result` with [`GenError`] as its default error.
pub type Result<T, E = GenError> = std::result::Result<T, E>;

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenError::Object(e) => write!(f, "{e}"),
            GenError::Btf(m) => write!(f, "BTF: {m}"),
        }
    }
}

impl std::error::Error for GenError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            GenError::Object(e) => Some(e),
            GenError::Btf(_) => None,
        }
    }
}

impl From<bpfld_obj::Error> for GenError {
    fn from(e: bpfld_obj::Error) -> Self {
        GenError::Object(e)
    }
}
