//! (Shared by the load differential over the project's objects and the
//! real-world corpus differential.)
//!
//! bpfld against libbpf 1.7, object by object (every `tests/bpf/obj/*.o`):
//! the final instructions of each program (after relocation, before the
//! kernel) and the verdict of loading each program into the running kernel
//! must be the same.
//!
//! Instructions are compared byte for byte except where loaders put fds:
//! a map `ld_imm64` is compared by the *name* of the map it refers to
//! (libbpf: the map whose fd is in `imm`; bpfld: the map whose index is),
//! and a module BTF `ld_imm64` by the module's name. libbpf's instructions
//! are read with `bpf_program__insns` after `bpf_object__prepare`.
//!
//! Programs of `SEC("?...")` sections are enabled on both sides (libbpf:
//! `bpf_program__set_autoload`, bpfld: `load_disabled`), so that they are
//! compared too; which programs were off by default must agree.
//!
//! Verdicts: libbpf stops at the first program that fails, so each failing
//! program is disabled (`bpf_program__set_autoload`) and the object loaded
//! again, until the rest loads; that is bpfld's `keep_going`. When both
//! refuse a program with a verifier log, the verifier's last meaningful
//! line must be the same too (it carries the fixed-up explanation of
//! poisoned instructions).
//!
//! The maps the kernel ends up with (name, type, sizes, flags, whether it
//! has BTF) and whether it took the object's BTF must be the same too, and
//! so must the pins of maps pinned by name: each loader gets its own empty
//! pin root directory per object (libbpf's `pin_root_path`, bpfld's
//! `LoadOptions::pin_root`), and the names pinned there are compared.
//!
//! struct_ops maps: each loader registers every struct_ops map it created
//! (libbpf: `bpf_map__attach_struct_ops`, bpfld: `attach_struct_ops`), the
//! value the kernel then holds is read back and compared (program slots,
//! where the kernel keeps program ids, by program name), and the
//! registration undone before the other loader's turn. struct_ops programs
//! that neither loader loads (pointed to by uncreated maps only: libbpf 1.7
//! turns their autoload off while preparing, and leaves them unrelocated)
//! are compared by that verdict instead of by instructions.
//!
//! Objects either loader refuses as a whole (open, externs, map creation)
//! must be refused by both. Where both planned the object and the kernel
//! then refused a map, the instructions are compared as well: libbpf 1.7
//! relocates before it creates maps, and keeps the relocated instructions
//! after the failure (its map references are named through the placeholder
//! fds it opened for the maps at open).
//!
//! Plan-only mode ([`compare_plans`]) gives both loaders a stand-in vmlinux
//! BTF instead of the kernel's (for programs of a subsystem the kernel
//! lacks, sched_ext here): instructions and refusals are compared, no
//! verdicts.
//!
//! Deliberate differences are listed by each test with the reason.

use std::collections::{BTreeMap, HashSet};
use std::ffi::{CStr, CString};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::Mutex;

use bpfld::{LoadOptions, OpenObject, ProgramState};
use bpfld_obj::plan::LoadPlan;
use bpfld_testdata::bpffs_test_dir;

use super::libbpf_object::{cstr, LibObj};

// --- libbpf's log ------------------------------------------------------------

static LIBBPF_LOG: Mutex<String> = Mutex::new(String::new());

pub fn capture(_level: libbpf_rs::PrintLevel, msg: String) {
    LIBBPF_LOG.lock().unwrap().push_str(&msg);
}

pub fn take_log() -> String {
    std::mem::take(&mut *LIBBPF_LOG.lock().unwrap())
}

/// The last `libbpf:` warning-ish line of a captured log, for reports.
fn last_line(log: &str) -> String {
    log.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string()
}

/// The verifier log libbpf printed for `prog` (between its BEGIN/END
/// markers), if any.
fn libbpf_prog_log(log: &str, prog: &str) -> Option<String> {
    let begin = format!("prog '{prog}': -- BEGIN PROG LOAD LOG --\n");
    let start = log.rfind(&begin)? + begin.len();
    let end = log[start..].find("-- END PROG LOAD LOG --")? + start;
    Some(log[start..end].to_string())
}

/// How a program's load ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Loaded,
    /// Refused; `verifier` is the verifier's last meaningful line when the
    /// kernel wrote a log (compared between loaders), `text` the loader's
    /// own message otherwise (worded by each loader, not compared).
    Refused {
        verifier: Option<String>,
        text: String,
    },
}

/// libbpf's refusal of `prog` from its log: the verifier's log, and
/// libbpf's own line about the program (a missing type, the errno of
/// BPF_PROG_LOAD) for reports.
fn libbpf_refusal(log: &str, prog: &str) -> Verdict {
    let own = format!("prog '{prog}': ");
    let text = log
        .lines()
        .rev()
        .find(|l| l.contains(&own) && !l.contains("failed to load:") && !l.contains("PROG LOAD LOG"))
        .map(|l| l.trim().to_string())
        .unwrap_or_else(|| last_line(log));
    refused_from_log(libbpf_prog_log(log, prog).as_deref(), text)
}

