//! Opening a BPF ELF object: programs, maps, global data, externs and
//! relocations. Pure and deterministic: the same bytes give the same
//! [`Object`] on any machine, without system calls.

use std::collections::HashMap;
use std::sync::Arc;

use bpfld_btf::ext::BtfExt;
use bpfld_btf::Btf;

use crate::arena::ArenaGlobals;
use crate::error::{Ctx, Result};
use crate::externs::Extern;
use crate::map::{MapOrigin, MapSpec};
use crate::program::{Program, RelocKind, SectionExt};
use crate::struct_ops::StructOpsMap;

mod elf_read;

/// An opened BPF object.
#[derive(Debug, Clone)]
pub struct Object {
    /// Object name: the file name up to its first `.`, at most 15
    /// characters (libbpf's rule; it prefixes global data map names).
    pub name: String,
    /// The `license` section's string (`GPL`), empty without one.
    pub license: String,
    /// The `version` section's value (`LINUX_KERNEL_VERSION`), 0 without
    /// one.
    pub kern_version: u32,
    /// The object's BTF after load-independent fixups (DATASEC sizes, VAR
    /// offsets, hidden linkage).
    pub btf: Option<Btf>,
    /// The decoded `.BTF.ext`, if the object has one.
    pub btf_ext: Option<BtfExt>,
    /// Every function of every executable section, sorted by section index
    /// and offset (libbpf's order, which fixes subprogram append order).
    pub programs: Vec<Program>,
    /// Every map: `.maps` and legacy definitions, global data sections,
    /// `.kconfig`, struct_ops variables.
    pub maps: Vec<MapSpec>,
    /// Every extern, sorted as libbpf sorts them.
    pub externs: Vec<Extern>,
    /// Index of `.text`, where subprograms live.
    pub text_sec_idx: Option<usize>,
    /// `.BTF.ext` records per ELF section index.
    pub section_ext: HashMap<usize, SectionExt>,
    /// ELF section names by index (for diagnostics).
    pub section_names: HashMap<usize, String>,
    /// The struct_ops variables (their maps are in `maps`), with the
    /// programs their members point to.
    pub struct_ops: Vec<StructOpsMap>,
    /// The `__arena` variables and the arena map that holds them.
    pub arena: Option<ArenaGlobals>,
}

/// ELF values, as raw numbers (the `object` crate wraps them in newtypes).
mod elf {
    pub const EM_BPF: u16 = 247;
    pub const ET_REL: u16 = 1;
    pub const SHT_PROGBITS: u32 = 1;
    pub const SHT_NOBITS: u32 = 8;
    pub const SHF_EXECINSTR: u64 = 4;
    pub const STT_OBJECT: u8 = 1;
    pub const STT_FUNC: u8 = 2;
    pub const STT_SECTION: u8 = 3;
    pub const STT_NOTYPE: u8 = 0;
    pub const STB_LOCAL: u8 = 0;
    pub const STB_WEAK: u8 = 2;
    pub const STV_INTERNAL: u8 = 1;
    pub const STV_HIDDEN: u8 = 2;
}

const R_BPF_64_64: u32 = 1;
const R_BPF_64_ABS64: u32 = 2;
const R_BPF_64_ABS32: u32 = 3;
const R_BPF_64_32: u32 = 10;

/// `struct bpf_map_def` of legacy `maps` sections: five u32 fields.
const LEGACY_MAP_DEF_MIN: usize = 20;

/// Derives libbpf's object name from a path.
pub fn object_name_from_path(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    let stem = base.split('.').next().unwrap_or(base);
    stem.chars().take(15).collect()
}

struct SymInfo {
    name: String,
    value: u64,
    size: u64,
    shndx: Option<usize>,
    undefined: bool,
    st_type: u8,
    st_bind: u8,
    st_other: u8,
}

impl Object {
    /// Opens `data`, naming the object `name` in errors and map names.
    pub fn parse(name: &str, data: &[u8]) -> Result<Object> {
        elf_read::parse(name, data)
    }

