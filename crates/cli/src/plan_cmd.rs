//! `bpfld plan`: the load pipeline up to the system calls.

use bpfld_asm::types::{AttachType, ExpectedAttachType, ProgType};
use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::{plan, ExternReport, FdSlot, LoadPlan, PlanOptions, ProgramPlan};
use bpfld_obj::{Object, Target};
use clap::Args;

use crate::report::{
    print_document, AttachTypeReport, ErrorReport, MapReport, ModuleBtfRefReport, PlanReport, PlannedProgramReport, PoisonReport,
    StructOpsMemberReport, StructOpsPlanReport,
};
use crate::CliResult;

#[derive(Args)]
pub struct PlanArgs {
    /// The BPF object (clang -target bpf output).
    pub obj: PathBuf,
    /// Target kernel: a kernel release directory or a vmlinux BTF file (see
    /// docs/targets.md); the running kernel by default.
    #[arg(long, value_name = "PATH")]
    pub btf: Option<PathBuf>,
    /// Fail unless at least one flavor of this kfunc (by essential name)
    /// resolves; may be repeated.
    #[arg(long = "require-flavor", value_name = "ESSENTIAL_NAME")]
    pub require_flavor: Vec<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Opens an object file, naming it as libbpf does.
pub fn open_object(path: &PathBuf) -> Result<Object, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = bpfld_obj::object::object_name_from_path(&path.to_string_lossy());
    Object::parse(&name, &data).map_err(|mut e| {
        e.object = path.display().to_string();
        e.to_string()
    })
}

/// A program's expected attach type as the plan prints it: `none` where
/// the kernel ignores the field and it is 0, the member index for a
/// struct_ops program.
pub fn attach_type_label(prog_type: ProgType, attach_type: AttachType) -> String {
    ExpectedAttachType { prog_type, attach_type }.to_string()
}

pub fn insn_hex(insn: &bpfld_asm::Insn) -> String {
    insn.to_hex()
}

/// The `max_entries` a map is created with (libbpf's rule for perf event
/// arrays declared with 0: one slot per possible CPU).
pub fn created_max_entries(m: &bpfld_obj::MapSpec) -> u32 {
    if m.map_type == bpfld_asm::types::MapType::PERF_EVENT_ARRAY && m.max_entries == 0 {
        return bpfld_sys::possible_cpus().map(|n| n as u32).unwrap_or(0);
    }
    m.max_entries
}

/// The struct_ops maps of a plan, for JSON.
fn struct_ops_reports(plan: &LoadPlan, target: Option<&Target>) -> Vec<StructOpsPlanReport> {
    let members = |st: &bpfld_obj::struct_ops::StructOpsPlan| {
        st.func_slots
            .iter()
            .map(|f| StructOpsMemberReport { member: f.member.clone(), index: f.member_idx, offset: f.offset, program: f.program.clone() })
            .collect()
    };
    plan.struct_ops
        .iter()
        .map(|st| StructOpsPlanReport {
            map: st.name.clone(),
            struct_name: st.struct_name.clone(),
            kern_type_id: st.kern_type_id,
            kern_value_type_id: st.kern_value_type_id,
            btf: target.map(|t| t.owner_name(st.owner).to_string()),
            link: st.link,
            members: members(st),
            skipped_members: st.skipped_members.clone(),
        })
        .collect()
}

/// The target a plan is made for: the files at `path`, else the running
/// kernel (only read if the object needs a kernel at all, and only the
/// parts it needs, as `bpfld load` reads them).
pub fn plan_target(obj: &Object, path: Option<&PathBuf>) -> Result<Option<Target>, String> {
    if let Some(p) = path {
        return bpfld_fleet::load_target(p).map(Some).map_err(|e| e.to_string());
    }
    if !obj.needs_target() {
        return Ok(None);
    }
    let needs = bpfld::kernel_target::TargetNeeds::of(obj);
    bpfld::kernel_target::running_kernel(&needs, &Default::default()).map(|k| Some(k.target)).map_err(|e| e.to_string())
}

/// One line per extern: what it resolved to, or why not.
pub fn print_externs(externs: &[ExternReport]) {
    if externs.is_empty() {
        return;
    }
    println!("externs:");
    for e in externs {
        let strength = if e.weak { "weak" } else { "strong" };
        let what = match (&e.target, e.btf_id, &e.value) {
            _ if !e.resolved => format!("unresolved: {}", e.reason.as_deref().unwrap_or("?")),
            (Some(t), Some(id), _) => match e.fd_slot {
                Some(s) => format!("{t} [{id}] (fd_array slot {s})"),
                None => format!("{t} [{id}]"),
            },
            (_, _, Some(v)) => format!("= {v}"),
            _ => "resolved".to_string(),
        };
        println!("  {:<14} {:<6} {:<40} {what}", e.kind, strength, e.name);
    }
}

