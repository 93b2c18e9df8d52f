//! Shared helpers of the CO-RE integration tests: the committed test
//! objects, the kernels of `shared/btf` as targets, and lookups in a
//! relocation report.
#![allow(dead_code, unused_imports)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bpfld_asm::Insn;
use bpfld_btf::ext::CoreReloKind;
use bpfld_btf::Btf;
use bpfld_obj::core::{relocate, CoreRelocation, CoreReport};
use bpfld_obj::{ModuleBtf, Object, Target};

pub use bpfld_testdata::{kernel_btf_dir, K61, K612, K618, SHARED_KERNELS as KERNELS};

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The kernel `release` of `dir` as a target: its vmlinux BTF and, if
/// `with_modules`, its module BTFs in name order.
pub fn target(dir: &Path, release: &str, with_modules: bool) -> Target {
    let vmlinux = Btf::parse(Arc::new(read(&dir.join(format!("{release}.btf"))))).unwrap();
    let mut t = Target::new(release, vmlinux.clone());
    if with_modules {
        let mdir = dir.join(release).join("modules");
        let mut names: Vec<PathBuf> = std::fs::read_dir(&mdir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "btf")).collect())
            .unwrap_or_default();
        names.sort();
        for p in names {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let btf = Btf::parse_split(Arc::new(read(&p)), &vmlinux).unwrap();
            t.modules.push(ModuleBtf { name, btf });
        }
    }
    t
}

/// Path of a committed test object.
pub fn object_path(name: &str) -> PathBuf {
    bpfld_testdata::test_object(name)
}

/// A committed test object, opened.
pub fn object(name: &str) -> Object {
    Object::parse(name, &read(&object_path(name))).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

/// Every function's instructions, as `relocate` takes them.
pub fn insns_of(obj: &Object) -> Vec<Vec<Insn>> {
    obj.programs.iter().map(|p| p.insns.clone()).collect()
}

/// Relocates `obj` against `target`.
pub fn run(obj: &Object, target: &Target) -> Result<(CoreReport, Vec<Vec<Insn>>), bpfld_obj::Error> {
    let mut insns = insns_of(obj);
    let report = relocate(obj, target, &mut insns)?;
    Ok((report, insns))
}

/// Index of the function named `name`.
pub fn prog(obj: &Object, name: &str) -> usize {
    obj.programs.iter().position(|p| p.name == name).unwrap_or_else(|| panic!("no function {name}"))
}

/// The relocations of function `prog_name` of `kind` on the local type
/// `type_name` with access string `access`, in order.
pub fn find<'r>(
    report: &'r CoreReport,
    obj: &Object,
    prog_name: &str,
    kind: CoreReloKind,
    type_name: &str,
    access: &str,
) -> Vec<&'r CoreRelocation> {
    let p = prog(obj, prog_name);
    report.relocations.iter().filter(|r| r.program == p && r.kind == kind && r.local_type_name == type_name && r.access == access).collect()
}

/// The one relocation matching, which must exist.
pub fn one<'r>(
    report: &'r CoreReport,
    obj: &Object,
    prog_name: &str,
    kind: CoreReloKind,
    type_name: &str,
    access: &str,
) -> &'r CoreRelocation {
    let v = find(report, obj, prog_name, kind, type_name, access);
    assert!(!v.is_empty(), "no {} relocation of {type_name} '{access}' in {prog_name}", kind.name());
    v[0]
}
