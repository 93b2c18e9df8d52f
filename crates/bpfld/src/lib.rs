//! Load BPF objects into the running kernel.
//!
//! ```no_run
//! # fn main() -> bpfld::Result<()> {
//! let mut obj = bpfld::OpenObject::open("prog.bpf.o")?;
//! obj.set_global("config_value", &7u32.to_ne_bytes())?; // before load
//! let loaded = obj.load()?;
//! let counts = loaded.map("counts")?;
//! let run = loaded.program("handler")?.test_run(&Default::default())?;
//! # let _ = (counts, run); Ok(()) }
//! ```
//!
//! Opening and planning are pure ([`bpfld_obj`]); this crate builds the
//! running kernel's [`Target`](bpfld_obj::Target) (only the parts an object
//! needs), hands the plan to the kernel ([`loader`]) and wraps the result.
//! Every fd is owned: dropping a [`LoadedObject`] closes everything, and a
//! failed load leaves nothing behind.

pub mod elf_symbols;
pub mod error;
pub mod globals;
pub mod kernel_target;
pub mod loader;
pub mod map;
pub mod object;
pub mod perf_attach;
pub mod pin;
pub mod program;

pub use bpfld_sys::{TestRunOpts, TestRunResult};
pub use error::{verifier_summary, Error, ProgramLoadError, Result};
pub use kernel_target::{KernelFiles, RunningKernel, TargetNeeds};
pub use loader::{KernelTime, LoadOptions, ProgramState};
pub use map::{Map, PinnedMap};
pub use object::{LoadStats, LoadedObject, OpenObject};
pub use perf_attach::ProbeOpts;
pub use program::{Link, Program};
