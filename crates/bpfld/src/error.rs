//! Errors of the loader. Each reads "context: cause" and names the file,
//! map or program involved; a rejected program carries the full verifier
//! log and the lines of it that say why.

use std::fmt;
use std::io;
use std::path::PathBuf;

use bpfld_sys::SysError;

pub use bpfld_obj::ErrorKind;

mod detail;

pub use detail::{
    GlobalProblem, InvalidArgument, LoadProblem, MapProblem, Missing, NoAutoAttach, NotLoadedReason, PinPathError, SectionError,
};

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong while building the target, opening, planning or loading.
#[derive(Debug)]
pub enum Error {
    /// A file could not be read or mapped (the object, `/proc/config.gz`,
    /// `/proc/kallsyms`, `/sys/kernel/btf/vmlinux`...).
    File {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A file was read but its content is not what it should be.
    Parse {
        /// The file (for a module's BTF, `/sys/kernel/btf/<module>`).
        path: PathBuf,
        /// What is wrong with its content.
        source: ParseError,
    },
    /// The object is malformed, or its load cannot be planned (bad ELF,
    /// unresolved extern...): the message names section, symbol, offset.
    Object(bpfld_obj::Error),
    /// The load cannot be planned for this kernel (a strong extern did not
    /// resolve, a required flavor group is unmet, a CO-RE relocation is
    /// ambiguous); the extern report says what resolved and what did not.
    Plan(Box<bpfld_obj::plan::PlanError>),
    /// A system call on the kernel's BTF, a map, or a program failed.
    Kernel {
        /// What was being done, and on which object, map or program.
        context: String,
        /// The failed system call and its errno.
        source: SysError,
    },
    /// The kernel refused the object's BTF.
    BtfLoad {
        /// The object, by the name its plan gives it ([`LoadPlan::object`](bpfld_obj::plan::LoadPlan::object)).
        object: String,
        /// The errno of `BPF_BTF_LOAD` and the kernel's BTF log.
        source: bpfld_sys::LoadError,
    },
    /// A program could not be loaded.
    Program(Box<ProgramLoadError>),
    /// A file operation on a pin failed (its directory could not be
    /// created, the pin could not be removed).
    Pin {
        /// The pin or directory, and what was being done.
        context: String,
        /// The system's error.
        source: io::Error,
    },
    /// A map pinned where a `LIBBPF_PIN_BY_NAME` map of the object would be
    /// pinned differs from it: the load refuses to reuse it (libbpf:
    /// "parameter mismatch", `EINVAL`). `attribute` is the first that
    /// differs (`type`, `key_size`, `value_size`, `max_entries`,
    /// `map_flags`, `map_extra`).
    PinnedMapMismatch {
        /// The object, by the name its plan gives it ([`LoadPlan::object`](bpfld_obj::plan::LoadPlan::object)).
        object: String,
        /// The map's name in the object.
        map: String,
        /// Where the other map is pinned.
        path: PathBuf,
        /// The first attribute that differs.
        attribute: &'static str,
        /// Its value in the pinned map.
        pinned: u64,
        /// Its value in the object's map (`max_entries` as it would be
        /// created).
        object_value: u64,
    },
    /// The kernel lacks a map, program or attach type, a helper or kfunc
    /// calls the object needs (`map 'events': BPF_MAP_TYPE_RINGBUF needs
    /// Linux 5.8; this kernel is 5.4`).
    MissingFeature {
        /// The object, by the name its plan gives it ([`LoadPlan::object`](bpfld_obj::plan::LoadPlan::object)).
        object: String,
        /// What the kernel lacks, for which map or program, and the release
        /// that brought it where known.
        missing: bpfld_obj::MissingFeature,
    },
    /// Asked for something that is not there: a program, map or global
    /// variable of the object, a function, a pinned map.
    NotFound {
        /// The object, program or map asked, or what was being done.
        context: String,
        /// What is not there.
        missing: Missing,
    },
    /// A map used in a way its type or sizes do not allow.
    Map {
        /// The map's name.
        map: String,
        /// What is wrong.
        problem: MapProblem,
    },
    /// A global variable read or written in a way it does not allow.
    Global {
        /// The object, when the message names it.
        object: Option<String>,
        /// The variable (`name` or `section:name`).
        name: String,
        /// What is wrong.
        problem: GlobalProblem,
    },
    /// A program that is not loaded was used (attached, pinned, run...).
    NotLoaded {
        /// The program.
        program: String,
        /// Why it is not loaded; a failed load is the `source()`.
        reason: NotLoadedReason,
    },
    /// [`Program::attach`](crate::Program::attach) of a program whose
    /// section gives no target: attach it with the explicit call.
    NoAutoAttach {
        /// The program.
        program: String,
        /// Its section.
        section: String,
        /// Why, and the call to use.
        reason: NoAutoAttach,
    },
    /// A program's section names its target in a form libbpf refuses
    /// (the section parser's words).
    MalformedSection {
        /// The program.
        program: String,
        /// What is wrong with the section.
        reason: SectionError,
    },
    /// An argument that cannot be right.
    InvalidArgument {
        /// The program, probe or link concerned, when the message names it.
        context: Option<String>,
        /// Which argument, and what is wrong with it.
        problem: InvalidArgument,
    },
    /// The load of a map or of a program slot cannot go on.
    Load {
        /// The object and map (or slot).
        context: String,
        /// What is wrong.
        problem: LoadProblem,
    },
    /// A struct_ops member could not be set.
    StructOps {
        /// The object.
        object: String,
        /// The struct_ops map.
        map: String,
        /// Why.
        source: Box<bpfld_obj::struct_ops::StructOpsError>,
    },
    /// BTF read from the kernel (a map's, a target program's) does not parse.
    KernelBtf {
        /// Whose BTF, and what was being done.
        context: String,
        /// The parser's error.
        source: bpfld_btf::Error,
    },
    /// A map's pin path cannot be built under the pin root.
    PinPath {
        /// The object.
        object: String,
        /// Why.
        source: PinPathError,
    },
    /// A pin path whose directory is not on a bpffs.
    NotOnBpffs {
        /// What was being pinned.
        context: String,
        /// The path.
        path: PathBuf,
    },
    /// What is pinned at `path` is not a BPF link.
    NotPinnedLink {
        /// The pin.
        path: PathBuf,
        /// The error of asking it for its link info.
        source: Box<Error>,
    },
    /// What is pinned at `path` is not a map.
    NotPinnedMap {
        /// The pin.
        path: PathBuf,
        /// What it is (`anon_inode:bpf-prog`...).
        found: PathBuf,
    },
    /// A binary or one of its functions could not be found (uprobes, USDT).
    Symbol {
        /// The program and probe.
        context: String,
        /// Why.
        source: Box<crate::elf_symbols::SymbolError>,
    },
    /// Another system call of an attachment failed (duplicating an fd,
    /// opening a cgroup or namespace, reading an iterator).
    Io {
        /// What was being done, and on which program, file or device.
        context: String,
        /// The system's error.
        source: io::Error,
    },
    /// A USDT probe could not be attached: its notes, its argument specs,
    /// the object's USDT support (see [`crate::link::usdt`]).
    Usdt {
        /// The program being attached.
        program: String,
        /// Why.
        source: Box<crate::link::usdt::UsdtAttachError>,
    },
}

impl Error {
    pub(crate) fn kernel(context: impl Into<String>, source: SysError) -> Error {
        Error::Kernel { context: context.into(), source }
    }

    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }

