//! The guest: an initramfs with busybox, the loaders (`bpfld`, and in the
//! kernel matrix a libbpf reference loader), the objects, the kernel's
//! config and modules, whose `/init` runs every loader on every object and
//! prints each result between markers on the serial console; and the qemu
//! run that boots it, with a timeout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::BootError;
use crate::image::BootKernel;
use crate::modules::{read_module, ModuleLoad};

/// Every line the harness reads starts with this (possibly after console
/// noise on the same line, such as the firmware's last message).
pub const MARK: &str = "@@BPFLD ";

/// busybox applets `/init` uses.
const APPLETS: &[&str] = &["sh", "mount", "insmod", "cat", "echo", "ls", "uname", "poweroff", "mkdir"];

/// A program `/init` runs on every object, in the guest as `/bin/<name>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loader {
    /// Its name in the guest and in the results ("bpfld", "libbpf").
    pub name: String,
    /// The executable on this machine (dynamic ones get their libraries).
    pub exe: PathBuf,
    /// Its arguments; `{obj}` stands for the object's path in the guest.
    pub args: Vec<String>,
}

impl Loader {
    /// `bpfld load OBJ --json`.
    pub fn bpfld(exe: &Path) -> Loader {
        Loader { name: "bpfld".into(), exe: exe.to_path_buf(), args: ["load", "{obj}", "--json"].map(String::from).to_vec() }
    }
}

/// A program `/init` runs once, after the loads (`bpfld features --json`,
/// a check that needs a kernel the host is not).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestCommand {
    /// Its name in the results.
    pub name: String,
    /// The executable on this machine, in the guest as `/bin/<file name>`
    /// (shared with a loader of the same file name).
    pub exe: PathBuf,
    /// Its arguments; `{objs}` stands for the objects' directory in the guest.
    pub args: Vec<String>,
}

impl GuestCommand {
    /// The executable's name in the guest's `/bin`.
    fn program(&self) -> String {
        self.exe.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| self.name.clone())
    }
}

/// What one guest does: insmod the modules, every loader on every object,
/// then each command once.
#[derive(Debug, Clone, Copy)]
pub struct GuestPlan<'a> {
    /// The loaders, each run on every object in this order.
    pub loaders: &'a [Loader],
    /// The objects, copied into the guest's `/objs` by file name.
    pub objects: &'a [PathBuf],
    /// The modules to insert first, in order (see [`crate::modules`]).
    pub modules: &'a [ModuleLoad],
    /// Programs run once after the loads.
    pub commands: &'a [GuestCommand],
}

/// The shared libraries and loader a dynamic executable needs, as `ldd`
/// lists them (nothing for a static one).
fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>, BootError> {
    let out = Command::new("ldd").arg(exe).output().map_err(|_| BootError::Missing { tool: "ldd", package: "libc-bin" })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || text.contains("not a dynamic executable") || text.contains("statically linked") {
        return Ok(Vec::new());
    }
    let mut libs = Vec::new();
    for line in text.lines() {
        // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x...)" or
        // "/lib64/ld-linux-x86-64.so.2 (0x...)"; the vdso has no file.
        let path = match line.split_once("=>") {
            Some((_, rest)) => rest.split_whitespace().next(),
            None => line.split_whitespace().next().filter(|p| p.starts_with('/')),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            libs.push(PathBuf::from(p));
        }
    }
    Ok(libs)
}

/// An executable without its debug info (a release build of `bpfld`
/// carries ~20 MB of it).
fn stripped(exe: &Path, scratch: &Path) -> Result<Vec<u8>, BootError> {
    let out = scratch.join(format!(".stripped-{}", std::process::id()));
    let ok = Command::new("objcopy").arg("--strip-debug").arg(exe).arg(&out).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let bytes = if ok { std::fs::read(&out).ok() } else { None };
    let _ = std::fs::remove_file(&out);
    match bytes {
        Some(b) => Ok(b),
        None => std::fs::read(exe).map_err(|e| BootError::io(exe, e)),
    }
}

