//! `kernel-matrix`: boots the matrix's kernels, loads every test object on
//! them and on the host, compares with `bpfld check`. Run it through
//! `scripts/kernel-matrix.sh`, which builds the release `bpfld` first.
//!
//! Exit status: 0 when every disagreement is a known limit, 1 otherwise,
//! 3 when this machine cannot run the matrix (no qemu, no packages), which
//! is 1 under `BPFLD_REQUIRE_KERNEL=1`.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use bpfld_matrix::kernel::KernelSpec;
use bpfld_matrix::{run, MatrixConfig, MatrixError};

const USAGE: &str = "usage: kernel-matrix [--bpfld PATH] [--libbpf PATH] [--objects DIR] [--cache DIR] [--kernel RELEASE|PACKAGE-PATTERN]... [--no-host] [--timeout SECS] [--shared-btf DIR]";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo().join("target"));
    let mut cfg = MatrixConfig::new(target.join("release/bpfld"), repo().join("tests/bpf/obj"));
    // cargo build --release -p bpfld-reference --example libbpf_load
    let libbpf = target.join("release/examples/libbpf_load");
    cfg.libbpf = libbpf.exists().then_some(libbpf);
    // cargo build --release -p bpfld --example arena_roundtrip
    let arena = target.join("release/examples/arena_roundtrip");
    if arena.exists() {
        cfg.commands.push(bpfld_boot::GuestCommand { name: "arena".into(), exe: arena, args: vec!["{objs}/arena_globals.bpf.o".into()] });
    }
    let shared = repo().join("../shared/btf");
    cfg.shared_btf = shared.join("README.md").exists().then_some(shared);
    let mut kernels = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |what: &str| args.next().ok_or_else(|| format!("{a}: needs {what}"));
        let res: Result<(), String> = (|| {
            match a.as_str() {
                "--bpfld" => cfg.bpfld = value("a path")?.into(),
                "--libbpf" => cfg.libbpf = Some(value("a path")?.into()),
                "--objects" => cfg.objects_dir = value("a directory")?.into(),
                "--cache" => cfg.cache = value("a directory")?.into(),
                "--kernel" => kernels.push(KernelSpec::parse(&value("a release or package pattern")?)),
                "--no-host" => cfg.host = false,
                "--timeout" => cfg.timeout = Duration::from_secs(value("seconds")?.parse().map_err(|e| format!("--timeout: {e}"))?),
                "--shared-btf" => cfg.shared_btf = Some(value("a directory")?.into()),
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unknown argument '{other}'")),
            }
            Ok(())
        })();
        if let Err(e) = res {
            if !e.is_empty() {
                eprintln!("kernel-matrix: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    }
    if !kernels.is_empty() {
        cfg.kernels = kernels;
    }
    match run(&cfg) {
        Ok(report) => {
            print!("{}", bpfld_matrix::report::render(&report));
            if report.failures().is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(MatrixError::Unavailable(why)) => {
            eprintln!("kernel-matrix: cannot run here: {why}");
            if std::env::var("BPFLD_REQUIRE_KERNEL").as_deref() == Ok("1") {
                ExitCode::from(1)
            } else {
                ExitCode::from(3)
            }
        }
        Err(e) => {
            eprintln!("kernel-matrix: {e}");
            ExitCode::from(1)
        }
    }
}
