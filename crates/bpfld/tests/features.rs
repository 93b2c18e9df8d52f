//! The feature probes against the running kernel (Linux 6.18 here: every
//! feature of a release up to the running one is present, except those
//! this machine's kernel was built without; later ones are missing), and
//! agreement with what its BTF predicts offline.

use bpfld::{Feature, KernelFeatures};
use bpfld_testdata::require_kernel;

/// Features this machine's kernel lacks by configuration, with why.
fn machine_lacks(f: Feature) -> Option<&'static str> {
    match f {
        // CONFIG_KPROBES is off: no fprobe, so no multi-kprobe links.
        Feature::KprobeMultiLink => Some("no CONFIG_KPROBES/FPROBE on this host"),
        _ => None,
    }
}

#[test]
fn every_feature_present_on_this_kernel() {
    if !require_kernel() {
        return;
    }
    let f = bpfld::features::probe_features();
    let version = bpfld::kernel_target::running_kernel_version().expect("the running kernel's version");
    for &x in Feature::ALL {
        let expected = x.since().code() <= version;
        match machine_lacks(x) {
            Some(why) => eprintln!("{}: {} ({why})", x.name(), f.has(x)),
            None => assert_eq!(f.has(x), expected, "{} ({}, Linux {}) on {}", x.name(), x.description(), x.since(), release()),
        }
    }
    // Cached: the same answer, once per process.
    assert_eq!(bpfld::features(), bpfld::features());
    assert_eq!(*bpfld::features(), f);
}

#[test]
fn offline_prediction_matches_the_probes() {
    if !require_kernel() {
        return;
    }
    let probed = *bpfld::features();
    let vmlinux = bpfld::kernel_target::cached_vmlinux_btf().unwrap();
    let version = bpfld::kernel_target::running_kernel_version();
    let derived = KernelFeatures::from_btf(&vmlinux, version);
    for &x in Feature::ALL {
        if machine_lacks(x).is_some() {
            continue;
        }
        assert_eq!(derived.has(x), probed.has(x), "{}: BTF says {}, the probe {}", x.name(), derived.has(x), probed.has(x));
    }
}

fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string()
}
