//! BTF, the BPF Type Format: zero-copy parsing of kernel, module and object
//! BTF, a name index that understands libbpf's `___flavor` rule, the type
//! relations libbpf defines (compatibility and match), and a writer.
//!
//! The parser borrows the blob (a memory map of `/sys/kernel/btf/vmlinux`,
//! an object's `.BTF` section) and allocates only a 4-byte offset per type,
//! plus a lazily built name index, so that the 5.5 MB vmlinux BTF costs
//! about 1.5 MiB of heap.
#![forbid(unsafe_code)]

mod btf;
pub mod c_header;
pub mod cdecl;
pub mod dump;
mod error;
pub mod ext;
mod index;
mod kind;
pub mod min;
pub mod name;
mod offsets;
#[doc(hidden)]
pub mod raw_fields;
mod record_index;
pub mod relate;
pub mod resolve;
mod targeted;
mod types;
pub mod writer;

pub use btf::{Btf, Bytes, MAX_TYPE_ID};
pub use c_header::{c_header, CDumper};
pub use cdecl::c_decl;
pub use error::{Error, Result, Section};
pub use kind::{int_encoding, FuncLinkage, Kind, VarLinkage};
pub use name::{essential_name, has_flavor};
pub use relate::{types_are_compat, types_match};
pub use targeted::WantedNames;
pub use types::{ArrayInfo, Enumerator, IntInfo, Member, Param, Type, VarSecInfo};
