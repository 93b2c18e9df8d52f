//! A text dump in the format of `bpftool btf dump file F` (the "raw" format),
//! so that bpfld's view of a blob can be diffed against bpftool's line for
//! line.

use std::fmt::Write;

use crate::btf::Btf;
use crate::error::Result;
use crate::kind::{int_encoding, FuncLinkage, Kind, VarLinkage};
use crate::types::Type;

fn quoted(s: &str) -> String {
    if s.is_empty() {
        "'(anon)'".to_string()
    } else {
        format!("'{s}'")
    }
}

fn int_encoding_str(enc: u8) -> &'static str {
    match enc {
        0 => "(none)",
        int_encoding::SIGNED => "SIGNED",
        int_encoding::CHAR => "CHAR",
        int_encoding::BOOL => "BOOL",
        _ => "UNKN",
    }
}

/// Appends the dump of one type (its header line and member lines, each
/// ending in a newline) to `out`.
pub fn dump_type(t: &Type<'_>, out: &mut String) -> Result<()> {
    let kind = t.kind();
    let _ = write!(out, "[{}] {} {}", t.id(), kind.name(), quoted(t.name()?));
    match kind {
        Kind::Int => {
            let i = t.int_info().expect("INT");
            let _ = write!(
                out,
                " size={} bits_offset={} nr_bits={} encoding={}",
                t.raw_size_or_type(),
                i.bit_offset,
                i.bits,
                int_encoding_str(i.encoding)
            );
        }
        Kind::Ptr | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::Typedef | Kind::TypeTag => {
            let _ = write!(out, " type_id={}", t.raw_size_or_type());
        }
        Kind::Array => {
            let a = t.array().expect("ARRAY");
            let _ = write!(out, " type_id={} index_type_id={} nr_elems={}", a.elem_type, a.index_type, a.nelems);
        }
        Kind::Struct | Kind::Union => {
            let _ = write!(out, " size={} vlen={}", t.raw_size_or_type(), t.vlen());
            for m in t.members() {
                let _ = write!(out, "\n\t{} type_id={} bits_offset={}", quoted(t.str(m.name_off)?), m.type_id, m.bit_offset);
                if m.bitfield_size != 0 {
                    let _ = write!(out, " bitfield_size={}", m.bitfield_size);
                }
            }
        }
        Kind::Enum | Kind::Enum64 => {
            let signed = t.is_signed_enum();
            let _ = write!(out, " encoding={} size={} vlen={}", if signed { "SIGNED" } else { "UNSIGNED" }, t.raw_size_or_type(), t.vlen());
            for e in t.enumerators() {
                let name = quoted(t.str(e.name_off)?);
                let _ = match (kind, signed) {
                    (Kind::Enum, true) => write!(out, "\n\t{name} val={}", e.value as i64),
                    (Kind::Enum, false) => write!(out, "\n\t{name} val={}", e.value),
                    (_, true) => write!(out, "\n\t{name} val={}LL", e.value as i64),
                    (_, false) => write!(out, "\n\t{name} val={}ULL", e.value),
                };
            }
        }
        Kind::Fwd => {
            let _ = write!(out, " fwd_kind={}", if t.fwd_is_union() { "union" } else { "struct" });
        }
        Kind::Func => {
            let linkage = match t.func_linkage().expect("FUNC") {
                FuncLinkage::Static => "static",
                FuncLinkage::Global => "global",
                FuncLinkage::Extern => "extern",
                FuncLinkage::Unknown(_) => "(unknown)",
            };
            let _ = write!(out, " type_id={} linkage={linkage}", t.raw_size_or_type());
        }
        Kind::FuncProto => {
            let _ = write!(out, " ret_type_id={} vlen={}", t.raw_size_or_type(), t.vlen());
            for p in t.params() {
                let _ = write!(out, "\n\t{} type_id={}", quoted(t.str(p.name_off)?), p.type_id);
            }
        }
        Kind::Var => {
            let linkage = match t.var_linkage().expect("VAR") {
                VarLinkage::Static => "static",
                VarLinkage::Global => "global",
                VarLinkage::Extern => "extern",
                VarLinkage::Unknown(_) => "(unknown)",
            };
            let _ = write!(out, " type_id={}, linkage={linkage}", t.raw_size_or_type());
        }
        Kind::Datasec => {
            let _ = write!(out, " size={} vlen={}", t.raw_size_or_type(), t.vlen());
            for v in t.datasec_vars() {
                let _ = write!(out, "\n\ttype_id={} offset={} size={}", v.type_id, v.offset, v.size);
                if let Ok(vt) = t.btf().type_by_id(v.type_id) {
                    let _ = write!(out, " ({} {})", vt.kind().name(), quoted(vt.name()?));
                }
            }
        }
        Kind::Float => {
            let _ = write!(out, " size={}", t.raw_size_or_type());
        }
        Kind::DeclTag => {
            let _ = write!(out, " type_id={} component_idx={}", t.raw_size_or_type(), t.decl_tag_component().expect("DECL_TAG"));
        }
    }
    out.push('\n');
    Ok(())
}

/// Dumps every type this blob defines (not its base's, as bpftool does with
/// `-B`).
pub fn dump(btf: &Btf) -> Result<String> {
    let mut out = String::with_capacity(btf.own_type_count() as usize * 48);
    for t in btf.own_types() {
        dump_type(&t, &mut out)?;
    }
    Ok(out)
}
