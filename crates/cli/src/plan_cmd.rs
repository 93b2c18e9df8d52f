//! `bpfld plan`: the load pipeline up to the system calls.

use bpfld_asm::types::{AttachType, ExpectedAttachType, ProgType};
use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_obj::externs::RequiredGroups;
use bpfld_obj::plan::{plan, ExternReport, FdSlot, LoadPlan, PlanOptions};
use bpfld_obj::{Object, Target};
use clap::Args;
use serde_json::{json, Value};

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

pub fn maps_json(plan: &LoadPlan) -> Vec<Value> {
    plan.maps
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "real_name": m.real_name,
                "type": m.map_type.to_string(),
                "key_size": m.key_size,
                "value_size": m.value_size,
                // What is created: a perf event array's 0 is one slot per
                // possible CPU (of this machine).
                "max_entries": created_max_entries(m),
                "flags": m.map_flags,
            })
        })
        .collect()
}

/// The struct_ops maps of a plan, for JSON.
pub fn struct_ops_json(plan: &LoadPlan, target: Option<&Target>) -> Vec<Value> {
    plan.struct_ops
        .iter()
        .map(|st| {
            json!({
                "map": st.name,
                "struct": st.struct_name,
                "kern_type_id": st.kern_type_id,
                "kern_value_type_id": st.kern_value_type_id,
                "btf": target.map(|t| t.owner_name(st.owner).to_string()),
                "link": st.link,
                "members": st.func_slots.iter().map(|f| json!({"member": f.member, "index": f.member_idx, "offset": f.offset, "program": f.program})).collect::<Vec<_>>(),
                "skipped_members": st.skipped_members,
            })
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

pub fn externs_json(externs: &[ExternReport]) -> Vec<Value> {
    externs
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "kind": e.kind,
                "weak": e.weak,
                "resolved": e.resolved,
                "target": e.target,
                "btf_id": e.btf_id,
                "value": e.value,
                "fd_slot": e.fd_slot,
                "reason": e.reason,
                "unknown_offline": e.unknown_offline,
            })
        })
        .collect()
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

pub fn run(a: PlanArgs) -> CliResult {
    // Scripts read every outcome on stdout: a JSON error object too.
    let json_error = |e: String| {
        if a.json {
            println!("{}", serde_json::to_string_pretty(&json!({ "object": a.obj.display().to_string(), "error": e })).unwrap_or_default());
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
                let v = json!({ "object": obj.name, "error": e.error.to_string(), "externs": externs_json(&e.externs) });
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
            } else {
                print_externs(&e.externs);
            }
            return Err(crate::name_by_path(&e.to_string(), &a.obj));
        }
    };
    if a.json {
        let progs: Vec<Value> = plan
            .programs
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "section": p.section,
                    "type": p.prog_type.to_string(),
                    // struct_ops programs: the index of the kernel struct's member they implement.
                    "expected_attach_type": if p.prog_type == bpfld_asm::types::ProgType::STRUCT_OPS {
                        json!(p.expected_attach_type.raw())
                    } else {
                        json!(attach_type_label(p.prog_type, p.expected_attach_type))
                    },
                    "attach_target": p.attach_target,
                    "attach_btf_id": p.attach_btf.map(|a| a.btf_id),
                    "module_btf_refs": p.module_btf_refs.iter().map(|r| json!({"insn": r.insn_idx, "module": target.as_ref().map(|t| t.modules[r.module].name.clone())})).collect::<Vec<_>>(),
                    "poisoned": p.poisoned.iter().map(|x| json!({"insn": x.insn_idx, "what": format!("{:?}", x.kind)})).collect::<Vec<_>>(),
                    "insns": p.insns.iter().map(insn_hex).collect::<Vec<_>>(),
                    "error": p.error,
                })
            })
            .collect();
        let fd_array: Vec<Value> = plan
            .fd_array
            .iter()
            .map(|s| match s {
                FdSlot::Unused => Value::Null,
                FdSlot::ModuleBtf(m) => json!(target.as_ref().map(|t| t.modules[*m].name.clone())),
            })
            .collect();
        let v = json!({
            "object": plan.object,
            "target": plan.target,
            "license": plan.license,
            "maps": maps_json(&plan),
            "programs": progs,
            "externs": externs_json(&plan.externs),
            "fd_array": fd_array,
            "struct_ops": struct_ops_json(&plan, target.as_ref()),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
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
