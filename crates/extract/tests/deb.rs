//! Debian packages built here (ar, tar, compressed data.tar) to kernel
//! release directories.

mod common;

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use std::error::Error as _;

use bpfld_extract::{extract_deb, Cause, Compression, DebOptions, PackageError, Source, StreamEnd, StreamStep};
use common::*;

const REL: &str = "6.99.0-7-amd64";
const CONFIG: &[u8] = b"CONFIG_BPF=y\nCONFIG_DEBUG_INFO_BTF=y\n";

/// A kernel package as Debian lays it out: kernel, config, System.map,
/// modules in several compressions and directories, one without BTF.
fn kernel_files() -> Vec<(String, Vec<u8>)> {
    let ko = fake_module();
    let m = format!("lib/modules/{REL}");
    vec![
        (format!("boot/System.map-{REL}"), b"ffffffff81000000 T _text\n".to_vec()),
        (format!("boot/config-{REL}"), CONFIG.to_vec()),
        (format!("boot/vmlinuz-{REL}"), fake_kernel(Compression::Xz)),
        (format!("{m}/kernel/net/ipv4/tcp-fancy.ko.xz"), xz(&ko, false)),
        (format!("{m}/kernel/net/sched/sch_plain.ko"), ko.clone()),
        (format!("{m}/kernel/fs/zfs.ko.zst"), compress(Compression::Zstd, &ko)),
        (format!("{m}/kernel/drivers/old.ko.gz"), compress(Compression::Gzip, &ko)),
        (format!("{m}/kernel/drivers/nobtf.ko"), fake_elf(ET_REL, &[(".text", &[0xcc; 32])])),
        (format!("{m}/modules.order"), b"kernel/net/ipv4/tcp-fancy.ko\n".to_vec()),
        ("usr/share/doc/linux-image/changelog.gz".into(), compress(Compression::Gzip, b"changes")),
    ]
}

fn deb_of(format: Option<Compression>, files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(p, d)| (p.as_str(), d.as_slice())).collect();
    fake_deb(format, &refs)
}

fn write_deb(dir: &Path, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join("linux-image-test.deb");
    fs::write(&p, bytes).unwrap();
    p
}

fn listing(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            v.extend(listing(&e.path()).into_iter().map(|s| format!("{name}/{s}")));
        } else {
            v.push(name);
        }
    }
    v.sort();
    v
}

#[test]
fn package_to_release_directory() {
    for format in [Some(Compression::Xz), Some(Compression::Zstd), Some(Compression::Gzip), None] {
        let tmp = TempDir::new(&format!("deb-{format:?}"));
        let deb = write_deb(&tmp.0, &deb_of(format, &kernel_files()));
        let out = tmp.0.join(REL);
        let report = extract_deb(&deb, &out, &DebOptions::default()).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(
            listing(&out),
            [
                "config",
                "modules/old.btf",
                "modules/sch_plain.btf",
                "modules/tcp-fancy.btf",
                "modules/zfs.btf",
                "release",
                "source",
                "vmlinux.btf"
            ]
        );
        assert_eq!(fs::read_to_string(out.join("release")).unwrap(), format!("{REL}\n"));
        assert_eq!(fs::read(out.join("config")).unwrap(), CONFIG);
        assert_tiny_btf(&fs::read(out.join("vmlinux.btf")).unwrap());
        for m in ["old", "sch_plain", "tcp-fancy", "zfs"] {
            assert_eq!(fs::read(out.join(format!("modules/{m}.btf"))).unwrap(), tiny_btf(), "{m}");
        }
        assert_eq!(report.release, REL);
        assert!(matches!(report.kernel_source, Source::BzImage { compression: Compression::Xz, .. }));
        assert_eq!(report.vmlinux_btf_len, tiny_btf().len());
        assert!(report.config);
        let names: Vec<_> = report.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["old", "sch_plain", "tcp-fancy", "zfs"]);
        assert_eq!(report.modules[2].path, format!("lib/modules/{REL}/kernel/net/ipv4/tcp-fancy.ko.xz"));
        assert_eq!(report.modules_without_btf, ["nobtf"]);
        // Nothing but the release directory is left beside it.
        assert_eq!(listing(&tmp.0).iter().filter(|p| !p.starts_with(REL)).count(), 1);
    }
}