    /// Whether planning needs a target kernel: the object has externs,
    /// CO-RE relocations, programs that attach by kernel BTF id, or
    /// struct_ops maps (whose value type is the kernel's).
    pub fn needs_target(&self) -> bool {
        !self.externs.is_empty()
            || self.section_ext.values().any(|s| !s.core_relos.is_empty())
            || self.entry_programs().any(|p| p.def.as_ref().is_some_and(|d| d.attaches_by_btf()))
            || !self.struct_ops.is_empty()
            || self.needs_kernel_facts()
    }

    /// Whether planning depends on facts probed on the target kernel
    /// rather than read from its BTF: USDT programs (loaded for uprobe_multi
    /// links where the kernel has them) and `__arena` variables (placed by
    /// what the verifier accepts).
    pub fn needs_kernel_facts(&self) -> bool {
        self.arena.is_some() || self.entry_programs().any(|p| p.def.as_ref().is_some_and(|d| d.is_usdt()))
    }

    /// Entry programs (not `.text` subprograms), in object order.
    pub fn entry_programs(&self) -> impl Iterator<Item = &Program> {
        self.programs.iter().filter(|p| !p.is_subprog)
    }

    /// The index of the map whose kernel name or full name is `name`.
    pub fn map_index(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.name == name || m.real_name == name)
    }
}

fn datasec_has_non_static_var(btf: &Btf, id: u32) -> bool {
    let Ok(t) = btf.type_by_id(id) else { return false };
    t.datasec_vars()
        .any(|v| btf.type_by_id(v.type_id).ok().and_then(|vt| vt.var_linkage()).is_some_and(|l| l != bpfld_btf::VarLinkage::Static))
}

/// The page size ring buffer sizes are rounded to (x86-64's and most
/// others'; libbpf asks the machine it runs on).
const RINGBUF_PAGE_SIZE: u32 = 4096;

fn is_ringbuf(map_type: bpfld_asm::types::MapType) -> bool {
    map_type == bpfld_asm::types::MapType::RINGBUF || map_type == bpfld_asm::types::MapType::USER_RINGBUF
}

/// A ring buffer's size as the kernel takes it: a power-of-two number of
/// pages. A size that is not one is rounded up to the next one, as libbpf
/// does at open (a `max_entries` of 1000 makes a one-page ring); zero
/// stays zero so the kernel refuses it, and a size that cannot be rounded
/// within 32 bits is left for the kernel to refuse.
pub fn ringbuf_size(requested: u32) -> u32 {
    if requested == 0 || (requested % RINGBUF_PAGE_SIZE == 0 && (requested / RINGBUF_PAGE_SIZE).is_power_of_two()) {
        return requested;
    }
    let pages = (requested / RINGBUF_PAGE_SIZE + 1).next_power_of_two();
    pages.checked_mul(RINGBUF_PAGE_SIZE).unwrap_or(requested)
}

fn btf_map_spec(d: &crate::btf_maps::BtfMapDef, sec_idx: usize, cx: &Ctx<'_>) -> Result<MapSpec> {
    let mcx = cx.with(format!("map '{}'", d.name));
    let map_type = d.map_type.ok_or_else(|| mcx.err("map type is not specified"))?;
    let inner = match &d.inner {
        Some(i) => Some(Box::new(btf_map_spec(i, sec_idx, &mcx)?)),
        None => None,
    };
    Ok(MapSpec {
        name: d.name.chars().take(15).collect(),
        real_name: d.name.clone(),
        origin: MapOrigin::Btf,
        map_type,
        key_size: d.key_size.unwrap_or(0),
        value_size: d.value_size.unwrap_or(0),
        max_entries: if is_ringbuf(map_type) { ringbuf_size(d.max_entries.unwrap_or(0)) } else { d.max_entries.unwrap_or(0) },
        map_flags: d.map_flags.unwrap_or(0),
        map_extra: d.map_extra.unwrap_or(0),
        numa_node: d.numa_node.unwrap_or(0),
        pinning: d.pinning.unwrap_or(0),
        btf_key_type_id: d.btf_key_type_id,
        btf_value_type_id: d.btf_value_type_id,
        inner,
        init_slots: Vec::new(),
        data: Vec::new(),
        sec_idx,
        sec_offset: u64::from(d.sec_offset),
    })
}

