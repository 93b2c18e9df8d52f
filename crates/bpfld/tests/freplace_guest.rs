//! freplace where the host's policy refuses it: proven in a qemu guest
//! running Debian's 6.12 kernel (bpfld-boot, from the kernel package in
//! the cache). The guest runs this test binary's `guest_side_freplace`
//! once, on the objects copied into its `/objs`; the host checks what it
//! printed: loader_subprogs's run_global computes 142, 1180 while
//! freplace_add's new_add replaces global_add, 142 again after the link
//! drops.

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
    let objects = ["loader_subprogs", "freplace_add"].map(bpfld_testdata::test_object);
    let command = GuestCommand {
        name: "freplace".into(),
        exe: std::env::current_exe().unwrap(),
        args: ["--ignored", "--exact", "guest_side_freplace", "--nocapture", "--test-threads=1"].map(String::from).to_vec(),
    };
    let plan = GuestPlan { loaders: &[], objects: &objects, modules: &[], commands: std::slice::from_ref(&command) };
    let scratch = std::env::temp_dir().join(format!("bpfld-freplace-guest-{}", std::process::id()));
    let job = bpfld_boot::write_initramfs(&kernel, &plan, &scratch).unwrap_or_else(|e| panic!("{e}"));
    let run = boot(&job.kernel, &job.initrd, &Accel::detect(), Duration::from_secs(240));
    let _ = std::fs::remove_dir_all(&scratch);
    let run = run.unwrap_or_else(|e| panic!("{e}"));
    let out = run.commands.get("freplace").unwrap_or_else(|| panic!("the guest did not run the test:\n{}", run.console_tail(40)));
    assert!(
        out.stdout.contains("FREPLACE before=142 during=1180 after=142 unnamed=2180"),
        "guest {}:\n{}\n{}",
        kernel.release,
        out.stdout,
        out.stderr
    );
}
