//! Collecting externs when an object is opened: which undefined symbols are
//! kfuncs, kernel variables or kconfig values, what their local BTF says,
//! and where each `__kconfig` value lives in the `.kconfig` map.
//!
//! This follows libbpf's `bpf_object__collect_externs` so that extern
//! indexes (which poisoned instructions carry) and the `.kconfig` layout are
//! the same under both loaders: externs are sorted kconfig first (by
//! alignment descending, then size ascending, then name), then ksyms and
//! kfuncs by name.

use std::collections::HashMap;

use bpfld_btf::resolve::{align_of, resolve_size, skip_mods_and_typedefs};
use bpfld_btf::{essential_name, int_encoding, Btf, FuncLinkage, Kind, VarLinkage};

use super::error::{ExternError, Malformed, UnsupportedKconfig};

/// What an extern refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExternKind {
    /// A `__kconfig` value (or one of libbpf's virtual `LINUX_*` values).
    Kconfig,
    /// A kernel variable (`extern T sym __ksym`): typed if its BTF type is
    /// not void, else typeless (an address from kallsyms).
    Ksym,
    /// A kernel function (`extern ... f(...) __ksym`).
    Kfunc,
}

impl ExternKind {
    /// libbpf's wording in diagnostics: `(kcfg)`, `(var ksym)`, `(func ksym)`.
    pub fn label(self) -> &'static str {
        match self {
            ExternKind::Kconfig => "kcfg",
            ExternKind::Ksym => "var ksym",
            ExternKind::Kfunc => "func ksym",
        }
    }
}

/// How a kconfig value is stored (libbpf's `enum kcfg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KconfigType {
    /// `bool`: `y` is 1, `n` 0 (`m` does not fit).
    Bool,
    /// `char`: the option's first character (`y`, `n`, `m`).
    Char,
    /// `enum libbpf_tristate`.
    Tristate,
    /// `char name[N]`, for string options.
    CharArray,
    /// An integer of 1, 2, 4 or 8 bytes.
    Int,
}

/// Where and how a kconfig extern is stored in the `.kconfig` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KconfigSlot {
    /// How the value is stored.
    pub ty: KconfigType,
    /// Its size in bytes.
    pub size: u32,
    /// Its alignment in bytes.
    pub align: u32,
    /// A signed integer.
    pub signed: bool,
    /// Offset of the value in the `.kconfig` map.
    pub data_off: u32,
}

/// An extern symbol the object refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extern {
    /// The full name, flavor included (`bpf_task_acquire___one`).
    pub name: String,
    /// The name looked up in kernel BTF for a kfunc: the flavor suffix
    /// (from the last `X___Y`) stripped.
    pub essential_name: String,
    /// kfunc, ksym or kconfig.
    pub kind: ExternKind,
    /// Declared `__weak`: may stay unresolved (then 0).
    pub weak: bool,
    /// ELF symbol index (relocations name externs by it).
    pub sym_idx: usize,
    /// Object-BTF id of the extern's FUNC or VAR.
    pub btf_id: u32,
    /// The local type to check against the kernel's: a kfunc's FUNC_PROTO;
    /// a ksym's type with modifiers and typedefs skipped, 0 when typeless
    /// (`const void`); a kconfig extern's type.
    pub type_id: u32,
    /// Where a kconfig extern's value goes in the `.kconfig` map.
    pub kconfig: Option<KconfigSlot>,
    /// Names of the required flavor groups the extern belongs to, from
    /// `btf_decl_tag("bpfld:require_one:<group>")` on its declaration.
    pub require_groups: Vec<String>,
}

impl Extern {
    /// A typeless ksym (`extern const void sym __ksym`), resolved through
    /// kallsyms rather than BTF.
    pub fn is_typeless_ksym(&self) -> bool {
        self.kind == ExternKind::Ksym && self.type_id == 0
    }
}

/// The decl-tag prefix that puts an extern in a required flavor group.
pub const REQUIRE_ONE_TAG: &str = "bpfld:require_one:";

/// An extern symbol as the ELF symbol table gives it.
pub struct ExternSymbol<'a> {
    /// Its index in the ELF symbol table.
    pub sym_idx: usize,
    /// Its name.
    pub name: &'a str,
    /// `STB_WEAK` binding.
    pub weak: bool,
}

