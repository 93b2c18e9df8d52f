//! The running kernel as a [`Target`]: its BTF (vmlinux mapped, not copied;
//! module BTFs from the kernel with their fds kept for the load), its
//! `.config`, its kallsyms and its version.
//!
//! Each part costs something (vmlinux BTF is megabytes, kallsyms hundreds
//! of thousands of lines), so only what the object needs is read, decided
//! by [`TargetNeeds::of`]; an object without externs, CO-RE relocations or
//! BTF attach targets needs no target at all.
//!
//! What cannot change while the kernel runs is read once per process:
//! vmlinux BTF (with its name index, built on first lookup) and the kernel
//! version. Module BTFs (modules come and go), the `.config` (a file the
//! user may point elsewhere) and kallsyms (module and BPF symbols come and
//! go) are read for every target.

use std::collections::HashSet;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use bpfld_btf::Btf;
use bpfld_obj::kallsyms::Kallsyms;
use bpfld_obj::kconfig::Kconfig;
use bpfld_obj::kernel_version;
use bpfld_obj::{ExternKind, ModuleBtf, Object, Target};

use crate::error::{Error, Missing, ParseError, Result};

/// Where the running kernel's own BTF is (Linux >= 5.4 with
/// `CONFIG_DEBUG_INFO_BTF`).
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
/// The running kernel's config, gzip'd (`CONFIG_IKCONFIG_PROC`); else
/// `/boot/config-<release>` is read.
pub const PROC_CONFIG_GZ: &str = "/proc/config.gz";
/// The kernel's symbols and addresses, for `__ksym` externs without BTF.
pub const KALLSYMS: &str = "/proc/kallsyms";
const OSRELEASE: &str = "/proc/sys/kernel/osrelease";
const UTS_VERSION: &str = "/proc/sys/kernel/version";
const UBUNTU_VERSION_SIGNATURE: &str = "/proc/version_signature";

/// What an object needs from the kernel it is loaded into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetNeeds {
    /// vmlinux BTF (any extern, CO-RE relocation or BTF attach target: the
    /// plan's [`Target`] always carries it).
    pub vmlinux_btf: bool,
    /// Module BTFs: kfuncs, typed ksyms, CO-RE candidates and attach
    /// targets may live in modules (libbpf searches them for the same).
    pub module_btf: bool,
    /// The `.config`: `CONFIG_*` kconfig externs (`LINUX_*` ones are
    /// computed, as libbpf does).
    pub kconfig: bool,
    /// Symbol addresses: typeless ksyms (`extern const void x __ksym`).
    pub kallsyms: bool,
    /// The symbols wanted from kallsyms (only those are kept: the file has
    /// well over 100,000 lines); empty means all.
    pub ksym_names: Vec<String>,
    /// Probed kernel features and facts (uprobe_multi links for USDT
    /// programs; `ld_imm64` offsets and the page size for `__arena`
    /// variables), see [`bpfld_obj::Object::needs_kernel_facts`]: a target
    /// even for an object that needs nothing else.
    pub kernel_facts: bool,
}

impl TargetNeeds {
    /// Decides from the object's externs, CO-RE records and section names.
    pub fn of(obj: &Object) -> TargetNeeds {
        let core = obj.section_ext.values().any(|s| !s.core_relos.is_empty());
        let attach_btf = obj.entry_programs().any(|p| p.def.as_ref().is_some_and(|d| d.attaches_by_btf()));
        let btf_externs = obj.externs.iter().any(|e| match e.kind {
            ExternKind::Kfunc => true,
            ExternKind::Ksym => !e.is_typeless_ksym(),
            ExternKind::Kconfig => false,
        });
        // struct_ops maps: the kernel's struct and value type, in vmlinux
        // or a module.
        let struct_ops = !obj.struct_ops.is_empty();
        TargetNeeds {
            vmlinux_btf: core || attach_btf || struct_ops || !obj.externs.is_empty(),
            module_btf: core || attach_btf || struct_ops || btf_externs,
            kconfig: obj.externs.iter().any(|e| e.kind == ExternKind::Kconfig && e.name.starts_with("CONFIG_")),
            kallsyms: obj.externs.iter().any(|e| e.is_typeless_ksym()),
            ksym_names: obj
                .externs
                .iter()
                .filter(|e| e.is_typeless_ksym())
                .flat_map(|e| [e.name.clone(), e.essential_name.clone()])
                .collect::<HashSet<_>>()
                .into_iter()
                .collect(),
            kernel_facts: obj.needs_kernel_facts(),
        }
    }

    /// Whether a target is needed at all.
    pub fn any(&self) -> bool {
        self.vmlinux_btf || self.module_btf || self.kconfig || self.kallsyms || self.kernel_facts
    }
}

