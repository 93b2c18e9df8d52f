//! `bpfld features`: what a kernel supports, as libbpf 1.7 asks before it
//! loads: probed on the running kernel, or derived offline from a kernel's
//! BTF (`-k`), without a probe.

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld::{Feature, KernelFeatures};
use bpfld_fleet::release_dir::load_files;
use bpfld_fleet::TargetFiles;
use clap::Args;

use crate::CliResult;

#[derive(Args)]
pub struct FeaturesArgs {
    /// A kernel to derive the features of from its BTF, offline (a release
    /// directory or a vmlinux BTF file, as for `check`); repeatable.
    /// Without it, the running kernel is probed.
    #[arg(long = "kernel", short = 'k', value_name = "PATH")]
    pub kernels: Vec<PathBuf>,
    /// As JSON: `{"kernels": [{"kernel", "source", "features": {name: bool}}]}`.
    #[arg(long)]
    pub json: bool,
}

/// One column: a kernel's name, how its features were known, the features.
struct Column {
    kernel: String,
    source: &'static str,
    features: KernelFeatures,
}

pub fn run(a: FeaturesArgs) -> CliResult {
    let columns = if a.kernels.is_empty() {
        let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_string();
        vec![Column { kernel: release, source: "probed", features: *bpfld::features() }]
    } else {
        a.kernels.iter().map(|k| offline(k)).collect::<Result<Vec<_>, _>>()?
    };
    if a.json {
        print_json(&columns);
    } else {
        print_table(&columns);
    }
    Ok(ExitCode::SUCCESS)
}

/// A kernel's features from its vmlinux BTF and version (modules and
/// kallsyms are not read: no feature depends on them).
fn offline(path: &std::path::Path) -> Result<Column, String> {
    let mut files = TargetFiles::validate(path).map_err(|e| format!("-k {e}"))?;
    files.modules_dir = None;
    files.kallsyms = None;
    let target = load_files(&files).map_err(|e| e.to_string())?;
    Ok(Column { kernel: target.name.clone(), source: "btf", features: target.features() })
}

fn print_table(columns: &[Column]) {
    let width = Feature::ALL.iter().map(|f| f.name().len()).max().unwrap_or(0);
    print!("{:width$}  since", "feature");
    for c in columns {
        print!("  {} ({})", c.kernel, c.source);
    }
    println!();
    for &f in Feature::ALL {
        print!("{:width$}  {:5}", f.name(), f.since().to_string());
        for c in columns {
            let w = c.kernel.len() + c.source.len() + 3;
            print!("  {:w$}", if c.features.has(f) { "yes" } else { "NO" });
        }
        println!("  {}", f.description());
    }
}

fn print_json(columns: &[Column]) {
    let kernels = columns
        .iter()
        .map(|c| crate::report::KernelFeaturesReport {
            kernel: c.kernel.to_string(),
            source: c.source.to_string(),
            features: Feature::ALL.iter().map(|&f| (f.name(), c.features.has(f))).collect(),
        })
        .collect();
    crate::report::print_document_line("features", &crate::report::FeaturesReport { kernels });
}
