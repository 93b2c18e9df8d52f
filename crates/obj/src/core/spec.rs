//! The *spec* of a CO-RE relocation: its access string (`0:1:2:3`) parsed
//! and walked through the local BTF, as libbpf 1.7's `bpf_core_parse_spec`
//! does, and rendered as `bpf_core_format_spec` renders it.
//!
//! A spec has two levels, as in libbpf:
//!
//! - the *raw* spec is the access string itself, one index per step, with
//!   every anonymous struct or union member along the way;
//! - the *high-level* spec keeps only the steps that mean something when
//!   the type is looked up in another BTF: the initial `s[0]`-style access
//!   through the root pointer, each *named* member, and each array index.
//!   Anonymous members are skipped there because the kernel may wrap or
//!   unwrap them, and the target spec finds named members wherever they are.
//!
//! The walk also sums the bit offset the access reaches, which the field
//! relocations need. Enumerator relocations use one index (the enumerator);
//! type relocations have the access string `"0"` and no accessors.

use super::error::{CoreError, Indexed};
use bpfld_btf::ext::CoreReloKind;
use bpfld_btf::resolve::{resolve_size, skip_mods_and_typedefs};
use bpfld_btf::{Btf, Kind};

/// libbpf's `BPF_CORE_SPEC_MAX_LEN`: the longest raw and high-level spec.
pub const MAX_SPEC_LEN: usize = 64;

/// One high-level step of a spec (libbpf's `bpf_core_accessor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Accessor<'b> {
    /// For a named member: the (modifier- and typedef-free) composite that
    /// holds it. For an array index or the root access: the element type.
    /// For an enumerator: the enum.
    pub type_id: u32,
    /// Member, array or enumerator index.
    pub idx: u32,
    /// The member's or enumerator's name; `None` for an array index (and the
    /// root access).
    pub name: Option<&'b [u8]>,
}

/// A parsed, resolved spec against one BTF (libbpf's `bpf_core_spec`).
#[derive(Debug, Clone)]
pub(crate) struct Spec<'b> {
    pub btf: &'b Btf,
    /// The type the relocation names, as given (not looked through
    /// modifiers or typedefs): the local type, or a candidate's id.
    pub root_type_id: u32,
    pub kind: CoreReloKind,
    pub accessors: Vec<Accessor<'b>>,
    /// The raw spec: one index per access-string step.
    pub raw: Vec<u32>,
    /// Bit offset of the accessed field from the start of the root object.
    /// Sums wrap at 32 bits, as libbpf's `__u32` does.
    pub bit_offset: u32,
}

impl<'b> Spec<'b> {
    /// An empty spec rooted at `root_type_id`, for matching to fill.
    pub(crate) fn empty(btf: &'b Btf, root_type_id: u32, kind: CoreReloKind) -> Spec<'b> {
        Spec { btf, root_type_id, kind, accessors: Vec::new(), raw: Vec::new(), bit_offset: 0 }
    }
}

/// Splits an access string into its indexes, accepting exactly what
/// libbpf's `sscanf("%d%n")` loop accepts: each step may be preceded by one
/// `:` and by white space, may carry a sign, and must have a digit.
/// `"0:"`, `"0::1"`, `":0"` and `""` are malformed; so are more than
/// [`MAX_SPEC_LEN`] steps.
///
/// Deliberate difference: a negative index or one beyond `i32::MAX` is
/// rejected here. libbpf accepts a negative index and then reads outside
/// the type's members (undefined behaviour); no compiler emits one.
pub(crate) fn parse_access(s: &str) -> Result<Vec<u32>, CoreError> {
    let b = s.as_bytes();
    if b.is_empty() || b[0] == b':' {
        return Err(CoreError::AccessEmpty { access: s.to_string() });
    }
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b':' {
            i += 1;
        }
        let start = i;
        // sscanf's %d: white space, an optional sign, then digits.
        while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
            i += 1;
        }
        let negative = i < b.len() && b[i] == b'-';
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let digits = i;
        let mut value: u64 = 0;
        while i < b.len() && b[i].is_ascii_digit() {
            value = (value * 10 + u64::from(b[i] - b'0')).min(u64::from(u32::MAX) + 1);
            i += 1;
        }
        if i == digits {
            return Err(CoreError::AccessSyntax { access: s.to_string(), byte: Some(start) });
        }
        if negative && value != 0 {
            return Err(CoreError::AccessNegative { access: s.to_string() });
        }
        if value > i32::MAX as u64 {
            return Err(CoreError::AccessIndexTooBig { access: s.to_string() });
        }
        if out.len() == MAX_SPEC_LEN {
            return Err(CoreError::AccessTooLong { access: s.to_string() });
        }
        out.push(value as u32);
    }
    if out.is_empty() {
        return Err(CoreError::AccessSyntax { access: s.to_string(), byte: None });
    }
    Ok(out)
}

fn size_of(btf: &Btf, id: u32) -> Result<u64, CoreError> {
    resolve_size(btf, id).map_err(|source| CoreError::Btf { size_of: Some(id), source })
}

