//! USDT probes (`SEC("usdt/PATH:PROVIDER:NAME")` or
//! [`Program::attach_usdt`]), as libbpf 1.7's `usdt.c` attaches them: the
//! probe's places are read from the binary's `.note.stapsdt` notes
//! ([`bpfld_obj::usdt`]), each distinct argument string gets a spec id of
//! the object, whose spec (where each argument is) goes into the object's
//! `__bpf_usdt_specs` map (and, on kernels without BPF cookies, each
//! place's address into `__bpf_usdt_ip_to_spec_id`), then the program is
//! attached at every place: through one uprobe_multi link with the spec ids
//! as cookies and the semaphores' offsets, where the program was loaded
//! for uprobe_multi links, else through one uprobe perf event per place.
//! The [`Link`] owns it all: detaching gives the spec ids back.

use std::collections::HashMap;
use std::fmt;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bpfld_asm::types::AttachType as at;
use bpfld_obj::usdt::{LayoutError, SpecId, SpecIdPool, SpecIdsExhausted, SpecLayout, UsdtBinary, UsdtError, UsdtSite};
use bpfld_obj::KernelFeatures;

use crate::error::{Error, NoAutoAttach, Result, SectionError};
use crate::link::uprobe_multi::UprobeMultiOpts;
use crate::link::Link;
use crate::loader::LoadedMap;
use crate::perf_attach::ProbeOpts;
use crate::program::Program;

const SPECS_MAP: &str = "__bpf_usdt_specs";
const IP_MAP: &str = "__bpf_usdt_ip_to_spec_id";
/// The uprobe PMU's semaphore field: kernels with it count USDT
/// semaphores for uprobes (Linux 4.20).
const REF_CTR_FORMAT: &str = "/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset";

/// The running kernel's features without uprobe_multi links: a load
/// planned with them (`LoadOptions.plan.features`) loads USDT programs for
/// single uprobes, and [`Program::attach_usdt`] attaches one uprobe per
/// place, as on kernels before 6.6.
pub fn single_uprobe_features() -> KernelFeatures {
    KernelFeatures { uprobe_multi_link: false, ..*crate::features() }
}

/// Options of [`Program::attach_usdt`].
#[derive(Debug, Clone, Copy, Default)]
pub struct UsdtOpts {
    /// Only in this process; `None`: every process.
    pub pid: Option<u32>,
    /// What the program reads with `bpf_usdt_cookie()`.
    pub cookie: u64,
}

/// Why a USDT could not be attached (besides system call errors).
#[derive(Debug)]
pub enum UsdtAttachError {
    /// The object has no `__bpf_usdt_specs` and
    /// `__bpf_usdt_ip_to_spec_id` maps.
    NoSupportMaps,
    /// The object's `struct __bpf_usdt_spec` cannot be read or encoded.
    Layout(LayoutError),
    /// The specs map's values are not `struct __bpf_usdt_spec`.
    SpecSize {
        /// The map's value size in bytes.
        value_size: u32,
        /// The struct's size in bytes, from the object's BTF.
        struct_size: usize,
    },
    /// The binary's notes or the probe.
    Notes(UsdtError),
    /// Every spec id below the specs map's `max_entries` is in use.
    SpecIds(SpecIdsExhausted),
    /// A shared library on a kernel without BPF cookies needs a pid, to
    /// know where the library is mapped.
    SharedLibraryNeedsPid {
        /// The library.
        path: PathBuf,
    },
    /// The library is not mapped (executable) at the probe in the process.
    NotMapped {
        /// The library or executable.
        path: PathBuf,
        /// The process.
        pid: u32,
        /// The probe's offset in the file.
        file_offset: u64,
    },
    /// The kernel cannot count USDT semaphores.
    NoSemaphoreSupport {
        /// The binary whose probe has a semaphore.
        path: PathBuf,
    },
    /// Another attachment of the object has a probe at this address.
    IpCollision {
        /// The probe's address, as the program sees it (without BPF cookies
        /// the spec is found by this address).
        ip: u64,
        /// The spec id this attachment wanted to map it to.
        spec_id: u32,
    },
}

