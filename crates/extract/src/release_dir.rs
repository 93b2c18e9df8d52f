//! The kernel release directory: the on-disk form of an offline target
//! (layout documented in `docs/targets.md`).
//!
//! ```text
//! <dir>/release           "<release>\n"
//! <dir>/vmlinux.btf       vmlinux .BTF
//! <dir>/config            the kernel's .config
//! <dir>/modules/<m>.btf   split BTF of module <m> (file name as shipped)
//! ```
//!
//! It is written into a sibling temporary directory and renamed into place
//! at the end, so a failed extraction never leaves a half-written target
//! that a later `check` would take for a complete kernel.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{Cause, Error, Result};

/// The file holding the release (`uname -r`), one line.
pub const RELEASE: &str = "release";
/// The file holding the vmlinux `.BTF` section as it was in the ELF file.
pub const VMLINUX_BTF: &str = "vmlinux.btf";
/// The file holding the kernel's `.config`.
pub const CONFIG: &str = "config";
/// The subdirectory holding `<module>.btf`, each module's split BTF.
pub const MODULES: &str = "modules";
/// The absolute path of the package the directory was extracted from:
/// what `bpfld check --boot` boots (the kernel itself is not copied).
pub const SOURCE: &str = "source";

/// The module name of a module file name: the name without `.ko` and its
/// compression suffix. `-` and `_` are kept as shipped (the kernel itself
/// calls `nf-foo.ko` `nf_foo`).
pub fn module_name(file_name: &str) -> Option<&str> {
    for suffix in [".ko", ".ko.xz", ".ko.zst", ".ko.gz"] {
        if let Some(name) = file_name.strip_suffix(suffix) {
            if !name.is_empty() {
                return Some(name);
            }
        }
    }
    None
}

/// A release directory being written.
pub struct ReleaseDirWriter {
    dest: PathBuf,
    tmp: PathBuf,
    replace: bool,
    finished: bool,
}

fn io_err(path: &Path, op: &'static str, e: std::io::Error) -> Error {
    Error::io(path.display().to_string(), op, e)
}

impl ReleaseDirWriter {
    /// Starts writing the directory `dest`. An existing `dest` is an error
    /// unless `replace`, and is only removed once the new one is complete.
    pub fn create(dest: &Path, replace: bool) -> Result<ReleaseDirWriter> {
        if dest.exists() && !replace {
            return Err(Error::new(dest.display().to_string(), Cause::DestinationExists));
        }
        let name = dest
            .file_name()
            .ok_or_else(|| Error::new(dest.display().to_string(), Cause::NotADirectoryName))?
            .to_string_lossy()
            .into_owned();
        let tmp = dest.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        if tmp.exists() {
            fs::remove_dir_all(&tmp).map_err(|e| io_err(&tmp, "remove stale partial directory", e))?;
        }
        // Not create_dir_all: a missing parent is the caller's mistake, not
        // a directory to make.
        for d in [tmp.clone(), tmp.join(MODULES)] {
            fs::create_dir(&d).map_err(|e| io_err(&d, "create directory", e))?;
        }
        Ok(ReleaseDirWriter { dest: dest.to_path_buf(), tmp, replace, finished: false })
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        let p = self.tmp.join(rel);
        fs::write(&p, bytes).map_err(|e| io_err(&p, "write", e))
    }

    /// Writes `release` followed by a newline as the `release` file.
    /// Fails on a write error, naming the file.
    pub fn write_release(&self, release: &str) -> Result<()> {
        self.write(RELEASE, format!("{release}\n").as_bytes())
    }

    /// Records the package the directory comes from.
    pub fn write_source(&self, package: &Path) -> Result<()> {
        let abs = fs::canonicalize(package).map_err(|e| io_err(package, "resolve path", e))?;
        self.write(SOURCE, format!("{}\n", abs.display()).as_bytes())
    }

    /// Writes `btf`, the vmlinux `.BTF` section, as `vmlinux.btf`. Fails
    /// on a write error, naming the file.
    pub fn write_vmlinux_btf(&self, btf: &[u8]) -> Result<()> {
        self.write(VMLINUX_BTF, btf)
    }

    /// Writes the kernel's `.config` as `config`. Fails on a write error,
    /// naming the file.
    pub fn write_config(&self, config: &[u8]) -> Result<()> {
        self.write(CONFIG, config)
    }

    /// Writes `btf`, the split BTF of `module`, as `modules/<module>.btf`.
    /// Fails on a write error, naming the file.
    pub fn write_module_btf(&self, module: &str, btf: &[u8]) -> Result<()> {
        self.write(&format!("{MODULES}/{module}.btf"), btf)
    }

    /// Moves the complete directory into place.
    pub fn finish(mut self) -> Result<PathBuf> {
        if self.dest.exists() && self.replace {
            fs::remove_dir_all(&self.dest).map_err(|e| io_err(&self.dest, "remove old directory", e))?;
        }
        fs::rename(&self.tmp, &self.dest).map_err(|e| io_err(&self.dest, "rename into place", e))?;
        self.finished = true;
        Ok(self.dest.clone())
    }
}

impl Drop for ReleaseDirWriter {
    fn drop(&mut self) {
        if !self.finished {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::module_name;

    #[test]
    fn module_names_keep_dashes() {
        assert_eq!(module_name("nf_conntrack.ko"), Some("nf_conntrack"));
        assert_eq!(module_name("snd-hda-codec.ko.xz"), Some("snd-hda-codec"));
        assert_eq!(module_name("zfs.ko.zst"), Some("zfs"));
        assert_eq!(module_name("old.ko.gz"), Some("old"));
        assert_eq!(module_name(".ko"), None);
        assert_eq!(module_name("modules.dep"), None);
        assert_eq!(module_name("x.ko.bz2"), None);
    }
}
