//! The host column: the same loads on the running kernel, and the release
//! directory that describes it to `bpfld check` (its sysfs BTF, its
//! config, its kallsyms: what a build machine could have copied from it).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfld_boot::Loader;

use crate::outcome::{parse_load, Observed};

/// `uname -r`.
pub fn release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_else(|_| "host".into())
}

/// A loader (`bpfld load OBJ --json`, libbpf's `libbpf_load OBJ`) on this
/// machine. Maps pinned by name go to a directory of the bpffs removed
/// afterwards (the default, /sys/fs/bpf, would keep them on the host for
/// good); the guest pins where it likes.
pub fn load(loader: &Loader, obj: &Path) -> Observed {
    let mut cmd = Command::new(&loader.exe);
    let obj = obj.display().to_string();
    cmd.args(loader.args.iter().map(|a| a.replace("{obj}", &obj)));
    let bpffs = Path::new("/sys/fs/bpf");
    let pin_root = bpffs.join(format!("bpfld-matrix-{}", std::process::id()));
    let pinning = bpfld_sys::is_bpffs(bpffs) && std::fs::create_dir_all(&pin_root).is_ok();
    if pinning {
        cmd.arg("--pin-root").arg(&pin_root);
    }
    let observed = match cmd.output() {
        Ok(out) => parse_load(&String::from_utf8_lossy(&out.stdout), &String::from_utf8_lossy(&out.stderr), out.status.code()),
        Err(e) => parse_load("", &format!("{}: {e}", loader.exe.display()), None),
    };
    if pinning {
        let _ = std::fs::remove_dir_all(&pin_root);
    }
    observed
}

/// Writes the running kernel's release directory into `dir`:
/// `/sys/kernel/btf/vmlinux` and every module's split BTF (copied: sysfs
/// files report no usable size to mmap), `/proc/config.gz` (or
/// `/boot/config-<release>`), `/proc/kallsyms`.
pub fn target_dir(dir: &Path) -> Result<PathBuf, String> {
    let _ = std::fs::remove_dir_all(dir);
    let modules = dir.join("modules");
    std::fs::create_dir_all(&modules).map_err(|e| format!("{}: {e}", modules.display()))?;
    let copy = |from: &Path, to: &Path| std::fs::copy(from, to).map(|_| ()).map_err(|e| format!("{}: {e}", from.display()));
    let sys = Path::new("/sys/kernel/btf");
    copy(&sys.join("vmlinux"), &dir.join("vmlinux.btf"))?;
    for e in std::fs::read_dir(sys).map_err(|e| format!("{}: {e}", sys.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "vmlinux" {
            copy(&e.path(), &modules.join(format!("{name}.btf")))?;
        }
    }
    let rel = release();
    let config = match std::fs::read("/proc/config.gz") {
        Ok(gz) => {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut text).map_err(|e| format!("/proc/config.gz: {e}"))?;
            Some(text)
        }
        Err(_) => std::fs::read(format!("/boot/config-{rel}")).ok(),
    };
    if let Some(c) = config {
        std::fs::write(dir.join("config"), c).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    if let Ok(k) = std::fs::read("/proc/kallsyms") {
        std::fs::write(dir.join("kallsyms"), k).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    std::fs::write(dir.join("release"), format!("{rel}\n")).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir.to_path_buf())
}
