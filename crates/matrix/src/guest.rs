//! The guest: an initramfs with busybox, `bpfld`, the objects, the
//! kernel's config and modules, whose `/init` loads every object and
//! prints each result between markers on the serial console; and the
//! qemu run that boots it, with a timeout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::cache::PreparedKernel;
use crate::modules::{read_module, ModuleLoad};
use crate::outcome::{parse_load, Observed};

/// Every line the harness reads starts with this (possibly after console
/// noise on the same line, such as the firmware's last message).
pub const MARK: &str = "@@BPFLD ";

/// busybox applets `/init` uses.
const APPLETS: &[&str] = &["sh", "mount", "insmod", "cat", "echo", "ls", "uname", "poweroff", "mkdir"];

/// The shared libraries and loader a dynamic executable needs, as `ldd`
/// lists them (nothing for a static one).
fn shared_libraries(exe: &Path) -> Result<Vec<PathBuf>, String> {
    let out = Command::new("ldd").arg(exe).output().map_err(|e| format!("ldd {}: {e}", exe.display()))?;
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

/// `bpfld` without its debug info (a release build carries ~20 MB of it).
fn stripped(bpfld: &Path, scratch: &Path) -> Vec<u8> {
    let out = scratch.join("bpfld.stripped");
    let ok = Command::new("objcopy").arg("--strip-debug").arg(bpfld).arg(&out).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let bytes = if ok { std::fs::read(&out).ok() } else { None };
    let _ = std::fs::remove_file(&out);
    bytes.or_else(|| std::fs::read(bpfld).ok()).unwrap_or_default()
}

/// Finds busybox (Debian's busybox-static installs /bin/busybox).
pub fn find_busybox() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain([PathBuf::from("/bin"), PathBuf::from("/usr/bin")]).map(|d| d.join("busybox")).find(|p| p.exists())
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The guest's `/init`.
fn init_script(modules: &[(String, String, bool)], objects: &[String]) -> String {
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
        let q = sh_quote(&format!("/objs/{o}"));
        s.push_str(&format!(
            "bpfld load {q} --json >/tmp/out 2>/tmp/err; rc=$?\n\
             echo \"@@BPFLD load-begin {o}\"; cat /tmp/out; echo \"@@BPFLD load-stderr {o}\"; cat /tmp/err\n\
             echo \"@@BPFLD load-end {o} $rc\"\n"
        ));
    }
    s.push_str("echo \"@@BPFLD done $(cat /proc/uptime)\"\npoweroff -f\n");
    s
}

/// Builds the guest's initramfs (gzip'd newc cpio).
pub fn build_initramfs(
    bpfld: &Path,
    k: &PreparedKernel,
    modules: &[ModuleLoad],
    objects: &[PathBuf],
    scratch: &Path,
) -> Result<Vec<u8>, String> {
    let mut ir = crate::initramfs::Initramfs::new();
    let busybox = find_busybox().ok_or("busybox not found (Debian package busybox-static)")?;
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
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
    ir.file("/bin/bpfld", &stripped(bpfld, scratch), true);
    let mut libs = shared_libraries(bpfld)?;
    libs.extend(shared_libraries(&busybox)?);
    libs.sort();
    libs.dedup();
    for lib in libs {
        ir.file(&lib.display().to_string(), &read(&lib)?, true);
    }
    // The loader reads the kernel's config from /boot/config-$(uname -r):
    // Debian kernels have no /proc/config.gz.
    ir.file(&format!("/boot/config-{}", k.spec.release), &read(&k.config)?, false);
    let mut insmods = Vec::new();
    for (i, m) in modules.iter().enumerate() {
        // Decompressed here: busybox insmod may lack the decompressor.
        let file = format!("{:02}-{}.ko", i + 1, m.file_name);
        ir.file(&format!("/lib/modules/{file}"), &read_module(&m.path)?, false);
        insmods.push((m.name.clone(), file, m.optional));
    }
    let mut names = Vec::new();
    for o in objects {
        let name = o.file_name().and_then(|n| n.to_str()).ok_or_else(|| format!("{}: bad file name", o.display()))?.to_string();
        ir.file(&format!("/objs/{name}"), &read(o)?, false);
        names.push(name);
    }
    ir.file("/init", init_script(&insmods, &names).as_bytes(), true);
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
    pub name: String,
    pub optional: bool,
    pub rc: i32,
    pub message: String,
}