/// Finds busybox (Debian's busybox-static installs /bin/busybox).
pub fn find_busybox() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/bin"), PathBuf::from("/usr/bin")]).map(|d| d.join("busybox")).find(|p| p.exists())
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The guest's `/init`: `modules` as (name, file, optional), `loaders` as
/// (name, arguments with `{obj}`), then `commands`.
fn init_script(
    modules: &[(String, String, bool)],
    loaders: &[(String, Vec<String>)],
    objects: &[String],
    commands: &[GuestCommand],
) -> String {
    let mut s = String::from(
        "#!/bin/sh\n\
         export PATH=/bin\n\
         mount -t proc proc /proc\n\
         mount -t sysfs sysfs /sys\n\
         # Kernel messages would interleave with the results on ttyS0.\n\
         echo 1 > /proc/sys/kernel/printk\n\
         mount -t bpf bpf /sys/fs/bpf 2>/dev/null\n\
         mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null\n\
         mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null\n\
         echo \"@@BPFLD init $(cat /proc/uptime)\"\n\
         echo \"@@BPFLD release $(uname -r)\"\n",
    );
    for (name, file, optional) in modules {
        s.push_str(&format!(
            "insmod /lib/modules/{file} 2>/tmp/insmod.err; echo \"@@BPFLD insmod {name} {} $? $(cat /tmp/insmod.err)\"\n",
            if *optional { "optional" } else { "required" }
        ));
    }
    // Unquoted: one line, whatever ls prints.
    s.push_str("echo @@BPFLD btf $(ls /sys/kernel/btf)\n");
    for o in objects {
        for (loader, args) in loaders {
            let obj = format!("/objs/{o}");
            let argv: Vec<String> = args.iter().map(|a| sh_quote(&a.replace("{obj}", &obj))).collect();
            s.push_str(&format!(
                "{loader} {} >/tmp/out 2>/tmp/err; rc=$?\n\
                 echo \"@@BPFLD load-begin {loader} {o}\"; cat /tmp/out; echo \"@@BPFLD load-stderr {loader} {o}\"; cat /tmp/err\n\
                 echo \"@@BPFLD load-end {loader} {o} $rc\"\n",
                argv.join(" ")
            ));
        }
    }
    if !commands.is_empty() {
        s.push_str("echo \"@@BPFLD commands $(cat /proc/uptime)\"\n");
    }
    for c in commands {
        let argv: Vec<String> = c.args.iter().map(|a| sh_quote(&a.replace("{objs}", "/objs"))).collect();
        let name = &c.name;
        s.push_str(&format!(
            "{} {} >/tmp/out 2>/tmp/err; rc=$?\n\
             echo \"@@BPFLD cmd-begin {name}\"; cat /tmp/out; echo \"@@BPFLD cmd-stderr {name}\"; cat /tmp/err\n\
             echo \"@@BPFLD cmd-end {name} $rc\"\n",
            sh_quote(&c.program()),
            argv.join(" ")
        ));
    }
    s.push_str("echo \"@@BPFLD done $(cat /proc/uptime)\"\npoweroff -f\n");
    s
}

/// Builds the guest's initramfs (gzip'd newc cpio). `scratch` holds
/// temporary files.
pub fn build_initramfs(k: &BootKernel, plan: &GuestPlan, scratch: &Path) -> Result<Vec<u8>, BootError> {
    let mut ir = crate::initramfs::Initramfs::new();
    let busybox = find_busybox().ok_or(BootError::Missing { tool: "busybox", package: "busybox-static" })?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| BootError::io(p, e));
    ir.file("/bin/busybox", &read(&busybox)?, true);
    for a in APPLETS {
        ir.symlink(&format!("/bin/{a}"), "busybox");
    }
    // Without /dev/console the kernel starts /init with no stdout.
    ir.char_dev("/dev/console", 5, 1);
    ir.char_dev("/dev/null", 1, 3);
    for d in ["/proc", "/sys", "/tmp", "/run"] {
        ir.dir(d);
    }
    let mut libs = shared_libraries(&busybox)?;
    let mut installed = std::collections::BTreeSet::new();
    let programs = plan.loaders.iter().map(|l| (l.name.clone(), &l.exe)).chain(plan.commands.iter().map(|c| (c.program(), &c.exe)));
    for (name, exe) in programs {
        if installed.insert(name.clone()) {
            ir.file(&format!("/bin/{name}"), &stripped(exe, scratch)?, true);
            libs.extend(shared_libraries(exe)?);
        }
    }
    libs.sort();
    libs.dedup();
    for lib in libs {
        ir.file(&lib.display().to_string(), &read(&lib)?, true);
    }
    // The loader reads the kernel's config from /boot/config-$(uname -r):
    // Debian kernels have no /proc/config.gz.
    if let Some(config) = &k.config {
        ir.file(&format!("/boot/config-{}", k.release), &read(config)?, false);
    }
    let mut insmods = Vec::new();
    for (i, m) in plan.modules.iter().enumerate() {
        // Decompressed here: busybox insmod may lack the decompressor.
        let file = format!("{:02}-{}.ko", i + 1, m.file_name);
        ir.file(&format!("/lib/modules/{file}"), &read_module(&m.path)?, false);
        insmods.push((m.name.clone(), file, m.optional));
    }
    let mut names = Vec::new();
    for o in plan.objects {
        let name = o
            .file_name()
            .and_then(|n| n.to_str())
            .filter(|n| !n.contains(' '))
            .ok_or_else(|| BootError::NotBootable { path: o.clone(), why: "an object file name must be UTF-8 without spaces".into() })?;
        ir.file(&format!("/objs/{name}"), &read(o)?, false);
        names.push(name.to_string());
    }
    let loaders: Vec<(String, Vec<String>)> = plan.loaders.iter().map(|l| (l.name.clone(), l.args.clone())).collect();
    ir.file("/init", init_script(&insmods, &loaders, &names, plan.commands).as_bytes(), true);
    Ok(ir.finish())
}