#[test]
fn only_the_listed_modules() {
    let tmp = TempDir::new("deb-only");
    let deb = write_deb(&tmp.0, &deb_of(Some(Compression::Xz), &kernel_files()));
    let out = tmp.0.join("rel");
    let options = DebOptions { modules: Some(BTreeSet::from(["zfs".to_string()])), threads: 1, ..Default::default() };
    let report = extract_deb(&deb, &out, &options).unwrap();
    assert_eq!(listing(&out), ["config", "modules/zfs.btf", "release", "source", "vmlinux.btf"]);
    assert_eq!(report.modules.len(), 1);

    let options =
        DebOptions { modules: Some(BTreeSet::from(["zfs".to_string(), "tcp_fancy".to_string()])), replace: true, ..Default::default() };
    let err = extract_deb(&deb, &out, &options).unwrap_err();
    assert_eq!(err.cause.to_string(), format!("no module named tcp_fancy in lib/modules/{REL}"));
    assert!(
        matches!(&err.cause, Cause::Package(PackageError::MissingModules { modules, release }) if modules == &["tcp_fancy"] && release == REL),
        "{err:?}"
    );
    assert_eq!(err.file, format!("{}: data.tar.xz", deb.display()));
    // The failed run left the previous directory as it was.
    assert_eq!(listing(&out), ["config", "modules/zfs.btf", "release", "source", "vmlinux.btf"]);
}

#[test]
fn existing_output_is_replaced_only_when_asked() {
    let tmp = TempDir::new("deb-exists");
    let deb = write_deb(&tmp.0, &deb_of(Some(Compression::Zstd), &kernel_files()));
    let out = tmp.0.join("rel");
    fs::create_dir_all(out.join("modules")).unwrap();
    fs::write(out.join("modules/stale.btf"), b"x").unwrap();
    let err = extract_deb(&deb, &out, &DebOptions::default()).unwrap_err();
    assert_eq!(err.to_string(), format!("{}: already exists (--force replaces it)", out.display()));
    assert!(matches!(err.cause, Cause::DestinationExists), "{err:?}");
    extract_deb(&deb, &out, &DebOptions { replace: true, ..Default::default() }).unwrap();
    assert!(!out.join("modules/stale.btf").exists());
    assert!(out.join("modules/zfs.btf").exists());
}

#[test]
fn truncated_package() {
    let tmp = TempDir::new("deb-trunc");
    let bytes = deb_of(Some(Compression::Xz), &kernel_files());
    let deb = write_deb(&tmp.0, &bytes[..bytes.len() * 2 / 3]);
    let out = tmp.0.join("rel");
    let err = extract_deb(&deb, &out, &DebOptions::default()).unwrap_err();
    assert_eq!(err.file, format!("{}: data.tar.xz", deb.display()));
    assert!(err.cause.to_string().contains("truncated package"), "{err}");
    let Cause::Package(PackageError::Stream {
        step: StreamStep::Entries | StreamStep::Body(_),
        end: StreamEnd::Truncated { at, member_size },
        ..
    }) = &err.cause
    else {
        panic!("{err:?}")
    };
    assert!(at < member_size && Some(*at) == err.offset, "{err:?}");
    // The chain goes file, cause, the tar reader's io::Error.
    let io = err.source().and_then(|c| c.source()).expect("the reader's error");
    assert!(io.downcast_ref::<std::io::Error>().is_some(), "{io:?}");
    assert!(err.offset.is_some(), "{err}");
    assert!(!out.exists(), "no half-written release directory");
    assert_eq!(listing(&tmp.0), ["linux-image-test.deb"]);
}

