//! struct_ops maps, as libbpf 1.7 opens and prepares them.
//!
//! A `SEC(".struct_ops")` (or `.struct_ops.link`) variable of type
//! `struct tcp_congestion_ops` is a map of type `BPF_MAP_TYPE_STRUCT_OPS`
//! whose one value is the kernel's `struct bpf_struct_ops_tcp_congestion_ops`
//! (a header, then the kernel's `struct tcp_congestion_ops`). Its
//! function-pointer members point, through ELF relocations, to
//! `SEC("struct_ops/...")` programs; the kernel gets those programs' fds in
//! the pointer slots.
//!
//! Opening (`open_struct_ops_maps`, `bind_members`) is libbpf's
//! `init_struct_ops_maps` and `bpf_object__collect_st_ops_relos`: one map per
//! variable of the section's DATASEC, its bytes in the *object's* layout,
//! and the program each function-pointer member points to. Planning
//! ([`prepare`]) is `bpf_map__init_kern_struct_ops` and
//! `bpf_object_adjust_struct_ops_autoload`: the kernel's struct and value
//! type are found in vmlinux or module BTF, local members are matched to
//! kernel members by name, non-function members are copied into the
//! kernel's layout, and each referenced program learns the BTF id of the
//! kernel struct (`attach_btf_id`) and the index of its member
//! (`expected_attach_type`), which is how the verifier knows what the
//! program implements.
//!
//! What the loader does with the result (create the map with
//! `btf_vmlinux_value_type_id`, write program fds, update the element,
//! link) is in the `bpfld` crate. Error messages keep libbpf's wording
//! after the usual "object: map 'x': " context.
//!
//! The map's bytes and its member → program bindings are libbpf's "shadow
//! type": they can be changed between open and load
//! ([`StructOpsMap::set_program`], [`StructOpsMap::set_member_bytes`]), and
//! the plan reads them as libbpf reads `st_ops->data`.

use bpfld_asm::types::{MapType, ProgType};
use bpfld_btf::resolve::{resolve_size, resolve_type, skip_mods_and_typedefs};
use bpfld_btf::{essential_name, Btf, Kind};

use crate::error::{Ctx, Error, Result};
use crate::map::{MapOrigin, MapSpec};
use crate::plan::AttachBtf;
use crate::program::Program;
use crate::target::{BtfOwner, Target};

/// `BPF_F_LINK`: the struct_ops map is registered through a BPF link
/// (`.struct_ops.link`), not by updating its element.
pub const BPF_F_LINK: u32 = 1 << 13;

/// The sections libbpf takes struct_ops variables from.
pub const STRUCT_OPS_SEC: &str = ".struct_ops";
/// The section of struct_ops variables registered through a BPF link.
pub const STRUCT_OPS_LINK_SEC: &str = ".struct_ops.link";

/// The prefix of the kernel's value type (`bpf_struct_ops_<struct>`).
pub const VALUE_TYPE_PREFIX: &str = "bpf_struct_ops_";

mod error;
pub use error::{ReuseConflict, StructOpsError};

/// Whether an ELF section holds struct_ops variables (libbpf's
/// `SEC_ST_OPS`): `.struct_ops`, `.struct_ops.link`, and both with `?`.
pub fn is_struct_ops_section(name: &str) -> bool {
    matches!(name.strip_prefix('?').unwrap_or(name), STRUCT_OPS_SEC | STRUCT_OPS_LINK_SEC)
}

/// A struct_ops variable of the object, as opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructOpsMap {
    /// Index of the map in [`crate::Object::maps`].
    pub map: usize,
    /// The variable's name (the map's `real_name`).
    pub name: String,
    /// The ELF section, without a leading `?`.
    pub section: String,
    /// The local struct's BTF id in the object and its name (which may
    /// carry a `___flavor`: the kernel struct is found by the essential
    /// name).
    pub type_id: u32,
    /// The local struct's name.
    pub type_name: String,
    /// The variable's bytes in the local struct's layout. Function-pointer
    /// slots are zero: what they point to is in [`Self::programs`].
    pub data: Vec<u8>,
    /// Per member of the local struct (by index): the program (index in
    /// [`crate::Object::programs`]) its ELF relocation points to.
    pub declared: Vec<Option<usize>>,
    /// Per member: the program it points to now (the shadow type; equal to
    /// `declared` unless changed after open).
    pub programs: Vec<Option<usize>>,
    /// Created at load: false for `SEC("?.struct_ops")` variables.
    pub autocreate: bool,
    /// `.struct_ops.link`: registered through a BPF link.
    pub link: bool,
}

