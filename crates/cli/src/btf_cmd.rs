//! `bpfld btf dump|find|extract`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::report::{print_document, BtfDumpReport, BtfFindReport, BtfTypeReport};
use bpfld_btf::{dump, essential_name, Btf, Kind};
use clap::Subcommand;

use crate::CliResult;

mod c_format;
mod extract;
mod index;
mod min;

#[derive(Subcommand)]
pub enum BtfCmd {
    /// List every type in `bpftool btf dump`'s raw format, or with
    /// `--format c` write them as C declarations (a `vmlinux.h`).
    Dump {
        /// A BTF file (/sys/kernel/btf/vmlinux, a module's, a release
        /// directory's vmlinux.btf) or an ELF file with a .BTF section (a
        /// BPF object, a vmlinux, a module).
        file: PathBuf,
        /// Base BTF (vmlinux) when FILE is a module's split BTF.
        #[arg(long, short = 'B')]
        base: Option<PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
        /// `raw` (bpftool's type list) or `c` (compilable C declarations,
        /// as `bpftool btf dump file F format c`; FILE may also be an ELF
        /// object, whose `.BTF` is read).
        #[arg(long, value_enum, default_value = "raw")]
        format: DumpFormat,
        /// With `--format c`: only the types of this name and what they
        /// need.
        #[arg(long = "type", value_name = "NAME", requires = "format")]
        type_name: Option<String>,
    },
    /// Find types by name; a name with a `___flavor` also matches by its
    /// essential name, and `--essential` finds every flavor of a name.
    Find {
        /// A BTF file or an ELF file with a .BTF section (as for `dump`).
        file: PathBuf,
        /// The type name to look for.
        name: String,
        /// Base BTF (vmlinux) when FILE is a module's split BTF.
        #[arg(long, short = 'B')]
        base: Option<PathBuf>,
        /// Only types of this kind (struct, func, typedef, ...).
        #[arg(long)]
        kind: Option<String>,
        /// Match on essential names: `task_struct` finds `task_struct___old`.
        #[arg(long)]
        essential: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Cut BTF out of a kernel image (bzImage or vmlinux) or module
    /// (.ko, .ko.xz, .ko.zst, .ko.gz) into OUTPUT, or turn a Debian kernel
    /// package (.deb) into a kernel release directory OUTPUT (docs/targets.md).
    Extract(extract::ExtractArgs),
    /// Reduce a kernel's vmlinux BTF to what some objects' CO-RE
    /// relocations and externs need (as `bpftool gen min_core_btf`), for
    /// kernels without BTF: `bpfld load OBJ --btf OUT.btf`.
    Min(min::MinArgs),
    /// Write each kernel's record index beside its vmlinux BTF
    /// (`NAME.btf.idx`): every record's offset and the types by name, so
    /// that `bpfld check` reads only the records it reaches instead of
    /// walking them all.
    Index(index::IndexArgs),
}

/// The BTF bytes of `path`: the file itself (mapped, not read, where the
/// kernel allows it), or the `.BTF` section of an ELF file.
fn read_btf(path: &std::path::Path) -> Result<bpfld_btf::Bytes, String> {
    let file = bpfld_sys::FileMap::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !file.as_ref().starts_with(b"\x7fELF") {
        return Ok(Arc::new(file));
    }
    let shown = path.display().to_string();
    let ex = bpfld_extract::extract_btf(&shown, file.as_ref()).map_err(|e| e.to_string())?;
    let btf = ex.btf.ok_or_else(|| format!("{shown}: an ELF file without a .BTF section"))?;
    Ok(Arc::new(btf))
}

/// Whether a base BTF failed to parse the way a module's split BTF does:
/// it refers to types or strings its base would hold.
fn looks_split(e: &bpfld_btf::Error) -> bool {
    e.message.contains("refers to type id") || e.message.contains("name offset") || e.message.contains("must start with an empty string")
}

fn open(file: &std::path::Path, base: Option<&std::path::Path>) -> Result<Btf, String> {
    let bytes = read_btf(file)?;
    match base {
        None => Btf::parse(bytes).map_err(|e| {
            let hint = if looks_split(&e) {
                " (this looks like a module's split BTF: give its base with --base, e.g. --base /sys/kernel/btf/vmlinux)"
            } else {
                ""
            };
            format!("{}: {e}{hint}", file.display())
        }),
        Some(b) => {
            let base = Btf::parse(read_btf(b)?).map_err(|e| format!("{}: {e}", b.display()))?;
            Btf::parse_split(bytes, &base).map_err(|e| format!("{}: {e}", file.display()))
        }
    }
}

/// `--kind`'s value, or an error listing the kinds there are.
fn parse_kind(k: &str) -> Result<Kind, String> {
    Kind::from_name(k).ok_or_else(|| {
        let all: Vec<String> = Kind::ALL.iter().map(|k| k.name().to_lowercase()).collect();
        format!("unknown BTF kind '{k}' (valid kinds: {})", all.join(", "))
    })
}

/// What `btf dump` writes.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DumpFormat {
    Raw,
    C,
}