fn refused_from_log(log: Option<&str>, text: String) -> Verdict {
    let verifier = log.and_then(|l| bpfld::verifier_summary(l).last().map(|s| s.to_string()));
    Verdict::Refused { verifier, text }
}

// --- Instruction normalization ---------------------------------------------

const LD_IMM64: u8 = 0x18;
const PSEUDO_MAP_FD: u8 = 1;
const PSEUDO_MAP_VALUE: u8 = 2;
const PSEUDO_BTF_ID: u8 = 3;

/// One instruction as 16 hex digits, with loader-specific numbers replaced
/// by names: `18120000 00000000 map=.bss`.
fn norm(insns: &[[u8; 8]], map_name: &dyn Fn(usize, i32) -> String, module_name: &dyn Fn(usize, i32) -> String) -> Vec<String> {
    let mut out = Vec::with_capacity(insns.len());
    let mut i = 0;
    while i < insns.len() {
        let mut a = insns[i];
        let src = a[1] >> 4;
        if a[0] == LD_IMM64 && i + 1 < insns.len() {
            let mut b = insns[i + 1];
            let imm = i32::from_ne_bytes(a[4..8].try_into().unwrap());
            let imm2 = i32::from_ne_bytes(b[4..8].try_into().unwrap());
            let mut note = String::new();
            if src == PSEUDO_MAP_FD || src == PSEUDO_MAP_VALUE {
                note = format!(" map={}", map_name(i, imm));
                a[4..8].fill(0);
            } else if src == PSEUDO_BTF_ID && imm2 != 0 {
                note = format!(" module={}", module_name(i, imm2));
                b[4..8].fill(0);
            }
            out.push(format!("{}{note}", hex(&a)));
            out.push(hex(&b));
            i += 2;
            continue;
        }
        out.push(hex(&a));
        i += 1;
    }
    out
}

fn hex(b: &[u8; 8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

// --- libbpf side -------------------------------------------------------------

/// What one loader made of one object.
#[derive(Default)]
struct View {
    /// Why libbpf refused the object as a whole (open or prepare).
    refused: Option<String>,
    /// Final instructions of every autoloaded program.
    insns: BTreeMap<String, Vec<String>>,
    /// Programs not autoloaded (`SEC("?...")`).
    disabled: Vec<String>,
    /// Programs left unloaded by the prepare step itself (struct_ops
    /// programs of uncreated maps only).
    unloaded: Vec<String>,
    /// Each registered struct_ops map's value as the kernel holds it.
    struct_ops: Vec<String>,
    verdicts: BTreeMap<String, Verdict>,
    /// Why the load stopped without a program to blame, if it did.
    load_refused: Option<String>,
    /// After the load that succeeded: each map as the kernel describes it,
    /// and whether the kernel took the object's BTF.
    kernel_maps: Vec<String>,
    btf_loaded: bool,
}

/// A map as the kernel describes it (what both loaders must create alike).
fn kernel_map(fd: BorrowedFd<'_>) -> String {
    let i = bpfld_sys::map_info(fd).unwrap();
    format!(
        "{} type={} key={} value={} max_entries={} flags={:#x} btf={}",
        i.name,
        i.map_type,
        i.key_size,
        i.value_size,
        i.max_entries,
        i.map_flags,
        if i.btf_id != 0 { "yes" } else { "no" }
    )
}

fn lib_open(path: &Path, pin_root: &Path) -> Result<LibObj, String> {
    let c = cstr(path.to_str().unwrap());
    let root = cstr(pin_root.to_str().unwrap());
    let opts = libbpf_sys::bpf_object_open_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as _,
        pin_root_path: root.as_ptr(),
        ..Default::default()
    };
    take_log();
    // SAFETY: a valid path; options of their own size whose string outlives
    // the call (libbpf copies the pin paths it builds from it).
    let obj = unsafe { libbpf_sys::bpf_object__open_file(c.as_ptr(), &opts) };
    if obj.is_null() {
        return Err(format!("open: {} ({})", std::io::Error::last_os_error(), last_line(&take_log())));
    }
    Ok(LibObj(obj))
}

/// (name, pointer) of every program.
fn lib_programs(obj: &LibObj) -> Vec<(String, *mut libbpf_sys::bpf_program)> {
    let mut v = Vec::new();
    let mut p = std::ptr::null_mut();
    loop {
        // SAFETY: obj is open; p is NULL or a program of obj.
        p = unsafe { libbpf_sys::bpf_object__next_program(obj.0, p) };
        if p.is_null() {
            return v;
        }
        // SAFETY: p is a program of obj; its name is a C string owned by obj.
        let name = unsafe { CStr::from_ptr(libbpf_sys::bpf_program__name(p)) }.to_string_lossy().into_owned();
        v.push((name, p));
    }
}

fn lib_map_names_by_fd(obj: &LibObj) -> BTreeMap<i32, String> {
    let mut m = BTreeMap::new();
    let mut map = std::ptr::null_mut();
    loop {
        // SAFETY: obj is open; map is NULL or a map of obj.
        map = unsafe { libbpf_sys::bpf_object__next_map(obj.0, map) };
        if map.is_null() {
            return m;
        }
        // SAFETY: map belongs to obj.
        let (fd, name, created) =
            unsafe { (libbpf_sys::bpf_map__fd(map), CStr::from_ptr(libbpf_sys::bpf_map__name(map)), libbpf_sys::bpf_map__autocreate(map)) };
        // A map not created (`?.struct_ops`) holds a placeholder fd.
        if created {
            m.insert(fd, name.to_string_lossy().into_owned());
        }
    }
}

/// The fds of libbpf's map placeholders open in this process (memfds
/// named `libbpf-placeholder-fd`, made at open and turned into the maps
/// when they are created).
fn placeholder_fds() -> std::collections::BTreeSet<i32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else { return Default::default() };
    dir.filter_map(|e| {
        let e = e.ok()?;
        let target = std::fs::read_link(e.path()).ok()?;
        target.to_string_lossy().contains("libbpf-placeholder-fd").then(|| e.file_name().to_str()?.parse().ok())?
    })
    .collect()
}

