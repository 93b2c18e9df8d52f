//! Where a uprobe goes: the file offset of a function in an executable or
//! shared library, found by its ELF symbol as libbpf's
//! `elf_find_func_offset` finds it, and the full path of a binary given by
//! name as libbpf's `resolve_full_path` finds it.
//!
//! Pure file parsing (the kernel wants a file offset, ELF symbols give a
//! virtual address: the symbol's section maps one to the other).
//!
//! Differs from libbpf: a versioned name (`malloc@GLIBC_2.2.5`) matches
//! `.symtab` names written that way but not `.dynsym` version records.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use object::elf;
use object::read::elf::{ElfFile, FileHeader, Sym};
use object::read::SymbolIndex;
use object::{Endianness, FileKind};

/// Why a function of an executable or library could not be found.
#[derive(Debug)]
pub enum SymbolError {
    /// The file could not be opened or mapped.
    Open {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// The file is not an ELF file.
    NotElf(PathBuf),
    /// The ELF file does not parse.
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        source: object::Error,
    },
    /// Two strong definitions of the name at different places.
    Ambiguous {
        /// The second symbol found.
        symbol: String,
        /// The name looked for.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// The symbol's address is 0.
    ZeroAddress {
        /// The name looked for.
        name: String,
        /// The file.
        path: PathBuf,
        /// Whether the file is a shared library (`ET_DYN`).
        shared_library: bool,
    },
    /// No function symbol of the name.
    NoSymbol {
        /// The name looked for.
        name: String,
        /// The file.
        path: PathBuf,
    },
    /// A bare binary name found in no directory searched.
    NotInSearchPath {
        /// Whether it was looked up as a library (`LD_LIBRARY_PATH`).
        library: bool,
    },
}

impl fmt::Display for SymbolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SymbolError::Open { path, source } => write!(f, "elf: failed to open '{}': {source}", path.display()),
            SymbolError::NotElf(path) => write!(f, "elf: '{}' is not an ELF file", path.display()),
            SymbolError::Parse { path, source } => write!(f, "elf: failed to parse '{}': {source}", path.display()),
            SymbolError::Ambiguous { symbol, name, path } => {
                write!(f, "elf: ambiguous match for '{symbol}', '{name}' in '{}'", path.display())
            }
            SymbolError::ZeroAddress { name, path, shared_library } => {
                let hint = if *shared_library { "should not be 0 in a shared library" } else { "try using shared library path instead" };
                write!(f, "elf: '{name}' is 0 in symtab for '{}': {hint}", path.display())
            }
            SymbolError::NoSymbol { name, path } => write!(f, "elf: failed to find symbol '{name}' in '{}'", path.display()),
            SymbolError::NotInSearchPath { library: true } => f.write_str("not found in LD_LIBRARY_PATH or the library directories"),
            SymbolError::NotInSearchPath { library: false } => f.write_str("not found in PATH"),
        }
    }
}

impl std::error::Error for SymbolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SymbolError::Open { source, .. } => Some(source),
            SymbolError::Parse { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn open_err(path: &Path) -> impl FnOnce(io::Error) -> SymbolError + '_ {
    move |source| SymbolError::Open { path: path.to_path_buf(), source }
}

fn parse_err(path: &Path) -> impl FnOnce(object::Error) -> SymbolError + '_ {
    move |source| SymbolError::Parse { path: path.to_path_buf(), source }
}

/// The file offset of function `name` in the ELF file `path`.
pub fn func_file_offset(path: &Path, name: &str) -> Result<u64, SymbolError> {
    let map = bpfld_sys::FileMap::open(path).map_err(open_err(path))?;
    let data: &[u8] = map.as_ref();
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => find::<elf::FileHeader64<Endianness>>(data, path, name),
        Ok(FileKind::Elf32) => find::<elf::FileHeader32<Endianness>>(data, path, name),
        _ => Err(SymbolError::NotElf(path.to_path_buf())),
    }
}

