//! USDT attach, bpfld against libbpf 1.7 (`bpf_program__attach_usdt`), on
//! one run each of tests/usdt's target (compiled now with `cc`), with the
//! usdt_probes programs built two ways:
//! - against libbpf 1.7's own `usdt.bpf.h` (built now with clang-19):
//!   both loaders must write byte-identical specs into `__bpf_usdt_specs`
//!   and the BPF side must read the same, right, argument values (registers,
//!   a constant, a stack slot, a scale-index-base operand);
//! - as committed, against Debian's libbpf 1.1 `usdt.bpf.h` (16-byte
//!   argument specs): bpfld reads the layout from the object's BTF and the
//!   values are right; libbpf 1.7 writes its own 24-byte layout into the
//!   208-byte values, so the BPF side reads `arg_cnt` 0 and no argument
//!   (a listed difference: the spec it means, decoded with 1.7's layout,
//!   is the same as bpfld's).

#[path = "common/libbpf_object.rs"]
mod libbpf_object;

use std::os::fd::BorrowedFd;
use std::path::Path;
use std::process::Child;

use bpfld::{LoadedObject, OpenObject, UsdtOpts};
use bpfld_obj::usdt::{ArgLocation, UsdtBinary};
use bpfld_testdata::{require_kernel, usdt_target};
use libbpf_object::{cstr, LibObj};

const N: i64 = 20;

fn spawn_target() -> Child {
    bpfld_testdata::spawn_usdt_target(usdt_target(), N)
}

fn run_target(child: Child) -> i64 {
    bpfld_testdata::run_usdt_target(child)
}

/// The globals the programs count in, in one run.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    values: Vec<(&'static str, i64)>,
    semaphore_seen: i64,
    /// `__bpf_usdt_specs` values of the spec ids in use.
    specs: Vec<Vec<u8>>,
}

const GLOBALS: [&str; 10] =
    ["args_hits", "args_bad", "arg0_sum", "arg1_sum", "arg2_sum", "arg3_sum", "args_cookie", "guarded_hits", "guarded_sum", "sib_sum"];

/// The probes each run attaches: program, probe, cookie.
fn probes(with_sib: bool) -> Vec<(&'static str, &'static str, u64)> {
    let mut p = vec![("on_args", "args", 0xc0ffee), ("on_guarded", "guarded", 7)];
    if with_sib {
        p.push(("on_sib", "sib", 0));
    }
    p
}

fn map_values(fd: BorrowedFd<'_>, ids: usize) -> Vec<Vec<u8>> {
    let map = bpfld_sys::MapRef::new(fd).unwrap();
    (0..ids as u32)
        .map(|id| {
            let mut v = vec![0u8; map.value_size()];
            assert!(map.lookup(&id.to_ne_bytes(), &mut v, 0).unwrap());
            v
        })
        .collect()
}

fn with_bpfld(path: &Path, with_sib: bool) -> Outcome {
    let obj: LoadedObject = OpenObject::open(path).unwrap().load().unwrap_or_else(|e| panic!("{e}"));
    let child = spawn_target();
    let links: Vec<_> = probes(with_sib)
        .into_iter()
        .map(|(prog, probe, cookie)| {
            let opts = UsdtOpts { pid: Some(child.id()), cookie };
            obj.program(prog).unwrap().attach_usdt(usdt_target(), "bpfld", probe, &opts).unwrap_or_else(|e| panic!("{prog}: {e}"))
        })
        .collect();
    let semaphore_seen = run_target(child);
    let values = GLOBALS.iter().map(|g| (*g, obj.read_global_u64(g).unwrap() as i64)).collect();
    let specs = map_values(obj.map("__bpf_usdt_specs").unwrap().fd(), obj.usdt_spec_ids_in_use());
    drop(links);
    Outcome { values, semaphore_seen, specs }
}

fn lib_map_fd<'a>(obj: &'a LibObj, name: &str) -> BorrowedFd<'a> {
    let name = cstr(name);
    // SAFETY: obj is loaded; the fd lives as long as obj.
    unsafe { BorrowedFd::borrow_raw(libbpf_sys::bpf_map__fd(libbpf_sys::bpf_object__find_map_by_name(obj.0, name.as_ptr()))) }
}

