//! Externs: kfuncs (with `___flavor`s), kernel variables and kconfig
//! values. Collected when the object is opened ([`collect`]), resolved
//! against a [`crate::Target`] when the load is planned ([`resolve`]).

pub mod collect;
pub mod error;

pub use collect::{collect_externs, kconfig_map_size, Extern, ExternKind, ExternSymbol, KconfigSlot, KconfigType};
pub use error::{BadKconfigValue, ExternError, FlavorFailure, Malformed, TargetFact, UnsupportedKconfig};
pub mod resolve;

pub use resolve::{resolve_externs, ExternOutcome, ExternResolution, RequiredGroups, Resolved, Unresolved};