/// Whether symbol `sym_name` is `name`, or `name@VER`/`name@@VER` when
/// `name` has no version (libbpf's `symbol_match`).
fn symbol_matches(sym_name: &[u8], name: &str) -> bool {
    let (base, versioned) = match name.find('@') {
        Some(i) => (&name[..i], true),
        None => (name, false),
    };
    if versioned {
        return sym_name == name.as_bytes();
    }
    match sym_name.strip_prefix(base.as_bytes()) {
        Some(rest) => rest.is_empty() || rest[0] == b'@',
        None => false,
    }
}

fn find<Elf: FileHeader<Endian = Endianness>>(data: &[u8], path: &Path, name: &str) -> Result<u64, SymbolError> {
    let file = ElfFile::<Elf>::parse(data).map_err(parse_err(path))?;
    let endian = file.endian();
    let sections = file.elf_section_table();
    // .dynsym first: a stripped binary only has that one; a static one only
    // .symtab. The first table with a match decides.
    for table in [file.elf_dynamic_symbol_table(), file.elf_symbol_table()] {
        let mut found: Option<(u64, elf::SymbolBind)> = None;
        for (i, sym) in table.iter().enumerate().skip(1) {
            if sym.st_type() != elf::STT_FUNC {
                continue;
            }
            let Ok(sym_name) = table.symbol_name(endian, sym) else { continue };
            if !symbol_matches(sym_name, name) {
                continue;
            }
            let Ok(Some(sec_idx)) = table.symbol_section(endian, sym, SymbolIndex(i)) else { continue };
            let Ok(sec) = sections.section(sec_idx) else { continue };
            use object::read::elf::SectionHeader;
            let value: u64 = sym.st_value(endian).into();
            let offset = value.wrapping_sub(sec.sh_addr(endian).into()).wrapping_add(sec.sh_offset(endian).into());
            let bind = sym.st_bind();
            match found {
                Some((off, _)) if off == offset => {}
                // Two strong definitions at different places.
                Some((_, prev)) if prev != elf::STB_WEAK && bind != elf::STB_WEAK => {
                    return Err(SymbolError::Ambiguous {
                        symbol: String::from_utf8_lossy(sym_name).into_owned(),
                        name: name.to_string(),
                        path: path.to_path_buf(),
                    });
                }
                // A weak one after a strong one does not count.
                Some(_) if bind == elf::STB_WEAK => {}
                _ => found = Some((offset, bind)),
            }
        }
        match found {
            Some((0, _)) => {
                let shared_library = file.elf_header().e_type(endian) == elf::ET_DYN;
                return Err(SymbolError::ZeroAddress { name: name.to_string(), path: path.to_path_buf(), shared_library });
            }
            Some((off, _)) => return Ok(off),
            None => {}
        }
    }
    Err(SymbolError::NoSymbol { name: name.to_string(), path: path.to_path_buf() })
}

/// The functions of the ELF file `path` whose name matches the glob
/// `pattern` (`*` and `?`), with their file offsets, sorted by name
/// (libbpf's `elf_resolve_pattern_offsets`): defined `STT_FUNC` symbols of
/// `.dynsym` and `.symtab`, one entry per name.
pub fn funcs_matching(path: &Path, pattern: &str) -> Result<Vec<(String, u64)>, SymbolError> {
    let map = bpfld_sys::FileMap::open(path).map_err(open_err(path))?;
    let data: &[u8] = map.as_ref();
    match FileKind::parse(data) {
        Ok(FileKind::Elf64) => matching::<elf::FileHeader64<Endianness>>(data, path, pattern),
        Ok(FileKind::Elf32) => matching::<elf::FileHeader32<Endianness>>(data, path, pattern),
        _ => Err(SymbolError::NotElf(path.to_path_buf())),
    }
}

