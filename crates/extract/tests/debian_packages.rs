//! The real Debian kernel packages that `shared/btf` was cut from by hand
//! (shared/btf/tools/build-fleet.sh: objcopy of the .BTF sections): bpfld
//! must give the same bytes, as recorded in bpfld-testdata's
//! `kernel-btf.sha256`. The packages (70 and 107 MB) are downloaded once
//! into `${BPFLD_CACHE:-$HOME/.cache/bpfld}/debs`; without them the tests
//! skip, or fail under BPFLD_REQUIRE_KERNEL=1.

mod common;

use std::fs;
use std::sync::Arc;
use std::time::Instant;

use bpfld_btf::Btf;
use bpfld_extract::{extract_deb, Compression, DebOptions, Source};
use bpfld_testdata::{debian_package, digest, expected_digest, SHARED_KERNEL_PACKAGES, TEST_MODULES};
use common::TempDir;

/// Whether `bytes` are the file `relative` of shared/btf, by its recorded
/// digest.
fn assert_recorded(bytes: &[u8], relative: &str) {
    let want = expected_digest(relative).unwrap_or_else(|| panic!("{relative}: no recorded digest"));
    assert_eq!(digest(bytes), want, "{relative} differs from shared/btf's");
}

/// Extracts the whole package of `release` and compares it with
/// shared/btf; every module BTF must parse as split BTF on the vmlinux BTF.
fn package_matches_shared_btf(release: &str, types: u32, kernel_compression: Compression) {
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
    assert_recorded(&vmlinux, &format!("{release}.btf"));
    assert_recorded(&fs::read(out.join("config")).unwrap(), &format!("{release}.config"));
    let modules = TEST_MODULES.iter().find(|(r, _)| *r == release).unwrap().1;
    for m in modules {
        let ours = fs::read(out.join("modules").join(format!("{m}.btf"))).unwrap_or_else(|e| panic!("modules/{m}.btf: {e}"));
        assert_recorded(&ours, &format!("{release}/modules/{m}.btf"));
    }
    assert!(modules.len() >= 4, "only {} module BTFs compared", modules.len());

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
