//! The running kernel's [`KernelFeatures`], probed once per process with
//! the smallest program, map or BTF that shows each one (the probes are in
//! `bpfld-sys`), as libbpf 1.7 probes before it loads.
//!
//! ```no_run
//! if bpfld::features().uprobe_multi_link {
//!     // attach USDTs through one multi-uprobe link
//! }
//! ```

use std::sync::OnceLock;

use bpfld_obj::{Feature, KernelFeatures};
use bpfld_sys::features as probe;

/// The running kernel's features, probed on first use and cached for the
/// process (the kernel cannot change under it).
pub fn features() -> &'static KernelFeatures {
    static FEATURES: OnceLock<KernelFeatures> = OnceLock::new();
    FEATURES.get_or_init(probe_features)
}

/// Probes every feature now, without the cache (for benchmarks and tests;
/// [`features`] is what a loader wants).
pub fn probe_features() -> KernelFeatures {
    let mut f = KernelFeatures::default();
    for &x in Feature::ALL {
        f.set(x, probe_one(x));
    }
    f
}

/// Runs the probe of one feature.
pub fn probe_one(f: Feature) -> bool {
    match f {
        Feature::ProgName => probe::prog_name(),
        Feature::GlobalData => probe::global_data(),
        Feature::Btf => probe::btf(),
        Feature::BtfFunc => probe::btf_func(),
        Feature::BtfGlobalFunc => probe::btf_global_func(),
        Feature::BtfDatasec => probe::btf_datasec(),
        Feature::BtfQmarkDatasec => probe::btf_qmark_datasec(),
        Feature::BtfFloat => probe::btf_float(),
        Feature::BtfDeclTag => probe::btf_decl_tag(),
        Feature::BtfTypeTag => probe::btf_type_tag(),
        Feature::BtfEnum64 => probe::btf_enum64(),
        Feature::ArrayMmap => probe::array_mmap(),
        Feature::ExpAttachType => probe::exp_attach_type(),
        Feature::ProbeReadKernel => probe::probe_read_kernel(),
        Feature::ProgBindMap => probe::prog_bind_map_supported(),
        Feature::ModuleBtf => probe::module_btf(),
        Feature::PerfLink => probe::perf_link(),
        Feature::MemcgAccount => probe::memcg_account(),
        Feature::BpfCookie => probe::bpf_cookie(),
        Feature::SyscallWrapper => probe::syscall_wrapper(),
        Feature::UprobeMultiLink => probe::uprobe_multi_link(),
        Feature::KprobeMultiLink => probe::kprobe_multi_link(),
        Feature::ArgCtxTag => probe::arg_ctx_tag(),
        Feature::Ldimm64FullRangeOff => probe::ldimm64_full_range_off(),
        Feature::UprobeSyscall => probe::uprobe_syscall(),
        Feature::KfuncCall => probe::kfunc_call(),
    }
}

/// Raises RLIMIT_MEMLOCK to infinity (or, without the privilege, the
/// soft limit to the hard one), once per process, as libbpf's
/// `bump_rlimit_memlock` does on kernels that charge BPF memory to it
/// (before 5.11: [`KernelFeatures::memcg_account`] is false). Returns the
/// soft limit in force.
pub fn raise_memlock_rlimit() -> std::io::Result<u64> {
    static RAISED: OnceLock<Result<u64, std::io::ErrorKind>> = OnceLock::new();
    (*RAISED.get_or_init(|| bpfld_sys::features::raise_memlock_rlimit().map_err(|e| e.kind()))).map_err(std::io::Error::from)
}
