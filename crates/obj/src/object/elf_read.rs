//! [`Object::parse`] in named phases, in the order libbpf (and cilium/ebpf's
//! ELF reader) takes them: the ELF header, symbols, sections, the object's
//! BTF and BTF.ext, programs, maps, the arena, externs, struct_ops maps, the
//! BTF the kernel will be given, then instruction relocations. Each phase
//! reads what the earlier ones built; the first error wins, as before.

use std::collections::HashMap;

use bpfld_asm::types::map_flags;
use bpfld_asm::Insn;
use bpfld_btf::ext::BtfExt;
use bpfld_btf::{Btf, Kind};
use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object as _, ObjectSection, ObjectSymbol, RelocationTarget, SymbolSection};

use super::{
    btf_map_spec, datasec_has_non_static_var, elf, legacy_maps, record_reloc, Object, RelocSections, SymInfo, R_BPF_64_32, R_BPF_64_64,
    R_BPF_64_ABS32, R_BPF_64_ABS64,
};
use crate::arena::{self, ArenaGlobals};
use crate::btf_fixup::{fix_for_kernel, fix_object_btf};
use crate::error::{Ctx, ErrorKind, Result};
use crate::externs::{collect_externs, kconfig_map_size, Extern, ExternSymbol};
use crate::map::{InitSlot, MapOrigin, MapSpec};
use crate::program::{Program, Reloc, SectionExt};
use crate::program_index::ProgramIndex;
use crate::section;
use crate::struct_ops::{self, StructOpsMap, StructOpsRel};

type File<'d> = ElfFile64<'d, Endianness>;

/// Opens `data`, naming the object `name` in errors and map names.
pub(super) fn parse(name: &str, data: &[u8]) -> Result<Object> {
    let cx = Ctx::new(name);
    let file = open_elf(data, &cx)?;
    let obj_name: String = name.chars().take(15).collect();
    let syms = Symbols::read(&file, &cx)?;
    let mut secs = Sections::read(&file, &cx)?;
    let btf = read_btf(&secs, &syms, &cx)?;
    let btf_ext = match (secs.btf_ext_raw, &btf) {
        (Some(raw), Some(b)) => Some(BtfExt::parse(raw, b).map_err(|e| cx.with("section '.BTF.ext'").wrap(e))?),
        _ => None,
    };
    let mut programs = read_programs(&secs, &syms, &cx)?;
    let data_secs = std::mem::take(&mut secs.data);
    let mut maps = read_maps(&file, &secs, data_secs, &syms, btf.as_ref(), &obj_name, &cx)?;
    let arena = read_arena(secs.arena.take(), &maps, btf.as_ref(), &cx)?;
    let externs = read_externs(&syms, btf.as_ref(), &mut maps, &obj_name, &cx)?;
    let struct_ops = read_struct_ops(&file, &secs, &syms, btf.as_ref(), &mut maps, &programs, &cx)?;
    let btf = btf_for_kernel(btf, &externs, &programs, &cx)?;
    let secs_of_relocs = RelocSections { text: secs.text_idx, arena: arena.as_ref().map(|a| (a.sec_idx, a.map)), names: &secs.names };
    read_relocations(&file, &secs.exec, &syms, &secs_of_relocs, &mut programs, &maps, &externs, &cx)?;
    let section_ext = btf_ext.as_ref().map(|ext| btf_ext_by_section(ext, &secs.names)).unwrap_or_default();
    Ok(Object {
        name: obj_name,
        license: secs.license,
        kern_version: secs.kern_version,
        btf,
        btf_ext,
        programs,
        maps,
        externs,
        text_sec_idx: secs.text_idx,
        section_ext,
        section_names: secs.names,
        struct_ops,
        arena,
    })
}

/// Checks the file is a whole ELF64 relocatable BPF object of this
/// machine's byte order.
fn open_elf<'d>(data: &'d [u8], cx: &Ctx<'_>) -> Result<File<'d>> {
    crate::elf_bounds::check_elf_bounds(data).map_err(|e| cx.wrap(e))?;
    let file = File::parse(data).map_err(|e| cx.wrap_foreign("not a 64-bit ELF object", e))?;
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
    Ok(file)
}

