//! The real-kernel matrix as a test: Debian's 5.10, 6.1 (two builds) and
//! 6.12 (two builds) kernels under qemu plus the host, every object of
//! tests/bpf/obj loaded on each by bpfld and by libbpf 1.7, each bpfld
//! result compared with `bpfld check`'s prediction from that kernel's
//! package and with libbpf's. Fails on any disagreement the known-limits
//! tables do not explain, and checks what the kernels themselves say about
//! module kfuncs, kfunc flavors and typed ksyms.
//!
//! Skips (with a message) without qemu, busybox or the packages (no apt,
//! no network); fails instead under `BPFLD_REQUIRE_KERNEL=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use bpfld_boot::GuestCommand;
use bpfld_matrix::compare::Binding;
use bpfld_matrix::{run, Column, MatrixConfig, MatrixError, MatrixReport};

fn required() -> bool {
    std::env::var("BPFLD_REQUIRE_KERNEL").as_deref() == Ok("1")
}

fn skip(why: &str) {
    if required() {
        panic!("kernel matrix cannot run and BPFLD_REQUIRE_KERNEL=1: {why}");
    }
    eprintln!("skipped: kernel matrix: {why}");
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the checkout")
}

/// The target directory this test was built in (`<target>/<profile>/deps/<exe>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    exe.parent().and_then(Path::parent).and_then(Path::parent).expect("<target>/<profile>/deps").to_path_buf()
}

fn cargo_build(args: &[&str]) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(repo())
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build --release {} failed", args.join(" "));
}

/// The release `bpfld`, the libbpf reference loader and the arena round
/// trip, built into this test's target directory (no-ops when `cargo test
/// --workspace --release` built them already).
fn release_loaders() -> (PathBuf, PathBuf, PathBuf) {
    cargo_build(&["-p", "bpfld-cli"]);
    cargo_build(&["-p", "bpfld-reference", "--example", "libbpf_load"]);
    cargo_build(&["-p", "bpfld", "--example", "arena_roundtrip"]);
    let release = target_dir().join("release");
    (release.join("bpfld"), release.join("examples/libbpf_load"), release.join("examples/arena_roundtrip"))
}

/// What Linux 5.10 lacks of `bpfld features` (each feature's release in
/// parentheses), and what it has.
const LACKS_5_10: &[&str] = &[
    "btf_float",              // 5.13
    "btf_decl_tag",           // 5.16
    "btf_type_tag",           // 5.17
    "btf_enum64",             // 6.0
    "btf_qmark_datasec",      // 6.9
    "module_btf",             // 5.11
    "memcg_account",          // 5.11
    "perf_link",              // 5.15
    "bpf_cookie",             // 5.15
    "kprobe_multi_link",      // 5.18
    "uprobe_multi_link",      // 6.6
    "arg_ctx_tag",            // 6.8
    "uprobe_syscall",         // 6.17
    "ldimm64_full_range_off", // 6.19
    "kfunc_call",             // 5.13
];
const HAS_5_10: &[&str] = &[
    "prog_name",
    "global_data",
    "btf",
    "btf_func",
    "btf_global_func",
    "btf_datasec",
    "array_mmap",
    "exp_attach_type",
    "probe_read_kernel",
    "prog_bind_map",
    "syscall_wrapper",
];

/// Every column's runtime probes were compared with the offline
/// derivation (the matrix failed on any unlisted difference); on 5.10
/// exactly the features 5.10 lacks are reported missing by the probes.
fn check_features(report: &MatrixReport) {
    for c in &report.columns {
        let t = c.features.as_ref().unwrap_or_else(|| panic!("{}: no feature table", c.kernel.release));
        assert_eq!(t.probed.len(), LACKS_5_10.len() + HAS_5_10.len(), "{}: features probed: {:?}", c.kernel.release, t.probed);
        println!("{}: features missing by probe: {}", c.kernel.release, t.missing().join(" "));
    }
    for k in columns(report, "5.10.") {
        let t = k.features.as_ref().expect("checked");
        for f in LACKS_5_10 {
            assert_eq!(t.probed.get(*f), Some(&false), "{}: the probe reports {f}, which 5.10 lacks", k.kernel.release);
        }
        for f in HAS_5_10 {
            assert_eq!(t.probed.get(*f), Some(&true), "{}: the probe misses {f}, which 5.10 has", k.kernel.release);
        }
    }
}

