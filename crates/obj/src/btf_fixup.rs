//! Load-independent fixes to an object's BTF: what clang cannot know when it
//! emits BTF (DATASEC sizes, VAR offsets) and what the ELF symbol table says
//! about visibility. The result is what the kernel will be given.

use std::collections::HashMap;

use bpfld_btf::writer::{OwnedType, TypeData, Writer};
use bpfld_btf::{Btf, Kind, VarLinkage};

use crate::error::{ErrorKind, Kind as ErrorKindOf};

/// Why an object's BTF could not be fixed up (here, for a kernel without
/// some BTF feature, or for `arg:ctx`): the BTF itself is malformed, or
/// disagrees with the ELF (a DATASEC without its section, a VAR without
/// its symbol, an extern without its declaration).
#[derive(Debug, Clone)]
pub enum BtfFixError {
    /// The BTF does not read; `what` says which BTF ("object BTF", "fixed-up
    /// BTF does not parse"), empty for the object's own.
    Btf {
        /// Which BTF (empty: the object's own).
        what: &'static str,
        /// Where and why it does not read.
        source: bpfld_btf::Error,
    },
    /// The fixed-up BTF cannot be written.
    Write(bpfld_btf::writer::WriteError),
    /// A DATASEC without size whose ELF section is missing.
    NoSectionSize {
        /// The DATASEC's type id.
        id: u32,
        /// Its name.
        section: String,
    },
    /// A size or offset does not fit 32 bits; `what` names it.
    TooLarge {
        /// The size or offset, by what it belongs to.
        what: String,
    },
    /// A DATASEC entry refers to a type the object does not have.
    EntryOutside {
        /// The DATASEC's type id, where known.
        id: Option<u32>,
        /// Its name.
        section: String,
        /// The entry's index in the DATASEC.
        entry: usize,
        /// The type id it refers to.
        type_id: u32,
    },
    /// A DATASEC entry that is not a VAR.
    EntryNotVar {
        /// The DATASEC's type id.
        id: u32,
        /// Its name.
        section: String,
        /// The entry's index in the DATASEC.
        entry: usize,
        /// The kind the entry has instead (`FUNC`, ...).
        kind: &'static str,
    },
    /// A global VAR without an ELF symbol.
    NoSymbol {
        /// The DATASEC's type id.
        id: u32,
        /// Its name.
        section: String,
        /// The VAR's name.
        var: String,
    },
    /// A `.ksyms`/`.kconfig` entry no extern of the object declares.
    NoExternDefinition {
        /// The BTF kind of the entry (`VAR`, `FUNC`).
        kind: &'static str,
        /// Its name.
        name: String,
    },
}

impl std::fmt::Display for BtfFixError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BtfFixError::Btf { what: "", source } => source.fmt(f),
            BtfFixError::Btf { what, source } => write!(f, "{what}: {source}"),
            BtfFixError::Write(e) => e.fmt(f),
            BtfFixError::NoSectionSize { id, section } => {
                write!(f, "DATASEC [{id}] '{section}': no ELF section of that name to take its size from")
            }
            BtfFixError::TooLarge { what } => write!(f, "{what} too large"),
            BtfFixError::EntryOutside { id: Some(id), section, entry, type_id } => {
                write!(f, "DATASEC [{id}] '{section}': entry {entry} refers to type [{type_id}] outside the object")
            }
            BtfFixError::EntryOutside { id: None, section, entry, type_id } => {
                write!(f, "DATASEC '{section}' entry {entry} refers to type [{type_id}] outside the object")
            }
            BtfFixError::EntryNotVar { id, section, entry, kind } => {
                write!(f, "DATASEC [{id}] '{section}': entry {entry} is a {kind}, not a VAR")
            }
            BtfFixError::NoSymbol { id, section, var } => write!(f, "DATASEC [{id}] '{section}': no ELF symbol for VAR '{var}'"),
            BtfFixError::NoExternDefinition { kind, name } => write!(f, "failed to find extern definition for BTF {kind} '{name}'"),
        }
    }
}

impl std::error::Error for BtfFixError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BtfFixError::Btf { source, .. } => Some(source),
            BtfFixError::Write(e) => Some(e),
            _ => None,
        }
    }
}

impl ErrorKindOf for BtfFixError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::InvalidInput
    }
}

impl From<bpfld_btf::Error> for BtfFixError {
    fn from(source: bpfld_btf::Error) -> Self {
        BtfFixError::Btf { what: "", source }
    }
}

impl From<bpfld_btf::writer::WriteError> for BtfFixError {
    fn from(e: bpfld_btf::writer::WriteError) -> Self {
        BtfFixError::Write(e)
    }
}

