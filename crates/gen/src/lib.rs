//! Rust skeletons for BPF objects (`bpfld gen skeleton`, `bpfld-build`):
//! source that embeds the object, opens it, gives its global data
//! sections as typed `#[repr(C)]` structs (settable before load, readable
//! and writable after), its maps and programs as named fields, and
//! attaches every program that can attach from its section name.
//!
//! Pure: object bytes in, Rust source out. The source uses only the
//! `bpfld` library and no `unsafe`; it can be `include!`d into a module
//! (no inner attributes) and compiles under `#![deny(warnings)]` and
//! clippy. See docs/codegen.md.

#![forbid(unsafe_code)]

mod error;
pub mod ident;
mod rust_types;
mod skeleton;

pub use error::{GenError, Result};
pub use skeleton::{skeleton, Embed, SkeletonOptions};
