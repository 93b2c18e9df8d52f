//! struct_ops maps, without a kernel: what opening finds in the committed
//! objects (tests/bpf/struct_ops_cc*.bpf.c), and how the plan maps them
//! onto a kernel's struct, against small kernel BTFs written here so that
//! each of libbpf's checks (member names, kinds, sizes, bitfields, value
//! type, module BTF, program reuse) can be met on purpose. Planning against
//! real kernels is in the fleet crate's `struct_ops_offline` test.

use std::sync::Arc;

use bpfld_asm::types::{MapType, ProgType};
use bpfld_btf::writer::{OwnedMember, OwnedType, TypeData, Writer};
use bpfld_btf::{Btf, Kind};
use bpfld_obj::plan::{plan, PlanOptions};
use bpfld_obj::struct_ops::BPF_F_LINK;
use bpfld_obj::{BtfOwner, MapOrigin, ModuleBtf, Object, Target};

fn object(name: &str) -> Object {
    let path = bpfld_testdata::test_object(name);
    Object::parse(name, &std::fs::read(&path).unwrap()).unwrap_or_else(|e| panic!("open {name}: {e}"))
}

fn local_member_names(obj: &Object, type_id: u32) -> Vec<String> {
    let btf = obj.btf.as_ref().unwrap();
    let t = btf.type_by_id(type_id).unwrap();
    t.members().map(|m| btf.str(m.name_off).unwrap().to_string()).collect()
}

/// (member, program) of each bound function pointer of struct_ops map `i`.
fn bindings(obj: &Object, i: usize) -> Vec<(String, String)> {
    let st = &obj.struct_ops[i];
    let names = local_member_names(obj, st.type_id);
    st.programs.iter().enumerate().filter_map(|(m, p)| p.map(|p| (names[m].clone(), obj.programs[p].name.clone()))).collect()
}

#[test]
fn open_finds_each_variable_and_what_its_members_point_to() {
    let obj = object("struct_ops_cc");
    assert_eq!(obj.struct_ops.len(), 2);
    let (main, alt) = (&obj.struct_ops[0], &obj.struct_ops[1]);
    assert_eq!((main.name.as_str(), main.section.as_str(), main.autocreate, main.link), ("bpfld_cc_map", ".struct_ops", true, false));
    assert_eq!((alt.name.as_str(), alt.section.as_str(), alt.autocreate), ("bpfld_cc_alt", ".struct_ops", false));
    assert_eq!(main.type_name, "tcp_congestion_ops");
    // The maps come last, after global data, as in libbpf.
    let m = &obj.maps[main.map];
    assert_eq!(main.map, obj.maps.len() - 2);
    assert_eq!((m.real_name.as_str(), m.origin.clone(), m.map_type), ("bpfld_cc_map", MapOrigin::StructOps, MapType::STRUCT_OPS));
    // Before a target is known, the value is the local struct (4 pointers
    // and a 16-byte name).
    assert_eq!((m.key_size, m.value_size, m.max_entries, m.map_flags), (4, 48, 1, 0));
    assert_eq!(m.btf_value_type_id, main.type_id);
    assert_eq!(
        bindings(&obj, 0),
        [
            ("ssthresh".into(), "bpfld_cc_ssthresh".into()),
            ("cong_avoid".into(), "bpfld_cc_cong_avoid".into()),
            ("undo_cwnd".into(), "bpfld_cc_undo_cwnd".into()),
            ("init".into(), "bpfld_cc_init".into())
        ]
    );
    assert_eq!(bindings(&obj, 1)[0], ("ssthresh".into(), "bpfld_cc_alt_ssthresh".into()));
    // Pointer slots are zero in the map's bytes; the name is there.
    assert!(main.data[..32].iter().all(|&b| b == 0));
    assert_eq!(&main.data[32..45], b"bpfld_cc_map\0");
    assert!(obj.needs_target());

    let link = object("struct_ops_cc_link");
    let st = &link.struct_ops[0];
    assert!(st.link);
    assert_eq!(st.type_name, "tcp_congestion_ops___bpfld");
    assert_eq!(link.maps[st.map].map_flags, BPF_F_LINK);
}

