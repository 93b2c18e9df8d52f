//! What exactly is wrong, for the errors of a caller's request that the
//! kernel was not asked about (a name that is not there, an argument that
//! cannot be right, a map of another type): one enum per subject, each
//! variant with its fields, `Display` giving the message.

use std::fmt;
use std::path::PathBuf;

use bpfld_asm::types::{MapType, ProgType};

use crate::error::ProgramLoadError;

/// What a request named that is not there (see
/// [`Error::NotFound`](crate::Error::NotFound)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// A program of the object.
    Program(String),
    /// A program of the object to set an attach target for.
    ProgramToTarget(String),
    /// A map of the object.
    Map(String),
    /// A struct_ops map of the object.
    StructOpsMap(String),
    /// The object's BTF (the object has none).
    Btf,
    /// A global variable (`name` or `section:name`).
    Global(String),
    /// The map a slot of a map-in-map names.
    MapInObject,
    /// The program a slot of a prog array names.
    ProgramInObject,
    /// A map pinned by name that was there a moment ago.
    PinnedMap(PathBuf),
    /// A function in the BTF of an freplace or fentry target program.
    TargetFunction(String),
    /// The BTF of an freplace or fentry target program (it was loaded
    /// without).
    TargetProgramBtf,
    /// Kernel functions matching a glob.
    KernelFunctions {
        /// The glob.
        pattern: String,
    },
    /// Functions of an executable or library matching a glob.
    BinaryFunctions {
        /// The executable or library.
        binary: PathBuf,
        /// The glob.
        pattern: String,
    },
    /// The running kernel's `.config`.
    KernelConfig {
        /// `/proc/config.gz`.
        proc: &'static str,
        /// `/boot/config-<release>`.
        boot: PathBuf,
    },
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Program(p) => write!(f, "no program '{p}'"),
            Missing::ProgramToTarget(p) => write!(f, "no program '{p}' to set an attach target for"),
            Missing::Map(m) => write!(f, "no map '{m}'"),
            Missing::StructOpsMap(m) => write!(f, "no struct_ops map '{m}'"),
            Missing::Btf => f.write_str("no BTF"),
            Missing::Global(name) => {
                write!(f, "no global variable '{name}' in .data, .rodata, .bss or {} sections", bpfld_obj::arena::ARENA_SEC)
            }
            Missing::MapInObject => f.write_str("no such map in the object"),
            Missing::ProgramInObject => f.write_str("no such program in the object"),
            Missing::PinnedMap(path) => write!(f, "cannot find pinned map at '{}'", path.display()),
            Missing::TargetProgramBtf => f.write_str("the target program was loaded without BTF"),
            Missing::TargetFunction(func) => write!(f, "no function '{func}' in the target program's BTF"),
            Missing::KernelFunctions { pattern } => write!(f, "no kernel function matches '{pattern}'"),
            Missing::BinaryFunctions { binary, pattern } => write!(f, "no function of '{}' matches '{pattern}'", binary.display()),
            Missing::KernelConfig { proc, boot } => {
                write!(f, "neither {proc} nor {} exists; give the kernel's .config explicitly", boot.display())
            }
        }
    }
}

/// Why a map cannot be used as asked (see [`Error::Map`](crate::Error::Map)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapProblem {
    /// The map is of another type than the typed view wants.
    WrongType {
        /// The map's type.
        actual: MapType,
        /// The types the view takes.
        wanted: Vec<MapType>,
    },
    /// The map's keys are not the size of the Rust key type.
    KeySize {
        /// The map's key size.
        map: usize,
        /// The Rust type's size.
        rust: usize,
    },
    /// The map's values are not the size of the Rust value type.
    ValueSize {
        /// The map's value size.
        map: usize,
        /// The Rust type's size.
        rust: usize,
    },
    /// A per-CPU update without one value per possible CPU.
    PerCpuValues {
        /// The values given.
        given: usize,
        /// The possible CPUs.
        cpus: usize,
    },
    /// A batch with as many keys as values.
    KeysValues {
        /// The keys given.
        keys: usize,
        /// The values given.
        values: usize,
    },
    /// An array index at or past `max_entries`.
    IndexPastEnd {
        /// The index.
        index: u32,
        /// The map's `max_entries`.
        max_entries: u32,
    },
    /// A perf buffer on a map that is not a perf event array.
    NotPerfEventArray {
        /// The map's type.
        actual: MapType,
    },
    /// Registering a map that is not a struct_ops map.
    NotStructOps,
    /// Registering a struct_ops map whose programs did not load.
    StructOpsProgramsNotLoaded(Vec<String>),
    /// A global data map without its element 0.
    NoElement0,
    /// Walking the keys gave up: the map changes faster than it can be walked.
    IterationAborted {
        /// The steps it allowed itself.
        steps: u64,
    },
}

