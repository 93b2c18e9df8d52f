//! BPF instructions and the kernel ABI numbers that describe programs, maps
//! and attachments.
//!
//! Everything here is plain data shared by the pure layers (object model,
//! relocation, planning) and the syscall layer, so that a number such as
//! `BPF_PROG_TYPE_XDP` is spelled once in the project.
#![forbid(unsafe_code)]

pub mod insn;
pub mod types;

pub use insn::Insn;
pub mod disasm;
pub use disasm::disasm;
pub mod since;
pub use since::LinuxVersion;
