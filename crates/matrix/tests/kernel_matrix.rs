//! The real-kernel matrix as a test: Debian's 6.1 and 6.12 kernels under
//! qemu plus the host, every object of tests/bpf/obj loaded on each, each
//! result compared with `bpfld check`'s prediction from that kernel's
//! package. Fails on any disagreement the known-limits table does not
//! explain, and checks what the kernels themselves say about module
//! kfuncs, kfunc flavors and typed ksyms.
//!
//! Skips (with a message) without qemu, busybox or the packages (no apt,
//! no network); fails instead under `BPFLD_REQUIRE_KERNEL=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The release `bpfld`, built into this test's target directory (a no-op
/// when `cargo test --workspace --release` built it already).
fn release_bpfld() -> PathBuf {
    let target = target_dir();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--quiet", "-p", "bpfld-cli"])
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(repo())
        .status()
        .expect("run cargo");
    assert!(status.success(), "cargo build --release -p bpfld-cli failed");
    target.join("release/bpfld")
}

fn shared_btf() -> Option<PathBuf> {
    let dir = repo().join("../shared/btf");
    dir.join("README.md").exists().then_some(dir)
}

fn column<'a>(r: &'a MatrixReport, release: &str) -> &'a Column {
    r.column(release).unwrap_or_else(|| panic!("no column {release}"))
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
    cfg.bpfld = release_bpfld();
    let report = match run(&cfg) {
        Ok(r) => r,
        Err(MatrixError::Unavailable(why)) => return skip(&why),
        Err(e) => panic!("kernel matrix: {e}"),
    };
    println!("{}", bpfld_matrix::report::render(&report));
    let failures = report.failures();
    assert!(failures.is_empty(), "prediction and reality disagree:\n{}", failures.join("\n"));

    let k61 = column(&report, "6.1.");
    let k612 = column(&report, "6.12.");
    for k in [k61, k612] {
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
        // the address of the per-CPU `runqueues`.
        let (ok, why) = loaded(k, "ksym_typed", "read_rq");
        assert!(ok, "{}: ksym_typed: {why}", k.kernel.release);
        assert!(binding(k, "ksym_typed", "runqueues").predicted.starts_with("vmlinux ["));
    }

    // 6.12: kfunc_module's guarded lookup loads with the module kfunc.
    let b = binding(k612, "kfunc_module", "bpf_xdp_ct_lookup");
    assert!(b.predicted.starts_with("nf_conntrack [") && b.predicted.ends_with(" slot 1"), "{}", b.predicted);
    real_agrees(k612, b);
    assert!(loaded(k612, "kfunc_module", "ct_lookup").0);
    // 6.1: the same object resolves the same way. libbpf's bpf_ksym_exists()
    // of a kfunc is an ld_imm64 of a FUNC, which 6.1's verifier refuses
    // ("isn't KIND_VAR"); bpfld loads the constant 1 there instead, so the
    // guarded program loads on 6.1 too.
    assert!(binding(k61, "kfunc_module", "bpf_xdp_ct_lookup").predicted.starts_with("nf_conntrack ["));
    let (ok, why) = loaded(k61, "kfunc_module", "ct_lookup");
    assert!(ok, "6.1: kfunc_module: {why}");

    // bbr_main: the flavor matching each kernel's prototype, in tcp_bbr.
    for (k, good, bad) in [(k61, "bbr_main___v6_1", "bbr_main___v6_12"), (k612, "bbr_main___v6_12", "bbr_main___v6_1")] {
        let g = binding(k, "kfunc_bbr", good);
        assert!(g.predicted.starts_with("tcp_bbr [") && g.predicted.ends_with(" slot 1"), "{}: {good}: {}", k.kernel.release, g.predicted);
        real_agrees(k, g);
        assert!(binding(k, "kfunc_bbr", bad).predicted.starts_with("unresolved"));
    }
    assert!(loaded(k612, "kfunc_bbr", "which_bbr").0);
    assert!(loaded(k61, "kfunc_bbr", "which_bbr").0, "bpf_ksym_exists() of a kfunc loads on 6.1 with bpfld");

    // Three flavors: none on 6.1 (bpf_task_acquire came in 6.2) and the
    // program still loads, its calls poisoned and unreachable; ___one on
    // 6.12.
    for f in ["bpf_task_acquire___one", "bpf_task_acquire___two", "bpf_task_acquire___three"] {
        assert!(binding(k61, "kfunc_flavors", f).predicted.starts_with("unresolved"), "6.1: {f}");
    }
    assert!(loaded(k61, "kfunc_flavors", "acquire_any").0);
    assert!(binding(k612, "kfunc_flavors", "bpf_task_acquire___one").predicted.starts_with("vmlinux ["));
    assert!(binding(k612, "kfunc_flavors", "bpf_task_acquire___two").predicted.starts_with("unresolved"));
    assert!(loaded(k612, "kfunc_flavors", "acquire_any").0);

    // The host: without CONFIG_KALLSYMS_ALL the verifier cannot find
    // `runqueues`' address.
    if let Some(h) = report.host() {
        if !h.kernel.config_enabled("CONFIG_KALLSYMS_ALL") {
            let (ok, why) = loaded(h, "ksym_typed", "read_rq");
            assert!(!ok && why.contains("failed to find the address"), "host: ksym_typed: {why}");
        }
    }
}
