//! cgroup programs (`cgroup_skb/*`, `cgroup/*`, `sockops`, `cgroup/dev`,
//! `cgroup/sysctl`, `cgroup/{get,set}sockopt`): with a BPF link on the
//! cgroup's directory fd (Linux >= 5.7, probed once), else with
//! `BPF_PROG_ATTACH` and `BPF_F_ALLOW_MULTI`, detached with
//! `BPF_PROG_DETACH` when the [`Link`] drops. The target must be given:
//! a cgroup v2 directory, by fd or path.

use bpfld_asm::types::AttachType;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use bpfld_sys::{AttachTarget, LinkTarget};

use crate::error::{Error, Result};
use crate::link::support::LinkSupport;
use crate::link::{dup, Link};
use crate::program::Program;

/// How a cgroup attachment is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CgroupAttachMode {
    /// A BPF link where the kernel has cgroup links, else `BPF_PROG_ATTACH`.
    #[default]
    Auto,
    /// `BPF_PROG_ATTACH` with these `BPF_F_*` flags (`BPF_F_ALLOW_MULTI`,
    /// `BPF_F_ALLOW_OVERRIDE` or 0), even where links exist.
    ProgAttach(u32),
}

/// Opens a cgroup v2 directory for attaching (`O_RDONLY | O_DIRECTORY`).
pub fn open_cgroup(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(path)
        .map_err(|e| Error::io(format!("opening cgroup {}", path.display()), e))
}

impl Program<'_> {
    /// Attaches to the cgroup open at `cgroup` with the program's expected
    /// attach type (from its section: `cgroup_skb/ingress` is
    /// `BPF_CGROUP_INET_INGRESS`...).
    pub fn attach_cgroup(&self, cgroup: BorrowedFd<'_>) -> Result<Link> {
        self.attach_cgroup_with(cgroup, self.expected_attach_type(), CgroupAttachMode::Auto)
    }

    /// [`Self::attach_cgroup`] to the cgroup v2 directory at `path`.
    pub fn attach_cgroup_path(&self, path: impl AsRef<Path>) -> Result<Link> {
        let dir = open_cgroup(path.as_ref())?;
        self.attach_cgroup(dir.as_fd())
    }

    /// Attaches to a cgroup with an explicit attach type (needed for
    /// sections that leave it open, such as `cgroup/skb`) and mode.
    pub fn attach_cgroup_with(&self, cgroup: BorrowedFd<'_>, attach_type: AttachType, mode: CgroupAttachMode) -> Result<Link> {
        match mode {
            CgroupAttachMode::Auto => self.attach_cgroup_using(cgroup, attach_type, LinkSupport::probed()),
            CgroupAttachMode::ProgAttach(flags) => self.prog_attach_to(cgroup, attach_type, flags),
        }
    }

    /// Attaches with a cgroup link if `support` says the kernel has them,
    /// else with `BPF_PROG_ATTACH` and `BPF_F_ALLOW_MULTI`
    /// (`LinkSupport::NONE` forces the latter).
    pub fn attach_cgroup_using(&self, cgroup: BorrowedFd<'_>, attach_type: AttachType, support: LinkSupport) -> Result<Link> {
        if !support.cgroup {
            return self.prog_attach_to(cgroup, attach_type, bpfld_sys::BPF_F_ALLOW_MULTI);
        }
        let what = || format!("attaching to cgroup as {attach_type}");
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Fd(cgroup), attach_type, 0, None).map_err(|e| self.err(&what(), e))?;
        Ok(Link::bpf(fd))
    }

    /// `BPF_PROG_ATTACH` of this program to `target` (a cgroup, sockmap,
    /// netns), undone by `BPF_PROG_DETACH` when the link drops.
    pub(crate) fn prog_attach_to(&self, target: BorrowedFd<'_>, attach_type: AttachType, flags: u32) -> Result<Link> {
        let prog = self.fd()?;
        let name = attach_type;
        let target = dup(target, "the attach target")?;
        let prog_dup = dup(prog, self.name())?;
        bpfld_sys::prog_attach(prog, AttachTarget::Fd(target.as_fd()), attach_type, flags, None)
            .map_err(|e| self.err(&format!("attaching as {name} (BPF_PROG_ATTACH)"), e))?;
        Ok(Link::prog_attach(prog_dup, target, attach_type))
    }
}
