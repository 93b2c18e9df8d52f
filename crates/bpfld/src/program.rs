//! A program of a loaded object, by name: its fd, test runs, pinning and
//! attaching through BPF links or perf events (the attachment lives as long
//! as the [`Link`]).

use bpfld_asm::types::AttachType;
use bpfld_asm::types::ProgType;
use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use bpfld_asm::types::{AttachType as at, ProgType as pt};
use bpfld_asm::Insn;
use bpfld_sys::{LinkTarget, TestRunOpts, TestRunResult};

use crate::error::{Error, InvalidArgument, NoAutoAttach, NotLoadedReason, ProgramLoadError, Result};
use crate::link::usdt::UsdtManager;
pub use crate::link::Link;
use crate::loader::{LoadedProgram, ProgramState};
use crate::perf_attach::{self, ProbeOpts, SectionAttach, SectionTarget};

/// A program of a loaded object (loaded or not: see [`Program::error`]).
#[derive(Clone, Copy, Debug)]
pub struct Program<'a> {
    p: &'a LoadedProgram,
    /// The object's USDT state, if it includes `usdt.bpf.h`.
    usdt: Option<&'a Arc<UsdtManager>>,
}

impl<'a> Program<'a> {
    pub(crate) fn new(p: &'a LoadedProgram, usdt: Option<&'a Arc<UsdtManager>>) -> Program<'a> {
        Program { p, usdt }
    }

    pub(crate) fn usdt_manager(&self) -> Option<&'a Arc<UsdtManager>> {
        self.usdt
    }

    /// The program's name (its ELF symbol).
    pub fn name(&self) -> &'a str {
        &self.p.plan.name
    }

    /// Its ELF section (`xdp`, `kprobe/do_unlinkat`).
    pub fn section(&self) -> &'a str {
        &self.p.plan.section
    }

    /// `enum bpf_prog_type` value.
    pub fn prog_type(&self) -> ProgType {
        self.p.plan.prog_type
    }

    /// The expected attach type given to the kernel at load
    /// (`AttachType::UNSET`, 0, where the program type takes none).
    pub fn expected_attach_type(&self) -> AttachType {
        self.p.plan.expected_attach_type
    }

    /// The instructions given to the kernel, with map indexes where the
    /// kernel got map fds (see [`bpfld_obj::plan::ProgramPlan::map_refs`]).
    pub fn insns(&self) -> &'a [Insn] {
        &self.p.plan.insns
    }

    /// Everything the plan gave the kernel for it (attach target, func and
    /// line info, relocation reports).
    pub fn plan(&self) -> &'a bpfld_obj::ProgramPlan {
        &self.p.plan
    }

    /// Loaded, disabled (`SEC("?...")`) or failed.
    pub fn state(&self) -> &'a ProgramState {
        &self.p.state
    }

    /// The kernel accepted it (it has an fd).
    pub fn is_loaded(&self) -> bool {
        self.p.fd.is_some()
    }

    /// Why the program did not load, if it failed.
    pub fn error(&self) -> Option<&'a ProgramLoadError> {
        match &self.p.state {
            ProgramState::Failed(e) => Some(e),
            _ => None,
        }
    }

    /// The program's fd; an error naming the program if it is not loaded.
    pub fn fd(&self) -> Result<BorrowedFd<'a>> {
        self.p.fd.as_ref().map(|f| f.as_fd()).ok_or_else(|| {
            let reason = match &self.p.state {
                ProgramState::Disabled if self.prog_type() == pt::STRUCT_OPS => NotLoadedReason::UnusedStructOps,
                ProgramState::Disabled => NotLoadedReason::Disabled,
                ProgramState::Failed(e) => NotLoadedReason::Failed(e.clone()),
                ProgramState::Loaded => NotLoadedReason::NoFd,
            };
            Error::NotLoaded { program: self.name().to_string(), reason }
        })
    }

    pub(crate) fn err(&self, what: &str, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("program '{}': {what}", self.name()), e)
    }

    /// Runs the program in the kernel on the given input
    /// (`BPF_PROG_TEST_RUN`), without attaching it.
    pub fn test_run(&self, opts: &TestRunOpts<'_>) -> Result<TestRunResult> {
        bpfld_sys::prog_test_run(self.fd()?, opts).map_err(|e| self.err("test run", e))
    }

    /// Pins the program at `path` in a bpffs (libbpf's
    /// `bpf_program__pin`): the parent directory is created if missing, a
    /// path outside a bpffs is refused. The pin keeps the program loaded
    /// after every fd closes.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin_fd(self.fd()?, path.as_ref(), &format!("program '{}'", self.name()))
    }

    /// Removes the pin at `path` (which must be on a bpffs).
    pub fn unpin(&self, path: impl AsRef<Path>) -> Result<()> {
        self.fd()?;
        crate::pin::unpin_path(path.as_ref(), &format!("program '{}'", self.name()))
    }

    /// Attaches the program where its section says, as libbpf's
    /// auto-attach does:
    /// - raw tracepoints (`raw_tp/<name>`), and programs whose target was
    ///   fixed at load time by a BTF id (`fentry`, `fexit`, `fmod_ret`,
    ///   `tp_btf`, `lsm`), with a BPF link;
    /// - through a perf event: `kprobe/<func>[+<offset>]`,
    ///   `kretprobe/<func>`, `ksyscall/<syscall>`, `kretsyscall/<syscall>`,
    ///   `uprobe/<binary>:<func>[+<offset>]`, `uretprobe/<binary>:<func>`,
    ///   `tracepoint/<category>/<name>` (or `tp/...`);
    /// - USDT probes: `usdt/<binary>:<provider>:<name>` (every process).
    ///
    /// Other types, and these sections without a target (`SEC("kprobe")`),
    /// need a target only the caller knows ([`Self::attach_kprobe`],
    /// [`Self::attach_tracepoint`], [`Self::attach_xdp`]...).
    pub fn attach(&self) -> Result<Link> {
        let plan = &self.p.plan;
        if let Some(usdt) = self.attach_usdt_by_section() {
            return usdt;
        }
        if matches!((plan.prog_type, plan.expected_attach_type), (pt::KPROBE, at::UNSET) | (pt::TRACEPOINT, _)) {
            if let Some(a) = perf_attach::section_attach(self.section()) {
                return self.attach_section(a);
            }
        }
        match (plan.prog_type, plan.expected_attach_type) {
            (pt::RAW_TRACEPOINT | pt::RAW_TRACEPOINT_WRITABLE, _) => match &plan.attach_target {
                Some(tp) => self.attach_raw_tracepoint(tp),
                None => Err(self.no_auto_attach(NoAutoAttach::NoTracepoint)),
            },
            (pt::TRACING, at::TRACE_FENTRY | at::TRACE_FEXIT | at::MODIFY_RETURN | at::TRACE_RAW_TP) | (pt::LSM, at::LSM_MAC) => {
                let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::None, plan.expected_attach_type, 0, None)
                    .map_err(|e| self.err("attaching", e))?;
                Ok(Link::bpf(fd))
            }
            (t, _) => self.attach_by_section().unwrap_or_else(|| Err(self.no_auto_attach(NoAutoAttach::ProgramType(t)))),
        }
    }

    fn attach_section(&self, a: SectionAttach) -> Result<Link> {
        match a {
            SectionAttach::Target(SectionTarget::Kprobe { func, offset, retprobe }) => {
                self.attach_kprobe_with(&func, &ProbeOpts { retprobe, offset, ..Default::default() })
            }
            SectionAttach::Target(SectionTarget::Ksyscall { name, retprobe }) => self.attach_ksyscall(&name, retprobe),
            SectionAttach::Target(SectionTarget::Uprobe { binary, func, offset, retprobe }) => {
                self.attach_uprobe_with(Path::new(&binary), Some(&func), &ProbeOpts { retprobe, offset, ..Default::default() })
            }
            SectionAttach::Target(SectionTarget::Tracepoint { category, name }) => self.attach_tracepoint(&category, &name),
            SectionAttach::NoTarget { instead } => Err(self.no_auto_attach(NoAutoAttach::NoTarget { instead })),
            SectionAttach::NoTracepointCategory { prefix } => Err(self.no_auto_attach(NoAutoAttach::NoTracepointCategory { prefix })),
            SectionAttach::Malformed(reason) => Err(Error::MalformedSection { program: self.name().to_string(), reason }),
        }
    }

    fn no_auto_attach(&self, reason: NoAutoAttach) -> Error {
        Error::NoAutoAttach { program: self.name().to_string(), section: self.section().to_string(), reason }
    }

    /// Attaches a kprobe program to the entry of kernel function `func`, or
    /// to its return if `retprobe` (a kretprobe), through the kprobe PMU.
    /// Kernels built without `CONFIG_KPROBES` have no such PMU and refuse.
    pub fn attach_kprobe(&self, func: &str, retprobe: bool) -> Result<Link> {
        self.attach_kprobe_with(func, &ProbeOpts { retprobe, ..Default::default() })
    }

    /// [`Self::attach_kprobe`] with an offset into the function and a BPF
    /// cookie (`opts.pid` is ignored: kprobes see every process).
    pub fn attach_kprobe_with(&self, func: &str, opts: &ProbeOpts) -> Result<Link> {
        perf_attach::attach_kprobe(self.fd()?, self.name(), func, opts)
    }

    /// Attaches a kprobe program to system call `name` (`getpgid`): a
    /// kprobe on the kernel's wrapper of it (`__x64_sys_getpgid`), as
    /// libbpf's `bpf_program__attach_ksyscall`.
    pub fn attach_ksyscall(&self, name: &str, retprobe: bool) -> Result<Link> {
        let func = perf_attach::syscall_function(name);
        self.attach_kprobe_with(&func, &ProbeOpts { retprobe, ..Default::default() })
    }

    /// Attaches a kprobe-type program to function `func` of the executable
    /// or shared library `binary` (a bare name is looked up in `PATH` or
    /// the library directories), in every process, through the uprobe PMU.
    pub fn attach_uprobe(&self, binary: impl AsRef<Path>, func: &str, retprobe: bool) -> Result<Link> {
        self.attach_uprobe_with(binary.as_ref(), Some(func), &ProbeOpts { retprobe, ..Default::default() })
    }

    /// [`Self::attach_uprobe`] at `opts.offset` bytes into function `func`,
    /// or at file offset `opts.offset` of `binary` if `func` is `None`; only
    /// in process `opts.pid` if given.
    pub fn attach_uprobe_with(&self, binary: &Path, func: Option<&str>, opts: &ProbeOpts) -> Result<Link> {
        perf_attach::attach_uprobe(self.fd()?, self.name(), binary, func, opts)
    }

    /// Attaches a tracepoint program to tracepoint `category/name`
    /// (`syscalls`, `sys_enter_getpgid`), whose id tracefs gives.
    pub fn attach_tracepoint(&self, category: &str, name: &str) -> Result<Link> {
        perf_attach::attach_tracepoint(self.fd()?, self.name(), category, name, 0)
    }

    /// Attaches a raw tracepoint program to tracepoint `name` (`sys_enter`).
    pub fn attach_raw_tracepoint(&self, name: &str) -> Result<Link> {
        let c = CString::new(name).map_err(|_| Error::InvalidArgument {
            context: None,
            problem: InvalidArgument::NulByte { argument: "tracepoint name", value: name.to_string() },
        })?;
        let fd = bpfld_sys::raw_tracepoint_open(Some(&c), self.fd()?)
            .map_err(|e| self.err(&format!("attaching to raw tracepoint '{name}'"), e))?;
        Ok(Link::bpf(fd))
    }
}

