//! A check made against a targeted view of each kernel's BTF (parsed for
//! the names the objects look up, no full index) predicts exactly what the
//! full parse predicts: every test object against every shared kernel, the
//! whole plan and the whole verdict compared, and no lookup fell outside
//! the names the view (and the partial parse of the config) was made for.

mod common;

use bpfld_fleet::check::{check_target, target_needs, CheckOptions};
use bpfld_fleet::release_dir::{load_files_for, TargetFiles, TargetNeeds};
use bpfld_obj::plan::{plan, PlanOptions};
use bpfld_obj::Object;
use bpfld_testdata::{shared_btf_dir, test_object_names, SHARED_KERNELS};

fn plan_text(obj: &Object, t: &bpfld_obj::Target) -> String {
    match plan(obj, Some(t), &PlanOptions::default()) {
        Ok(p) => format!("{p:?}"),
        Err(e) => format!("error {e} {:?}", e.externs),
    }
}

#[test]
fn targeted_view_plans_exactly_as_the_full_index() {
    let Some(dir) = shared_btf_dir() else { return };
    // Every test object that opens (a few are meant not to).
    let objects: Vec<Object> =
        test_object_names().iter().filter_map(|n| Object::parse(n, &std::fs::read(bpfld_testdata::test_object(n)).unwrap()).ok()).collect();
    assert!(objects.len() > 30, "{} objects", objects.len());
    let mut compared = 0;
    for k in SHARED_KERNELS {
        let files = TargetFiles::locate(&dir.join(format!("{k}.btf"))).unwrap();
        let full = load_files_for(&files, None).unwrap();
        for obj in &objects {
            // Each object with its own names, and all objects' names at
            // once (as `check` of them all does).
            for wanted in [target_needs(std::slice::from_ref(obj)), target_needs(&objects)] {
                let view = load_files_for(&files, Some(&wanted)).unwrap();
                assert!(view.vmlinux.is_targeted());
                assert_eq!(plan_text(obj, &full), plan_text(obj, &view), "{} on {k}", obj.name);
                let opts = CheckOptions::default();
                assert_eq!(check_target(obj, &full, files.vmlinux.clone(), &opts), check_target(obj, &view, files.vmlinux.clone(), &opts));
                let fallbacks: Vec<(String, usize)> = std::iter::once(("vmlinux".to_string(), view.vmlinux.fallback_lookups()))
                    .chain(view.modules.iter().map(|m| (m.name.clone(), m.btf.fallback_lookups())))
                    .chain(view.kconfig.as_ref().map(|c| (".config".to_string(), c.fallback_lookups())))
                    .filter(|(_, n)| *n > 0)
                    .collect();
                assert!(fallbacks.is_empty(), "{} on {k}: lookups outside the wanted names: {fallbacks:?}", obj.name);
                compared += 1;
            }
        }
    }
    assert_eq!(compared, 2 * 3 * objects.len());
}

#[test]
fn targeted_view_answers_other_names_through_the_full_index() {
    let Some(dir) = shared_btf_dir() else { return };
    let files = TargetFiles::locate(&dir.join(format!("{}.btf", bpfld_testdata::K618))).unwrap();
    let mut wanted = bpfld_btf::WantedNames::new();
    wanted.add("task_struct___mine");
    let view = load_files_for(&files, Some(&TargetNeeds { btf: wanted, config: Vec::new() })).unwrap();
    let full = load_files_for(&files, None).unwrap();
    let (v, f) = (&view.vmlinux, &full.vmlinux);
    assert_eq!(v.type_count(), f.type_count());
    for (name, kind) in [("task_struct", bpfld_btf::Kind::Struct), ("bpf_map_lookup_elem", bpfld_btf::Kind::Func)] {
        assert_eq!(v.find(name, Some(kind)), f.find(name, Some(kind)), "{name}");
        assert_eq!(v.find_by_essential_name(name, None), f.find_by_essential_name(name, None));
    }
    // The kernel's anonymous BTF_KIND_* enum, from the walk's list of
    // anonymous enums (no lookup by name, none counted).
    let kinds = v.find_anonymous_enum("BTF_KIND_UNKN");
    assert!(kinds.is_some());
    assert_eq!(kinds, f.find_anonymous_enum("BTF_KIND_UNKN"));
    // task_struct was wanted; bpf_map_lookup_elem was not, and was counted.
    assert_eq!(v.fallback_lookups(), 2);
    assert!(!v.find("task_struct", None).is_empty());
}

/// What `bpfld check` computes (targeted views, module BTFs read only when
/// a plan searches them) equals what the full parse of every file gives:
/// every test object against every shared kernel and Debian 11's 5.10,
/// whole verdicts compared (the `check --json` matrix is made of them).
#[test]
fn check_matrix_fast_path_equals_the_full_path() {
    use bpfld_fleet::check::check_matrix;
    let Some(dir) = shared_btf_dir() else { return };
    let objects: Vec<Object> =
        test_object_names().iter().filter_map(|n| Object::parse(n, &std::fs::read(bpfld_testdata::test_object(n)).unwrap()).ok()).collect();
    let mut targets: Vec<(std::path::PathBuf, TargetFiles)> = SHARED_KERNELS
        .iter()
        .map(|k| {
            let p = dir.join(format!("{k}.btf"));
            (p.clone(), TargetFiles::locate(&p).unwrap())
        })
        .collect();
    let Some(old) = bpfld_testdata::old_kernel_dir(bpfld_testdata::DEBIAN_5_10) else { return };
    targets.push((old.clone(), TargetFiles::locate(&old).unwrap()));
    // The host's shared BTF has no modules; the Debian kernels do.
    assert!(targets.iter().filter(|(_, f)| f.modules_dir.is_some()).count() >= 3, "kernels with module BTF: {targets:?}");
    let quiet = |_: usize, _: usize, _: &str| {};
    let fast = check_matrix(&objects, &targets, &CheckOptions { threads: 1, ..Default::default() }, &quiet);
    let full = check_matrix(&objects, &targets, &CheckOptions { threads: 1, full_btf: true, ..Default::default() }, &quiet);
    for ((t, fast_row), full_row) in targets.iter().zip(&fast).zip(&full) {
        for ((obj, a), b) in objects.iter().zip(fast_row).zip(full_row) {
            assert_eq!(a, b, "{} on {}", obj.name, t.0.display());
        }
    }
    // Some plans did need module BTF (module kfuncs, module CO-RE), and
    // they agree too.
    let from_modules =
        fast.iter().flatten().filter(|v| v.externs.iter().any(|e| e.resolved && e.target.as_deref().is_some_and(|m| m != "vmlinux")));
    assert!(from_modules.count() > 0);
}