#[test]
fn corrupt_module_names_the_member() {
    let tmp = TempDir::new("deb-badko");
    let mut files = kernel_files();
    let ko = &mut files.iter_mut().find(|(p, _)| p.ends_with("tcp-fancy.ko.xz")).unwrap().1;
    ko.truncate(ko.len() - 20);
    let deb = write_deb(&tmp.0, &deb_of(Some(Compression::Xz), &files));
    let out = tmp.0.join("rel");
    let err = extract_deb(&deb, &out, &DebOptions::default()).unwrap_err();
    assert_eq!(err.file, format!("{}: lib/modules/{REL}/kernel/net/ipv4/tcp-fancy.ko.xz", deb.display()));
    assert!(err.cause.to_string().starts_with("truncated xz data"), "{err}");
    assert!(!out.exists());
}

#[test]
fn package_without_kernel() {
    let tmp = TempDir::new("deb-nokernel");
    let files: Vec<_> = kernel_files().into_iter().filter(|(p, _)| !p.starts_with("boot/vmlinuz")).collect();
    let deb = write_deb(&tmp.0, &deb_of(Some(Compression::Gzip), &files));
    let err = extract_deb(&deb, &tmp.0.join("rel"), &DebOptions::default()).unwrap_err();
    assert_eq!(err.cause.to_string(), "no boot/vmlinuz-<release>: not a kernel image package");
}

#[test]
fn modules_of_another_release() {
    let tmp = TempDir::new("deb-mixed");
    let mut files = kernel_files();
    files.push(("lib/modules/6.98.0-1-amd64/kernel/x.ko".into(), fake_module()));
    let deb = write_deb(&tmp.0, &deb_of(Some(Compression::Zstd), &files));
    let err = extract_deb(&deb, &tmp.0.join("rel"), &DebOptions::default()).unwrap_err();
    assert_eq!(err.cause.to_string(), format!("modules of release 6.98.0-1-amd64 beside boot/vmlinuz-{REL}"));
}

#[test]
fn duplicate_module_names_keep_the_first() {
    let tmp = TempDir::new("deb-dup");
    let mut files = kernel_files();
    files.push((format!("lib/modules/{REL}/updates/zfs.ko"), fake_elf(ET_REL, &[(".text", &[1])])));
    let deb = write_deb(&tmp.0, &deb_of(Some(Compression::Xz), &files));
    let report = extract_deb(&deb, &tmp.0.join("rel"), &DebOptions::default()).unwrap();
    assert_eq!(
        report.duplicate_modules,
        [format!("zfs (lib/modules/{REL}/kernel/fs/zfs.ko.zst kept, lib/modules/{REL}/updates/zfs.ko skipped)")]
    );
    assert_eq!(fs::read(tmp.0.join("rel/modules/zfs.btf")).unwrap(), tiny_btf());
}

#[test]
fn not_a_package() {
    let tmp = TempDir::new("deb-notar");
    let mut ar = ar::Builder::new(Vec::new());
    ar.append(&ar::Header::new(b"debian-binary".to_vec(), 4), &b"2.0\n"[..]).unwrap();
    let deb = write_deb(&tmp.0, &ar.into_inner().unwrap());
    let err = extract_deb(&deb, &tmp.0.join("rel"), &DebOptions::default()).unwrap_err();
    assert_eq!(err.cause.to_string(), "no data.tar.* member: not a Debian binary package");
    assert!(matches!(err.cause, Cause::Package(PackageError::NoDataTar)), "{err:?}");
}

#[test]
fn missing_package_is_an_io_error_with_its_source() {
    let tmp = TempDir::new("deb-missing");
    let deb = tmp.0.join("nothing-here.deb");
    let err = extract_deb(&deb, &tmp.0.join("rel"), &DebOptions::default()).unwrap_err();
    assert_eq!(err.file, deb.display().to_string());
    assert!(matches!(err.cause, Cause::Io { op: "open", .. }), "{err:?}");
    let io = err.source().and_then(|c| c.source()).and_then(|e| e.downcast_ref::<std::io::Error>()).expect("io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(err.to_string().starts_with(&format!("{}: open: ", deb.display())), "{err}");
}