pub fn run(cmd: BtfCmd) -> CliResult {
    match cmd {
        BtfCmd::Extract(args) => extract::run(args),
        BtfCmd::Min(args) => min::run(args),
        BtfCmd::Index(args) => index::run(args),
        BtfCmd::Dump { file, base, format: DumpFormat::C, type_name, json } => {
            if json {
                return Err("--json and --format c exclude each other".to_string());
            }
            c_format::run(&file, base.as_deref(), type_name.as_deref())
        }
        BtfCmd::Dump { type_name: Some(_), .. } => Err("--type needs --format c".to_string()),
        BtfCmd::Dump { file, base, json, .. } => {
            let btf = open(&file, base.as_deref())?;
            if json {
                let mut types = Vec::new();
                for t in btf.own_types() {
                    let mut line = String::new();
                    dump::dump_type(&t, &mut line).map_err(|e| e.to_string())?;
                    let name = t.name().map_err(|e| e.to_string())?.to_string();
                    types.push(BtfTypeReport { id: t.id(), kind: t.kind().name(), name, raw: line.trim_end().to_string() });
                }
                print_document("btf-dump", &BtfDumpReport { types });
            } else {
                print!("{}", dump::dump(&btf).map_err(|e| format!("{}: {e}", file.display()))?);
            }
            Ok(ExitCode::SUCCESS)
        }
        BtfCmd::Find { file, name, base, kind, essential, json } => {
            let kind = kind.as_deref().map(parse_kind).transpose()?;
            let btf = open(&file, base.as_deref())?;
            // One name: a pass over the types costs less than the index.
            let ids = if essential {
                btf.scan_find(essential_name(&name), kind, true)
            } else {
                let mut v = btf.scan_find(&name, kind, false);
                if v.is_empty() && essential_name(&name) != name {
                    // A flavored name resolves as libbpf resolves externs.
                    v = btf.scan_find(essential_name(&name), kind, false);
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
                let types = out
                    .iter()
                    .map(|(t, line)| BtfTypeReport {
                        id: t.id(),
                        kind: t.kind().name(),
                        name: t.name().unwrap_or("").to_string(),
                        raw: line.trim_end().to_string(),
                    })
                    .collect();
                let essential_name = essential_name(&name).to_string();
                print_document("btf-find", &BtfFindReport { query: name.clone(), essential_name, types });
            } else {
                for (_, line) in &out {
                    print!("{line}");
                }
            }
            if ids.is_empty() {
                let of_kind = kind.map(|k| format!(" of kind {}", k.name().to_lowercase())).unwrap_or_default();
                let how = if essential { " (by essential name)" } else { "" };
                eprintln!("bpfld: {}: no type named {name}{of_kind}{how}", file.display());
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
