//! `bpfld btf extract`: BTF out of kernel images, modules and Debian
//! kernel packages.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use crate::report::{DebExtractReport, ExtractedModuleReport};
use bpfld_extract::{extract_btf, extract_deb, is_deb, DebOptions};
use clap::Args;

use crate::CliResult;

#[derive(Args)]
pub struct ExtractArgs {
    /// A bzImage (vmlinuz), a vmlinux, a module (.ko, .ko.xz, .ko.zst,
    /// .ko.gz) or a Debian kernel package (.deb).
    input: PathBuf,
    /// The BTF file to write; for a .deb, the kernel release directory.
    /// Its parent directory must exist.
    #[arg(long, short = 'o')]
    output: PathBuf,
    /// (.deb) Only this module (repeatable); default: every module with BTF.
    #[arg(long = "module", value_name = "NAME")]
    modules: Vec<String>,
    /// (.deb) Replace an existing release directory.
    #[arg(long)]
    force: bool,
    /// (.deb) Worker threads; default one per CPU.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The output's directory must exist: nothing is created but the output.
fn check_output_dir(output: &std::path::Path) -> Result<(), String> {
    let dir = output.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    if dir.is_dir() {
        Ok(())
    } else {
        Err(format!("-o {}: directory {} does not exist", output.display(), dir.display()))
    }
}

pub fn run(args: ExtractArgs) -> CliResult {
    check_output_dir(&args.output)?;
    let input = args.input.display().to_string();
    let mut head = [0u8; 8];
    let n = std::fs::File::open(&args.input).and_then(|mut f| f.read(&mut head)).map_err(|e| format!("{input}: {e}"))?;
    if is_deb(&head[..n]) {
        return run_deb(&args);
    }
    if !args.modules.is_empty() {
        return Err(format!("{input}: --module applies to a .deb package only"));
    }
    let bytes = std::fs::read(&args.input).map_err(|e| format!("{input}: {e}"))?;
    let ex = extract_btf(&input, &bytes).map_err(|e| e.to_string())?;
    let Some(btf) = ex.btf else {
        return Err(format!("{input}: {} ({}) has no .BTF section", ex.kind.name(), ex.source.describe()));
    };
    std::fs::write(&args.output, &btf).map_err(|e| format!("{}: {e}", args.output.display()))?;
    let release = match &ex.source {
        bpfld_extract::Source::BzImage { version: Some(v), .. } => v.split_whitespace().next().map(str::to_string),
        _ => None,
    };
    if args.json {
        let report = crate::report::BtfExtractReport {
            input: input.to_string(),
            output: args.output.display().to_string(),
            kind: ex.kind.name(),
            source: ex.source.describe(),
            release,
            btf_bytes: btf.len(),
        };
        crate::report::print_document("btf-extract", &report);
    } else {
        let what = match ex.kind {
            bpfld_extract::ElfKind::Vmlinux => "vmlinux BTF",
            bpfld_extract::ElfKind::Module => "module split BTF",
        };
        let rel = release.map(|r| format!(", release {r}")).unwrap_or_default();
        println!("{input}: {}{rel}: {what} ({} bytes) -> {}", ex.source.describe(), btf.len(), args.output.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_deb(args: &ExtractArgs) -> CliResult {
    let options = DebOptions {
        modules: (!args.modules.is_empty()).then(|| args.modules.iter().cloned().collect::<BTreeSet<_>>()),
        replace: args.force,
        threads: args.threads,
    };
    let start = Instant::now();
    let report = extract_deb(&args.input, &args.output, &options).map_err(|e| e.to_string())?;
    // A release directory is made to be checked against: its record index
    // spares every check the walk over its records (`btf index`).
    let files = bpfld_fleet::TargetFiles::locate(&args.output).map_err(|e| e.to_string())?;
    let index = bpfld_fleet::record_index::write_record_index(&files).map_err(|e| e.to_string())?;
    let secs = start.elapsed().as_secs_f64();
    let out = args.output.display();
    if args.json {
        let modules = report
            .modules
            .iter()
            .map(|m| ExtractedModuleReport { name: m.name.clone(), path: m.path.clone(), btf_bytes: m.btf_len })
            .collect();
        let doc = DebExtractReport {
            input: args.input.display().to_string(),
            output: out.to_string(),
            release: &report.release,
            data_tar: &report.data_tar,
            kernel: report.kernel_source.describe(),
            vmlinux_btf_bytes: report.vmlinux_btf_len,
            record_index_bytes: index.bytes,
            config: report.config,
            modules,
            modules_without_btf: &report.modules_without_btf,
            duplicate_modules: &report.duplicate_modules,
            seconds: secs,
        };
        crate::report::print_document("btf-extract", &doc);
    } else {
        println!("{}: release {} ({})", args.input.display(), report.release, report.data_tar);
        println!("  {out}/vmlinux.btf: {} bytes ({})", report.vmlinux_btf_len, report.kernel_source.describe());
        println!("  {out}/vmlinux.btf.idx: {} bytes (record index)", index.bytes);
        if report.config {
            println!("  {out}/config");
        } else {
            println!("  no boot/config-{}: {out}/config not written", report.release);
        }
        println!("  {out}/modules/: {} module BTFs ({} modules without .BTF)", report.modules.len(), report.modules_without_btf.len());
        for d in &report.duplicate_modules {
            println!("  warning: duplicate module {d}");
        }
        println!("  {secs:.1} s");
    }
    Ok(ExitCode::SUCCESS)
}
