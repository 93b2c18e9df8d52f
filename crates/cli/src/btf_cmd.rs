//! `bpfld btf dump|find|extract`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bpfld_btf::{dump, essential_name, Btf, Kind};
use clap::Subcommand;
use serde_json::json;

use crate::CliResult;

mod extract;

#[derive(Subcommand)]
pub enum BtfCmd {
    /// List every type in `bpftool btf dump`'s raw format.
    Dump {
        file: PathBuf,
        /// Base BTF (vmlinux) when FILE is a module's split BTF.
        #[arg(long, short = 'B')]
        base: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Find types by name; a name with a `___flavor` also matches by its
    /// essential name, and `--essential` finds every flavor of a name.
    Find {
        file: PathBuf,
        name: String,
        #[arg(long, short = 'B')]
        base: Option<PathBuf>,
        /// Only types of this kind (struct, func, typedef, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Match on essential names: `task_struct` finds `task_struct___old`.
        #[arg(long)]
        essential: bool,
        #[arg(long)]
        json: bool,
    },
    /// Cut BTF out of a kernel image (bzImage or vmlinux) or module
    /// (.ko, .ko.xz, .ko.zst, .ko.gz) into OUTPUT, or turn a Debian kernel
    /// package (.deb) into a kernel release directory OUTPUT (docs/targets.md).
    Extract(extract::ExtractArgs),
}

fn open(file: &PathBuf, base: Option<&PathBuf>) -> Result<Btf, String> {
    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let bytes = Arc::new(read(file)?);
    match base {
        None => Btf::parse(bytes).map_err(|e| format!("{}: {e}", file.display())),
        Some(b) => {
            let base = Btf::parse(Arc::new(read(b)?)).map_err(|e| format!("{}: {e}", b.display()))?;
            Btf::parse_split(bytes, &base).map_err(|e| format!("{}: {e}", file.display()))
        }
    }
}

pub fn run(cmd: BtfCmd) -> CliResult {
    match cmd {
        BtfCmd::Extract(args) => extract::run(args),
        BtfCmd::Dump { file, base, json } => {
            let btf = open(&file, base.as_ref())?;
            if json {
                let mut types = Vec::new();
                for t in btf.own_types() {
                    let mut line = String::new();
                    dump::dump_type(&t, &mut line).map_err(|e| e.to_string())?;
                    types.push(json!({
                        "id": t.id(),
                        "kind": t.kind().name(),
                        "name": t.name().map_err(|e| e.to_string())?,
                        "raw": line.trim_end(),
                    }));
                }
                println!("{}", serde_json::to_string_pretty(&json!({ "types": types })).unwrap_or_default());
            } else {
                print!("{}", dump::dump(&btf).map_err(|e| format!("{}: {e}", file.display()))?);
            }
            Ok(ExitCode::SUCCESS)
        }
        BtfCmd::Find { file, name, base, kind, essential, json } => {
            let btf = open(&file, base.as_ref())?;
            let kind = match kind {
                None => None,
                Some(k) => Some(Kind::from_name(&k).ok_or_else(|| format!("unknown BTF kind '{k}'"))?),
            };
            let ids = if essential {
                btf.find_by_essential_name(essential_name(&name), kind)
            } else {
                let mut v = btf.find(&name, kind);
                if v.is_empty() && essential_name(&name) != name {
                    // A flavored name resolves as libbpf resolves externs.
                    v = btf.find(essential_name(&name), kind);
                }
                v
            };
            let mut out = Vec::new();
            for id in &ids {
                let t = btf.type_by_id(*id).map_err(|e| e.to_string())?;
                let mut line = String::new();
                dump::dump_type(&t, &mut line).map_err(|e| e.to_string())?;
                out.push((t, line));
            }
            if json {
                let v: Vec<_> = out
                    .iter()
                    .map(|(t, line)| json!({"id": t.id(), "kind": t.kind().name(), "name": t.name().unwrap_or(""), "raw": line.trim_end()}))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({ "query": name, "essential_name": essential_name(&name), "types": v }))
                        .unwrap_or_default()
                );
            } else {
                for (_, line) in &out {
                    print!("{line}");
                }
            }
            Ok(if ids.is_empty() { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
    }
}