/// Map names by placeholder fd: libbpf opens `fds` (ascending) in the
/// order of its maps, an inner map's right after its outer map's.
fn lib_placeholder_names(obj: &LibObj, fds: Vec<i32>) -> BTreeMap<i32, String> {
    let mut names = BTreeMap::new();
    let mut fds = fds.into_iter();
    let mut map = std::ptr::null_mut();
    loop {
        // SAFETY: obj is open; map is NULL or a map of obj.
        map = unsafe { libbpf_sys::bpf_object__next_map(obj.0, map) };
        if map.is_null() {
            return names;
        }
        // SAFETY: map belongs to obj.
        let (name, created, inner) = unsafe {
            (CStr::from_ptr(libbpf_sys::bpf_map__name(map)), libbpf_sys::bpf_map__autocreate(map), libbpf_sys::bpf_map__inner_map(map))
        };
        match fds.next() {
            Some(fd) if created => drop(names.insert(fd, name.to_string_lossy().into_owned())),
            _ => {}
        }
        if !inner.is_null() {
            fds.next();
        }
    }
}

fn btf_name_of_fd(fd: i32) -> String {
    // SAFETY: the fd belongs to the open libbpf object for this call.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    bpfld_sys::btf_info(b).map(|i| i.name).unwrap_or_else(|e| format!("fd {fd}: {e}"))
}

fn libbpf_view(path: &Path, pin_root: &Path, mode: Mode) -> View {
    let mut v = View::default();
    // Instructions: open + prepare.
    let earlier = placeholder_fds();
    let obj = match lib_open(path, pin_root) {
        Ok(o) => o,
        Err(e) => {
            v.refused = Some(e);
            return v;
        }
    };
    // Every program, "?" ones included (enabled, as bpfld's load_disabled
    // does), so that their relocation and verdicts are compared too.
    for (name, p) in lib_programs(&obj) {
        // SAFETY: p is a program of the open, unprepared obj.
        unsafe {
            if !libbpf_sys::bpf_program__autoload(p) {
                v.disabled.push(name);
                libbpf_sys::bpf_program__set_autoload(p, true);
            }
        }
    }
    // Maps hold placeholder fds from open on: relocated instructions refer
    // to them, also after a failed prepare has closed them.
    let placeholders = lib_placeholder_names(&obj, placeholder_fds().difference(&earlier).copied().collect());
    // SAFETY: obj is open and not yet prepared.
    if unsafe { libbpf_sys::bpf_object__prepare(obj.0) } != 0 {
        let err = std::io::Error::last_os_error();
        let log = take_log();
        v.refused = Some(format!("prepare: {err} ({})", last_line(&log)));
        // Map creation comes after relocation: as far as libbpf got, its
        // instructions are final.
        if log.contains("': failed to create") {
            lib_insns(&obj, &placeholders, &mut v);
        }
        return v;
    }
    let created = lib_map_names_by_fd(&obj);
    assert_eq!(placeholders, created, "{}: placeholder fds", path.display());
    lib_insns(&obj, &created, &mut v);
    if mode == Mode::PlanOnly {
        return v;
    }
    drop(obj);
    if mode == Mode::Corpus {
        libbpf_verdicts_one_by_one(path, pin_root, &mut v);
        return v;
    }

    libbpf_verdicts_without_failures(path, pin_root, &mut v);
    v
}

