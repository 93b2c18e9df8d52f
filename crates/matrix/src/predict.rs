//! The prediction side: a kernel release directory per kernel, made of
//! the package's files only (what `bpfld check` would get on a build
//! machine), and `bpfld check --json` run against all of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use bpfld_boot::modules::{kernel_name, ModuleLoad};
use bpfld_boot::{BootKernel, Step};

use crate::outcome::{parse_check, Predicted};

/// Where a kernel's BTF comes from.
#[derive(Debug, Clone)]
pub struct KernelBtf {
    pub vmlinux: PathBuf,
    /// Module split BTF by kernel module name.
    pub modules: BTreeMap<String, PathBuf>,
    /// "bpfld btf extract" or the shared blobs' directory.
    pub source: String,
}

/// True if this `bpfld` has the `btf extract` command.
fn has_extract(bpfld: &Path) -> bool {
    Command::new(bpfld).args(["btf", "extract", "--help"]).output().is_ok_and(|o| o.status.success())
}

/// The kernel's BTF: cut out of the package by `bpfld btf extract` (once,
/// cached in `<kernel dir>/btf`), or, with a `bpfld` that cannot extract,
/// the project's shared blobs (`<shared>/<release>.btf` and
/// `<shared>/<release>/modules/`).
pub fn kernel_btf(bpfld: &Path, k: &BootKernel, modules: &[ModuleLoad], shared: Option<&Path>) -> Result<(KernelBtf, Step), String> {
    let start = Instant::now();
    if has_extract(bpfld) {
        let deb = k.package.as_ref().ok_or_else(|| format!("{}: not from a package", k.release))?;
        let dir = k.dir.join("btf");
        // The modules asked for, recorded after extraction: a kernel whose
        // modules have no BTF (5.10) leaves no module files to look for.
        let asked: String = modules.iter().map(|m| format!("{}\n", m.file_name)).collect();
        let stamp = k.dir.join("btf.modules");
        let complete = dir.join("vmlinux.btf").exists() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(asked.as_str());
        if !complete {
            let mut cmd = Command::new(bpfld);
            cmd.args(["btf", "extract"]).arg(deb).arg("-o").arg(&dir).arg("--force");
            for m in modules {
                cmd.args(["--module", &m.file_name]);
            }
            let out = cmd.output().map_err(|e| format!("{}: {e}", bpfld.display()))?;
            if !out.status.success() {
                return Err(format!("bpfld btf extract {}: {}", deb.display(), String::from_utf8_lossy(&out.stderr).trim()));
            }
            std::fs::write(&stamp, &asked).map_err(|e| format!("{}: {e}", stamp.display()))?;
        }
        let mut found = BTreeMap::new();
        for m in modules {
            let p = dir.join("modules").join(format!("{}.btf", m.file_name));
            if p.exists() {
                found.insert(m.name.clone(), p);
            }
        }
        let step = Step { what: "btf extract", cached: complete, took: start.elapsed() };
        return Ok((KernelBtf { vmlinux: dir.join("vmlinux.btf"), modules: found, source: "bpfld btf extract".into() }, step));
    }
    let shared = shared.ok_or_else(|| format!("{}: no 'btf extract' command and no shared/btf directory", bpfld.display()))?;
    let release = &k.release;
    let vmlinux = shared.join(format!("{release}.btf"));
    if !vmlinux.exists() {
        return Err(format!("{}: missing (and {} cannot extract BTF)", vmlinux.display(), bpfld.display()));
    }
    let mut found = BTreeMap::new();
    if let Ok(rd) = std::fs::read_dir(shared.join(release).join("modules")) {
        for e in rd.flatten() {
            let p = e.path();
            if let Some(stem) = p.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".btf")) {
                found.insert(kernel_name(stem), p.clone());
            }
        }
    }
    let step = Step { what: "btf (shared)", cached: true, took: start.elapsed() };
    Ok((KernelBtf { vmlinux, modules: found, source: shared.display().to_string() }, step))
}

