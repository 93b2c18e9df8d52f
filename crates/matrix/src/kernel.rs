//! The kernels of the matrix and where their packages come from.

use std::path::{Path, PathBuf};

/// Which apt configuration has the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// The system's own sources (Debian 12 here).
    System,
    /// The private configuration reaching Debian 11 and 13
    /// ([`bpfld_testdata::download_private_package`]).
    OtherDebian,
}

/// A Debian kernel the matrix boots under qemu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSpec {
    /// The package (downloaded, never installed); a `*` stands for the
    /// newest number available (`linux-image-5.10.0-*-amd64-unsigned`).
    pub package: String,
    pub archive: Archive,
}

impl KernelSpec {
    /// Debian 12's `linux-image-<release>-unsigned`.
    pub fn debian(release: &str) -> KernelSpec {
        KernelSpec { package: format!("linux-image-{release}-unsigned"), archive: Archive::System }
    }

    /// The newest package matching `pattern` in Debian 11 or 13.
    pub fn other_debian(pattern: &str) -> KernelSpec {
        KernelSpec { package: pattern.to_string(), archive: Archive::OtherDebian }
    }

    /// A `--kernel` argument: a release of the system's archive, or a
    /// package pattern with `*` for the other Debian releases.
    pub fn parse(arg: &str) -> KernelSpec {
        if arg.contains('*') {
            KernelSpec::other_debian(arg)
        } else {
            KernelSpec::debian(arg)
        }
    }

    /// The package file in `<cache>/debs` (downloaded the first time), its
    /// package name and whether it was cached.
    pub fn download(&self, cache: &Path) -> Result<(String, PathBuf, bool), String> {
        match self.archive {
            Archive::System => bpfld_testdata::download_package(cache, &self.package).map(|(p, c)| (self.package.clone(), p, c)),
            Archive::OtherDebian => bpfld_testdata::download_private_package(cache, &self.package),
        }
    }
}

/// bookworm's 6.1 kernel and its 6.12 backport (the kfunc sets the test
/// objects exercise differ: `bpf_task_acquire`, `bbr_main`'s prototype,
/// `struct bpf_ct_opts`); bullseye's 5.10 (no module BTF, no kfunc calls,
/// no BTF kinds newer than 5.10) and its 6.1 backport; trixie's 6.12.
pub fn default_kernels() -> Vec<KernelSpec> {
    vec![
        KernelSpec::other_debian("linux-image-5.10.0-*-amd64-unsigned"),
        KernelSpec::debian("6.1.0-56-amd64"),
        KernelSpec::other_debian("linux-image-6.1.0-0.deb11.*-amd64-unsigned"),
        KernelSpec::debian("6.12.117+deb12-amd64"),
        KernelSpec::other_debian("linux-image-6.12.*+deb13-amd64-unsigned"),
    ]
}

/// Modules inserted in every guest (with their dependencies): the ones
/// that register kfuncs the test objects call. On the host both are built
/// in.
pub const GUEST_MODULES: &[&str] = &["nf_conntrack", "tcp_bbr"];
