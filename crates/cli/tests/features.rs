//! `bpfld features` (probed here, derived from BTF with -k) and what
//! `bpfld check` says of an object on a kernel that lacks what it needs.

use std::process::Command;

fn bpfld(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args(args).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn features_of(json: &str) -> Vec<(String, bool)> {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    let f = v["kernels"][0]["features"].as_object().unwrap();
    f.iter().map(|(k, v)| (k.clone(), v.as_bool().unwrap())).collect()
}

#[test]
fn offline_6_1_lacks_what_came_later() {
    let Some(dir) = bpfld_testdata::kernel_btf_dir() else { return };
    let k = dir.join(format!("{}.btf", bpfld_testdata::K61));
    let (code, out, err) = bpfld(&["features", "-k", k.to_str().unwrap(), "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let missing: Vec<String> = features_of(&out).into_iter().filter(|(_, has)| !has).map(|(n, _)| n).collect();
    // (JSON objects list their keys in name order.) kprobe_multi_link came
    // in 5.18 but needs CONFIG_FPROBE, which Debian's 6.1 config lacks (the
    // kernel matrix's probes in a 6.1 guest agree).
    assert_eq!(
        missing,
        ["arg_ctx_tag", "btf_qmark_datasec", "kprobe_multi_link", "ldimm64_full_range_off", "uprobe_multi_link", "uprobe_syscall"]
    );
    let (code, out, _) = bpfld(&["features", "-k", k.to_str().unwrap()]);
    assert!(code == Some(0) && out.contains("btf_enum64") && out.contains("(btf)"), "{out}");
}

#[test]
fn probed_on_the_running_kernel() {
    if !bpfld_testdata::require_kernel() {
        return;
    }
    let (code, out, err) = bpfld(&["features", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut nums = release.split(|c: char| !c.is_ascii_digit()).map(|n| n.parse::<u8>().unwrap_or(0));
    let running = bpfld::LinuxVersion::new(nums.next().unwrap(), nums.next().unwrap());
    for (name, has) in features_of(&out) {
        let f = *bpfld::Feature::ALL.iter().find(|f| f.name() == name).unwrap();
        if f == bpfld::Feature::KprobeMultiLink {
            continue; // this machine's kernel has no kprobes
        }
        assert_eq!(has, f.since() <= running, "{name} on {running}");
    }
}

#[test]
fn check_names_what_an_old_kernel_lacks() {
    // A kernel directory whose BTF has the uapi enums of 5.10 only.
    let dir = std::env::temp_dir().join(format!("bpfld-pretend-510-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("vmlinux.btf"), bpfld_obj::features::uapi_btf_of_release(bpfld::LinuxVersion::new(5, 10))).unwrap();
    std::fs::write(dir.join("release"), "5.10.0-pretend\n").unwrap();
    let globals = bpfld_testdata::test_object("loader_globals");
    let maps = bpfld_testdata::test_object("loader_maps");
    let (code, out, err) = bpfld(&["check", "-k", dir.to_str().unwrap(), "--json", globals.to_str().unwrap(), maps.to_str().unwrap()]);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(code, Some(1), "would not load: {err}");
    let out = serde_json::from_str::<serde_json::Value>(&out).unwrap().to_string();
    assert!(out.contains("\"message\":\"program 'read_globals': BPF_PROG_TYPE_SYSCALL needs Linux 5.14; this kernel is 5.10\""), "{out}");
    assert!(out.contains("\"needs_linux\":\"5.14\""), "{out}");
    assert!(out.contains("\"error\":\"BPF_PROG_TYPE_SYSCALL needs Linux 5.14; this kernel is 5.10\""), "{out}");
}
