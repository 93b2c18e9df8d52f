//! Matching a local spec against one target candidate, producing the
//! target spec: libbpf 1.7's `bpf_core_spec_match`,
//! `bpf_core_match_member` and `bpf_core_fields_are_compat`.
//!
//! Outcomes are three, as in libbpf: a match (`Ok(Some(spec))`), no match
//! (`Ok(None)`: the candidate is dropped, others may still match), or an
//! error (`Err`: the whole relocation, and with it the load, fails — libbpf
//! does not try the next candidate after an error).

use super::error::{Accessed, CoreError};
use bpfld_btf::ext::CoreReloKind;
use bpfld_btf::name::essential_len;
use bpfld_btf::resolve::{resolve_size, skip_mods_and_typedefs, MAX_RESOLVE_DEPTH};
use bpfld_btf::{types_are_compat, types_match, Btf, Kind};

use super::spec::{is_flex_array, Accessor, Spec, MAX_SPEC_LEN};

/// Matches `local` against candidate `targ_id` of `targ`.
///
/// - **Type relocations**: `type_matches` uses [`types_match`], the others
///   [`types_are_compat`]; the target spec is just the candidate.
/// - **Enumerator relocations**: the candidate (through modifiers and
///   typedefs) must be an ENUM or ENUM64 with an enumerator whose
///   *essential* name (flavor stripped) equals the local enumerator's; the
///   first such enumerator is taken.
/// - **Field relocations**: each local high-level accessor is found in the
///   target in turn. A named member is searched by exact name among the
///   target composite's members, descending into anonymous members where
///   they stand (so the kernel may wrap fields in anonymous unions); the
///   first member of that name decides, and its type must be
///   field-compatible ([`fields_are_compat`]) or the candidate does not
///   match. An array index must be within the target array's bounds
///   (unless it is a flexible array member).
pub(crate) fn match_spec<'b>(local: &Spec<'_>, targ: &'b Btf, targ_id: u32) -> Result<Option<Spec<'b>>, CoreError> {
    let mut ts = Spec::empty(targ, targ_id, local.kind);
    if local.kind.is_type() {
        let ok = if local.kind == CoreReloKind::TypeMatches {
            types_match(local.btf, local.root_type_id, targ, targ_id)?
        } else {
            types_are_compat(local.btf, local.root_type_id, targ, targ_id)?
        };
        return Ok(ok.then_some(ts));
    }
    let Some(first) = local.accessors.first() else {
        return Err(CoreError::NoAccessor { local: true });
    };
    if local.kind.is_enumval() {
        let (tid, tt) = skip_mods_and_typedefs(targ, targ_id)?;
        let Some(tt) = tt.filter(|t| t.kind().is_enum()) else {
            return Ok(None);
        };
        let lname = first.name.unwrap_or(b"");
        let lname = &lname[..essential_len(lname)];
        for (i, e) in tt.enumerators().enumerate() {
            let tname = targ.str_raw(e.name_off)?;
            if &tname[..essential_len(tname)] == lname {
                ts.accessors.push(Accessor { type_id: tid, idx: i as u32, name: Some(tname) });
                ts.raw.push(i as u32);
                return Ok(Some(ts));
            }
        }
        return Ok(None);
    }
    if !local.kind.is_field() {
        return Err(CoreError::UnknownReloKind { kind: local.kind });
    }

    let mut targ_id = targ_id;
    for (i, lacc) in local.accessors.iter().enumerate() {
        let (tid, tt) = skip_mods_and_typedefs(targ, targ_id)?;
        targ_id = tid;
        if lacc.name.is_some() {
            match match_member(local.btf, lacc, targ, targ_id, &mut ts)? {
                Some(next) => targ_id = next,
                None => return Ok(None),
            }
            continue;
        }
        // The root access (i == 0) indexes the candidate itself; later
        // ones must find an array.
        if i > 0 {
            let Some(a) = tt.and_then(|t| t.array()) else {
                return Ok(None);
            };
            if !is_flex_array(targ, ts.accessors.last(), a.nelems) && lacc.idx >= a.nelems {
                return Ok(None);
            }
            targ_id = skip_mods_and_typedefs(targ, a.elem_type)?.0;
        }
        if ts.raw.len() == MAX_SPEC_LEN {
            return Err(CoreError::SpecTooDeep);
        }
        ts.accessors.push(Accessor { type_id: targ_id, idx: lacc.idx, name: None });
        ts.raw.push(lacc.idx);
        let sz = resolve_size(targ, targ_id)?;
        ts.bit_offset = ts.bit_offset.wrapping_add((u64::from(lacc.idx).wrapping_mul(sz).wrapping_mul(8)) as u32);
    }
    Ok(Some(ts))
}

