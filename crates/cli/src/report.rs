//! The JSON documents of `plan` and `load` (and their error outcomes) as
//! serde types: one schema family, described in docs/json.md. Every
//! document says which schema it follows (`"schema": "plan"`) and its
//! version; a field that changes meaning or disappears bumps the version.

use bpfld_asm::types::{MapType, ProgType};
use bpfld_obj::plan::ExternReport;
use serde::Serialize;

/// The version of every document of the family (check's included).
pub const SCHEMA_VERSION: u32 = 1;

/// A document: which schema, its version, then the body's fields.
#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    schema: &'static str,
    schema_version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// Prints `body` as the pretty-printed document of `schema`.
pub fn print_document<T: Serialize>(schema: &'static str, body: &T) {
    let doc = Document { schema, schema_version: SCHEMA_VERSION, body };
    // A report of plain data always serializes.
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}

/// Prints `body` as the document of `schema` on one line.
pub fn print_document_line<T: Serialize>(schema: &'static str, body: &T) {
    let doc = Document { schema, schema_version: SCHEMA_VERSION, body };
    println!("{}", serde_json::to_string(&doc).unwrap_or_default());
}

/// One kernel's features, by name (in name order).
#[derive(Serialize)]
pub struct KernelFeaturesReport {
    pub kernel: String,
    /// `probed` (the running kernel) or `btf` (derived from its BTF).
    pub source: String,
    pub features: std::collections::BTreeMap<&'static str, bool>,
}

/// `bpfld features --json`.
#[derive(Serialize)]
pub struct FeaturesReport {
    pub kernels: Vec<KernelFeaturesReport>,
}

/// One BTF type as `btf dump`/`btf find` print it.
#[derive(Serialize)]
pub struct BtfTypeReport {
    pub id: u32,
    pub kind: &'static str,
    pub name: String,
    /// The `bpftool btf dump` line.
    pub raw: String,
}

/// `bpfld btf dump --json`.
#[derive(Serialize)]
pub struct BtfDumpReport {
    pub types: Vec<BtfTypeReport>,
}

/// `bpfld btf find --json`.
#[derive(Serialize)]
pub struct BtfFindReport {
    pub query: String,
    pub essential_name: String,
    pub types: Vec<BtfTypeReport>,
}

/// `bpfld btf min --json` (on one line).
#[derive(Serialize)]
pub struct BtfMinReport<'a> {
    pub output: String,
    pub kernel: String,
    pub bytes: usize,
    pub types: usize,
    pub kernel_bytes: u64,
    /// The kernel type id of each type kept, in the new numbering's order.
    pub original_ids: &'a [u32],
}

/// `bpfld btf index --json`: the indexes written, in the order given.
#[derive(Serialize)]
pub struct BtfIndexReport {
    pub indexes: Vec<WrittenIndexReport>,
}

/// One record index written by `btf index`.
#[derive(Serialize)]
pub struct WrittenIndexReport {
    /// The index file.
    pub path: String,
    pub bytes: usize,
    /// The vmlinux BTF it indexes.
    pub vmlinux: String,
    pub types: u32,
}

/// `bpfld btf extract --json` of one kernel image or module.
#[derive(Serialize)]
pub struct BtfExtractReport {
    pub input: String,
    pub output: String,
    pub kind: &'static str,
    pub source: String,
    pub release: Option<String>,
    pub btf_bytes: usize,
}

/// A module's split BTF written by `btf extract` of a package.
#[derive(Serialize)]
pub struct ExtractedModuleReport {
    pub name: String,
    /// Where it was written, under the output directory.
    pub path: String,
    pub btf_bytes: usize,
}

/// `bpfld btf extract --json` of a Debian kernel package.
#[derive(Serialize)]
pub struct DebExtractReport<'a> {
    pub input: String,
    pub output: String,
    pub release: &'a str,
    pub data_tar: &'a str,
    /// Where the vmlinux BTF came from.
    pub kernel: String,
    pub vmlinux_btf_bytes: usize,
    /// The size of `vmlinux.btf.idx`, its record index (`btf index`).
    pub record_index_bytes: usize,
    /// A `config` file was written.
    pub config: bool,
    pub modules: Vec<ExtractedModuleReport>,
    pub modules_without_btf: &'a [String],
    pub duplicate_modules: &'a [String],
    pub seconds: f64,
}

/// What a command prints on stdout with `--json` when it fails: scripts
/// read every outcome there.
#[derive(Serialize)]
pub struct ErrorReport<'a> {
    /// The object's path (or name once parsed).
    pub object: String,
    pub error: String,
    /// Each extern's outcome, when the failure came after resolving them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub externs: Option<&'a [ExternReport]>,
}

