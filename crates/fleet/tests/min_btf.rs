//! `bpfld btf min`: for every test object and every shared kernel, the
//! plan made against the reduced vmlinux BTF is the plan made against the
//! whole one (kernel type ids compared through the id map), the reduced
//! file is BTF bpftool dumps, and its size is printed next to what
//! `bpftool gen min_core_btf` makes for the same object.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use bpfld_btf::min::MinBtf;
use bpfld_fleet::min_btf::min_btf;
use bpfld_fleet::release_dir::{load_files, TargetFiles};
use bpfld_obj::plan::{plan, LoadPlan, PlanOptions};
use bpfld_obj::{BtfOwner, Object};
use bpfld_testdata::{bpftool, shared_btf_dir, test_object, test_object_names, SHARED_KERNELS};

/// A plan with every vmlinux type id passed through `id`: what must be
/// equal between the whole and the reduced BTF.
fn projection(p: &LoadPlan, id: &dyn Fn(u32) -> u32) -> String {
    use bpfld_asm::insn::pseudo;
    let mut out = Vec::new();
    for e in &p.externs {
        let btf_id = if e.target.as_deref() == Some("vmlinux") { e.btf_id.map(id) } else { e.btf_id };
        out.push(format!(
            "extern {} {} {:?} {btf_id:?} {:?} {:?} {}",
            e.name,
            e.resolved,
            e.target,
            e.value,
            e.fd_slot,
            e.reason.is_some()
        ));
    }
    for r in &p.core.relocations {
        let value = if r.kind.name() == "target_type_id" && r.failure.is_none() { id(r.new_value as u32) as u64 } else { r.new_value };
        out.push(format!(
            "core {}+{} {} {} {:?} {value}",
            r.program,
            r.insn_idx,
            r.kind.name(),
            r.spec,
            r.failure.as_ref().map(|f| f.to_string())
        ));
    }
    for pp in &p.programs {
        let attach = pp.attach_btf.map(|a| if a.owner == BtfOwner::Vmlinux { id(a.btf_id) } else { a.btf_id });
        out.push(format!("program {} {:?} {attach:?} {:?} {:?}", pp.name, pp.error.is_some(), pp.poisoned, pp.layout));
        for (i, insn) in pp.insns.iter().enumerate() {
            let kernel_id = (insn.is_call() && insn.src_reg() == pseudo::KFUNC_CALL && insn.off() == 0)
                || (insn.is_ld_imm64() && insn.src_reg() == pseudo::BTF_ID && !pp.module_btf_refs.iter().any(|m| m.insn_idx == i));
            let imm = if kernel_id { id(insn.imm() as u32) as i32 } else { insn.imm() };
            out.push(format!("  {:02x} {} {} {} {imm}", insn.code(), insn.dst_reg(), insn.src_reg(), insn.off()));
        }
    }
    for st in &p.struct_ops {
        out.push(format!("struct_ops {} {} {} {:?}", st.name, id(st.kern_type_id), id(st.kern_value_type_id), st.func_slots));
    }
    out.join("\n")
}

fn plan_of(obj: &Object, files: &TargetFiles) -> Option<LoadPlan> {
    let t = load_files(files).unwrap();
    plan(obj, Some(&t), &PlanOptions::default()).ok()
}

fn bpftool_min_size(bpftool: &Path, vmlinux: &Path, obj: &Path, out: &Path) -> Option<u64> {
    let st = Command::new(bpftool).args(["gen", "min_core_btf"]).arg(vmlinux).arg(out).arg(obj).output().ok()?;
    st.status.success().then(|| std::fs::metadata(out).ok().map(|m| m.len())).flatten()
}