/// One local member, as [`StructOpsMap`] setters need it.
struct LocalMember {
    index: usize,
    offset: usize,
    size: usize,
    func_ptr: bool,
}

impl StructOpsMap {
    fn local_member(&self, btf: &Btf, member: &str) -> std::result::Result<LocalMember, StructOpsError> {
        let t = btf.type_by_id(self.type_id)?;
        for (index, m) in t.members().enumerate() {
            if t.str(m.name_off)? != member {
                continue;
            }
            let size =
                resolve_size(btf, m.type_id).map_err(|source| StructOpsError::Btf { member: Some(member.to_string()), source })? as usize;
            let func_ptr = is_func_ptr(btf, m.type_id);
            return Ok(LocalMember { index, offset: (m.bit_offset / 8) as usize, size, func_ptr });
        }
        Err(StructOpsError::NoSuchMember { struct_name: self.type_name.clone(), member: member.to_string() })
    }

    /// Points function-pointer member `member` at program `program` (an
    /// index in [`crate::Object::programs`]), or at nothing: what a libbpf
    /// user does by writing the skeleton's shadow struct. Whether the
    /// program is a struct_ops program is checked by the plan, as libbpf
    /// checks it at load.
    pub fn set_program(&mut self, btf: &Btf, member: &str, program: Option<usize>) -> std::result::Result<(), StructOpsError> {
        let m = self.local_member(btf, member)?;
        if !m.func_ptr {
            return Err(StructOpsError::NotFuncPtr { struct_name: self.type_name.clone(), member: member.to_string() });
        }
        self.programs[m.index] = program;
        Ok(())
    }

    /// Replaces the bytes of non-function member `member` (its whole size).
    pub fn set_member_bytes(&mut self, btf: &Btf, member: &str, bytes: &[u8]) -> std::result::Result<(), StructOpsError> {
        let m = self.local_member(btf, member)?;
        if m.func_ptr {
            return Err(StructOpsError::IsFuncPtr { struct_name: self.type_name.clone(), member: member.to_string() });
        }
        if bytes.len() != m.size {
            return Err(StructOpsError::MemberSize {
                struct_name: self.type_name.clone(),
                member: member.to_string(),
                size: m.size,
                given: bytes.len(),
            });
        }
        let end = m.offset + m.size;
        let slot = self.data.get_mut(m.offset..end).ok_or_else(|| StructOpsError::MemberBeyondVar { member: member.to_string() })?;
        slot.copy_from_slice(bytes);
        Ok(())
    }
}

fn is_func_ptr(btf: &Btf, id: u32) -> bool {
    bpfld_btf::resolve::is_func_ptr(btf, id).unwrap_or(false)
}

// --- Open ------------------------------------------------------------------