impl MapProblem {
    /// Writes the message about map `map`.
    pub(crate) fn write(&self, f: &mut fmt::Formatter<'_>, map: &str) -> fmt::Result {
        match self {
            MapProblem::WrongType { actual, wanted } => {
                let wanted: Vec<String> = wanted.iter().map(MapType::to_string).collect();
                write!(f, "map '{map}' is a {actual} map, not {}", wanted.join(" or "))
            }
            MapProblem::KeySize { map: m, rust } => write!(f, "map '{map}' has {m}-byte keys, the Rust key type has {rust}"),
            MapProblem::ValueSize { map: m, rust } => write!(f, "map '{map}' has {m}-byte values, the Rust value type has {rust}"),
            MapProblem::PerCpuValues { given, cpus } => {
                write!(f, "map '{map}': {given} values given, one per possible CPU ({cpus}) needed")
            }
            MapProblem::KeysValues { keys, values } => write!(f, "map '{map}': {keys} keys but {values} values"),
            MapProblem::IndexPastEnd { index, max_entries } => write!(f, "map '{map}': index {index} is past its {max_entries} entries"),
            MapProblem::NotPerfEventArray { actual } => write!(f, "map '{map}' is not a perf event array (type {})", actual.raw()),
            MapProblem::NotStructOps => write!(f, "map '{map}': can't attach non-struct_ops map"),
            MapProblem::StructOpsProgramsNotLoaded(programs) => {
                let list: Vec<String> = programs.iter().map(|p| format!("'{p}'")).collect();
                write!(f, "map '{map}': can't attach: its program(s) {} did not load", list.join(", "))
            }
            MapProblem::NoElement0 => write!(f, "map '{map}' has no element 0"),
            MapProblem::IterationAborted { steps } => {
                write!(f, "map '{map}': iteration aborted after {steps} steps: the map changes faster than it can be walked")
            }
        }
    }
}

/// Why a global variable cannot be read or written as asked (see
/// [`Error::Global`](crate::Error::Global)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobalProblem {
    /// The value given is not the variable's size.
    Size {
        /// The variable's section, when the message names it.
        section: Option<String>,
        /// The variable's size.
        size: usize,
        /// The size given.
        given: usize,
    },
    /// A skeleton's Rust type is not the variable's size.
    SkeletonSize {
        /// The variable's size.
        size: usize,
        /// The Rust type's size.
        rust: usize,
    },
    /// An `__arena` variable whose arena this load did not map.
    ArenaNotMapped,
    /// A variable of a section that is frozen after load (`.rodata`).
    ReadOnly {
        /// Its section.
        section: String,
    },
    /// Sections that both define the name.
    Ambiguous {
        /// The first.
        first: String,
        /// The second.
        second: String,
        /// The variable's name without a section.
        var: String,
    },
}

impl fmt::Display for GlobalProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GlobalProblem::Size { section: Some(s), size, given } => write!(f, "in '{s}' is {size} bytes, not {given}"),
            GlobalProblem::Size { section: None, size, given } => write!(f, "is {size} bytes, not {given}"),
            GlobalProblem::SkeletonSize { size, rust } => write!(f, "is {size} bytes, the skeleton's type {rust}"),
            GlobalProblem::ArenaNotMapped => f.write_str("is in an arena this load did not map (reused from a pin?)"),
            GlobalProblem::ReadOnly { section } => write!(f, "is in '{section}', which is read-only after load"),
            GlobalProblem::Ambiguous { first, second, var } => write!(f, "is in both '{first}' and '{second}': write 'section:{var}'"),
        }
    }
}

/// Why a program is not loaded (see [`Error::NotLoaded`](crate::Error::NotLoaded)).
#[derive(Debug, Clone)]
pub enum NotLoadedReason {
    /// A struct_ops program no created struct_ops map points to.
    UnusedStructOps,
    /// A program in a `?` section, not asked to load.
    Disabled,
    /// The load failed: the error.
    Failed(Box<ProgramLoadError>),
    /// Loaded, but its fd is gone.
    NoFd,
}

impl fmt::Display for NotLoadedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotLoadedReason::UnusedStructOps => f.write_str("no created struct_ops map points to it (or its section starts with '?')"),
            NotLoadedReason::Disabled => f.write_str("its section starts with '?' (load it with load_disabled)"),
            NotLoadedReason::Failed(e) => f.write_str(&e.short_reason()),
            NotLoadedReason::NoFd => f.write_str("no fd"),
        }
    }
}