/// The guest command that runs the arena round trip (crates/bpfld's
/// example) on tests/bpf/obj/arena_globals.bpf.o.
fn arena_command(exe: PathBuf) -> GuestCommand {
    GuestCommand { name: "arena".into(), exe, args: vec!["{objs}/arena_globals.bpf.o".into()] }
}

/// Arenas for real where the kernel has them (6.9+: the 6.12 guests; this
/// host refuses arena maps): bpfld copied the `__arena` globals' initial
/// values into the mapping, the program's writes show through it, user
/// space's writes reach the program; libbpf loads the object there too.
/// Before 6.9 both loaders refuse it.
fn check_arena(report: &MatrixReport) {
    for k in report.columns.iter().filter(|c| !c.kernel.host) {
        let g = k.guest.as_ref().expect("a guest column");
        let out = g.commands.get("arena").unwrap_or_else(|| panic!("{}: no arena round trip in the console", k.kernel.release));
        let v: serde_json::Value =
            serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{}: arena_roundtrip: {e}: {out:?}", k.kernel.release));
        let libbpf_loads = k.libbpf["arena_globals.bpf.o"].loads();
        if !k.kernel.release.starts_with("6.12.") {
            assert_eq!(out.exit_code, Some(1), "{}: {v}", k.kernel.release);
            assert!(v["error"].as_str().is_some_and(|e| e.contains("map 'arena'")), "{}: {v}", k.kernel.release);
            assert!(!libbpf_loads, "{}: libbpf created an arena before 6.9", k.kernel.release);
            continue;
        }
        assert_eq!(out.exit_code, Some(0), "{}: {v} {}", k.kernel.release, out.stderr);
        assert!(libbpf_loads && k.observed["arena_globals.bpf.o"].loads(), "{}: arena_globals loads with both", k.kernel.release);
        assert_eq!(v["arena"]["len"], 4 * 4096, "{}: 4 pages mapped", k.kernel.release);
        let expect = |at: &str, runs: u64, from_user: u64, doubled: u64, greeting: &str| {
            let s = &v[at];
            assert_eq!(
                (s["runs"].as_u64(), s["from_user"].as_u64(), s["doubled"].as_u64(), s["greeting"].as_str()),
                (Some(runs), Some(from_user), Some(doubled), Some(greeting)),
                "{}: {at}: {v}",
                k.kernel.release
            );
        };
        // Initial values copied in after mmap (from_user set before the load).
        expect("loaded", 1000, 21, 0, "hello, arena");
        assert_eq!(v["retval"], 0);
        // The program's writes, read through the mapping.
        expect("after_run", 1001, 21, 42, "Hello, arena");
        // User space wrote from_user through the mapping; the program read it.
        assert_eq!(v["retval_after_user_write"], 0);
        expect("after_user_write", 1002, 500, 1000, "Hello, arena");
        println!("{}: arena round trip: {v}", k.kernel.release);
    }
}

fn shared_btf() -> Option<PathBuf> {
    let dir = repo().join("../shared/btf");
    dir.join("README.md").exists().then_some(dir)
}

/// Every guest column whose release starts with `prefix`.
fn columns<'a>(r: &'a MatrixReport, prefix: &str) -> Vec<&'a Column> {
    let v: Vec<&Column> = r.columns.iter().filter(|c| !c.kernel.host && c.kernel.release.starts_with(prefix)).collect();
    assert!(!v.is_empty(), "no column {prefix}*");
    v
}

fn binding<'a>(c: &'a Column, object: &str, name: &str) -> &'a Binding {
    let row = c.row(object).unwrap_or_else(|| panic!("{}: no row {object}", c.kernel.release));
    row.bindings.iter().find(|b| b.name == name).unwrap_or_else(|| panic!("{}: {object}: no extern {name}", c.kernel.release))
}

