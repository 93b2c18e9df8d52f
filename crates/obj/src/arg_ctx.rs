//! `__arg_ctx` for kernels whose verifier does not read it (before 6.8),
//! as libbpf 1.7's `bpf_program_fixup_func_info` does: a global
//! subprogram's argument tagged `arg:ctx` gets, in a clone of its FUNC and
//! FUNC_PROTO that only this program's func_info points to, the type an old
//! verifier takes as the context: a pointer to the program type's named
//! context struct (`struct xdp_md *` for XDP).

use bpfld_asm::types::ProgType;
use bpfld_asm::types::ProgType as pt;
use bpfld_btf::writer::{OwnedType, TypeData, Writer};
use bpfld_btf::{Btf, FuncLinkage, Kind};

use crate::btf_fixup::BtfFixError;
use crate::plan::{LoadPlan, ProgramPlan};

/// The decl tag the attribute leaves.
const ARG_CTX: &str = "arg:ctx";

/// The named context struct of a program type (libbpf's `global_ctx_map`);
/// other types have none, and are left alone.
fn ctx_struct(prog_type: ProgType) -> Option<&'static str> {
    Some(match prog_type {
        pt::CGROUP_DEVICE => "bpf_cgroup_dev_ctx",
        pt::CGROUP_SKB
        | pt::FLOW_DISSECTOR
        | pt::LWT_IN
        | pt::LWT_OUT
        | pt::LWT_SEG6LOCAL
        | pt::LWT_XMIT
        | pt::SCHED_ACT
        | pt::SCHED_CLS
        | pt::SK_SKB
        | pt::SOCKET_FILTER => "__sk_buff",
        pt::CGROUP_SOCK => "bpf_sock",
        pt::CGROUP_SOCK_ADDR => "bpf_sock_addr",
        pt::CGROUP_SOCKOPT => "bpf_sockopt",
        pt::CGROUP_SYSCTL => "bpf_sysctl",
        pt::KPROBE => "bpf_user_pt_regs_t",
        pt::NETFILTER => "bpf_nf_ctx",
        pt::PERF_EVENT => "bpf_perf_event_data",
        pt::RAW_TRACEPOINT | pt::RAW_TRACEPOINT_WRITABLE => "bpf_raw_tracepoint_args",
        pt::SK_LOOKUP => "bpf_sk_lookup",
        pt::SK_MSG => "sk_msg_md",
        pt::SK_REUSEPORT => "sk_reuseport_md",
        pt::SOCK_OPS => "bpf_sock_ops",
        pt::XDP => "xdp_md",
        _ => return None,
    })
}

/// Rewrites every program's func_info and the plan's BTF for `__arg_ctx`
/// (see the module). Returns whether anything changed.
pub fn fixup_arg_ctx(plan: &mut LoadPlan) -> Result<bool, BtfFixError> {
    let Some(raw) = &plan.btf else { return Ok(false) };
    let btf = Btf::from_vec(raw.clone()).map_err(|source| BtfFixError::Btf { what: "object BTF", source })?;
    let tags: Vec<(u32, usize)> = btf
        .own_types()
        .filter(|t| t.kind() == Kind::DeclTag && t.name() == Ok(ARG_CTX))
        .filter_map(|t| Some((t.type_ref()?, usize::try_from(t.decl_tag_component()?).ok()?)))
        .collect();
    if tags.is_empty() {
        return Ok(false);
    }
    let mut w = Writer::from_btf(&btf)?;
    let mut changed = false;
    for p in plan.programs.iter_mut() {
        changed |= fixup_program(&btf, &mut w, &tags, p);
    }
    if changed {
        plan.btf = Some(w.write()?);
    }
    Ok(changed)
}