    /// The kernel's errno, for errors that come from a system call.
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::Kernel { source, .. } => source.errno(),
            Error::BtfLoad { source, .. } => source.errno(),
            Error::Program(p) => p.errno,
            Error::File { source, .. } => source.raw_os_error(),
            Error::Pin { source, .. } => source.raw_os_error(),
            Error::Io { source, .. } => source.raw_os_error(),
            Error::PinnedMapMismatch { .. } => Some(libc::EINVAL),
            _ => None,
        }
    }
}

impl Error {
    /// What kind of problem this is, to match on instead of the message:
    /// `NotFound` (a kfunc, attach target, file or map that is not there),
    /// `Unsupported` (the kernel lacks a feature), `InvalidInput` (a
    /// malformed object or file, a program the verifier refused),
    /// `Incompatible` (object and kernel disagree: CO-RE, a pinned map),
    /// `PermissionDenied` (`EPERM`), `Io` (another system call or file
    /// error).
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::File { source, .. } | Error::Pin { source, .. } | Error::Io { source, .. } => io_kind(source),
            Error::Parse { .. } => ErrorKind::InvalidInput,
            Error::NotFound { .. } | Error::Map { problem: MapProblem::NoElement0, .. } => ErrorKind::NotFound,
            Error::InvalidArgument { problem: InvalidArgument::CookieUnsupported, .. }
            | Error::Load { problem: LoadProblem::NoKernelBtfForStructOps, .. } => ErrorKind::Unsupported,
            Error::Symbol { source, .. } => symbol_kind(source),
            Error::Map { .. }
            | Error::Global { .. }
            | Error::NotLoaded { .. }
            | Error::NoAutoAttach { .. }
            | Error::MalformedSection { .. }
            | Error::InvalidArgument { .. }
            | Error::Load { .. }
            | Error::StructOps { .. }
            | Error::KernelBtf { .. }
            | Error::PinPath { .. }
            | Error::NotOnBpffs { .. }
            | Error::NotPinnedLink { .. }
            | Error::NotPinnedMap { .. } => ErrorKind::InvalidInput,
            Error::Object(e) => e.kind(),
            Error::Plan(e) => e.error.kind(),
            Error::Kernel { source, .. } => errno_kind(source.errno(), ErrorKind::Io),
            Error::BtfLoad { source, .. } => errno_kind(source.errno(), ErrorKind::Unsupported),
            Error::Program(p) => program_kind(p),
            Error::PinnedMapMismatch { .. } => ErrorKind::Incompatible,
            Error::MissingFeature { .. } => ErrorKind::Unsupported,
            Error::Usdt { source, .. } => usdt_kind(source),
        }
    }
}