/// The maps of one struct_ops section (libbpf's `init_struct_ops_maps`): a
/// map per variable of the DATASEC named like the section. `first_map` is
/// the index the first one will have in the object's maps.
///
/// Deliberately unlike libbpf 1.7, every variable of a `?.struct_ops`
/// section is left uncreated; libbpf forgets the `?` after the first one.
pub(crate) fn open_struct_ops_maps(
    btf: &Btf,
    sec_name: &str,
    sec_idx: usize,
    data: &[u8],
    first_map: usize,
) -> std::result::Result<Vec<(MapSpec, StructOpsMap)>, StructOpsError> {
    let datasec = btf.find_first(sec_name, Kind::Datasec).ok_or_else(|| StructOpsError::NoDatasec { section: sec_name.to_string() })?;
    let (autocreate, section) = match sec_name.strip_prefix('?') {
        Some(s) => (false, s),
        None => (true, sec_name),
    };
    let link = section == STRUCT_OPS_LINK_SEC;
    let ds = btf.type_by_id(datasec)?;
    let mut out = Vec::new();
    for vsi in ds.datasec_vars() {
        let var = btf.type_by_id(vsi.type_id)?;
        let var_name = var.name()?.to_string();
        let type_id = resolve_type(btf, vsi.type_id).map_err(|source| StructOpsError::VarTypeUnresolved {
            type_id: vsi.type_id,
            section: sec_name.to_string(),
            source,
        })?;
        let t = btf.type_by_id(type_id)?;
        let tname = t.name()?.to_string();
        if tname.is_empty() {
            return Err(StructOpsError::AnonymousType);
        }
        if t.kind() != Kind::Struct {
            return Err(StructOpsError::NotStruct { type_name: tname });
        }
        let size = t.raw_size_or_type();
        let start = vsi.offset as usize;
        let Some(bytes) = start.checked_add(size as usize).and_then(|end| data.get(start..end)) else {
            return Err(StructOpsError::VarBeyondSection { var: var_name, section: section.to_string() });
        };
        let vlen = t.vlen();
        let spec = MapSpec {
            name: var_name.chars().take(15).collect(),
            real_name: var_name.clone(),
            origin: MapOrigin::StructOps,
            map_type: MapType::STRUCT_OPS,
            key_size: 4,
            value_size: size,
            max_entries: 1,
            map_flags: if link { BPF_F_LINK } else { 0 },
            map_extra: 0,
            numa_node: 0,
            pinning: 0,
            btf_key_type_id: 0,
            btf_value_type_id: type_id,
            inner: None,
            init_slots: Vec::new(),
            data: Vec::new(),
            sec_idx,
            sec_offset: u64::from(vsi.offset),
        };
        let st = StructOpsMap {
            map: first_map + out.len(),
            name: var_name,
            section: section.to_string(),
            type_id,
            type_name: tname,
            data: bytes.to_vec(),
            declared: vec![None; vlen],
            programs: vec![None; vlen],
            autocreate,
            link,
        };
        out.push((spec, st));
    }
    Ok(out)
}

/// An ELF relocation of a struct_ops section, reduced to what matters.
#[derive(Debug, Clone)]
pub(crate) struct StructOpsRel {
    /// Offset in the section.
    pub offset: u64,
    /// Section of the symbol: `Some(0)` for an undefined symbol (`SHN_UNDEF`),
    /// `None` for the reserved ones (absolute, common).
    pub sym_shndx: Option<usize>,
    pub sym_value: u64,
}

/// Binds members to programs from the relocations of struct_ops section
/// `sec_idx` (libbpf's `bpf_object__collect_st_ops_relos`): each relocation
/// is a function-pointer member of one map pointing at a struct_ops
/// program. Errors are `(map name, message)`.
pub(crate) fn bind_members(
    btf: &Btf,
    sec_idx: usize,
    rels: &[StructOpsRel],
    maps: &mut [StructOpsMap],
    specs: &[MapSpec],
    programs: &[Program],
) -> std::result::Result<(), (Option<String>, StructOpsError)> {
    for rel in rels {
        let Some(st) = maps.iter_mut().find(|m| {
            let spec = &specs[m.map];
            spec.sec_idx == sec_idx && spec.sec_offset <= rel.offset && rel.offset - spec.sec_offset < u64::from(spec.value_size)
        }) else {
            return Err((None, StructOpsError::NoMapAtRelocation { offset: rel.offset }));
        };
        let name = st.name.clone();
        let map_err = |e: StructOpsError| (Some(name.clone()), e);
        let moff = rel.offset - specs[st.map].sec_offset;
        let Some(shndx) = rel.sym_shndx else {
            return Err(map_err(StructOpsError::NonStaticFunction { offset: rel.offset }));
        };
        if rel.sym_value % 8 != 0 {
            return Err(map_err(StructOpsError::BadProgramOffset { offset: rel.sym_value }));
        }
        let insn_idx = (rel.sym_value / 8) as usize;
        let t = btf.type_by_id(st.type_id).map_err(|e| map_err(e.into()))?;
        let Some((member_idx, member)) = t.members().enumerate().find(|(_, m)| u64::from(m.bit_offset) == moff * 8) else {
            return Err(map_err(StructOpsError::NoMemberAtOffset { offset: moff }));
        };
        let mname = t.str(member.name_off).unwrap_or("?").to_string();
        if !is_func_ptr(btf, member.type_id) {
            return Err(map_err(StructOpsError::RelocatedNotFuncPtr { member: mname }));
        }
        let Some(prog) =
            programs.iter().position(|p| p.sec_idx == shndx && insn_idx >= p.sec_insn_off && insn_idx < p.sec_insn_off + p.insns.len())
        else {
            return Err(map_err(StructOpsError::NoProgramAt { section: shndx, member: mname }));
        };
        if !is_struct_ops_program(&programs[prog]) {
            return Err(map_err(StructOpsError::NotStructOpsProgram { program: programs[prog].name.clone() }));
        }
        st.declared[member_idx] = Some(prog);
        st.programs[member_idx] = Some(prog);
        // The slot holds the relocation's addend in the file; the pointer
        // is in `programs` (libbpf writes the program's address there).
        let off = moff as usize;
        if let Some(slot) = st.data.get_mut(off..off + 8) {
            slot.fill(0);
        }
    }
    Ok(())
}