/// How qemu runs the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accel {
    /// Hardware virtualization (`/dev/kvm` with vmx or svm).
    Kvm,
    /// Software emulation, one thread per vCPU.
    Tcg,
}

impl Accel {
    /// KVM only where the CPU really has vmx or svm: `/dev/kvm` alone can
    /// belong to a hypervisor that runs only kernels built for it.
    pub fn detect() -> Accel {
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let hw = flags.lines().filter(|l| l.starts_with("flags")).any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
        let dev = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm").is_ok();
        if hw && dev {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }

    fn args(&self) -> &'static [&'static str] {
        match self {
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
            // qemu64 is ~30% faster to emulate than -cpu max.
            Accel::Tcg => &["-accel", "tcg,thread=multi", "-cpu", "qemu64"],
        }
    }

    /// `kvm` or `tcg`, for reports.
    pub fn name(&self) -> &'static str {
        match self {
            Accel::Kvm => "kvm",
            Accel::Tcg => "tcg",
        }
    }
}

/// One `insmod` in the guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insmod {
    /// The module's name.
    pub name: String,
    /// A soft pre-dependency: its failure does not matter.
    pub optional: bool,
    /// insmod's exit code (0: inserted; -1 if the console line was garbled).
    pub rc: i32,
    /// What insmod printed on stderr.
    pub message: String,
}

/// What a guest run produced.
#[derive(Debug, Clone, Default)]
pub struct GuestRun {
    /// The whole serial console, `\r` removed.
    pub console: String,
    /// What qemu itself printed on stderr.
    pub qemu_stderr: String,
    /// qemu was killed after the timeout.
    pub timed_out: bool,
    /// The guest printed its last marker.
    pub complete: bool,
    /// qemu start to exit (or kill).
    pub wall: Duration,
    /// qemu start to `/init`'s first marker, and to its last.
    pub init_at: Option<Duration>,
    /// qemu start to `/init`'s last marker (`done`).
    pub done_at: Option<Duration>,
    /// The guest's own uptime in seconds at `/init`'s first marker.
    pub uptime_init: Option<f64>,
    /// The guest's uptime in seconds before the commands (after the loads).
    pub uptime_commands: Option<f64>,
    /// The guest's uptime in seconds at its last marker.
    pub uptime_done: Option<f64>,
    /// `uname -r` in the guest.
    pub release: Option<String>,
    /// Each module insertion, in order.
    pub insmods: Vec<Insmod>,
    /// /sys/kernel/btf: vmlinux and the modules with BTF.
    pub btf: Vec<String>,
    /// What each loader printed, by loader name, then object file name.
    pub loads: BTreeMap<String, BTreeMap<String, RawLoad>>,
    /// What each [`GuestCommand`] printed, by its name.
    pub commands: BTreeMap<String, RawLoad>,
}

impl GuestRun {
    /// What `loader` printed for `object` (a file name).
    pub fn load(&self, loader: &str, object: &str) -> Option<&RawLoad> {
        self.loads.get(loader)?.get(object)
    }