/// The final instructions of `obj`'s prepared programs (`fds`: map fd to
/// name), and which programs preparing left unloaded.
fn lib_insns(obj: &LibObj, fds: &BTreeMap<i32, String>, v: &mut View) {
    for (name, p) in lib_programs(obj) {
        // SAFETY: p is a program of the prepared obj.
        if !unsafe { libbpf_sys::bpf_program__autoload(p) } {
            v.unloaded.push(name);
            continue;
        }
        // SAFETY: after prepare, insns holds insn_cnt final instructions.
        let raw: Vec<[u8; 8]> = unsafe {
            let n = libbpf_sys::bpf_program__insn_cnt(p);
            let ptr = libbpf_sys::bpf_program__insns(p) as *const [u8; 8];
            std::slice::from_raw_parts(ptr, n as usize).to_vec()
        };
        // An ld_imm64 no map relocation touched keeps its imm on both sides.
        let map_name = |_: usize, fd: i32| fds.get(&fd).cloned().unwrap_or_else(|| format!("unrelocated imm {fd}?"));
        let module_name = |_: usize, fd: i32| btf_name_of_fd(fd);
        v.insns.insert(name, norm(&raw, &map_name, &module_name));
    }
}

/// libbpf's verdicts: load, disabling each program that fails, until the
/// rest loads (the maps, BTF and struct_ops of that load are recorded).
fn libbpf_verdicts_without_failures(path: &Path, pin_root: &Path, v: &mut View) {
    let mut failed: HashSet<String> = HashSet::new();
    loop {
        let obj = match lib_open(path, pin_root) {
            Ok(o) => o,
            Err(e) => {
                v.load_refused = Some(e);
                break;
            }
        };
        let progs = lib_programs(&obj);
        for (name, p) in &progs {
            // SAFETY: p is a program of the open, unloaded obj.
            unsafe { libbpf_sys::bpf_program__set_autoload(*p, !failed.contains(name)) };
        }
        take_log();
        // SAFETY: obj is open and not loaded.
        let r = unsafe { libbpf_sys::bpf_object__load(obj.0) };
        let log = take_log();
        if r == 0 {
            for fd in lib_map_names_by_fd(&obj).keys() {
                // SAFETY: the fd belongs to the loaded obj, alive here.
                v.kernel_maps.push(kernel_map(unsafe { BorrowedFd::borrow_raw(*fd) }));
            }
            v.kernel_maps.sort();
            // SAFETY: obj is loaded.
            v.btf_loaded = unsafe { libbpf_sys::bpf_object__btf_fd(obj.0) } >= 0;
            let mut ids = BTreeMap::new();
            for (name, p) in &progs {
                // SAFETY: p is a program of the loaded obj.
                let (autoload, fd) = unsafe { (libbpf_sys::bpf_program__autoload(*p), libbpf_sys::bpf_program__fd(*p)) };
                if !failed.contains(name) && autoload {
                    v.verdicts.insert(name.clone(), Verdict::Loaded);
                }
                if fd >= 0 {
                    // SAFETY: the fd belongs to the loaded obj, alive here.
                    ids.insert(bpfld_sys::prog_info(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap().id, name.clone());
                }
            }
            v.struct_ops = lib_register_struct_ops(&obj, &ids);
            break;
        }
        let culprit = progs.iter().map(|(n, _)| n).find(|n| !failed.contains(*n) && log.contains(&format!("prog '{n}': failed to load")));
        match culprit {
            Some(n) => {
                v.verdicts.insert(n.clone(), libbpf_refusal(&log, n));
                failed.insert(n.clone());
            }
            None => {
                v.load_refused = Some(last_line(&log));
                break;
            }
        }
    }
}

/// The value of struct_ops map `fd` as the kernel holds it once
/// registered: 8-byte words in hex, a word holding the id of one of the
/// object's programs (a program slot) shown as that program's name.
fn registered_value(map: &str, fd: BorrowedFd<'_>, prog_ids: &BTreeMap<u32, String>) -> String {
    let info = bpfld_sys::map_info(fd).unwrap();
    let mut v = vec![0u8; info.value_size as usize];
    let words = match bpfld_sys::map_lookup_elem(fd, &0u32.to_ne_bytes(), &mut v, 0) {
        Ok(true) => v
            .chunks(8)
            .map(|c| {
                let w = c.iter().rev().fold(0u64, |a, &b| (a << 8) | u64::from(b));
                match u32::try_from(w).ok().and_then(|id| prog_ids.get(&id)) {
                    Some(name) => format!("<{name}>"),
                    None => hex(&{
                        let mut b = [0u8; 8];
                        b[..c.len()].copy_from_slice(c);
                        b
                    }),
                }
            })
            .collect::<Vec<_>>()
            .join(" "),
        Ok(false) => "no element".into(),
        Err(e) => format!("lookup: {e}"),
    };
    format!("{map}: {words}")
}

/// Registers each created struct_ops map of a loaded libbpf object, reads
/// its value back, and unregisters it.
fn lib_register_struct_ops(obj: &LibObj, prog_ids: &BTreeMap<u32, String>) -> Vec<String> {
    let mut out = Vec::new();
    let mut map = std::ptr::null_mut();
    loop {
        // SAFETY: obj is loaded; map is NULL or a map of obj.
        map = unsafe { libbpf_sys::bpf_object__next_map(obj.0, map) };
        if map.is_null() {
            break;
        }
        // SAFETY: map belongs to obj.
        let (ty, fd, name, created) = unsafe {
            (
                libbpf_sys::bpf_map__type(map),
                libbpf_sys::bpf_map__fd(map),
                CStr::from_ptr(libbpf_sys::bpf_map__name(map)),
                libbpf_sys::bpf_map__autocreate(map),
            )
        };
        let name = name.to_string_lossy().into_owned();
        if ty != libbpf_sys::BPF_MAP_TYPE_STRUCT_OPS || !created {
            continue;
        }
        // SAFETY: a created struct_ops map of the loaded obj.
        let link = unsafe { libbpf_sys::bpf_map__attach_struct_ops(map) };
        if link.is_null() {
            out.push(format!("{name}: registering failed: {} ({})", std::io::Error::last_os_error(), last_line(&take_log())));
            continue;
        }
        // SAFETY: the fd belongs to the loaded obj, alive here.
        out.push(registered_value(&name, unsafe { BorrowedFd::borrow_raw(fd) }, prog_ids));
        // SAFETY: a link from bpf_map__attach_struct_ops, destroyed once.
        unsafe { libbpf_sys::bpf_link__destroy(link) };
    }
    out.sort();
    out
}

// --- bpfld side --------------------------------------------------------------

fn plan_insns(plan: &LoadPlan, target: Option<&bpfld_obj::Target>, v: &mut View) {
    for p in &plan.programs {
        if !p.autoload {
            v.unloaded.push(p.name.clone());
            continue;
        }
        let raw: Vec<[u8; 8]> = p.insns.iter().map(|i| i.0).collect();
        let map_name = |i: usize, imm: i32| {
            let r = p.map_refs.iter().find(|r| r.insn_idx == i);
            match r.and_then(|r| plan.maps.get(r.map)) {
                // libbpf's bpf_map__name: the real name of custom .data.*/.rodata.*
                // sections (map_uses_real_name), the kernel name of the others.
                Some(m) if m.origin.is_global_data() && !is_custom_data_section(&m.real_name) => m.name.clone(),
                Some(m) => m.real_name.clone(),
                None => format!("unrelocated imm {imm}?"),
            }
        };
        let module_name = |i: usize, _: i32| {
            let r = p.module_btf_refs.iter().find(|r| r.insn_idx == i);
            match (r, target) {
                (Some(r), Some(t)) => t.modules[r.module].name.clone(),
                _ => "?".into(),
            }
        };
        v.insns.insert(p.name.clone(), norm(&raw, &map_name, &module_name));
    }
}

/// `.data.<name>` or `.rodata.<name>`: a section whose map libbpf names by
/// its real name.
fn is_custom_data_section(name: &str) -> bool {
    name.starts_with(".data.") || name.starts_with(".rodata.")
}

/// Opens `path` with every program enabled, "?" ones included (as on
/// the libbpf side, recording them in `v`).
fn bpfld_open(path: &Path, v: &mut View) -> Option<OpenObject> {
    let mut open = match OpenObject::open(path) {
        Ok(o) => o,
        Err(e) => {
            v.refused = Some(e.to_string());
            return None;
        }
    };
    let disabled: Vec<String> = open.object().entry_programs().filter(|p| !p.autoload).map(|p| p.name.clone()).collect();
    for name in &disabled {
        open.set_autoload(name, true).unwrap();
    }
    v.disabled = disabled;
    Some(open)
}

/// bpfld's plan against the running kernel with `vmlinux` for its BTF,
/// then loaded as far as the kernel goes.
fn bpfld_plan_view(path: &Path, pin_root: &Path, vmlinux: &bpfld_btf::Btf) -> View {
    let mut v = View::default();
    let Some(open) = bpfld_open(path, &mut v) else { return v };
    let mut kernel = match bpfld::kernel_target::running_kernel(&open.target_needs(), &Default::default()) {
        Ok(k) => k,
        Err(e) => {
            v.refused = Some(e.to_string());
            return v;
        }
    };
    kernel.target.vmlinux = vmlinux.clone();
    // Module BTF ids continue the kernel's vmlinux, not this one.
    kernel.target.modules.clear();
    let plan = match open.plan(Some(&kernel.target)) {
        Ok(p) => p,
        Err(e) => {
            v.refused = Some(e.to_string());
            return v;
        }
    };
    plan_insns(&plan, Some(&kernel.target), &mut v);
    let opts = LoadOptions { keep_going: true, load_disabled: true, pin_root: Some(pin_root.to_path_buf()), ..Default::default() };
    if let Err(e) = bpfld::loader::load_plan(&plan, &[], kernel.target.kernel_version, &opts) {
        v.load_refused = Some(e.to_string());
    }
    v
}

fn bpfld_view(path: &Path, pin_root: &Path, mode: Mode) -> View {
    let mut v = View::default();
    let Some(open) = bpfld_open(path, &mut v) else { return v };
    let needs = open.target_needs();
    let kernel = if needs.any() {
        match bpfld::kernel_target::running_kernel(&needs, &Default::default()) {
            Ok(k) => Some(k),
            Err(e) => {
                v.refused = Some(e.to_string());
                return v;
            }
        }
    } else {
        None
    };
    match open.plan(kernel.as_ref().map(|k| &k.target)) {
        Ok(plan) => {
            plan_insns(&plan, kernel.as_ref().map(|k| &k.target), &mut v);
        }
        Err(e) => {
            v.refused = Some(e.to_string());
            return v;
        }
    }
    match open.load_with(&LoadOptions {
        keep_going: true,
        load_disabled: true,
        pin_root: Some(pin_root.to_path_buf()),
        ..Default::default()
    }) {
        Ok(obj) => {
            v.kernel_maps = obj.loaded_maps().iter().map(|m| kernel_map(std::os::fd::AsFd::as_fd(&m.fd))).collect();
            v.kernel_maps.sort();
            v.btf_loaded = obj.btf_fd().is_some();
            let ids: BTreeMap<u32, String> =
                obj.programs().filter_map(|p| Some((bpfld_sys::prog_info(p.fd().ok()?).unwrap().id, p.name().to_string()))).collect();
            for m in obj.struct_ops_maps().filter(|_| mode == Mode::Full) {
                let map = obj.map(&m.spec.real_name).unwrap();
                match map.attach_struct_ops() {
                    Ok(link) => {
                        v.struct_ops.push(registered_value(&m.spec.real_name, map.fd(), &ids));
                        drop(link);
                    }
                    Err(e) => v.struct_ops.push(format!("{}: registering failed: {e}", m.spec.real_name)),
                }
            }
            v.struct_ops.sort();
            for p in obj.programs() {
                match p.state() {
                    ProgramState::Loaded => {
                        v.verdicts.insert(p.name().to_string(), Verdict::Loaded);
                    }
                    ProgramState::Failed(e) => {
                        let log = (!e.log.is_empty()).then_some(e.log.as_str());
                        v.verdicts.insert(p.name().to_string(), refused_from_log(log, e.message.clone()));
                    }
                    ProgramState::Disabled => {}
                }
            }
        }
        Err(e) => v.load_refused = Some(e.to_string()),
    }
    v
}

// --- The comparison ------------------------------------------------------------

/// The names pinned in a loader's pin root, sorted.
fn pinned_names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Differences found (failures) and what was compared (report).
pub struct Outcome {
    pub failures: Vec<String>,
    pub report: Vec<String>,
    /// The reason bpfld differs on purpose (or is known to) for an object
    /// and program ("*": any).
    known: fn(&str, &str) -> Option<&'static str>,
    /// Counts: programs compared, with identical instructions, loaded by
    /// both, refused by both, and listed differences.
    pub programs: usize,
    pub identical: usize,
    pub loaded: usize,
    pub refused_by_both: usize,
    pub listed: usize,
}

impl Outcome {
    pub fn new(known: fn(&str, &str) -> Option<&'static str>) -> Self {
        Outcome { failures: Vec::new(), report: Vec::new(), known, programs: 0, identical: 0, loaded: 0, refused_by_both: 0, listed: 0 }
    }

    /// Records a difference on `prog` ("*": the object), as a failure
    /// unless it is listed as deliberate or known.
    fn differ(&mut self, obj: &str, prog: &str, what: String) {
        match (self.known)(obj, prog) {
            Some(why) => {
                self.listed += 1;
                self.report.push(format!("  {obj}: listed difference ({why}): {what}"))
            }
            None => self.failures.push(format!("{obj}: {what}")),
        }
    }
}

/// How much of an object is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Everything: instructions, verdicts (libbpf reloading without each
    /// failed program), maps and pins in the kernel, struct_ops values.
    Full,
    /// Instructions and per-program verdicts (libbpf loads each program
    /// alone: objects with many failing programs stay linear), no struct_ops
    /// registration (programs by others may register real schedulers or
    /// congestion controls).
    Corpus,
    /// Instructions only, planned against a vmlinux BTF both loaders are
    /// given instead of the kernel's ([`compare_plans`]); what the kernel
    /// cannot load is compared by refusal only.
    PlanOnly,
}

