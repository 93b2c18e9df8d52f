//! What qemu boots: a kernel made ready from a Debian kernel package, a
//! release directory that records its package, or a `vmlinux`/`bzImage`
//! with its modules.
//!
//! A package is unpacked once into the cache, and its bzImage's payload
//! decompressed once to an ELF `vmlinux` that qemu boots through its PVH
//! entry point (skipping the in-kernel decompressor: about 5 s of 6.1's
//! xz under software emulation):
//!
//! ```text
//! <cache>/boot/<package file stem>/root/      dpkg -x of the package
//! <cache>/boot/<package file stem>/vmlinux    the bzImage's payload, decompressed
//! ```
//!
//! Every entry is written beside its final name and renamed into place,
//! so an interrupted run never leaves something that looks complete.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::error::BootError;

/// The file of a release directory (`bpfld btf extract` of a package)
/// that names the package it came from.
pub const SOURCE_FILE: &str = bpfld_extract::release_dir::SOURCE;

/// A kernel ready to boot.
#[derive(Debug, Clone)]
pub struct BootKernel {
    /// `uname -r`.
    pub release: String,
    /// What qemu's `-kernel` gets: the decompressed vmlinux (PVH entry),
    /// or the bzImage when the kernel has no PVH entry.
    pub boot_image: PathBuf,
    /// The kernel's `.config` (copied to the guest's `/boot`).
    pub config: Option<PathBuf>,
    /// The kernel's `System.map`, where it has one (Debian's may be a
    /// one-line placeholder that names the -dbg package).
    pub system_map: Option<PathBuf>,
    /// `lib/modules/<release>`, if the kernel has modules here.
    pub modules_root: Option<PathBuf>,
    /// The Debian package it came from.
    pub package: Option<PathBuf>,
    /// The kernel's cache directory (scratch space of its own).
    pub dir: PathBuf,
    /// What each step cost and whether it was cached.
    pub steps: Vec<Step>,
}

/// One preparation step, for the timing report.
#[derive(Debug, Clone)]
pub struct Step {
    /// The step's name (`dpkg -x`, `vmlinux`).
    pub what: &'static str,
    /// Its result was in the cache already.
    pub cached: bool,
    /// Wall time it took.
    pub took: Duration,
}

fn timed<T>(steps: &mut Vec<Step>, what: &'static str, f: impl FnOnce() -> Result<(T, bool), BootError>) -> Result<T, BootError> {
    let start = Instant::now();
    let (v, cached) = f()?;
    steps.push(Step { what, cached, took: start.elapsed() });
    Ok(v)
}

/// The release of an unpacked package: its one `boot/config-<release>`.
fn unpacked_release(root: &Path) -> Option<String> {
    let mut found = std::fs::read_dir(root.join("boot"))
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_prefix("config-").map(str::to_string));
    let rel = found.next()?;
    found.next().is_none().then_some(rel)
}

