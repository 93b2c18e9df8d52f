//! Loading a [`Target`] from files.
//!
//! Two layouts are accepted:
//! - a *kernel release directory*: `vmlinux.btf`, and optionally `config`
//!   (the kernel's `.config`), `modules/<name>.btf` (split BTF on that
//!   vmlinux), `kallsyms` (in `/proc/kallsyms` format) and `release` (the
//!   `uname -r` string); `bpfld btf extract` writes this layout from a
//!   Debian kernel package;
//! - a single vmlinux BTF file `<stem>.btf`; a sibling `<stem>.config`,
//!   `<stem>.kallsyms` and directory `<stem>/modules/` are used when they
//!   exist (the layout of the project's `shared/btf`); the directory
//!   `<stem>` names the same target.
//!
//! Files are memory-mapped, not copied: the target borrows the page cache,
//! which is what makes checking an object against many kernels cheap.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bpfld_btf::{Btf, WantedNames};
use bpfld_obj::error::{ErrorKind, LineError};
use bpfld_obj::kallsyms::Kallsyms;
use bpfld_obj::kconfig::Kconfig;
use bpfld_obj::{kernel_version, ModuleBtf, Target};

/// Why a path is not a kernel target: a usage error, found before any
/// target is checked.
#[derive(Debug)]
pub enum TargetPathError {
    /// Nothing at that path.
    Missing(PathBuf),
    /// A directory that is neither a release directory (`vmlinux.btf`) nor
    /// the `NAME/` of a `NAME.btf` beside it.
    NotReleaseDir(PathBuf),
    /// The vmlinux file cannot be read.
    Unreadable(PathBuf, std::io::Error),
    /// The vmlinux file does not start with a BTF header.
    NotBtf(PathBuf, String),
}

impl std::fmt::Display for TargetPathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetPathError::Missing(p) => write!(f, "{}: no such file or directory", p.display()),
            TargetPathError::NotReleaseDir(p) => {
                write!(f, "{}: not a kernel: a directory without vmlinux.btf (and no {}.btf beside it)", p.display(), p.display())
            }
            TargetPathError::Unreadable(p, e) => write!(f, "{}: {e}", p.display()),
            TargetPathError::NotBtf(p, why) => write!(f, "{}: not a kernel BTF file: {why}", p.display()),
        }
    }
}

impl std::error::Error for TargetPathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TargetPathError::Unreadable(_, e) => Some(e),
            _ => None,
        }
    }
}

/// The files a target was made of.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetFiles {
    /// The vmlinux BTF (`vmlinux.btf`, or `NAME.btf`).
    pub vmlinux: PathBuf,
    /// The kernel's `.config` (`config`, or `NAME.config`), if present.
    pub config: Option<PathBuf>,
    /// Its symbols in `/proc/kallsyms` format (`kallsyms`, or
    /// `NAME.kallsyms`), if present.
    pub kallsyms: Option<PathBuf>,
    /// The directory of module BTFs (`modules/`, or `NAME/modules/`), if
    /// present.
    pub modules_dir: Option<PathBuf>,
    /// The kernel's release: the directory's `release` file, else the
    /// directory's name; for a BTF file `NAME.btf`, `NAME`.
    pub release: Option<String>,
    /// The vmlinux BTF's record index (`vmlinux.btf.idx`, or
    /// `NAME.btf.idx`; written by `bpfld btf index`), if present: a check
    /// then reads only the records it reaches.
    pub record_index: Option<PathBuf>,
}

