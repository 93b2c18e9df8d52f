//! `bpfld`: open, plan, load and inspect BPF objects and BTF.
#![forbid(unsafe_code)]

mod boot_cmd;
mod btf_cmd;
mod check_cmd;
mod features_cmd;
mod gen_cmd;
mod load_cmd;
mod plan_cmd;
mod report;
mod run_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "bpfld", version, about = "A pure-Rust eBPF object loader")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Inspect BTF files.
    #[command(subcommand)]
    Btf(btf_cmd::BtfCmd),
    /// Load every program of an object into the running kernel (needs root
    /// or CAP_BPF).
    Load(load_cmd::LoadArgs),
    /// Print the final instructions each program would be loaded with,
    /// without touching the kernel.
    Plan(plan_cmd::PlanArgs),
    /// Predict, offline, whether an object loads on each of many kernels
    /// and which flavor of each kfunc binds there.
    Check(check_cmd::CheckArgs),
    /// What a kernel supports (libbpf's feature probes): probed on the
    /// running kernel, or derived offline from a kernel's BTF with -k.
    Features(features_cmd::FeaturesArgs),
    /// Generate code from objects (`gen skeleton`: Rust skeletons).
    #[command(subcommand)]
    Gen(gen_cmd::GenCmd),
    /// Load, attach every program that says where, print ring buffer and
    /// perf buffer records as they arrive; at the end (--duration, Ctrl-C)
    /// detach and print the maps decoded with BTF.
    Run(run_cmd::RunArgs),
}

fn main() -> ExitCode {
    bpfld_sys::default_sigpipe();
    let cli = Cli::parse();
    let res = match cli.cmd {
        Cmd::Btf(c) => btf_cmd::run(c),
        Cmd::Load(a) => load_cmd::run(a),
        Cmd::Plan(a) => plan_cmd::run(a),
        Cmd::Check(a) => check_cmd::run(a),
        Cmd::Features(a) => features_cmd::run(a),
        Cmd::Gen(c) => gen_cmd::run(c),
        Cmd::Run(a) => run_cmd::run(a),
    };
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("bpfld: {e}");
            ExitCode::from(2)
        }
    }
}

/// Errors of the command line: already formatted "context: cause".
pub type CliResult = Result<ExitCode, String>;

/// Names the object by its file path in an error message that names it by
/// its object name (the file name's stem, at most 15 characters, as libbpf
/// names objects and their maps): the user knows the path they typed.
pub fn name_by_path(message: &str, path: &std::path::Path) -> String {
    let name = bpfld_obj::object::object_name_from_path(&path.to_string_lossy());
    match message.strip_prefix(&format!("{name}: ")) {
        Some(rest) => format!("{}: {rest}", path.display()),
        None => message.to_string(),
    }
}

/// Escapes a string for JSON output.
pub fn json_str(s: &str) -> serde_json::Value {
    serde_json::Value::String(s.to_string())
}