/// Legacy `SEC("maps")` definitions: one symbol per map, each a
/// `struct bpf_map_def` (type, key_size, value_size, max_entries,
/// map_flags, and optionally more fields that must then be zero).
fn legacy_maps(data: &[u8], sec_idx: usize, syms: &HashMap<usize, SymInfo>, order: &[usize], cx: &Ctx<'_>) -> Result<Vec<MapSpec>> {
    let scx = cx.with("section 'maps'");
    let mut defs: Vec<&SymInfo> = order
        .iter()
        .map(|i| &syms[i])
        .filter(|s| s.shndx == Some(sec_idx) && !s.name.is_empty() && s.st_type != elf::STT_SECTION)
        .collect();
    defs.sort_by_key(|s| s.value);
    let mut out = Vec::new();
    for (n, s) in defs.iter().enumerate() {
        let mcx = scx.with(format!("map '{}'", s.name));
        let end = defs.get(n + 1).map(|x| x.value).unwrap_or(data.len() as u64);
        let size = if s.size > 0 { s.size } else { end.saturating_sub(s.value) };
        let start = s.value as usize;
        let Some(def) = data.get(start..start.saturating_add(size as usize)) else {
            return Err(mcx.err(format!("offset {:#x} size {size:#x} outside the section", s.value)));
        };
        if def.len() < LEGACY_MAP_DEF_MIN {
            return Err(mcx.err(format!("definition is {} bytes, at least {LEGACY_MAP_DEF_MIN} needed", def.len())));
        }
        if def[LEGACY_MAP_DEF_MIN..].iter().any(|&b| b != 0) {
            return Err(mcx.err(format!("unknown non-zero fields after offset {LEGACY_MAP_DEF_MIN}")));
        }
        let f = |i: usize| u32::from_le_bytes([def[i * 4], def[i * 4 + 1], def[i * 4 + 2], def[i * 4 + 3]]);
        out.push(MapSpec {
            name: s.name.chars().take(15).collect(),
            real_name: s.name.clone(),
            origin: MapOrigin::Legacy,
            map_type: f(0).into(),
            key_size: f(1),
            value_size: f(2),
            max_entries: f(3),
            map_flags: f(4),
            map_extra: 0,
            numa_node: 0,
            pinning: 0,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            inner: None,
            init_slots: Vec::new(),
            data: Vec::new(),
            sec_idx,
            sec_offset: s.value,
        });
    }
    Ok(out)
}

/// The sections a relocation's symbol may be in, by ELF index.
struct RelocSections<'a> {
    /// `.text`, where subprograms are.
    text: Option<usize>,
    /// `.addr_space.1` and the arena map holding it.
    arena: Option<(usize, usize)>,
    names: &'a HashMap<usize, String>,
}

/// A relocation that does not fit the instruction or symbol it is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRelocation(pub String);

impl std::fmt::Display for BadRelocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadRelocation {}

impl crate::error::Kind for BadRelocation {
    fn kind(&self) -> crate::error::ErrorKind {
        crate::error::ErrorKind::InvalidInput
    }
}

