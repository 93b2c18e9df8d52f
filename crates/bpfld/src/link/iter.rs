//! Iterators (`SEC("iter/task")`, `iter/bpf_map`, `iter/bpf_map_elem`...):
//! an iterator link (`BPF_LINK_CREATE`, `BPF_TRACE_ITER`, Linux >= 5.8)
//! whose program runs for each object when an instance of it
//! (`BPF_ITER_CREATE`) is read; what the program writes with
//! `bpf_seq_printf`/`bpf_seq_write` is the instance's content.

use std::fs::File;
use std::io::Read;
use std::os::fd::BorrowedFd;

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::Program;

/// What an iterator walks, where its kind takes a parameter
/// (`union bpf_iter_link_info`).
#[derive(Clone, Copy, Debug, Default)]
pub enum IterTarget<'a> {
    /// Every object of its kind (`task`, `bpf_map`, `bpf_prog`...).
    #[default]
    All,
    /// The elements of one map (`bpf_map_elem`, `bpf_sk_storage_map`).
    Map(BorrowedFd<'a>),
    /// Only this thread (`tid`) or this process (`pid`) (`task`,
    /// `task_file`, `task_vma`; Linux >= 6.1).
    Task {
        /// A thread id, or 0.
        tid: u32,
        /// A process id (thread group id), or 0.
        pid: u32,
    },
}

impl IterTarget<'_> {
    /// The raw `union bpf_iter_link_info` (16 bytes), empty for `All`.
    fn info(&self) -> Vec<u8> {
        use std::os::fd::AsRawFd;
        let mut info = vec![0u8; 16];
        match *self {
            IterTarget::All => return Vec::new(),
            IterTarget::Map(fd) => info[..4].copy_from_slice(&(fd.as_raw_fd() as u32).to_ne_bytes()),
            IterTarget::Task { tid, pid } => {
                info[..4].copy_from_slice(&tid.to_ne_bytes());
                info[4..8].copy_from_slice(&pid.to_ne_bytes());
            }
        }
        info
    }
}

impl Program<'_> {
    /// Creates the iterator link of an `iter/...` program over every
    /// object of its kind.
    pub fn attach_iter(&self) -> Result<Link> {
        self.attach_iter_with(IterTarget::All)
    }

    /// Creates the iterator link over `target`.
    pub fn attach_iter_with(&self, target: IterTarget<'_>) -> Result<Link> {
        let info = target.info();
        let fd = bpfld_sys::link_create_iter(self.fd()?, &info).map_err(|e| self.err("creating iterator link", e))?;
        Ok(Link::bpf(fd))
    }
}

impl Link {
    /// Opens a new instance of an iterator link: reading the file runs the
    /// program over the objects (each instance starts from the first).
    pub fn open_iter(&self) -> Result<File> {
        self.require_bpf_link("open an iterator")?;
        let fd = bpfld_sys::iter_create(self.fd()).map_err(|e| Error::kernel("creating iterator instance", e))?;
        Ok(File::from(fd))
    }

    /// Reads a whole new instance of the iterator ([`Self::open_iter`]).
    pub fn read_iter(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_iter()?.read_to_end(&mut out).map_err(|e| Error::io("reading iterator", e))?;
        Ok(out)
    }
}