fn link(target: &Path, at: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(at);
    std::os::unix::fs::symlink(target, at).map_err(|e| format!("{}: {e}", at.display()))
}

/// A real System.map, not Debian's one-line placeholder ("The real
/// System.map is in the linux-image-<version>-dbg package").
pub fn real_system_map(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() > 4096)
}

/// Writes the release directory `bpfld check` plans against for a guest:
/// the vmlinux BTF, the package's config, its System.map as kallsyms if
/// the package has a real one (addresses differ under KASLR, names do
/// not), and the split BTF of the modules the guest really had loaded
/// (`loaded`, kernel names), as the loader sees the running kernel's.
/// Returns the loaded modules that have no BTF here.
pub fn guest_target_dir(dir: &Path, k: &BootKernel, btf: &KernelBtf, loaded: &[String]) -> Result<Vec<String>, String> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("modules")).map_err(|e| format!("{}: {e}", dir.display()))?;
    link(&btf.vmlinux, &dir.join("vmlinux.btf"))?;
    if let Some(config) = &k.config {
        link(config, &dir.join("config"))?;
    }
    if let Some(map) = k.system_map.as_deref().filter(|m| real_system_map(m)) {
        link(map, &dir.join("kallsyms"))?;
    }
    std::fs::write(dir.join("release"), format!("{}\n", k.release)).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut without_btf = Vec::new();
    for m in loaded.iter().filter(|m| m.as_str() != "vmlinux") {
        match btf.modules.get(m) {
            Some(p) => link(p, &dir.join("modules").join(format!("{m}.btf")))?,
            None => without_btf.push(m.clone()),
        }
    }
    Ok(without_btf)
}

/// `bpfld check OBJ --kernel D1 --kernel D2 ... --json`, one prediction per
/// directory, named by `names`.
pub fn check(bpfld: &Path, obj: &Path, dirs: &[PathBuf], names: &[String]) -> Result<Vec<Predicted>, String> {
    let mut cmd = Command::new(bpfld);
    cmd.arg("check").arg(obj).arg("--json");
    for d in dirs {
        cmd.arg("--kernel").arg(d);
    }
    let out = cmd.output().map_err(|e| format!("{}: {e}", bpfld.display()))?;
    parse_check(&String::from_utf8_lossy(&out.stdout), &String::from_utf8_lossy(&out.stderr), names)
        .map_err(|e| format!("{}: {e}", obj.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_blobs_when_bpfld_cannot_extract() {
        let tmp = std::env::temp_dir().join(format!("bpfld-matrix-predict-{}", std::process::id()));
        let shared = tmp.join("shared");
        std::fs::create_dir_all(shared.join("6.1.0-56-amd64/modules")).unwrap();
        std::fs::write(shared.join("6.1.0-56-amd64.btf"), b"btf").unwrap();
        std::fs::write(shared.join("6.1.0-56-amd64/modules/nf_conntrack.btf"), b"m").unwrap();
        std::fs::write(shared.join("6.1.0-56-amd64/modules/crc32c-intel.btf"), b"m").unwrap();
        let k = BootKernel {
            release: "6.1.0-56-amd64".into(),
            package: Some(tmp.join("x.deb")),
            modules_root: Some(tmp.clone()),
            boot_image: tmp.join("vmlinux"),
            config: Some(tmp.join("config")),
            system_map: Some(tmp.join("System.map")),
            dir: tmp.clone(),
            steps: Vec::new(),
        };
        // /bin/false has no `btf extract`.
        let (btf, _) = kernel_btf(Path::new("/bin/false"), &k, &[], Some(&shared)).unwrap();
        assert_eq!(btf.vmlinux, shared.join("6.1.0-56-amd64.btf"));
        assert_eq!(btf.modules.keys().collect::<Vec<_>>(), ["crc32c_intel", "nf_conntrack"], "kernel names");
        assert!(kernel_btf(Path::new("/bin/false"), &k, &[], None).is_err());
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
