//! Differential test of CO-RE relocation against libbpf 1.7: every
//! `tests/bpf/obj/core_*.bpf.o` is opened by libbpf with each kernel BTF of
//! `shared/btf` as `btf_custom_path` and prepared (`bpf_object__prepare`:
//! relocated and linked, maps created, nothing loaded), and by bpfld
//! (`bpfld_obj::core::relocate`, then `bpfld_obj::link::link`). Every
//! program's instructions must be identical, except the `ld_imm64` of
//! maps, whose immediates are libbpf's map fds. Where libbpf fails, bpfld
//! must fail too, for the same reason (its warning and our error are
//! compared on the key phrase).
//!
//! With `btf_custom_path` libbpf searches no module BTF, so this covers
//! vmlinux candidates; module search order is tested offline in
//! `crates/obj/tests/core_kernels.rs`.

use std::collections::HashMap;
use std::ffi::{c_char, c_int, CStr, CString};
use std::path::Path;
use std::sync::{Arc, Mutex};

use bpfld_asm::Insn;
use bpfld_btf::Btf;
use bpfld_obj::core::relocate;
use bpfld_obj::link::link;
use bpfld_obj::{Object, RelocKind, Target};

const KERNELS: [&str; 3] = ["6.1.0-56-amd64", "6.12.117+deb12-amd64", "6.18-host"];
const OBJECTS: [&str; 5] = ["core_fields", "core_types", "core_module", "core_pruning", "core_ambiguous"];

use bpfld_testdata::{kernel_btf_dir, test_object as object_path};

/// libbpf's messages, collected by the print callback (one test function
/// drives libbpf, so there is no interleaving).
static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

extern "C" {
    fn vsnprintf(buf: *mut c_char, n: usize, fmt: *const c_char, ap: *mut libbpf_sys::__va_list_tag) -> c_int;
}

unsafe extern "C" fn collect_log(_level: libbpf_sys::libbpf_print_level, fmt: *const c_char, ap: *mut libbpf_sys::__va_list_tag) -> c_int {
    let mut buf = [0 as c_char; 1024];
    // SAFETY: libbpf passes a format string and its matching va_list.
    let n = unsafe { vsnprintf(buf.as_mut_ptr(), buf.len(), fmt, ap) };
    // SAFETY: vsnprintf NUL-terminates within the buffer.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned();
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        log.push_str(&s);
    }
    n
}

/// What libbpf made of an object: each program's prepared instructions by
/// name, or its log if preparing failed.
fn libbpf_prepare(obj: &Path, btf: &Path) -> Result<HashMap<String, Vec<Insn>>, String> {
    LIBBPF_LOG.lock().unwrap().clear();
    let cpath = CString::new(obj.to_str().unwrap()).unwrap();
    let cbtf = CString::new(btf.to_str().unwrap()).unwrap();
    let opts = libbpf_sys::bpf_object_open_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _,
        btf_custom_path: cbtf.as_ptr(),
        ..Default::default()
    };
    // SAFETY: plain libbpf calls on valid C strings and options; the object
    // is closed before returning, and instruction slices are copied first.
    unsafe {
        let o = libbpf_sys::bpf_object__open_file(cpath.as_ptr(), &opts);
        assert_eq!(libbpf_sys::libbpf_get_error(o as *const _), 0, "libbpf cannot open {}", obj.display());
        let err = libbpf_sys::bpf_object__prepare(o);
        if err != 0 {
            libbpf_sys::bpf_object__close(o);
            return Err(std::mem::take(&mut *LIBBPF_LOG.lock().unwrap()));
        }
        let mut out = HashMap::new();
        let mut p = libbpf_sys::bpf_object__next_program(o, std::ptr::null_mut());
        while !p.is_null() {
            let name = CStr::from_ptr(libbpf_sys::bpf_program__name(p)).to_string_lossy().into_owned();
            let n = libbpf_sys::bpf_program__insn_cnt(p) as usize;
            let raw = libbpf_sys::bpf_program__insns(p) as *const [u8; 8];
            let insns = std::slice::from_raw_parts(raw, n).iter().map(|b| Insn(*b)).collect();
            out.insert(name, insns);
            p = libbpf_sys::bpf_object__next_program(o, p);
        }
        libbpf_sys::bpf_object__close(o);
        Ok(out)
    }
}

