//! Tracing attach on the real kernel: iterators read back (this process
//! among the tasks, this object's maps among the maps), a perf_event
//! program sampling cpu-clock on every CPU, kprobe_multi and uprobe_multi
//! with glob patterns counting the calls of the test's own thread.

mod common;

use bpfld::link::iter::IterTarget;
use bpfld::link::perf_event::SamplePeriod;
use bpfld::link::uprobe_multi::UprobeMultiOpts;
use bpfld::LoadedObject;
use bpfld_testdata::require_kernel;
use common::*;

fn gettid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

fn load_for_this_thread() -> LoadedObject {
    let mut open = open("attach_trace");
    open.set_global("target_tid", &gettid().to_ne_bytes()).unwrap();
    open.load().unwrap_or_else(|e| panic!("{e}"))
}

/// `(tgid, pid, comm)` of each line of the task iterator.
fn tasks(out: &[u8]) -> Vec<(u32, u32, String)> {
    String::from_utf8_lossy(out)
        .lines()
        .filter_map(|l| {
            let mut w = l.splitn(3, ' ');
            Some((w.next()?.parse().ok()?, w.next()?.parse().ok()?, w.next().unwrap_or("").to_string()))
        })
        .collect()
}

#[test]
fn task_iterator_lists_this_process_and_its_thread() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    let link = obj.program("list_tasks").unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
    let all = tasks(&link.read_iter().unwrap());
    let (pid, tid) = (std::process::id(), gettid());
    assert!(all.len() > 5, "{} tasks", all.len());
    assert!(all.iter().any(|t| t.0 == pid && t.1 == tid), "this thread ({pid}/{tid}) is listed");
    assert!(all.iter().any(|t| t.0 != pid), "other processes are listed");
    // Each instance starts again from the first task.
    assert!(tasks(&link.read_iter().unwrap()).iter().any(|t| t.1 == tid));
    // Only this process: every line is one of its threads.
    let own = obj.program("list_tasks").unwrap().attach_iter_with(IterTarget::Task { tid: 0, pid }).unwrap();
    let mine = tasks(&own.read_iter().unwrap());
    assert!(mine.iter().all(|t| t.0 == pid), "{mine:?}");
    assert!(mine.iter().any(|t| t.1 == tid));
    assert!(mine.len() < all.len());
}

#[test]
fn map_iterator_lists_this_objects_maps() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    let link = obj.program("list_maps").unwrap().attach_iter().unwrap_or_else(|e| panic!("{e}"));
    let out = String::from_utf8_lossy(&link.read_iter().unwrap()).into_owned();
    let bss = obj.map(".bss").unwrap();
    let id = bss.info().unwrap().id;
    let line = out.lines().find(|l| l.split(' ').next() == Some(&id.to_string())).unwrap_or_else(|| panic!("map {id} not listed"));
    assert!(line.ends_with(".bss"), "{line}");
}

#[test]
fn perf_event_program_counts_cpu_clock_samples_on_every_cpu() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    let prog = obj.program("count_samples").unwrap();
    let e = prog.attach().unwrap_err().to_string();
    assert!(e.contains("attach_perf_event"), "{e}");
    let links = prog.attach_perf_event_per_cpu(SamplePeriod::Frequency(1000)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(links.len(), bpfld_sys::online_cpu_ids().unwrap().len());
    let spin = |ms| {
        let end = std::time::Instant::now() + std::time::Duration::from_millis(ms);
        let mut x = 0u64;
        while std::time::Instant::now() < end {
            x = std::hint::black_box(x.wrapping_add(1));
        }
    };
    spin(300);
    let seen = obj.read_global_u64("samples").unwrap();
    // 1000 Hz on the spinning CPU for 0.3 s: about 300 samples.
    assert!(seen >= 50, "{seen} samples");
    drop(links);
    let after = obj.read_global_u64("samples").unwrap();
    spin(100);
    assert_eq!(obj.read_global_u64("samples").unwrap(), after, "sampled after the links were dropped");
}

