//! Shared helpers of the CO-RE integration tests: the committed test
//! objects, the kernels of `shared/btf` as targets, and lookups in a
//! relocation report.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bpfld_asm::Insn;
use bpfld_btf::ext::CoreReloKind;
use bpfld_btf::Btf;
use bpfld_obj::core::{relocate, CoreRelocation, CoreReport};
use bpfld_obj::{ModuleBtf, Object, Target};

pub const K61: &str = "6.1.0-56-amd64";
pub const K612: &str = "6.12.117+deb12-amd64";
pub const K618: &str = "6.18-host";
pub const KERNELS: [&str; 3] = [K61, K612, K618];

/// `shared/btf` beside the checkout. Missing data is a skip locally, a
/// failure where BPFLD_REQUIRE_KERNEL=1 (CI).
pub fn shared_btf_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("BPFLD_SHARED_BTF") {
        return Some(PathBuf::from(p));
    }
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    loop {
        for cand in [dir.join("shared/btf"), dir.join("../shared/btf")] {
            if cand.join("README.md").exists() {
                return Some(cand.canonicalize().unwrap_or(cand));
            }
        }
        if !dir.pop() {
            break;
        }
    }
    if std::env::var("BPFLD_REQUIRE_KERNEL").as_deref() == Ok("1") {
        panic!("shared/btf not found beside the checkout and BPFLD_REQUIRE_KERNEL=1");
    }
    eprintln!("skipped: shared/btf not found beside the checkout");
    None
}

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
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/bpf/obj").join(format!("{name}.bpf.o"))
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
    report
        .relocations
        .iter()
        .filter(|r| r.program == p && r.kind == kind && r.local_type_name == type_name && r.access == access)
        .collect()
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
