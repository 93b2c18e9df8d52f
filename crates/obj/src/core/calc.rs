//! The value a relocation stands for, computed once from the local spec
//! (what the compiler assumed, to validate the instruction) and once from
//! the target spec (what to patch in): libbpf 1.7's
//! `bpf_core_calc_field_relo`, `bpf_core_calc_type_relo`,
//! `bpf_core_calc_enumval_relo` and `bpf_core_calc_relo`.

use super::error::{Accessed, CoreError};
use bpfld_btf::ext::CoreReloKind;
use bpfld_btf::int_encoding;
use bpfld_btf::resolve::{resolve_size, skip_mods_and_typedefs};
use bpfld_btf::{Btf, Kind};

use super::spec::Spec;

/// libbpf's `bpf_core_relo_res`: what to check and what to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ReloRes {
    /// The value the instruction must hold (when `validate`).
    pub orig_val: u64,
    /// The value to write.
    pub new_val: u64,
    /// The relocation cannot be satisfied: poison the instruction.
    pub poison: bool,
    /// Whether `orig_val` is checked against the instruction.
    pub validate: bool,
    /// A load or store of this field would need a size change that does not
    /// preserve the value: such an instruction is poisoned.
    pub fail_memsz_adjust: bool,
    /// Size in bytes of the field's (innermost element) type, locally and in
    /// the target, for `byte_off` relocations of non-bitfields; 0 otherwise.
    pub orig_sz: u32,
    pub new_sz: u32,
    pub orig_type_id: u32,
    pub new_type_id: u32,
}

/// A computed value, or a request to poison the instruction (libbpf's
/// `-EUCLEAN`), which only a missing target can cause.
enum Calc<T> {
    Value(T),
    Poison,
}

#[derive(Default)]
struct FieldOut {
    val: u64,
    field_sz: u32,
    type_id: u32,
}

fn size(btf: &Btf, id: u32) -> Result<u32, CoreError> {
    // btf__resolve_size caps sizes at u32::MAX, so this never truncates.
    resolve_size(btf, id).map(|s| s as u32).map_err(|source| CoreError::Btf { size_of: Some(id), source })
}

/// Size of the innermost element type of `id` (arrays stripped, as many
/// levels as there are): the width a load or store of one element has.
fn element_size(btf: &Btf, id: u32) -> Result<u32, CoreError> {
    let (mut eid, mut t) = skip_mods_and_typedefs(btf, id)?;
    // Bounded: a loop of arrays is caught by skip's own bound per step and
    // this count overall.
    for _ in 0..bpfld_btf::resolve::MAX_RESOLVE_DEPTH {
        match t.and_then(|t| t.array()) {
            Some(a) => (eid, t) = skip_mods_and_typedefs(btf, a.elem_type)?,
            None => return size(btf, eid),
        }
    }
    Err(CoreError::ArrayChainLoop { type_id: id })
}