impl TargetFiles {
    /// Finds the files of the target at `path`: a release directory, a
    /// vmlinux BTF file `NAME.btf`, or the directory `NAME` of a
    /// `NAME.btf` + `NAME.config` + `NAME/modules/` layout (named either
    /// way). Only existence is checked; see [`TargetFiles::validate`].
    pub fn locate(path: &Path) -> Result<TargetFiles, TargetPathError> {
        let existing = |p: PathBuf| p.exists().then_some(p);
        if path.is_dir() {
            let vmlinux = path.join("vmlinux.btf");
            if !vmlinux.exists() {
                let sibling = path.with_file_name(format!("{}.btf", path.file_name().unwrap_or_default().to_string_lossy()));
                if path.file_name().is_some() && sibling.is_file() {
                    return Ok(Self::beside(&sibling));
                }
                return Err(TargetPathError::NotReleaseDir(path.to_path_buf()));
            }
            let release = std::fs::read_to_string(path.join("release")).ok().map(|s| s.trim().to_string());
            return Ok(TargetFiles {
                record_index: existing(crate::record_index::index_path(&vmlinux)),
                vmlinux,
                config: existing(path.join("config")),
                kallsyms: existing(path.join("kallsyms")),
                modules_dir: existing(path.join("modules")),
                release: release.or_else(|| path.file_name().map(|n| n.to_string_lossy().into_owned())),
            });
        }
        if !path.exists() {
            return Err(TargetPathError::Missing(path.to_path_buf()));
        }
        Ok(Self::beside(path))
    }

    /// A vmlinux BTF file and the `<stem>.config`, `<stem>.kallsyms` and
    /// `<stem>/modules/` beside it.
    fn beside(path: &Path) -> TargetFiles {
        let existing = |p: PathBuf| p.exists().then_some(p);
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let dir = path.parent().unwrap_or(Path::new("."));
        TargetFiles {
            vmlinux: path.to_path_buf(),
            config: existing(dir.join(format!("{stem}.config"))),
            kallsyms: existing(dir.join(format!("{stem}.kallsyms"))),
            modules_dir: existing(dir.join(&stem).join("modules")),
            release: Some(stem),
            record_index: existing(crate::record_index::index_path(path)),
        }
    }

    /// Locates the target at `path` and checks that its vmlinux file starts
    /// with a BTF header: what makes a path usable as `-k`, decided before
    /// any work.
    pub fn validate(path: &Path) -> Result<TargetFiles, TargetPathError> {
        let files = Self::locate(path)?;
        let mut head = [0u8; 4];
        let mut f = std::fs::File::open(&files.vmlinux).map_err(|e| TargetPathError::Unreadable(files.vmlinux.clone(), e))?;
        let n = std::io::Read::read(&mut f, &mut head).map_err(|e| TargetPathError::Unreadable(files.vmlinux.clone(), e))?;
        if n < 4 {
            return Err(TargetPathError::NotBtf(files.vmlinux, format!("{n} bytes long")));
        }
        let magic = u16::from_le_bytes([head[0], head[1]]);
        if magic != 0xeb9f && magic.swap_bytes() != 0xeb9f {
            return Err(TargetPathError::NotBtf(files.vmlinux, format!("bad magic {magic:#06x}")));
        }
        Ok(files)
    }

    /// [`TargetFiles::validate`] of every path, on `threads` threads (0:
    /// one per core): a fleet's thousand paths cost a dozen system calls
    /// each. The answer is the sequential one: every target in order, or
    /// the first path's error.
    pub fn validate_all(paths: &[PathBuf], threads: usize) -> Result<Vec<TargetFiles>, TargetPathError> {
        let threads = if threads > 0 { threads } else { std::thread::available_parallelism().map_or(1, |n| n.get()) };
        let chunk = paths.len().div_ceil(threads.max(1)).max(1);
        let results: Vec<Result<TargetFiles, TargetPathError>> = std::thread::scope(|s| {
            let workers: Vec<_> =
                paths.chunks(chunk).map(|part| s.spawn(move || part.iter().map(|p| Self::validate(p)).collect::<Vec<_>>())).collect();
            workers.into_iter().flat_map(|w| w.join().expect("validation does not panic")).collect()
        });
        results.into_iter().collect()
    }
}