/// libbpf's verdict of each program loaded alone (the others' autoload
/// off), as bpfld's keep_going gives them.
fn libbpf_verdicts_one_by_one(path: &Path, pin_root: &Path, v: &mut View) {
    let names: Vec<String> = v.insns.keys().cloned().collect();
    for name in names {
        let obj = match lib_open(path, pin_root) {
            Ok(o) => o,
            Err(e) => {
                v.load_refused = Some(e);
                return;
            }
        };
        for (n, p) in lib_programs(&obj) {
            // SAFETY: p is a program of the open, unloaded obj.
            unsafe { libbpf_sys::bpf_program__set_autoload(p, n == name) };
        }
        take_log();
        // SAFETY: obj is open and not loaded.
        let r = unsafe { libbpf_sys::bpf_object__load(obj.0) };
        let log = take_log();
        if r == 0 {
            v.verdicts.insert(name, Verdict::Loaded);
        } else if log.contains(&format!("prog '{name}': failed to load")) {
            let verdict = libbpf_refusal(&log, &name);
            v.verdicts.insert(name, verdict);
        } else {
            // The object cannot load with this program alone (a program
            // array initialised with programs left out, say): libbpf's
            // verdicts the way the full comparison takes them instead.
            v.verdicts.clear();
            libbpf_verdicts_without_failures(path, pin_root, v);
            return;
        }
    }
}