// --- A kernel written for the test --------------------------------------------

fn ty(name: &str, kind: Kind, size_or_type: u32, data: TypeData) -> OwnedType {
    OwnedType { name: name.into(), kind, kflag: false, size_or_type, data }
}

fn member(name: &str, type_id: u32, bits: u32) -> OwnedMember {
    OwnedMember { name: name.into(), type_id, offset: bits }
}

/// How the kernel's `struct tcp_congestion_ops` differs from a normal one.
#[derive(Default, Clone, Copy)]
struct Twist {
    ssthresh_is_int: bool,
    ssthresh_is_data_ptr: bool,
    short_name: bool,
    no_init: bool,
    name_is_bitfield: bool,
    no_value_type: bool,
    value_without_data: bool,
    value_type_in_module: bool,
}

/// Type ids of the kernel written by [`kernel`].
const OPS_ID: u32 = 9;
const VALUE_ID: u32 = 10;

/// A vmlinux BTF with `struct tcp_congestion_ops` (members in another
/// order than the object's: `name, init, ssthresh, cong_avoid, undo_cwnd,
/// flags`) and its struct_ops value type, unless twisted.
fn kernel(t: Twist) -> Target {
    let mut w = Writer::new();
    let uint = w.push(ty("unsigned int", Kind::Int, 4, TypeData::Int(32))); // 1
    let proto = w.push(ty("", Kind::FuncProto, uint, TypeData::Params(vec![]))); // 2
    let fptr = w.push(ty("", Kind::Ptr, proto, TypeData::None)); // 3
    let chr = w.push(ty("char", Kind::Int, 1, TypeData::Int(8 | (2 << 24)))); // 4
    let int = w.push(ty("int", Kind::Int, 4, TypeData::Int(32 | (1 << 24)))); // 5
    let name16 = w.push(ty("", Kind::Array, 0, TypeData::Array(bpfld_btf::ArrayInfo { elem_type: chr, index_type: int, nelems: 16 }))); // 6
    let name8 = w.push(ty("", Kind::Array, 0, TypeData::Array(bpfld_btf::ArrayInfo { elem_type: chr, index_type: int, nelems: 8 }))); // 7
    let data_ptr = w.push(ty("", Kind::Ptr, uint, TypeData::None)); // 8
    let ssthresh = if t.ssthresh_is_int {
        uint
    } else if t.ssthresh_is_data_ptr {
        data_ptr
    } else {
        fptr
    };
    let mut members = vec![member("name", if t.short_name { name8 } else { name16 }, 0)];
    if t.name_is_bitfield {
        members[0].offset = 8 << 24;
    }
    members.extend([
        member(if t.no_init { "release" } else { "init" }, fptr, 128),
        member("ssthresh", ssthresh, 192),
        member("cong_avoid", fptr, 256),
        member("undo_cwnd", fptr, 320),
        member("flags", uint, 384),
    ]);
    let mut ops = ty("tcp_congestion_ops", Kind::Struct, 56, TypeData::Members(members));
    ops.kflag = t.name_is_bitfield;
    assert_eq!(w.push(ops), OPS_ID);
    let data_member = if t.value_without_data { member("data", uint, 64) } else { member("data", OPS_ID, 64) };
    let value = ty("bpf_struct_ops_tcp_congestion_ops", Kind::Struct, 64, TypeData::Members(vec![member("refcnt", uint, 0), data_member]));
    let value_name = if t.no_value_type { "bpf_struct_ops_something_else" } else { "bpf_struct_ops_tcp_congestion_ops" };
    let vmlinux;
    let mut modules = Vec::new();
    if t.value_type_in_module {
        vmlinux = Btf::parse(Arc::new(w.write().unwrap())).unwrap();
        let mut m = Writer::new_split(&vmlinux);
        let mut value = value;
        value.name = value_name.into();
        assert_eq!(m.push(value), VALUE_ID);
        modules.push(ModuleBtf { name: "tcp_test".into(), btf: Btf::parse_split(Arc::new(m.write().unwrap()), &vmlinux).unwrap() });
    } else {
        let mut value = value;
        value.name = value_name.into();
        assert_eq!(w.push(value), VALUE_ID);
        vmlinux = Btf::parse(Arc::new(w.write().unwrap())).unwrap();
    }
    let mut target = Target::new("test kernel", vmlinux);
    target.modules = modules;
    target
}