    /// The last `n` console lines, for a report of a guest that failed.
    pub fn console_tail(&self, n: usize) -> String {
        let lines: Vec<&str> = self.console.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }
}

/// One loader's run on one object in the guest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawLoad {
    /// What the loader printed on stdout.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
    /// Its exit code; `None` if the guest did not report one.
    pub exit_code: Option<i32>,
}

/// The load (or command: no object) in progress while reading the console.
struct Current {
    loader: String,
    object: Option<String>,
    load: RawLoad,
    in_stderr: bool,
}

fn uptime(rest: &str) -> Option<f64> {
    rest.split_whitespace().next()?.parse().ok()
}

/// Reads the markers out of the console.
fn parse_console(run: &mut GuestRun, lines: &[(Duration, String)]) {
    let mut current: Option<Current> = None;
    for (at, raw) in lines {
        let line = raw.as_str();
        let Some(pos) = line.find(MARK) else {
            if let Some(c) = current.as_mut() {
                let buf = if c.in_stderr { &mut c.load.stderr } else { &mut c.load.stdout };
                buf.push_str(line);
                buf.push('\n');
            }
            continue;
        };
        let rest = &line[pos + MARK.len()..];
        let (word, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        match word {
            "init" => {
                run.init_at = Some(*at);
                run.uptime_init = uptime(rest);
            }
            "commands" => run.uptime_commands = uptime(rest),
            "release" => run.release = Some(rest.trim().to_string()),
            "insmod" => {
                let mut f = rest.splitn(4, ' ');
                let (name, kind, rc, msg) = (f.next(), f.next(), f.next(), f.next());
                if let (Some(name), Some(kind), Some(rc)) = (name, kind, rc) {
                    run.insmods.push(Insmod {
                        name: name.to_string(),
                        optional: kind == "optional",
                        rc: rc.trim().parse().unwrap_or(-1),
                        message: msg.unwrap_or("").trim().to_string(),
                    });
                }
            }
            "btf" => run.btf = rest.split_whitespace().map(str::to_string).collect(),
            "load-begin" => {
                let (loader, object) = rest.trim().split_once(' ').unwrap_or(("bpfld", rest.trim()));
                current = Some(Current { loader: loader.into(), object: Some(object.into()), load: RawLoad::default(), in_stderr: false });
            }
            "cmd-begin" => current = Some(Current { loader: rest.trim().into(), object: None, load: RawLoad::default(), in_stderr: false }),
            "load-stderr" | "cmd-stderr" => {
                if let Some(c) = current.as_mut() {
                    c.in_stderr = true;
                }
            }
            "load-end" | "cmd-end" => {
                if let Some(mut c) = current.take() {
                    c.load.exit_code = rest.trim().rsplit_once(' ').and_then(|(_, rc)| rc.parse().ok());
                    match c.object {
                        Some(object) => _ = run.loads.entry(c.loader).or_default().insert(object, c.load),
                        None => _ = run.commands.insert(c.loader, c.load),
                    }
                }
            }
            "done" => {
                run.done_at = Some(*at);
                run.uptime_done = uptime(rest);
                run.complete = true;
            }
            _ => {}
        }
    }
}

/// Boots `k` with `initrd` under qemu, 1 vCPU, and waits at most
/// `timeout` for it to power off.
pub fn boot(k: &BootKernel, initrd: &Path, accel: &Accel, timeout: Duration) -> Result<GuestRun, BootError> {
    let start = Instant::now();
    let mut child = Command::new("qemu-system-x86_64")
        .args(accel.args())
        .args(["-smp", "1", "-m", "1G", "-nic", "none", "-nographic", "-no-reboot"])
        .arg("-kernel")
        .arg(&k.boot_image)
        .arg("-initrd")
        .arg(initrd)
        .args(["-append", "console=ttyS0 quiet panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|_| BootError::Missing { tool: "qemu-system-x86_64", package: "qemu-system-x86" })?;
    let lines: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let stdout = child.stdout.take().expect("piped");
    let reader = {
        let lines = Arc::clone(&lines);
        std::thread::spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut buf = Vec::new();
            while r.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                let line = String::from_utf8_lossy(&buf).trim_end_matches(['\n', '\r']).replace('\r', "");
                lines.lock().expect("reader").push((start.elapsed(), line));
                buf.clear();
            }
        })
    };
    let mut stderr = child.stderr.take().expect("piped");
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut run = GuestRun::default();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > timeout => {
                run.timed_out = true;
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(BootError::io("qemu-system-x86_64", e)),
        }
    }
    run.wall = start.elapsed();
    let _ = reader.join();
    run.qemu_stderr = err_reader.join().unwrap_or_default();
    let lines = std::mem::take(&mut *lines.lock().expect("reader done"));
    run.console = lines.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join("\n");
    parse_console(&mut run, &lines);
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_markers() {
        let text = "SeaBIOS\nBooting from ROM..@@BPFLD init 2.57 0.00\n@@BPFLD release 6.12.117+deb12-amd64\n\
                    @@BPFLD insmod crc32c_intel optional 19 insmod: can't insert 'x': No such device\n\
                    @@BPFLD insmod nf_conntrack required 0 \n@@BPFLD btf nf_conntrack vmlinux\n\
                    @@BPFLD load-begin bpfld a.bpf.o\n{\"object\":\"a\",\"programs\":[\n\
                    {\"name\":\"p\",\"loaded\":true}]}\n@@BPFLD load-stderr bpfld a.bpf.o\nwarning\n\
                    @@BPFLD load-end bpfld a.bpf.o 0\n@@BPFLD load-begin libbpf a.bpf.o\n@@BPFLD load-stderr libbpf a.bpf.o\n\
                    @@BPFLD load-end libbpf a.bpf.o 1\n@@BPFLD commands 3.01 0.05\n@@BPFLD cmd-begin features\n{\"kernels\":[]}\n@@BPFLD cmd-stderr features\n\
                    @@BPFLD cmd-end features 0\n@@BPFLD done 3.32 0.06\n[ 3.35] reboot: Power down";
        let lines: Vec<(Duration, String)> = text.lines().map(|l| (Duration::ZERO, l.to_string())).collect();
        let mut run = GuestRun::default();
        parse_console(&mut run, &lines);
        assert!(run.complete);
        assert_eq!(run.uptime_init, Some(2.57));
        assert_eq!(run.release.as_deref(), Some("6.12.117+deb12-amd64"));
        assert_eq!(
            run.insmods[0],
            Insmod { name: "crc32c_intel".into(), optional: true, rc: 19, message: "insmod: can't insert 'x': No such device".into() }
        );
        assert_eq!(run.insmods[1].rc, 0);
        assert_eq!(run.btf, ["nf_conntrack", "vmlinux"]);
        let a = run.load("bpfld", "a.bpf.o").unwrap();
        assert_eq!(a.exit_code, Some(0));
        assert_eq!(a.stdout, "{\"object\":\"a\",\"programs\":[\n{\"name\":\"p\",\"loaded\":true}]}\n");
        assert_eq!(a.stderr, "warning\n");
        assert_eq!(run.load("libbpf", "a.bpf.o").unwrap().exit_code, Some(1));
        assert_eq!(run.uptime_commands, Some(3.01));
        assert_eq!(run.commands["features"], RawLoad { stdout: "{\"kernels\":[]}\n".into(), stderr: String::new(), exit_code: Some(0) });
    }

    #[test]
    fn init_quotes_and_orders() {
        let bpfld = Loader::bpfld(Path::new("/x/bpfld"));
        let loaders = [(bpfld.name, bpfld.args), ("libbpf".to_string(), vec!["{obj}".to_string()])];
        let features = GuestCommand { name: "features".into(), exe: "/x/bpfld".into(), args: vec!["features".into(), "{objs}/x".into()] };
        let s = init_script(&[("nf_conntrack".into(), "01-nf_conntrack.ko".into(), false)], &loaders, &["a'b.bpf.o".into()], &[features]);
        let insmod = s.find("insmod /lib/modules/01-nf_conntrack.ko").unwrap();
        let load = s.find("bpfld 'load' '/objs/a'\\''b.bpf.o' '--json' >/tmp/out").unwrap();
        let reference = s.find("libbpf '/objs/a'\\''b.bpf.o' >/tmp/out").unwrap();
        let command = s.find("'bpfld' 'features' '/objs/x' >/tmp/out").unwrap();
        assert!(s.find("echo 1 > /proc/sys/kernel/printk").unwrap() < insmod && insmod < load && load < reference && reference < command);
        assert!(s.ends_with("poweroff -f\n"));
    }
}