const STV_INTERNAL: u8 = 1;
const STV_HIDDEN: u8 = 2;

/// Applies libbpf's `btf_fixup_datasec` to every DATASEC except `.kconfig`
/// and `.ksyms` (whose layout the loader decides):
/// - a zero DATASEC size becomes the ELF section's size, and then each
///   VAR's offset comes from its ELF symbol;
/// - a global VAR whose symbol is hidden becomes static, which later keeps
///   its map from being mmapable;
/// - VARs are sorted by offset.
///
/// `var_syms` maps global object symbols to (value, visibility).
pub fn fix_object_btf(btf: &Btf, sec_sizes: &HashMap<String, u64>, var_syms: &HashMap<&str, (u64, u8)>) -> Result<Btf, BtfFixError> {
    let mut w = Writer::from_btf(btf)?;
    let first = w.first_id();
    let n = w.types.len();
    let mut changed = false;
    for i in 0..n {
        if w.types[i].kind != Kind::Datasec {
            continue;
        }
        let sec_name = w.types[i].name.clone();
        let id = first + i as u32;
        if sec_name == ".kconfig" || sec_name == ".ksyms" {
            changed |= sort_vars(&mut w, i);
            continue;
        }
        let mut fixup_offsets = false;
        if w.types[i].size_or_type == 0 {
            let size = sec_sizes.get(&sec_name).copied().unwrap_or(0);
            if size == 0 {
                return Err(BtfFixError::NoSectionSize { id, section: sec_name });
            }
            w.types[i].size_or_type = u32::try_from(size).map_err(|_| BtfFixError::TooLarge { what: format!("DATASEC '{sec_name}'") })?;
            fixup_offsets = true;
            changed = true;
        }
        let TypeData::Datasec(vars) = w.types[i].data.clone() else { continue };
        let mut new_vars = vars.clone();
        for (j, v) in vars.iter().enumerate() {
            let Some(var) = w.get(v.type_id) else {
                return Err(BtfFixError::EntryOutside { id: Some(id), section: sec_name, entry: j, type_id: v.type_id });
            };
            if var.kind != Kind::Var {
                return Err(BtfFixError::EntryNotVar { id, section: sec_name, entry: j, kind: var.kind.name() });
            }
            let TypeData::Var(linkage) = var.data else { continue };
            let linkage = VarLinkage::from_raw(linkage);
            if matches!(linkage, VarLinkage::Static | VarLinkage::Extern) {
                continue;
            }
            let vname = var.name.clone();
            let Some(&(value, vis)) = var_syms.get(vname.as_str()) else {
                return Err(BtfFixError::NoSymbol { id, section: sec_name, var: vname });
            };
            if fixup_offsets {
                new_vars[j].offset = u32::try_from(value).map_err(|_| BtfFixError::TooLarge { what: format!("VAR '{vname}' offset") })?;
            }
            if vis == STV_HIDDEN || vis == STV_INTERNAL {
                if let Some(t) = w.get_mut(v.type_id) {
                    t.data = TypeData::Var(VarLinkage::Static.raw());
                }
                changed = true;
            }
        }
        if new_vars != vars {
            w.types[i].data = TypeData::Datasec(new_vars);
            changed = true;
        }
        changed |= sort_vars(&mut w, i);
    }
    if !changed {
        return Ok(btf.clone());
    }
    let bytes = w.write()?;
    Btf::from_vec(bytes).map_err(|source| BtfFixError::Btf { what: "fixed-up BTF does not parse", source })
}

/// Sorts a DATASEC's entries by offset (stable, unlike libbpf's qsort, so
/// ties keep their order). Returns whether anything moved.
fn sort_vars(w: &mut Writer, i: usize) -> bool {
    if let TypeData::Datasec(vars) = &mut w.types[i].data {
        if vars.windows(2).any(|p| p[0].offset > p[1].offset) {
            vars.sort_by_key(|v| v.offset);
            return true;
        }
    }
    false
}

/// The name libbpf gives the VAR that stands in for kfuncs in `.ksyms`.
const DUMMY_KSYM: &str = "dummy_ksym";

