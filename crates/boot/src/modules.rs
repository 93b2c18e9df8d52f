//! Which module files to `insmod`, in which order.
//!
//! Debian's kernel packages ship no `modules.dep` (it is generated at
//! install time), and the guest has no modprobe: the order comes from each
//! module's own `.modinfo`, `depends=` (hard: must load first) and
//! `softdep=pre: ...` (soft: tried first, allowed to fail). A soft
//! dependency usually names an alias, such as libcrc32c's `crc32c`, which
//! `crc32c_generic` and `crc32c-intel` both provide; the second fails with
//! ENODEV on a CPU without SSE4.2, such as qemu64, which is why soft
//! dependencies may fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::error::BootError;

/// One `insmod` of the guest's `/init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleLoad {
    /// The kernel's name of the module (`-` as `_`), as in /sys/module and
    /// /sys/kernel/btf.
    pub name: String,
    /// The module's file name as shipped, without `.ko` and compression
    /// suffix (what `bpfld btf extract --module` takes).
    pub file_name: String,
    /// The file in the unpacked package (`.ko`, `.ko.xz`, `.ko.zst`).
    pub path: PathBuf,
    /// A soft dependency (or a dependency of one): failing is allowed.
    pub optional: bool,
    /// Why it is loaded ("requested", "needed by X", "soft dependency of X").
    pub why: String,
}

/// The kernel's name of a module file name.
pub fn kernel_name(file_name: &str) -> String {
    file_name.replace('-', "_")
}

/// Every module file under `<modules_root>/kernel`, by kernel name.
fn index(modules_root: &Path) -> Result<BTreeMap<String, (String, PathBuf)>, BootError> {
    let mut found = BTreeMap::new();
    let mut stack = vec![modules_root.join("kernel")];
    while let Some(dir) = stack.pop() {
        let entries = std::fs::read_dir(&dir).map_err(|e| BootError::io(&dir, e))?;
        for e in entries {
            let e = e.map_err(|e| BootError::io(&dir, e))?;
            let path = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(path);
                continue;
            }
            let Some(file) = path.file_name().and_then(|n| n.to_str()) else { continue };
            if let Some(stem) = bpfld_extract::release_dir::module_name(file) {
                found.entry(kernel_name(stem)).or_insert_with(|| (stem.to_string(), path.clone()));
            }
        }
    }
    Ok(found)
}

/// A module file as an ELF image (decompressed if shipped compressed).
pub fn read_module(path: &Path) -> Result<Vec<u8>, BootError> {
    let bytes = std::fs::read(path).map_err(|e| BootError::io(path, e))?;
    let (_, elf) = bpfld_extract::open_elf(&path.display().to_string(), &bytes)?;
    Ok(elf.into_owned())
}

/// The `key=value` strings of a module's `.modinfo` section.
pub fn modinfo(file: &str, elf: &[u8]) -> Result<Vec<(String, String)>, BootError> {
    use object::{Object, ObjectSection};
    let bad = |why: String| BootError::Module { module: file.to_string(), why };
    let obj = object::File::parse(elf).map_err(|e| bad(format!("not an ELF module: {e}")))?;
    let Some(sec) = obj.section_by_name(".modinfo") else {
        return Ok(Vec::new());
    };
    let data = sec.data().map_err(|e| bad(format!(".modinfo: {e}")))?;
    Ok(data
        .split(|&b| b == 0)
        .filter_map(|s| {
            let s = std::str::from_utf8(s).ok()?;
            let (k, v) = s.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect())
}

/// Hard dependencies (`depends=a,b`) and soft pre-dependencies
/// (`softdep=pre: x y post: z`) of a module.
fn dependencies(info: &[(String, String)]) -> (Vec<String>, Vec<String>) {
    let mut hard = Vec::new();
    let mut soft = Vec::new();
    for (k, v) in info {
        match k.as_str() {
            "depends" => hard.extend(v.split(',').filter(|s| !s.is_empty()).map(str::to_string)),
            "softdep" => {
                let mut pre = false;
                for tok in v.split_whitespace() {
                    match tok {
                        "pre:" => pre = true,
                        "post:" => pre = false,
                        name if pre => soft.push(name.to_string()),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    (hard, soft)
}

struct Planner {
    index: BTreeMap<String, (String, PathBuf)>,
    order: Vec<ModuleLoad>,
}

impl Planner {
    fn visit(&mut self, name: &str, optional: bool, why: String) -> Result<(), BootError> {
        let name = kernel_name(name);
        if let Some(done) = self.order.iter_mut().find(|m| m.name == name) {
            // Needed for real by someone else: no longer allowed to fail.
            done.optional &= optional;
            return Ok(());
        }
        let Some((file_name, path)) = self.index.get(&name).cloned() else {
            return Err(BootError::Module { module: name, why: format!("{why}: no such module in the kernel's modules") });
        };
        let elf = read_module(&path)?;
        let (hard, soft) = dependencies(&modinfo(&path.display().to_string(), &elf)?);
        for s in soft {
            for provider in self.providers(&s)? {
                self.visit(&provider, true, format!("soft dependency of {name}"))?;
            }
        }
        for h in hard {
            self.visit(&h, optional, format!("needed by {name}"))?;
        }
        self.order.push(ModuleLoad { name, file_name, path, optional, why });
        Ok(())
    }

    /// The modules a soft dependency names: the module of that name, or
    /// the modules with that alias among those whose name starts with it
    /// (`crc32c` → `crc32c_generic`, `crc32c_intel`); reading every
    /// module of the package for its aliases would take seconds.
    fn providers(&self, dep: &str) -> Result<Vec<String>, BootError> {
        let dep_name = kernel_name(dep);
        if self.index.contains_key(&dep_name) {
            return Ok(vec![dep_name]);
        }
        let mut out = Vec::new();
        for (name, (_, path)) in self.index.range(dep_name.clone()..) {
            if !name.starts_with(&dep_name) {
                break;
            }
            let elf = read_module(path)?;
            let info = modinfo(&path.display().to_string(), &elf)?;
            if info.iter().any(|(k, v)| k == "alias" && v == dep) {
                out.push(name.clone());
            }
        }
        Ok(out)
    }
}

/// The insmod order that loads `wanted` (kernel names) from the package
/// unpacked at `modules_root` (`.../lib/modules/<release>`): for each
/// module, its soft pre-dependencies (optional), its dependencies, itself.
pub fn plan_modules(modules_root: &Path, wanted: &[&str]) -> Result<Vec<ModuleLoad>, BootError> {
    let mut p = Planner { index: index(modules_root)?, order: Vec::new() };
    for w in wanted {
        p.visit(w, false, "requested".to_string())?;
    }
    Ok(p.order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_and_softdeps() {
        let info: Vec<(String, String)> = [
            ("alias", "nf_conntrack-2"),
            ("depends", "nf_defrag_ipv4,nf_defrag_ipv6,libcrc32c"),
            ("softdep", "pre: crc32c crc32 post: foo"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let (hard, soft) = dependencies(&info);
        assert_eq!(hard, ["nf_defrag_ipv4", "nf_defrag_ipv6", "libcrc32c"]);
        assert_eq!(soft, ["crc32c", "crc32"]);
        assert_eq!(dependencies(&[("depends".into(), String::new())]), (vec![], vec![]));
    }
}
