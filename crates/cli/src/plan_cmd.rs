//! `bpfld plan`: the load pipeline up to the system calls.

use std::path::PathBuf;
use std::process::ExitCode;

use bpfld_obj::plan::{plan, LoadPlan};
use bpfld_obj::Object;
use clap::Args;
use serde_json::{json, Value};

use crate::CliResult;

#[derive(Args)]
pub struct PlanArgs {
    /// The BPF object (clang -target bpf output).
    pub obj: PathBuf,
    /// Target kernel BTF (for externs and CO-RE; the running kernel's by
    /// default).
    #[arg(long)]
    pub btf: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

/// Opens an object file, naming it as libbpf does.
pub fn open_object(path: &PathBuf) -> Result<Object, String> {
    let data = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = bpfld_obj::object::object_name_from_path(&path.to_string_lossy());
    Object::parse(&name, &data).map_err(|e| e.to_string())
}

pub fn insn_hex(insn: &bpfld_asm::Insn) -> String {
    insn.to_hex()
}

pub fn map_type_label(t: u32) -> String {
    bpfld_asm::types::map_type_name(t).map(str::to_string).unwrap_or_else(|| t.to_string())
}

pub fn maps_json(plan: &LoadPlan) -> Vec<Value> {
    plan.maps
        .iter()
        .map(|m| {
            json!({
                "name": m.name,
                "real_name": m.real_name,
                "type": map_type_label(m.map_type),
                "key_size": m.key_size,
                "value_size": m.value_size,
                "max_entries": m.max_entries,
                "flags": m.map_flags,
            })
        })
        .collect()
}

pub fn run(a: PlanArgs) -> CliResult {
    if a.btf.is_some() {
        // Accepted now so scripts can pass it; used once externs and CO-RE
        // resolve against a target.
    }
    let obj = open_object(&a.obj)?;
    let plan = plan(&obj, None, &Default::default()).map_err(|e| e.to_string())?;
    if a.json {
        let progs: Vec<Value> = plan
            .programs
            .iter()
            .map(|p| {
                json!({
                    "name": p.name,
                    "section": p.section,
                    "type": bpfld_asm::types::prog_type_name(p.prog_type).unwrap_or("unknown"),
                    "expected_attach_type": bpfld_asm::types::attach_type_name(p.expected_attach_type).unwrap_or("unknown"),
                    "attach_target": p.attach_target,
                    "insns": p.insns.iter().map(insn_hex).collect::<Vec<_>>(),
                    "error": p.error,
                })
            })
            .collect();
        let v = json!({ "object": plan.object, "license": plan.license, "maps": maps_json(&plan), "programs": progs });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    println!("object {} (license {:?})", plan.object, plan.license);
    for (i, m) in plan.maps.iter().enumerate() {
        println!(
            "map {i}: {} type={} key={} value={} max_entries={} flags={:#x}",
            m.name,
            map_type_label(m.map_type),
            m.key_size,
            m.value_size,
            m.max_entries,
            m.map_flags
        );
    }
    for p in &plan.programs {
        println!("\nprogram {} (section {}, {} insns)", p.name, p.section, p.insns.len());
        if let Some(e) = &p.error {
            println!("  error: {e}");
        }
        for (i, line) in bpfld_asm::disasm(&p.insns).iter().enumerate() {
            println!("  {i:4}: {}  {line}", insn_hex(&p.insns[i]));
        }
    }
    Ok(ExitCode::SUCCESS)
}
