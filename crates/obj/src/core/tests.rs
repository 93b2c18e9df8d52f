//! Unit tests of CO-RE resolution on hand-built local and target BTF,
//! for the rules that real kernels do not exercise on demand: ambiguity,
//! candidate pruning, module search order, size adjustment, bitfields that
//! straddle load units, enum sign extension.

use bpfld_asm::insn::{op, poison};
use bpfld_asm::Insn;
use bpfld_btf::ext::{CoreRelo, CoreReloKind as K};
use bpfld_btf::writer::{OwnedMember, OwnedType, TypeData, Writer};
use bpfld_btf::{ArrayInfo, Btf, Kind};

use super::candidates::CandidateCache;
use super::{apply_one, CoreError, CoreFailure, CoreRelocation, CoreStep, Indexed, InsnForm, LocalType, PatchAction};
use crate::error::{ErrorKind, Kind as _};
use crate::target::{BtfOwner, ModuleBtf, Target};

/// Pushes one type per call and returns its id.
struct B {
    w: Writer,
}

impl B {
    fn new() -> B {
        B { w: Writer::new() }
    }
    fn split(base: &Btf) -> B {
        B { w: Writer::new_split(base) }
    }
    fn push(&mut self, name: &str, kind: Kind, kflag: bool, size_or_type: u32, data: TypeData) -> u32 {
        self.w.push(OwnedType { name: name.into(), kind, kflag, size_or_type, data })
    }
    fn int(&mut self, name: &str, size: u32, signed: bool) -> u32 {
        self.push(name, Kind::Int, false, size, TypeData::Int((u32::from(signed) << 24) | (size * 8)))
    }
    fn ptr(&mut self, to: u32) -> u32 {
        self.push("", Kind::Ptr, false, to, TypeData::None)
    }
    fn array(&mut self, elem: u32, index: u32, n: u32) -> u32 {
        self.push("", Kind::Array, false, 0, TypeData::Array(ArrayInfo { elem_type: elem, index_type: index, nelems: n }))
    }
    fn typedef(&mut self, name: &str, to: u32) -> u32 {
        self.push(name, Kind::Typedef, false, to, TypeData::None)
    }
    /// Members as (name, type, bit offset).
    fn composite(&mut self, kind: Kind, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        let m = members.iter().map(|&(n, t, o)| OwnedMember { name: n.into(), type_id: t, offset: o }).collect();
        self.push(name, kind, false, size, TypeData::Members(m))
    }
    fn strukt(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.composite(Kind::Struct, name, size, members)
    }
    fn union(&mut self, name: &str, size: u32, members: &[(&str, u32, u32)]) -> u32 {
        self.composite(Kind::Union, name, size, members)
    }
    /// A struct with kflag set: members as (name, type, bit offset, bits).
    fn bitfields(&mut self, name: &str, size: u32, members: &[(&str, u32, u32, u32)]) -> u32 {
        let m = members.iter().map(|&(n, t, o, b)| OwnedMember { name: n.into(), type_id: t, offset: (b << 24) | o }).collect();
        self.push(name, Kind::Struct, true, size, TypeData::Members(m))
    }
    fn enum32(&mut self, name: &str, signed: bool, values: &[(&str, u32)]) -> u32 {
        let v = values.iter().map(|&(n, x)| (n.to_string(), x)).collect();
        self.push(name, Kind::Enum, signed, 4, TypeData::Enum(v))
    }
    fn enum64(&mut self, name: &str, values: &[(&str, u64)]) -> u32 {
        let v = values.iter().map(|&(n, x)| (n.to_string(), x)).collect();
        self.push(name, Kind::Enum64, false, 8, TypeData::Enum64(v))
    }
    fn build(&self) -> Btf {
        Btf::from_vec(self.w.write().unwrap()).unwrap()
    }
    fn build_split(&self, base: &Btf) -> Btf {
        Btf::from_vec_split(self.w.write().unwrap(), base).unwrap()
    }
}

fn alu(imm: i32) -> Insn {
    Insn::mov64_imm(1, imm)
}
fn ldx(size: u8, off: i16) -> Insn {
    Insn::new(op::LDX | op::MEM | size, 1, 2, off, 0)
}
fn ld_imm64(v: u64) -> [Insn; 2] {
    [Insn::new(op::LD_IMM64, 1, 0, 0, v as u32 as i32), Insn::new(0, 0, 0, 0, (v >> 32) as u32 as i32)]
}

/// Applies one relocation to `insn` (followed by a spare instruction for
/// the second half of an `ld_imm64`).
fn apply(
    local: &Btf,
    target: &Target,
    cache: &mut CandidateCache,
    kind: K,
    type_id: u32,
    access: &str,
    insns: &[Insn],
) -> Result<(CoreRelocation, Vec<Insn>), CoreError> {
    let mut v = insns.to_vec();
    v.push(Insn::default());
    let rec = CoreRelo { insn_off: 0, type_id, access_str_off: 0, kind };
    let r = apply_one(&rec, 0, access, local, target, cache, &mut v, 0)?;
    Ok((r, v))
}

