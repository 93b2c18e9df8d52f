//! Record indexes of targets' vmlinux BTF (`bpfld btf index`): written
//! once per kernel beside its BTF file, read by every later check of it
//! instead of walking all of its records (see `bpfld_btf::Btf::record_index`).

use std::path::{Path, PathBuf};

use bpfld_btf::{Btf, Bytes, Section, WantedNames};

use crate::release_dir::{btf_error, map_file, TargetFiles, TargetLoadError};

/// Where the record index of the vmlinux BTF at `vmlinux` lives: beside
/// it, named `<file>.idx` (`vmlinux.btf.idx`, `NAME.btf.idx`).
pub fn index_path(vmlinux: &Path) -> PathBuf {
    let mut name = vmlinux.as_os_str().to_owned();
    name.push(".idx");
    PathBuf::from(name)
}

/// A record index written by [`write_record_index`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenIndex {
    /// The index file.
    pub path: PathBuf,
    /// Its size.
    pub bytes: usize,
    /// The vmlinux BTF it indexes.
    pub vmlinux: PathBuf,
    /// How many type records it numbers.
    pub types: u32,
}

/// Parses the vmlinux BTF of `files` in full and writes its record index
/// beside it (through a temporary file renamed into place, so a reader
/// never sees half an index).
pub fn write_record_index(files: &TargetFiles) -> Result<WrittenIndex, TargetLoadError> {
    let btf = Btf::parse(map_file(&files.vmlinux)?).map_err(btf_error(&files.vmlinux))?;
    let index = btf.record_index().map_err(btf_error(&files.vmlinux))?;
    let path = index_path(&files.vmlinux);
    let mut tmp = path.clone().into_os_string();
    tmp.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let written = std::fs::write(&tmp, &index).and_then(|()| std::fs::rename(&tmp, &path));
    if let Err(source) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(TargetLoadError::Write { path, source });
    }
    Ok(WrittenIndex { path, bytes: index.len(), vmlinux: files.vmlinux.clone(), types: btf.own_type_count() })
}

/// [`Btf::parse_indexed`] of the vmlinux BTF `bytes` (from `vmlinux`)
/// with the index at `index`; an error names the index file if the index
/// is at fault, the BTF file otherwise.
pub(crate) fn parse_indexed(bytes: Bytes, vmlinux: &Path, index: &Path, wanted: &WantedNames) -> Result<Btf, TargetLoadError> {
    let map: Bytes = map_file(index)?;
    Btf::parse_indexed(bytes, map, wanted).map_err(|e| {
        let at_fault = if e.section == Section::RecordIndex { index } else { vmlinux };
        btf_error(at_fault)(e)
    })
}
