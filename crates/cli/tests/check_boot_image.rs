//! `bpfld check --boot` given a plain `vmlinux` with its config and
//! modules beside it (not a package): one kernel, Debian 12's 6.12, booted
//! under qemu with nf_conntrack inserted; the module kfunc object's
//! verifier verdicts must equal the offline prediction, and the JSON says
//! the time the guest took.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const PACKAGE: &str = "linux-image-6.12.117+deb12-amd64-unsigned";

/// `dir/vmlinux`, `dir/config` and `dir/lib/modules/<release>`: links to
/// the files of the unpacked package, laid out as `-k vmlinux` expects.
fn image_dir(k: &bpfld_boot::BootKernel, dir: &Path) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("lib/modules")).unwrap();
    std::os::unix::fs::symlink(&k.boot_image, dir.join("vmlinux")).unwrap();
    std::os::unix::fs::symlink(k.config.as_ref().expect("the package's config"), dir.join("config")).unwrap();
    std::os::unix::fs::symlink(k.modules_root.as_ref().expect("the package's modules"), dir.join("lib/modules").join(&k.release)).unwrap();
}

#[test]
fn check_boot_of_a_vmlinux_with_its_modules() {
    if let Err(e) = bpfld_boot::check_tools() {
        assert!(!bpfld_testdata::required(), "check --boot needs its tools: {e}");
        return eprintln!("skipped: {e}");
    }
    let Some(deb) = bpfld_testdata::debian_package(PACKAGE) else { return };
    let k = bpfld_boot::image::from_package(&deb, &bpfld_boot::default_cache_dir()).unwrap();
    let dir = std::env::temp_dir().join(format!("bpfld-check-boot-image-{}", std::process::id()));
    image_dir(&k, &dir);
    let object = bpfld_testdata::test_object("kfunc_module_call");
    let vmlinux = dir.join("vmlinux");
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld"))
        .arg("check")
        .arg(&object)
        .arg("-k")
        .arg(&vmlinux)
        .args(["--boot", "--boot-module", "nf_conntrack", "--json"])
        .output()
        .expect("run bpfld check --boot");
    let _ = std::fs::remove_dir_all(&dir);
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --boot --json: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!((v["schema"].as_str(), v["schema_version"].as_u64()), (Some("check-boot"), Some(1)), "{v}");
    let kernels = v["boot"]["kernels"].as_array().expect("boot.kernels");
    assert_eq!(kernels.len(), 1);
    let g = &kernels[0];
    assert_eq!(g["release"], k.release.as_str());
    assert!(g["error"].is_null(), "{}", g["error"]);
    let took = g["guest_seconds"].as_f64().expect("guest_seconds");
    assert!(took > 0.0);
    // The module kfunc resolved offline in nf_conntrack's BTF (the module
    // beside the vmlinux), and the verifier took the program that calls it.
    let externs = v["check"]["objects"][0]["kernels"][0]["externs"].as_array().expect("externs");
    assert!(externs.iter().any(|e| e["name"] == "bpf_xdp_ct_lookup" && e["target"] == "nf_conntrack"), "{externs:?}");
    let programs = g["objects"][0]["programs"].as_array().expect("programs");
    assert!(!programs.is_empty());
    for p in programs {
        assert_eq!(p["loaded"].as_bool(), Some(p["predicted"] == "planned"), "{p}");
    }
    assert!(programs.iter().any(|p| p["name"] == "ct_call" && p["loaded"] == true), "{programs:?}");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    println!("check --boot of a vmlinux path ({}): guest {took:.1} s", k.release);
}