/// Whether the array `acc`'s access steps into is a flexible array member
/// (libbpf's `is_flex_arr`): it has no elements and is the last member of
/// the struct the previous high-level accessor named. Indexes into such an
/// array are not bounds-checked.
pub(crate) fn is_flex_array(btf: &Btf, prev: Option<&Accessor<'_>>, nelems: u32) -> bool {
    let Some(prev) = prev else { return false };
    if prev.name.is_none() || nelems > 0 {
        return false;
    }
    btf.type_by_id(prev.type_id).map(|t| t.vlen()).is_ok_and(|n| n > 0 && prev.idx as usize == n - 1)
}

/// Parses the access string `access` of a relocation of `kind` on type
/// `type_id` of `btf` into a spec (`bpf_core_parse_spec`).
///
/// The rules, which libbpf applies to the local BTF:
///
/// - **type relocations** (`type_exists`, `type_size`, `type_matches`,
///   `local_type_id`, `target_type_id`) must have the access string `"0"`
///   and get no accessors;
/// - **enumerator relocations** need the type (through modifiers and
///   typedefs) to be an ENUM or ENUM64 and exactly one index, below its
///   enumerator count; the accessor records the enumerator's name;
/// - **field relocations** start with an access through the root pointer
///   (`p[n]`, offset `n * sizeof(*p)`), then for each step: in a struct or
///   union, the member with that index (its bit offset added; a named
///   member becomes a high-level accessor, an anonymous one only a raw
///   step); in an array, the element with that index, bounds-checked
///   unless it is a flexible array member; anything else is an error.
///   A member whose name offset is non-zero but names an empty string is an
///   error.
pub(crate) fn parse_spec<'b>(btf: &'b Btf, type_id: u32, access: &str, kind: CoreReloKind) -> Result<Spec<'b>, CoreError> {
    if access.is_empty() || access.starts_with(':') {
        return Err(CoreError::AccessEmpty { access: access.to_string() });
    }
    let mut spec = Spec::empty(btf, type_id, kind);
    if kind.is_type() {
        if access != "0" {
            return Err(CoreError::TypeAccessNotZero { access: access.to_string() });
        }
        return Ok(spec);
    }
    spec.raw = parse_access(access)?;
    let (mut id, t) = skip_mods_and_typedefs(btf, type_id)?;
    let first = spec.raw[0];
    spec.accessors.push(Accessor { type_id: id, idx: first, name: None });

    if kind.is_enumval() {
        let t = t.filter(|t| t.kind().is_enum()).ok_or(CoreError::NotEnum { type_id })?;
        if spec.raw.len() > 1 {
            return Err(CoreError::EnumAccessTooLong { access: access.to_string() });
        }
        let e = t.enumerators().nth(first as usize).ok_or_else(|| CoreError::IndexOutOfRange {
            indexed: Indexed::Enumerator,
            type_id: id,
            index: first,
            count: t.vlen(),
        })?;
        spec.accessors[0].name = Some(btf.str_raw(e.name_off)?);
        return Ok(spec);
    }
    if !kind.is_field() {
        return Err(CoreError::UnknownReloKind { kind });
    }

    let sz = size_of(btf, id)?;
    spec.bit_offset = (u64::from(first).wrapping_mul(sz).wrapping_mul(8)) as u32;
    for step in 1..spec.raw.len() {
        let idx = spec.raw[step];
        let (sid, t) = skip_mods_and_typedefs(btf, id)?;
        id = sid;
        match t {
            Some(t) if t.kind().is_composite() => {
                let m = t.members().nth(idx as usize).ok_or_else(|| CoreError::IndexOutOfRange {
                    indexed: Indexed::Member,
                    type_id: id,
                    index: idx,
                    count: t.vlen(),
                })?;
                spec.bit_offset = spec.bit_offset.wrapping_add(m.bit_offset);
                if m.name_off != 0 {
                    let name = btf.str_raw(m.name_off)?;
                    if name.is_empty() {
                        return Err(CoreError::EmptyMemberName { type_id: id, index: idx });
                    }
                    spec.accessors.push(Accessor { type_id: id, idx, name: Some(name) });
                }
                id = m.type_id;
            }
            Some(t) if t.kind() == Kind::Array => {
                let a = t.array().expect("ARRAY has array info");
                let (eid, _) = skip_mods_and_typedefs(btf, a.elem_type)?;
                id = eid;
                if !is_flex_array(btf, spec.accessors.last(), a.nelems) && idx >= a.nelems {
                    return Err(CoreError::IndexOutOfRange {
                        indexed: Indexed::ArrayElement,
                        type_id: t.id(),
                        index: idx,
                        count: a.nelems as usize,
                    });
                }
                spec.accessors.push(Accessor { type_id: id, idx, name: None });
                let esz = size_of(btf, id)?;
                spec.bit_offset = spec.bit_offset.wrapping_add((u64::from(idx).wrapping_mul(esz).wrapping_mul(8)) as u32);
            }
            other => {
                return Err(CoreError::UnexpectedKind {
                    root: type_id,
                    access: access.to_string(),
                    step,
                    type_id: id,
                    found: other.map(|t| t.kind()),
                });
            }
        }
    }
    Ok(spec)
}