impl fmt::Display for UsdtAttachError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsdtAttachError::NoSupportMaps => {
                write!(f, "failed to find USDT support BPF maps ({SPECS_MAP}, {IP_MAP}), did you forget to include bpf/usdt.bpf.h?")
            }
            UsdtAttachError::Layout(e) => e.fmt(f),
            UsdtAttachError::SpecSize { value_size, struct_size } => {
                write!(f, "map {SPECS_MAP} has {value_size}-byte values, struct __bpf_usdt_spec is {struct_size} bytes")
            }
            UsdtAttachError::Notes(e) => e.fmt(f),
            UsdtAttachError::SpecIds(e) => e.fmt(f),
            UsdtAttachError::SharedLibraryNeedsPid { path } => {
                write!(f, "{}: attaching to shared libraries without a specific pid needs BPF cookies (Linux 5.15)", path.display())
            }
            UsdtAttachError::NotMapped { path, pid, file_offset } => {
                write!(f, "{}: file offset {file_offset:#x} is in no executable mapping of process {pid}", path.display())
            }
            UsdtAttachError::NoSemaphoreSupport { path } => {
                write!(f, "{}: the probe has a semaphore and the kernel does not count USDT semaphores ({REF_CTR_FORMAT})", path.display())
            }
            UsdtAttachError::IpCollision { ip, spec_id } => write!(f, "IP collision at {ip:#x} for spec #{spec_id}"),
        }
    }
}

impl std::error::Error for UsdtAttachError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            UsdtAttachError::Layout(e) => Some(e),
            UsdtAttachError::Notes(e) => Some(e),
            UsdtAttachError::SpecIds(e) => Some(e),
            _ => None,
        }
    }
}

/// The USDT state of one loaded object: its two support maps, its spec
/// layout and spec ids (libbpf's `usdt_manager`).
#[derive(Debug)]
pub(crate) struct UsdtManager {
    specs: OwnedFd,
    ip_to_spec: OwnedFd,
    specs_value_size: u32,
    layout: std::result::Result<SpecLayout, LayoutError>,
    pool: Mutex<SpecIdPool>,
    bpf_cookie: bool,
    uprobe_syscall: bool,
}

impl UsdtManager {
    /// The manager of an object with `maps` and `btf`, planned for
    /// `features`; `None` if it has no USDT support maps.
    pub(crate) fn new(maps: &[LoadedMap], btf: Option<&bpfld_btf::Btf>, features: &KernelFeatures) -> Result<Option<Arc<UsdtManager>>> {
        let find = |name: &str| maps.iter().find(|m| m.spec.real_name == name);
        let (Some(specs), Some(ips)) = (find(SPECS_MAP), find(IP_MAP)) else { return Ok(None) };
        let layout = btf.ok_or(LayoutError::NoSpecStruct).and_then(SpecLayout::from_btf);
        Ok(Some(Arc::new(UsdtManager {
            specs: crate::link::dup(specs.fd.as_fd(), SPECS_MAP)?,
            ip_to_spec: crate::link::dup(ips.fd.as_fd(), IP_MAP)?,
            specs_value_size: specs.spec.value_size,
            layout,
            pool: Mutex::new(SpecIdPool::new(specs.spec.max_entries)),
            bpf_cookie: features.bpf_cookie,
            uprobe_syscall: features.uprobe_syscall,
        })))
    }

    fn pool(&self) -> MutexGuard<'_, SpecIdPool> {
        self.pool.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many spec ids attachments hold.
    pub(crate) fn spec_ids_in_use(&self) -> usize {
        self.pool().in_use()
    }

    fn layout(&self) -> std::result::Result<&SpecLayout, UsdtAttachError> {
        let layout = self.layout.as_ref().map_err(|e| UsdtAttachError::Layout(e.clone()))?;
        if layout.size != self.specs_value_size as usize {
            return Err(UsdtAttachError::SpecSize { value_size: self.specs_value_size, struct_size: layout.size });
        }
        Ok(layout)
    }
}

