//! `bpfld btf extract` end to end: the command on a real Debian kernel
//! package (downloaded once into the package cache; skipped without it)
//! and its errors.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use bpfld_testdata::{debian_package, digest, expected_digest};

fn tmp_dir(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("bpfld-cli-extract-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&p);
    fs::create_dir_all(&p).unwrap();
    p
}

fn bpfld(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args(args).output().expect("run bpfld");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn extract_listed_modules_of_a_debian_package() {
    let rel = "6.12.117+deb12-amd64";
    let Some(deb) = debian_package("linux-image-6.12.117+deb12-amd64-unsigned") else { return };
    let tmp = tmp_dir("deb");
    let out = tmp.join(rel);
    let (code, stdout, stderr) = bpfld(&[
        "btf",
        "extract",
        deb.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--module",
        "tcp_bbr",
        "--module",
        "nf_conntrack",
        "--json",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["release"], rel);
    assert_eq!(v["kernel"], "bzImage, zstd payload at 0x52cc");
    let names: Vec<_> = v["modules"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["nf_conntrack", "tcp_bbr"]);
    assert_eq!(v["modules"][1]["path"], format!("lib/modules/{rel}/kernel/net/ipv4/tcp_bbr.ko.xz"));
    for m in ["nf_conntrack", "tcp_bbr"] {
        let ours = fs::read(out.join(format!("modules/{m}.btf"))).unwrap();
        assert_eq!(Some(digest(&ours).as_str()), expected_digest(&format!("{rel}/modules/{m}.btf")), "{m}");
    }
    let vmlinux = fs::read(out.join("vmlinux.btf")).unwrap();
    assert_eq!(Some(digest(&vmlinux).as_str()), expected_digest(&format!("{rel}.btf")));
    // With its record index, which a check of the directory then uses.
    let index_bytes = fs::metadata(out.join("vmlinux.btf.idx")).unwrap().len();
    assert_eq!(v["record_index_bytes"].as_u64(), Some(index_bytes));
    assert!(index_bytes > 100_000 && index_bytes * 3 < vmlinux.len() as u64, "{index_bytes}");
    assert_eq!(bpfld_fleet::TargetFiles::locate(&out).unwrap().record_index, Some(out.join("vmlinux.btf.idx")));

    // The directory exists now: only --force replaces it.
    let (code, _, stderr) = bpfld(&["btf", "extract", deb.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(stderr, format!("bpfld: {}: already exists (--force replaces it)\n", out.display()));
    let _ = fs::remove_dir_all(&tmp);
}

#[test]
fn extract_errors() {
    let tmp = tmp_dir("errors");
    let notes = tmp.join("notes.txt");
    fs::write(&notes, "no kernel in here\n").unwrap();
    let out = tmp.join("out.btf");
    let (code, _, stderr) = bpfld(&["btf", "extract", notes.to_str().unwrap(), "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert_eq!(
        stderr,
        format!(
            "bpfld: {}: offset 0x0: starts with 6e6f206b65726e65: not a bzImage, an ELF file, a compressed ELF file or a Debian package\n",
            notes.display()
        )
    );
    let (code, _, stderr) = bpfld(&["btf", "extract", notes.to_str().unwrap(), "-o", out.to_str().unwrap(), "--module", "x"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--module applies to a .deb package only"), "{stderr}");
    assert!(!out.exists());
    let _ = fs::remove_dir_all(&tmp);
}
