//! A check made with a kernel's record index (`bpfld btf index`: record
//! offsets and names written once, no walk over the records at each check)
//! predicts exactly what the full parse predicts, for every test object
//! against every shared kernel; an index of another kernel or a damaged
//! one is an error naming the index file, never a panic.

mod common;

use std::path::{Path, PathBuf};

use bpfld_fleet::check::{check_matrix, check_target, target_needs, CheckOptions};
use bpfld_fleet::record_index::{index_path, write_record_index};
use bpfld_fleet::release_dir::{load_files_for, TargetFiles, TargetLoadError};
use bpfld_obj::Object;
use bpfld_testdata::{shared_btf_dir, test_object_names, SHARED_KERNELS};

/// A directory of links to the shared kernels (`NAME.btf`, `NAME.config`,
/// `NAME/modules`), where their indexes can be written.
fn linked_kernels(shared: &Path, name: &str) -> (PathBuf, Vec<PathBuf>) {
    let dir = std::env::temp_dir().join(format!("bpfld-record-index-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let paths = SHARED_KERNELS
        .iter()
        .map(|k| {
            let btf = dir.join(format!("{k}.btf"));
            std::os::unix::fs::symlink(shared.join(format!("{k}.btf")), &btf).unwrap();
            let config = shared.join(format!("{k}.config"));
            if config.exists() {
                std::os::unix::fs::symlink(config, dir.join(format!("{k}.config"))).unwrap();
            }
            if shared.join(k).join("modules").exists() {
                std::fs::create_dir_all(dir.join(k)).unwrap();
                std::os::unix::fs::symlink(shared.join(k).join("modules"), dir.join(k).join("modules")).unwrap();
            }
            btf
        })
        .collect();
    (dir, paths)
}

fn objects() -> Vec<Object> {
    test_object_names().iter().filter_map(|n| Object::parse(n, &std::fs::read(bpfld_testdata::test_object(n)).unwrap()).ok()).collect()
}

#[test]
fn indexed_checks_equal_full_parses() {
    let Some(shared) = shared_btf_dir() else { return };
    let (dir, paths) = linked_kernels(&shared, "equal");
    let objects = objects();
    assert!(objects.len() > 30, "{} objects", objects.len());
    let mut targets = Vec::new();
    for p in &paths {
        let written = write_record_index(&TargetFiles::locate(p).unwrap()).unwrap();
        assert_eq!(written.path, index_path(p));
        // Offsets and names: well under half of the BTF file.
        let btf_len = std::fs::metadata(p).unwrap().len() as usize;
        assert!(written.bytes < btf_len / 2, "{} bytes of index for {btf_len}", written.bytes);
        let files = TargetFiles::locate(p).unwrap();
        assert_eq!(files.record_index.as_deref(), Some(written.path.as_path()));
        targets.push((p.clone(), files));
    }
    let needs = target_needs(&objects);
    for (p, files) in &targets {
        let full = load_files_for(&TargetFiles { record_index: None, ..files.clone() }, None).unwrap();
        let view = load_files_for(files, Some(&needs)).unwrap();
        assert!(view.vmlinux.is_indexed() && view.vmlinux.is_targeted());
        assert_eq!(view.vmlinux.type_count(), full.vmlinux.type_count());
        for obj in &objects {
            let opts = CheckOptions::default();
            assert_eq!(
                check_target(obj, &full, p.clone(), &opts),
                check_target(obj, &view, p.clone(), &opts),
                "{} on {}",
                obj.name,
                p.display()
            );
        }
        assert_eq!(view.vmlinux.fallback_lookups(), 0, "lookups outside the wanted names on {}", p.display());
    }
    // The whole matrix, as `bpfld check` makes it, against the full parse.
    let quiet = |_: usize, _: usize, _: &str| {};
    let indexed = check_matrix(&objects, &targets, &CheckOptions { threads: 1, ..Default::default() }, &quiet);
    let full = check_matrix(&objects, &targets, &CheckOptions { threads: 1, full_btf: true, ..Default::default() }, &quiet);
    assert_eq!(indexed, full);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_index_of_another_kernel_or_a_damaged_one_is_an_error() {
    let Some(shared) = shared_btf_dir() else { return };
    let (dir, paths) = linked_kernels(&shared, "damaged");
    let needs = target_needs(&objects());
    let (a, b) = (&paths[0], &paths[1]);
    let index_a = write_record_index(&TargetFiles::locate(a).unwrap()).unwrap();
    // Kernel b with kernel a's index.
    std::fs::copy(&index_a.path, index_path(b)).unwrap();
    let error = |p: &Path| match load_files_for(&TargetFiles::locate(p).unwrap(), Some(&needs)) {
        Err(TargetLoadError::Btf { path, source }) => (path, source),
        other => panic!("{}: {:?}", p.display(), other.map(|t| t.name)),
    };
    let (path, source) = error(b);
    assert_eq!(path, index_path(b));
    assert_eq!(source.section, bpfld_btf::Section::RecordIndex);
    assert!(source.to_string().contains("made from another BTF file"), "{source}");
    // Damaged copies of a's own index: a cut one, or one with any header
    // byte changed (the header has a check word), is an error naming the
    // index; damage elsewhere (the
    // offsets and names are read in place, each record checked when read)
    // gives a view that plans without panicking.
    let good = std::fs::read(&index_a.path).unwrap();
    let checked_header: Vec<usize> = (0..48).collect();
    let mut rng = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let objects = objects();
    let (mut refused, mut planned) = (0, 0);
    for round in 0..300 {
        let mut bad = good.clone();
        let must_refuse = round % 3 != 2;
        match round % 3 {
            0 => bad.truncate(next() as usize % good.len()),
            1 => bad[checked_header[next() as usize % checked_header.len()]] ^= 1 << (next() % 8),
            _ => {
                for _ in 0..1 + next() % 64 {
                    let at = 48 + next() as usize % (bad.len() - 48);
                    bad[at] = next() as u8;
                }
            }
        }
        std::fs::write(&index_a.path, &bad).unwrap();
        match load_files_for(&TargetFiles::locate(a).unwrap(), Some(&needs)) {
            Err(TargetLoadError::Btf { path, source }) => {
                assert_eq!(path, index_a.path, "{source}");
                refused += 1;
            }
            Err(e) => panic!("{e}"),
            Ok(t) => {
                assert!(!must_refuse, "round {round}: a damaged header or a cut index was taken");
                for obj in &objects {
                    let _ = check_target(obj, &t, a.clone(), &CheckOptions::default());
                }
                planned += 1;
            }
        }
    }
    assert!(refused >= 200 && planned > 0, "{refused} refused, {planned} planned");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Validating many paths on several threads answers as one by one: every
/// target in order, or the first bad path's error.
#[test]
fn paths_validated_in_parallel_answer_in_order() {
    let Some(shared) = shared_btf_dir() else { return };
    let (dir, paths) = linked_kernels(&shared, "validate");
    let many: Vec<PathBuf> = (0..50).map(|i| paths[i % paths.len()].clone()).collect();
    for threads in [1, 2, 7] {
        let all = TargetFiles::validate_all(&many, threads).unwrap();
        let one_by_one: Vec<TargetFiles> = many.iter().map(|p| TargetFiles::validate(p).unwrap()).collect();
        assert_eq!(format!("{all:?}"), format!("{one_by_one:?}"), "{threads} threads");
    }
    let mut bad = many.clone();
    bad[30] = dir.join("missing.btf");
    bad[40] = dir.join("also-missing.btf");
    let e = TargetFiles::validate_all(&bad, 4).unwrap_err();
    assert!(e.to_string().contains("missing.btf") && !e.to_string().contains("also-missing"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