/// What a USDT [`Link`] holds: the probes, and the spec ids and
/// ip-to-spec entries it gives back when detached or dropped.
#[derive(Debug)]
pub(crate) struct UsdtAttachment {
    manager: Arc<UsdtManager>,
    links: Vec<Link>,
    spec_ids: Vec<SpecId>,
    ips: Vec<u64>,
    sites: usize,
    multi: bool,
}

impl UsdtAttachment {
    /// Detaches every probe, then gives the ids back. The probes' links
    /// are closed, not detached with `BPF_LINK_DETACH` (uprobe_multi links
    /// refuse it with EOPNOTSUPP): only this attachment holds them.
    pub(crate) fn detach(self) -> Result<()> {
        drop(self);
        Ok(())
    }

    pub(crate) fn info(&self) -> UsdtLinkInfo {
        UsdtLinkInfo { sites: self.sites, spec_ids: self.spec_ids.iter().map(|s| s.0).collect(), uprobe_multi: self.multi }
    }
}

impl Drop for UsdtAttachment {
    fn drop(&mut self) {
        // The probes go first: no probe may fire on a given-back id.
        self.links.clear();
        for ip in &self.ips {
            // Nothing to do about an error in drop; the entry is ours.
            let _ = bpfld_sys::map_delete_elem(self.manager.ip_to_spec.as_fd(), &ip.to_ne_bytes());
        }
        self.manager.pool().give_back(&self.spec_ids);
    }
}

/// What a USDT attachment is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtLinkInfo {
    /// Places of the probe attached to.
    pub sites: usize,
    /// The spec ids it holds (one per distinct argument string).
    pub spec_ids: Vec<u32>,
    /// Attached through one uprobe_multi link (else one uprobe per place).
    pub uprobe_multi: bool,
}

/// `SEC("usdt/PATH:PROVIDER:NAME")` as libbpf reads it (`%m[^:]` three
/// times: nothing after the name's next `:` counts); `None` for another
/// section, an error message for a malformed one.
pub fn section_target(section: &str) -> Option<std::result::Result<(String, String, String), SectionError>> {
    let spec = section.strip_prefix("usdt/")?;
    let mut parts = spec.split(':');
    let mut next = || parts.next().filter(|p| !p.is_empty()).map(str::to_string);
    Some(match (next(), next(), next()) {
        (Some(path), Some(provider), Some(name)) => Ok((path, provider, name)),
        _ => Err(SectionError::Usdt { section: section.to_string() }),
    })
}