/// A map as planned (and, for `load`, as created).
#[derive(Serialize)]
pub struct MapReport {
    pub name: String,
    pub real_name: String,
    #[serde(rename = "type")]
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    /// What is created: a perf event array's 0 is one slot per possible
    /// CPU (of this machine).
    pub max_entries: u32,
    pub flags: u32,
}

impl MapReport {
    pub fn of(m: &bpfld_obj::MapSpec) -> MapReport {
        MapReport {
            name: m.name.clone(),
            real_name: m.real_name.clone(),
            map_type: m.map_type,
            key_size: m.key_size,
            value_size: m.value_size,
            max_entries: crate::plan_cmd::created_max_entries(m),
            flags: m.map_flags,
        }
    }
}

/// The expected attach type of a planned program: its name (`none` where
/// the kernel ignores it), or for a struct_ops program the index of the
/// kernel struct's member it implements.
#[derive(Serialize)]
#[serde(untagged)]
pub enum AttachTypeReport {
    Name(String),
    MemberIndex(u32),
}

/// A module-BTF reference of a planned program.
#[derive(Serialize)]
pub struct ModuleBtfRefReport {
    pub insn: usize,
    pub module: Option<String>,
}

/// A poisoned instruction of a planned program.
#[derive(Serialize)]
pub struct PoisonReport {
    pub insn: usize,
    /// `core_relo`, `kfunc_call` or `map_load`.
    pub kind: &'static str,
    /// The relocation's local access, the kfunc's or the map's name.
    pub subject: String,
    /// The same in words.
    pub what: String,
}

/// A program as planned.
#[derive(Serialize)]
pub struct PlannedProgramReport {
    pub name: String,
    pub section: String,
    #[serde(rename = "type")]
    pub prog_type: ProgType,
    pub expected_attach_type: AttachTypeReport,
    pub attach_target: Option<String>,
    pub attach_btf_id: Option<u32>,
    pub module_btf_refs: Vec<ModuleBtfRefReport>,
    pub poisoned: Vec<PoisonReport>,
    /// Each instruction as 16 hex digits.
    pub insns: Vec<String>,
    pub error: Option<String>,
}

/// A member of a struct_ops map implemented by a program.
#[derive(Serialize)]
pub struct StructOpsMemberReport {
    pub member: String,
    pub index: u32,
    pub offset: usize,
    pub program: String,
}

/// A struct_ops map as planned.
#[derive(Serialize)]
pub struct StructOpsPlanReport {
    pub map: String,
    #[serde(rename = "struct")]
    pub struct_name: String,
    pub kern_type_id: u32,
    pub kern_value_type_id: u32,
    /// `vmlinux` or the module whose BTF has the struct.
    pub btf: Option<String>,
    pub link: bool,
    pub members: Vec<StructOpsMemberReport>,
    pub skipped_members: Vec<String>,
}

/// `bpfld plan --json`.
#[derive(Serialize)]
pub struct PlanReport<'a> {
    pub object: String,
    pub target: Option<String>,
    pub license: String,
    pub maps: Vec<MapReport>,
    pub programs: Vec<PlannedProgramReport>,
    pub externs: &'a [ExternReport],
    /// One entry per `fd_array` slot: the module whose BTF it holds, or
    /// null for an unused slot.
    pub fd_array: Vec<Option<String>>,
    pub struct_ops: Vec<StructOpsPlanReport>,
}

/// A map as `load` created (or reused) it.
#[derive(Serialize)]
pub struct LoadedMapReport {
    #[serde(flatten)]
    pub map: MapReport,
    pub pin_path: Option<String>,
    pub reused: bool,
}

/// A program as `load` left it.
#[derive(Serialize)]
pub struct LoadedProgramReport {
    pub name: String,
    pub section: String,
    #[serde(rename = "type")]
    pub prog_type: ProgType,
    pub insns: usize,
    pub loaded: bool,
    pub disabled: bool,
    pub error: Option<String>,
    pub verifier_log: Option<String>,
}

/// How registering a struct_ops map went.
#[derive(Serialize)]
pub struct RegistrationReport {
    pub map: String,
    #[serde(rename = "struct")]
    pub kernel_struct: String,
    pub link: bool,
    pub registered: bool,
    pub error: Option<String>,
}

/// `bpfld load --json`.
#[derive(Serialize)]
pub struct LoadReport<'a> {
    pub object: String,
    pub target: Option<String>,
    pub maps: Vec<LoadedMapReport>,
    pub programs: Vec<LoadedProgramReport>,
    pub struct_ops: Vec<RegistrationReport>,
    pub externs: &'a [ExternReport],
    pub warnings: Vec<String>,
}
