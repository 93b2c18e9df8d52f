//! Where the count, size and type-id fields of an object's `.BTF` are:
//! what the structure-aware mutator of `object_btf` changes.

/// One 32-bit field (header lengths, sizes, type ids, nelems, offsets), or
/// the 16-bit vlen of a record's info word, by its offset in the object.
#[derive(Clone, Copy)]
pub enum Field {
    Word(usize),
    Vlen(usize),
}

/// The fields of an object's `.BTF`: all of them, and the counts and sizes
/// among them (vlens, sizes of sized kinds, ARRAY element counts, DATASEC
/// entry sizes), which the mutator picks more often.
pub struct Fields {
    pub all: Vec<Field>,
    pub counts: Vec<Field>,
}

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
    let mut counts = Vec::new();
    let all = walk(elf, &mut counts);
    Fields { all, counts }
}

fn walk(elf: &[u8], counts: &mut Vec<Field>) -> Vec<Field> {
    let Some((base, len)) = section(elf, ".BTF") else { return Vec::new() };
    let btf = &elf[base..base + len];
    let word = |o: usize| btf.get(o..o + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize);
    let mut fields: Vec<Field> = (4..24).step_by(4).filter(|&o| o + 4 <= len).map(|o| Field::Word(base + o)).collect();
    let (Some(hdr), Some(toff), Some(tlen)) = (word(4), word(8), word(12)) else { return fields };
    let mut off = hdr.saturating_add(toff);
    let end = off.saturating_add(tlen).min(len);
    while off < end && off + 12 <= end {
        let info = word(off + 4).unwrap_or(0);
        let (kind, vlen) = ((info >> 24) & 0x1f, info & 0xffff);
        let extra = match kind {
            1 | 14 | 17 => 4,
            3 => 12,
            4 | 5 | 15 | 19 => 12 * vlen,
            6 | 13 => 8 * vlen,
            _ => 0,
        };
        fields.push(Field::Vlen(base + off + 4));
        fields.push(Field::Word(base + off + 8));
        counts.push(Field::Vlen(base + off + 4));
        match kind {
            1 | 4 | 5 | 6 | 15 | 16 | 19 => counts.push(Field::Word(base + off + 8)),
            3 if off + 24 <= end => counts.push(Field::Word(base + off + 20)),
            _ => {}
        }
        if kind == 15 {
            counts.extend((0..vlen).map(|i| base + off + 12 + 12 * i + 8).filter(|&o| o + 4 <= base + end).map(Field::Word));
        }
        let words = if matches!(kind, 6 | 19) { 0 } else { extra / 4 };
        fields.extend((0..words).map(|i| base + off + 12 + 4 * i).filter(|&o| o + 4 <= base + end).map(Field::Word));
        off += 12 + extra;
    }
    fields
}