/// A probe or mapping that is not there is `NotFound`, what the kernel
/// or the binary's kind cannot do `Unsupported`, a malformed note or
/// object `InvalidInput`.
fn usdt_kind(e: &crate::link::usdt::UsdtAttachError) -> ErrorKind {
    use crate::link::usdt::UsdtAttachError as A;
    use bpfld_obj::usdt::UsdtErrorKind as N;
    match e {
        A::Notes(n) => match n.kind {
            N::ProbeNotFound { .. } | N::NoNoteSection => ErrorKind::NotFound,
            N::Unsupported(_) => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        },
        A::NotMapped { .. } => ErrorKind::NotFound,
        A::NoSemaphoreSupport { .. } | A::SpecIds(_) => ErrorKind::Unsupported,
        A::IpCollision { .. } => ErrorKind::Incompatible,
        _ => ErrorKind::InvalidInput,
    }
}

/// A binary or symbol that is not there is `NotFound`; a file that does
/// not open, its I/O kind; a malformed one `InvalidInput`.
fn symbol_kind(e: &crate::elf_symbols::SymbolError) -> ErrorKind {
    use crate::elf_symbols::SymbolError as S;
    match e {
        S::Open { source, .. } => io_kind(source),
        S::NoSymbol { .. } | S::NotInSearchPath { .. } => ErrorKind::NotFound,
        _ => ErrorKind::InvalidInput,
    }
}

/// The kind of a system call's errno; `other` for the rest.
fn errno_kind(errno: Option<i32>, other: ErrorKind) -> ErrorKind {
    match errno {
        Some(libc::EPERM) | Some(libc::EACCES) => ErrorKind::PermissionDenied,
        Some(libc::ENOENT) | Some(libc::ESRCH) => ErrorKind::NotFound,
        Some(libc::EOPNOTSUPP) | Some(ENOTSUPP) => ErrorKind::Unsupported,
        _ => other,
    }
}

/// The kernel's internal "operation not supported" errno, which BPF
/// system calls return to user space.
const ENOTSUPP: i32 = 524;

fn io_kind(e: &io::Error) -> ErrorKind {
    match e.kind() {
        io::ErrorKind::NotFound => ErrorKind::NotFound,
        io::ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
        io::ErrorKind::Unsupported => ErrorKind::Unsupported,
        _ => ErrorKind::Io,
    }
}

/// A program the verifier refused (with a log: `EACCES` there means an
/// unsafe access, not a missing privilege) is invalid input; one refused
/// before the kernel was asked too.
fn program_kind(p: &ProgramLoadError) -> ErrorKind {
    match p.errno {
        None => ErrorKind::InvalidInput,
        Some(libc::EACCES) | Some(libc::EINVAL) if !p.log.is_empty() => ErrorKind::InvalidInput,
        errno => errno_kind(errno, ErrorKind::Io),
    }
}

/// What is wrong with a kernel file's content.
#[derive(Debug)]
pub enum ParseError {
    /// A BTF file (`/sys/kernel/btf/vmlinux`, a module's) does not parse.
    Btf(bpfld_btf::Error),
    /// A line of `/proc/kallsyms` or of the kernel's `.config`.
    Text(bpfld_obj::error::LineError),
    /// A text file that is not UTF-8.
    NotUtf8(std::string::FromUtf8Error),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseError::Btf(e) => e.fmt(f),
            ParseError::Text(e) => e.fmt(f),
            ParseError::NotUtf8(e) => write!(f, "not UTF-8 text: {e}"),
        }
    }
}