/// A program owned by this value (its own fd), independent of the object
/// it was loaded with: `Send + Sync`, for use in another thread, in a
/// [`ProgArray`](crate::typed_maps::ProgArray), or for test runs.
#[derive(Debug)]
pub struct ProgramHandle {
    fd: OwnedFd,
    name: String,
    prog_type: ProgType,
}

impl ProgramHandle {
    pub(crate) fn new(fd: OwnedFd, name: &str, prog_type: ProgType) -> ProgramHandle {
        ProgramHandle { fd, name: name.to_string(), prog_type }
    }

    /// The program's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `enum bpf_prog_type` value.
    pub fn prog_type(&self) -> ProgType {
        self.prog_type
    }

    /// Runs the program in the kernel on the given input.
    pub fn test_run(&self, opts: &TestRunOpts<'_>) -> Result<TestRunResult> {
        bpfld_sys::prog_test_run(self.fd.as_fd(), opts).map_err(|e| Error::kernel(format!("program '{}': test run", self.name), e))
    }

    /// The kernel's description of the program (its id among others).
    pub fn info(&self) -> Result<bpfld_sys::ProgInfo> {
        bpfld_sys::prog_info(self.fd.as_fd()).map_err(|e| Error::kernel(format!("program '{}': info", self.name), e))
    }
}

impl AsFd for ProgramHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