#[test]
fn plans_against_the_reduced_btf_are_the_plans_against_the_whole() {
    let Some(dir) = shared_btf_dir() else { return };
    let Some(bpftool) = bpftool() else { return };
    let tmp = std::env::temp_dir().join(format!("bpfld-min-btf-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut compared = 0;
    let mut sizes: HashMap<String, Vec<String>> = HashMap::new();
    for k in SHARED_KERNELS {
        let located = TargetFiles::locate(&dir.join(format!("{k}.btf"))).unwrap();
        // The reduced BTF stands for vmlinux alone (a kernel without BTF has
        // no module BTF either); both sides plan without modules.
        let whole = TargetFiles { modules_dir: None, kallsyms: None, ..located.clone() };
        for name in test_object_names() {
            let Ok(obj) = Object::parse(&name, &std::fs::read(test_object(&name)).unwrap()) else { continue };
            let min: MinBtf = min_btf(std::slice::from_ref(&obj), &whole.vmlinux).unwrap_or_else(|e| panic!("{name} on {k}: {e}"));
            let out = tmp.join(format!("{k}-{name}.btf"));
            std::fs::write(&out, &min.bytes).unwrap();
            let reduced = TargetFiles { vmlinux: out.clone(), ..whole.clone() };
            let (full_plan, min_plan) = (plan_of(&obj, &whole), plan_of(&obj, &reduced));
            assert_eq!(full_plan.is_some(), min_plan.is_some(), "{name} on {k}");
            if let (Some(a), Some(b)) = (full_plan, min_plan) {
                let same = |x: u32| x;
                let back = |x: u32| if x == 0 { 0 } else { min.original_ids.get(x as usize - 1).copied().unwrap_or(u32::MAX) };
                let (pa, pb) = (projection(&a, &same), projection(&b, &back));
                // A CO-RE target type id written into an instruction differs
                // by the renumbering only.
                let renumbered = |x: &str, y: &str| {
                    let (xs, ys) = (x.rsplit_once(' '), y.rsplit_once(' '));
                    matches!((xs, ys), (Some((xh, xv)), Some((yh, yv))) if x.starts_with("  ") && xh == yh
                        && yv.parse::<u32>().is_ok_and(|v| v > 0 && xv.parse::<u32>() == Ok(back(v))))
                };
                let diff: Vec<String> = pa
                    .lines()
                    .zip(pb.lines())
                    .filter(|(x, y)| x != y && !renumbered(x, y))
                    .take(5)
                    .map(|(x, y)| format!("- {x}\n+ {y}"))
                    .collect();
                assert!(pa.lines().count() == pb.lines().count() && diff.is_empty(), "{name} on {k}: plans differ\n{}", diff.join("\n"));
                compared += 1;
            }
            // Valid BTF: bpftool dumps it.
            let dump = Command::new(&bpftool).args(["btf", "dump", "file"]).arg(&out).output().unwrap();
            assert!(dump.status.success(), "bpftool btf dump {}: {}", out.display(), String::from_utf8_lossy(&dump.stderr));
            // bpftool keeps only what CO-RE relocations reach: compared for
            // the objects that have some (25 bytes for the others).
            let has_core = obj.section_ext.values().any(|s| !s.core_relos.is_empty());
            let theirs =
                has_core.then(|| bpftool_min_size(&bpftool, &whole.vmlinux, &test_object(&name), &tmp.join("bpftool.btf"))).flatten();
            sizes.entry(name.clone()).or_default().push(format!(
                "{k}: {} B, {} types (bpftool gen min_core_btf: {})",
                min.bytes.len(),
                min.original_ids.len(),
                match (has_core, theirs) {
                    (false, _) => "not run: no CO-RE".to_string(),
                    (true, Some(b)) => format!("{b} B"),
                    (true, None) => "fails".into(),
                }
            ));
        }
    }
    let mut names: Vec<_> = sizes.keys().cloned().collect();
    names.sort();
    for n in names {
        eprintln!("{n}: {}", sizes[&n].join("; "));
    }
    assert!(compared > 60, "{compared} plans compared");
    std::fs::remove_dir_all(&tmp).unwrap();
}