/// What a guest run produced.
#[derive(Debug, Clone, Default)]
pub struct GuestRun {
    /// The whole serial console, `\r` removed.
    pub console: String,
    pub qemu_stderr: String,
    pub timed_out: bool,
    /// The guest printed its last marker.
    pub complete: bool,
    /// qemu start to exit (or kill).
    pub wall: Duration,
    /// qemu start to `/init`'s first marker, and to its last.
    pub init_at: Option<Duration>,
    pub done_at: Option<Duration>,
    /// The guest's own uptime at those two points.
    pub uptime_init: Option<f64>,
    pub uptime_done: Option<f64>,
    pub release: Option<String>,
    pub insmods: Vec<Insmod>,
    /// /sys/kernel/btf: vmlinux and the modules with BTF.
    pub btf: Vec<String>,
    /// By object file name.
    pub loads: BTreeMap<String, Observed>,
}

fn uptime(rest: &str) -> Option<f64> {
    rest.split_whitespace().next()?.parse().ok()
}

/// Reads the markers out of the console.
fn parse_console(run: &mut GuestRun, lines: &[(Duration, String)]) {
    let mut current: Option<(String, String, String, bool)> = None; // object, stdout, stderr, in stderr
    for (at, raw) in lines {
        let line = raw.as_str();
        let Some(pos) = line.find(MARK) else {
            if let Some((_, out, err, in_err)) = current.as_mut() {
                let buf = if *in_err { err } else { out };
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
            "load-begin" => current = Some((rest.trim().to_string(), String::new(), String::new(), false)),
            "load-stderr" => {
                if let Some(c) = current.as_mut() {
                    c.3 = true;
                }
            }
            "load-end" => {
                if let Some((obj, out, err, _)) = current.take() {
                    let rc = rest.split_whitespace().nth(1).and_then(|r| r.parse().ok());
                    run.loads.insert(obj, parse_load(&out, &err, rc));
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
pub fn boot(k: &PreparedKernel, initrd: &Path, accel: &Accel, timeout: Duration) -> Result<GuestRun, String> {
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
        .map_err(|e| format!("qemu-system-x86_64: {e}"))?;
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
            Err(e) => return Err(format!("waiting for qemu: {e}")),
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
                    @@BPFLD load-begin a.bpf.o\n{\"object\":\"a\",\"maps\":[],\"programs\":[\n\
                    {\"name\":\"p\",\"loaded\":true,\"error\":null}]}\n@@BPFLD load-stderr a.bpf.o\n\
                    @@BPFLD load-end a.bpf.o 0\n@@BPFLD done 3.32 0.06\n[ 3.35] reboot: Power down";
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
        let a = &run.loads["a.bpf.o"];
        assert_eq!(a.exit_code, Some(0));
        assert!(a.loads() && a.programs[0].name == "p");
    }

    #[test]
    fn init_quotes_and_orders() {
        let s = init_script(&[("nf_conntrack".into(), "01-nf_conntrack.ko".into(), false)], &["a.bpf.o".into()]);
        let insmod = s.find("insmod /lib/modules/01-nf_conntrack.ko").unwrap();
        let load = s.find("bpfld load '/objs/a.bpf.o' --json").unwrap();
        assert!(s.find("echo 1 > /proc/sys/kernel/printk").unwrap() < insmod && insmod < load);
        assert!(s.ends_with("poweroff -f\n"));
    }
}
