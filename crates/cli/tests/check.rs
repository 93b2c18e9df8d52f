//! `bpfld check` end to end: many objects against many kernels, the JSON
//! matrix (docs/check-json.md), the grouping of kernels by answer, and the
//! usage errors of paths that are not kernels.

use std::path::Path;
use std::process::Command;

use bpfld_testdata::{shared_btf_dir, test_object, K61, K612, K618};
use serde_json::Value;

fn bpfld(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args(args).output().expect("run bpfld");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn obj(name: &str) -> String {
    test_object(name).display().to_string()
}

fn kernel(dir: &Path, release: &str) -> String {
    dir.join(format!("{release}.btf")).display().to_string()
}

fn check_json(args: &[String]) -> (i32, Value) {
    let mut all = vec!["check".to_string(), "--json".into()];
    all.extend(args.iter().cloned());
    let argv: Vec<&str> = all.iter().map(String::as_str).collect();
    let (code, out, err) = bpfld(&argv);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    (code, serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}")))
}

#[test]
fn paths_that_are_not_kernels_are_usage_errors_before_any_output() {
    let Some(shared) = shared_btf_dir() else { return };
    let empty = std::env::temp_dir().join(format!("bpfld-check-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let good = kernel(&shared, K61);
    let config = shared.join(format!("{K61}.config")).display().to_string();
    let missing = shared.join("no-such-kernel").display().to_string();
    for (bad, says) in [
        (missing.as_str(), "no such file or directory"),
        (empty.to_str().unwrap(), "without vmlinux.btf"),
        (config.as_str(), "not a kernel BTF file"),
    ] {
        for json in [false, true] {
            let mut args = vec!["check", "-k", &good, "-k", bad];
            if json {
                args.push("--json");
            }
            let o = obj("kfunc_flavors");
            args.push(&o);
            let (code, out, err) = bpfld(&args);
            assert_eq!(code, 2, "{bad}: exit {code}, stderr {err}");
            assert!(out.is_empty(), "{bad}: printed {out}");
            assert!(err.contains(bad) && err.contains(says), "{bad}: {err}");
        }
    }
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn a_release_is_the_same_kernel_named_by_its_btf_file_or_its_directory() {
    let Some(shared) = shared_btf_dir() else { return };
    let by_dir = shared.join(K61).display().to_string();
    let (code, v) = check_json(&[obj("kfunc_module"), obj("kfunc_bbr"), "-k".into(), kernel(&shared, K61), "-k".into(), by_dir]);
    assert_eq!(code, 0);
    for o in v["objects"].as_array().unwrap() {
        let ks = o["kernels"].as_array().unwrap();
        assert_eq!(ks[0]["kernel"], K61);
        assert_eq!(ks[0]["externs"], ks[1]["externs"], "{}", o["object"]);
        assert_eq!(ks[0]["programs"], ks[1]["programs"]);
        // Module kfuncs resolve: the modules beside the .btf were found both ways.
        let resolved: Vec<&Value> = ks[1]["externs"].as_array().unwrap().iter().filter(|e| e["resolved"] == true).collect();
        assert!(!resolved.is_empty() && resolved.iter().all(|e| e["target"] != "vmlinux"), "{}", ks[1]);
        assert_eq!(o["groups"].as_array().unwrap().len(), 1, "same kernel, one answer");
    }
}

#[test]
fn every_object_against_every_kernel_in_one_matrix() {
    let Some(shared) = shared_btf_dir() else { return };
    let kernels = [K61, K612, K618];
    let mut args = vec![obj("kfunc_bbr"), obj("core_fields"), obj("kfunc_strong_missing")];
    for k in kernels {
        args.push("-k".into());
        args.push(kernel(&shared, k));
    }
    let (code, v) = check_json(&args);
    assert_eq!(code, 1, "kfunc_strong_missing loads nowhere");
    assert_eq!((v["schema"].as_str(), v["schema_version"].as_u64()), (Some("check"), Some(1)), "{v}");
    assert_eq!(v["loads_everywhere"], false);
    let targets: Vec<&str> = v["targets"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(targets, kernels);
    let objects = v["objects"].as_array().unwrap();
    let paths: Vec<&str> = objects.iter().map(|o| o["path"].as_str().unwrap()).collect();
    assert_eq!(paths, [obj("kfunc_bbr"), obj("core_fields"), obj("kfunc_strong_missing")]);
    for o in objects {
        assert_eq!(o["kernels"].as_array().unwrap().len(), 3);
        // Groups partition the targets.
        let mut seen: Vec<u64> = o["groups"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|g| g["targets"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()))
            .collect();
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
        let rows = o["rows"].as_array().unwrap().len();
        assert!(o["groups"].as_array().unwrap().iter().all(|g| g["cells"].as_array().unwrap().len() == rows));
    }
    // bbr_main's prototype changed in 6.12: each kernel binds its flavor.
    let bbr = &objects[0];
    assert_eq!(bbr["loads_everywhere"], true);
    let picked: Vec<String> = bbr["kernels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            k["externs"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["resolved"] == true)
                .map(|e| e["name"].as_str().unwrap().to_string())
                .collect()
        })
        .collect();
    assert_eq!(picked, ["bbr_main___v6_1", "bbr_main___v6_12", "bbr_main___v6_12"]);
    assert_eq!(bbr["groups"].as_array().unwrap().len(), 3, "6.12 (module) and 6.18 (built in) differ in where bbr_main lives");
    // core_fields: 6.12 and 6.18 give the same answer (inode's ctime moved in 6.6), 6.1 another.
    let groups: Vec<Vec<u64>> = objects[1]["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["targets"].as_array().unwrap().iter().map(|t| t.as_u64().unwrap()).collect())
        .collect();
    assert_eq!(groups, [vec![0], vec![1, 2]]);
    let missing = &objects[2];
    assert!(missing["kernels"].as_array().unwrap().iter().all(|k| k["loads"] == false && k["error"].is_string()));
}

#[test]
fn weak_typeless_ksym_without_kallsyms_is_unknown_offline_not_a_refusal() {
    let Some(shared) = shared_btf_dir() else { return };
    let (_, v) = check_json(&[obj("ksym_typeless"), "-k".into(), kernel(&shared, K618)]);
    let k = &v["objects"][0]["kernels"][0];
    let weak = k["externs"].as_array().unwrap().iter().find(|e| e["weak"] == true).expect("a weak typeless ksym");
    assert_eq!(weak["kind"], "ksym_typeless");
    assert_eq!(weak["unknown_offline"], true);
    assert!(weak["reason"].as_str().unwrap().contains("unknown offline"), "{weak}");
    // The strong one is what refuses the load, not the weak one.
    let error = k["error"].as_str().unwrap_or_default();
    assert!(!error.contains(weak["name"].as_str().unwrap()), "{error}");
}

#[test]
fn text_output_groups_many_kernels() {
    let Some(shared) = shared_btf_dir() else { return };
    // 3 objects x 30 kernels (each shared kernel ten times, named both ways).
    let mut args: Vec<String> = vec!["check".into(), obj("kfunc_bbr"), obj("core_fields"), obj("kconfig_values")];
    for i in 0..10 {
        for k in [K61, K612, K618] {
            args.push("-k".into());
            args.push(if i % 2 == 1 && k != K618 { shared.join(k).display().to_string() } else { kernel(&shared, k) });
        }
    }
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = bpfld(&argv);
    assert_eq!(code, 0, "{err}");
    for (name, answers) in [("kfunc_bbr", 3), ("core_fields", 2), ("kconfig_values", 2)] {
        let head = format!("{name}: loads on 30 of 30 kernels, {answers} different answers");
        assert!(out.contains(&head), "{head} not in\n{out}");
    }
    assert!(out.contains("  A (10 kernels): 6.1.0-56-amd64 6.1.0-56-amd64"), "{out}");
    // The table has one column per group, not per kernel.
    let line = out.lines().find(|l| l.contains("would load")).unwrap();
    assert_eq!(line.split_whitespace().filter(|w| *w == "yes").count(), 3, "{line}");
    assert!(out.lines().any(|l| l.starts_with("  * kfunc bbr_main: flavor picked")), "{out}");
}

#[test]
fn btf_min_writes_a_small_btf_that_plans_as_the_whole() {
    let Some(shared) = shared_btf_dir() else { return };
    // Named as the kernel, with its config beside: the same release and version.
    let dir = std::env::temp_dir().join(format!("bpfld-min-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(shared.join(format!("{K612}.config")), dir.join(format!("{K612}.config"))).unwrap();
    let out = dir.join(format!("{K612}.btf"));
    let by_dir = shared.join(K612).display().to_string();
    let (code, json, err) = bpfld(&["btf", "min", &obj("core_fields"), "--kernel", &by_dir, "-o", out.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&json).unwrap();
    let bytes = v["bytes"].as_u64().unwrap();
    assert!(bytes < 64 * 1024 && bytes * 100 < v["kernel_bytes"].as_u64().unwrap(), "{v}");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), bytes);
    // The programs planned against the reduced file (CO-RE relocated
    // instructions) are those planned against the whole.
    let programs = |btf: &str| {
        let (code, out, err) = bpfld(&["plan", "--json", "--btf", btf, &obj("core_fields")]);
        assert_eq!(code, 0, "{err}");
        let v: Value = serde_json::from_str(&out).unwrap();
        v["programs"].clone()
    };
    let whole = programs(&kernel(&shared, K612));
    assert!(whole.as_array().is_some_and(|p| p.len() == 5), "{whole}");
    assert_eq!(programs(out.to_str().unwrap()), whole);
    let (code, _, err) = bpfld(&["btf", "min", &obj("core_fields"), "--kernel", "/nonexistent", "-o", out.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = bpfld(&["load", &obj("core_fields"), "--btf", "/nonexistent.btf"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--btf /nonexistent.btf"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `plan --json` names each poisoned instruction's kind and subject (a
/// weak kfunc no kernel has), and says it in words.
#[test]
fn plan_json_reports_poisoned_calls_by_kind() {
    let Some(shared) = bpfld_testdata::shared_btf_dir() else { return };
    let (code, out, err) = bpfld(&["plan", "--json", "--btf", &kernel(&shared, K612), &obj("kfunc_weak_missing")]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let poisoned: Vec<&Value> = v["programs"].as_array().unwrap().iter().flat_map(|p| p["poisoned"].as_array().unwrap()).collect();
    let missing = poisoned.iter().find(|p| p["subject"] == "bpfld_missing_kfunc").expect("the missing kfunc's call is poisoned");
    assert_eq!(missing["kind"], "kfunc_call", "{missing}");
    assert_eq!(missing["what"], "call of unresolved kfunc 'bpfld_missing_kfunc'", "{missing}");
    assert!(missing["insn"].as_u64().is_some(), "{missing}");
}

/// `btf index` writes each kernel's index beside its BTF, and `check`
/// answers the same with it; with an index of another kernel, that kernel
/// cannot be read (its verdict names the index) and the check fails.
#[test]
fn btf_index_then_check_answers_the_same() {
    let Some(shared) = bpfld_testdata::shared_btf_dir() else { return };
    let dir = std::env::temp_dir().join(format!("bpfld-cli-btf-index-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut kernels = Vec::new();
    for k in [K61, K612] {
        let btf = dir.join(format!("{k}.btf"));
        std::os::unix::fs::symlink(shared.join(format!("{k}.btf")), &btf).unwrap();
        std::os::unix::fs::symlink(shared.join(format!("{k}.config")), dir.join(format!("{k}.config"))).unwrap();
        kernels.push(btf.display().to_string());
    }
    let check = |kernels: &[String]| {
        let mut args = vec!["check", "--json"];
        let obj = obj("core_fields");
        args.push(&obj);
        for k in kernels {
            args.extend(["-k", k.as_str()]);
        }
        bpfld(&args)
    };
    let (code, without, err) = check(&kernels);
    assert_eq!(code, 0, "{err}");
    let mut args = vec!["btf", "index"];
    args.extend(kernels.iter().map(String::as_str));
    let (code, out, err) = bpfld(&args);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.contains(&format!("{K61}.btf.idx")) && out.contains("types"), "{out}");
    args.push("--json");
    let (code, out, err) = bpfld(&args);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["schema"], "btf-index");
    let indexes = v["indexes"].as_array().unwrap();
    assert_eq!(indexes.len(), 2);
    let first = dir.join(format!("{K61}.btf.idx"));
    assert_eq!(indexes[0]["path"], first.display().to_string());
    assert_eq!(indexes[0]["bytes"].as_u64(), Some(std::fs::metadata(&first).unwrap().len()));
    let (code, with, err) = check(&kernels);
    assert_eq!(code, 0, "{err}");
    assert_eq!(with, without);
    // 6.12's index in 6.1's place.
    std::fs::copy(dir.join(format!("{K612}.btf.idx")), dir.join(format!("{K61}.btf.idx"))).unwrap();
    let (code, out, _) = check(&kernels);
    assert_eq!(code, 1);
    assert!(out.contains(&format!("{K61}.btf.idx")) && out.contains("made from another BTF file"), "{out}");
    let (code, _, err) = bpfld(&["btf", "index", "/nonexistent"]);
    assert_eq!(code, 2, "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