impl std::error::Error for ParseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ParseError::Btf(e) => Some(e),
            ParseError::Text(e) => Some(e),
            ParseError::NotUtf8(e) => Some(e),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::File { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Parse { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Object(e) => e.fmt(f),
            Error::Plan(e) => e.error.fmt(f),
            Error::Kernel { context, source } => write!(f, "{context}: {source}"),
            Error::BtfLoad { object, source } => write!(f, "{object}: loading the object's BTF: {source}"),
            Error::Program(p) => p.fmt(f),
            Error::Pin { context, source } => write!(f, "{context}: {source}"),
            Error::PinnedMapMismatch { object, map, path, attribute, pinned, object_value } => write!(
                f,
                "{object}: map '{map}': couldn't reuse pinned map at '{}': parameter mismatch: {attribute} is {pinned} in the pinned map, {object_value} in the object",
                path.display()
            ),
            Error::MissingFeature { object, missing } => write!(f, "{object}: {missing}"),
            Error::NotFound { context, missing } => write!(f, "{context}: {missing}"),
            Error::Map { map, problem } => problem.write(f, map),
            Error::Global { object, name, problem } => {
                if let Some(o) = object {
                    write!(f, "{o}: ")?;
                }
                write!(f, "global variable '{name}' {problem}")
            }
            Error::NotLoaded { program, reason } => write!(f, "program '{program}' is not loaded: {reason}"),
            Error::NoAutoAttach { program, section, reason } => detail::write_no_auto_attach(f, program, section, reason),
            Error::MalformedSection { program, reason } => write!(f, "program '{program}': {reason}"),
            Error::InvalidArgument { context: Some(c), problem } => write!(f, "{c}: {problem}"),
            Error::InvalidArgument { context: None, problem } => problem.fmt(f),
            Error::Load { context, problem } => write!(f, "{context}: {problem}"),
            Error::StructOps { object, map, source } => write!(f, "{object}: map '{map}': {source}"),
            Error::KernelBtf { context, source } => write!(f, "{context}: {source}"),
            Error::PinPath { object, source } => write!(f, "{object}: {source}"),
            Error::NotOnBpffs { context, path } => write!(f, "{context}: specified path {} is not on BPF FS", path.display()),
            Error::NotPinnedLink { path, .. } => write!(f, "{} is not a pinned BPF link", path.display()),
            Error::NotPinnedMap { path, found } => write!(f, "'{}' is not a pinned map ({})", path.display(), found.display()),
            Error::Symbol { context, source } => write!(f, "{context}: {source}"),
            Error::Io { context, source } => write!(f, "{context}: {source}"),
            Error::Usdt { program, source } => write!(f, "program '{program}': usdt: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::File { source, .. } => Some(source),
            Error::Parse { source, .. } => Some(source),
            Error::Object(e) => Some(e),
            Error::Plan(e) => Some(&e.error),
            Error::Kernel { source, .. } => Some(source),
            Error::BtfLoad { source, .. } => Some(source),
            Error::Pin { source, .. } => Some(source),
            Error::MissingFeature { missing, .. } => Some(missing),
            Error::Io { source, .. } => Some(source),
            Error::Usdt { source, .. } => Some(source.as_ref()),
            Error::NotLoaded { reason: NotLoadedReason::Failed(e), .. } => Some(e.as_ref()),
            Error::StructOps { source, .. } => Some(source.as_ref()),
            Error::MalformedSection { reason, .. } => Some(reason),
            Error::KernelBtf { source, .. } => Some(source),
            Error::PinPath { source, .. } => Some(source),
            Error::NotPinnedLink { source, .. } => Some(source.as_ref()),
            Error::Symbol { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<bpfld_obj::Error> for Error {
    fn from(e: bpfld_obj::Error) -> Error {
        Error::Object(e)
    }
}

impl From<bpfld_obj::plan::PlanError> for Error {
    fn from(e: bpfld_obj::plan::PlanError) -> Error {
        Error::Plan(Box::new(e))
    }
}

impl Error {
    /// The extern report of a load that could not be planned (empty for
    /// other errors): what each extern resolved to, or why not.
    pub fn externs(&self) -> &[bpfld_obj::plan::ExternReport] {
        match self {
            Error::Plan(e) => &e.externs,
            _ => &[],
        }
    }
}

impl From<ProgramLoadError> for Error {
    fn from(e: ProgramLoadError) -> Error {
        Error::Program(Box::new(e))
    }
}

/// Why one program did not load: refused before the kernel was asked
/// (unknown section, attach target missing), or by the kernel, with its
/// verifier log (fixed up to explain poisoned instructions).
#[derive(Debug, Clone)]
pub struct ProgramLoadError {
    /// The object, by the name its plan gives it ([`LoadPlan::object`](bpfld_obj::plan::LoadPlan::object)).
    pub object: String,
    /// The program's name (its ELF symbol).
    pub program: String,
    /// Its ELF section (`xdp`, `kprobe/do_unlinkat`).
    pub section: String,
    /// The errno of `BPF_PROG_LOAD`; `None` if the kernel was not asked.
    pub errno: Option<i32>,
    /// The system call error (`bpf(BPF_PROG_LOAD) of 'x': Permission
    /// denied (os error 13)`) or why the program was not submitted.
    pub message: String,
    /// The complete verifier log, never cut.
    pub log: String,
    /// Whether the kernel cut the log even at its largest size.
    pub log_truncated: bool,
}

impl ProgramLoadError {
    /// The lines of the verifier log that say why it refused the program
    /// (see [`verifier_summary`]); empty if there is no log.
    pub fn verifier_summary(&self) -> Vec<&str> {
        verifier_summary(&self.log)
    }

    /// One line for tables: the verifier's reason if there is a log, else
    /// the error message.
    pub fn short_reason(&self) -> String {
        match self.verifier_summary().last() {
            Some(l) => l.to_string(),
            None => self.message.clone(),
        }
    }
}

impl fmt::Display for ProgramLoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: program '{}' (section '{}'): {}", self.object, self.program, self.section, self.message)?;
        let summary = self.verifier_summary();
        if !summary.is_empty() {
            write!(f, "\nverifier:")?;
            for l in summary {
                write!(f, "\n  {l}")?;
            }
        }
        if self.log_truncated {
            write!(f, "\n  (verifier log truncated by the kernel)")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProgramLoadError {}

/// Lines at the end of a verifier log that are statistics, not reasons.
fn is_stats_line(l: &str) -> bool {
    l.starts_with("processed ")
        || l.starts_with("verification time ")
        || l.starts_with("stack depth ")
        || l.starts_with("max_states_per_insn ")
}

/// How many lines of the log's end [`verifier_summary`] keeps.
const SUMMARY_LINES: usize = 3;

/// The verifier's last meaningful lines: the end of the log without the
/// statistics the verifier appends after its verdict and without blank
/// lines, at most 3 lines (the failing instruction and the reason, usually).
pub fn verifier_summary(log: &str) -> Vec<&str> {
    let mut lines: Vec<&str> = log.lines().map(str::trim_end).filter(|l| !l.is_empty()).collect();
    while lines.last().is_some_and(|l| is_stats_line(l)) {
        lines.pop();
    }
    let start = lines.len().saturating_sub(SUMMARY_LINES);
    lines.split_off(start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_drops_statistics() {
        let log = "func#0 @0\n0: R1=ctx() R10=fp0\n; return *(volatile int *)data; @ x.c:23\n\
                   1: (61) r0 = *(u32 *)(r1 +0)\ninvalid access to packet, off=0 size=4, R1(id=0,off=0,r=0)\n\
                   R1 offset is outside of the packet\n\
                   processed 2 insns (limit 1000000) max_states_per_insn 0 total_states 0 peak_states 0 mark_read 0\n\n";
        assert_eq!(
            verifier_summary(log),
            vec![
                "1: (61) r0 = *(u32 *)(r1 +0)",
                "invalid access to packet, off=0 size=4, R1(id=0,off=0,r=0)",
                "R1 offset is outside of the packet"
            ]
        );
        assert!(verifier_summary("").is_empty());
    }

    #[test]
    fn display_names_program_and_reason() {
        let e = ProgramLoadError {
            object: "obj".into(),
            program: "p".into(),
            section: "xdp".into(),
            errno: Some(13),
            message: "bpf(BPF_PROG_LOAD) of 'p': Permission denied (os error 13)".into(),
            log: "0: (95) exit\nR0 !read_ok\nprocessed 1 insns\n".into(),
            log_truncated: false,
        };
        let s = e.to_string();
        assert!(s.starts_with("obj: program 'p' (section 'xdp'): bpf(BPF_PROG_LOAD)"), "{s}");
        assert!(s.ends_with("verifier:\n  0: (95) exit\n  R0 !read_ok"), "{s}");
        assert_eq!(e.short_reason(), "R0 !read_ok");
    }
}
