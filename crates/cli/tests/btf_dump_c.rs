//! `bpfld btf dump --format c` from the command line: an object's `.BTF`,
//! a module on its base, one type, and the errors.

use std::process::Command;

fn bpfld(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn object_btf_as_c() {
    let obj = bpfld_testdata::test_object("loader_maps");
    let (ok, out, err) = bpfld(&["btf", "dump", obj.to_str().unwrap(), "--format", "c"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("#ifndef __VMLINUX_H__\n") && out.ends_with("#endif /* __VMLINUX_H__ */\n"));
    assert!(out.contains("#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)"));
    assert!(out.contains("typedef unsigned int __u32;"), "{out}");
}

#[test]
fn module_and_one_type() {
    let Some(dir) = bpfld_testdata::kernel_btf_dir() else { return };
    let base = dir.join(format!("{}.btf", bpfld_testdata::K612));
    let module = dir.join(bpfld_testdata::K612).join("modules/tcp_bbr.btf");
    let (ok, out, err) =
        bpfld(&["btf", "dump", module.to_str().unwrap(), "--base", base.to_str().unwrap(), "--format", "c", "--type", "bbr"]);
    assert!(ok, "{err}");
    assert!(out.contains("struct bbr {") && out.contains("\tu32 min_rtt_us;"), "{out}");
    assert!(out.len() < 20_000, "--type bbr wrote {} bytes", out.len());
    let (ok, _, err) = bpfld(&["btf", "dump", base.to_str().unwrap(), "--format", "c", "--type", "no_such_type_here"]);
    assert!(!ok && err.contains("no type named 'no_such_type_here'"), "{err}");
}

#[test]
fn options_that_exclude_each_other() {
    let obj = bpfld_testdata::test_object("loader_maps");
    let (ok, _, err) = bpfld(&["btf", "dump", obj.to_str().unwrap(), "--format", "c", "--json"]);
    assert!(!ok && err.contains("--json"), "{err}");
    let (ok, _, err) = bpfld(&["btf", "dump", "/nonexistent.btf", "--format", "c"]);
    assert!(!ok && err.contains("/nonexistent.btf"), "{err}");
}

#[test]
fn gen_skeleton_to_a_file() {
    let obj = bpfld_testdata::test_object("loader_globals");
    let out = std::env::temp_dir().join(format!("bpfld-skel-{}.rs", std::process::id()));
    let (ok, _, err) = bpfld(&["gen", "skeleton", obj.to_str().unwrap(), "--name", "globals", "-o", out.to_str().unwrap()]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert!(
        text.contains("pub struct GlobalsSkelBuilder;")
            && text.contains("pub const GLOBALS_SKEL_OBJECT: &[u8] = b\"\\\n    \\x7f\\x45\\x4c\\x46")
    );
    assert!(text.contains("pub struct Rodata {") && text.contains("pub fn set_bss_var(&mut self, value: i32)"), "{text}");
    assert!(!text.contains("#!["), "a skeleton is include!d: no inner attributes");
    let (ok, _, err) = bpfld(&["gen", "skeleton", "/nonexistent.bpf.o"]);
    assert!(!ok && err.contains("/nonexistent.bpf.o"), "{err}");
}