/// Compares what libbpf and bpfld make of the object at `path` (named
/// `obj` in reports) and records it in `out`.
pub fn compare_object(path: &Path, obj: &str, mode: Mode, out: &mut Outcome) {
    let (lib_pins, our_pins) = (bpffs_test_dir("differential-libbpf"), bpffs_test_dir("differential-bpfld"));
    let lib = libbpf_view(path, &lib_pins, mode);
    let ours = bpfld_view(path, &our_pins, mode);
    compare_views(obj, mode, (lib, &lib_pins), (ours, &our_pins), out);
}

/// A vmlinux BTF that both loaders are given instead of the kernel's.
pub struct StandInBtf {
    pub path: std::path::PathBuf,
    pub btf: bpfld_btf::Btf,
}

/// Compares the planned instructions of the object at `path` against
/// `vmlinux` ([`Mode::PlanOnly`]): libbpf reads it as the kernel's BTF
/// (on a thread where it is mounted over `/sys/kernel/btf/vmlinux`),
/// bpfld plans against a target made of it. Both then load the plan into
/// the running kernel as far as it goes.
pub fn compare_plans(path: &Path, obj: &str, vmlinux: &StandInBtf, out: &mut Outcome) {
    let (lib_pins, our_pins) = (bpffs_test_dir("differential-libbpf"), bpffs_test_dir("differential-bpfld"));
    let lib = with_kernel_btf(&vmlinux.path, || libbpf_view(path, &lib_pins, Mode::PlanOnly));
    let ours = bpfld_plan_view(path, &our_pins, &vmlinux.btf);
    compare_views(obj, Mode::PlanOnly, (lib, &lib_pins), (ours, &our_pins), out);
}

