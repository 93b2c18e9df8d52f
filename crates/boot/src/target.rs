//! The offline side of a bootable kernel: the release directory that
//! `bpfld check` plans against (docs/targets.md), cut from the same
//! package or image that boots, with the split BTF of exactly the modules
//! the guest inserts (as the loader would see them in `/sys/kernel/btf`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use bpfld_extract::deb::{extract_deb, DebOptions};
use bpfld_extract::release_dir::ReleaseDirWriter;

use crate::error::BootError;
use crate::image::BootKernel;
use crate::modules::ModuleLoad;

/// `<kernel dir>/check-target`, made once per module list (recorded in
/// `check-target.modules`).
pub fn offline_target(k: &BootKernel, modules: &[ModuleLoad]) -> Result<PathBuf, BootError> {
    let dir = k.dir.join("check-target");
    let asked: String = modules.iter().map(|m| format!("{}\n", m.file_name)).collect();
    let stamp = k.dir.join("check-target.modules");
    if dir.join("vmlinux.btf").exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(asked.as_str()) {
        return Ok(dir);
    }
    match &k.package {
        Some(deb) => {
            let wanted: BTreeSet<String> = modules.iter().map(|m| m.file_name.clone()).collect();
            let options = DebOptions { modules: Some(wanted), replace: true, threads: 0 };
            extract_deb(deb, &dir, &options)?;
        }
        None => from_image(k, modules, &dir)?,
    }
    std::fs::write(&stamp, &asked).map_err(|e| BootError::io(&stamp, e))?;
    Ok(dir)
}

/// A release directory from a `vmlinux`/`bzImage`, its config and the
/// split BTF of the modules the guest inserts (from their files beside
/// the image or in `/lib/modules`), as a package's is made.
fn from_image(k: &BootKernel, modules: &[ModuleLoad], dir: &Path) -> Result<(), BootError> {
    let bytes = std::fs::read(&k.boot_image).map_err(|e| BootError::io(&k.boot_image, e))?;
    let name = k.boot_image.display().to_string();
    let btf = bpfld_extract::extract_btf(&name, &bytes)?.btf.ok_or_else(|| BootError::NotBootable {
        path: k.boot_image.clone(),
        why: "the kernel has no .BTF section (CONFIG_DEBUG_INFO_BTF)".into(),
    })?;
    let w = ReleaseDirWriter::create(dir, true)?;
    w.write_vmlinux_btf(&btf)?;
    if let Some(c) = &k.config {
        w.write_config(&std::fs::read(c).map_err(|e| BootError::io(c, e))?)?;
    }
    w.write_release(&k.release)?;
    for m in modules {
        if let Some(btf) = module_btf(m)? {
            w.write_module_btf(&m.file_name, &btf)?;
        }
    }
    w.finish()?;
    Ok(())
}

/// The `.BTF` of a module file (`.ko`, `.ko.xz`, `.ko.zst`), `None` if it
/// has none.
fn module_btf(m: &ModuleLoad) -> Result<Option<Vec<u8>>, BootError> {
    let bytes = std::fs::read(&m.path).map_err(|e| BootError::io(&m.path, e))?;
    Ok(bpfld_extract::extract_btf(&m.path.display().to_string(), &bytes)?.btf)
}