/// Field relocations (`bpf_core_calc_field_relo`). `spec` is `None` when no
/// candidate matched; `validate` is set only for the local side.
///
/// - `field_exists`: 1 if the field was found, 0 if not;
/// - without a target, everything else asks for poisoning;
/// - the last accessor an array index (or the bare root access): only
///   `byte_off` (the element's offset) and `byte_sz` (the element's size)
///   make sense, anything else is an error;
/// - a bitfield (the composite records a bitfield size): the load unit is
///   the field type's size, doubled (up to 8 bytes) until one aligned unit
///   holds every bit; `byte_off` and `byte_sz` describe that unit,
///   `lshift_u64`/`rshift_u64` the shifts that extract the bits from a u64
///   holding it (little-endian layout). A bitfield no 8-byte load can
///   hold is an error. The compiler's idea of a bitfield's unit may differ
///   from this, so only `signed` and `rshift_u64` are validated locally;
/// - a plain field: offset and size of its type; `byte_off` also records
///   the innermost element size for the load/store width check.
fn calc_field(kind: CoreReloKind, spec: Option<&Spec<'_>>, validate: Option<&mut bool>) -> Result<Calc<FieldOut>, CoreError> {
    if kind == CoreReloKind::FieldExists {
        return Ok(Calc::Value(FieldOut { val: u64::from(spec.is_some()), ..Default::default() }));
    }
    let Some(spec) = spec else {
        return Ok(Calc::Poison);
    };
    let btf = spec.btf;
    let acc = *spec.accessors.last().ok_or(CoreError::NoAccessor { local: false })?;
    let mut out = FieldOut::default();

    if acc.name.is_none() {
        match kind {
            CoreReloKind::FieldByteOffset => {
                out.val = u64::from(spec.bit_offset / 8);
                out.field_sz = element_size(btf, acc.type_id)?;
                out.type_id = acc.type_id;
            }
            CoreReloKind::FieldByteSize => out.val = u64::from(size(btf, acc.type_id)?),
            _ => return Err(CoreError::NotArrayAccess { kind }),
        }
        if let Some(v) = validate {
            *v = true;
        }
        return Ok(Calc::Value(out));
    }

    let t = btf.type_by_id(acc.type_id)?;
    let m = t.members().nth(acc.idx as usize).ok_or(CoreError::AccessorMissing {
        accessed: Accessed::Member,
        type_id: acc.type_id,
        index: acc.idx,
    })?;
    let (field_type_id, mt) = skip_mods_and_typedefs(btf, m.type_id)?;
    let bit_off = spec.bit_offset;
    let mut bit_sz = m.bitfield_size;
    let bitfield = bit_sz > 0;
    let (byte_off, byte_sz);
    if bitfield {
        // libbpf reads the field type's `size` word as is.
        let mut bsz = mt.map_or(0, |t| t.raw_size_or_type());
        if bsz == 0 {
            return Err(CoreError::BitfieldSizeless { type_id: acc.type_id, index: acc.idx });
        }
        let mut boff = bit_off / 8 / bsz * bsz;
        while bit_off.wrapping_add(bit_sz).wrapping_sub(boff.wrapping_mul(8)) > bsz.wrapping_mul(8) {
            if bsz >= 8 {
                return Err(CoreError::BitfieldTooWide { type_id: acc.type_id, index: acc.idx });
            }
            bsz *= 2;
            boff = bit_off / 8 / bsz * bsz;
        }
        (byte_off, byte_sz) = (boff, bsz);
    } else {
        byte_sz = size(btf, field_type_id)?;
        byte_off = bit_off / 8;
        bit_sz = byte_sz.wrapping_mul(8);
    }
    let mut validate = validate;
    if let Some(v) = validate.as_deref_mut() {
        *v = !bitfield;
    }
    match kind {
        CoreReloKind::FieldByteOffset => {
            out.val = u64::from(byte_off);
            if !bitfield {
                out.field_sz = element_size(btf, field_type_id)?;
                out.type_id = field_type_id;
            }
        }
        CoreReloKind::FieldByteSize => out.val = u64::from(byte_sz),
        CoreReloKind::FieldSigned => {
            let signed = match mt {
                Some(t) if t.kind().is_enum() => t.kflag(),
                Some(t) if t.kind() == Kind::Int => t.int_info().is_some_and(|i| i.encoding & int_encoding::SIGNED != 0),
                _ => false,
            };
            out.val = u64::from(signed);
            if let Some(v) = validate {
                *v = true;
            }
        }
        CoreReloKind::FieldLshiftU64 => {
            // u32 arithmetic, as libbpf: a field wider than 8 bytes wraps.
            out.val = if cfg!(target_endian = "little") {
                u64::from(64u32.wrapping_sub(bit_off.wrapping_add(bit_sz).wrapping_sub(byte_off.wrapping_mul(8))))
            } else {
                u64::from((8u32.wrapping_sub(byte_sz)).wrapping_mul(8).wrapping_add(bit_off.wrapping_sub(byte_off.wrapping_mul(8))))
            };
        }
        CoreReloKind::FieldRshiftU64 => {
            out.val = u64::from(64u32.wrapping_sub(bit_sz));
            if let Some(v) = validate {
                *v = true;
            }
        }
        _ => return Err(CoreError::NotFieldKind { kind }),
    }
    Ok(Calc::Value(out))
}

/// Type relocations (`bpf_core_calc_type_relo`): without a target every
/// kind is 0 (the type does not exist); `target_type_id` is the
/// candidate's id (not validated locally: the local id in the instruction
/// may have changed when objects were linked); `type_exists` and
/// `type_matches` are 1; `type_size` is the type's size.
fn calc_type(kind: CoreReloKind, spec: Option<&Spec<'_>>, validate: Option<&mut bool>) -> Result<u64, CoreError> {
    let mut validate = validate;
    if let Some(v) = validate.as_deref_mut() {
        *v = true;
    }
    let Some(spec) = spec else {
        return Ok(0);
    };
    match kind {
        CoreReloKind::TypeIdTarget => {
            if let Some(v) = validate {
                *v = false;
            }
            Ok(u64::from(spec.root_type_id))
        }
        CoreReloKind::TypeExists | CoreReloKind::TypeMatches => Ok(1),
        CoreReloKind::TypeSize => Ok(u64::from(size(spec.btf, spec.root_type_id)?)),
        _ => Err(CoreError::UnrecognizedReloKind { kind }),
    }
}