/// The layout of the field tests:
///
/// ```c
/// struct inner { int x; int y; };
/// // local (the object's idea)
/// struct foo { int a; union { int b; struct { int c; int d; }; }; struct inner arr[3]; };
/// // target (the kernel's): fields moved, the anonymous union last and
/// // its struct reordered
/// struct foo { long z; int a; int pad; struct inner arr[4];
///              union { struct { int d; int c; }; int b; }; };
/// ```
struct Layout {
    local: Btf,
    foo: u32,
    target: Target,
    targ_foo: u32,
}

fn layout() -> Layout {
    let mut l = B::new();
    let int = l.int("int", 4, true);
    let inner = l.strukt("inner", 8, &[("x", int, 0), ("y", int, 32)]);
    let cd = l.strukt("", 8, &[("c", int, 0), ("d", int, 32)]);
    let u = l.union("", 8, &[("b", int, 0), ("", cd, 0)]);
    let arr = l.array(inner, int, 3);
    let foo = l.strukt("foo", 36, &[("a", int, 0), ("", u, 32), ("arr", arr, 96)]);
    let mut t = B::new();
    let tint = t.int("int", 4, true);
    let tlong = t.int("long", 8, true);
    let tinner = t.strukt("inner", 8, &[("x", tint, 0), ("y", tint, 32)]);
    let tdc = t.strukt("", 8, &[("d", tint, 0), ("c", tint, 32)]);
    let tu = t.union("", 8, &[("", tdc, 0), ("b", tint, 0)]);
    let tarr = t.array(tinner, tint, 4);
    let targ_foo = t.strukt("foo", 56, &[("z", tlong, 0), ("a", tint, 64), ("pad", tint, 96), ("arr", tarr, 128), ("", tu, 384)]);
    Layout { local: l.build(), foo, target: Target::new("t", t.build()), targ_foo }
}

#[test]
fn field_offsets_follow_named_members_through_anonymous_ones() {
    let x = layout();
    let mut c = CandidateCache::default();
    let cases = [
        ("0:0", 0, 8, "foo.a (0:0 @ offset 0)"),
        ("0:1:0", 4, 48, "foo.b (0:1:0 @ offset 4)"),
        ("0:1:1:0", 4, 52, "foo.c (0:1:1:0 @ offset 4)"),
        ("0:1:1:1", 8, 48, "foo.d (0:1:1:1 @ offset 8)"),
        ("0:2:2:1", 32, 36, "foo.arr[2].y (0:2:2:1 @ offset 32)"),
        ("0:2:2", 28, 32, "foo.arr[2] (0:2:2 @ offset 28)"),
    ];
    for (access, local_off, targ_off, spec) in cases {
        let (r, v) = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, access, &[alu(local_off)]).unwrap();
        assert_eq!((r.orig_value, r.new_value), (local_off as u64, targ_off), "{access}");
        assert_eq!(v[0].imm() as u64, targ_off, "{access}");
        assert_eq!(r.spec, format!("<byte_off> [{}] struct {spec}", x.foo), "{access}");
        assert_eq!(r.target.as_ref().map(|t| (t.owner, t.type_id)), Some((BtfOwner::Vmlinux, x.targ_foo)));
        assert_eq!(r.failure, None);
    }
    // The target spec records the kernel's path: d is member 0 of the
    // anonymous struct inside the anonymous union (member 4 of foo).
    let (r, _) = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:1:1:1", &[alu(8)]).unwrap();
    assert_eq!(r.target.unwrap().spec, format!("<byte_off> [{}] struct foo.d (0:4:0:0 @ offset 48)", x.targ_foo));
    // A root index is an array access through the pointer: p[1].a.
    let (r, _) = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "1:0", &[alu(36)]).unwrap();
    assert_eq!(r.new_value, 56 + 8);
    assert!(r.spec.ends_with("struct foo[1].a (1:0 @ offset 36)"), "{}", r.spec);
    // Sizes and existence.
    let (r, _) = apply(&x.local, &x.target, &mut c, K::FieldByteSize, x.foo, "0:2", &[alu(24)]).unwrap();
    assert_eq!(r.new_value, 32, "arr has 4 elements in the target");
    let (r, _) = apply(&x.local, &x.target, &mut c, K::FieldExists, x.foo, "0:1:1:0", &[alu(1)]).unwrap();
    assert_eq!(r.new_value, 1);
    let (r, _) = apply(&x.local, &x.target, &mut c, K::FieldSigned, x.foo, "0:0", &[alu(1)]).unwrap();
    assert_eq!(r.new_value, 1);
    // Index 3 exists in the target's arr[4] but not in the local arr[3]:
    // the local spec is checked first.
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:2:3", &[alu(0)]).unwrap_err().to_string();
    assert!(e.contains("array index 3 out of range"), "{e}");
}