fn matching<Elf: FileHeader<Endian = Endianness>>(data: &[u8], path: &Path, pattern: &str) -> Result<Vec<(String, u64)>, SymbolError> {
    use object::read::elf::SectionHeader;
    let file = ElfFile::<Elf>::parse(data).map_err(parse_err(path))?;
    let endian = file.endian();
    let sections = file.elf_section_table();
    let mut found = std::collections::BTreeMap::new();
    for table in [file.elf_dynamic_symbol_table(), file.elf_symbol_table()] {
        for (i, sym) in table.iter().enumerate().skip(1) {
            if sym.st_type() != elf::STT_FUNC || sym.st_value(endian).into() == 0 {
                continue;
            }
            let Ok(raw) = table.symbol_name(endian, sym) else { continue };
            let name = String::from_utf8_lossy(raw);
            let base = name.split('@').next().unwrap_or_default();
            if !crate::link::kprobe_multi::glob_match(pattern, base) || found.contains_key(base) {
                continue;
            }
            let Ok(Some(sec_idx)) = table.symbol_section(endian, sym, SymbolIndex(i)) else { continue };
            let Ok(sec) = sections.section(sec_idx) else { continue };
            let value: u64 = sym.st_value(endian).into();
            let offset = value.wrapping_sub(sec.sh_addr(endian).into()).wrapping_add(sec.sh_offset(endian).into());
            found.insert(base.to_string(), offset);
        }
    }
    Ok(found.into_iter().collect())
}

/// The directories libbpf searches for shared libraries after
/// `LD_LIBRARY_PATH` (`/usr/lib64:/usr/lib` and the multiarch ones).
fn lib_dirs() -> Vec<String> {
    let mut v = vec!["/usr/lib64".to_string(), "/usr/lib".to_string()];
    let multiarch = match std::env::consts::ARCH {
        "x86_64" => Some("x86_64-linux-gnu"),
        "aarch64" => Some("aarch64-linux-gnu"),
        "x86" => Some("i386-linux-gnu"),
        "s390x" => Some("s390x-linux-gnu"),
        "powerpc64" => Some("powerpc64le-linux-gnu"),
        "riscv64" => Some("riscv64-linux-gnu"),
        _ => None,
    };
    if let Some(m) = multiarch {
        v.push(format!("/lib/{m}"));
        v.push(format!("/usr/lib/{m}"));
    }
    v
}

/// A binary given with a `/` is used as is; a bare name is looked up as
/// libbpf does: a shared library (`*.so`, `*.so.*`) in `LD_LIBRARY_PATH`
/// then the library directories, anything else in `PATH` then
/// `/usr/bin:/usr/sbin` (a file that exists, executable for programs).
pub fn resolve_binary(binary: &Path) -> Result<PathBuf, SymbolError> {
    let s = binary.to_string_lossy();
    if s.contains('/') {
        return Ok(binary.to_path_buf());
    }
    let is_lib = s.ends_with(".so") || s.contains(".so.");
    let env = std::env::var(if is_lib { "LD_LIBRARY_PATH" } else { "PATH" }).unwrap_or_default();
    let mut dirs: Vec<String> = env.split(':').map(str::to_string).collect();
    if is_lib {
        dirs.extend(lib_dirs());
    } else {
        dirs.extend(["/usr/bin".to_string(), "/usr/sbin".to_string()]);
    }
    for d in dirs.iter().filter(|d| !d.is_empty()) {
        let p = Path::new(d).join(binary);
        let Ok(meta) = std::fs::metadata(&p) else { continue };
        use std::os::unix::fs::PermissionsExt;
        if meta.is_file() && (is_lib || meta.permissions().mode() & 0o111 != 0) {
            return Ok(p);
        }
    }
    Err(SymbolError::NotInSearchPath { library: is_lib })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_with_or_without_version() {
        assert!(symbol_matches(b"malloc", "malloc"));
        assert!(symbol_matches(b"malloc@@GLIBC_2.2.5", "malloc"));
        assert!(!symbol_matches(b"malloc2", "malloc"));
        assert!(symbol_matches(b"malloc@GLIBC_2.2.5", "malloc@GLIBC_2.2.5"));
        assert!(!symbol_matches(b"malloc", "malloc@GLIBC_2.2.5"));
    }

    #[test]
    fn bare_names_are_searched_in_path() {
        let sh = resolve_binary(Path::new("sh")).unwrap();
        assert!(sh.is_absolute() && sh.ends_with("sh"), "{}", sh.display());
        assert_eq!(resolve_binary(Path::new("./x")).unwrap(), Path::new("./x"));
        assert!(resolve_binary(Path::new("no-such-program-bpfld")).is_err());
    }
}