/// Why a target could not be loaded from its files; each names the file.
#[derive(Debug)]
pub enum TargetLoadError {
    /// The path is not a target (see [`TargetFiles::locate`]).
    Path(TargetPathError),
    /// A file or directory could not be read.
    Read {
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A BTF file does not parse.
    Btf {
        /// The BTF file (vmlinux or a module's).
        path: PathBuf,
        /// Where and why it does not parse.
        source: bpfld_btf::Error,
    },
    /// A `.config` or kallsyms file has a line that does not parse.
    Text {
        /// The `.config` or kallsyms file.
        path: PathBuf,
        /// The line and what is wrong with it.
        source: LineError,
    },
    /// A file could not be written.
    Write {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// The minimized BTF could not be built.
    Minimize {
        /// The vmlinux BTF being minimized.
        path: PathBuf,
        /// Why the kept types could not be read or written.
        source: bpfld_btf::min::MinError,
    },
}

impl TargetLoadError {
    /// What kind of problem it is: `Io` for unreadable files,
    /// `InvalidInput` for files that do not parse, `NotFound` for a path
    /// that is not there.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TargetLoadError::Path(TargetPathError::Missing(_)) => ErrorKind::NotFound,
            TargetLoadError::Path(TargetPathError::Unreadable(..)) | TargetLoadError::Read { .. } | TargetLoadError::Write { .. } => {
                ErrorKind::Io
            }
            _ => ErrorKind::InvalidInput,
        }
    }
}

impl std::fmt::Display for TargetLoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TargetLoadError::Path(e) => e.fmt(f),
            TargetLoadError::Read { path, source } => write!(f, "{}: {source}", path.display()),
            TargetLoadError::Write { path, source } => write!(f, "{}: writing: {source}", path.display()),
            TargetLoadError::Btf { path, source } => write!(f, "{}: {source}", path.display()),
            TargetLoadError::Text { path, source } => write!(f, "{}: {source}", path.display()),
            TargetLoadError::Minimize { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for TargetLoadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TargetLoadError::Path(e) => Some(e),
            TargetLoadError::Read { source, .. } | TargetLoadError::Write { source, .. } => Some(source),
            TargetLoadError::Btf { source, .. } => Some(source),
            TargetLoadError::Text { source, .. } => Some(source),
            TargetLoadError::Minimize { source, .. } => Some(source),
        }
    }
}

impl bpfld_obj::error::Kind for TargetLoadError {
    fn kind(&self) -> ErrorKind {
        TargetLoadError::kind(self)
    }
}

fn read_error(path: &Path) -> impl FnOnce(std::io::Error) -> TargetLoadError + '_ {
    move |source| TargetLoadError::Read { path: path.to_path_buf(), source }
}

pub(crate) fn btf_error(path: &Path) -> impl FnOnce(bpfld_btf::Error) -> TargetLoadError + '_ {
    move |source| TargetLoadError::Btf { path: path.to_path_buf(), source }
}

fn text_error(path: &Path) -> impl FnOnce(LineError) -> TargetLoadError + '_ {
    move |source| TargetLoadError::Text { path: path.to_path_buf(), source }
}

pub(crate) fn map_file(path: &Path) -> Result<Arc<bpfld_sys::FileMap>, TargetLoadError> {
    bpfld_sys::FileMap::open(path).map(Arc::new).map_err(read_error(path))
}

/// Loads the target at `path` (see the module documentation).
pub fn load_target(path: &Path) -> Result<Target, TargetLoadError> {
    let files = TargetFiles::locate(path).map_err(TargetLoadError::Path)?;
    load_files(&files)
}

/// Loads a target from located files.
pub fn load_files(files: &TargetFiles) -> Result<Target, TargetLoadError> {
    load_files_for(files, None)
}

/// What checking known objects reads from a target: the names looked up
/// in its BTF and the `.config` options read.
#[derive(Debug, Clone, Default)]
pub struct TargetNeeds {
    /// The names plans may look up in the BTF.
    pub btf: WantedNames,
    /// The `CONFIG_*` options `__kconfig` externs read.
    pub config: Vec<String>,
}

/// Loads a target from located files; with `needs`, its BTF is parsed as
/// a targeted view for those names ([`Btf::parse_targeted`]) and its
/// config for those options: what a check of known objects needs, at a
/// fraction of the cost of a full parse. The plans are the same.
pub fn load_files_for(files: &TargetFiles, needs: Option<&TargetNeeds>) -> Result<Target, TargetLoadError> {
    let mut target = load_without_modules(files, needs)?;
    load_modules(&mut target, files, needs)?;
    Ok(target)
}

