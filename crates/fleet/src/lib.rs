//! Offline targets and the fleet check.
//!
//! A target built from files (a kernel release directory or a single
//! vmlinux BTF file, see `docs/targets.md`) is the same [`Target`] the
//! loader builds from the running kernel, so `bpfld plan --btf` and
//! `bpfld check` run the very pipeline a load runs.
#![forbid(unsafe_code)]

pub mod check;
pub mod min_btf;
pub mod record_index;
pub mod release_dir;
pub mod report;

pub use bpfld_obj::Target;
pub use check::{check, check_matrix, CheckOptions, KernelVerdict};
pub use release_dir::{load_target, TargetFiles, TargetLoadError, TargetPathError};
pub use report::{matrix_report, MatrixReport, SCHEMA_VERSION};