#[test]
fn loads_are_patched_and_checked_against_the_local_value() {
    let x = layout();
    let mut c = CandidateCache::default();
    let (r, v) = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:2:2:1", &[ldx(op::W, 32)]).unwrap();
    assert_eq!(r.action, PatchAction::MemOff { mem_size: None });
    assert_eq!(v[0], ldx(op::W, 36));
    // The instruction does not hold what the local BTF says.
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:2:2:1", &[ldx(op::W, 20)]).unwrap_err().to_string();
    assert_eq!(e, "unexpected insn #0 (LDX/ST/STX) value: got 20, exp 32 -> 36");
    // A jump cannot carry a relocation.
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:0", &[Insn::new(op::JMP | 0x10, 1, 0, 0, 0)]);
    assert!(e.unwrap_err().to_string().starts_with("trying to relocate unrecognized insn #0"));
}

#[test]
fn bad_records_are_errors() {
    let x = layout();
    let mut c = CandidateCache::default();
    let count = x.local.type_count();
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, count, "0:0", &[alu(0)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = e.to_string();
    assert!(e.contains(&format!("type id [{count}] out of range")), "{e}");
    for bad in ["", ":0", "0:", "0:x", "0:9", "0:0:0"] {
        let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, bad, &[alu(0)]).unwrap_err().to_string();
        assert!(e.starts_with(&format!("parsing [{}] struct foo + {bad} failed", x.foo)), "{bad:?}: {e}");
    }
    let e = apply(&x.local, &x.target, &mut c, K::TypeExists, x.foo, "0:0", &[alu(1)]).unwrap_err().to_string();
    assert!(e.contains("must be \"0\""), "{e}");
    // Anonymous local types have no candidates to search for.
    let anon = x.local.all_types().find(|t| t.kind() == Kind::Union).unwrap().id();
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, anon, "0:0", &[alu(0)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    let e = e.to_string();
    assert!(e.contains("anonymous types cannot be relocated"), "{e}");
    // local_type_id needs no candidate, anonymous or not.
    let (r, _) = apply(&x.local, &x.target, &mut c, K::TypeIdLocal, anon, "0", &[alu(12345)]).unwrap();
    assert_eq!((r.orig_value, r.new_value), (u64::from(anon), u64::from(anon)));
    assert_eq!(r.failure, None);
}

#[test]
fn flavors_match_by_essential_name_and_missing_fields_poison() {
    // struct inode___old { long i_ctime; } and struct inode___new
    // { long i_ctime_sec; } against a kernel with only the new field.
    let mut l = B::new();
    let long = l.int("long", 8, true);
    let old = l.strukt("inode___old", 8, &[("i_ctime", long, 0)]);
    let new = l.strukt("inode___new", 8, &[("i_ctime_sec", long, 0)]);
    let local = l.build();
    let mut t = B::new();
    let tlong = t.int("long", 8, true);
    let inode = t.strukt("inode", 24, &[("i_ino", tlong, 0), ("i_ctime_sec", tlong, 128)]);
    t.strukt("inode_operations", 8, &[]);
    t.push("inode", Kind::Fwd, false, 0, TypeData::None);
    let target = Target::new("t", t.build());
    let mut c = CandidateCache::default();

    let (r, _) = apply(&local, &target, &mut c, K::FieldExists, new, "0:0", &[alu(1)]).unwrap();
    assert_eq!((r.new_value, r.matched), (1, 1), "only the STRUCT inode is a candidate");
    let (r, _) = apply(&local, &target, &mut c, K::FieldByteOffset, new, "0:0", &[alu(0)]).unwrap();
    assert_eq!(r.new_value, 16);
    assert_eq!(r.target.unwrap().type_id, inode);

    let (r, v) = apply(&local, &target, &mut c, K::FieldExists, old, "0:0", &[alu(1)]).unwrap();
    assert_eq!((r.new_value, v[0].imm()), (0, 0));
    assert_eq!(r.failure, Some(CoreFailure::NoMatch { candidates: 1 }));
    assert!(!r.poisoned(), "existence tests are patched to 0, not poisoned");
    let (r, v) = apply(&local, &target, &mut c, K::FieldByteOffset, old, "0:0", &[ldx(op::DW, 0)]).unwrap();
    assert!(r.poisoned());
    assert_eq!(v[0], Insn::call_helper(poison::CORE_RELO));
    assert_eq!(
        r.log_explanation(),
        format!("failed to resolve CO-RE relocation <byte_off> [{old}] struct inode___old.i_ctime (0:0 @ offset 0)")
    );
    // A poisoned ld_imm64 loses both halves.
    let (r, v) = apply(&local, &target, &mut c, K::FieldByteOffset, old, "0:0", &ld_imm64(0)).unwrap();
    assert!(r.poisoned());
    assert_eq!(&v[..2], &[Insn::call_helper(poison::CORE_RELO); 2]);
    // No type of that name at all.
    let mut l2 = B::new();
    let int = l2.int("int", 4, true);
    let nope = l2.strukt("no_such_type", 4, &[("x", int, 0)]);
    let local2 = l2.build();
    let (r, _) = apply(&local2, &target, &mut CandidateCache::default(), K::TypeExists, nope, "0", &[alu(1)]).unwrap();
    assert_eq!((r.new_value, r.failure), (0, Some(CoreFailure::NoCandidate)));
}

/// Two target candidates (`foo` and `foo___2`, as BTF deduplication or a
/// kernel's own flavors leave them) that agree are fine; that disagree on
/// the field's offset or on the value are an error, however many others
/// agree (aya gets this wrong: its issue 1727).
#[test]
fn candidates_that_disagree_are_ambiguous() {
    let mut l = B::new();
    let int = l.int("int", 4, true);
    let foo = l.strukt("foo", 8, &[("a", int, 0), ("b", int, 32)]);
    let local = l.build();

    let mut agree = B::new();
    let ti = agree.int("int", 4, true);
    let f1 = agree.strukt("foo", 12, &[("z", ti, 0), ("a", ti, 32), ("b", ti, 64)]);
    let f2 = agree.strukt("foo___2", 16, &[("z", ti, 0), ("a", ti, 32), ("b", ti, 64), ("w", ti, 96)]);
    let agree = Target::new("agree", agree.build());
    let mut c = CandidateCache::default();
    let (r, _) = apply(&local, &agree, &mut c, K::FieldByteOffset, foo, "0:1", &[alu(4)]).unwrap();
    assert_eq!((r.new_value, r.candidates, r.matched), (8, 2, 2));
    assert_eq!(r.target.unwrap().type_id, f1, "the first match's result is used");
    // ... but their sizes and ids differ.
    let e = apply(&local, &agree, &mut c, K::TypeSize, foo, "0", &[alu(8)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incompatible);
    let e = e.to_string();
    assert_eq!(e.split(" (candidates").next().unwrap(), "relocation decision ambiguity: success 16 != success 12");
    let e = apply(&local, &agree, &mut c, K::TypeIdTarget, foo, "0", &[alu(0)]).unwrap_err().to_string();
    assert!(e.starts_with(&format!("relocation decision ambiguity: success {f2} != success {f1}")), "{e}");

    let mut disagree = B::new();
    let ti = disagree.int("int", 4, true);
    disagree.strukt("foo", 8, &[("a", ti, 0), ("b", ti, 32)]);
    disagree.strukt("foo___2", 12, &[("z", ti, 0), ("a", ti, 32), ("b", ti, 64)]);
    let disagree = Target::new("disagree", disagree.build());
    let mut c = CandidateCache::default();
    let e = apply(&local, &disagree, &mut c, K::FieldByteOffset, foo, "0:1", &[alu(4)]).unwrap_err().to_string();
    assert!(e.starts_with("field offset ambiguity: 64 != 32"), "{e}");
    // Even an existence test: both say 1, but the offsets differ.
    let e = apply(&local, &disagree, &mut c, K::FieldExists, foo, "0:1", &[alu(1)]).unwrap_err().to_string();
    assert!(e.starts_with("field offset ambiguity"), "{e}");
}

/// The candidate list of a local type is shared by all its relocations and
/// shrinks to the candidates each relocation matched (libbpf), so a later
/// relocation can fail on a candidate an earlier one eliminated.
#[test]
fn matching_prunes_the_shared_candidate_list() {
    let mut l = B::new();
    let int = l.int("int", 4, true);
    let foo = l.strukt("foo", 12, &[("a", int, 0), ("b", int, 32), ("c", int, 64)]);
    let local = l.build();
    let mut t = B::new();
    let ti = t.int("int", 4, true);
    let with_b = t.strukt("foo", 8, &[("a", ti, 0), ("b", ti, 32)]);
    t.strukt("foo___2", 8, &[("a", ti, 0), ("c", ti, 32)]);
    let target = Target::new("t", t.build());

    let mut c = CandidateCache::default();
    let (r, _) = apply(&local, &target, &mut c, K::FieldByteOffset, foo, "0:0", &[alu(0)]).unwrap();
    assert_eq!((r.candidates, r.matched), (2, 2));
    let (r, _) = apply(&local, &target, &mut c, K::FieldByteOffset, foo, "0:1", &[alu(4)]).unwrap();
    assert_eq!((r.candidates, r.matched, r.target.unwrap().type_id), (2, 1, with_b));
    // foo___2, which has c, was dropped by the relocation of b.
    let (r, _) = apply(&local, &target, &mut c, K::FieldExists, foo, "0:2", &[alu(1)]).unwrap();
    assert_eq!((r.candidates, r.matched, r.new_value), (1, 0, 0));
    // A list with no match is left alone.
    let (r, _) = apply(&local, &target, &mut c, K::FieldExists, foo, "0:1", &[alu(1)]).unwrap();
    assert_eq!((r.candidates, r.new_value), (1, 1));
    // In a fresh cache, c resolves.
    let mut fresh = CandidateCache::default();
    let (r, _) = apply(&local, &target, &mut fresh, K::FieldByteOffset, foo, "0:2", &[alu(8)]).unwrap();
    assert_eq!(r.new_value, 4);
}

#[test]
fn vmlinux_candidates_hide_module_ones() {
    let mut l = B::new();
    let int = l.int("int", 4, true);
    let both = l.strukt("both", 4, &[("a", int, 0)]);
    let only_mod = l.strukt("only_mod", 4, &[("r", int, 0)]);
    let local = l.build();

    let mut v = B::new();
    let vi = v.int("int", 4, true);
    let vboth = v.strukt("both", 4, &[("a", vi, 0)]);
    let vmlinux = v.build();
    let mut m0 = B::split(&vmlinux);
    m0.strukt("both", 8, &[("x", vi, 0), ("a", vi, 32)]);
    let m0_only = m0.strukt("only_mod", 8, &[("q", vi, 0), ("r", vi, 32)]);
    let mut m1 = B::split(&vmlinux);
    m1.strukt("padding", 0, &[]);
    m1.strukt("more_padding", 0, &[]);
    let m1_only = m1.strukt("only_mod", 8, &[("q", vi, 0), ("r", vi, 32)]);
    let mut target = Target::new("t", vmlinux.clone());
    target.modules.push(ModuleBtf { name: "m0".into(), btf: m0.build_split(&vmlinux) });
    target.modules.push(ModuleBtf { name: "m1".into(), btf: m1.build_split(&vmlinux) });

    let mut c = CandidateCache::default();
    // In vmlinux: the module's namesake (which would disagree) is not
    // even considered.
    let (r, _) = apply(&local, &target, &mut c, K::FieldByteOffset, both, "0:0", &[alu(0)]).unwrap();
    assert_eq!((r.new_value, r.candidates), (0, 1));
    assert_eq!(r.target.map(|t| (t.owner, t.type_id)), Some((BtfOwner::Vmlinux, vboth)));
    // Only in modules: both modules' copies are candidates, in module
    // order; they agree on the field.
    let (r, _) = apply(&local, &target, &mut c, K::FieldByteOffset, only_mod, "0:0", &[alu(0)]).unwrap();
    assert_eq!((r.new_value, r.candidates, r.matched), (4, 2, 2));
    assert_eq!(r.target.map(|t| (t.owner, t.type_id)), Some((BtfOwner::Module(0), m0_only)));
    // Their ids differ, so the target type id is ambiguous.
    assert_ne!(m0_only, m1_only);
    let e = apply(&local, &target, &mut c, K::TypeIdTarget, only_mod, "0", &[alu(0)]).unwrap_err().to_string();
    assert!(e.starts_with(&format!("relocation decision ambiguity: success {m1_only} != success {m0_only}")), "{e}");
}

#[test]
fn bitfields_get_load_units_and_shifts() {
    // Local:  struct bf { unsigned x:3; unsigned y:5; int s:4; };
    // Target: struct bf { int pad; unsigned y:5 at bit 30 (straddling the
    //         first 4-byte unit); unsigned x:3 at 32; unsigned s:4 at 40 };
    let mut l = B::new();
    let ui = l.int("unsigned int", 4, false);
    let si = l.int("int", 4, true);
    let bf = l.bitfields("bf", 4, &[("x", ui, 0, 3), ("y", ui, 3, 5), ("s", si, 8, 4)]);
    let local = l.build();
    let mut t = B::new();
    let tui = t.int("unsigned int", 4, false);
    let tbf = t.bitfields("bf", 8, &[("pad", tui, 0, 30), ("y", tui, 30, 5), ("x", tui, 35, 3), ("s", tui, 40, 4)]);
    let target = Target::new("t", t.build());
    let mut c = CandidateCache::default();
    let run = |c: &mut CandidateCache, kind, access, local_val: i32| {
        apply(&local, &target, c, kind, bf, access, &[alu(local_val)]).map(|(r, _)| (r.orig_value, r.new_value))
    };
    // y: locally bits 3..8 of a 4-byte unit at 0; in the target bits 30..35
    // need an 8-byte unit at 0.
    assert_eq!(run(&mut c, K::FieldByteOffset, "0:1", 0).unwrap(), (0, 0));
    assert_eq!(run(&mut c, K::FieldByteSize, "0:1", 4).unwrap(), (4, 8));
    assert_eq!(run(&mut c, K::FieldLshiftU64, "0:1", 0).unwrap(), (56, 29));
    assert_eq!(run(&mut c, K::FieldRshiftU64, "0:1", 59).unwrap(), (59, 59));
    // Offsets and shifts of bitfields are not validated (the compiler may
    // pick another unit), signedness and right shifts are.
    assert!(run(&mut c, K::FieldLshiftU64, "0:1", 7).is_ok());
    assert!(run(&mut c, K::FieldRshiftU64, "0:1", 7).is_err());
    // x at 35..38 fits the 4-byte unit at 4.
    assert_eq!(run(&mut c, K::FieldByteOffset, "0:0", 0).unwrap(), (0, 4));
    assert_eq!(run(&mut c, K::FieldLshiftU64, "0:0", 0).unwrap(), (61, 58));
    assert_eq!(run(&mut c, K::FieldSigned, "0:2", 1).unwrap(), (1, 0));
    assert!(run(&mut c, K::FieldSigned, "0:2", 0).is_err());
    let (r, _) = apply(&local, &target, &mut c, K::FieldByteOffset, bf, "0:1", &[alu(0)]).unwrap();
    assert_eq!(r.spec, format!("<byte_off> [{bf}] struct bf.y (0:1 @ offset 0.3)"));
    assert_eq!(r.target.unwrap().spec, format!("<byte_off> [{tbf}] struct bf.y (0:1 @ offset 3.6)"));

    // A bitfield no 8-byte load can hold: an error, not a poisoning.
    let mut t = B::new();
    let tui = t.int("unsigned int", 4, false);
    t.bitfields("bf", 16, &[("y", tui, 62, 5)]);
    let target = Target::new("t", t.build());
    let e = apply(&local, &target, &mut CandidateCache::default(), K::FieldByteOffset, bf, "0:1", &[alu(0)]).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Incompatible);
    let e = e.to_string();
    assert!(e.contains("can't be read with a 64-bit load"), "{e}");
}

#[test]
fn field_size_changes_adjust_loads_only_when_safe() {
    let mut l = B::new();
    let u32_ = l.int("unsigned int", 4, false);
    let i32_ = l.int("int", 4, true);
    let ms = l.strukt("ms", 8, &[("u", u32_, 0), ("s", i32_, 32)]);
    let local = l.build();
    let mut t = B::new();
    let u64_ = t.int("long unsigned int", 8, false);
    let i64_ = t.int("long", 8, true);
    let td = t.typedef("u64", u64_);
    t.strukt("ms", 16, &[("u", td, 0), ("s", i64_, 64)]);
    let target = Target::new("t", t.build());
    let mut c = CandidateCache::default();
    // Unsigned 4 -> 8 bytes: the load widens.
    let (r, v) = apply(&local, &target, &mut c, K::FieldByteOffset, ms, "0:0", &[ldx(op::W, 0)]).unwrap();
    assert_eq!(r.action, PatchAction::MemOff { mem_size: Some((4, 8)) });
    assert_eq!(v[0], ldx(op::DW, 0));
    // Signed: the load would lose the sign, so it is poisoned...
    let (r, v) = apply(&local, &target, &mut c, K::FieldByteOffset, ms, "0:1", &[ldx(op::W, 4)]).unwrap();
    assert!(r.poisoned());
    assert_eq!(r.failure, Some(CoreFailure::IncompatibleSize { local_size: 4, target_size: 8 }));
    assert_eq!(v[0], Insn::call_helper(poison::CORE_RELO));
    // ... while an offset computed in a register is patched.
    let (r, v) = apply(&local, &target, &mut c, K::FieldByteOffset, ms, "0:1", &[alu(4)]).unwrap();
    assert_eq!((r.action, v[0].imm(), r.failure), (PatchAction::AluImm, 8, None));
}

#[test]
fn enumerators_by_essential_name_with_libbpf_sign_extension() {
    let mut l = B::new();
    let e = l.enum32("e", false, &[("A", 1), ("B___x", 2), ("GONE", 3)]);
    let big = l.enum64("big", &[("X", 1 << 40), ("HIGH", 0x8000_0000)]);
    let local = l.build();
    let mut t = B::new();
    t.enum32("e", false, &[("B", 7), ("A", 9)]);
    // The kernel's `big` became a 32-bit enum (as netdev_priv_flags did
    // between 6.1 and 6.12), and X is gone.
    let tbig = t.enum32("big", false, &[("HIGH", 0x8000_0000)]);
    let target = Target::new("t", t.build());
    let mut c = CandidateCache::default();
    let (r, v) = apply(&local, &target, &mut c, K::EnumvalValue, e, "0", &[alu(1)]).unwrap();
    assert_eq!((r.new_value, v[0].imm()), (9, 9));
    assert_eq!(r.spec, format!("<enumval_value> [{e}] enum e::A = 1"));
    let (r, _) = apply(&local, &target, &mut c, K::EnumvalValue, e, "1", &[alu(2)]).unwrap();
    assert_eq!(r.new_value, 7, "B___x matches B");
    let (r, _) = apply(&local, &target, &mut c, K::EnumvalExists, e, "2", &[alu(1)]).unwrap();
    assert_eq!(r.new_value, 0);
    let (r, v) = apply(&local, &target, &mut c, K::EnumvalValue, e, "2", &[alu(3)]).unwrap();
    assert!(r.poisoned());
    assert_eq!(v[0], Insn::call_helper(poison::CORE_RELO));
    // ENUM64 against ENUM.
    let (r, _) = apply(&local, &target, &mut c, K::EnumvalExists, big, "0", &[alu(1)]).unwrap();
    assert_eq!(r.new_value, 0);
    let (r, v) = apply(&local, &target, &mut c, K::EnumvalValue, big, "1", &ld_imm64(0x8000_0000)).unwrap();
    // libbpf reads a 32-bit enumerator as a signed int, whatever the enum's
    // signedness, and writes it into the 64-bit immediate sign-extended.
    assert_eq!(r.new_value, 0xffff_ffff_8000_0000);
    assert_eq!((v[0].imm(), v[1].imm()), (i32::MIN, -1));
    assert_eq!(r.target.unwrap().spec, format!("<enumval_value> [{tbig}] enum big::HIGH = 2147483648"));
    assert_eq!(r.spec, format!("<enumval_value> [{big}] enum64 big::HIGH = 2147483648"));
    // An index beyond the enumerators, or a second index, is malformed.
    assert!(apply(&local, &target, &mut c, K::EnumvalValue, e, "3", &[alu(0)]).is_err());
    assert!(apply(&local, &target, &mut c, K::EnumvalValue, e, "0:0", &[alu(0)]).is_err());
}

#[test]
fn type_relocations() {
    let mut l = B::new();
    let int = l.int("int", 4, true);
    let uint = l.int("unsigned int", 4, false);
    let tm = l.strukt("tm", 4, &[("a", int, 0)]);
    let tm2 = l.strukt("tm2", 4, &[("a", uint, 0)]);
    let lptr = l.ptr(tm);
    let td = l.typedef("tm_ptr", lptr);
    let local = l.build();
    let mut t = B::new();
    let ti = t.int("int", 4, true);
    let ttm = t.strukt("tm", 8, &[("b", ti, 0), ("a", ti, 32)]);
    t.strukt("tm2", 4, &[("a", ti, 0)]);
    let tp = t.ptr(ttm);
    let ttd = t.typedef("tm_ptr", tp);
    let target = Target::new("t", t.build());
    let mut c = CandidateCache::default();
    let val =
        |c: &mut CandidateCache, kind, id, local_val| apply(&local, &target, c, kind, id, "0", &[alu(local_val)]).map(|(r, _)| r.new_value);
    assert_eq!(val(&mut c, K::TypeExists, tm, 1).unwrap(), 1);
    assert_eq!(val(&mut c, K::TypeSize, tm, 4).unwrap(), 8);
    assert_eq!(val(&mut c, K::TypeIdTarget, tm, 999).unwrap(), u64::from(ttm), "the local id is not validated");
    assert_eq!(val(&mut c, K::TypeMatches, tm, 1).unwrap(), 1, "extra target members are fine");
    assert_eq!(val(&mut c, K::TypeMatches, tm2, 1).unwrap(), 0, "unsigned int is not int");
    assert_eq!(val(&mut c, K::TypeExists, tm2, 1).unwrap(), 1, "compat ignores member types");
    assert_eq!(val(&mut c, K::TypeSize, td, 8).unwrap(), 8);
    assert_eq!(val(&mut c, K::TypeIdTarget, td, 0).unwrap(), u64::from(ttd));
    let (r, _) = apply(&local, &target, &mut c, K::TypeSize, tm, "0", &[alu(4)]).unwrap();
    assert_eq!(r.spec, format!("<type_size> [{tm}] struct tm"));
    assert!(apply(&local, &target, &mut c, K::TypeSize, tm, "0", &[alu(5)]).is_err(), "validated");
}

/// The error beneath the steps (`During`) that name where it happened.
fn innermost(e: &CoreError) -> &CoreError {
    match e {
        CoreError::During { cause, .. } => innermost(cause),
        e => e,
    }
}

#[test]
fn errors_carry_their_facts() {
    let x = layout();
    let mut c = CandidateCache::default();
    let arr = x.local.all_types().find(|t| t.kind() == Kind::Array).unwrap().id();
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:2:3", &[alu(0)]).unwrap_err();
    let inner = innermost(&e);
    assert!(
        matches!(inner, CoreError::IndexOutOfRange { indexed: Indexed::ArrayElement, type_id, index: 3, count: 3 } if *type_id == arr),
        "{inner:?}"
    );
    assert_eq!(inner.to_string(), format!("array index 3 out of range: [{arr}] has 3 elements"));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(std::ptr::eq(std::error::Error::source(&e).unwrap().downcast_ref::<CoreError>().unwrap(), inner));
    let CoreError::During { step: CoreStep::Parsing { local, access }, .. } = &e else { panic!("{e:?}") };
    assert_eq!((local.type_id, local.kind, local.name.as_str(), access.as_str()), (x.foo, Some(Kind::Struct), "foo", "0:2:3"));

    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:2:2:1", &[ldx(op::W, 20)]).unwrap_err();
    assert!(matches!(e, CoreError::UnexpectedValue { insn: 0, form: InsnForm::Mem, found: 20, expected: 32, new: 36 }), "{e:?}");

    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, x.foo, "0:0", &[Insn::new(op::JMP | 0x10, 1, 0, -2, 7)]).unwrap_err();
    assert!(matches!(e, CoreError::UnrecognizedInsn { insn: 0, code: 0x15, src: 0, dst: 1, off: -2, imm: 7 }), "{e:?}");
    assert_eq!(e.to_string(), "trying to relocate unrecognized insn #0, code:0x15, src:0x0, dst:0x1, off:0xfffe, imm:0x7");

    let count = x.local.type_count();
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, count, "0:0", &[alu(0)]).unwrap_err();
    assert!(matches!(e, CoreError::TypeIdOutOfRange { type_id, last } if type_id == count && last == count - 1), "{e:?}");

    let e = apply(&x.local, &x.target, &mut c, K::TypeExists, x.foo, "0:0", &[alu(1)]).unwrap_err();
    assert!(matches!(innermost(&e), CoreError::TypeAccessNotZero { access } if access == "0:0"), "{e:?}");

    let anon = x.local.all_types().find(|t| t.kind() == Kind::Union).unwrap().id();
    let e = apply(&x.local, &x.target, &mut c, K::FieldByteOffset, anon, "0:0", &[alu(0)]).unwrap_err();
    assert!(matches!(innermost(&e), CoreError::AnonymousType { type_id } if *type_id == anon), "{e:?}");
    let CoreError::During { step: CoreStep::CandidateSearch { local }, .. } = &e else { panic!("{e:?}") };
    assert_eq!(*local, LocalType { type_id: anon, kind: Some(Kind::Union), name: String::new() });
    assert_eq!(e.to_string(), format!("target candidate search failed for [{anon}] union <anon>: anonymous types cannot be relocated"));
    assert_eq!(e.kind(), ErrorKind::Unsupported);

    // The instruction index is checked before anything else.
    let rec = CoreRelo { insn_off: 0, type_id: x.foo, access_str_off: 0, kind: K::FieldByteOffset };
    let e = apply_one(&rec, 0, "0:0", &x.local, &x.target, &mut c, &mut [alu(0)], 1).unwrap_err();
    assert!(matches!(e, CoreError::InsnOutOfRange { insn: 1, len: 1 }), "{e:?}");
    assert_eq!(e.to_string(), "instruction 1 is past the end of the function (1 instructions)");
}

#[test]
fn ambiguity_errors_name_both_candidates() {
    let mut l = B::new();
    let int = l.int("int", 4, true);
    let foo = l.strukt("foo", 8, &[("a", int, 0), ("b", int, 32)]);
    let local = l.build();
    let mut t = B::new();
    let ti = t.int("int", 4, true);
    t.strukt("foo", 8, &[("a", ti, 0), ("b", ti, 32)]);
    t.strukt("foo___2", 12, &[("z", ti, 0), ("a", ti, 32), ("b", ti, 64)]);
    let target = Target::new("disagree", t.build());
    let e = apply(&local, &target, &mut CandidateCache::default(), K::FieldByteOffset, foo, "0:1", &[alu(4)]).unwrap_err();
    let CoreError::OffsetAmbiguity { bit_offset: 64, first_bit_offset: 32, candidate, first } = &e else { panic!("{e:?}") };
    assert!(candidate.contains("foo___2.b"), "{candidate}");
    assert!(first.contains("foo.b"), "{first}");
    assert_eq!(e.to_string(), format!("field offset ambiguity: 64 != 32 (candidates {candidate} and {first})"));
    assert_eq!(e.kind(), ErrorKind::Incompatible);
}