/// The symbol table: by ELF index, and the indexes in table order.
struct Symbols {
    by_index: HashMap<usize, SymInfo>,
    order: Vec<usize>,
}

impl Symbols {
    fn read(file: &File<'_>, cx: &Ctx<'_>) -> Result<Symbols> {
        let mut by_index = HashMap::new();
        let mut order = Vec::new();
        for s in file.symbols() {
            let idx = s.index().0;
            by_index.insert(idx, sym_info(&s, cx)?);
            order.push(idx);
        }
        if by_index.is_empty() {
            return Err(cx.err("no symbol table (stripped object?)"));
        }
        Ok(Symbols { by_index, order })
    }

    /// Symbols in table order.
    fn in_order(&self) -> impl Iterator<Item = (usize, &SymInfo)> {
        self.order.iter().map(|i| (*i, &self.by_index[i]))
    }
}

fn sym_info<'d>(s: &object::read::elf::ElfSymbol64<'d, '_, Endianness>, cx: &Ctx<'_>) -> Result<SymInfo> {
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
    Ok(SymInfo { name, value: s.address(), size: s.size(), shndx, undefined, st_type: st_info & 0xf, st_bind: st_info >> 4, st_other })
}

/// A global data section: index, name, origin, bytes (none for `.bss`),
/// size.
type DataSection = (usize, String, MapOrigin, Vec<u8>, u64);