fn is_struct_ops_program(p: &Program) -> bool {
    !p.is_subprog && p.def.as_ref().is_some_and(|d| d.prog_type() == ProgType::STRUCT_OPS)
}

// --- Plan ------------------------------------------------------------------

/// A member slot of the kernel value that receives a program's fd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncSlot {
    /// The member's name and its index in the kernel struct (the program's
    /// `expected_attach_type`).
    pub member: String,
    /// The member's index in the kernel struct.
    pub member_idx: u32,
    /// Byte offset in [`StructOpsPlan::value`] (8 bytes: an `unsigned long`).
    pub offset: usize,
    /// The program's name.
    pub program: String,
}

/// A struct_ops map, ready to create and register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructOpsPlan {
    /// Index in [`crate::LoadPlan::maps`].
    pub map: usize,
    /// The variable's name.
    pub name: String,
    /// The kernel struct (`tcp_congestion_ops`) and its BTF id.
    pub struct_name: String,
    /// The kernel struct's BTF id.
    pub kern_type_id: u32,
    /// The kernel's value type (`bpf_struct_ops_tcp_congestion_ops`): the
    /// map's `btf_vmlinux_value_type_id`.
    pub kern_value_type_id: u32,
    /// Where both types are: vmlinux or a module (whose BTF fd goes with
    /// the map and the programs).
    pub owner: BtfOwner,
    /// The value to write, in the kernel's layout, program slots zero.
    pub value: Vec<u8>,
    /// Each function-pointer member and the program it gets.
    pub func_slots: Vec<FuncSlot>,
    /// Registered through a BPF link (`.struct_ops.link`).
    pub link: bool,
    /// Local members left out because the kernel lacks them (they were
    /// zero), as libbpf notes them.
    pub skipped_members: Vec<String>,
}

/// What [`prepare`] decided for the object.
#[derive(Debug, Clone, Default)]
pub struct Prepared {
    /// One per created struct_ops map; `map` is still the object's index.
    pub maps: Vec<StructOpsPlan>,
    /// Object struct_ops maps not created (`?.struct_ops`).
    pub not_created: Vec<usize>,
    /// The autoload every struct_ops program referenced by a map ends up
    /// with (index in [`crate::Object::programs`]).
    pub autoload: Vec<(usize, bool)>,
    /// Per struct_ops program: the kernel struct it implements a member of.
    pub attach: Vec<(usize, AttachBtf, u32)>,
    /// The target kernel refuses DATASEC names starting with `?` (the
    /// DATASEC of `?.struct_ops`): the object BTF gets `_` instead, as
    /// libbpf sanitizes it.
    pub rename_qmark_datasecs: bool,
}

/// The [`Target::overrides`] key of the running kernel's answer (probed by
/// the loader) to whether its BTF may have DATASECs named `?...`.
pub const QMARK_DATASEC_FACT: &str = "BTF_QMARK_DATASEC";