/// Where to find what the running kernel does not provide by itself.
#[derive(Debug, Clone, Default)]
pub struct KernelFiles {
    /// The kernel's `.config` (plain or gzip), used instead of
    /// `/proc/config.gz` and `/boot/config-<release>`.
    pub kconfig: Option<PathBuf>,
    /// A vmlinux BTF file that CO-RE relocations use instead of the
    /// kernel's own (libbpf's `btf_custom_path`; e.g. `bpfld btf min`'s
    /// output for a kernel built without BTF). Module BTFs are then not
    /// searched for CO-RE candidates, as in libbpf; externs and attach
    /// targets still resolve against the kernel's BTF, or against this file
    /// where the kernel has none.
    pub vmlinux_btf: Option<PathBuf>,
}

/// The running kernel as a target, with the fds of its module BTFs in the
/// order of [`Target::modules`] (programs refer to module BTFs by fd).
#[derive(Debug)]
pub struct RunningKernel {
    /// What the plan is made against.
    pub target: Target,
    /// The kernel's fd of each module BTF, `module_fds[i]` for
    /// `target.modules[i]`.
    pub module_fds: Vec<OwnedFd>,
}

/// Builds the running kernel's target with the parts `needs` asks for.
///
/// The kernel version and release are always known (read once per
/// process); everything else only when needed.
pub fn running_kernel(needs: &TargetNeeds, files: &KernelFiles) -> Result<RunningKernel> {
    let uname = kernel_release()?;
    let custom = files.vmlinux_btf.as_deref().map(vmlinux_btf).transpose()?;
    let vmlinux = match (cached_vmlinux_btf(), &custom) {
        (Ok(b), _) => b,
        (Err(_), Some(c)) => c.clone(),
        (Err(e), None) => return Err(e),
    };
    let mut target = Target::new(format!("running kernel {}", uname.release), vmlinux);
    target.core_btf = custom;
    target.kernel_version = uname.version;
    let features = *crate::features();
    target.features = Some(features);
    // The kernel itself says what it lacks (the loader explains refusals);
    // reading its enums up front would cost every load.
    target.predict_missing = false;
    target.overrides.insert(bpfld_obj::struct_ops::QMARK_DATASEC_FACT.to_string(), u64::from(features.btf_qmark_datasec));
    // Arena sizes count pages; the plan puts `__arena` variables at the
    // arena's last pages.
    target.overrides.insert(bpfld_obj::arena::PAGE_SIZE_FACT.to_string(), bpfld_sys::page_size() as u64);
    let mut module_fds = Vec::new();
    // Before module BTF (5.11) there is none to enumerate, and the kernel
    // refuses the BTF information request that names them (E2BIG).
    if needs.module_btf && features.module_btf {
        let (modules, fds) = module_btfs(&target.vmlinux)?;
        target.modules = modules;
        module_fds = fds;
    }
    if needs.kconfig {
        target.kconfig = Some(kernel_config(files, &uname.release)?);
    }
    if needs.kallsyms {
        target.kallsyms = Some(read_kallsyms(Path::new(KALLSYMS), &needs.ksym_names)?);
    }
    Ok(RunningKernel { target, module_fds })
}

