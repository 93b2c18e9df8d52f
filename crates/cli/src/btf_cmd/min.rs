//! `bpfld btf min OBJ... --kernel K -o OUT.btf`: the kernel's vmlinux BTF
//! reduced to what the objects need (`bpftool gen min_core_btf`), for
//! kernels built without BTF (`bpfld load --btf OUT.btf`).

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_fleet::min_btf::min_btf;
use bpfld_fleet::TargetFiles;
use clap::Args;

use crate::plan_cmd::open_object;
use crate::CliResult;

#[derive(Args)]
pub struct MinArgs {
    /// The BPF objects the reduced BTF must serve.
    #[arg(required = true, value_name = "OBJ")]
    pub objs: Vec<PathBuf>,
    /// The kernel: a release directory, a vmlinux BTF file, or the `NAME`
    /// directory beside `NAME.btf` (docs/targets.md).
    #[arg(long, short = 'k', value_name = "PATH")]
    pub kernel: PathBuf,
    /// Where to write the reduced BTF.
    #[arg(long, short = 'o', value_name = "OUT.btf")]
    pub output: PathBuf,
    /// Print what was written as JSON (sizes, type count, each kept type's
    /// id in the kernel's BTF) instead of a line of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: MinArgs) -> CliResult {
    let objects = a.objs.iter().map(open_object).collect::<Result<Vec<_>, _>>()?;
    let files = TargetFiles::validate(&a.kernel).map_err(|e| format!("--kernel {e}"))?;
    let min = min_btf(&objects, &files.vmlinux).map_err(|e| e.to_string())?;
    std::fs::write(&a.output, &min.bytes).map_err(|e| format!("{}: {e}", a.output.display()))?;
    let full = std::fs::metadata(&files.vmlinux).map(|m| m.len()).unwrap_or(0);
    if a.json {
        let report = crate::report::BtfMinReport {
            output: a.output.display().to_string(),
            kernel: files.vmlinux.display().to_string(),
            bytes: min.bytes.len(),
            types: min.original_ids.len(),
            kernel_bytes: full,
            original_ids: &min.original_ids,
        };
        crate::report::print_document_line("btf-min", &report);
    } else {
        println!(
            "{}: {} bytes, {} types (from {}: {full} bytes)",
            a.output.display(),
            min.bytes.len(),
            min.original_ids.len(),
            files.vmlinux.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
