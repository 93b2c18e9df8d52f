//! The two passes scx_cargo 1.1.4's `compile_link_gen` makes around
//! libbpf's static linker for `__arena` globals (`.addr_space.1`), which
//! the linker alone gets wrong across several sources:
//! - before linking, each source's extern arena variables, which the
//!   per-source link pass left bound to the arena section as size-zero
//!   untyped symbols, are made undefined again ([`unbind_arena_externs`]);
//! - after linking, the `.addr_space.1` DATASEC of the BTF takes each
//!   variable's offset from its ELF symbol, sorted by offset
//!   ([`arena_datasec_from_symbols`]).
//!
//! Both patch the ELF in place (little-endian ELF64 only, as BPF objects
//! built for x86 are).

use std::collections::HashMap;
use std::path::Path;

const ARENA_SECTION: &str = ".addr_space.1";
const SHT_SYMTAB: u32 = 2;
const STT_NOTYPE: u8 = 0;
const STT_OBJECT: u8 = 1;
const SYM_SIZE: usize = 24;
const BTF_KIND_VAR: u32 = 14;
const BTF_KIND_DATASEC: u32 = 15;

/// Where the parts of an ELF object these passes touch are.
struct Parts {
    arena: u16,
    /// (offset, size) of the symbol table and offset of its strings.
    symtab: (usize, usize),
    strtab: usize,
    /// (offset, size) of `.BTF`, if any.
    btf: Option<(usize, usize)>,
}

fn u16_at(b: &[u8], at: usize) -> Result<u16, String> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]])).ok_or_else(|| format!("offset {at} past the end"))
}

fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4).map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]])).ok_or_else(|| format!("offset {at} past the end"))
}

fn u64_at(b: &[u8], at: usize) -> Result<u64, String> {
    Ok(u64::from(u32_at(b, at)?) | u64::from(u32_at(b, at + 4)?) << 32)
}

fn c_str(b: &[u8], at: usize) -> Result<&str, String> {
    let rest = b.get(at..).ok_or_else(|| format!("string at {at} past the end"))?;
    let end = rest.iter().position(|&c| c == 0).ok_or_else(|| format!("string at {at} unterminated"))?;
    std::str::from_utf8(&rest[..end]).map_err(|e| format!("string at {at}: {e}"))
}

/// Section `i`'s header fields: (name, type, offset, size, link).
fn section(elf: &[u8], i: usize) -> Result<(u32, u32, usize, usize, u32), String> {
    let shoff = u64_at(elf, 0x28)? as usize;
    let at = shoff + i * u16_at(elf, 0x3a)? as usize;
    Ok((u32_at(elf, at)?, u32_at(elf, at + 4)?, u64_at(elf, at + 24)? as usize, u64_at(elf, at + 32)? as usize, u32_at(elf, at + 40)?))
}

/// The parts of an object with an arena section; `None` without one.
fn parts(elf: &[u8]) -> Result<Option<Parts>, String> {
    let count = u16_at(elf, 0x3c)? as usize;
    let names = section(elf, u16_at(elf, 0x3e)? as usize)?.2;
    let (mut arena, mut symtab, mut strtab, mut btf) = (None, None, None, None);
    for i in 0..count {
        let (name, kind, offset, size, link) = section(elf, i)?;
        match c_str(elf, names + name as usize)? {
            ARENA_SECTION => arena = Some(i as u16),
            ".BTF" => btf = Some((offset, size)),
            _ if kind == SHT_SYMTAB => {
                symtab = Some((offset, size));
                strtab = Some(section(elf, link as usize)?.2);
            }
            _ => {}
        }
    }
    match (arena, symtab, strtab) {
        (Some(arena), Some(symtab), Some(strtab)) => Ok(Some(Parts { arena, symtab, strtab, btf })),
        _ => Ok(None),
    }
}

/// Offsets of the symbol entries defined in the arena section.
fn arena_symbols(elf: &[u8], p: &Parts) -> Result<Vec<usize>, String> {
    let (offset, size) = p.symtab;
    let mut v = Vec::new();
    for at in (offset..offset + size).step_by(SYM_SIZE) {
        if u16_at(elf, at + 6)? == p.arena {
            v.push(at);
        }
    }
    Ok(v)
}