/// Runs `f` on a thread of its own, in a mount namespace of its own where
/// `btf` is mounted over `/sys/kernel/btf/vmlinux` (the only place libbpf
/// reads a running kernel's BTF from); the rest of the process keeps the
/// kernel's.
fn with_kernel_btf<T: Send>(btf: &Path, f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            mount_over_kernel_btf(btf);
            f()
        })
        .join()
        .expect("the thread with the stand-in kernel BTF panicked")
    })
}

fn mount_over_kernel_btf(btf: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let source = CString::new(btf.as_os_str().as_bytes()).unwrap();
    let check = |r: i32, what: &str| assert_eq!(r, 0, "{what}: {}", std::io::Error::last_os_error());
    let null = std::ptr::null::<libc::c_char>();
    // SAFETY: unshare(CLONE_NEWNS) gives only the calling thread a mount
    // namespace (and fs_struct) of its own; the mounts, made private first
    // so nothing propagates to the host's namespace, take C strings that
    // outlive the calls.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS), "unshare(CLONE_NEWNS)");
        check(libc::mount(null, c"/".as_ptr(), null, libc::MS_REC | libc::MS_PRIVATE, std::ptr::null()), "making / private");
        check(
            libc::mount(source.as_ptr(), c"/sys/kernel/btf/vmlinux".as_ptr(), null, libc::MS_BIND, std::ptr::null()),
            "bind-mounting the stand-in BTF",
        );
    }
}