impl Program<'_> {
    /// The auto-attach of `usdt` sections; `None` for other programs.
    pub(crate) fn attach_usdt_by_section(&self) -> Option<Result<Link>> {
        let section = self.section();
        if !bpfld_obj::section::classify(section).is_some_and(|d| d.is_usdt()) {
            return None;
        }
        let malformed = |reason: SectionError| Some(Err(Error::MalformedSection { program: self.name().to_string(), reason }));
        match section_target(section) {
            Some(Ok((binary, provider, name))) => Some(self.attach_usdt(&binary, &provider, &name, &UsdtOpts::default())),
            Some(Err(m)) => malformed(m),
            None if section == "usdt" => Some(Err(Error::NoAutoAttach {
                program: self.name().to_string(),
                section: section.to_string(),
                reason: NoAutoAttach::NoTarget { instead: "attach_usdt(binary, provider, name, opts)" },
            })),
            // libbpf reads only "usdt/...": "usdt.s/..." is refused too.
            None => malformed(SectionError::Usdt { section: section.to_string() }),
        }
    }

    /// Attaches to USDT probe `provider:name` of `binary` (an executable
    /// or shared library; a bare name is looked up as for uprobes), in
    /// every process or only `opts.pid`. The object must include libbpf's
    /// `usdt.bpf.h`; the program reads the probe's arguments with
    /// `bpf_usdt_arg()`. Only x86-64 argument specs are read.
    pub fn attach_usdt(&self, binary: impl AsRef<Path>, provider: &str, name: &str, opts: &UsdtOpts) -> Result<Link> {
        let usdt_err = |e: UsdtAttachError| Error::Usdt { program: self.name().to_string(), source: Box::new(e) };
        let manager = self.usdt_manager().ok_or_else(|| usdt_err(UsdtAttachError::NoSupportMaps))?;
        let layout = manager.layout().map_err(usdt_err)?;
        let binary = binary.as_ref();
        let binary = if binary.as_os_str().as_encoded_bytes().contains(&b'/') {
            binary.to_path_buf()
        } else {
            crate::elf_symbols::resolve_binary(binary).map_err(|e| Error::Symbol {
                context: format!("program '{}': failed to resolve full path for '{}'", self.name(), binary.display()),
                source: Box::new(e),
            })?
        };
        let data = std::fs::read(&binary).map_err(|e| Error::File { path: binary.clone(), source: e })?;
        let elf = UsdtBinary::parse(&binary, &data).map_err(|e| usdt_err(UsdtAttachError::Notes(e)))?;
        let sites = elf.sites(provider, name, manager.uprobe_syscall).map_err(|e| usdt_err(UsdtAttachError::Notes(e)))?;
        if sites.iter().any(|s| s.sema_offset != 0) && !Path::new(REF_CTR_FORMAT).exists() {
            return Err(usdt_err(UsdtAttachError::NoSemaphoreSupport { path: binary }));
        }
        let ips = self.absolute_ips(manager, &elf, &binary, &sites, opts.pid).map_err(|e| e.into_error(self))?;
        let mut att = UsdtAttachment {
            manager: Arc::clone(manager),
            links: Vec::new(),
            spec_ids: Vec::new(),
            ips: Vec::new(),
            sites: sites.len(),
            multi: self.expected_attach_type() == at::TRACE_UPROBE_MULTI,
        };
        let ids = self.fill_specs(&mut att, layout, &sites, &ips, opts.cookie).map_err(|e| e.into_error(self))?;
        if att.multi {
            let multi = UprobeMultiOpts {
                pid: opts.pid,
                retprobe: false,
                cookies: ids.iter().map(|i| u64::from(i.0)).collect(),
                ref_ctr_offsets: sites.iter().map(|s| s.sema_offset).collect(),
            };
            let offsets: Vec<u64> = sites.iter().map(|s| s.file_offset).collect();
            att.links.push(self.attach_uprobe_multi_offsets(&binary, &offsets, &multi)?);
        } else {
            for (site, id) in sites.iter().zip(&ids) {
                let probe = ProbeOpts {
                    offset: site.file_offset,
                    ref_ctr_offset: site.sema_offset,
                    cookie: if manager.bpf_cookie { u64::from(id.0) } else { 0 },
                    pid: opts.pid.map(|p| p as i32),
                    ..Default::default()
                };
                att.links.push(self.attach_uprobe_with(&binary, None, &probe)?);
            }
        }
        Ok(Link::usdt(crate::link::dup(self.fd()?, "the program")?, att))
    }

    /// Each site's absolute address, which the ip-to-spec map is keyed
    /// by (only needed without BPF cookies): the virtual address in an
    /// executable, the address mapped in process `pid` in a shared library.
    fn absolute_ips(
        &self,
        manager: &UsdtManager,
        elf: &UsdtBinary<'_>,
        binary: &Path,
        sites: &[UsdtSite],
        pid: Option<u32>,
    ) -> std::result::Result<Vec<u64>, AttachStep> {
        if !elf.shared || manager.bpf_cookie {
            return Ok(sites.iter().map(|s| s.vaddr).collect());
        }
        let pid = pid.ok_or_else(|| UsdtAttachError::SharedLibraryNeedsPid { path: binary.to_path_buf() })?;
        let maps_path = PathBuf::from(format!("/proc/{pid}/maps"));
        let maps = std::fs::read_to_string(&maps_path).map_err(|e| AttachStep::Io(Error::File { path: maps_path, source: e }))?;
        let real = std::fs::canonicalize(binary).unwrap_or_else(|_| binary.to_path_buf());
        let lib = real.to_string_lossy();
        sites
            .iter()
            .map(|s| {
                bpfld_obj::usdt::notes::mapped_address(&maps, &lib, s.file_offset).ok_or_else(|| {
                    AttachStep::from(UsdtAttachError::NotMapped { path: binary.to_path_buf(), pid, file_offset: s.file_offset })
                })
            })
            .collect()
    }

    /// Takes a spec id per distinct argument string and writes its spec
    /// (and, without BPF cookies, each site's address); returns each
    /// site's spec id.
    fn fill_specs(
        &self,
        att: &mut UsdtAttachment,
        layout: &SpecLayout,
        sites: &[UsdtSite],
        ips: &[u64],
        cookie: u64,
    ) -> std::result::Result<Vec<SpecId>, AttachStep> {
        let manager = Arc::clone(&att.manager);
        let mut by_args: HashMap<&str, SpecId> = HashMap::new();
        let mut ids = Vec::with_capacity(sites.len());
        for (site, &ip) in sites.iter().zip(ips) {
            let id = match by_args.get(site.args_text.as_str()) {
                Some(&id) => id,
                None => {
                    let value = layout.encode(&site.args, cookie).map_err(UsdtAttachError::Layout)?;
                    let id = manager.pool().take().map_err(UsdtAttachError::SpecIds)?;
                    att.spec_ids.push(id);
                    bpfld_sys::map_update_elem(manager.specs.as_fd(), &id.0.to_ne_bytes(), &value, 0)
                        .map_err(|e| AttachStep::kernel(format!("setting USDT spec #{}", id.0), e))?;
                    by_args.insert(&site.args_text, id);
                    id
                }
            };
            if !manager.bpf_cookie {
                bpfld_sys::map_update_elem(
                    manager.ip_to_spec.as_fd(),
                    &ip.to_ne_bytes(),
                    &id.0.to_ne_bytes(),
                    crate::typed_maps::BPF_NOEXIST,
                )
                .map_err(|e| match e.errno() {
                    Some(libc::EEXIST) => AttachStep::from(UsdtAttachError::IpCollision { ip, spec_id: id.0 }),
                    _ => AttachStep::kernel(format!("mapping IP {ip:#x} to spec #{}", id.0), e),
                })?;
                att.ips.push(ip);
            }
            ids.push(id);
        }
        Ok(ids)
    }
}