/// [`load_files_for`] without the module BTFs: a check adds them
/// ([`load_modules`]) only if a plan searched them
/// ([`Target::modules_were_searched`]).
pub fn load_without_modules(files: &TargetFiles, needs: Option<&TargetNeeds>) -> Result<Target, TargetLoadError> {
    let bytes = map_file(&files.vmlinux)?;
    let vmlinux = match (needs, &files.record_index) {
        (Some(n), Some(idx)) => crate::record_index::parse_indexed(bytes, &files.vmlinux, idx, &n.btf)?,
        (Some(n), None) => Btf::parse_targeted(bytes, &n.btf).map_err(btf_error(&files.vmlinux))?,
        (None, _) => Btf::parse(bytes).map_err(btf_error(&files.vmlinux))?,
    };
    let name = files.release.clone().unwrap_or_else(|| files.vmlinux.display().to_string());
    let mut target = Target::new(name, vmlinux);
    if let Some(p) = &files.config {
        let text = std::fs::read_to_string(p).map_err(read_error(p))?;
        target.kernel_version = kernel_version_from_config(&text).or_else(|| files.release.as_deref().and_then(version_from_release));
        let config = match needs {
            Some(n) => Kconfig::parse_owned_for(text, &n.config),
            None => Kconfig::parse(&text),
        };
        target.kconfig = Some(config.map_err(text_error(p))?);
    } else {
        target.kernel_version = files.release.as_deref().and_then(version_from_release);
    }
    if let Some(p) = &files.kallsyms {
        let text = std::fs::read_to_string(p).map_err(read_error(p))?;
        target.kallsyms = Some(Kallsyms::parse(&text).map_err(text_error(p))?);
    }
    Ok(target)
}

/// Reads the module BTFs of `files` into `target` (split on its vmlinux;
/// targeted views with `needs`), in file name order.
pub fn load_modules(target: &mut Target, files: &TargetFiles, needs: Option<&TargetNeeds>) -> Result<(), TargetLoadError> {
    let Some(dir) = &files.modules_dir else { return Ok(()) };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(read_error(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "btf"))
        .collect();
    // The running kernel orders modules by load order, which files do
    // not record; name order at least makes the result reproducible.
    paths.sort();
    for p in paths {
        let bytes = map_file(&p)?;
        let btf = match needs {
            Some(n) => Btf::parse_split_targeted(bytes, &target.vmlinux, &n.btf),
            None => Btf::parse_split(bytes, &target.vmlinux),
        }
        .map_err(btf_error(&p))?;
        // The kernel names modules with `_` where file names may have
        // `-` (`nf-conntrack.ko` loads as `nf_conntrack`).
        let name = p.file_stem().map(|s| s.to_string_lossy().replace('-', "_")).unwrap_or_default();
        target.modules.push(ModuleBtf { name, btf });
    }
    Ok(())
}

/// The version in a `.config` header (`# Linux/x86 6.1.192 Kernel
/// Configuration`): the real sublevel, which Debian's release string
/// (`6.1.0-56-amd64`) does not carry.
pub fn kernel_version_from_config(text: &str) -> Option<u32> {
    text.lines().take(10).find_map(|l| {
        let rest = l.strip_prefix("# Linux/")?;
        let v = rest.split_whitespace().nth(1)?;
        version_from_release(v)
    })
}

/// `a.b.c` at the start of a release string.
pub fn version_from_release(release: &str) -> Option<u32> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let a = parts.next()?.parse().ok()?;
    let b = parts.next()?.parse().ok()?;
    let c = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    Some(kernel_version(a, b, c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert_eq!(version_from_release("6.1.0-56-amd64"), Some(kernel_version(6, 1, 0)));
        assert_eq!(version_from_release("6.18.44-fc-v669"), Some(kernel_version(6, 18, 44)));
        assert_eq!(
            kernel_version_from_config("#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86 6.1.192 Kernel Configuration\n"),
            Some(kernel_version(6, 1, 192))
        );
        assert_eq!(kernel_version(4, 9, 300), (4 << 16) + (9 << 8) + 255);
    }
}