/// Compares two loaders' views of `obj` (each with its pin root) and
/// records the outcome.
fn compare_views(obj: &str, mode: Mode, (lib, lib_pins): (View, &Path), (ours, our_pins): (View, &Path), out: &mut Outcome) {
    let (lib_pinned, our_pinned) = (pinned_names(lib_pins), pinned_names(our_pins));
    let _ = (std::fs::remove_dir_all(lib_pins), std::fs::remove_dir_all(our_pins));
    if lib_pinned != our_pinned {
        out.differ(obj, "*", format!("pinned maps differ: libbpf {lib_pinned:?}, bpfld {our_pinned:?}"));
    }

    // libbpf creates maps in bpf_object__prepare, bpfld when loading:
    // a refusal by the kernel counts the same at either stage.
    let lib_refused = lib.refused.as_ref().or(lib.load_refused.as_ref());
    let our_refused = ours.refused.as_ref().or(ours.load_refused.as_ref());
    match (lib_refused, our_refused) {
        (Some(l), Some(b)) => {
            out.refused_by_both += 1;
            out.report.push(format!("{obj}: both refuse it\n    libbpf: {l}\n    bpfld:  {b}"));
            // Both planned before the kernel refused: the instructions
            // they got to are compared.
            if lib.insns.is_empty() || ours.insns.is_empty() {
                return;
            }
        }
        (Some(l), None) => {
            out.differ(obj, "*", format!("libbpf refuses it ({l}), bpfld does not"));
            return;
        }
        (None, Some(b)) => {
            out.differ(obj, "*", format!("bpfld refuses it ({b}), libbpf does not"));
            return;
        }
        (None, None) => {}
    }

    // Instructions.
    let names: Vec<&String> = lib.insns.keys().chain(ours.insns.keys()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut same_insns = 0;
    for n in &names {
        match (lib.insns.get(*n), ours.insns.get(*n)) {
            (Some(a), Some(b)) if a == b => same_insns += 1,
            (Some(a), Some(b)) => {
                let first = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
                let what = format!(
                    "program '{n}': instructions differ at {first} ({} vs {} insns): libbpf {:?}, bpfld {:?}",
                    a.len(),
                    b.len(),
                    a.get(first),
                    b.get(first)
                );
                out.differ(obj, n, what);
            }
            (a, _) => out.differ(obj, n, format!("program '{n}' planned by {} only", if a.is_some() { "libbpf" } else { "bpfld" })),
        }
    }
    if lib.disabled != ours.disabled {
        out.differ(obj, "*", format!("disabled programs differ: libbpf {:?}, bpfld {:?}", lib.disabled, ours.disabled));
    }
    if lib.unloaded != ours.unloaded {
        out.differ(obj, "*", format!("programs the plan leaves unloaded differ: libbpf {:?}, bpfld {:?}", lib.unloaded, ours.unloaded));
    }
    if lib.struct_ops != ours.struct_ops {
        out.differ(
            obj,
            "*",
            format!("registered struct_ops values differ:\n    libbpf {:?}\n    bpfld  {:?}", lib.struct_ops, ours.struct_ops),
        );
    }

    // Maps and BTF, as the kernel has them (after a load of the whole
    // object, which corpus mode does not make on the libbpf side).
    if mode == Mode::Full && lib.kernel_maps != ours.kernel_maps {
        out.differ(obj, "*", format!("maps differ in the kernel:\n    libbpf {:?}\n    bpfld  {:?}", lib.kernel_maps, ours.kernel_maps));
    }
    if mode == Mode::Full && lib.btf_loaded != ours.btf_loaded {
        out.differ(obj, "*", format!("object BTF taken by the kernel: libbpf {}, bpfld {}", lib.btf_loaded, ours.btf_loaded));
    }

    // Verdicts.
    let mut notes = Vec::new();
    for n in lib.verdicts.keys().chain(ours.verdicts.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (l, b) = (lib.verdicts.get(n), ours.verdicts.get(n));
        match (l, b) {
            (Some(Verdict::Loaded), Some(Verdict::Loaded)) => {}
            (Some(Verdict::Refused { verifier: lv, text: lt }), Some(Verdict::Refused { verifier: bv, text: bt })) => {
                if lv.is_some() && bv.is_some() && lv != bv {
                    out.differ(
                        obj,
                        n,
                        format!("program '{n}' refused by both, the verifier's last line differs: libbpf {lv:?}, bpfld {bv:?}"),
                    );
                } else if lv.is_some() != bv.is_some() {
                    out.differ(
                        obj,
                        n,
                        format!(
                            "program '{n}' refused by both, with a verifier log only from {}: libbpf {lt}, bpfld {bt}",
                            if lv.is_some() { "libbpf" } else { "bpfld" }
                        ),
                    );
                } else {
                    notes.push(format!("'{n}' refused by both: {}", lv.clone().unwrap_or(format!("libbpf: {lt}; bpfld: {bt}"))));
                }
            }
            (l, b) => out.differ(obj, n, format!("program '{n}': libbpf {l:?}, bpfld {b:?}")),
        }
    }
    let loaded = lib.verdicts.values().filter(|v| **v == Verdict::Loaded).count();
    out.programs += names.len();
    out.identical += same_insns;
    out.loaded += lib.verdicts.iter().filter(|(n, v)| **v == Verdict::Loaded && ours.verdicts.get(*n) == Some(v)).count();
    let mut line = format!(
        "{obj}: {same_insns}/{} programs with identical instructions; {loaded}/{} loaded by both; {} maps alike{}{}",
        names.len(),
        lib.verdicts.len(),
        lib.kernel_maps.len(),
        if lib.btf_loaded { ", BTF taken" } else { "" },
        if lib_pinned.is_empty() { String::new() } else { format!(", the same {} maps pinned", lib_pinned.len()) }
    );
    let registered = lib.struct_ops.iter().filter(|v| !v.contains(": registering failed:")).count();
    if registered > 0 {
        line.push_str(&format!(", the same value registered for {registered} struct_ops maps"));
    }
    for failed in lib.struct_ops.iter().filter(|v| v.contains(": registering failed:")) {
        line.push_str(&format!("\n    struct_ops map refused by both: {failed}"));
    }
    if !lib.unloaded.is_empty() {
        line.push_str(&format!(", {:?} left unloaded by both", lib.unloaded));
    }
    for n in notes {
        line.push_str(&format!("\n    {n}"));
    }
    out.report.push(line);
}
