//! The running kernel as a target: what is read, and only when needed.

mod common;

use std::path::PathBuf;

use bpfld::kernel_target::{self, running_kernel, KernelFiles, TargetNeeds};
use bpfld_testdata::require_kernel;
use common::*;

fn all_needs() -> TargetNeeds {
    TargetNeeds { vmlinux_btf: true, module_btf: true, kconfig: true, kallsyms: true, ..Default::default() }
}

#[test]
fn every_part_of_the_running_kernel_is_read() {
    if !require_kernel() {
        return;
    }
    let k = running_kernel(&all_needs(), &KernelFiles::default()).unwrap();
    let t = &k.target;
    // The mapped vmlinux BTF is the file's BTF.
    let read = bpfld_btf::Btf::from_vec(std::fs::read(kernel_target::VMLINUX_BTF).unwrap()).unwrap();
    assert_eq!(t.vmlinux.type_count(), read.type_count());
    assert!(t.vmlinux.find_first("bpf_prog", bpfld_btf::Kind::Struct).is_some());
    // Every module BTF comes with its fd, and is split on vmlinux.
    assert_eq!(t.modules.len(), k.module_fds.len());
    for m in &t.modules {
        assert_eq!(m.btf.first_own_id(), t.vmlinux.type_count(), "{}", m.name);
    }
    // The version from uname(2), independently of /proc.
    // SAFETY: uname fills the struct it is given.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::uname(&mut u) }, 0);
    let release: String = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8 as char).collect();
    let nums: Vec<u32> = release.split(|c: char| !c.is_ascii_digit()).take(3).map(|s| s.parse().unwrap()).collect();
    assert!(t.name.ends_with(&release), "{}", t.name);
    if std::fs::metadata("/proc/version_signature").is_err() && !uts_is_debian() {
        assert_eq!(t.kernel_version, Some(bpfld_obj::kernel_version(nums[0], nums[1], nums[2])));
    }
    let cfg = t.kconfig.as_ref().unwrap();
    assert_eq!(cfg.get("CONFIG_BPF"), Some("y"));
    assert_eq!(cfg.get("CONFIG_BPF_SYSCALL"), Some("y"));
    let syms = t.kallsyms.as_ref().unwrap();
    assert!(!syms.addresses("_stext").is_empty());
}

fn uts_is_debian() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/version").is_ok_and(|v| v.contains("Debian "))
}

#[test]
fn only_what_the_object_needs_is_read() {
    let needs = |n: &str| open(n).target_needs();
    assert_eq!(needs("loader_globals"), TargetNeeds::default(), "no externs, no CO-RE, no BTF attach");
    assert!(!needs("loader_maps").any());
    let attach = needs("loader_attach");
    assert!(attach.vmlinux_btf && attach.module_btf && !attach.kconfig && !attach.kallsyms, "tp_btf: {attach:?}");
    let typeless = needs("ksym_typeless");
    assert!(typeless.kallsyms && !typeless.kconfig, "{typeless:?}");
    let mut names = typeless.ksym_names.clone();
    names.sort();
    assert_eq!(names, ["bpfld_no_such_symbol", "schedule"], "only the object's typeless ksyms are looked up");
    let kconfig = needs("kconfig_values");
    assert!(kconfig.kconfig && !kconfig.kallsyms, "{kconfig:?}");
    assert!(needs("kfunc_flavors").module_btf);

    if !require_kernel() {
        return;
    }
    let k = running_kernel(&TargetNeeds { vmlinux_btf: true, ..Default::default() }, &KernelFiles::default()).unwrap();
    assert!(k.target.kconfig.is_none() && k.target.kallsyms.is_none() && k.target.modules.is_empty());
}

#[test]
fn an_unreadable_config_is_an_error_naming_the_file() {
    if !require_kernel() {
        return;
    }
    let files = KernelFiles { kconfig: Some(PathBuf::from("/nonexistent/config.gz")), ..Default::default() };
    let needs = TargetNeeds { kconfig: true, ..Default::default() };
    let e = running_kernel(&needs, &files).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/config.gz: "), "{e}");
    // Through the loader too, for an object with CONFIG_ externs.
    let opts = bpfld::LoadOptions { kernel_files: files, ..Default::default() };
    let e = open("kconfig_values").load_with(&opts).unwrap_err().to_string();
    assert!(e.starts_with("/nonexistent/config.gz: "), "{e}");
}

#[test]
fn kallsyms_keeps_only_the_wanted_symbols() {
    if !require_kernel() {
        return;
    }
    let path = std::path::Path::new(kernel_target::KALLSYMS);
    let all = kernel_target::read_kallsyms(path, &[]).unwrap();
    let some = kernel_target::read_kallsyms(path, &["_stext".to_string(), "schedule".to_string()]).unwrap();
    assert_eq!(some.len(), 2);
    assert_eq!(some.addresses("_stext"), all.addresses("_stext"));
    assert_eq!(some.addresses("schedule"), all.addresses("schedule"));
    assert!(all.len() > 10_000);
}