fn record_reloc(
    prog: &Program,
    insn_idx: usize,
    sym: &SymInfo,
    sym_idx: usize,
    secs: &RelocSections<'_>,
    maps: &[MapSpec],
    externs: &[Extern],
) -> Result<RelocKind, BadRelocation> {
    let (text, names) = (secs.text, secs.names);
    let insn = prog.insns[insn_idx];
    let code = insn.code();
    let is_call = insn.is_call();
    let is_ldimm64 = insn.is_ld_imm64();
    if !is_call && !is_ldimm64 {
        return Err(BadRelocation(format!("insn {insn_idx}: relocation against an instruction with opcode {code:#04x}")));
    }
    if is_ldimm64 && insn_idx + 1 >= prog.insns.len() {
        return Err(BadRelocation(format!("insn {insn_idx}: ld_imm64 is truncated by the end of the program")));
    }
    if sym.undefined {
        let ext = externs
            .iter()
            .position(|e| e.sym_idx == sym_idx)
            .ok_or_else(|| BadRelocation("relocation against an unknown extern".into()))?;
        return Ok(if is_call { RelocKind::ExternCall { ext } } else { RelocKind::ExternLd64 { ext } });
    }
    if is_call {
        let src = insn.src_reg();
        if src != bpfld_asm::insn::pseudo::CALL {
            return Err(BadRelocation(format!("insn {insn_idx}: call relocation on a non-pseudo call (src_reg {src})")));
        }
        if sym.shndx.is_none() || sym.shndx != text {
            let sec = sym.shndx.and_then(|s| names.get(&s)).map(String::as_str).unwrap_or("?");
            return Err(BadRelocation(format!("insn {insn_idx}: call into section '{sec}': subprograms must be in .text")));
        }
        if sym.value % 8 != 0 {
            return Err(BadRelocation(format!("insn {insn_idx}: call target offset {:#x} is not instruction-aligned", sym.value)));
        }
        return Ok(RelocKind::Call { sym_off: sym.value });
    }
    let Some(shndx) = sym.shndx else {
        return Err(BadRelocation(format!("insn {insn_idx}: relocation against a symbol in a special section (uninitialized global?)")));
    };
    // libbpf: a function, or the section symbol of .text, is a subprogram.
    if Some(shndx) == text && (sym.st_type == elf::STT_FUNC || sym.st_type == elf::STT_SECTION) {
        let imm = insn.imm();
        if sym.value % 8 != 0 || imm % 8 != 0 {
            return Err(BadRelocation(format!("insn {insn_idx}: subprogram address {:#x}+{imm} is not instruction-aligned", sym.value)));
        }
        return Ok(RelocKind::SubprogAddr { sym_off: sym.value });
    }
    if let Some((_, map)) = secs.arena.filter(|(sec, _)| *sec == shndx) {
        return Ok(RelocKind::ArenaValue { map, sym_off: sym.value });
    }
    let sec_name = names.get(&shndx).map(String::as_str).unwrap_or("?");
    if sec_name == ".maps" || sec_name == "maps" {
        let want_origin = if sec_name == ".maps" { MapOrigin::Btf } else { MapOrigin::Legacy };
        let map = maps
            .iter()
            .position(|m| m.origin == want_origin && m.sec_idx == shndx && m.sec_offset == sym.value)
            .ok_or_else(|| BadRelocation(format!("insn {insn_idx}: no map at offset {:#x} of section '{sec_name}'", sym.value)))?;
        return Ok(RelocKind::Map { map });
    }
    let map = maps.iter().position(|m| m.origin.is_global_data() && m.sec_idx == shndx).ok_or_else(|| {
        BadRelocation(format!("insn {insn_idx}: relocation against section '{sec_name}', which is neither a map nor global data"))
    })?;
    Ok(RelocKind::MapValue { map, sym_off: sym.value })
}

/// Shares the object's bytes for zero-copy views where callers need them.
pub type SharedBytes = Arc<[u8]>;

#[cfg(test)]
mod ringbuf_size_tests {
    use super::ringbuf_size;

    #[test]
    fn rounded_up_to_a_power_of_two_pages_as_libbpf() {
        assert_eq!(ringbuf_size(0), 0);
        assert_eq!(ringbuf_size(1), 4096);
        assert_eq!(ringbuf_size(4096), 4096);
        assert_eq!(ringbuf_size(4097), 8192);
        assert_eq!(ringbuf_size(3 * 4096), 4 * 4096);
        assert_eq!(ringbuf_size(256 * 1024), 256 * 1024);
        assert_eq!(ringbuf_size(256 * 1024 + 1), 512 * 1024);
        assert_eq!(ringbuf_size(u32::MAX - 5), u32::MAX - 5);
    }
}
