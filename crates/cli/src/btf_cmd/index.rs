//! `bpfld btf index K...`: each kernel's record index, written beside its
//! vmlinux BTF for later checks (`bpfld_fleet::record_index`).

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_fleet::record_index::write_record_index;
use bpfld_fleet::TargetFiles;
use clap::Args;

use crate::CliResult;

#[derive(Args)]
pub struct IndexArgs {
    /// The kernels: release directories, vmlinux BTF files, or the `NAME`
    /// directories beside `NAME.btf` (docs/targets.md).
    #[arg(required = true, value_name = "KERNEL")]
    pub kernels: Vec<PathBuf>,
}

pub fn run(a: IndexArgs) -> CliResult {
    // Every path is checked before anything is written.
    let targets = a.kernels.iter().map(|k| TargetFiles::validate(k).map_err(|e| e.to_string())).collect::<Result<Vec<_>, _>>()?;
    for files in &targets {
        let written = write_record_index(files).map_err(|e| e.to_string())?;
        println!("{}: {} bytes, {} types (of {})", written.path.display(), written.bytes, written.types, written.vmlinux.display());
    }
    Ok(ExitCode::SUCCESS)
}