/// A planned program, for JSON.
fn program_report(p: &ProgramPlan, target: Option<&Target>) -> PlannedProgramReport {
    let module = |m: usize| target.map(|t| t.modules[m].name.clone());
    PlannedProgramReport {
        name: p.name.clone(),
        section: p.section.clone(),
        prog_type: p.prog_type,
        expected_attach_type: if p.prog_type == ProgType::STRUCT_OPS {
            AttachTypeReport::MemberIndex(p.expected_attach_type.raw())
        } else {
            AttachTypeReport::Name(attach_type_label(p.prog_type, p.expected_attach_type))
        },
        attach_target: p.attach_target.clone(),
        attach_btf_id: p.attach_btf.map(|a| a.btf_id),
        module_btf_refs: p.module_btf_refs.iter().map(|r| ModuleBtfRefReport { insn: r.insn_idx, module: module(r.module) }).collect(),
        poisoned: p
            .poisoned
            .iter()
            .map(|x| PoisonReport { insn: x.insn_idx, kind: x.kind.tag(), subject: x.kind.subject().to_string(), what: x.kind.to_string() })
            .collect(),
        insns: p.insns.iter().map(insn_hex).collect(),
        error: p.error.clone(),
    }
}

/// The whole plan, for JSON.
fn plan_report<'a>(plan: &'a LoadPlan, target: Option<&Target>) -> PlanReport<'a> {
    let fd_array = plan
        .fd_array
        .iter()
        .map(|s| match s {
            FdSlot::Unused => None,
            FdSlot::ModuleBtf(m) => target.map(|t| t.modules[*m].name.clone()),
        })
        .collect();
    PlanReport {
        object: plan.object.clone(),
        target: plan.target.clone(),
        license: plan.license.clone(),
        maps: plan.maps.iter().map(MapReport::of).collect(),
        programs: plan.programs.iter().map(|p| program_report(p, target)).collect(),
        externs: &plan.externs,
        fd_array,
        struct_ops: struct_ops_reports(plan, target),
    }
}

pub fn run(a: PlanArgs) -> CliResult {
    // Scripts read every outcome on stdout: a JSON error object too.
    let json_error = |e: String| {
        if a.json {
            print_document("plan", &ErrorReport { object: a.obj.display().to_string(), error: e.clone(), externs: None });
        }
        e
    };
    let obj = open_object(&a.obj).map_err(json_error)?;
    let target = plan_target(&obj, a.btf.as_ref()).map_err(json_error)?;
    let opts = PlanOptions { required: RequiredGroups { essential_names: a.require_flavor.clone() }, ..Default::default() };
    let plan = match plan(&obj, target.as_ref(), &opts) {
        Ok(p) => p,
        Err(e) => {
            if a.json {
                let report = ErrorReport { object: obj.name.clone(), error: e.error.to_string(), externs: Some(&e.externs) };
                print_document("plan", &report);
            } else {
                print_externs(&e.externs);
            }
            return Err(crate::name_by_path(&e.to_string(), &a.obj));
        }
    };
    if a.json {
        print_document("plan", &plan_report(&plan, target.as_ref()));
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "object {} (license {:?}){}",
        plan.object,
        plan.license,
        plan.target.as_ref().map(|t| format!(" for {t}")).unwrap_or_default()
    );
    print_externs(&plan.externs);
    for (i, m) in plan.maps.iter().enumerate() {
        println!(
            "map {i}: {} type={} key={} value={} max_entries={} flags={:#x}",
            m.name, m.map_type, m.key_size, m.value_size, m.max_entries, m.map_flags
        );
    }
    for st in &plan.struct_ops {
        let owner = target.as_ref().map(|t| t.owner_name(st.owner).to_string()).unwrap_or_default();
        println!(
            "struct_ops {}: map {}, struct {} [{}], value bpf_struct_ops_{} [{}] in {owner}, registered by {}",
            st.name,
            st.map,
            st.struct_name,
            st.kern_type_id,
            st.struct_name,
            st.kern_value_type_id,
            if st.link { "BPF link" } else { "map update" }
        );
        for f in &st.func_slots {
            println!("  {} (member {}, value offset {}) = program {}", f.member, f.member_idx, f.offset, f.program);
        }
        for m in &st.skipped_members {
            println!("  {m}: not in the kernel's struct, zero: skipped");
        }
    }
    for p in &plan.programs {
        println!("\nprogram {} (section {}, {} insns)", p.name, p.section, p.insns.len());
        println!(
            "  type {}, expected attach type {}",
            p.prog_type,
            ExpectedAttachType { prog_type: p.prog_type, attach_type: p.expected_attach_type }
        );
        if !p.autoload {
            println!("  not loaded by default");
        }
        if let Some(e) = &p.error {
            println!("  error: {e}");
        }
        for (i, line) in bpfld_asm::disasm(&p.insns).iter().enumerate() {
            println!("  {i:4}: {}  {line}", insn_hex(&p.insns[i]));
        }
    }
    Ok(ExitCode::SUCCESS)
}