/// Whether the target kernel takes BTF DATASEC names with a `?` (libbpf's
/// `FEAT_BTF_QMARK_DATASEC`): probed on the running kernel, else Linux 6.9
/// and later (which allow any printable character there; unknown: yes).
pub fn kernel_accepts_qmark_datasec(target: &Target) -> bool {
    match target.overrides.get(QMARK_DATASEC_FACT) {
        Some(&v) => v != 0,
        None => target.kernel_version.is_none_or(|v| v >= crate::target::kernel_version(6, 9, 0)),
    }
}

/// Replaces the leading `?` of DATASEC names with `_` in raw BTF (libbpf's
/// sanitizing for kernels before 6.9, in place in the string section: no
/// other type is named by those strings).
pub fn rename_qmark_datasecs(raw: &mut [u8]) -> std::result::Result<(), StructOpsError> {
    let btf = Btf::from_vec(raw.to_vec())?;
    let word = |o: usize| raw.get(o..o + 4).map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize);
    let (Some(hdr_len), Some(str_off)) = (word(4), word(16)) else { return Err(StructOpsError::BtfHeaderTruncated) };
    let mut patch = Vec::new();
    for t in btf.own_types() {
        if t.kind() == Kind::Datasec && t.name().is_ok_and(|n| n.starts_with('?')) {
            patch.push(hdr_len + str_off + t.name_off() as usize);
        }
    }
    for at in patch {
        match raw.get_mut(at) {
            Some(b) if *b == b'?' => *b = b'_',
            _ => return Err(StructOpsError::DatasecNameNotAt { offset: at }),
        }
    }
    Ok(())
}

/// The kernel's struct and value type for local struct name `tname_raw`
/// (libbpf's `find_struct_ops_kern_types`): `bpf_struct_ops_<essential
/// name>` in vmlinux, else in the first module that has it; then the
/// struct itself in that BTF, and the value type's member of that type.
struct KernTypes {
    owner: BtfOwner,
    type_id: u32,
    vtype_id: u32,
    vtype_size: u32,
    data_offset: usize,
}

fn find_kern_types(target: &Target, tname_raw: &str) -> std::result::Result<KernTypes, StructOpsError> {
    let tname = essential_name(tname_raw);
    let stname = format!("{VALUE_TYPE_PREFIX}{tname}");
    let found = match target.vmlinux.find_first(&stname, Kind::Struct) {
        Some(id) => Some((BtfOwner::Vmlinux, id)),
        None => target
            .searched_modules()
            .iter()
            .enumerate()
            .find_map(|(i, m)| m.btf.find_own(&stname, Some(Kind::Struct)).first().map(|&id| (BtfOwner::Module(i), id))),
    };
    let Some((owner, vtype_id)) = found else {
        return Err(StructOpsError::KernelStructMissing { name: stname });
    };
    let btf = target.btf(owner);
    let Some(type_id) = btf.find_first(tname, Kind::Struct) else {
        return Err(StructOpsError::KernelStructMissing { name: tname.to_string() });
    };
    let vtype = btf.type_by_id(vtype_id)?;
    let Some(data) = vtype.members().find(|m| m.type_id == type_id) else {
        return Err(StructOpsError::NoDataMember { struct_name: tname.to_string(), value_type: stname });
    };
    Ok(KernTypes { owner, type_id, vtype_id, vtype_size: vtype.raw_size_or_type(), data_offset: (data.bit_offset / 8) as usize })
}

/// Kind number as libbpf prints it (`BTF_INFO_KIND`, 0 for void).
fn kind_num(t: &Option<bpfld_btf::Type<'_>>) -> u32 {
    t.as_ref().map(|t| t.kind() as u32).unwrap_or(0)
}

/// Where each struct_ops program attaches, as found so far.
type AttachState = Vec<Option<(AttachBtf, u32)>>;