/// Whether the kernel loaded `program` of `object`, and its error.
fn loaded(c: &Column, object: &str, program: &str) -> (bool, String) {
    let o = c.observed.get(&format!("{object}.bpf.o")).unwrap_or_else(|| panic!("{}: {object} not loaded", c.kernel.release));
    if let Some(why) = &o.refused {
        return (false, why.clone());
    }
    let p = o.programs.iter().find(|p| p.name == program).unwrap_or_else(|| panic!("{}: {object}: no program {program}", c.kernel.release));
    (p.loaded, format!("{} {}", p.error.as_deref().unwrap_or(""), p.log.as_deref().unwrap_or("")))
}

/// The real binding agrees with the predicted one where the load reports
/// its externs (the comparison itself checked BTF id and slot).
fn real_agrees(c: &Column, b: &Binding) {
    if let Some(real) = &b.observed {
        assert_eq!(real, &b.predicted, "{}: {} bound differently for real", c.kernel.release, b.name);
    }
}

#[test]
fn kernel_matrix() {
    let mut cfg = MatrixConfig::new(PathBuf::new(), repo().join("tests/bpf/obj"));
    cfg.shared_btf = shared_btf();
    // The host column needs bpf(); the guests do not.
    cfg.host = bpfld_sys::bpf_usable().is_ok() || bpfld_testdata::require_kernel();
    let (bpfld, libbpf, arena) = release_loaders();
    cfg.bpfld = bpfld.clone();
    cfg.libbpf = Some(libbpf);
    cfg.commands.push(arena_command(arena));
    let report = match run(&cfg) {
        Ok(r) => r,
        Err(MatrixError::Unavailable(why)) => return skip(&why),
        Err(e) => panic!("kernel matrix: {e}"),
    };
    println!("{}", bpfld_matrix::report::render(&report));
    let failures = report.failures();
    assert!(failures.is_empty(), "prediction and reality disagree:\n{}", failures.join("\n"));
    check_boot_agrees(&bpfld, &report);
    check_features(&report);
    check_arena(&report);

    assert_eq!(columns(&report, "").len(), 5, "5.10, two 6.1 and two 6.12 guests");
    for k in &report.columns {
        assert!(!k.libbpf.is_empty(), "{}: no libbpf results", k.kernel.release);
        assert_eq!(k.libbpf.len(), k.observed.len(), "{}: libbpf ran on every object", k.kernel.release);
    }

    // 5.10: no module BTF (it came in 5.11) and no kfunc calls (5.13), so
    // the module kfunc checks below cannot apply; what 5.10 says instead:
    for k in columns(&report, "5.10.") {
        eprintln!("{}: module kfunc checks skipped: no module BTF before Linux 5.11 (and no kfunc calls before 5.13)", k.kernel.release);
        let g = k.guest.as_ref().expect("a guest column");
        assert!(g.insmods.iter().any(|i| i.name == "nf_conntrack" && i.rc == 0), "{}: nf_conntrack not inserted", k.kernel.release);
        assert_eq!(g.btf, ["vmlinux"], "{}: a module with BTF on 5.10", k.kernel.release);
        for side in [&k.observed, &k.libbpf] {
            let o = &side["kfunc_module_call.bpf.o"];
            assert!(o.refused.is_some(), "{}: kfunc_module_call loaded without module BTF", k.kernel.release);
        }
    }

    let k61s = columns(&report, "6.1.");
    let k612s = columns(&report, "6.12.");
    for k in k61s.iter().chain(&k612s).copied() {
        let g = k.guest.as_ref().expect("a guest column");
        for m in ["nf_conntrack", "tcp_bbr"] {
            assert!(g.insmods.iter().any(|i| i.name == m && i.rc == 0), "{}: {m} not inserted", k.kernel.release);
            assert!(g.btf.iter().any(|b| b == m), "{}: no /sys/kernel/btf/{m}", k.kernel.release);
        }
        // A module kfunc called for real: resolved in nf_conntrack's BTF,
        // the call's off naming fd_array slot 1, and the verifier agrees.
        for name in ["bpf_xdp_ct_lookup", "bpf_ct_release"] {
            let b = binding(k, "kfunc_module_call", name);
            assert!(
                b.predicted.starts_with("nf_conntrack [") && b.predicted.ends_with(" slot 1"),
                "{}: {name}: {}",
                k.kernel.release,
                b.predicted
            );
            real_agrees(k, b);
        }
        let (ok, why) = loaded(k, "kfunc_module_call", "ct_call");
        assert!(ok, "{}: kfunc_module_call: {why}", k.kernel.release);
        // Typed ksym: Debian has CONFIG_KALLSYMS_ALL, so the verifier finds
        // the address of the per-CPU `runqueues`, where the kernel's BTF
        // has per-CPU variables at all (the bullseye backport's does not:
        // the object is then refused, as predicted, by bpfld and libbpf).
        let o = &k.observed["ksym_typed.bpf.o"];
        if k.kernel.release.starts_with("6.1.0-0.deb11.") {
            assert!(
                o.refused.as_deref().is_some_and(|r| r.contains("'runqueues': not found in kernel BTF")),
                "{}: {o:?}",
                k.kernel.release
            );
            assert!(k.libbpf["ksym_typed.bpf.o"].refused.is_some(), "{}: libbpf loaded ksym_typed", k.kernel.release);
        } else {
            let (ok, why) = loaded(k, "ksym_typed", "read_rq");
            assert!(ok, "{}: ksym_typed: {why}", k.kernel.release);
            assert!(binding(k, "ksym_typed", "runqueues").predicted.starts_with("vmlinux ["));
        }
    }

    for k612 in k612s.iter().copied() {
        // 6.12: kfunc_module's guarded lookup loads with the module kfunc.
        let b = binding(k612, "kfunc_module", "bpf_xdp_ct_lookup");
        assert!(b.predicted.starts_with("nf_conntrack [") && b.predicted.ends_with(" slot 1"), "{}", b.predicted);
        real_agrees(k612, b);
        assert!(loaded(k612, "kfunc_module", "ct_lookup").0);
        assert!(loaded(k612, "kfunc_bbr", "which_bbr").0);
        // Three flavors: ___one binds on 6.12.
        assert!(binding(k612, "kfunc_flavors", "bpf_task_acquire___one").predicted.starts_with("vmlinux ["));
        assert!(binding(k612, "kfunc_flavors", "bpf_task_acquire___two").predicted.starts_with("unresolved"));
        assert!(loaded(k612, "kfunc_flavors", "acquire_any").0);
    }
    for k61 in k61s.iter().copied() {
        // 6.1: the same object resolves the same way. libbpf's
        // bpf_ksym_exists() of a kfunc is an ld_imm64 of a FUNC, which 6.1's
        // verifier refuses ("isn't KIND_VAR"); bpfld loads the constant 1
        // there instead, so the guarded program loads on 6.1 too.
        assert!(binding(k61, "kfunc_module", "bpf_xdp_ct_lookup").predicted.starts_with("nf_conntrack ["));
        let (ok, why) = loaded(k61, "kfunc_module", "ct_lookup");
        assert!(ok, "6.1: kfunc_module: {why}");
        assert!(loaded(k61, "kfunc_bbr", "which_bbr").0, "bpf_ksym_exists() of a kfunc loads on 6.1 with bpfld");
        // Three flavors: none on 6.1 (bpf_task_acquire came in 6.2) and the
        // program still loads, its calls poisoned and unreachable.
        for f in ["bpf_task_acquire___one", "bpf_task_acquire___two", "bpf_task_acquire___three"] {
            assert!(binding(k61, "kfunc_flavors", f).predicted.starts_with("unresolved"), "6.1: {f}");
        }
        assert!(loaded(k61, "kfunc_flavors", "acquire_any").0);
    }

    // bbr_main: the flavor matching each kernel's prototype, in tcp_bbr.
    for (ks, good, bad) in [(&k61s, "bbr_main___v6_1", "bbr_main___v6_12"), (&k612s, "bbr_main___v6_12", "bbr_main___v6_1")] {
        for k in ks.iter().copied() {
            let g = binding(k, "kfunc_bbr", good);
            assert!(
                g.predicted.starts_with("tcp_bbr [") && g.predicted.ends_with(" slot 1"),
                "{}: {good}: {}",
                k.kernel.release,
                g.predicted
            );
            real_agrees(k, g);
            assert!(binding(k, "kfunc_bbr", bad).predicted.starts_with("unresolved"));
        }
    }

    // The host: without CONFIG_KALLSYMS_ALL the verifier cannot find
    // `runqueues`' address.
    if let Some(h) = report.host() {
        if !h.kernel.config_enabled("CONFIG_KALLSYMS_ALL") {
            let (ok, why) = loaded(h, "ksym_typed", "read_rq");
            assert!(!ok && why.contains("failed to find the address"), "host: ksym_typed: {why}");
        }
    }
}