/// Collects and sorts the externs named by `symbols` (undefined global
/// symbols without a type, libbpf's `sym_is_extern`). Errors carry the
/// extern's name and the reason.
pub fn collect_externs(btf: Option<&Btf>, symbols: &[ExternSymbol<'_>]) -> Result<Vec<Extern>, (String, ExternError)> {
    let mut out = Vec::new();
    let tags = btf.map(require_group_tags).unwrap_or_default();
    for s in symbols {
        let fail = |e: ExternError| (s.name.to_string(), e);
        let Some(btf) = btf else {
            return Err(fail(ExternError::Declaration(Malformed::NoObjectBtf)));
        };
        let btf_id = find_extern_btf_id(btf, s.name).map_err(fail)?;
        let t = btf.type_by_id(btf_id).map_err(|e| fail(e.into()))?;
        let sec = find_extern_section(btf, btf_id).map_err(fail)?;
        let (kind, type_id, kconfig) = match (sec.as_str(), t.kind()) {
            (".kconfig", Kind::Func) => {
                return Err(fail(ExternError::UnsupportedDeclaration(UnsupportedKconfig::KconfigFunction)));
            }
            (".kconfig", _) => {
                let ty = t.type_ref().unwrap_or(0);
                let size = resolve_size(btf, ty).map_err(|source| {
                    fail(ExternError::DeclarationBtf { what: Some("failed to resolve the size of the kconfig value".into()), source })
                })?;
                let size = u32::try_from(size)
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| fail(ExternError::UnsupportedDeclaration(UnsupportedKconfig::KconfigSize { size })))?;
                let align = align_of(btf, ty).map_err(|source| {
                    fail(ExternError::DeclarationBtf {
                        what: Some("failed to determine the alignment of the kconfig value".into()),
                        source,
                    })
                })?;
                let align = Some(align)
                    .filter(|a| a.is_power_of_two())
                    .ok_or_else(|| fail(ExternError::Declaration(Malformed::KconfigAlignment { align })))?;
                let (kty, signed) = kconfig_type(btf, ty).map_err(fail)?;
                (ExternKind::Kconfig, ty, Some(KconfigSlot { ty: kty, size, align, signed, data_off: 0 }))
            }
            (".ksyms", Kind::Func) => (ExternKind::Kfunc, t.type_ref().unwrap_or(0), None),
            (".ksyms", _) => {
                let (id, _) = skip_mods_and_typedefs(btf, t.type_ref().unwrap_or(0)).map_err(|e| fail(e.into()))?;
                (ExternKind::Ksym, id, None)
            }
            (other, _) => return Err(fail(ExternError::Declaration(Malformed::UnknownSection { section: other.to_string() }))),
        };
        out.push(Extern {
            name: s.name.to_string(),
            essential_name: essential_name(s.name).to_string(),
            kind,
            weak: s.weak,
            sym_idx: s.sym_idx,
            btf_id,
            type_id,
            kconfig,
            require_groups: tags.get(&btf_id).cloned().unwrap_or_default(),
        });
    }
    out.sort_by(|a, b| {
        let kind = |e: &Extern| if e.kind == ExternKind::Kconfig { 0 } else { 1 };
        kind(a)
            .cmp(&kind(b))
            .then_with(|| match (&a.kconfig, &b.kconfig) {
                (Some(x), Some(y)) => y.align.cmp(&x.align).then(x.size.cmp(&y.size)),
                _ => std::cmp::Ordering::Equal,
            })
            .then_with(|| a.name.as_bytes().cmp(b.name.as_bytes()))
    });
    layout_kconfig(&mut out)?;
    Ok(out)
}

/// The largest `.kconfig` map bpfld lays out. Its size comes from BTF alone
/// (no bytes in the file back it), and real kconfig values are a few bytes
/// each: a larger claim is corrupt input, not something to allocate.
pub const MAX_KCONFIG_MAP_SIZE: u32 = 1 << 20;

/// Places each kconfig value at its aligned offset in the `.kconfig` map.
fn layout_kconfig(externs: &mut [Extern]) -> Result<(), (String, ExternError)> {
    let mut off = 0u32;
    for e in externs.iter_mut() {
        let Some(k) = &mut e.kconfig else { continue };
        let end = off
            .checked_next_multiple_of(k.align)
            .and_then(|start| Some((start, start.checked_add(k.size)?)))
            .filter(|&(_, end)| end <= MAX_KCONFIG_MAP_SIZE);
        let Some((start, end)) = end else {
            let full = UnsupportedKconfig::KconfigMapFull { size: k.size, offset: off, max: MAX_KCONFIG_MAP_SIZE };
            return Err((e.name.clone(), ExternError::UnsupportedDeclaration(full)));
        };
        k.data_off = start;
        off = end;
    }
    Ok(())
}