/// Why a program's section gives it no automatic attachment (see
/// [`Error::NoAutoAttach`](crate::Error::NoAutoAttach)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoAutoAttach {
    /// A raw tracepoint section without the tracepoint.
    NoTracepoint,
    /// A tracepoint section without the category (`tp/sched_switch`).
    NoTracepointCategory {
        /// `tp/` or `tracepoint/`.
        prefix: &'static str,
    },
    /// A program type with no automatic attachment.
    ProgramType(ProgType),
    /// A section without a target; `instead` is the call to use.
    NoTarget {
        /// The explicit call (`attach_kprobe(func, offset)`).
        instead: &'static str,
    },
    /// A section without a target, naming the program type.
    NoTargetOfType {
        /// The program's type.
        prog_type: ProgType,
        /// The explicit call.
        instead: &'static str,
    },
}

impl NoAutoAttach {
    fn write(&self, f: &mut fmt::Formatter<'_>, program: &str, section: &str) -> fmt::Result {
        match self {
            NoAutoAttach::NoTracepoint => {
                write!(f, "program '{program}': section '{section}' names no tracepoint: use attach_raw_tracepoint(name)")
            }
            NoAutoAttach::NoTracepointCategory { prefix } => {
                write!(f, "program '{program}': section '{section}' names no tracepoint: expected '{prefix}<category>/<name>'")
            }
            NoAutoAttach::ProgramType(t) => write!(f, "program '{program}': no automatic attach for {t} programs (section '{section}')"),
            NoAutoAttach::NoTarget { instead } => write!(f, "program '{program}': section '{section}' names no target: use {instead}"),
            NoAutoAttach::NoTargetOfType { prog_type, instead } => {
                write!(f, "program '{program}': section '{section}' ({prog_type} program) names no target: use {instead}")
            }
        }
    }
}

/// Writes [`Error::NoAutoAttach`](crate::Error::NoAutoAttach).
pub(crate) fn write_no_auto_attach(f: &mut fmt::Formatter<'_>, program: &str, section: &str, reason: &NoAutoAttach) -> fmt::Result {
    reason.write(f, program, section)
}

/// An argument the caller gave that cannot be right (see
/// [`Error::InvalidArgument`](crate::Error::InvalidArgument)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvalidArgument {
    /// A name or path the kernel takes as a C string holds a NUL byte.
    NulByte {
        /// The argument (`function name`, `path`, `tracepoint name`, or
        /// empty for a probe's target, which the context names).
        argument: &'static str,
        /// Its value.
        value: String,
    },
    /// A uprobe semaphore offset that does not fit the 32 bits of the
    /// perf event's config.
    SemaphoreOffset(u64),
    /// An offset into a function given for a return probe.
    RetprobeOffset {
        /// `kretprobes` or `uretprobes`.
        probes: &'static str,
    },
    /// A uprobe binary path that is not UTF-8.
    PathNotUtf8,
    /// A tracepoint category or name that is empty, `.`, `..` or holds `/`.
    TracepointName,
    /// A BPF cookie on a kernel without BPF perf links.
    CookieUnsupported,
    /// An operation on a BPF link asked of another kind of attachment.
    NotBpfLink {
        /// What was asked (`pin`, `update`...).
        operation: String,
        /// What the attachment is.
        attachment: &'static str,
    },
}

impl InvalidArgument {
    /// The argument at fault, for messages and matching.
    pub fn argument(&self) -> &'static str {
        match self {
            InvalidArgument::NulByte { argument, .. } => argument,
            InvalidArgument::SemaphoreOffset(_) => "ref_ctr_offset",
            InvalidArgument::RetprobeOffset { .. } => "offset",
            InvalidArgument::PathNotUtf8 => "binary",
            InvalidArgument::TracepointName => "tracepoint",
            InvalidArgument::CookieUnsupported => "cookie",
            InvalidArgument::NotBpfLink { .. } => "link",
        }
    }
}

impl fmt::Display for InvalidArgument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidArgument::NulByte { argument: "path", value } => write!(f, "path {value} contains a NUL byte"),
            InvalidArgument::NulByte { argument: "", value } => write!(f, "{value:?} contains a NUL byte"),
            InvalidArgument::NulByte { argument, value } => write!(f, "{argument} {value:?} contains a NUL byte"),
            InvalidArgument::SemaphoreOffset(off) => write!(f, "semaphore offset {off:#x} does not fit 32 bits"),
            InvalidArgument::RetprobeOffset { probes } => write!(f, "{probes} do not support offset specification"),
            InvalidArgument::PathNotUtf8 => f.write_str("the path is not UTF-8"),
            InvalidArgument::TracepointName => f.write_str("not a tracepoint name"),
            InvalidArgument::CookieUnsupported => f.write_str("user context value is not supported (no BPF perf links before Linux 5.15)"),
            InvalidArgument::NotBpfLink { operation, attachment } => {
                write!(f, "cannot {operation}: the attachment is not a BPF link ({attachment})")
            }
        }
    }
}

