//! Attaching through perf events, bpfld against libbpf 1.7: every program
//! of `loader_perf_attach` is attached from its section name by libbpf
//! (`bpf_program__attach`) and by bpfld (`Program::attach`). Both must
//! attach the same programs and refuse the same ones (sections without a
//! target; kprobes where the kernel has no kprobe PMU), and each attached
//! program must count the same events for the same trigger (getpgid calls
//! of this thread, calls of a function of this binary).

#[path = "common/libbpf_object.rs"]
mod libbpf_object;

use std::os::fd::BorrowedFd;

use bpfld::{LoadOptions, OpenObject};
use bpfld_testdata::{ensure_tracefs, require_kernel};
use libbpf_object::{cstr, LibObj};

/// The function the uprobe sections name (through /proc/self/exe).
#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfld_uprobe_target(x: u64) -> u64 {
    std::hint::black_box(x) * 3 + 1
}

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc_gettid() }
}

extern "C" {
    #[link_name = "gettid"]
    fn libc_gettid() -> u32;
    fn getpgid(pid: i32) -> i32;
}

/// What makes each program run, and the global it counts in.
fn trigger_of(prog: &str) -> (&'static str, fn()) {
    let syscalls: fn() = || {
        for _ in 0..5 {
            // SAFETY: getpgid(0) has no preconditions.
            unsafe { getpgid(0) };
        }
    };
    let calls: fn() = || {
        for i in 0..5 {
            std::hint::black_box(bpfld_uprobe_target)(i);
        }
    };
    match prog {
        "count_kprobe" => ("kprobe_hits", syscalls),
        "count_kretprobe" => ("kretprobe_hits", syscalls),
        "count_ksyscall" => ("ksyscall_hits", syscalls),
        "count_explicit_kprobe" => ("explicit_kprobe_hits", syscalls),
        "count_tp_enter" => ("tp_enter_hits", syscalls),
        "count_tp_exit" => ("tp_exit_hits", syscalls),
        "count_uprobe" => ("uprobe_hits", calls),
        "count_uretprobe" => ("uretprobe_hits", calls),
        "count_explicit_uprobe" => ("explicit_uprobe_hits", calls),
        other => panic!("no trigger for {other}"),
    }
}

/// The u64 at `offset` of libbpf's `.bss`.
fn libbpf_global(obj: &LibObj, offset: usize) -> u64 {
    let name = cstr(".bss");
    // SAFETY: obj is loaded; the fd belongs to it and is alive here.
    let fd = unsafe { libbpf_sys::bpf_map__fd(libbpf_sys::bpf_object__find_map_by_name(obj.0, name.as_ptr())) };
    // SAFETY: as above.
    let map = bpfld_sys::MapRef::new(unsafe { BorrowedFd::borrow_raw(fd) }).unwrap();
    let mut v = vec![0u8; map.value_size()];
    assert!(map.lookup(&0u32.to_ne_bytes(), &mut v, 0).unwrap());
    u64::from_ne_bytes(v[offset..offset + 8].try_into().unwrap())
}

#[test]
fn bpfld_and_libbpf_attach_the_same_programs_alike() {
    if !require_kernel() {
        return;
    }
    ensure_tracefs();
    let path = bpfld_testdata::test_object("loader_perf_attach");
    let tid = gettid();

    let mut open = OpenObject::open(&path).unwrap();
    open.set_global("target_tid", &tid.to_ne_bytes()).unwrap();
    let globals = open.globals().to_vec();
    let offset_of = |name: &str| globals.iter().find(|g| g.name == name).unwrap_or_else(|| panic!("{name}")).offset;
    let ours = open.load_with(&LoadOptions::default()).unwrap();

    let c = cstr(path.to_str().unwrap());
    // SAFETY: a valid path; NULL options.
    let lib = LibObj(unsafe { libbpf_sys::bpf_object__open_file(c.as_ptr(), std::ptr::null()) });
    assert!(!lib.0.is_null());
    let rodata = cstr(".rodata");
    // SAFETY: the object is open and not loaded: .rodata's initial value is
    // writable and holds target_tid at its BTF offset.
    unsafe {
        let m = libbpf_sys::bpf_object__find_map_by_name(lib.0, rodata.as_ptr());
        let mut size = 0;
        let data = libbpf_sys::bpf_map__initial_value(m, &mut size) as *mut u8;
        let off = offset_of("target_tid");
        assert!(!data.is_null() && off + 4 <= size as usize);
        std::ptr::copy_nonoverlapping(tid.to_ne_bytes().as_ptr(), data.add(off), 4);
        assert_eq!(libbpf_sys::bpf_object__load(lib.0), 0);
    }

    let mut report = Vec::new();
    let mut failures = Vec::new();
    for p in ours.programs() {
        let (counter, trigger) = trigger_of(p.name());
        let off = offset_of(counter);

        let name = cstr(p.name());
        // SAFETY: the program belongs to the loaded object; the link is
        // destroyed before the object is closed.
        let lib_count = unsafe {
            let prog = libbpf_sys::bpf_object__find_program_by_name(lib.0, name.as_ptr());
            let link = libbpf_sys::bpf_program__attach(prog);
            if libbpf_sys::libbpf_get_error(link as *const _) != 0 || link.is_null() {
                None
            } else {
                let before = libbpf_global(&lib, off);
                trigger();
                let n = libbpf_global(&lib, off) - before;
                libbpf_sys::bpf_link__destroy(link);
                Some(n)
            }
        };
        let our_count = match p.attach() {
            Ok(link) => {
                let before = ours.read_global_u64(counter).unwrap();
                trigger();
                let n = ours.read_global_u64(counter).unwrap() - before;
                drop(link);
                Some(n)
            }
            Err(e) => {
                report.push(format!("  {}: bpfld refuses: {e}", p.name()));
                None
            }
        };
        report.push(format!("{} ({}): libbpf {lib_count:?}, bpfld {our_count:?}", p.name(), p.section()));
        if lib_count != our_count {
            failures.push(format!("{}: libbpf counted {lib_count:?}, bpfld {our_count:?}", p.name()));
        }
    }
    println!("attach through perf events, bpfld vs libbpf 1.7:\n{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
