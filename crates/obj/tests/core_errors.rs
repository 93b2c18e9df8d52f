//! Bad CO-RE input is an error that names the object, the program, the
//! instruction and the relocation, never a panic: records are tampered
//! with in a parsed copy of a real test object.

mod core_common;

use bpfld_asm::Insn;
use bpfld_btf::Kind;
use bpfld_obj::core::relocate;
use bpfld_obj::Object;
use core_common::*;

/// `core_fields` with its first CO-RE record (the `byte_off` of
/// task_struct.pid at instruction 2 of program `fields`) changed by `f`.
fn tampered(f: impl FnOnce(&mut bpfld_btf::ext::CoreRelo, &Object)) -> Object {
    let mut obj = object("core_fields");
    let copy = obj.clone();
    let rec = &mut obj.btf_ext.as_mut().unwrap().core_relos[0].records[0];
    assert_eq!((rec.insn_off, rec.type_id), (16, 5), "the first record is task_struct.pid at insn 2");
    f(rec, &copy);
    obj
}

fn target_618() -> Option<bpfld_obj::Target> {
    kernel_btf_dir().map(|d| target(&d, K618, false))
}

const PREFIX: &str = "core_fields: program 'fields': insn 2: CO-RE relocation #0 (byte_off of [5], access '0:2'): ";

#[test]
fn instruction_not_holding_the_local_value() {
    let Some(t) = target_618() else { return };
    let obj = object("core_fields");
    let mut insns = insns_of(&obj);
    assert_eq!(insns[0][2].imm(), 8, "fields: r1 = offsetof(task_struct, pid) locally");
    insns[0][2].set_imm(9);
    let e = relocate(&obj, &t, &mut insns).unwrap_err().to_string();
    assert_eq!(e, format!("{PREFIX}unexpected insn #2 (ALU/ALU64) value: got 9, exp 8 -> 1264"));
}

#[test]
fn type_id_out_of_range() {
    let Some(t) = target_618() else { return };
    let obj = tampered(|r, _| r.type_id = 1_000_000);
    let count = obj.btf.as_ref().unwrap().type_count();
    let e = run(&obj, &t).unwrap_err().to_string();
    assert_eq!(
        e,
        format!(
            "core_fields: program 'fields': insn 2: CO-RE relocation #0 (byte_off of [1000000], access '0:2'): \
             type id [1000000] out of range (last id is {})",
            count - 1
        )
    );
}

#[test]
fn malformed_access_strings() {
    let Some(t) = target_618() else { return };
    // Point the access string at other strings of the object's BTF.
    for (name, why) in [("task_struct", "malformed access string 'task_struct'"), ("pid", "malformed access string 'pid'")] {
        let obj = tampered(|r, o| {
            let b = o.btf.as_ref().unwrap();
            let off = b
                .all_types()
                .find_map(|t| {
                    if t.name().ok()? == name {
                        return Some(t.name_off());
                    }
                    t.members().find(|m| b.str(m.name_off).ok() == Some(name)).map(|m| m.name_off)
                })
                .unwrap();
            r.access_str_off = off;
        });
        let e = run(&obj, &t).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!(
                "core_fields: program 'fields': insn 2: CO-RE relocation #0 (byte_off of [5], access '{name}'): \
                 parsing [5] struct task_struct + {name} failed: {why}"
            )),
            "{e}"
        );
    }
    // An index past the struct's members.
    let obj = tampered(|r, o| {
        let b = o.btf.as_ref().unwrap();
        let id = b.find_first("signal_struct", Kind::Struct).unwrap();
        r.type_id = id;
    });
    let e = run(&obj, &t).unwrap_err().to_string();
    assert!(e.ends_with("failed: member index 2 out of range: [13] has 2 members"), "{e}");
}

#[test]
fn misplaced_records() {
    let Some(t) = target_618() else { return };
    // Not on an instruction boundary.
    let obj = tampered(|r, _| r.insn_off = 3);
    let e = run(&obj, &t).unwrap_err().to_string();
    assert_eq!(e, "core_fields: section 'syscall': CO-RE relocation #0: instruction offset 0x3 is not a multiple of 8");
    // On the program's `exit`: not an instruction a relocation can patch.
    let obj = object("core_fields");
    let last = obj.programs[0].insns.len() - 1;
    assert_eq!(obj.programs[0].insns[last].code(), 0x95);
    let obj = tampered(|r, _| r.insn_off = (last * 8) as u32);
    let e = run(&obj, &t).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "core_fields: program 'fields': insn {last}: CO-RE relocation #0 (byte_off of [5], access '0:2'): \
             trying to relocate unrecognized insn #{last}, code:0x95"
        )),
        "{e}"
    );
    // Past every function of the section: skipped, as libbpf skips records
    // of eliminated __weak subprograms.
    let obj = tampered(|r, _| r.insn_off = 1 << 20);
    let (rep, _) = run(&obj, &t).unwrap();
    assert_eq!(rep.skipped.len(), 1);
    assert_eq!((rep.skipped[0].relo_idx, rep.skipped[0].insn_off), (0, 1 << 20));
    assert!(rep.skipped[0].reason.contains("belongs to no function"), "{:?}", rep.skipped);
    // An instruction vector per function is required.
    let obj = object("core_fields");
    let mut short: Vec<Vec<Insn>> = insns_of(&obj);
    short.pop();
    let e = relocate(&obj, &t, &mut short).unwrap_err().to_string();
    assert!(e.contains("instruction vectors given for"), "{e}");
}

/// Whatever a record says, relocation returns (an error or a report)
/// rather than panicking: every type id and every string of the object's
/// BTF as access string, on every kind, as the object's only record.
#[test]
fn no_panic_on_any_record() {
    let Some(t) = target_618() else { return };
    let mut base = object("core_fields");
    let b = base.btf.clone().unwrap();
    let mut str_offs: Vec<u32> = b.all_types().flat_map(|t| std::iter::once(t.name_off()).chain(t.members().map(|m| m.name_off))).collect();
    str_offs.extend(base.btf_ext.as_ref().unwrap().core_relos.iter().flat_map(|s| s.records.iter().map(|r| r.access_str_off)));
    str_offs.sort_unstable();
    str_offs.dedup();
    let ext = base.btf_ext.as_mut().unwrap();
    ext.core_relos.truncate(1);
    ext.core_relos[0].records.truncate(1);
    let mut outcomes = (0, 0);
    for kind in 0..13 {
        let kind = bpfld_btf::ext::CoreReloKind::from_raw(kind).unwrap();
        for type_id in 0..b.type_count() + 1 {
            for &off in &str_offs {
                let mut obj = base.clone();
                let rec = &mut obj.btf_ext.as_mut().unwrap().core_relos[0].records[0];
                (rec.kind, rec.type_id, rec.access_str_off) = (kind, type_id, off);
                match run(&obj, &t) {
                    Ok(_) => outcomes.0 += 1,
                    Err(_) => outcomes.1 += 1,
                }
            }
        }
    }
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
}
