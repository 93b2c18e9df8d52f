//! The kernels of the matrix and where their files come from.

/// A Debian kernel the matrix boots under qemu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelSpec {
    /// `uname -r` of the kernel.
    pub release: String,
    /// The package holding it (downloaded, never installed).
    pub package: String,
}

impl KernelSpec {
    /// Debian's `linux-image-<release>-unsigned`.
    pub fn debian(release: &str) -> KernelSpec {
        KernelSpec { release: release.to_string(), package: format!("linux-image-{release}-unsigned") }
    }
}

/// bookworm's 6.1 kernel and the 6.12 backport: the oldest and newest
/// kernels whose kfunc sets differ in ways the test objects exercise
/// (`bpf_task_acquire`, `bbr_main`'s prototype, `struct bpf_ct_opts`).
pub fn default_kernels() -> Vec<KernelSpec> {
    vec![KernelSpec::debian("6.1.0-56-amd64"), KernelSpec::debian("6.12.117+deb12-amd64")]
}

/// Modules inserted in every guest (with their dependencies): the ones
/// that register kfuncs the test objects call. On the host both are built
/// in.
pub const GUEST_MODULES: &[&str] = &["nf_conntrack", "tcp_bbr"];