/// What is wrong with a section that names a program's target (libbpf's
/// words; see [`Error::MalformedSection`](crate::Error::MalformedSection)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionError {
    /// `kprobe/<func>` whose function does not start with a name character.
    KprobeName {
        /// What follows `kprobe/`.
        rest: String,
    },
    /// A return probe section with an offset.
    RetprobeOffset {
        /// `kretprobes` or `uretprobes`.
        probes: &'static str,
    },
    /// `uprobe/` with nothing, or nothing before the `:`.
    UprobeFormat {
        /// The section.
        section: String,
    },
    /// `uprobe/<binary>` without `:function`.
    UprobeFunction {
        /// The section.
        section: String,
    },
    /// `uprobe.multi/` without `<path>:<pattern>`.
    UprobeMulti {
        /// The section.
        section: String,
    },
    /// `usdt/` without `<path>:<provider>:<name>`.
    Usdt {
        /// The section.
        section: String,
    },
}

impl fmt::Display for SectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SectionError::KprobeName { rest } => write!(f, "kprobe name is invalid: {rest}"),
            SectionError::RetprobeOffset { probes } => write!(f, "{probes} do not support offset specification"),
            SectionError::UprobeFormat { section } => write!(f, "invalid format of section definition '{section}'"),
            SectionError::UprobeFunction { section } => write!(f, "section '{section}' missing ':function[+offset]' specification"),
            SectionError::UprobeMulti { section } => write!(f, "section '{section}': expected 'uprobe.multi/<path>:<pattern>'"),
            SectionError::Usdt { section } => write!(f, "invalid section '{section}', expected SEC(\"usdt/<path>:<provider>:<name>\")"),
        }
    }
}

impl std::error::Error for SectionError {}

/// Why the load of a map or program slot cannot go on (see
/// [`Error::Load`](crate::Error::Load)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadProblem {
    /// The kernel has no BTF and the object has struct_ops maps.
    NoKernelBtfForStructOps,
    /// A struct_ops map, and the kernel did not take the object's BTF.
    StructOpsWithoutBtf,
    /// A struct_ops type of a module whose BTF the target did not open.
    NoModuleBtf(usize),
    /// The arena's data offset does not fit this machine's `usize`.
    ArenaDataOffset(u64),
    /// A global data map's initial value is not the map's value size.
    InitialValueSize {
        /// The initial value's size.
        data: usize,
        /// The map's value size.
        value: u32,
    },
    /// A prog array slot whose program did not load.
    SlotProgramNotLoaded,
}

impl fmt::Display for LoadProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadProblem::NoKernelBtfForStructOps => f.write_str("the kernel has no BTF, which struct_ops maps need (Linux 5.6)"),
            LoadProblem::StructOpsWithoutBtf => f.write_str("a struct_ops map needs the object's BTF in the kernel"),
            LoadProblem::NoModuleBtf(m) => write!(f, "module BTF #{m} has no fd (target built without module BTFs?)"),
            LoadProblem::ArenaDataOffset(off) => write!(f, "arena data offset {off:#x} too large"),
            LoadProblem::InitialValueSize { data, value } => write!(f, "initial value is {data} bytes, the map's value {value}"),
            LoadProblem::SlotProgramNotLoaded => f.write_str("the program is not loaded"),
        }
    }
}

/// Why a map's pin path cannot be built under the pin root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PinPathError {
    /// The map's name would not make one file in the root.
    BadName {
        /// The map's name.
        map: String,
        /// What is wrong with it (`is empty`, `holds a '/'`...).
        why: &'static str,
        /// The pin root.
        root: PathBuf,
    },
    /// The path is `PATH_MAX` long or longer.
    TooLong {
        /// The map's name.
        map: String,
        /// The path.
        path: PathBuf,
    },
}

impl fmt::Display for PinPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PinPathError::BadName { map, why, root } => write!(
                f,
                "map '{}': refused to pin: its name {why}, so its pin would not be a file in {}",
                map.escape_debug(),
                root.display()
            ),
            PinPathError::TooLong { map, path } => write!(f, "map '{map}': couldn't build pin path: {} is too long", path.display()),
        }
    }
}

impl std::error::Error for PinPathError {}