fn with_libbpf(path: &Path, with_sib: bool) -> Outcome {
    let offsets = OpenObject::open(path).unwrap().globals().to_vec();
    let c = cstr(path.to_str().unwrap());
    // SAFETY: a valid path; NULL options.
    let lib = LibObj(unsafe { libbpf_sys::bpf_object__open_file(c.as_ptr(), std::ptr::null()) });
    assert!(!lib.0.is_null());
    // SAFETY: the object was opened above.
    assert_eq!(unsafe { libbpf_sys::bpf_object__load(lib.0) }, 0);
    let child = spawn_target();
    let target = cstr(usdt_target().to_str().unwrap());
    let mut links = Vec::new();
    for (prog, probe, cookie) in probes(with_sib) {
        let (name, provider, probe) = (cstr(prog), cstr("bpfld"), cstr(probe));
        let opts = libbpf_sys::bpf_usdt_opts { sz: std::mem::size_of::<libbpf_sys::bpf_usdt_opts>() as _, usdt_cookie: cookie };
        // SAFETY: the program belongs to the loaded object; every string
        // and the options outlive the call; links are destroyed before the
        // object is closed.
        let link = unsafe {
            let p = libbpf_sys::bpf_object__find_program_by_name(lib.0, name.as_ptr());
            libbpf_sys::bpf_program__attach_usdt(p, child.id() as i32, target.as_ptr(), provider.as_ptr(), probe.as_ptr(), &opts)
        };
        // SAFETY: libbpf_get_error reads an error-encoded pointer.
        assert!(!link.is_null() && unsafe { libbpf_sys::libbpf_get_error(link as *const _) } == 0, "libbpf: {prog}");
        links.push(link);
    }
    let semaphore_seen = run_target(child);
    let bss = map_values(lib_map_fd(&lib, ".bss"), 1).remove(0);
    let values = GLOBALS
        .iter()
        .map(|g| {
            let off = offsets.iter().find(|v| v.name == *g).unwrap().offset;
            (*g, i64::from_ne_bytes(bss[off..off + 8].try_into().unwrap()))
        })
        .collect();
    // libbpf allocates one id per distinct argument string, as bpfld.
    let specs = map_values(lib_map_fd(&lib, "__bpf_usdt_specs"), links.len());
    for l in links {
        // SAFETY: a link from bpf_program__attach_usdt, destroyed once.
        unsafe { libbpf_sys::bpf_link__destroy(l) };
    }
    Outcome { values, semaphore_seen, specs }
}

/// What the target passes: every global's right value.
fn expected(with_sib: bool) -> Vec<(&'static str, i64)> {
    let sum: i64 = (1..=N).sum();
    let sib: i64 = (1..=N).map(|i| 11 * (i & 7)).sum();
    let v = [N, 0, sum, -3 * sum, sum, 5 * N, 0xc0ffee, N, 7 * sum, if with_sib { sib } else { 0 }];
    GLOBALS.iter().copied().zip(v).collect()
}

#[test]
fn usdt_libbpf_1_7_header_both_loaders_agree() {
    if !require_kernel() {
        return;
    }
    let Some(obj) = bpfld_testdata::usdt_probes_libbpf_1_7() else {
        bpfld_testdata::skip::<()>("libbpf-sys 1.7's sources are not in cargo's registry");
        return;
    };
    let ours = with_bpfld(obj, true);
    let theirs = with_libbpf(obj, true);
    assert_eq!(ours.values, expected(true), "bpfld");
    assert_eq!(ours.semaphore_seen, N);
    assert_eq!(theirs, ours, "libbpf 1.7 and bpfld: values, semaphore, spec bytes");
    println!("libbpf 1.7 header: {} specs, {} bytes each, identical; values {:?}", ours.specs.len(), ours.specs[0].len(), ours.values);
}

#[test]
fn usdt_libbpf_1_1_header_bpfld_reads_the_objects_layout() {
    if !require_kernel() {
        return;
    }
    let obj = bpfld_testdata::test_object("usdt_probes");
    let ours = with_bpfld(&obj, false);
    assert_eq!(ours.values, expected(false), "bpfld");
    let theirs = with_libbpf(&obj, false);
    // Listed difference: libbpf 1.7 writes its 24-byte argument layout
    // into the object's 16-byte one; the BPF side reads arg_cnt 0.
    let misread = [("args_hits", 0), ("args_bad", N), ("guarded_hits", 0), ("guarded_sum", 0)];
    for (g, v) in misread {
        assert_eq!(theirs.values.iter().find(|(n, _)| *n == g).unwrap().1, v, "libbpf 1.7 on a libbpf 1.1 object: {g}");
    }
    assert_eq!(theirs.semaphore_seen, N, "libbpf still counts the semaphore");
    // What libbpf meant, decoded with 1.7's layout, is what bpfld wrote.
    let data = std::fs::read(usdt_target()).unwrap();
    let elf = UsdtBinary::parse(usdt_target(), &data).unwrap();
    for (spec, probe) in theirs.specs.iter().zip(["args", "guarded"]) {
        let args = &elf.sites("bpfld", probe, bpfld::features().uprobe_syscall).unwrap()[0].args;
        for (i, a) in args.iter().enumerate() {
            let b = &spec[i * 24..i * 24 + 24];
            let (val_off, kind, reg_off) = (i64::from_ne_bytes(b[..8].try_into().unwrap()), b[8], i16::from_ne_bytes([b[14], b[15]]));
            let want = match a.location {
                ArgLocation::Const(c) => (c, 0, 0),
                ArgLocation::Reg(r) => (0, 1, r.0 as i16),
                ArgLocation::Deref { base, offset } => (offset, 2, base.0 as i16),
                ArgLocation::Sib { .. } => unreachable!("no SIB probe attached here"),
            };
            assert_eq!((val_off, kind, reg_off, b[16] != 0, b[17]), (want.0, want.1, want.2, a.signed, a.bitshift()), "{probe} arg {i}");
        }
    }
    println!("libbpf 1.1 header: bpfld {:?}; libbpf 1.7 {:?}", ours.values, theirs.values);
}