/// The plan error of `obj` on a twisted kernel.
fn refusal(obj: &Object, t: Twist) -> String {
    plan(obj, Some(&kernel(t)), &PlanOptions::default()).err().map(|e| e.to_string()).unwrap_or_else(|| "planned".into())
}

/// An object whose kfunc externs are gone (the written kernel has none).
fn without_externs(name: &str) -> Object {
    let mut obj = object(name);
    // Calls of the tcp_reno_* kfuncs become unresolved weak calls.
    for e in obj.externs.iter_mut() {
        e.weak = true;
    }
    obj
}

#[test]
fn plan_maps_local_members_to_kernel_members_by_name() {
    let obj = without_externs("struct_ops_cc");
    let p = plan(&obj, Some(&kernel(Twist::default())), &PlanOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(p.struct_ops.len(), 1);
    let st = &p.struct_ops[0];
    assert_eq!((st.kern_type_id, st.kern_value_type_id, st.owner), (OPS_ID, VALUE_ID, BtfOwner::Vmlinux));
    assert_eq!(p.maps[st.map].value_size, 64);
    // The name lands at the kernel's offset: the value's data member (8)
    // plus name's (0).
    assert_eq!(&st.value[8..21], b"bpfld_cc_map\0");
    // The kernel's member indexes: name 0, init 1, ssthresh 2, cong_avoid
    // 3, undo_cwnd 4; program slots at 8 + member offset.
    for (prog, idx, off) in
        [("bpfld_cc_init", 1, 24), ("bpfld_cc_ssthresh", 2, 32), ("bpfld_cc_cong_avoid", 3, 40), ("bpfld_cc_undo_cwnd", 4, 48)]
    {
        let pp = p.programs.iter().find(|pp| pp.name == prog).unwrap();
        assert_eq!(pp.prog_type, ProgType::STRUCT_OPS);
        assert_eq!((pp.attach_btf.map(|a| a.btf_id), pp.expected_attach_type), (Some(OPS_ID), idx.into()), "{prog}");
        let slot = st.func_slots.iter().find(|s| s.program == prog).unwrap();
        assert_eq!((slot.member_idx, slot.offset), (idx, off), "{prog}");
    }
}

#[test]
fn plan_refuses_what_libbpf_refuses_in_its_words() {
    let obj = without_externs("struct_ops_cc");
    let pre = "struct_ops_cc: map 'bpfld_cc_map': ";
    let cases = [
        (Twist { ssthresh_is_int: true, ..Default::default() }, "Unmatched member type ssthresh 2 != 1(kernel)"),
        (Twist { ssthresh_is_data_ptr: true, ..Default::default() }, "kernel member ssthresh is not a func ptr"),
        (Twist { short_name: true, ..Default::default() }, "Error in size of member name: 16 != 8(kernel)"),
        (Twist { no_init: true, ..Default::default() }, "Cannot find member init in kernel BTF"),
        (Twist { name_is_bitfield: true, ..Default::default() }, "bitfield name is not supported"),
        (Twist { no_value_type: true, ..Default::default() }, "struct bpf_struct_ops_tcp_congestion_ops is not found in kernel BTF"),
        (
            Twist { value_without_data: true, ..Default::default() },
            "struct tcp_congestion_ops data is not found in struct bpf_struct_ops_tcp_congestion_ops",
        ),
    ];
    for (twist, want) in cases {
        assert_eq!(refusal(&obj, twist), format!("{pre}{want}"));
    }
}

#[test]
fn value_type_of_a_module() {
    let obj = without_externs("struct_ops_cc");
    let p = plan(&obj, Some(&kernel(Twist { value_type_in_module: true, ..Default::default() })), &PlanOptions::default()).unwrap();
    let st = &p.struct_ops[0];
    // The value type is the module's; the struct (searched in the module's
    // BTF, base first) is vmlinux's; programs and map carry the module.
    assert_eq!((st.kern_type_id, st.kern_value_type_id, st.owner), (OPS_ID, VALUE_ID, BtfOwner::Module(0)));
    let pp = p.programs.iter().find(|pp| pp.name == "bpfld_cc_init").unwrap();
    assert_eq!(pp.attach_btf.map(|a| (a.btf_id, a.owner)), Some((OPS_ID, BtfOwner::Module(0))));
}

#[test]
fn zero_members_the_kernel_lacks_are_skipped() {
    let mut obj = without_externs("struct_ops_cc");
    // init, pointed at nothing: the kernel may lack it then, and its
    // program, pointed to by no other map, does not load.
    let btf = obj.btf.clone().unwrap();
    obj.struct_ops[0].set_program(&btf, "init", None).unwrap();
    let p = plan(&obj, Some(&kernel(Twist { no_init: true, ..Default::default() })), &PlanOptions::default()).unwrap();
    assert_eq!(p.struct_ops[0].skipped_members, ["init"]);
    assert!(!p.programs.iter().find(|pp| pp.name == "bpfld_cc_init").unwrap().autoload);
}

#[test]
fn struct_ops_programs_load_as_their_maps_say() {
    let k = kernel(Twist::default());
    // A program no map points to is refused, with libbpf's words.
    let mut obj = without_externs("struct_ops_cc");
    obj.struct_ops[0].declared[3] = None;
    obj.struct_ops[0].programs[3] = None;
    let p = plan(&obj, Some(&k), &PlanOptions::default()).unwrap();
    let init = p.programs.iter().find(|pp| pp.name == "bpfld_cc_init").unwrap();
    assert!(init.autoload);
    assert_eq!(init.error.as_deref(), Some("SEC(\"struct_ops\") program isn't referenced anywhere, did you forget to use it?"));

    // The uncreated map's own program is off; created, it is on, and so
    // is its map (after the first one).
    let mut obj = without_externs("struct_ops_cc");
    let p = plan(&obj, Some(&k), &PlanOptions::default()).unwrap();
    assert!(!p.programs.iter().find(|pp| pp.name == "bpfld_cc_alt_ssthresh").unwrap().autoload);
    assert!(p.maps.iter().all(|m| m.real_name != "bpfld_cc_alt"));
    obj.struct_ops[1].autocreate = true;
    let p = plan(&obj, Some(&k), &PlanOptions::default()).unwrap();
    assert!(p.programs.iter().find(|pp| pp.name == "bpfld_cc_alt_ssthresh").unwrap().autoload);
    assert_eq!(p.struct_ops.len(), 2);
    assert_eq!(p.maps[p.struct_ops[1].map].real_name, "bpfld_cc_alt");

    // A program serves one member of one kernel struct: cong_avoid as the
    // alt map's ssthresh is refused.
    let btf = obj.btf.clone().unwrap();
    let cong_avoid = obj.programs.iter().position(|p| p.name == "bpfld_cc_cong_avoid");
    obj.struct_ops[1].set_program(&btf, "ssthresh", cong_avoid).unwrap();
    assert_eq!(
        plan(&obj, Some(&k), &PlanOptions::default()).unwrap_err().to_string(),
        "struct_ops_cc: map 'bpfld_cc_alt': func ptr ssthresh: invalid reuse of prog bpfld_cc_cong_avoid in sec struct_ops \
         with type 27: expected_attach_type 3 != kern_member_idx 2"
    );
}

#[test]
fn shadow_setters_check_members() {
    let mut obj = object("struct_ops_cc");
    let btf = obj.btf.clone().unwrap();
    let st = &mut obj.struct_ops[0];
    assert!(st.set_program(&btf, "name", Some(0)).unwrap_err().to_string().contains("not a function pointer"));
    assert!(st.set_program(&btf, "nope", None).unwrap_err().to_string().contains("has no member 'nope'"));
    assert!(st.set_member_bytes(&btf, "init", &[0; 8]).unwrap_err().to_string().contains("is a function pointer"));
    assert!(st.set_member_bytes(&btf, "name", b"x").unwrap_err().to_string().contains("is 16 bytes, not 1"));
    st.set_member_bytes(&btf, "name", b"renamed\0\0\0\0\0\0\0\0\0").unwrap();
    assert_eq!(&st.data[32..40], b"renamed\0");
}

#[test]
fn refusals_carry_their_facts() {
    use bpfld_obj::struct_ops::{ReuseConflict, StructOpsError};
    use bpfld_obj::ErrorKind;
    let obj = without_externs("struct_ops_cc");
    let refused = |t: Twist| plan(&obj, Some(&kernel(t)), &PlanOptions::default()).unwrap_err().error;

    let e = refused(Twist { ssthresh_is_int: true, ..Default::default() });
    assert_eq!(e.kind(), ErrorKind::Incompatible);
    let cause = e.cause::<StructOpsError>().unwrap();
    assert!(matches!(cause, StructOpsError::MemberKind { member, local: 2, kernel: 1 } if member == "ssthresh"), "{cause:?}");

    let e = refused(Twist { short_name: true, ..Default::default() });
    let cause = e.cause::<StructOpsError>().unwrap();
    assert!(matches!(cause, StructOpsError::MemberSizeDiffers { member, local: 16, kernel: Some(8) } if member == "name"), "{cause:?}");

    let e = refused(Twist { no_init: true, ..Default::default() });
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(matches!(e.cause::<StructOpsError>(), Some(StructOpsError::KernelMemberMissing { member }) if member == "init"));

    let e = refused(Twist { no_value_type: true, ..Default::default() });
    assert!(
        matches!(e.cause::<StructOpsError>(), Some(StructOpsError::KernelStructMissing { name }) if name == "bpf_struct_ops_tcp_congestion_ops")
    );

    let e = refused(Twist { name_is_bitfield: true, ..Default::default() });
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(matches!(e.cause::<StructOpsError>(), Some(StructOpsError::Bitfield { member }) if member == "name"));

    // One program for two members.
    let mut obj = without_externs("struct_ops_cc");
    obj.struct_ops[1].autocreate = true;
    let btf = obj.btf.clone().unwrap();
    let cong_avoid = obj.programs.iter().position(|p| p.name == "bpfld_cc_cong_avoid");
    obj.struct_ops[1].set_program(&btf, "ssthresh", cong_avoid).unwrap();
    let e = plan(&obj, Some(&kernel(Twist::default())), &PlanOptions::default()).unwrap_err().error;
    let cause = e.cause::<StructOpsError>().unwrap();
    let StructOpsError::ProgramReused { member, program, section, conflict } = cause else { panic!("{cause:?}") };
    assert_eq!((member.as_str(), program.as_str(), section.as_str()), ("ssthresh", "bpfld_cc_cong_avoid", "struct_ops"));
    assert_eq!(*conflict, ReuseConflict::Member { first: 3, kernel: 2 });
}

#[test]
fn setter_errors_carry_struct_and_member() {
    use bpfld_obj::struct_ops::StructOpsError;
    let mut obj = object("struct_ops_cc");
    let btf = obj.btf.clone().unwrap();
    let st = &mut obj.struct_ops[0];
    let e = st.set_member_bytes(&btf, "name", b"x").unwrap_err();
    assert!(
        matches!(&e, StructOpsError::MemberSize { struct_name, member, size: 16, given: 1 } if struct_name == "tcp_congestion_ops" && member == "name"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "member 'name' of struct tcp_congestion_ops is 16 bytes, not 1");
    let e = st.set_program(&btf, "nope", None).unwrap_err();
    assert!(matches!(&e, StructOpsError::NoSuchMember { member, .. } if member == "nope"), "{e:?}");
    assert_eq!(e.to_string(), "struct tcp_congestion_ops has no member 'nope'");
}