/// `bpfld check --boot --json` on one 6.1 and one 6.12 Debian package:
/// every program's verdict equals what the matrix's guests of the same
/// kernels saw (the same machinery, reached through the command line).
fn check_boot_agrees(bpfld: &Path, report: &MatrixReport) {
    let objects = ["loader_reject", "kfunc_module_call", "kfunc_bbr", "ksym_typed"];
    let releases = ["6.1.0-56-amd64", "6.12.117+deb12-amd64"];
    let cache = bpfld_testdata::cache_dir();
    let mut cmd = Command::new(bpfld);
    cmd.arg("check");
    for o in objects {
        cmd.arg(repo().join(format!("tests/bpf/obj/{o}.bpf.o")));
    }
    for r in releases {
        let (deb, _) = bpfld_testdata::download_package(&cache, &format!("linux-image-{r}-unsigned")).expect("cached by the matrix");
        cmd.arg("-k").arg(deb);
    }
    cmd.args(["--boot", "--boot-module", "nf_conntrack", "--boot-module", "tcp_bbr", "--json"]);
    let start = std::time::Instant::now();
    let out = cmd.output().expect("run bpfld check --boot");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --boot --json: {e}\n{}", String::from_utf8_lossy(&out.stderr)));
    let kernels = v["boot"]["kernels"].as_array().expect("boot.kernels");
    assert_eq!(kernels.len(), 2);
    let mut compared = 0;
    for (k, r) in kernels.iter().zip(releases) {
        assert_eq!(k["release"], r);
        assert!(k["error"].is_null(), "{r}: {}", k["error"]);
        println!("check --boot: {r} guest {:.1} s", k["guest_seconds"].as_f64().unwrap_or(0.0));
        let col = report.columns.iter().find(|c| c.kernel.release == r).expect("the matrix booted it");
        for (o, name) in k["objects"].as_array().expect("objects").iter().zip(objects) {
            let seen = &col.observed[&format!("{name}.bpf.o")];
            assert_eq!(o["refused"].is_null(), seen.refused.is_none(), "{r}: {name}: refused");
            for p in o["programs"].as_array().expect("programs") {
                let pname = p["name"].as_str().expect("name");
                let matrix = seen.programs.iter().find(|x| x.name == pname).map(|x| x.loaded);
                assert_eq!(p["loaded"].as_bool(), matrix, "{r}: {name}: {pname}: check --boot vs the matrix");
                compared += 1;
            }
        }
    }
    assert!(compared >= 10, "{compared} programs compared");
    // The prediction beside it: loader_reject's bad_packet_read is planned
    // and refused by the verifier, its log's last lines given.
    let bad = &kernels[0]["objects"][0]["programs"][2];
    assert_eq!(
        (bad["name"].as_str(), bad["predicted"].as_str(), bad["loaded"].as_bool()),
        (Some("bad_packet_read"), Some("planned"), Some(false))
    );
    assert!(bad["log_tail"].to_string().contains("invalid access to packet"), "{bad}");
    println!("check --boot on 2 kernels, 4 objects: {:.1} s", start.elapsed().as_secs_f64());
}