/// A failed step of an attachment, before the program's name is added.
enum AttachStep {
    Usdt(UsdtAttachError),
    Kernel(String, bpfld_sys::SysError),
    Io(Error),
}

impl AttachStep {
    fn kernel(what: String, e: bpfld_sys::SysError) -> AttachStep {
        AttachStep::Kernel(what, e)
    }

    fn into_error(self, p: &Program<'_>) -> Error {
        match self {
            AttachStep::Usdt(e) => Error::Usdt { program: p.name().to_string(), source: Box::new(e) },
            AttachStep::Kernel(what, e) => p.err(&what, e),
            AttachStep::Io(e) => e,
        }
    }
}

impl From<UsdtAttachError> for AttachStep {
    fn from(e: UsdtAttachError) -> AttachStep {
        AttachStep::Usdt(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usdt_sections_parse_as_libbpf() {
        let t = |p: &str, v: &str, n: &str| Some(Ok((p.to_string(), v.to_string(), n.to_string())));
        assert_eq!(section_target("usdt//usr/bin/x:prov:probe"), t("/usr/bin/x", "prov", "probe"));
        assert_eq!(section_target("usdt/libc.so.6:libc:setjmp"), t("libc.so.6", "libc", "setjmp"));
        // sscanf's third %m[^:] stops at the next ':'.
        assert_eq!(section_target("usdt/x:p:n:extra"), t("x", "p", "n"));
        assert!(section_target("usdt/x:p").unwrap().unwrap_err().to_string().contains("expected SEC(\"usdt/<path>:<provider>:<name>\")"));
        assert!(section_target("usdt/x::n").unwrap().is_err());
        assert_eq!(section_target("usdt"), None);
        assert_eq!(section_target("uprobe/x:f"), None);
    }
}