/// Before linking: arena symbols of no type and size zero (externs a link
/// pass bound to the section) become undefined again.
pub(crate) fn unbind_arena_externs(path: &Path) -> Result<(), String> {
    let mut elf = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let Some(p) = parts(&elf).map_err(|e| format!("{}: {e}", path.display()))? else { return Ok(()) };
    let mut changed = false;
    for at in arena_symbols(&elf, &p)? {
        if elf[at + 4] & 0xf == STT_NOTYPE && u64_at(&elf, at + 16)? == 0 {
            elf[at + 6..at + 8].fill(0);
            elf[at + 8..at + 16].fill(0);
            changed = true;
        }
    }
    if changed {
        std::fs::write(path, elf).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}

/// After linking: each `.addr_space.1` DATASEC entry takes its variable's
/// offset from the ELF symbol of that name; entries sorted by offset.
pub(crate) fn arena_datasec_from_symbols(path: &Path) -> Result<(), String> {
    let err = |e: String| format!("{}: {e}", path.display());
    let mut elf = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let Some(p) = parts(&elf).map_err(err)? else { return Ok(()) };
    let Some((btf, _)) = p.btf else { return Ok(()) };
    let mut offsets = HashMap::new();
    for at in arena_symbols(&elf, &p)? {
        if elf[at + 4] & 0xf == STT_OBJECT {
            let name = c_str(&elf, p.strtab + u32_at(&elf, at)? as usize)?.to_string();
            if offsets.insert(name.clone(), u64_at(&elf, at + 8)? as u32).is_some() {
                return Err(err(format!("two arena symbols named {name}")));
            }
        }
    }
    let Some((entries, vlen, var_names)) = arena_datasec(&elf, btf).map_err(err)? else { return Ok(()) };
    let mut infos: Vec<[u8; 12]> = (0..vlen).map(|i| elf[entries + i * 12..entries + i * 12 + 12].try_into().expect("12 bytes")).collect();
    for info in &mut infos {
        let name = var_names.get(&u32_at(info, 0)?).map(String::as_str).unwrap_or_default();
        let offset = offsets.get(name).ok_or_else(|| err(format!("arena variable {name:?} has no ELF symbol")))?;
        info[4..8].copy_from_slice(&offset.to_le_bytes());
    }
    infos.sort_by_key(|info| u32::from_le_bytes([info[4], info[5], info[6], info[7]]));
    for (i, info) in infos.iter().enumerate() {
        elf[entries + i * 12..entries + i * 12 + 12].copy_from_slice(info);
    }
    std::fs::write(path, elf).map_err(|e| err(e.to_string()))
}

/// The `.addr_space.1` DATASEC of a BTF: the file offset of its entries,
/// their count, and the names of the BTF's VARs by type id.
type ArenaDatasec = (usize, usize, HashMap<u32, String>);

/// Walks the BTF at file offset `btf` for its [`ArenaDatasec`].
fn arena_datasec(elf: &[u8], btf: usize) -> Result<Option<ArenaDatasec>, String> {
    let header = u32_at(elf, btf + 4)? as usize;
    let types = btf + header + u32_at(elf, btf + 8)? as usize;
    let types_end = types + u32_at(elf, btf + 12)? as usize;
    let strings = btf + header + u32_at(elf, btf + 16)? as usize;
    let (mut at, mut id, mut names, mut datasec) = (types, 1u32, HashMap::new(), None);
    while at < types_end {
        let name = c_str(elf, strings + u32_at(elf, at)? as usize)?;
        let info = u32_at(elf, at + 4)?;
        let (kind, vlen) = ((info >> 24) & 0x1f, (info & 0xffff) as usize);
        if kind == BTF_KIND_VAR {
            names.insert(id, name.to_string());
        }
        if kind == BTF_KIND_DATASEC && name == ARENA_SECTION {
            datasec = Some((at + 12, vlen));
        }
        at += 12 + kind_extra(kind, vlen);
        id += 1;
    }
    Ok(datasec.map(|(entries, vlen)| (entries, vlen, names)))
}

/// Bytes that follow a BTF type's 12-byte header, by kind.
fn kind_extra(kind: u32, vlen: usize) -> usize {
    match kind {
        1 | 14 | 17 => 4,
        3 => 12,
        4 | 5 | 15 | 19 => vlen * 12,
        6 | 13 => vlen * 8,
        _ => 0,
    }
}