/// One program: its func_info records of global FUNCs with tagged
/// arguments that need it point to clones with the context type.
fn fixup_program(btf: &Btf, w: &mut Writer, tags: &[(u32, usize)], p: &mut ProgramPlan) -> bool {
    let Some(ctx_name) = ctx_struct(p.prog_type) else { return false };
    let original: Vec<u32> = p.func_info.iter().map(|r| r.type_id).collect();
    let mut ctx_ptr = None;
    let mut changed = false;
    for &(func_id, arg) in tags {
        let Ok(func) = btf.type_by_id(func_id) else { continue };
        if func.kind() != Kind::Func || func.func_linkage() != Some(FuncLinkage::Global) {
            continue;
        }
        let Some(proto) = func.type_ref().and_then(|id| btf.type_by_id(id).ok()).filter(|t| t.kind() == Kind::FuncProto) else {
            continue;
        };
        // This program does not call it.
        let Some(rec) = original.iter().position(|&id| id == func_id) else { continue };
        let Some(param) = proto.params().nth(arg) else { continue };
        if !needs_fixup(btf, p.prog_type, param.type_id, ctx_name) {
            continue;
        }
        if p.func_info[rec].type_id == func_id {
            p.func_info[rec].type_id = clone_func(w, func_id);
        }
        let ptr = *ctx_ptr.get_or_insert_with(|| {
            let st = w.push(OwnedType {
                name: ctx_name.into(),
                kind: Kind::Struct,
                kflag: false,
                size_or_type: 0,
                data: TypeData::Members(Vec::new()),
            });
            w.push(OwnedType { name: String::new(), kind: Kind::Ptr, kflag: false, size_or_type: st, data: TypeData::None })
        });
        let clone = p.func_info[rec].type_id;
        w.push(OwnedType {
            name: ARG_CTX.into(),
            kind: Kind::DeclTag,
            kflag: false,
            size_or_type: clone,
            data: TypeData::DeclTag(arg as i32),
        });
        let proto_id = w.get(clone).map(|f| f.size_or_type).unwrap_or(0);
        if let Some(TypeData::Params(params)) = w.get_mut(proto_id).map(|t| &mut t.data) {
            params[arg].1 = ptr;
        }
        changed = true;
    }
    changed
}

/// A copy of FUNC `func_id` and its FUNC_PROTO, appended; the copy's id.
fn clone_func(w: &mut Writer, func_id: u32) -> u32 {
    let func = w.get(func_id).cloned().expect("a FUNC of this BTF");
    let proto = w.get(func.size_or_type).cloned().expect("its FUNC_PROTO");
    let proto_id = w.push(proto);
    w.push(OwnedType { size_or_type: proto_id, ..func })
}

/// Whether the argument's type is not already what an old verifier takes
/// as the context (libbpf's `need_func_arg_type_fixup`): `void *`, or
/// `struct pt_regs *` for kprobes and perf events, `u64 *` for raw
/// tracepoints; a pointer to the context struct itself is left as is.
fn needs_fixup(btf: &Btf, prog_type: ProgType, arg_type: u32, ctx_name: &str) -> bool {
    let Some(ptr) = skip_mods_and_typedefs(btf, arg_type) else { return false };
    if ptr.kind() != Kind::Ptr {
        return false;
    }
    let Some(target_id) = ptr.type_ref() else { return false };
    if target_id == 0 {
        return true; // void *
    }
    let Some(t) = skip_mods_and_typedefs(btf, target_id) else { return true };
    let name = t.name().unwrap_or("");
    match t.kind() {
        Kind::Struct if name == ctx_name => false,
        Kind::Struct => matches!(prog_type, pt::KPROBE | pt::PERF_EVENT) && name == "pt_regs",
        Kind::Int => matches!(prog_type, pt::RAW_TRACEPOINT | pt::RAW_TRACEPOINT_WRITABLE) && t.size() == Some(8),
        _ => false,
    }
}

fn skip_mods_and_typedefs(btf: &Btf, mut id: u32) -> Option<bpfld_btf::Type<'_>> {
    for _ in 0..32 {
        let t = btf.type_by_id(id).ok()?;
        if !(t.kind().is_modifier() || t.kind() == Kind::Typedef) {
            return Some(t);
        }
        id = t.type_ref()?;
        if id == 0 {
            return None;
        }
    }
    None
}
