//! uprobe_multi programs (`SEC("uprobe.multi/PATH:PATTERN")`,
//! `uretprobe.multi/...`): one link on many places of one binary
//! (`BPF_LINK_CREATE`, `BPF_TRACE_UPROBE_MULTI`, Linux >= 6.6). A glob
//! pattern is resolved over the binary's ELF function symbols (`.dynsym`
//! and `.symtab`) to file offsets, as libbpf's
//! `bpf_program__attach_uprobe_multi` does.
//!
//! [`UprobeMultiOpts`] with explicit offsets is the base other attachments
//! (USDT) can build on: [`Program::attach_uprobe_multi_offsets`].

use std::ffi::CString;
use std::path::Path;

use crate::error::{Error, InvalidArgument, Missing, Result};
use crate::link::Link;
use crate::program::Program;

/// Options of a uprobe_multi attachment.
#[derive(Clone, Debug, Default)]
pub struct UprobeMultiOpts {
    /// Only in this process; `None`: every process.
    pub pid: Option<u32>,
    /// Attach to the functions' returns.
    pub retprobe: bool,
    /// Empty, or one cookie per place.
    pub cookies: Vec<u64>,
    /// Empty, or one semaphore offset per place (USDT).
    pub ref_ctr_offsets: Vec<u64>,
}

impl Program<'_> {
    /// Attaches to every function of `binary` (a path, or a name looked up
    /// as for uprobes) matching the glob `pattern`, with one link.
    pub fn attach_uprobe_multi(&self, binary: impl AsRef<Path>, pattern: &str, opts: &UprobeMultiOpts) -> Result<Link> {
        let binary = crate::elf_symbols::resolve_binary(binary.as_ref()).map_err(|e| Error::Symbol {
            context: format!("program '{}': failed to resolve full path for '{}'", self.name(), binary.as_ref().display()),
            source: Box::new(e),
        })?;
        let context = || format!("program '{}'", self.name());
        let funcs =
            crate::elf_symbols::funcs_matching(&binary, pattern).map_err(|e| Error::Symbol { context: context(), source: Box::new(e) })?;
        if funcs.is_empty() {
            let missing = Missing::BinaryFunctions { binary, pattern: pattern.to_string() };
            return Err(Error::NotFound { context: context(), missing });
        }
        let offsets: Vec<u64> = funcs.iter().map(|(_, off)| *off).collect();
        self.attach_uprobe_multi_offsets(&binary, &offsets, opts)
    }

    /// Attaches at the file offsets `offsets` of `binary` with one link.
    pub fn attach_uprobe_multi_offsets(&self, binary: &Path, offsets: &[u64], opts: &UprobeMultiOpts) -> Result<Link> {
        let path = CString::new(binary.as_os_str().as_encoded_bytes()).map_err(|_| Error::InvalidArgument {
            context: None,
            problem: InvalidArgument::NulByte { argument: "path", value: binary.display().to_string() },
        })?;
        let u = bpfld_sys::UprobeMulti {
            path: &path,
            offsets,
            ref_ctr_offsets: &opts.ref_ctr_offsets,
            cookies: &opts.cookies,
            pid: opts.pid,
            retprobe: opts.retprobe,
        };
        let fd = bpfld_sys::link_create_uprobe_multi(self.fd()?, &u)
            .map_err(|e| self.err(&format!("attaching uprobe_multi to {} places of {}", offsets.len(), binary.display()), e))?;
        Ok(Link::bpf(fd))
    }
}
