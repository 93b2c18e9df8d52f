//! freplace where the host's policy refuses it, and kprobe_multi where the
//! host's kernel has no CONFIG_KPROBES: proven in one boot of a qemu guest
//! running Debian's 6.12 kernel (bpfld-boot, from the kernel package in
//! the cache). The guest runs this test binary's `guest_side_freplace` and
//! `guest_side_kprobe_multi` once each, on the objects copied into its
//! `/objs`; the host checks what they printed: loader_subprogs's run_global
//! computes 142, 1180 while freplace_add's new_add replaces global_add, 142
//! again after the link drops; attach_trace's count_kmulti, attached to
//! the functions matching `__x64_sys_getpgi?`, counts exactly this
//! thread's getpgid calls while linked and none after the link drops.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bpfld::OpenObject;
use bpfld_boot::guest::{boot, Accel, GuestCommand, GuestPlan};

/// Run inside the guest (`--ignored --exact`): the objects are in /objs.
#[test]
#[ignore = "run inside the qemu guest of freplace_replaces_the_function_in_a_6_12_guest"]
fn guest_side_freplace() {
    let dir = Path::new("/objs");
    let target_obj = OpenObject::open(dir.join("loader_subprogs.bpf.o")).unwrap().load().unwrap_or_else(|e| panic!("{e}"));
    let target = target_obj.program("run_global").unwrap();
    let run = || {
        target.test_run(&Default::default()).unwrap();
        target_obj.read_global_u64("global_out").unwrap()
    };
    let before = run();
    let mut ext = OpenObject::open(dir.join("freplace_add.bpf.o")).unwrap();
    ext.set_attach_target("new_add", target.fd().unwrap(), None).unwrap();
    ext.set_attach_target("new_add_unnamed", target.fd().unwrap(), Some("global_add")).unwrap();
    let obj = ext.load().unwrap_or_else(|e| panic!("{e}"));
    let link = obj.program("new_add").unwrap().attach().unwrap_or_else(|e| panic!("{e}"));
    let during = run();
    drop(link);
    let after = run();
    let link = obj.program("new_add_unnamed").unwrap().attach_freplace().unwrap_or_else(|e| panic!("{e}"));
    let unnamed = run();
    drop(link);
    println!("FREPLACE before={before} during={during} after={after} unnamed={unnamed}");
}

/// getpgid(0) `n` times from this thread.
fn call_getpgid(n: usize) {
    for _ in 0..n {
        // SAFETY: getpgid(0) has no preconditions.
        unsafe { libc::getpgid(0) };
    }
}

/// Run inside the guest (`--ignored --exact`): the objects are in /objs.
#[test]
#[ignore = "run inside the qemu guest of freplace_replaces_the_function_in_a_6_12_guest"]
fn guest_side_kprobe_multi() {
    let funcs = bpfld::link::kprobe_multi::resolve_kernel_functions("__x64_sys_getpgi?").unwrap_or_else(|e| panic!("{e}"));
    let mut open = OpenObject::open(Path::new("/objs").join("attach_trace.bpf.o")).unwrap();
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { libc::gettid() } as u32;
    // Only this thread's calls count: another task's getpgid would make the count inexact.
    open.set_global("target_tid", &tid.to_ne_bytes()).unwrap();
    let obj = open.load().unwrap_or_else(|e| panic!("{e}"));
    let prog = obj.program("count_kmulti").unwrap();
    let hits = || obj.read_global_u64("kmulti_hits").unwrap();
    let link = prog.attach_kprobe_multi("__x64_sys_getpgi?", false).unwrap_or_else(|e| panic!("{e}"));
    call_getpgid(9);
    let linked = hits();
    drop(link);
    call_getpgid(5);
    let dropped = hits();
    // The section's own pattern, through attach().
    let link = prog.attach().unwrap_or_else(|e| panic!("{e}"));
    call_getpgid(4);
    let section = hits() - dropped;
    drop(link);
    println!("KMULTI funcs={} linked={linked} dropped={dropped} section={section}", funcs.join(","));
}

/// The Debian 6.12 kernel package the kernel matrix downloads.
fn kernel_package() -> Option<PathBuf> {
    let debs = bpfld_boot::default_cache_dir().join("debs");
    let found = std::fs::read_dir(&debs)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("linux-image-6.12.") && n.ends_with(".deb")));
    found
}

#[test]
fn freplace_replaces_the_function_in_a_6_12_guest() {
    if let Err(e) = bpfld_boot::check_tools() {
        return bpfld_testdata::machine_limit("freplace_replaces_the_function_in_a_6_12_guest", &format!("no qemu guest: {e}"));
    }
    let Some(deb) =
        kernel_package().or_else(|| bpfld_testdata::skip("no Debian 6.12 kernel package in the cache (the kernel matrix downloads it)"))
    else {
        return;
    };
    let kernel = bpfld_boot::image::prepare(&deb, &bpfld_boot::default_cache_dir()).unwrap_or_else(|e| panic!("{e}"));
    let objects = ["loader_subprogs", "freplace_add", "attach_trace"].map(bpfld_testdata::test_object);
    let command = |name: &str, test: &str| GuestCommand {
        name: name.into(),
        exe: std::env::current_exe().unwrap(),
        args: ["--ignored", "--exact", test, "--nocapture", "--test-threads=1"].map(String::from).to_vec(),
    };
    // (guest command, the test it runs, the line it must print)
    let checks = [
        ("freplace", "guest_side_freplace", "FREPLACE before=142 during=1180 after=142 unnamed=2180"),
        ("kmulti", "guest_side_kprobe_multi", "KMULTI funcs=__x64_sys_getpgid linked=9 dropped=9 section=4"),
    ];
    let commands = checks.map(|(name, test, _)| command(name, test));
    let plan = GuestPlan { loaders: &[], objects: &objects, modules: &[], commands: &commands };
    let scratch = std::env::temp_dir().join(format!("bpfld-freplace-guest-{}", std::process::id()));
    let job = bpfld_boot::write_initramfs(&kernel, &plan, &scratch).unwrap_or_else(|e| panic!("{e}"));
    let run = boot(&job.kernel, &job.initrd, &Accel::detect(), Duration::from_secs(240));
    let _ = std::fs::remove_dir_all(&scratch);
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    for (name, _, line) in checks {
        let out = run.commands.get(name).unwrap_or_else(|| panic!("the guest did not run its {name} command:\n{}", run.console_tail(40)));
        assert!(out.stdout.contains(line), "guest {} ({name}):\n{}\n{}", kernel.release, out.stdout, out.stderr);
    }
}