/// `dpkg -x` of the package into `<dir>/root`; returns whether it was
/// there already.
fn unpack(deb: &Path, dir: &Path) -> Result<bool, BootError> {
    let root = dir.join("root");
    if unpacked_release(&root).is_some() {
        return Ok(true);
    }
    let tmp = dir.join(format!(".root-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let out =
        Command::new("dpkg").arg("-x").arg(deb).arg(&tmp).output().map_err(|_| BootError::Missing { tool: "dpkg", package: "dpkg" })?;
    if !out.status.success() {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(BootError::Command {
            command: format!("dpkg -x {}", deb.display()),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let _ = std::fs::remove_dir_all(&root);
    std::fs::rename(&tmp, &root).map_err(|e| BootError::io(&root, e))?;
    Ok(false)
}

/// The decompressed vmlinux at `<dir>/vmlinux`; returns whether it was
/// there already.
fn decompress(vmlinuz: &Path, dir: &Path) -> Result<bool, BootError> {
    let dest = dir.join("vmlinux");
    if dest.exists() {
        return Ok(true);
    }
    let bytes = std::fs::read(vmlinuz).map_err(|e| BootError::io(vmlinuz, e))?;
    let (_, elf) = bpfld_extract::open_elf(&vmlinuz.display().to_string(), &bytes)?;
    let tmp = dir.join(format!(".vmlinux-{}", std::process::id()));
    std::fs::write(&tmp, &elf).map_err(|e| BootError::io(&tmp, e))?;
    std::fs::rename(&tmp, &dest).map_err(|e| BootError::io(&dest, e))?;
    Ok(false)
}

fn has_pvh(config: &Path) -> bool {
    std::fs::read_to_string(config).is_ok_and(|t| t.lines().any(|l| l == "CONFIG_PVH=y"))
}

/// A Debian kernel package (`linux-image-*.deb`), unpacked (once) into
/// `<cache>/boot/`.
pub fn from_package(deb: &Path, cache: &Path) -> Result<BootKernel, BootError> {
    let stem = deb
        .file_stem()
        .and_then(|s| s.to_str())
        .ok_or_else(|| BootError::NotBootable { path: deb.to_path_buf(), why: "not a file name".into() })?;
    let dir = cache.join("boot").join(stem);
    std::fs::create_dir_all(&dir).map_err(|e| BootError::io(&dir, e))?;
    let mut steps = Vec::new();
    timed(&mut steps, "dpkg -x", || unpack(deb, &dir).map(|c| ((), c)))?;
    let root = dir.join("root");
    let release = unpacked_release(&root)
        .ok_or_else(|| BootError::NotBootable { path: deb.to_path_buf(), why: "no single boot/config-<release> in the package".into() })?;
    let boot = root.join("boot");
    let config = boot.join(format!("config-{release}"));
    let vmlinuz = boot.join(format!("vmlinuz-{release}"));
    let boot_image = if has_pvh(&config) {
        timed(&mut steps, "vmlinux", || decompress(&vmlinuz, &dir).map(|c| ((), c)))?;
        dir.join("vmlinux")
    } else {
        vmlinuz
    };
    // Debian 13 ships them under usr/ (merged /usr).
    let modules = ["lib/modules", "usr/lib/modules"].iter().map(|d| root.join(d).join(&release)).find(|p| p.is_dir());
    Ok(BootKernel {
        system_map: Some(boot.join(format!("System.map-{release}"))),
        config: Some(config),
        modules_root: modules,
        boot_image,
        release,
        package: Some(deb.to_path_buf()),
        dir,
        steps,
    })
}

/// The release a kernel image announces (`Linux version <release> ...`).
fn banner_release(elf: &[u8]) -> Option<String> {
    let needle = b"Linux version ";
    let at = elf.windows(needle.len()).position(|w| w == needle)? + needle.len();
    let rest = &elf[at..elf.len().min(at + 128)];
    let end = rest.iter().position(|&b| b == b' ' || b == 0)?;
    std::str::from_utf8(&rest[..end])
        .ok()
        .filter(|r| !r.is_empty() && r.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .map(str::to_string)
}

/// A `vmlinux` or `bzImage`. Its config is `config-<release>`, `config`
/// or `.config` beside it; its modules `lib/modules/<release>` beside it,
/// else `/lib/modules/<release>`.
pub fn from_image(image: &Path, cache: &Path) -> Result<BootKernel, BootError> {
    let bytes = std::fs::read(image).map_err(|e| BootError::io(image, e))?;
    let (_, elf) = bpfld_extract::open_elf(&image.display().to_string(), &bytes)?;
    let release = banner_release(&elf)
        .ok_or_else(|| BootError::NotBootable { path: image.to_path_buf(), why: "no 'Linux version' banner in the kernel".into() })?;
    let beside = image.parent().unwrap_or(Path::new("."));
    let config = [format!("config-{release}"), "config".into(), ".config".into()].iter().map(|n| beside.join(n)).find(|p| p.is_file());
    let modules = [beside.join("lib/modules").join(&release), Path::new("/lib/modules").join(&release)].into_iter().find(|p| p.is_dir());
    let map = beside.join(format!("System.map-{release}"));
    let dir = cache.join("boot").join(format!("image-{release}"));
    std::fs::create_dir_all(&dir).map_err(|e| BootError::io(&dir, e))?;
    let mut steps = Vec::new();
    // A bzImage boots through qemu's PVH entry once decompressed, like a package's.
    let boot_image = if elf.as_ref() != bytes.as_slice() && config.as_deref().is_some_and(has_pvh) {
        timed(&mut steps, "vmlinux", || decompress(image, &dir).map(|c| ((), c)))?;
        dir.join("vmlinux")
    } else {
        image.to_path_buf()
    };
    Ok(BootKernel {
        release,
        boot_image,
        config,
        system_map: map.is_file().then_some(map),
        modules_root: modules,
        package: None,
        dir,
        steps,
    })
}

/// The package a release directory was extracted from (its `source`
/// file, written by `bpfld btf extract`).
pub fn release_dir_package(dir: &Path) -> Result<PathBuf, BootError> {
    let file = dir.join(SOURCE_FILE);
    let text = std::fs::read_to_string(&file).map_err(|_| BootError::NotBootable {
        path: dir.to_path_buf(),
        why: format!("a release directory without '{SOURCE_FILE}' (made by a bpfld btf extract that did not record its package)"),
    })?;
    let deb = PathBuf::from(text.trim());
    if !deb.is_file() {
        return Err(BootError::NotBootable {
            path: dir.to_path_buf(),
            why: format!("its package {} is gone (extracted from it, the kernel itself is not kept)", deb.display()),
        });
    }
    Ok(deb)
}

/// Any bootable kernel path: a Debian package, a release directory made
/// from one, a `vmlinux` or `bzImage`.
pub fn prepare(path: &Path, cache: &Path) -> Result<BootKernel, BootError> {
    if path.is_dir() {
        return from_package(&release_dir_package(path)?, cache);
    }
    let mut magic = [0u8; 8];
    let n = std::fs::File::open(path).and_then(|mut f| std::io::Read::read(&mut f, &mut magic)).map_err(|e| BootError::io(path, e))?;
    if bpfld_extract::deb::is_deb(&magic[..n]) {
        return from_package(path, cache);
    }
    if path.extension().is_some_and(|e| e == "btf") {
        return Err(BootError::NotBootable { path: path.to_path_buf(), why: "a BTF file has no kernel to boot".into() });
    }
    from_image(path, cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner() {
        let mut img = b"\x7fELF....Linux version 5.10.0-46-amd64 (debian-kernel@lists.debian.org) (gcc".to_vec();
        assert_eq!(banner_release(&img).as_deref(), Some("5.10.0-46-amd64"));
        img.truncate(8);
        assert_eq!(banner_release(&img), None);
    }

    #[test]
    fn release_dir_without_source_is_not_bootable() {
        let tmp = std::env::temp_dir().join(format!("bpfld-boot-image-{}", std::process::id()));
        std::fs::create_dir_all(&tmp).unwrap();
        let e = prepare(&tmp, &tmp).unwrap_err();
        assert!(matches!(e, BootError::NotBootable { .. }), "{e}");
        std::fs::write(tmp.join(SOURCE_FILE), "/nonexistent/linux.deb\n").unwrap();
        assert!(prepare(&tmp, &tmp).unwrap_err().to_string().contains("is gone"));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