/// Size of the `.kconfig` map: the end of the last kconfig value.
pub fn kconfig_map_size(externs: &[Extern]) -> u32 {
    externs.iter().filter_map(|e| e.kconfig).map(|k| k.data_off + k.size).max().unwrap_or(0)
}

/// libbpf's `find_extern_btf_id`: the first VAR or FUNC named `name`,
/// which must have extern linkage.
fn find_extern_btf_id(btf: &Btf, name: &str) -> Result<u32, ExternError> {
    let id = btf
        .find_own(name, None)
        .into_iter()
        .find(|&id| btf.type_by_id(id).map(|t| matches!(t.kind(), Kind::Var | Kind::Func)).unwrap_or(false));
    let Some(id) = id else {
        return Err(ExternError::Declaration(Malformed::NoBtfEntry));
    };
    let t = btf.type_by_id(id)?;
    match t.kind() {
        Kind::Var if t.var_linkage() != Some(VarLinkage::Extern) => {
            Err(ExternError::Declaration(Malformed::VarLinkage { id, linkage: t.var_linkage().unwrap_or(VarLinkage::Static) }))
        }
        Kind::Func if t.func_linkage() != Some(FuncLinkage::Extern) => {
            Err(ExternError::Declaration(Malformed::FuncLinkage { id, linkage: t.func_linkage().unwrap_or(FuncLinkage::Static) }))
        }
        _ => Ok(id),
    }
}

/// The name of the DATASEC listing `id`.
fn find_extern_section(btf: &Btf, id: u32) -> Result<String, ExternError> {
    for name in [".kconfig", ".ksyms"] {
        for ds in btf.find_own(name, Some(Kind::Datasec)) {
            let t = btf.type_by_id(ds)?;
            if t.datasec_vars().any(|v| v.type_id == id) {
                return Ok(name.to_string());
            }
        }
    }
    // Any other DATASEC holding it is named in the error.
    for t in btf.own_types().filter(|t| t.kind() == Kind::Datasec) {
        if t.datasec_vars().any(|v| v.type_id == id) {
            return Ok(t.name().unwrap_or("?").to_string());
        }
    }
    Err(ExternError::Declaration(Malformed::NoDatasec { id }))
}

/// libbpf's `find_kcfg_type`.
fn kconfig_type(btf: &Btf, id: u32) -> Result<(KconfigType, bool), ExternError> {
    let (_, t) = skip_mods_and_typedefs(btf, id)?;
    let unsupported = || Err(ExternError::UnsupportedDeclaration(UnsupportedKconfig::KconfigType));
    let Some(t) = t else { return unsupported() };
    let size = t.size().unwrap_or(0);
    match t.kind() {
        Kind::Int => {
            let enc = t.int_info().expect("INT").encoding;
            if enc & int_encoding::BOOL != 0 {
                return if size == 1 { Ok((KconfigType::Bool, false)) } else { unsupported() };
            }
            let signed = enc & int_encoding::SIGNED != 0;
            if size == 1 {
                Ok((KconfigType::Char, signed))
            } else if matches!(size, 2 | 4 | 8) {
                Ok((KconfigType::Int, signed))
            } else {
                unsupported()
            }
        }
        Kind::Enum | Kind::Enum64 if t.name().unwrap_or("") == "libbpf_tristate" && (t.kind() == Kind::Enum64 || size == 4) => {
            Ok((KconfigType::Tristate, false))
        }
        Kind::Array => {
            let a = t.array().expect("ARRAY");
            if a.nelems == 0 || kconfig_type(btf, a.elem_type)?.0 != KconfigType::Char {
                return unsupported();
            }
            Ok((KconfigType::CharArray, false))
        }
        _ => unsupported(),
    }
}

/// The `bpfld:require_one:<group>` decl tags of the object, by the BTF id
/// they are attached to (one pass over the object's types).
fn require_group_tags(btf: &Btf) -> HashMap<u32, Vec<String>> {
    let mut tags: HashMap<u32, Vec<String>> = HashMap::new();
    for t in btf.own_types().filter(|t| t.kind() == Kind::DeclTag && t.decl_tag_component() == Some(-1)) {
        if let Some(group) = t.name().ok().and_then(|n| n.strip_prefix(REQUIRE_ONE_TAG)) {
            tags.entry(t.type_ref().unwrap_or(0)).or_default().push(group.to_string());
        }
    }
    tags
}
