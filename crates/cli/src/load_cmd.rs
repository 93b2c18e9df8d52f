//! `bpfld load`: load every program of an object into the running kernel.

use std::path::PathBuf;

use clap::Args;

use crate::CliResult;

#[derive(Args)]
pub struct LoadArgs {
    /// The BPF object (clang -target bpf output).
    pub obj: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(_a: LoadArgs) -> CliResult {
    Err("load: not implemented yet".into())
}
