//! Load BPF objects into the running kernel.
//!
//! ```no_run
//! # fn main() -> bpfld::Result<()> {
//! use bpfld::OpenObject;
//!
//! let mut obj = OpenObject::open("prog.bpf.o")?; // pure: no system call yet
//! obj.set_global("target_pid", &1234u32.to_ne_bytes())?; // .rodata/.data/.bss by name
//! let obj = obj.load()?; // plan against the running kernel, load
//! for e in obj.externs() {
//!     // what each extern resolved to, or why not
//!     println!("{} -> {:?} {:?}", e.name, e.target, e.reason);
//! }
//! let _link = obj.program("handle_exec")?.attach()?; // from the section name
//! let hits = obj.map("counts")?.lookup_u32(0)?; // maps by name
//! let run = obj.program("handler")?.test_run(&Default::default())?;
//! # let _ = (hits, run); Ok(()) }
//! ```
//!
//! (The same example is in the README.)
//!
//! Opening and planning are pure ([`bpfld_obj`]); this crate builds the
//! running kernel's [`Target`](bpfld_obj::Target) (only the parts an object
//! needs), hands the plan to the kernel ([`loader`]) and wraps the result.
//! Every fd is owned: dropping a [`LoadedObject`] closes everything, and a
//! failed load leaves nothing behind.

pub mod elf_symbols;
pub mod error;
pub mod events;
pub mod features;
pub mod globals;
pub mod kernel_target;
pub mod loader;
pub mod map;
pub mod map_handle;
pub mod object;
pub mod perf_attach;
pub mod perf_buffer;
pub mod pin;
pub mod program;
pub mod typed_maps;

pub use bpfld_obj::{Feature, KernelFeatures};
pub use bpfld_sys::{TestRunOpts, TestRunResult};
pub use error::{verifier_summary, Error, ProgramLoadError, Result};
pub use events::{RingBuffer, RingBufferPoller, UserRingBuffer};
pub use features::features;
pub use kernel_target::{KernelFiles, RunningKernel, TargetNeeds};
pub use loader::{KernelTime, LoadOptions, ProgramState, StructOpsValue};
pub use map::{Map, PinnedMap};
pub use map_handle::MapHandle;
pub use object::{LoadStats, LoadedObject, OpenObject};
pub use perf_attach::ProbeOpts;
pub use perf_buffer::{PerfBuffer, PerfBufferOptions, PerfRecord};
pub use program::{Link, Program, ProgramHandle};
pub use typed_maps::{Pod, Zeroable};