/// Finds the target member that the named local accessor `lacc` refers to
/// in the composite `targ_id`, recording raw steps and bit offsets in `ts`
/// (`bpf_core_match_member`). Returns the member's type id to continue
/// from, or `None` if there is no compatible member of that name.
///
/// Members are tried in order and an anonymous member is searched,
/// depth-first, where it stands. The first member whose name is the local
/// name ends the search, compatible or not (a later one of the same name,
/// in another anonymous member, is not considered) — libbpf's rule.
/// Nesting is bounded by the spec length ([`MAX_SPEC_LEN`]), which also
/// stops a composite that contains itself anonymously.
fn match_member<'b>(local: &Btf, lacc: &Accessor<'_>, targ: &'b Btf, targ_id: u32, ts: &mut Spec<'b>) -> Result<Option<u32>, CoreError> {
    let (targ_id, tt) = skip_mods_and_typedefs(targ, targ_id)?;
    let Some(tt) = tt.filter(|t| t.kind().is_composite()) else {
        return Ok(None);
    };
    let lt = local.type_by_id(lacc.type_id)?;
    let lm = lt.members().nth(lacc.idx as usize).ok_or(CoreError::AccessorMissing {
        accessed: Accessed::LocalMember,
        type_id: lacc.type_id,
        index: lacc.idx,
    })?;
    let lname = lacc.name.unwrap_or(b"");
    for (i, m) in tt.members().enumerate() {
        if ts.raw.len() == MAX_SPEC_LEN {
            return Err(CoreError::SpecTooDeep);
        }
        // Speculate that this member is the one.
        ts.bit_offset = ts.bit_offset.wrapping_add(m.bit_offset);
        ts.raw.push(i as u32);
        let tname = targ.str_raw(m.name_off)?;
        if tname.is_empty() {
            if let Some(next) = match_member(local, lacc, targ, m.type_id, ts)? {
                return Ok(Some(next));
            }
        } else if tname == lname {
            if !fields_are_compat(local, lm.type_id, targ, m.type_id)? {
                // libbpf pops the accessor it had pushed but leaves the raw
                // step and bit offset: the candidate is dropped anyway.
                return Ok(None);
            }
            ts.accessors.push(Accessor { type_id: targ_id, idx: i as u32, name: Some(tname) });
            return Ok(Some(m.type_id));
        }
        ts.bit_offset = ts.bit_offset.wrapping_sub(m.bit_offset);
        ts.raw.pop();
    }
    Ok(None)
}

/// Whether a local field's type and the target field's type of the same
/// name are compatible enough to relocate the access
/// (`bpf_core_fields_are_compat`). Modifiers and typedefs are looked
/// through, then:
///
/// - any two composites (STRUCT or UNION, in any combination) are;
/// - otherwise the kinds must agree (ENUM and ENUM64 agreeing);
/// - PTR and FLOAT: always (the pointee and the float size do not matter);
/// - ENUM, ENUM64, FWD: if either is anonymous or the essential names agree;
/// - INT: unless either is an old-style bitfield INT (bit offset set); size
///   and signedness do not matter (the size is handled by the load-size
///   adjustment, see `calc`);
/// - ARRAY: if the element types are, recursively (counts do not matter);
/// - anything else, including `void`: not compatible.
///
/// Deliberate difference: libbpf follows array element types without
/// bound; here a chain longer than [`MAX_RESOLVE_DEPTH`] (only a loop in
/// the BTF can make one) is an error.
pub(crate) fn fields_are_compat(local: &Btf, local_id: u32, targ: &Btf, targ_id: u32) -> Result<bool, CoreError> {
    let (mut lid, mut tid) = (local_id, targ_id);
    for _ in 0..MAX_RESOLVE_DEPTH {
        let (_, lt) = skip_mods_and_typedefs(local, lid)?;
        let (_, tt) = skip_mods_and_typedefs(targ, tid)?;
        let (Some(lt), Some(tt)) = (lt, tt) else {
            // void on either side: never a relocatable field.
            return Ok(false);
        };
        let (lk, tk) = (lt.kind(), tt.kind());
        if lk.is_composite() && tk.is_composite() {
            return Ok(true);
        }
        if !(lk == tk || (lk.is_enum() && tk.is_enum())) {
            return Ok(false);
        }
        return Ok(match lk {
            Kind::Ptr | Kind::Float => true,
            Kind::Fwd | Kind::Enum | Kind::Enum64 => {
                let ln = lt.name_bytes()?;
                let tn = tt.name_bytes()?;
                let (ll, tl) = (essential_len(ln), essential_len(tn));
                ll == 0 || tl == 0 || (ll == tl && ln[..ll] == tn[..tl])
            }
            Kind::Int => {
                let off = |t: &bpfld_btf::Type<'_>| t.int_info().map_or(0, |i| i.bit_offset);
                off(&lt) == 0 && off(&tt) == 0
            }
            Kind::Array => {
                lid = lt.array().expect("ARRAY").elem_type;
                tid = tt.array().expect("ARRAY").elem_type;
                continue;
            }
            _ => false,
        });
    }
    Err(CoreError::ArrayElementsLoop { local: local_id, target: targ_id })
}
