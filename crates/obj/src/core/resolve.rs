//! Resolving one relocation against its candidates: libbpf 1.7's
//! `bpf_core_resolve_relo` and `bpf_core_calc_relo_insn`.

use super::error::{CoreError, CoreStep, LocalType};
use bpfld_btf::ext::{CoreRelo, CoreReloKind};
use bpfld_btf::Btf;

use super::calc::{calc_relo, ReloRes};
use super::candidates::{Candidate, CandidateCache};
use super::matching::match_spec;
use super::spec::{format_spec, parse_spec, Spec};
use crate::target::Target;

/// The outcome of resolving one relocation, before patching.
pub(crate) struct Resolved<'a> {
    pub res: ReloRes,
    pub local_spec: Spec<'a>,
    /// The first matching candidate and its spec.
    pub target: Option<(Candidate, Spec<'a>)>,
    /// Candidates considered (the cached list as this relocation found it).
    pub candidates: usize,
    /// Candidates that matched (the list is pruned to these when non-zero).
    pub matched: usize,
}

/// Resolves `relo` (record `relo_idx` of its section) of the object BTF
/// `local` against `target`.
///
/// The rules, in libbpf's order:
///
/// 1. The local type must exist; unless the kind is `local_type_id`, its
///    candidates are looked up (cached per local type), which fails for an
///    anonymous type: libbpf cannot relocate those.
/// 2. The access string is parsed into the local spec; a malformed one is
///    an error.
/// 3. `local_type_id` needs no target: the value is the local id, not
///    validated (linking objects may renumber it).
/// 4. Every candidate is matched against the local spec, in order. A
///    matching error fails the relocation. Each match yields a result; all
///    matches must agree on the **bit offset** of the field ("field offset
///    ambiguity") and on the **value and poison decision** ("relocation
///    decision ambiguity"), else the relocation fails — deliberately, since
///    picking one would silently read the wrong field. Agreeing duplicates
///    (BTF deduplication leaves some, and flavors exist on purpose) are
///    fine; the first match's result is used.
/// 5. The cached candidate list is pruned to the matching candidates,
///    unless none matched (then it stays, for relocations that only test
///    existence).
/// 6. No match: the result is computed without a target — 0 for the
///    existence kinds and type kinds, poisoning for the rest.
pub(crate) fn resolve<'a>(
    relo: &CoreRelo,
    access: &str,
    local: &'a Btf,
    target: &'a Target,
    cache: &mut CandidateCache,
) -> Result<Resolved<'a>, CoreError> {
    let local_id = relo.type_id;
    if local_id >= local.type_count() {
        return Err(CoreError::TypeIdOutOfRange { type_id: local_id, last: local.type_count().saturating_sub(1) });
    }
    let local_type = if local_id == 0 { None } else { Some(local.type_by_id(local_id)?) };
    let local_name = local_type.map_or(Ok(&[][..]), |t| t.name_bytes())?;
    let describe =
        || LocalType { type_id: local_id, kind: local_type.map(|t| t.kind()), name: String::from_utf8_lossy(local_name).into_owned() };

    let mut cands = None;
    if relo.kind != CoreReloKind::TypeIdLocal {
        let Some(lt) = local_type.filter(|_| !local_name.is_empty()) else {
            return Err(CoreError::AnonymousType { type_id: local_id }.during(CoreStep::CandidateSearch { local: describe() }));
        };
        cands = Some(cache.get_or_find(local_id, &lt, target).map_err(|e| e.during(CoreStep::CandidateSearch { local: describe() }))?);
    }

    let local_spec = parse_spec(local, local_id, access, relo.kind)
        .map_err(|e| e.during(CoreStep::Parsing { local: describe(), access: access.to_string() }))?;

    let Some(cands) = cands else {
        // local_type_id.
        let res = ReloRes { orig_val: u64::from(local_id), new_val: u64::from(local_id), validate: false, ..Default::default() };
        return Ok(Resolved { res, local_spec, target: None, candidates: 0, matched: 0 });
    };

    let considered = cands.len();
    let mut first: Option<(ReloRes, Candidate, Spec<'a>)> = None;
    let mut kept = Vec::with_capacity(cands.len());
    for (i, cand) in cands.iter().enumerate() {
        let btf = target.core_btf_of(cand.owner);
        let cand_spec = match match_spec(&local_spec, btf, cand.type_id) {
            Ok(Some(s)) => s,
            Ok(None) => continue,
            Err(e) => {
                return Err(e.during(CoreStep::MatchingCandidate {
                    index: i,
                    type_id: cand.type_id,
                    owner: cand.owner,
                    btf: target.owner_name(cand.owner).to_string(),
                }))
            }
        };
        let cand_res = calc_relo(relo.kind, &local_spec, Some(&cand_spec))?;
        match &first {
            None => first = Some((cand_res, *cand, cand_spec)),
            Some((res, _, spec)) => {
                if cand_spec.bit_offset != spec.bit_offset {
                    return Err(CoreError::OffsetAmbiguity {
                        bit_offset: cand_spec.bit_offset,
                        first_bit_offset: spec.bit_offset,
                        candidate: format_spec(&cand_spec),
                        first: format_spec(spec),
                    });
                }
                if cand_res.poison != res.poison || cand_res.new_val != res.new_val {
                    return Err(CoreError::DecisionAmbiguity {
                        poison: cand_res.poison,
                        value: cand_res.new_val,
                        first_poison: res.poison,
                        first_value: res.new_val,
                        candidate: format_spec(&cand_spec),
                        first: format_spec(spec),
                    });
                }
            }
        }
        kept.push(*cand);
    }
    let matched = kept.len();
    if matched > 0 {
        *cands = kept;
    }
    match first {
        Some((res, cand, spec)) => Ok(Resolved { res, local_spec, target: Some((cand, spec)), candidates: considered, matched }),
        None => {
            let res = calc_relo(relo.kind, &local_spec, None)?;
            Ok(Resolved { res, local_spec, target: None, candidates: considered, matched: 0 })
        }
    }
}