/// Enumerator relocations (`bpf_core_calc_enumval_relo`): existence is 1
/// or 0; a value without a target asks for poisoning.
///
/// An ENUM's value is taken as libbpf takes it, a signed 32-bit number
/// widened to 64 bits *whatever the enum's signedness*: an unsigned
/// enumerator `0x80000000` becomes `0xffffffff80000000`. That is what
/// libbpf compares the instruction with and what it writes, so bpfld does
/// the same.
fn calc_enumval(kind: CoreReloKind, spec: Option<&Spec<'_>>) -> Result<Calc<u64>, CoreError> {
    match kind {
        CoreReloKind::EnumvalExists => Ok(Calc::Value(u64::from(spec.is_some()))),
        CoreReloKind::EnumvalValue => {
            let Some(spec) = spec else {
                return Ok(Calc::Poison);
            };
            let acc = spec.accessors.first().ok_or(CoreError::NoAccessor { local: false })?;
            let t = spec.btf.type_by_id(acc.type_id)?;
            let e = t.enumerators().nth(acc.idx as usize).ok_or(CoreError::AccessorMissing {
                accessed: Accessed::Enumerator,
                type_id: acc.type_id,
                index: acc.idx,
            })?;
            Ok(Calc::Value(if t.kind() == Kind::Enum { e.value as u32 as i32 as i64 as u64 } else { e.value }))
        }
        _ => Err(CoreError::UnrecognizedReloKind { kind }),
    }
}

/// Computes the relocation result for one local spec and one (or no)
/// target spec (`bpf_core_calc_relo`).
///
/// For `byte_off` of a plain field whose size differs between local and
/// target, a load or store can only be resized when that preserves the
/// value: both sides pointers (a 32-bit kernel's pointers read into 64-bit
/// registers) or both unsigned integers (zero extension). Otherwise
/// `fail_memsz_adjust` is set and the patcher poisons a load or store
/// (an ALU instruction computing the offset is still patched).
pub(crate) fn calc_relo(kind: CoreReloKind, local: &Spec<'_>, targ: Option<&Spec<'_>>) -> Result<ReloRes, CoreError> {
    let mut res = ReloRes { validate: true, ..Default::default() };
    if kind.is_field() {
        let lo = match calc_field(kind, Some(local), Some(&mut res.validate))? {
            Calc::Value(v) => v,
            Calc::Poison => {
                res.poison = true;
                return Ok(res);
            }
        };
        res.orig_val = lo.val;
        res.orig_sz = lo.field_sz;
        res.orig_type_id = lo.type_id;
        let to = match calc_field(kind, targ, None)? {
            Calc::Value(v) => v,
            Calc::Poison => {
                res.poison = true;
                return Ok(res);
            }
        };
        res.new_val = to.val;
        res.new_sz = to.field_sz;
        res.new_type_id = to.type_id;
        if res.orig_sz != res.new_sz {
            fn kind_of(btf: &Btf, id: u32) -> Option<bpfld_btf::Type<'_>> {
                if id == 0 {
                    None
                } else {
                    btf.type_by_id(id).ok()
                }
            }
            let ot = kind_of(local.btf, res.orig_type_id);
            let nt = targ.and_then(|t| kind_of(t.btf, res.new_type_id));
            let both_ptrs = ot.is_some_and(|t| t.kind() == Kind::Ptr) && nt.is_some_and(|t| t.kind() == Kind::Ptr);
            // libbpf compares the whole encoding with BTF_INT_SIGNED: a
            // `char` or `bool` (other encoding bits) counts as unsigned.
            let unsigned_int =
                |t: Option<bpfld_btf::Type<'_>>| t.and_then(|t| t.int_info()).is_some_and(|i| i.encoding != int_encoding::SIGNED);
            if !(both_ptrs || (unsigned_int(ot) && unsigned_int(nt))) {
                res.fail_memsz_adjust = true;
            }
        }
    } else if kind.is_type() {
        res.orig_val = calc_type(kind, Some(local), Some(&mut res.validate))?;
        res.new_val = calc_type(kind, targ, None)?;
    } else if kind.is_enumval() {
        match calc_enumval(kind, Some(local))? {
            Calc::Value(v) => res.orig_val = v,
            Calc::Poison => res.poison = true,
        }
        if !res.poison {
            match calc_enumval(kind, targ)? {
                Calc::Value(v) => res.new_val = v,
                Calc::Poison => res.poison = true,
            }
        }
    } else {
        return Err(CoreError::UnrecognizedReloKind { kind });
    }
    Ok(res)
}