/// Builds the kernel value of one map (libbpf's
/// `bpf_map__init_kern_struct_ops`). `autoload` and `attach` are indexed
/// like the object's programs.
fn init_kern(
    obj: &crate::Object,
    st: &mut StructOpsMap,
    target: &Target,
    autoload: &mut [bool],
    attach: &mut AttachState,
) -> std::result::Result<StructOpsPlan, StructOpsError> {
    let btf = obj.btf.as_ref().ok_or(StructOpsError::NoObjectBtf)?;
    let kt = find_kern_types(target, &st.type_name)?;
    let kbtf = target.btf(kt.owner);
    let ktype = kbtf.type_by_id(kt.type_id)?;
    let kmembers: Vec<bpfld_btf::Member> = ktype.members().collect();
    let ltype = btf.type_by_id(st.type_id)?;
    if st.programs.len() != ltype.vlen() || st.declared.len() != ltype.vlen() {
        return Err(StructOpsError::BindingsMismatch { struct_name: st.type_name.clone(), members: ltype.vlen() });
    }
    let valid = |p: usize| p < autoload.len();
    if st.programs.iter().chain(&st.declared).flatten().any(|&p| !valid(p)) {
        return Err(StructOpsError::UnknownProgram);
    }
    let mut value = vec![0u8; kt.vtype_size as usize];
    let mut func_slots = Vec::new();
    let mut skipped_members = Vec::new();
    for (i, member) in ltype.members().enumerate() {
        let mname = ltype.str(member.name_off)?;
        let moff = (member.bit_offset / 8) as usize;
        let msize = resolve_size(btf, member.type_id)
            .map_err(|source| StructOpsError::MemberSizeUnresolved { member: mname.to_string(), source })? as usize;
        let mdata = st.data.get(moff..moff.saturating_add(msize)).ok_or_else(|| StructOpsError::MemberBeyondStruct {
            member: mname.to_string(),
            offset: moff,
            size: msize,
            struct_name: st.type_name.clone(),
        })?;
        let kmember = kmembers.iter().enumerate().find(|(_, km)| kbtf.str(km.name_off).is_ok_and(|n| n == mname));
        let Some((kidx, kmember)) = kmember else {
            if st.programs[i].is_some() || mdata.iter().any(|&b| b != 0) {
                return Err(StructOpsError::KernelMemberMissing { member: mname.to_string() });
            }
            if let Some(p) = st.declared[i].take() {
                // Declared but cleared since: it cannot serve this map.
                autoload[p] = false;
            }
            skipped_members.push(mname.to_string());
            continue;
        };
        if member.bitfield_size != 0 || kmember.bitfield_size != 0 {
            return Err(StructOpsError::Bitfield { member: mname.to_string() });
        }
        let kmoff = (kmember.bit_offset / 8) as usize;
        let (_, mtype) = skip_mods_and_typedefs(btf, member.type_id)?;
        let (kmtype_id, kmtype) = skip_mods_and_typedefs(kbtf, kmember.type_id)?;
        if kind_num(&mtype) != kind_num(&kmtype) {
            return Err(StructOpsError::MemberKind { member: mname.to_string(), local: kind_num(&mtype), kernel: kind_num(&kmtype) });
        }
        let kdata_off = kt.data_offset + kmoff;
        if mtype.is_some_and(|t| t.kind() == Kind::Ptr) {
            let prog = st.programs[i];
            if let Some(d) = st.declared[i] {
                if Some(d) != prog {
                    autoload[d] = false;
                }
            }
            st.declared[i] = prog;
            let Some(prog) = prog else {
                if mdata.iter().any(|&b| b != 0) {
                    // A pointer that is not a program (libbpf reads it as one).
                    return Err(StructOpsError::MemberNotProgram { member: mname.to_string() });
                }
                continue;
            };
            let p = obj.programs.get(prog).ok_or_else(|| StructOpsError::MemberNotProgram { member: mname.to_string() })?;
            if !is_struct_ops_program(p) {
                return Err(StructOpsError::MemberNotProgram { member: mname.to_string() });
            }
            let target_proto = kmtype.and_then(|t| skip_mods_and_typedefs(kbtf, t.raw_size_or_type()).ok()).and_then(|(_, t)| t);
            if target_proto.is_none_or(|t| t.kind() != Kind::FuncProto) {
                return Err(StructOpsError::KernelNotFuncPtr { member: mname.to_string() });
            }
            let want = (AttachBtf { btf_id: kt.type_id, owner: kt.owner }, kidx as u32);
            let (have, member_idx) = *attach[prog].get_or_insert(want);
            let reused = |conflict| StructOpsError::ProgramReused {
                member: mname.to_string(),
                program: p.name.clone(),
                section: p.section.clone(),
                conflict,
            };
            if have.btf_id != kt.type_id {
                return Err(reused(ReuseConflict::Struct { first: have.btf_id, kernel: kt.type_id }));
            }
            if member_idx != kidx as u32 {
                return Err(reused(ReuseConflict::Member { first: member_idx, kernel: kidx as u32 }));
            }
            if kdata_off + 8 > value.len() {
                return Err(StructOpsError::KernelMemberBeyond {
                    member: mname.to_string(),
                    struct_name: essential_name(&st.type_name).to_string(),
                });
            }
            func_slots.push(FuncSlot { member: mname.to_string(), member_idx: kidx as u32, offset: kdata_off, program: p.name.clone() });
            continue;
        }
        let kmsize = resolve_size(kbtf, kmtype_id).ok();
        if kmsize != Some(msize as u64) {
            return Err(StructOpsError::MemberSizeDiffers { member: mname.to_string(), local: msize, kernel: kmsize });
        }
        let dst = value.get_mut(kdata_off..kdata_off + msize).ok_or_else(|| StructOpsError::KernelMemberBeyond {
            member: mname.to_string(),
            struct_name: essential_name(&st.type_name).to_string(),
        })?;
        dst.copy_from_slice(mdata);
    }
    Ok(StructOpsPlan {
        map: st.map,
        name: st.name.clone(),
        struct_name: essential_name(&st.type_name).to_string(),
        kern_type_id: kt.type_id,
        kern_value_type_id: kt.vtype_id,
        owner: kt.owner,
        value,
        func_slots,
        link: st.link,
        skipped_members,
    })
}

