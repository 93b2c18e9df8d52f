//! Opening a BPF ELF object: programs, maps, global data, externs and
//! relocations. Pure and deterministic: the same bytes give the same
//! [`Object`] on any machine, without system calls.

use std::collections::HashMap;
use std::sync::Arc;

use bpfld_asm::types::map_flags;
use bpfld_asm::Insn;
use bpfld_btf::ext::BtfExt;
use bpfld_btf::{Btf, Kind};
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object as _, ObjectSection, ObjectSymbol, RelocationTarget, SymbolSection};

use crate::arena::{self, ArenaGlobals};
use crate::btf_fixup::{fix_for_kernel, fix_object_btf};
use crate::error::{Ctx, ErrorKind, Result};
use crate::externs::{collect_externs, kconfig_map_size, Extern, ExternSymbol};
use crate::map::{InitSlot, MapOrigin, MapSpec};
use crate::program::{Program, Reloc, RelocKind, SectionExt};
use crate::section;
use crate::struct_ops::{self, StructOpsMap, StructOpsRel};

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
        let cx = Ctx::new(name);
        crate::elf_bounds::check_elf_bounds(data).map_err(|e| cx.wrap(e))?;
        let file = ElfFile64::<Endianness>::parse(data).map_err(|e| cx.wrap_foreign("not a 64-bit ELF object", e))?;
        let endian = file.endian();
        let hdr = file.elf_header();
        if hdr.e_machine(endian).0 != elf::EM_BPF {
            return Err(cx.err(format!("not a BPF object (ELF machine {}, want EM_BPF {})", hdr.e_machine(endian).0, elf::EM_BPF)));
        }
        if hdr.e_type(endian).0 != elf::ET_REL {
            return Err(cx.err("not a relocatable object (ET_REL)"));
        }
        if file.is_little_endian() != cfg!(target_endian = "little") {
            return Err(cx.err("object byte order differs from this machine's"));
        }
        let obj_name: String = name.chars().take(15).collect();

        // Symbols, by index.
        let mut syms: HashMap<usize, SymInfo> = HashMap::new();
        let mut sym_order: Vec<usize> = Vec::new();
        for s in file.symbols() {
            let idx = s.index().0;
            let (st_info, st_other) = match s.flags() {
                object::SymbolFlags::Elf { st_info, st_other } => (st_info.0, st_other.0),
                _ => (0, 0),
            };
            let name = s.name().map_err(|e| cx.with(format!("symbol #{idx}")).wrap_foreign("bad name", e))?.to_string();
            let (shndx, undefined) = match s.section() {
                SymbolSection::Section(i) => (Some(i.0), false),
                SymbolSection::Undefined => (None, true),
                _ => (None, false),
            };
            syms.insert(
                idx,
                SymInfo {
                    name,
                    value: s.address(),
                    size: s.size(),
                    shndx,
                    undefined,
                    st_type: st_info & 0xf,
                    st_bind: st_info >> 4,
                    st_other,
                },
            );
            sym_order.push(idx);
        }
        if syms.is_empty() {
            return Err(cx.err("no symbol table (stripped object?)"));
        }

        let mut license = String::new();
        let mut kern_version = 0u32;
        let mut btf_raw: Option<&[u8]> = None;
        let mut btf_ext_raw: Option<&[u8]> = None;
        let mut section_names = HashMap::new();
        let mut exec_secs: Vec<(usize, String, &[u8])> = Vec::new();
        let mut data_secs: Vec<(usize, String, MapOrigin, Vec<u8>, u64)> = Vec::new();
        let mut maps_sec: Option<(usize, u64)> = None;
        let mut legacy_maps_sec: Option<(usize, &[u8])> = None;
        let mut text_sec_idx = None;
        let mut struct_ops_secs: Vec<(usize, String, &[u8])> = Vec::new();
        let mut sec_sizes: HashMap<String, u64> = HashMap::new();
        let mut arena_sec: Option<(usize, Vec<u8>)> = None;

        for sec in file.sections() {
            let idx = sec.index().0;
            let sname = sec.name().map_err(|e| cx.with(format!("section #{idx}")).wrap_foreign("bad name", e))?.to_string();
            let scx = cx.with(format!("section '{sname}'"));
            let sh = sec.elf_section_header();
            let sh_type = sh.sh_type(endian).0;
            let sh_flags = sh.sh_flags(endian).0;
            section_names.insert(idx, sname.clone());
            sec_sizes.insert(sname.clone(), sec.size());
            let bytes = || sec.data().map_err(|e| scx.wrap_foreign("unreadable data", e));
            match sname.as_str() {
                "license" => {
                    let d = bytes()?;
                    let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
                    license = String::from_utf8_lossy(&d[..end]).into_owned();
                    continue;
                }
                "version" => {
                    let d = bytes()?;
                    if d.len() != 4 {
                        return Err(scx.err(format!("invalid size {} (want 4)", d.len())));
                    }
                    kern_version = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
                    continue;
                }
                "maps" => {
                    legacy_maps_sec = Some((idx, bytes()?));
                    continue;
                }
                ".maps" => {
                    maps_sec = Some((idx, sec.size()));
                    continue;
                }
                ".BTF" => {
                    btf_raw = Some(bytes()?);
                    continue;
                }
                ".BTF.ext" => {
                    btf_ext_raw = Some(bytes()?);
                    continue;
                }
                _ => {}
            }
            if sname == arena::ARENA_SEC && sh_flags & elf::SHF_EXECINSTR == 0 {
                let data = if sh_type == elf::SHT_NOBITS { Vec::new() } else { bytes()?.to_vec() };
                arena_sec = Some((idx, data));
                continue;
            }
            if sh_type == elf::SHT_PROGBITS && sec.size() > 0 {
                if sh_flags & elf::SHF_EXECINSTR != 0 {
                    if sname == ".text" {
                        text_sec_idx = Some(idx);
                    }
                    exec_secs.push((idx, sname, bytes()?));
                } else if sname == ".data" || sname.starts_with(".data.") {
                    data_secs.push((idx, sname, MapOrigin::Data, bytes()?.to_vec(), sec.size()));
                } else if sname == ".rodata" || sname.starts_with(".rodata.") {
                    data_secs.push((idx, sname, MapOrigin::Rodata, bytes()?.to_vec(), sec.size()));
                } else if struct_ops::is_struct_ops_section(&sname) {
                    struct_ops_secs.push((idx, sname, bytes()?));
                }
            } else if sh_type == elf::SHT_NOBITS && sec.size() > 0 && (sname == ".bss" || sname.starts_with(".bss.")) {
                data_secs.push((idx, sname, MapOrigin::Bss, Vec::new(), sec.size()));
            }
        }

        // Object BTF, fixed up with what only the ELF knows.
        let btf = match btf_raw {
            None => None,
            Some(raw) => {
                let parsed = Btf::from_vec(raw.to_vec()).map_err(|e| cx.with("section '.BTF'").wrap(e))?;
                let var_syms: HashMap<&str, (u64, u8)> = sym_order
                    .iter()
                    .filter_map(|i| syms.get(i))
                    .filter(|s| s.st_type == elf::STT_OBJECT && s.st_bind != elf::STB_LOCAL)
                    .map(|s| (s.name.as_str(), (s.value, s.st_other & 0x3)))
                    .collect();
                Some(fix_object_btf(&parsed, &sec_sizes, &var_syms).map_err(|e| cx.with("section '.BTF'").wrap(e))?)
            }
        };
        let btf_ext = match (btf_ext_raw, &btf) {
            (Some(raw), Some(b)) => Some(BtfExt::parse(raw, b).map_err(|e| cx.with("section '.BTF.ext'").wrap(e))?),
            _ => None,
        };

        // Programs: every FUNC symbol of every executable section.
        let mut programs = Vec::new();
        for (sec_idx, sname, data) in &exec_secs {
            let scx = cx.with(format!("section '{sname}'"));
            if data.len() % 8 != 0 {
                return Err(scx.err(format!("size {} is not a multiple of 8", data.len())));
            }
            let is_text = Some(*sec_idx) == text_sec_idx;
            let (autoload, sec_name) = match sname.strip_prefix('?') {
                Some(rest) => (false, rest.to_string()),
                None => (true, sname.clone()),
            };
            let def = if is_text { None } else { section::classify(&sec_name) };
            for i in &sym_order {
                let s = &syms[i];
                if s.shndx != Some(*sec_idx) || s.st_type != elf::STT_FUNC {
                    continue;
                }
                let pcx = scx.with(format!("program '{}'", s.name));
                let end = s.value.checked_add(s.size).filter(|&e| e <= data.len() as u64);
                let Some(end) = end else {
                    return Err(pcx.err(format!("offset {:#x} size {:#x} crosses the section end", s.value, s.size)));
                };
                if s.value % 8 != 0 || s.size % 8 != 0 {
                    return Err(pcx.err(format!("offset {:#x} or size {:#x} not a multiple of 8", s.value, s.size)));
                }
                if !is_text && s.st_bind == elf::STB_LOCAL {
                    return Err(pcx.err_kind(ErrorKind::Unsupported, "static programs are not supported (make the function global)"));
                }
                let insns = data[s.value as usize..end as usize]
                    .chunks_exact(8)
                    .map(|c| Insn(<[u8; 8]>::try_from(c).expect("chunks of 8")))
                    .collect();
                let global = s.st_bind != elf::STB_LOCAL;
                let vis = s.st_other & 0x3;
                programs.push(Program {
                    name: s.name.clone(),
                    section: sec_name.clone(),
                    sec_idx: *sec_idx,
                    sec_insn_off: (s.value / 8) as usize,
                    insns,
                    is_subprog: is_text,
                    autoload,
                    global,
                    mark_btf_static: global && (vis == elf::STV_HIDDEN || vis == elf::STV_INTERNAL),
                    def: def.clone(),
                    relocs: Vec::new(),
                });
            }
        }
        programs.sort_by_key(|p| (p.sec_idx, p.sec_insn_off));

        // Maps: BTF-defined, then global data (section order), as libbpf.
        let mut maps: Vec<MapSpec> = Vec::new();
        if let Some((maps_idx, maps_size)) = maps_sec {
            let b = btf.as_ref().ok_or_else(|| cx.with("section '.maps'").err("BTF-defined maps need the object's .BTF"))?;
            let defs = crate::btf_maps::parse_btf_maps(b, maps_size as usize).map_err(|e| cx.with("section '.maps'").wrap(e))?;
            // Initial slots of map-in-map and prog arrays.
            let maps_section = file.section_by_index(object::SectionIndex(maps_idx)).map_err(|e| cx.wrap_foreign("", e))?;
            let mut rels = Vec::new();
            for (off, rel) in maps_section.relocations() {
                let RelocationTarget::Symbol(si) = rel.target() else { continue };
                let Some(s) = syms.get(&si.0) else {
                    return Err(cx.with("section '.rel.maps'").err(format!("offset {off:#x}: symbol #{} missing", si.0)));
                };
                rels.push(crate::btf_maps::MapsRel { offset: off, symbol: s.name.clone(), symbol_in_maps: s.shndx == Some(maps_idx) });
            }
            let slots = crate::btf_maps::collect_init_slots(&defs, &rels).map_err(|e| cx.with("section '.rel.maps'").wrap(e))?;
            let first = maps.len();
            for d in &defs {
                maps.push(btf_map_spec(d, maps_idx, &cx)?);
            }
            for slot in slots {
                maps[first + slot.map].init_slots.push(InitSlot { index: slot.index, target: slot.target });
            }
        }
        if let Some((idx, data)) = legacy_maps_sec {
            maps.extend(legacy_maps(data, idx, &syms, &sym_order, &cx)?);
        }
        for (idx, sname, origin, data, size) in data_secs {
            let value_size = u32::try_from(size).map_err(|_| cx.with(format!("section '{sname}'")).err("too large"))?;
            let datasec = btf.as_ref().and_then(|b| b.find_first(&sname, Kind::Datasec));
            let mut flags = if origin == MapOrigin::Rodata { map_flags::RDONLY_PROG } else { 0 };
            if let (Some(b), Some(id)) = (&btf, datasec) {
                if datasec_has_non_static_var(b, id) {
                    flags |= map_flags::MMAPABLE;
                }
            }
            // A `.bss` (no bytes in the file) stays empty, meaning zeros: its
            // size is a claim of the file, and allocating it here would let a
            // corrupt object ask for gigabytes.
            maps.push(MapSpec {
                sec_idx: idx,
                ..MapSpec::global_data(&obj_name, &sname, origin, value_size, flags, datasec.unwrap_or(0), data)
            });
        }

        // `__arena` variables belong to the arena map (libbpf: the section
        // must be in `.maps`-declared arena, only one of which is allowed).
        let arena_map = arena::find_arena_map(&maps, arena_sec.is_some()).map_err(|e| cx.wrap(e))?;
        let arena = match (arena_sec, arena_map) {
            (Some((sec_idx, data)), Some(map)) => {
                arena::check_fits(&maps[map], data.len()).map_err(|e| cx.wrap(e))?;
                let btf_datasec = btf.as_ref().and_then(|b| b.find_first(arena::ARENA_SEC, Kind::Datasec)).unwrap_or(0);
                Some(ArenaGlobals { map, sec_idx, data, btf_datasec })
            }
            _ => None,
        };

        // Externs: undefined global symbols without a type (libbpf's
        // `sym_is_extern`), classified by their BTF and sorted as libbpf
        // sorts them.
        let ext_syms: Vec<ExternSymbol<'_>> = sym_order
            .iter()
            .map(|i| (i, &syms[i]))
            .filter(|(_, s)| s.undefined && !s.name.is_empty() && s.st_bind != elf::STB_LOCAL && s.st_type == elf::STT_NOTYPE)
            .map(|(i, s)| ExternSymbol { sym_idx: *i, name: &s.name, weak: s.st_bind == elf::STB_WEAK })
            .collect();
        let externs = collect_externs(btf.as_ref(), &ext_syms).map_err(|(n, e)| cx.with(format!("extern '{n}'")).wrap(e))?;
        let kconfig_size = kconfig_map_size(&externs);
        if kconfig_size > 0 {
            let datasec = btf.as_ref().and_then(|b| b.find_first(".kconfig", Kind::Datasec));
            let flags = map_flags::RDONLY_PROG | map_flags::MMAPABLE;
            let data = vec![0; kconfig_size as usize];
            maps.push(MapSpec::global_data(&obj_name, ".kconfig", MapOrigin::Kconfig, kconfig_size, flags, datasec.unwrap_or(0), data));
        }
        // struct_ops variables, one map each, after every other map (libbpf's
        // order), then what their members point to.
        let mut struct_ops_maps: Vec<StructOpsMap> = Vec::new();
        for (idx, sname, data) in &struct_ops_secs {
            let scx = cx.with(format!("section '{sname}'"));
            let b = btf.as_ref().ok_or_else(|| scx.err("BTF is required, but is missing or corrupted"))?;
            for (spec, st) in struct_ops::open_struct_ops_maps(b, sname, *idx, data, maps.len()).map_err(|e| scx.wrap(e))? {
                maps.push(spec);
                struct_ops_maps.push(st);
            }
        }
        for (idx, sname, _) in &struct_ops_secs {
            let scx = cx.with(format!("section '{sname}'"));
            let Some(b) = btf.as_ref() else { continue };
            let sec = file.section_by_index(object::SectionIndex(*idx)).map_err(|e| cx.wrap_foreign("", e))?;
            let mut rels = Vec::new();
            for (off, rel) in sec.relocations() {
                let RelocationTarget::Symbol(si) = rel.target() else {
                    return Err(scx.with(format!("relocation at offset {off:#x}")).err("relocation without a symbol"));
                };
                let s = syms.get(&si.0).ok_or_else(|| scx.err(format!("struct_ops reloc: symbol {:x} not found", si.0)))?;
                let sym_shndx = match (s.shndx, s.undefined) {
                    (Some(i), _) => Some(i),
                    (None, true) => Some(0),
                    (None, false) => None,
                };
                rels.push(StructOpsRel { offset: off, sym_shndx, sym_value: s.value });
            }
            struct_ops::bind_members(b, *idx, &rels, &mut struct_ops_maps, &maps, &programs).map_err(|(map, m)| match map {
                Some(name) => scx.with(format!("map '{name}'")).wrap(m),
                None => scx.wrap(m),
            })?;
        }

        // The BTF the kernel will be given: extern DATASECs laid out and
        // hidden global subprograms made static.
        let static_funcs: Vec<&str> = programs.iter().filter(|p| p.is_subprog && p.mark_btf_static).map(|p| p.name.as_str()).collect();
        let btf = match btf {
            Some(b) => Some(fix_for_kernel(&b, &externs, &static_funcs).map_err(|e| cx.with("section '.BTF'").wrap(e))?),
            None => None,
        };

        // Instruction relocations of executable sections.
        for (sec_idx, sname, _) in &exec_secs {
            let sec = file.section_by_index(object::SectionIndex(*sec_idx)).map_err(|e| cx.wrap_foreign("", e))?;
            let scx = cx.with(format!("section '{sname}'"));
            for (off, rel) in sec.relocations() {
                let rcx = scx.with(format!("relocation at offset {off:#x}"));
                let r_type = match rel.flags() {
                    object::RelocationFlags::Elf { r_type } => r_type.0,
                    _ => 0,
                };
                if ![R_BPF_64_64, R_BPF_64_32, R_BPF_64_ABS64, R_BPF_64_ABS32].contains(&r_type) {
                    return Err(rcx.err_kind(ErrorKind::Unsupported, format!("unsupported relocation type {r_type}")));
                }
                let RelocationTarget::Symbol(si) = rel.target() else {
                    return Err(rcx.err("relocation without a symbol"));
                };
                let sym = syms.get(&si.0).ok_or_else(|| rcx.err(format!("symbol #{} does not exist", si.0)))?;
                if off % 8 != 0 {
                    return Err(rcx.err("offset not aligned to an instruction"));
                }
                let insn_idx = (off / 8) as usize;
                let Some(pi) = programs
                    .iter()
                    .position(|p| p.sec_idx == *sec_idx && insn_idx >= p.sec_insn_off && insn_idx < p.sec_insn_off + p.insns.len())
                else {
                    // libbpf ignores relocations outside any function.
                    continue;
                };
                let rel_idx = insn_idx - programs[pi].sec_insn_off;
                let secs = RelocSections { text: text_sec_idx, arena: arena.as_ref().map(|a| (a.sec_idx, a.map)), names: &section_names };
                let kind = record_reloc(&programs[pi], rel_idx, sym, si.0, &secs, &maps, &externs)
                    .map_err(|e| rcx.with(format!("symbol '{}'", sym.name)).wrap(e))?;
                programs[pi].relocs.push(Reloc { insn_idx: rel_idx, kind });
            }
        }
        for p in &mut programs {
            p.relocs.sort_by_key(|r| r.insn_idx);
        }

        // .BTF.ext records by ELF section.
        let mut section_ext: HashMap<usize, SectionExt> = HashMap::new();
        if let Some(ext) = &btf_ext {
            let idx_of = |n: &str| section_names.iter().find(|(_, v)| v.as_str() == n).map(|(k, _)| *k);
            for s in &ext.func_info {
                if let Some(i) = idx_of(&s.sec_name) {
                    section_ext.entry(i).or_default().func_info.extend(s.records.iter().copied());
                }
            }
            for s in &ext.line_info {
                if let Some(i) = idx_of(&s.sec_name) {
                    section_ext.entry(i).or_default().line_info.extend(s.records.iter().copied());
                }
            }
            for s in &ext.core_relos {
                if let Some(i) = idx_of(&s.sec_name) {
                    section_ext.entry(i).or_default().core_relos.extend(s.records.iter().copied());
                }
            }
        }

        Ok(Object {
            name: obj_name,
            license,
            kern_version,
            btf,
            btf_ext,
            programs,
            maps,
            externs,
            text_sec_idx,
            section_ext,
            section_names,
            struct_ops: struct_ops_maps,
            arena,
        })
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

fn is_ringbuf(map_type: u32) -> bool {
    map_type == bpfld_asm::types::map_type::RINGBUF || map_type == bpfld_asm::types::map_type::USER_RINGBUF
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
            map_type: f(0),
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
