//! `bpfld btf index K...`: each kernel's record index, written beside its
//! vmlinux BTF for later checks (`bpfld_fleet::record_index`).

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_fleet::record_index::write_record_index;
use bpfld_fleet::TargetFiles;
use clap::Args;

use crate::report::{BtfIndexReport, WrittenIndexReport};
use crate::CliResult;

#[derive(Args)]
pub struct IndexArgs {
    /// The kernels: release directories, vmlinux BTF files, or the `NAME`
    /// directories beside `NAME.btf` (docs/targets.md).
    #[arg(required = true, value_name = "KERNEL")]
    pub kernels: Vec<PathBuf>,
    /// Print what was written as JSON (each index's path and size, the BTF
    /// it indexes and its type count) instead of a line per kernel
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: IndexArgs) -> CliResult {
    // Every path is checked before anything is written.
    let targets = TargetFiles::validate_all(&a.kernels, 0).map_err(|e| e.to_string())?;
    let mut indexes = Vec::new();
    for files in &targets {
        let written = write_record_index(files).map_err(|e| e.to_string())?;
        if !a.json {
            println!("{}: {} bytes, {} types (of {})", written.path.display(), written.bytes, written.types, written.vmlinux.display());
        }
        indexes.push(WrittenIndexReport {
            path: written.path.display().to_string(),
            bytes: written.bytes,
            vmlinux: written.vmlinux.display().to_string(),
            types: written.types,
        });
    }
    if a.json {
        crate::report::print_document("btf-index", &BtfIndexReport { indexes });
    }
    Ok(ExitCode::SUCCESS)
}
