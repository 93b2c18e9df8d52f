//! The real Debian kernel packages that `shared/btf` was cut from by hand
//! (shared/btf/tools/build-fleet.sh: objcopy of the .BTF sections): bpfld
//! must give the same bytes. The packages (70 and 107 MB) are downloaded
//! once into `${BPFLD_CACHE:-$HOME/.cache/bpfld}/debs`; without them the
//! tests skip, or fail under BPFLD_REQUIRE_KERNEL=1.

mod common;

use std::fs;
use std::sync::Arc;
use std::time::Instant;

use bpfld_btf::Btf;
use bpfld_extract::{extract_deb, Compression, DebOptions, Source};
use bpfld_testdata::{debian_package, shared_btf_dir, SHARED_KERNEL_PACKAGES};
use common::TempDir;

/// Extracts the whole package of `release` and compares it with
/// shared/btf; every module BTF must parse as split BTF on the vmlinux BTF.
fn package_matches_shared_btf(release: &str, types: u32, kernel_compression: Compression) {
    let Some(shared) = shared_btf_dir() else { return };
    let package = SHARED_KERNEL_PACKAGES.iter().find(|(r, _)| *r == release).unwrap().1;
    let Some(deb) = debian_package(package) else { return };
    let tmp = TempDir::new(&format!("real-{release}"));
    let out = tmp.0.join(release);

    let start = Instant::now();
    let report = extract_deb(&deb, &out, &DebOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{package}: whole package extracted in {:.1} s ({} module BTFs, {} modules without BTF)",
        start.elapsed().as_secs_f64(),
        report.modules.len(),
        report.modules_without_btf.len()
    );

    assert_eq!(report.release, release);
    assert!(
        matches!(report.kernel_source, Source::BzImage { compression, .. } if compression == kernel_compression),
        "{:?}",
        report.kernel_source
    );
    assert_eq!(fs::read_to_string(out.join("release")).unwrap(), format!("{release}\n"));
    let vmlinux = fs::read(out.join("vmlinux.btf")).unwrap();
    assert!(vmlinux == fs::read(shared.join(format!("{release}.btf"))).unwrap(), "vmlinux.btf differs from shared/btf");
    assert!(
        fs::read(out.join("config")).unwrap() == fs::read(shared.join(format!("{release}.config"))).unwrap(),
        "config differs from shared/btf"
    );
    let mut compared = 0;
    for e in fs::read_dir(shared.join(release).join("modules")).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("btf") {
            continue;
        }
        let name = p.file_name().unwrap();
        let ours = fs::read(out.join("modules").join(name)).unwrap_or_else(|e| panic!("modules/{name:?}: {e}"));
        assert!(ours == fs::read(&p).unwrap(), "modules/{name:?} differs from shared/btf");
        compared += 1;
    }
    assert!(compared >= 4, "only {compared} shared module BTFs");

    // What the BTF says: the vmlinux type count of shared/btf/README.md,
    // and every module's types continuing after it.
    let base = Btf::parse(Arc::new(vmlinux)).unwrap();
    assert_eq!(base.type_count() - 1, types);
    let mut bad = Vec::new();
    for m in &report.modules {
        let bytes = fs::read(out.join("modules").join(format!("{}.btf", m.name))).unwrap();
        assert_eq!(bytes.len(), m.btf_len);
        match Btf::parse_split(Arc::new(bytes), &base) {
            Ok(b) => assert_eq!(b.first_own_id(), types + 1, "{}", m.name),
            Err(e) => bad.push(format!("{}: {e}", m.name)),
        }
    }
    assert!(bad.is_empty(), "{} module BTFs do not parse: {:?}", bad.len(), &bad[..bad.len().min(5)]);
}

#[test]
fn debian_6_1_package_gives_the_shared_btf() {
    // xz payload with the x86 BCJ filter; uncompressed .ko modules.
    package_matches_shared_btf("6.1.0-56-amd64", 100_750, Compression::Xz);
}

#[test]
fn debian_6_12_package_gives_the_shared_btf() {
    // zstd payload; .ko.xz modules.
    package_matches_shared_btf("6.12.117+deb12-amd64", 112_768, Compression::Zstd);
}
