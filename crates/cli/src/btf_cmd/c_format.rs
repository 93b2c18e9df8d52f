//! `bpfld btf dump FILE --format c [--type NAME]`: C declarations (the
//! `vmlinux.h` of bpftool's `format c`) of a kernel's, a module's or an
//! object's BTF.

use bpfld_btf::c_header;
use std::path::Path;
use std::process::ExitCode;

use crate::CliResult;

pub fn run(file: &Path, base: Option<&Path>, type_name: Option<&str>) -> CliResult {
    let btf = super::open(file, base)?;
    let roots = match type_name {
        None => None,
        Some(name) => {
            let roots = c_header::roots_named(&btf, name).map_err(|e| format!("{}: {e}", file.display()))?;
            if roots.is_empty() {
                return Err(format!("{}: no type named '{name}'", file.display()));
            }
            Some(roots)
        }
    };
    let text = c_header(&btf, roots.as_deref()).map_err(|e| format!("{}: {e}", file.display()))?;
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|_| stdout.flush()) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(format!("writing the header: {e}")),
    }
}