/// libbpf's `btf_kind_str`: the lower-case kind name, `void` for id 0.
pub(crate) fn kind_str(kind: Option<Kind>) -> String {
    kind.map_or_else(|| "void".to_string(), |k| k.name().to_ascii_lowercase())
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Renders a spec as libbpf's `bpf_core_format_spec` does, which is what
/// libbpf prints in its debug output and in the verifier log of a program
/// whose unguarded CO-RE relocation failed:
///
/// `<byte_off> [7] struct task_struct.pid (0:18 @ offset 2416)`: the
/// relocation kind, the root type id, kind and name (`<anon>` if none),
/// then for field relocations the C-like path (`.member`, `[index]`; a
/// leading `[0]` is omitted), the raw spec and the bit offset (`@ offset
/// 12.3` when not byte-aligned); for enumerator relocations
/// `::NAME = value`, signed or not as the enum says.
pub(crate) fn format_spec(spec: &Spec<'_>) -> String {
    let btf = spec.btf;
    let root = if spec.root_type_id == 0 { None } else { btf.type_by_id(spec.root_type_id).ok() };
    let name = root.and_then(|t| t.name_bytes().ok()).unwrap_or(b"");
    let mut s = format!(
        "<{}> [{}] {} {}",
        spec.kind.name(),
        spec.root_type_id,
        kind_str(root.map(|t| t.kind())),
        if name.is_empty() { "<anon>".into() } else { lossy(name) }
    );
    if spec.kind.is_type() {
        return s;
    }
    if spec.kind.is_enumval() {
        let t = skip_mods_and_typedefs(btf, spec.root_type_id).ok().and_then(|(_, t)| t);
        let idx = spec.raw.first().copied().unwrap_or(0) as usize;
        if let Some(t) = t.filter(|t| t.kind().is_enum()) {
            if let Some(e) = t.enumerators().nth(idx) {
                let en = btf.str_raw(e.name_off).unwrap_or(b"");
                let signed = t.kflag();
                let v = if t.kind() == Kind::Enum {
                    let raw = e.value as u32;
                    if signed {
                        (raw as i32).to_string()
                    } else {
                        raw.to_string()
                    }
                } else if signed {
                    (e.value as i64).to_string()
                } else {
                    e.value.to_string()
                };
                s.push_str(&format!("::{} = {v}", lossy(en)));
            }
        }
        return s;
    }
    for (i, acc) in spec.accessors.iter().enumerate() {
        match acc.name {
            Some(n) => {
                s.push('.');
                s.push_str(&lossy(n));
            }
            None if i > 0 || acc.idx > 0 => s.push_str(&format!("[{}]", acc.idx)),
            None => {}
        }
    }
    s.push_str(" (");
    let raw: Vec<String> = spec.raw.iter().map(|r| r.to_string()).collect();
    s.push_str(&raw.join(":"));
    if spec.bit_offset % 8 != 0 {
        s.push_str(&format!(" @ offset {}.{})", spec.bit_offset / 8, spec.bit_offset % 8));
    } else {
        s.push_str(&format!(" @ offset {})", spec.bit_offset / 8));
    }
    s
}

/// The spec text as libbpf puts it into the verifier log: its formatting
/// buffer holds 256 bytes, so a longer spec is cut to 255 and `...` is
/// appended (`fixup_log_failed_core_relo`).
pub fn log_spec(spec: &str) -> String {
    const BUF: usize = 256;
    if spec.len() < BUF {
        return spec.to_string();
    }
    let mut cut = BUF - 1;
    // libbpf cuts bytes; names are ASCII in practice, but stay on a char
    // boundary so the result is a valid string.
    while !spec.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &spec[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_strings_parse_like_sscanf() {
        assert_eq!(parse_access("0").unwrap(), vec![0]);
        assert_eq!(parse_access("0:1:2:3").unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(parse_access("01:+2: 3").unwrap(), vec![1, 2, 3]);
        // sscanf reads "1 2" as two numbers: the loop does not need a ':'.
        assert_eq!(parse_access("1 2").unwrap(), vec![1, 2]);
        for bad in ["", ":0", "0:", "0::1", "a", "0:x", "1a", "0:-1", "-2", "99999999999", "0:"] {
            assert!(parse_access(bad).is_err(), "{bad:?} should be rejected");
        }
        let long = vec!["0"; MAX_SPEC_LEN].join(":");
        assert_eq!(parse_access(&long).unwrap().len(), MAX_SPEC_LEN);
        assert!(parse_access(&format!("{long}:0")).is_err());
    }

    #[test]
    fn log_spec_truncates_like_libbpf() {
        let short = "<byte_off> [1] struct s.a (0:0 @ offset 0)";
        assert_eq!(log_spec(short), short);
        let long = "x".repeat(300);
        let l = log_spec(&long);
        assert_eq!(l.len(), 258);
        assert!(l.ends_with("x..."));
        assert_eq!(log_spec(&"y".repeat(255)), "y".repeat(255));
        assert_eq!(log_spec(&"y".repeat(256)), format!("{}...", "y".repeat(255)));
    }
}
