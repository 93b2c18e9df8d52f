//! Where the count, size and type-id fields of an object's `.BTF` are:
//! what the structure-aware mutator of `object_btf` changes. This file
//! finds the section; the walk of its records is bpfld-btf's
//! `raw_fields`, which bpfld-obj's `btf_extremes` test uses too.

pub use bpfld_btf::raw_fields::{Field, Fields};

fn section(elf: &[u8], want: &str) -> Option<(usize, usize)> {
    let u16_at = |o: usize| Some(u16::from_le_bytes(elf.get(o..o.checked_add(2)?)?.try_into().ok()?) as usize);
    let u32_at = |o: usize| Some(u32::from_le_bytes(elf.get(o..o.checked_add(4)?)?.try_into().ok()?) as usize);
    let u64_at = |o: usize| Some(u64::from_le_bytes(elf.get(o..o.checked_add(8)?)?.try_into().ok()?) as usize);
    if !elf.starts_with(b"\x7fELF\x02\x01") {
        return None;
    }
    let (shoff, shnum, shstrndx) = (u64_at(0x28)?, u16_at(0x3c)?, u16_at(0x3e)?);
    let shdr = |i: usize| shoff.checked_add(i.checked_mul(64)?);
    let strtab = u64_at(shdr(shstrndx)?.checked_add(24)?)?;
    for i in 0..shnum {
        let h = shdr(i)?;
        let name_at = strtab.checked_add(u32_at(h)?)?;
        let name = elf.get(name_at..name_at.checked_add(want.len() + 1)?)?;
        if &name[..want.len()] == want.as_bytes() && name[want.len()] == 0 {
            let (off, len) = (u64_at(h.checked_add(24)?)?, u64_at(h.checked_add(32)?)?);
            elf.get(off..off.checked_add(len)?)?;
            return Some((off, len));
        }
    }
    None
}

/// The fields of the object's `.BTF` (header and every record), empty if
/// the object has no readable `.BTF`.
pub fn btf_fields(elf: &[u8]) -> Fields {
    match section(elf, ".BTF") {
        Some((base, len)) => bpfld_btf::raw_fields::find(&elf[base..base + len], base),
        None => Fields::default(),
    }
}