/// Whether the target kernel registers struct_ops maps through BPF links
/// (`BPF_F_LINK`, Linux 6.4): its BTF has `struct bpf_struct_ops_link`.
pub fn kernel_has_struct_ops_links(target: &Target) -> bool {
    target.vmlinux.find_first("bpf_struct_ops_link", Kind::Struct).is_some()
}

/// Prepares every struct_ops map of `obj` for `target` (libbpf's
/// `bpf_object__init_kern_struct_ops_maps` then
/// `bpf_object_adjust_struct_ops_autoload`): kernel values, program
/// attach ids, and which struct_ops programs load. The first failing map
/// fails the object, as in libbpf.
///
/// Deliberately unlike libbpf, a `.struct_ops.link` map is refused here
/// when the target kernel has no struct_ops links (before 6.4 it refuses
/// `BPF_F_LINK` at map creation, with `EINVAL` and no more detail): same
/// verdict, said before the kernel is asked, and predictable offline.
pub fn prepare(obj: &crate::Object, target: &Target) -> Result<Prepared> {
    let cx = Ctx::new(&obj.name);
    let mut out = Prepared { rename_qmark_datasecs: !kernel_accepts_qmark_datasec(target), ..Default::default() };
    if obj.struct_ops.is_empty() {
        return Ok(out);
    }
    let mut autoload: Vec<bool> = obj.programs.iter().map(|p| p.autoload).collect();
    let mut attach: AttachState = vec![None; obj.programs.len()];
    let mut maps = obj.struct_ops.clone();
    for st in maps.iter_mut() {
        if !st.autocreate {
            out.not_created.push(st.map);
            continue;
        }
        let mcx = cx.with(format!("map '{}'", st.name));
        if st.link && !kernel_has_struct_ops_links(target) {
            return Err(mcx.err(format!(
                "{} maps need struct_ops BPF links (Linux 6.4+); the target kernel has none (no struct bpf_struct_ops_link in its BTF) \
                 and refuses BPF_F_LINK",
                STRUCT_OPS_LINK_SEC
            )));
        }
        let plan = init_kern(obj, st, target, &mut autoload, &mut attach).map_err(|e| mcx.wrap(e))?;
        out.maps.push(plan);
    }
    // A program a map points to loads if one of the maps pointing to it is
    // created, whatever its own section says; others keep their autoload.
    for (pi, p) in obj.programs.iter().enumerate() {
        if !is_struct_ops_program(p) {
            continue;
        }
        let users: Vec<&StructOpsMap> = maps.iter().filter(|m| m.declared.contains(&Some(pi))).collect();
        if !users.is_empty() {
            autoload[pi] = users.iter().any(|m| m.autocreate);
        }
    }
    out.autoload = autoload.iter().enumerate().filter(|(i, _)| is_struct_ops_program(&obj.programs[*i])).map(|(i, a)| (i, *a)).collect();
    out.attach = attach.iter().enumerate().filter_map(|(i, a)| a.map(|(b, m)| (i, b, m))).collect();
    Ok(out)
}