/// What bpfld makes of it: each entry program's instructions after CO-RE
/// relocation and linking, and the indexes holding map immediates.
type Ours = HashMap<String, (Vec<Insn>, Vec<usize>)>;

fn bpfld_prepare(obj: &Object, target: &Target) -> Result<Ours, String> {
    let mut insns: Vec<Vec<Insn>> = obj.programs.iter().map(|p| p.insns.clone()).collect();
    relocate(obj, target, &mut insns).map_err(|e| e.to_string())?;
    let mut out = HashMap::new();
    for (i, p) in obj.programs.iter().enumerate() {
        if p.is_subprog {
            continue;
        }
        if !p.autoload {
            // libbpf neither relocates nor links programs it will not load.
            out.insert(p.name.clone(), (insns[i].clone(), Vec::new()));
            continue;
        }
        let linked = link(obj, i, &insns).map_err(|e| e.to_string())?;
        let mut skip = Vec::new();
        for r in &linked.relocs {
            if matches!(r.kind, RelocKind::Map { .. } | RelocKind::MapValue { .. }) {
                skip.extend([r.insn_idx, r.insn_idx + 1]);
            }
        }
        out.insert(p.name.clone(), (linked.insns, skip));
    }
    Ok(out)
}

/// The phrase that says why a relocation failed, in libbpf's log and in
/// bpfld's error alike.
const FAILURE_PHRASES: [&str; 4] =
    ["relocation decision ambiguity", "field offset ambiguity", "unexpected insn", "can't be satisfied for bitfield"];

#[test]
fn core_relocations_match_libbpf() {
    let Some(dir) = kernel_btf_dir() else { return };
    if !bpfld_testdata::require_kernel() {
        return;
    }
    // SAFETY: installs a callback with the signature libbpf expects.
    unsafe { libbpf_sys::libbpf_set_print(Some(collect_log)) };
    let mut compared = 0;
    let mut failures = Vec::new();
    for kernel in KERNELS {
        let btf_path = dir.join(format!("{kernel}.btf"));
        let vmlinux = Btf::parse(Arc::new(std::fs::read(&btf_path).unwrap())).unwrap();
        let target = Target::new(kernel, vmlinux);
        for name in OBJECTS {
            let path = object_path(name);
            let obj = Object::parse(name, &std::fs::read(&path).unwrap()).unwrap();
            let theirs = libbpf_prepare(&path, &btf_path);
            let ours = bpfld_prepare(&obj, &target);
            match (theirs, ours) {
                (Err(log), Err(err)) => {
                    let why = FAILURE_PHRASES.iter().find(|p| log.contains(*p));
                    match why {
                        Some(p) if err.contains(p) => compared += 1,
                        _ => {
                            failures.push(format!("{name} on {kernel}: both fail, for different reasons:\n  libbpf: {log}\n  bpfld: {err}"))
                        }
                    }
                }
                (Err(log), Ok(_)) => failures.push(format!("{name} on {kernel}: libbpf fails, bpfld does not:\n{log}")),
                (Ok(_), Err(err)) => failures.push(format!("{name} on {kernel}: bpfld fails, libbpf does not: {err}")),
                (Ok(theirs), Ok(ours)) => {
                    assert_eq!(
                        theirs.keys().collect::<std::collections::BTreeSet<_>>(),
                        ours.keys().collect::<std::collections::BTreeSet<_>>(),
                        "{name}: programs"
                    );
                    for (prog, t) in &theirs {
                        let (o, skip) = &ours[prog];
                        if t.len() != o.len() {
                            failures.push(format!("{name}/{prog} on {kernel}: libbpf has {} instructions, bpfld {}", t.len(), o.len()));
                            continue;
                        }
                        for (i, (a, b)) in t.iter().zip(o).enumerate() {
                            if a != b && !skip.contains(&i) {
                                failures.push(format!("{name}/{prog} on {kernel}: insn {i}: libbpf {a:?}, bpfld {b:?}"));
                            }
                        }
                        compared += 1;
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} differences from libbpf:\n{}", failures.len(), failures.join("\n"));
    // 4 objects with 1 + 4 + 6 + 1 + 2 programs... counted per program,
    // plus one per failing object: make sure nothing was silently skipped.
    assert!(compared >= KERNELS.len() * 12, "only {compared} comparisons");
    eprintln!("{compared} programs and failures identical to libbpf 1.7");
}
