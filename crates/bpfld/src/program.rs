//! A program of a loaded object, by name: its fd, test runs and attaching
//! through BPF links (the attachment lives as long as the [`Link`]).

use std::ffi::CString;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use bpfld_asm::types::{attach_type as at, prog_type as pt};
use bpfld_asm::Insn;
use bpfld_sys::{LinkTarget, TestRunOpts, TestRunResult};

use crate::error::{Error, ProgramLoadError, Result};
use crate::loader::{LoadedProgram, ProgramState};

/// A program of a loaded object (loaded or not: see [`Program::error`]).
#[derive(Clone, Copy, Debug)]
pub struct Program<'a> {
    p: &'a LoadedProgram,
}

impl<'a> Program<'a> {
    pub(crate) fn new(p: &'a LoadedProgram) -> Program<'a> {
        Program { p }
    }

    pub fn name(&self) -> &'a str {
        &self.p.plan.name
    }

    pub fn section(&self) -> &'a str {
        &self.p.plan.section
    }

    /// `enum bpf_prog_type` value.
    pub fn prog_type(&self) -> u32 {
        self.p.plan.prog_type
    }

    pub fn expected_attach_type(&self) -> u32 {
        self.p.plan.expected_attach_type
    }

    /// The instructions given to the kernel, with map indexes where the
    /// kernel got map fds (see [`bpfld_obj::plan::ProgramPlan::map_refs`]).
    pub fn insns(&self) -> &'a [Insn] {
        &self.p.plan.insns
    }

    pub fn plan(&self) -> &'a bpfld_obj::ProgramPlan {
        &self.p.plan
    }

    pub fn state(&self) -> &'a ProgramState {
        &self.p.state
    }

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
            let why = match &self.p.state {
                ProgramState::Disabled => "its section starts with '?' (load it with load_disabled)".to_string(),
                ProgramState::Failed(e) => e.short_reason(),
                ProgramState::Loaded => "no fd".to_string(),
            };
            Error::Usage(format!("program '{}' is not loaded: {why}", self.name()))
        })
    }

    fn err(&self, what: &str, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("program '{}': {what}", self.name()), e)
    }

    /// Runs the program in the kernel on the given input
    /// (`BPF_PROG_TEST_RUN`), without attaching it.
    pub fn test_run(&self, opts: &TestRunOpts<'_>) -> Result<TestRunResult> {
        bpfld_sys::prog_test_run(self.fd()?, opts).map_err(|e| self.err("test run", e))
    }

    /// Attaches the program where its section says: raw tracepoints
    /// (`raw_tp/<name>`), and programs whose target was fixed at load time
    /// by a BTF id (`fentry`, `fexit`, `fmod_ret`, `tp_btf`, `lsm`).
    /// Other types need a target only the caller knows ([`Self::attach_xdp`],
    /// [`Self::attach_raw_tracepoint`]).
    pub fn attach(&self) -> Result<Link> {
        let plan = &self.p.plan;
        match (plan.prog_type, plan.expected_attach_type) {
            (pt::RAW_TRACEPOINT | pt::RAW_TRACEPOINT_WRITABLE, _) => match &plan.attach_target {
                Some(tp) => self.attach_raw_tracepoint(tp),
                None => Err(Error::Usage(format!(
                    "program '{}': section '{}' names no tracepoint: use attach_raw_tracepoint(name)",
                    self.name(),
                    self.section()
                ))),
            },
            (pt::TRACING, at::TRACE_FENTRY | at::TRACE_FEXIT | at::MODIFY_RETURN | at::TRACE_RAW_TP) | (pt::LSM, at::LSM_MAC) => {
                let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::None, plan.expected_attach_type, 0, None)
                    .map_err(|e| self.err("attaching", e))?;
                Ok(Link { fd })
            }
            (t, _) => Err(Error::Usage(format!(
                "program '{}': no automatic attach for {} programs (section '{}')",
                self.name(),
                bpfld_asm::types::prog_type_name(t).unwrap_or("unknown"),
                self.section()
            ))),
        }
    }

    /// Attaches a raw tracepoint program to tracepoint `name` (`sys_enter`).
    pub fn attach_raw_tracepoint(&self, name: &str) -> Result<Link> {
        let c = CString::new(name).map_err(|_| Error::Usage(format!("tracepoint name {name:?} contains a NUL byte")))?;
        let fd = bpfld_sys::raw_tracepoint_open(Some(&c), self.fd()?).map_err(|e| self.err(&format!("attaching to raw tracepoint '{name}'"), e))?;
        Ok(Link { fd })
    }

    /// Attaches an XDP program to the interface `ifindex` through a BPF
    /// link; `flags` are `XDP_FLAGS_*` (0: the kernel picks the mode).
    pub fn attach_xdp(&self, ifindex: u32, flags: u32) -> Result<Link> {
        let fd = bpfld_sys::link_create(self.fd()?, LinkTarget::Ifindex(ifindex), at::XDP, flags, None)
            .map_err(|e| self.err(&format!("attaching to ifindex {ifindex}"), e))?;
        Ok(Link { fd })
    }
}

/// An attachment: the program stays attached while this (or a pin of it)
/// lives; dropping it detaches.
#[derive(Debug)]
pub struct Link {
    fd: OwnedFd,
}

impl Link {
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// Detaches now, even if the link fd is shared or pinned elsewhere.
    pub fn detach(self) -> Result<()> {
        bpfld_sys::link_detach(self.fd.as_fd()).map_err(|e| Error::kernel("detaching link", e))
    }
}