impl Prepared {
    /// `obj` with the autoload [`prepare`] decided, if it differs (CO-RE
    /// and linking skip programs that do not load).
    pub fn adjusted_object(&self, obj: &crate::Object) -> Option<crate::Object> {
        if self.autoload.iter().all(|&(i, a)| obj.programs[i].autoload == a) {
            return None;
        }
        let mut o = obj.clone();
        for &(i, a) in &self.autoload {
            o.programs[i].autoload = a;
        }
        Some(o)
    }

    /// Puts the decisions into `plan`: program attach ids and autoload,
    /// kernel value sizes, uncreated maps removed (map indexes of the plan's
    /// instructions renumbered; no instruction can refer to a struct_ops
    /// map, libbpf has no such relocation).
    pub fn apply(self, plan: &mut crate::LoadPlan) -> Result<()> {
        if self.rename_qmark_datasecs {
            if let Some(btf) = plan.btf.as_mut() {
                rename_qmark_datasecs(btf).map_err(|e| Ctx::new(&plan.object).with("section '.BTF'").wrap(e))?;
            }
        }
        for pp in plan.programs.iter_mut() {
            let Some(&(entry, _)) = pp.layout.first() else { continue };
            if let Some(&(_, a)) = self.autoload.iter().find(|(i, _)| *i == entry) {
                pp.autoload = a;
            }
            if pp.prog_type != ProgType::STRUCT_OPS {
                continue;
            }
            match self.attach.iter().find(|(i, _, _)| *i == entry) {
                Some(&(_, btf, member_idx)) => {
                    pp.attach_btf = Some(btf);
                    pp.expected_attach_type = member_idx.into();
                }
                // libbpf refuses it when loading it; one that does not load
                // is no error.
                None if pp.error.is_none() && pp.autoload => {
                    pp.error = Some("SEC(\"struct_ops\") program isn't referenced anywhere, did you forget to use it?".into());
                }
                None => {}
            }
        }
        let mut maps = self.maps;
        for m in &maps {
            plan.maps[m.map].value_size = m.value.len() as u32;
        }
        if !self.not_created.is_empty() {
            let keep: Vec<bool> = (0..plan.maps.len()).map(|i| !self.not_created.contains(&i)).collect();
            let mut new_index = Vec::with_capacity(keep.len());
            let mut n = 0;
            for &k in &keep {
                new_index.push(n);
                n += usize::from(k);
            }
            let mut i = 0;
            plan.maps.retain(|_| {
                i += 1;
                keep[i - 1]
            });
            for pp in plan.programs.iter_mut() {
                for r in pp.map_refs.iter_mut() {
                    r.map = new_index[r.map];
                }
            }
            for m in maps.iter_mut() {
                m.map = new_index[m.map];
            }
        }
        plan.struct_ops = maps;
        Ok(())
    }
}

/// The error of planning struct_ops maps without a target.
pub(crate) fn needs_target_error(obj: &crate::Object) -> Option<Error> {
    obj.struct_ops.first().map(|st| {
        Ctx::new(&obj.name)
            .with(format!("map '{}'", st.name))
            .err_kind(crate::error::ErrorKind::Unsupported, "struct_ops maps need a target kernel (its BTF)")
    })
}
