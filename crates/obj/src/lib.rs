//! Pure BPF object model: open an ELF object and plan its load against a
//! target. Nothing here makes a system call; everything that depends on the
//! running kernel is an input.
#![forbid(unsafe_code)]

pub mod arena;
pub mod arg_ctx;
pub mod attach_prog;
pub mod btf_fixup;
pub mod btf_maps;
pub mod btf_sanitize;
pub mod compat;
pub mod core;
pub mod elf_bounds;
pub mod error;
pub mod exception_cb;
pub mod externs;
pub mod features;
pub mod kallsyms;
pub mod kconfig;
pub mod link;
pub mod log_fixup;
pub mod map;
pub mod object;
pub mod plan;
pub mod program;
mod program_index;
pub mod section;
pub mod struct_ops;
pub mod target;
pub mod target_names;
pub mod usdt;

pub use attach_prog::{AttachProgram, AttachPrograms};
pub use bpfld_asm::types::{AttachType, ExpectedAttachType, LinkType, MapType, ProgType};
pub use compat::MissingFeature;
pub use elf_bounds::ElfError;
pub use error::{Error, ErrorKind, Result};
pub use externs::{Extern, ExternKind};
pub use features::{Feature, KernelEnums, KernelFeatures};
pub use map::{MapOrigin, MapSpec};
pub use object::Object;
pub use plan::{plan, LoadPlan, PlanOptions, ProgramPlan};
pub use program::{Program, Reloc, RelocKind};
pub use target::{kernel_version, BtfOwner, ModuleBtf, Target};
pub use target_names::{config_names, target_names};