/// Parses kallsyms keeping only the symbols named in `wanted` (all if it
/// is empty); an LTO-promoted `name.llvm.<hash>` counts as `name`, as in
/// [`Kallsyms::parse`].
pub fn read_kallsyms(path: &Path, wanted: &[String]) -> Result<Kallsyms> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::File { path: path.into(), source })?;
    let parse = |t: &str| Kallsyms::parse(t).map_err(|e| Error::Parse { path: path.into(), source: ParseError::Text(e) });
    if wanted.is_empty() {
        return parse(&text);
    }
    let wanted: HashSet<&str> = wanted.iter().map(String::as_str).collect();
    let mut kept = String::new();
    for line in text.lines() {
        let Some(name) = line.split_ascii_whitespace().nth(2) else {
            // Malformed: keep it so that parsing reports it with context.
            kept.push_str(line);
            kept.push('\n');
            continue;
        };
        let base = name.find(".llvm.").map_or(name, |i| &name[..i]);
        if wanted.contains(name) || wanted.contains(base) {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    parse(&kept)
}

/// The running kernel's release and `LINUX_KERNEL_VERSION`.
#[derive(Debug, Clone)]
pub struct KernelRelease {
    /// `uname -r` (`6.18.0-1-amd64`).
    pub release: String,
    /// `LINUX_KERNEL_VERSION` (`KERNEL_VERSION(a, b, c)` packed as
    /// `a << 16 | b << 8 | c`), `None` if the release does not tell it.
    pub version: Option<u32>,
}

/// Read once per process: neither changes while the kernel runs.
pub fn kernel_release() -> Result<KernelRelease> {
    static CACHE: OnceLock<KernelRelease> = OnceLock::new();
    if let Some(k) = CACHE.get() {
        return Ok(k.clone());
    }
    let release = read_trimmed(Path::new(OSRELEASE))?;
    let uts_version = read_trimmed(Path::new(UTS_VERSION))?;
    let signature = std::fs::read_to_string(UBUNTU_VERSION_SIGNATURE).ok();
    let version = linux_kernel_version(&release, &uts_version, signature.as_deref());
    Ok(CACHE.get_or_init(|| KernelRelease { release, version }).clone())
}

/// `/sys/kernel/btf/vmlinux`, parsed once per process (it cannot change
/// while the kernel runs); clones share the bytes and the name index.
pub fn cached_vmlinux_btf() -> Result<Btf> {
    static CACHE: OnceLock<Btf> = OnceLock::new();
    if let Some(b) = CACHE.get() {
        return Ok(b.clone());
    }
    let b = vmlinux_btf(Path::new(VMLINUX_BTF))?;
    Ok(CACHE.get_or_init(|| b).clone())
}

/// Whether the running kernel takes a BTF DATASEC named `?.data`
/// (libbpf's `FEAT_BTF_QMARK_DATASEC`; Linux 6.9 allowed any printable
/// name there), from the probed [`features`](crate::features()).
pub fn accepts_qmark_datasec() -> bool {
    crate::features().btf_qmark_datasec
}

/// `LINUX_KERNEL_VERSION` of the running kernel, `None` if it cannot be
/// told (what `kern_version` gets when the object has no `version`).
pub fn running_kernel_version() -> Option<u32> {
    kernel_release().ok()?.version
}

fn read_trimmed(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map(|s| s.trim().to_string()).map_err(|source| Error::File { path: path.into(), source })
}

/// Parses the kernel's BTF, mapped where the kernel allows it (Linux >=
/// 6.16), read otherwise.
pub fn vmlinux_btf(path: &Path) -> Result<Btf> {
    let bytes: bpfld_btf::Bytes = match bpfld_sys::FileMap::open(path) {
        Ok(m) => Arc::new(m),
        Err(_) => Arc::new(std::fs::read(path).map_err(|source| Error::File { path: path.into(), source })?),
    };
    Btf::parse(bytes).map_err(|e| Error::Parse { path: path.into(), source: ParseError::Btf(e) })
}

/// Every module's BTF, by increasing BTF id (libbpf's order), split on
/// `vmlinux`, with its fd. Without the privilege to enumerate BTF objects
/// there are no modules, as in libbpf.
pub fn module_btfs(vmlinux: &Btf) -> Result<(Vec<ModuleBtf>, Vec<OwnedFd>)> {
    let mut modules = Vec::new();
    let mut fds = Vec::new();
    let mut id = 0;
    loop {
        id = match bpfld_sys::btf_get_next_id(id) {
            Ok(Some(next)) => next,
            Ok(None) => break,
            Err(e) if e.errno() == Some(libc::EPERM) => break,
            Err(e) => return Err(Error::kernel("enumerating kernel BTF objects", e)),
        };
        let fd = match bpfld_sys::btf_get_fd_by_id(id) {
            Ok(fd) => fd,
            // Unloaded since it was listed.
            Err(e) if e.errno() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(Error::kernel(format!("opening BTF object {id}"), e)),
        };
        use std::os::fd::AsFd;
        let info = bpfld_sys::btf_info(fd.as_fd()).map_err(|e| Error::kernel(format!("BTF object {id}"), e))?;
        if !info.kernel_btf || info.name == "vmlinux" {
            continue;
        }
        let raw = bpfld_sys::btf_raw_data(fd.as_fd()).map_err(|e| Error::kernel(format!("BTF of module '{}'", info.name), e))?;
        let btf = Btf::from_vec_split(raw, vmlinux)
            .map_err(|e| Error::Parse { path: format!("/sys/kernel/btf/{}", info.name).into(), source: ParseError::Btf(e) })?;
        modules.push(ModuleBtf { name: info.name, btf });
        fds.push(fd);
    }
    Ok((modules, fds))
}

/// The running kernel's `.config`: the given file, else `/proc/config.gz`,
/// else `/boot/config-<release>`. Each is read as gzip if it starts with
/// the gzip magic, as text otherwise. The running kernel's own config is
/// read once per process; a given file every time.
pub fn kernel_config(files: &KernelFiles, release: &str) -> Result<Kconfig> {
    if let Some(p) = &files.kconfig {
        return read_kconfig(p);
    }
    static CACHE: OnceLock<Kconfig> = OnceLock::new();
    if let Some(k) = CACHE.get() {
        return Ok(k.clone());
    }
    let k = running_kernel_config(release)?;
    Ok(CACHE.get_or_init(|| k).clone())
}

fn running_kernel_config(release: &str) -> Result<Kconfig> {
    let proc = Path::new(PROC_CONFIG_GZ);
    if proc.exists() {
        return read_kconfig(proc);
    }
    let boot = PathBuf::from(format!("/boot/config-{release}"));
    if boot.exists() {
        return read_kconfig(&boot);
    }
    Err(Error::NotFound { context: "kernel config".into(), missing: Missing::KernelConfig { proc: PROC_CONFIG_GZ, boot } })
}

/// Reads and parses a kernel config file, gzip or plain.
pub fn read_kconfig(path: &Path) -> Result<Kconfig> {
    let file_err = |source| Error::File { path: path.into(), source };
    let raw = std::fs::read(path).map_err(file_err)?;
    let text = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut s = String::new();
        flate2::read::GzDecoder::new(raw.as_slice()).read_to_string(&mut s).map_err(file_err)?;
        s
    } else {
        String::from_utf8(raw).map_err(|e| Error::Parse { path: path.into(), source: ParseError::NotUtf8(e) })?
    };
    Kconfig::parse(&text).map_err(|e| Error::Parse { path: path.into(), source: ParseError::Text(e) })
}