/// The sections the object is made of, sorted by what they hold.
#[derive(Default)]
struct Sections<'d> {
    license: String,
    kern_version: u32,
    btf_raw: Option<&'d [u8]>,
    btf_ext_raw: Option<&'d [u8]>,
    names: HashMap<usize, String>,
    sizes: HashMap<String, u64>,
    /// Executable sections: index, name, instructions.
    exec: Vec<(usize, String, &'d [u8])>,
    data: Vec<DataSection>,
    /// `.maps`: index and size.
    btf_maps: Option<(usize, u64)>,
    /// `maps`: index and bytes.
    legacy_maps: Option<(usize, &'d [u8])>,
    text_idx: Option<usize>,
    struct_ops: Vec<(usize, String, &'d [u8])>,
    arena: Option<(usize, Vec<u8>)>,
}

impl<'d> Sections<'d> {
    fn read(file: &File<'d>, cx: &Ctx<'_>) -> Result<Sections<'d>> {
        let mut secs = Sections::default();
        for sec in file.sections() {
            secs.add(&sec, file.endian(), cx)?;
        }
        Ok(secs)
    }

    fn add(&mut self, sec: &object::read::elf::ElfSection64<'d, '_, Endianness>, endian: Endianness, cx: &Ctx<'_>) -> Result<()> {
        let idx = sec.index().0;
        let sname = sec.name().map_err(|e| cx.with(format!("section #{idx}")).wrap_foreign("bad name", e))?.to_string();
        let scx = cx.with(format!("section '{sname}'"));
        self.names.insert(idx, sname.clone());
        self.sizes.insert(sname.clone(), sec.size());
        let bytes = || sec.data().map_err(|e| scx.wrap_foreign("unreadable data", e));
        match sname.as_str() {
            "license" => {
                let d = bytes()?;
                let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
                self.license = String::from_utf8_lossy(&d[..end]).into_owned();
            }
            "version" => {
                let d = bytes()?;
                if d.len() != 4 {
                    return Err(scx.err(format!("invalid size {} (want 4)", d.len())));
                }
                self.kern_version = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
            }
            "maps" => self.legacy_maps = Some((idx, bytes()?)),
            ".maps" => self.btf_maps = Some((idx, sec.size())),
            ".BTF" => self.btf_raw = Some(bytes()?),
            ".BTF.ext" => self.btf_ext_raw = Some(bytes()?),
            _ => {
                let sh = sec.elf_section_header();
                self.add_content(idx, sname, sh.sh_type(endian).0, sh.sh_flags(endian).0, sec.size(), bytes)?;
            }
        }
        Ok(())
    }

    /// Code, global data, struct_ops variables and the arena.
    fn add_content(
        &mut self,
        idx: usize,
        sname: String,
        sh_type: u32,
        sh_flags: u64,
        size: u64,
        bytes: impl Fn() -> Result<&'d [u8]>,
    ) -> Result<()> {
        if sname == arena::ARENA_SEC && sh_flags & elf::SHF_EXECINSTR == 0 {
            let data = if sh_type == elf::SHT_NOBITS { Vec::new() } else { bytes()?.to_vec() };
            self.arena = Some((idx, data));
            return Ok(());
        }
        if sh_type == elf::SHT_PROGBITS && size > 0 {
            if sh_flags & elf::SHF_EXECINSTR != 0 {
                if sname == ".text" {
                    self.text_idx = Some(idx);
                }
                self.exec.push((idx, sname, bytes()?));
            } else if sname == ".data" || sname.starts_with(".data.") {
                self.data.push((idx, sname, MapOrigin::Data, bytes()?.to_vec(), size));
            } else if sname == ".rodata" || sname.starts_with(".rodata.") {
                self.data.push((idx, sname, MapOrigin::Rodata, bytes()?.to_vec(), size));
            } else if struct_ops::is_struct_ops_section(&sname) {
                self.struct_ops.push((idx, sname, bytes()?));
            }
        } else if sh_type == elf::SHT_NOBITS && size > 0 && (sname == ".bss" || sname.starts_with(".bss.")) {
            self.data.push((idx, sname, MapOrigin::Bss, Vec::new(), size));
        }
        Ok(())
    }
}

/// The object's BTF, fixed up with what only the ELF knows (DATASEC sizes,
/// VAR offsets and visibility).
fn read_btf(secs: &Sections<'_>, syms: &Symbols, cx: &Ctx<'_>) -> Result<Option<Btf>> {
    let Some(raw) = secs.btf_raw else { return Ok(None) };
    let parsed = Btf::from_vec(raw.to_vec()).map_err(|e| cx.with("section '.BTF'").wrap(e))?;
    let var_syms: HashMap<&str, (u64, u8)> = syms
        .in_order()
        .map(|(_, s)| s)
        .filter(|s| s.st_type == elf::STT_OBJECT && s.st_bind != elf::STB_LOCAL)
        .map(|s| (s.name.as_str(), (s.value, s.st_other & 0x3)))
        .collect();
    Ok(Some(fix_object_btf(&parsed, &secs.sizes, &var_syms).map_err(|e| cx.with("section '.BTF'").wrap(e))?))
}

/// Programs: every FUNC symbol of every executable section, sorted by
/// section and offset.
fn read_programs(secs: &Sections<'_>, syms: &Symbols, cx: &Ctx<'_>) -> Result<Vec<Program>> {
    let mut programs = Vec::new();
    for (sec_idx, sname, data) in &secs.exec {
        section_programs(*sec_idx, sname, data, Some(*sec_idx) == secs.text_idx, syms, cx, &mut programs)?;
    }
    programs.sort_by_key(|p| (p.sec_idx, p.sec_insn_off));
    Ok(programs)
}

fn section_programs(
    sec_idx: usize,
    sname: &str,
    data: &[u8],
    is_text: bool,
    syms: &Symbols,
    cx: &Ctx<'_>,
    out: &mut Vec<Program>,
) -> Result<()> {
    let scx = cx.with(format!("section '{sname}'"));
    if data.len() % 8 != 0 {
        return Err(scx.err(format!("size {} is not a multiple of 8", data.len())));
    }
    let (autoload, sec_name) = match sname.strip_prefix('?') {
        Some(rest) => (false, rest.to_string()),
        None => (true, sname.to_string()),
    };
    let def = if is_text { None } else { section::classify(&sec_name) };
    for (_, s) in syms.in_order().filter(|(_, s)| s.shndx == Some(sec_idx) && s.st_type == elf::STT_FUNC) {
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
        let insns =
            data[s.value as usize..end as usize].chunks_exact(8).map(|c| Insn(<[u8; 8]>::try_from(c).expect("chunks of 8"))).collect();
        let global = s.st_bind != elf::STB_LOCAL;
        let vis = s.st_other & 0x3;
        out.push(Program {
            name: s.name.clone(),
            section: sec_name.clone(),
            sec_idx,
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
    Ok(())
}

/// Maps: BTF-defined, then legacy, then global data (section order), as
/// libbpf.
fn read_maps(
    file: &File<'_>,
    secs: &Sections<'_>,
    data_secs: Vec<DataSection>,
    syms: &Symbols,
    btf: Option<&Btf>,
    obj_name: &str,
    cx: &Ctx<'_>,
) -> Result<Vec<MapSpec>> {
    let mut maps = Vec::new();
    if let Some((maps_idx, maps_size)) = secs.btf_maps {
        maps.extend(btf_defined_maps(file, maps_idx, maps_size, syms, btf, cx)?);
    }
    if let Some((idx, data)) = secs.legacy_maps {
        maps.extend(legacy_maps(data, idx, &syms.by_index, &syms.order, cx)?);
    }
    for (idx, sname, origin, data, size) in data_secs {
        maps.push(global_data_map(idx, &sname, origin, data, size, btf, obj_name, cx)?);
    }
    Ok(maps)
}

/// `.maps`, with the initial slots its relocations give map-in-map and
/// prog-array maps.
fn btf_defined_maps(
    file: &File<'_>,
    maps_idx: usize,
    maps_size: u64,
    syms: &Symbols,
    btf: Option<&Btf>,
    cx: &Ctx<'_>,
) -> Result<Vec<MapSpec>> {
    let b = btf.ok_or_else(|| cx.with("section '.maps'").err("BTF-defined maps need the object's .BTF"))?;
    let defs = crate::btf_maps::parse_btf_maps(b, maps_size as usize).map_err(|e| cx.with("section '.maps'").wrap(e))?;
    let maps_section = file.section_by_index(object::SectionIndex(maps_idx)).map_err(|e| cx.wrap_foreign("", e))?;
    let mut rels = Vec::new();
    for (off, rel) in maps_section.relocations() {
        let RelocationTarget::Symbol(si) = rel.target() else { continue };
        let Some(s) = syms.by_index.get(&si.0) else {
            return Err(cx.with("section '.rel.maps'").err(format!("offset {off:#x}: symbol #{} missing", si.0)));
        };
        rels.push(crate::btf_maps::MapsRel { offset: off, symbol: s.name.clone(), symbol_in_maps: s.shndx == Some(maps_idx) });
    }
    let slots = crate::btf_maps::collect_init_slots(&defs, &rels).map_err(|e| cx.with("section '.rel.maps'").wrap(e))?;
    let mut maps = defs.iter().map(|d| btf_map_spec(d, maps_idx, cx)).collect::<Result<Vec<_>>>()?;
    for slot in slots {
        maps[slot.map].init_slots.push(InitSlot { index: slot.index, target: slot.target });
    }
    Ok(maps)
}

#[allow(clippy::too_many_arguments)]
fn global_data_map(
    idx: usize,
    sname: &str,
    origin: MapOrigin,
    data: Vec<u8>,
    size: u64,
    btf: Option<&Btf>,
    obj_name: &str,
    cx: &Ctx<'_>,
) -> Result<MapSpec> {
    let value_size = u32::try_from(size).map_err(|_| cx.with(format!("section '{sname}'")).err("too large"))?;
    let datasec = btf.and_then(|b| b.find_first(sname, Kind::Datasec));
    let mut flags = if origin == MapOrigin::Rodata { map_flags::RDONLY_PROG } else { 0 };
    if let (Some(b), Some(id)) = (btf, datasec) {
        if datasec_has_non_static_var(b, id) {
            flags |= map_flags::MMAPABLE;
        }
    }
    // A `.bss` (no bytes in the file) stays empty, meaning zeros: its size
    // is a claim of the file, and allocating it here would let a corrupt
    // object ask for gigabytes.
    Ok(MapSpec { sec_idx: idx, ..MapSpec::global_data(obj_name, sname, origin, value_size, flags, datasec.unwrap_or(0), data) })
}

/// `__arena` variables belong to the arena map (libbpf: the section must be
/// in a `.maps`-declared arena, only one of which is allowed).
fn read_arena(arena_sec: Option<(usize, Vec<u8>)>, maps: &[MapSpec], btf: Option<&Btf>, cx: &Ctx<'_>) -> Result<Option<ArenaGlobals>> {
    let arena_map = arena::find_arena_map(maps, arena_sec.is_some()).map_err(|e| cx.wrap(e))?;
    let (Some((sec_idx, data)), Some(map)) = (arena_sec, arena_map) else { return Ok(None) };
    arena::check_fits(&maps[map], data.len()).map_err(|e| cx.wrap(e))?;
    let btf_datasec = btf.and_then(|b| b.find_first(arena::ARENA_SEC, Kind::Datasec)).unwrap_or(0);
    Ok(Some(ArenaGlobals { map, sec_idx, data, btf_datasec }))
}

/// Externs: undefined global symbols without a type (libbpf's
/// `sym_is_extern`), classified by their BTF and sorted as libbpf sorts
/// them; the `.kconfig` map holds the kconfig ones.
fn read_externs(syms: &Symbols, btf: Option<&Btf>, maps: &mut Vec<MapSpec>, obj_name: &str, cx: &Ctx<'_>) -> Result<Vec<Extern>> {
    let ext_syms: Vec<ExternSymbol<'_>> = syms
        .in_order()
        .filter(|(_, s)| s.undefined && !s.name.is_empty() && s.st_bind != elf::STB_LOCAL && s.st_type == elf::STT_NOTYPE)
        .map(|(i, s)| ExternSymbol { sym_idx: i, name: &s.name, weak: s.st_bind == elf::STB_WEAK })
        .collect();
    let externs = collect_externs(btf, &ext_syms).map_err(|(n, e)| cx.with(format!("extern '{n}'")).wrap(e))?;
    let kconfig_size = kconfig_map_size(&externs);
    if kconfig_size > 0 {
        let datasec = btf.and_then(|b| b.find_first(".kconfig", Kind::Datasec));
        let flags = map_flags::RDONLY_PROG | map_flags::MMAPABLE;
        let data = vec![0; kconfig_size as usize];
        maps.push(MapSpec::global_data(obj_name, ".kconfig", MapOrigin::Kconfig, kconfig_size, flags, datasec.unwrap_or(0), data));
    }
    Ok(externs)
}

/// struct_ops variables, one map each, after every other map (libbpf's
/// order), then what their members point to.
fn read_struct_ops(
    file: &File<'_>,
    secs: &Sections<'_>,
    syms: &Symbols,
    btf: Option<&Btf>,
    maps: &mut Vec<MapSpec>,
    programs: &[Program],
    cx: &Ctx<'_>,
) -> Result<Vec<StructOpsMap>> {
    let mut struct_ops_maps = Vec::new();
    for (idx, sname, data) in &secs.struct_ops {
        let scx = cx.with(format!("section '{sname}'"));
        let b = btf.ok_or_else(|| scx.err("BTF is required, but is missing or corrupted"))?;
        for (spec, st) in struct_ops::open_struct_ops_maps(b, sname, *idx, data, maps.len()).map_err(|e| scx.wrap(e))? {
            maps.push(spec);
            struct_ops_maps.push(st);
        }
    }
    let Some(b) = btf else { return Ok(struct_ops_maps) };
    for (idx, sname, _) in &secs.struct_ops {
        let scx = cx.with(format!("section '{sname}'"));
        let rels = struct_ops_relocations(file, *idx, syms, cx, &scx)?;
        struct_ops::bind_members(b, *idx, &rels, &mut struct_ops_maps, maps, programs).map_err(|(map, m)| match map {
            Some(name) => scx.with(format!("map '{name}'")).wrap(m),
            None => scx.wrap(m),
        })?;
    }
    Ok(struct_ops_maps)
}

fn struct_ops_relocations(file: &File<'_>, idx: usize, syms: &Symbols, cx: &Ctx<'_>, scx: &Ctx<'_>) -> Result<Vec<StructOpsRel>> {
    let sec = file.section_by_index(object::SectionIndex(idx)).map_err(|e| cx.wrap_foreign("", e))?;
    let mut rels = Vec::new();
    for (off, rel) in sec.relocations() {
        let RelocationTarget::Symbol(si) = rel.target() else {
            return Err(scx.with(format!("relocation at offset {off:#x}")).err("relocation without a symbol"));
        };
        let s = syms.by_index.get(&si.0).ok_or_else(|| scx.err(format!("struct_ops reloc: symbol {:x} not found", si.0)))?;
        let sym_shndx = match (s.shndx, s.undefined) {
            (Some(i), _) => Some(i),
            (None, true) => Some(0),
            (None, false) => None,
        };
        rels.push(StructOpsRel { offset: off, sym_shndx, sym_value: s.value });
    }
    Ok(rels)
}

/// The BTF the kernel will be given: extern DATASECs laid out and hidden
/// global subprograms made static.
fn btf_for_kernel(btf: Option<Btf>, externs: &[Extern], programs: &[Program], cx: &Ctx<'_>) -> Result<Option<Btf>> {
    let Some(b) = btf else { return Ok(None) };
    let static_funcs: Vec<&str> = programs.iter().filter(|p| p.is_subprog && p.mark_btf_static).map(|p| p.name.as_str()).collect();
    Ok(Some(fix_for_kernel(&b, externs, &static_funcs).map_err(|e| cx.with("section '.BTF'").wrap(e))?))
}

/// Instruction relocations of executable sections, recorded on the
/// programs they fall in (libbpf ignores those outside any function).
#[allow(clippy::too_many_arguments)]
fn read_relocations(
    file: &File<'_>,
    exec: &[(usize, String, &[u8])],
    syms: &Symbols,
    secs: &RelocSections<'_>,
    programs: &mut [Program],
    maps: &[MapSpec],
    externs: &[Extern],
    cx: &Ctx<'_>,
) -> Result<()> {
    let index = ProgramIndex::new(programs);
    for (sec_idx, sname, _) in exec {
        let sec = file.section_by_index(object::SectionIndex(*sec_idx)).map_err(|e| cx.wrap_foreign("", e))?;
        let scx = cx.with(format!("section '{sname}'"));
        for (off, rel) in sec.relocations() {
            let rcx = scx.with(format!("relocation at offset {off:#x}"));
            let (si, sym) = relocation_symbol(&rel, off, syms, &rcx)?;
            let Some(pi) = index.find(*sec_idx, (off / 8) as usize) else { continue };
            let rel_idx = (off / 8) as usize - programs[pi].sec_insn_off;
            let kind = record_reloc(&programs[pi], rel_idx, sym, si, secs, maps, externs)
                .map_err(|e| rcx.with(format!("symbol '{}'", sym.name)).wrap(e))?;
            programs[pi].relocs.push(Reloc { insn_idx: rel_idx, kind });
        }
    }
    for p in programs.iter_mut() {
        p.relocs.sort_by_key(|r| r.insn_idx);
    }
    Ok(())
}

/// A relocation's type checked, and its symbol: index and entry.
fn relocation_symbol<'s>(rel: &object::Relocation, off: u64, syms: &'s Symbols, rcx: &Ctx<'_>) -> Result<(usize, &'s SymInfo)> {
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
    let sym = syms.by_index.get(&si.0).ok_or_else(|| rcx.err(format!("symbol #{} does not exist", si.0)))?;
    if off % 8 != 0 {
        return Err(rcx.err("offset not aligned to an instruction"));
    }
    Ok((si.0, sym))
}

/// `.BTF.ext` records grouped by the ELF section they describe.
fn btf_ext_by_section(ext: &BtfExt, names: &HashMap<usize, String>) -> HashMap<usize, SectionExt> {
    let mut section_ext: HashMap<usize, SectionExt> = HashMap::new();
    let idx_of = |n: &str| names.iter().find(|(_, v)| v.as_str() == n).map(|(k, _)| *k);
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
    section_ext
}
