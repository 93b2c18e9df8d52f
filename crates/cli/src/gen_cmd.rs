//! `bpfld gen skeleton OBJ [--name NAME] [-o FILE]`: a Rust skeleton of an
//! object (docs/codegen.md).

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_gen::{skeleton, SkeletonOptions};
use clap::Subcommand;

use crate::CliResult;

#[derive(Subcommand)]
pub enum GenCmd {
    /// Write Rust source for one object: the object embedded, a builder
    /// that opens it, typed structs of its .rodata/.data/.bss sections,
    /// its maps and programs by name, attach() of every program.
    Skeleton {
        /// The BPF object (.bpf.o).
        obj: PathBuf,
        /// Name the skeleton (`foo` makes `FooSkel`); the object's name
        /// by default.
        #[arg(long)]
        name: Option<String>,
        /// Write to FILE instead of standard output.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
    },
}

pub fn run(cmd: GenCmd) -> CliResult {
    let GenCmd::Skeleton { obj, name, output } = cmd;
    let bytes = std::fs::read(&obj).map_err(|e| format!("{}: {e}", obj.display()))?;
    let shown = obj.display().to_string();
    let text = skeleton(&shown, &bytes, &SkeletonOptions { name, ..Default::default() }).map_err(|e| format!("{shown}: {e}"))?;
    match output {
        Some(path) => std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?,
        None => {
            use std::io::Write;
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(format!("writing the skeleton: {e}")),
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