/// `LINUX_KERNEL_VERSION` as libbpf's `get_kernel_version` computes it:
/// Ubuntu's `/proc/version_signature` (third field), else the `Debian
/// a.b.c` in the uname version string, else the uname release. The numbers
/// of distributions' releases (`4.19.0-22-amd64`) are not the kernel's.
pub fn linux_kernel_version(release: &str, uts_version: &str, version_signature: Option<&str>) -> Option<u32> {
    if let Some(v) = version_signature.and_then(|s| s.split_whitespace().nth(2)).and_then(three_numbers) {
        return Some(v);
    }
    if let Some(i) = uts_version.find("Debian ") {
        if let Some(v) = three_numbers(&uts_version[i + "Debian ".len()..]) {
            return Some(v);
        }
    }
    three_numbers(release)
}

/// `sscanf(s, "%u.%u.%u")`: three dot-separated leading numbers; anything
/// may follow the third.
fn three_numbers(s: &str) -> Option<u32> {
    let mut rest = s.trim_start();
    let mut v = [0u32; 3];
    for (i, slot) in v.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('.')?;
        }
        let n = rest.bytes().take_while(u8::is_ascii_digit).count();
        *slot = rest[..n].parse().ok()?;
        rest = &rest[n..];
    }
    Some(kernel_version(v[0], v[1], v[2]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_version_like_libbpf() {
        // Plain release.
        assert_eq!(linux_kernel_version("6.18.44-fc-v669", "#1 SMP PREEMPT_DYNAMIC @0", None), Some(kernel_version(6, 18, 44)));
        // Debian: the real version is in the uname version string.
        assert_eq!(
            linux_kernel_version("4.19.0-22-amd64", "#1 SMP Debian 4.19.260-1 (2022-09-29)", None),
            Some(kernel_version(4, 19, 260))
        );
        assert_eq!(kernel_version(4, 19, 260), (4 << 16) + (19 << 8) + 255);
        // Ubuntu: /proc/version_signature wins.
        assert_eq!(
            linux_kernel_version("5.4.0-42-generic", "#46-Ubuntu SMP", Some("Ubuntu 5.4.0-42.46-generic 5.4.44\n")),
            Some(kernel_version(5, 4, 44))
        );
        // Two numbers only: unknown, as sscanf would fail.
        assert_eq!(linux_kernel_version("6.18-rc1", "#1", None), None);
    }

    #[test]
    fn config_reads_gzip_and_text() {
        let dir = std::env::temp_dir();
        let text = dir.join(format!("bpfld-kconfig-{}.txt", std::process::id()));
        std::fs::write(&text, "CONFIG_BPF=y\n# CONFIG_X is not set\n").unwrap();
        assert_eq!(read_kconfig(&text).unwrap().get("CONFIG_BPF"), Some("y"));
        let gz = dir.join(format!("bpfld-kconfig-{}.gz", std::process::id()));
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut enc, b"CONFIG_HZ=250\n").unwrap();
        std::fs::write(&gz, enc.finish().unwrap()).unwrap();
        assert_eq!(read_kconfig(&gz).unwrap().get("CONFIG_HZ"), Some("250"));
        // A corrupt gzip names the file.
        std::fs::write(&gz, [0x1f, 0x8b, 0, 1, 2]).unwrap();
        let e = read_kconfig(&gz).unwrap_err().to_string();
        assert!(e.starts_with(&gz.display().to_string()), "{e}");
        // A missing file names it.
        let e = read_kconfig(Path::new("/nonexistent/config.gz")).unwrap_err().to_string();
        assert!(e.starts_with("/nonexistent/config.gz: "), "{e}");
        std::fs::remove_file(text).unwrap();
        std::fs::remove_file(gz).unwrap();
    }
}