#[test]
fn kprobe_multi_resolves_its_pattern_and_attaches_where_the_kernel_has_fprobe() {
    if !require_kernel() {
        return;
    }
    let funcs = bpfld::link::kprobe_multi::resolve_kernel_functions("__x64_sys_getpgi?").unwrap();
    assert_eq!(funcs, ["__x64_sys_getpgid"]);
    let obj = load_for_this_thread();
    let prog = obj.program("count_kmulti").unwrap();
    let e = prog.attach_kprobe_multi("bpfld_no_such_function_*", false).unwrap_err().to_string();
    assert!(e.contains("no kernel function matches 'bpfld_no_such_function_*'"), "{e}");
    match prog.attach() {
        Ok(link) => {
            for _ in 0..9 {
                // SAFETY: getpgid(0) has no preconditions.
                unsafe { libc::getpgid(0) };
            }
            assert_eq!(obj.read_global_u64("kmulti_hits").unwrap(), 9);
            drop(link);
        }
        Err(e) if e.errno() == Some(libc::EOPNOTSUPP) && !bpfld::features().kprobe_multi_link => {
            assert!(e.to_string().contains("CONFIG_KPROBES"), "{e}");
            bpfld_testdata::machine_limit(
                "kprobe_multi_resolves_its_pattern_and_attaches_where_the_kernel_has_fprobe",
                &format!("kernel without CONFIG_KPROBES/fprobe: {e}"),
            );
        }
        Err(e) => panic!("{e}"),
    }
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfld_umulti_target_one(x: u64) -> u64 {
    std::hint::black_box(x + 1)
}

#[no_mangle]
#[inline(never)]
pub extern "C" fn bpfld_umulti_target_two(x: u64) -> u64 {
    std::hint::black_box(x * 2)
}

#[test]
fn uprobe_multi_attaches_to_every_function_matching_a_pattern() {
    if !require_kernel() {
        return;
    }
    let obj = load_for_this_thread();
    let prog = obj.program("count_umulti").unwrap();
    let e = prog.attach().unwrap_err().to_string();
    assert!(e.contains("attach_uprobe_multi"), "{e}");
    let exe = std::env::current_exe().unwrap();
    let funcs = bpfld::elf_symbols::funcs_matching(&exe, "bpfld_umulti_target_*").unwrap();
    assert_eq!(funcs.iter().map(|f| f.0.as_str()).collect::<Vec<_>>(), ["bpfld_umulti_target_one", "bpfld_umulti_target_two"]);
    let opts = UprobeMultiOpts { pid: Some(std::process::id()), ..Default::default() };
    let link = prog.attach_uprobe_multi(&exe, "bpfld_umulti_target_*", &opts).unwrap_or_else(|e| panic!("{e}"));
    for i in 0..3 {
        bpfld_umulti_target_one(i);
    }
    for i in 0..4 {
        bpfld_umulti_target_two(i);
    }
    assert_eq!(obj.read_global_u64("umulti_hits").unwrap(), 7);
    drop(link);
    bpfld_umulti_target_one(0);
    assert_eq!(obj.read_global_u64("umulti_hits").unwrap(), 7, "counted after the link was dropped");
    // The kernel has no BPF_LINK_DETACH for uprobe_multi links: detach()
    // closes the link instead, and it ends.
    let link = prog.attach_uprobe_multi(&exe, "bpfld_umulti_target_*", &opts).unwrap_or_else(|e| panic!("{e}"));
    bpfld_umulti_target_two(1);
    assert_eq!(obj.read_global_u64("umulti_hits").unwrap(), 8);
    link.detach().unwrap_or_else(|e| panic!("detach of a uprobe_multi link: {e}"));
    bpfld_umulti_target_two(1);
    assert_eq!(obj.read_global_u64("umulti_hits").unwrap(), 8, "counted after detach()");
    let e = prog.attach_uprobe_multi(&exe, "bpfld_no_such_*", &opts).unwrap_err().to_string();
    assert!(e.contains("matches 'bpfld_no_such_*'"), "{e}");
}

#[test]
fn freplace_loads_against_its_target_program_and_replaces_the_function() {
    if !require_kernel() {
        return;
    }
    let target_obj = load("loader_subprogs");
    let target = target_obj.program("run_global").unwrap();
    let id = bpfld::link::freplace::target_function_btf_id(target.fd().unwrap(), "global_add").unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(id, 0);
    let e = bpfld::link::freplace::target_function_btf_id(target.fd().unwrap(), "no_such_func").unwrap_err().to_string();
    assert!(e.contains("no function 'no_such_func'"), "{e}");
    let run = || {
        target.test_run(&Default::default()).unwrap();
        target_obj.read_global_u64("global_out").unwrap()
    };
    assert_eq!(run(), 42 + 100, "global_add(40, 2) + static_mul(2, 50)");

    // Without its target an freplace program is refused before the kernel.
    let e = open("freplace_add").load().unwrap_err().to_string();
    assert!(e.contains("set_attach_target"), "{e}");
    let mut ext = open("freplace_add");
    assert!(ext.set_attach_target("no_such_prog", target.fd().unwrap(), None).is_err());
    ext.set_attach_target("new_add", target.fd().unwrap(), None).unwrap();
    ext.set_attach_target("new_add_unnamed", target.fd().unwrap(), Some("global_add")).unwrap();
    let plan = ext.plan(None).unwrap();
    assert!(plan.programs.iter().all(|p| p.attach_to_program && p.attach_btf.map(|a| a.btf_id) == Some(id)), "{:?}", plan.programs);
    let obj = match ext.load() {
        Ok(obj) => obj,
        // Refused before the verifier ran (no log), as fentry here.
        Err(bpfld::Error::Program(p)) if p.errno == Some(libc::EPERM) && p.log.is_empty() => {
            return bpfld_testdata::machine_limit(
                "freplace_loads_against_its_target_program_and_replaces_the_function",
                "freplace (BPF_PROG_TYPE_EXT) programs are refused with EPERM by this host's policy, as fentry/fexit",
            );
        }
        Err(e) => panic!("{e}"),
    };
    // Attached from its section (freplace/global_add): a * b + 1000.
    let link = obj.program("new_add").unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run(), 40 * 2 + 1000 + 100);
    drop(link);
    assert_eq!(run(), 42 + 100, "the original function back");
    let link = obj.program("new_add_unnamed").unwrap().attach_freplace().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(run(), 40 * 2 + 2000 + 100);
    drop(link);
}