/// Makes the object BTF acceptable to the kernel where externs and hidden
/// subprograms are concerned, as libbpf does at open and load:
/// - `.ksyms`: the kernel accepts only allocated VARs in a DATASEC, so every
///   entry becomes a 4-byte slot; a kfunc's entry points to an added
///   `dummy_ksym` VAR (its FUNC becomes global, its unnamed parameters take
///   the dummy's name, which the kernel requires of a global function), and
///   a ksym VAR becomes a global `int`;
/// - `.kconfig`: VARs become global at the offsets the extern layout gave
///   them, and the DATASEC takes the map's size;
/// - global subprograms with hidden visibility (`static_funcs`) become
///   static FUNCs, so that the verifier checks them in their callers'
///   context.
///
/// The local types externs are checked against (FUNC_PROTOs, VAR types) keep
/// their ids and contents; only the DATASEC entries and linkage change.
pub fn fix_for_kernel(btf: &Btf, externs: &[crate::externs::Extern], static_funcs: &[&str]) -> Result<Btf, BtfFixError> {
    let ksyms = btf.find_first(".ksyms", Kind::Datasec);
    let kconfig = btf.find_first(".kconfig", Kind::Datasec);
    if ksyms.is_none() && kconfig.is_none() && static_funcs.is_empty() {
        return Ok(btf.clone());
    }
    let mut w = Writer::from_btf(btf)?;
    let first = w.first_id();
    let idx = |id: u32| (id - first) as usize;
    let by_name = |name: &str| externs.iter().find(|e| e.name == name);

    if let Some(sec_id) = ksyms {
        let TypeData::Datasec(mut vars) = w.types[idx(sec_id)].data.clone() else { unreachable!("DATASEC") };
        let has_func = vars.iter().any(|v| w.get(v.type_id).is_some_and(|t| t.kind == Kind::Func));
        // libbpf: the first 32-bit INT of the object.
        let int_id = w
            .types
            .iter()
            .position(|t| t.kind == Kind::Int && matches!(t.data, TypeData::Int(word) if word & 0xff == 32))
            .map(|i| first + i as u32)
            .unwrap_or(0);
        let dummy = has_func.then(|| {
            w.push(OwnedType {
                name: DUMMY_KSYM.into(),
                kind: Kind::Var,
                kflag: false,
                size_or_type: int_id,
                data: TypeData::Var(VarLinkage::Global.raw()),
            })
        });
        for (i, v) in vars.iter_mut().enumerate() {
            let Some(t) = w.get(v.type_id).cloned() else {
                return Err(BtfFixError::EntryOutside { id: None, section: ".ksyms".into(), entry: i, type_id: v.type_id });
            };
            if by_name(&t.name).is_none() {
                return Err(BtfFixError::NoExternDefinition { kind: t.kind.name(), name: t.name });
            }
            if t.kind == Kind::Func {
                let proto = t.size_or_type;
                if let Some(TypeData::Params(params)) = w.get_mut(proto).map(|p| &mut p.data) {
                    for p in params.iter_mut().filter(|p| p.1 != 0 && p.0.is_empty()) {
                        p.0 = DUMMY_KSYM.into();
                    }
                }
                if let Some(f) = w.get_mut(v.type_id) {
                    f.data = TypeData::Func(bpfld_btf::FuncLinkage::Global);
                }
                v.type_id = dummy.expect("a FUNC entry implies the dummy VAR");
            } else if let Some(var) = w.get_mut(v.type_id) {
                var.data = TypeData::Var(VarLinkage::Global.raw());
                var.size_or_type = int_id;
            }
            v.offset = (i * 4) as u32;
            v.size = 4;
        }
        let sec = &mut w.types[idx(sec_id)];
        sec.size_or_type = (vars.len() * 4) as u32;
        sec.data = TypeData::Datasec(vars);
    }

    if let Some(sec_id) = kconfig {
        let TypeData::Datasec(mut vars) = w.types[idx(sec_id)].data.clone() else { unreachable!("DATASEC") };
        for v in vars.iter_mut() {
            let name = w.get(v.type_id).map(|t| t.name.clone()).unwrap_or_default();
            let Some(slot) = by_name(&name).and_then(|e| e.kconfig) else {
                return Err(BtfFixError::NoExternDefinition { kind: "VAR", name });
            };
            if let Some(var) = w.get_mut(v.type_id) {
                var.data = TypeData::Var(VarLinkage::Global.raw());
            }
            v.offset = slot.data_off;
        }
        // The kernel wants DATASEC entries by increasing offset (libbpf
        // sorts them after giving them their offsets).
        vars.sort_by_key(|v| v.offset);
        let sec = &mut w.types[idx(sec_id)];
        sec.size_or_type = crate::externs::kconfig_map_size(externs);
        sec.data = TypeData::Datasec(vars);
    }

    for name in static_funcs {
        if let Some(t) =
            w.types.iter_mut().find(|t| t.kind == Kind::Func && t.name == *name && t.data == TypeData::Func(bpfld_btf::FuncLinkage::Global))
        {
            t.data = TypeData::Func(bpfld_btf::FuncLinkage::Static);
        }
    }

    let bytes = w.write()?;
    Btf::from_vec(bytes).map_err(|source| BtfFixError::Btf { what: "BTF fixed up for the kernel does not parse", source })
}
