//! Load BPF objects into the running kernel.
//!
//! ```
//! use bpfld::OpenObject;
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//! #   std::env::set_current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))?;
//! #   if !bpfld_testdata::require_kernel() {
//! #       return Ok(());
//! #   }
//!     let mut obj = OpenObject::open("tests/bpf/obj/readme_example.bpf.o")?; // pure: no system call yet
//!     obj.set_global("target_pid", &std::process::id().to_ne_bytes())?; // .rodata/.data/.bss by name
//!     let obj = obj.load()?; // plan against the running kernel, load
//!     for e in obj.externs() {
//!         println!("{} -> {:?} {:?}", e.name, e.target, e.reason); // what each extern resolved to, or why not
//!     }
//!     let _link = obj.program("count_syscalls")?.attach()?; // from the section name (tp_btf, kprobe, tracepoint, ...)
//!     std::fs::metadata("/")?; // a system call of this process
//!     let calls = obj.map("counts")?.get_u64_at(0)?; // maps by name
//!     println!("system calls seen: {calls:?}");
//! #   assert!(calls.is_some_and(|n| n > 0));
//!     Ok(())
//! }
//! ```
//!
//! (The same example is in the README, and `tests/readme.rs` checks that
//! they are the same.)
//!
//! Opening and planning are pure ([`bpfld_obj`]); this crate builds the
//! running kernel's [`Target`](bpfld_obj::Target) (only the parts an object
//! needs), hands the plan to the kernel ([`loader`]) and wraps the result.
//! Every fd is owned: dropping a [`LoadedObject`] closes everything, and a
//! failed load leaves nothing behind.
#![forbid(unsafe_code)]

pub mod elf_symbols;
pub mod error;
pub mod events;
pub mod features;
pub mod globals;
pub mod kernel_target;
pub mod link;
pub mod loader;
pub mod map;
pub mod map_dump;
pub mod map_handle;
pub mod object;
pub mod perf_attach;
pub mod perf_buffer;
pub mod pin;
pub mod program;
pub mod skel;
pub mod typed_maps;

pub use bpfld_asm::types::{AttachType, ExpectedAttachType, LinkType, MapType, ProgType};
pub use bpfld_asm::LinuxVersion;
pub use bpfld_obj::{Feature, KernelFeatures, MissingFeature};
pub use bpfld_sys::{ArenaMapping, TestRunOpts, TestRunResult};
pub use error::{verifier_summary, Error, ErrorKind, ParseError, ProgramLoadError, Result};
pub use events::{RingBuffer, RingBufferPoller, UserRingBuffer};
pub use features::features;
pub use kernel_target::{KernelFiles, RunningKernel, TargetNeeds};
pub use link::usdt::{UsdtLinkInfo, UsdtOpts};
pub use loader::{KernelTime, LoadOptions, ProgramState, StructOpsValue};
pub use map::{Map, PinnedMap};
pub use map_handle::MapHandle;
pub use object::{LoadStats, LoadedObject, OpenObject};
pub use perf_attach::ProbeOpts;
pub use perf_buffer::{PerfBuffer, PerfBufferOptions, PerfRecord};
pub use program::{Link, Program, ProgramHandle};
pub use typed_maps::{Pod, Zeroable};
