//! A binary's USDT probes from its `.note.stapsdt` notes, as libbpf 1.7's
//! `collect_usdt_targets` reads them: each note gives a provider, a name,
//! the probe's address, the link-time address of `.stapsdt.base`, a
//! semaphore's address (or 0) and the argument specs. The probe address is
//! corrected by how far `.stapsdt.base` moved since link time (prelink),
//! then translated into a file offset (what uprobes take) through the
//! `PT_LOAD` segment that holds it, for executables and shared libraries
//! alike; the semaphore likewise, through a non-executable segment.

use std::path::Path;

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader, SectionHeader};
use object::Endianness;

use super::args::{parse_args, ArgSpec};
use super::error::{NoteProblem, UsdtError, UsdtErrorKind};

const NOTE_SECTION: &[u8] = b".note.stapsdt";
const BASE_SECTION: &[u8] = b".stapsdt.base";
const NOTE_NAME: &[u8] = b"stapsdt";
const NT_STAPSDT: u32 = 3;
/// `nop; nop5`: a probe site the kernel's uprobe syscall optimizes when
/// the probe is on the `nop5` (libbpf 1.7 moves it there).
const NOP_COMBO: [u8; 6] = [0x90, 0x0f, 0x1f, 0x44, 0x00, 0x00];

/// One note of `.note.stapsdt`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtNote<'a> {
    /// Offset of the note in the section.
    pub offset: u64,
    /// The provider (`<sys/sdt.h>`'s first argument).
    pub provider: &'a str,
    /// The probe's name in the provider.
    pub name: &'a str,
    /// The argument specs (`-4@%eax 8@-8(%rbp)`), empty without arguments.
    pub args: &'a str,
    /// The probe's address as the note records it (before the
    /// `.stapsdt.base` correction).
    pub loc_addr: u64,
    /// The link-time address of `.stapsdt.base` the note records.
    pub base_addr: u64,
    /// The semaphore's address as recorded, 0 without one.
    pub sema_addr: u64,
}

/// A `PT_LOAD` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    start: u64,
    end: u64,
    offset: u64,
    exec: bool,
}

impl Segment {
    fn file_offset(&self, addr: u64) -> u64 {
        (addr - self.start).wrapping_add(self.offset)
    }
}

/// The USDT notes and loadable segments of one binary.
#[derive(Debug, Clone)]
pub struct UsdtBinary<'a> {
    data: &'a [u8],
    path: &'a Path,
    /// `ET_DYN`: a shared library (or a position-independent executable).
    pub shared: bool,
    segments: Vec<Segment>,
    /// `sh_addr` of `.stapsdt.base`, 0 without it.
    base_addr: u64,
    /// Every note, in section order.
    pub notes: Vec<UsdtNote<'a>>,
}

/// One place to attach for a probe: a USDT can be at many places
/// (inlined), each with its own argument specs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsdtSite {
    /// Offset of its note in `.note.stapsdt`.
    pub note: u64,
    /// The virtual address of the probe (absolute for executables,
    /// relative to the load address for shared libraries).
    pub vaddr: u64,
    /// The file offset of the probe, where the uprobe goes.
    pub file_offset: u64,
    /// The file offset of the semaphore, 0 without one.
    pub sema_offset: u64,
    /// The note's argument string (the key libbpf shares spec ids by).
    pub args_text: String,
    /// The parsed argument specs, in order.
    pub args: Vec<ArgSpec>,
}

impl<'a> UsdtBinary<'a> {
    /// Reads the notes and segments of the binary `data` (read from
    /// `path`, which errors name).
    pub fn parse(path: &'a Path, data: &'a [u8]) -> Result<UsdtBinary<'a>, UsdtError> {
        let err = |kind| UsdtError { path: path.to_path_buf(), kind };
        let file = ElfFile64::<Endianness>::parse(data).map_err(|e| err(UsdtErrorKind::Elf(e)))?;
        let (hdr, endian) = (file.elf_header(), file.endian());
        if endian != Endianness::Little {
            return Err(err(UsdtErrorKind::Unsupported("big-endian ELF")));
        }
        if hdr.e_machine(endian) != elf::EM_X86_64 {
            return Err(err(UsdtErrorKind::Unsupported("not an x86-64 binary (only x86-64 argument specs are parsed)")));
        }
        let shared = match hdr.e_type(endian) {
            elf::ET_EXEC => false,
            elf::ET_DYN => true,
            t => return Err(err(UsdtErrorKind::FileType(t.0))),
        };
        let segments = load_segments(&file);
        if segments.is_empty() {
            return Err(err(UsdtErrorKind::NoLoadSegments));
        }
        let sections = file.elf_section_table();
        let named = |want: &[u8]| sections.iter().find(|s| sections.section_name(endian, s).is_ok_and(|n| n == want));
        let notes = named(NOTE_SECTION).ok_or_else(|| err(UsdtErrorKind::NoNoteSection))?;
        if notes.sh_type(endian) != elf::SHT_NOTE {
            return Err(err(UsdtErrorKind::NoteSectionType(notes.sh_type(endian).0)));
        }
        let align = if notes.sh_addralign(endian) == 8 { 8 } else { 4 };
        let bytes = notes.data(endian, data).map_err(|e| err(UsdtErrorKind::Elf(e)))?;
        let notes = parse_notes(bytes, align).map_err(|(offset, problem)| err(UsdtErrorKind::Note { offset, problem }))?;
        let base_addr = named(BASE_SECTION).map_or(0, |s| s.sh_addr(endian));
        Ok(UsdtBinary { data, path, shared, segments, base_addr, notes })
    }

    fn err(&self, kind: UsdtErrorKind) -> UsdtError {
        UsdtError { path: self.path.to_path_buf(), kind }
    }

    /// Every place of probe `provider:name`, with its arguments parsed; an
    /// error if there is none. `on_nop5`: place probes that sit on a
    /// `nop; nop5` pair on the `nop5` (for kernels with the uprobe
    /// syscall, as libbpf 1.7 does).
    pub fn sites(&self, provider: &str, name: &str, on_nop5: bool) -> Result<Vec<UsdtSite>, UsdtError> {
        let sites = self
            .notes
            .iter()
            .filter(|n| n.provider == provider && n.name == name)
            .map(|n| self.site(n, on_nop5))
            .collect::<Result<Vec<_>, _>>()?;
        if sites.is_empty() {
            return Err(self.err(UsdtErrorKind::ProbeNotFound { provider: provider.to_string(), name: name.to_string() }));
        }
        Ok(sites)
    }

    fn segment_of(&self, addr: u64) -> Option<&Segment> {
        self.segments.iter().find(|s| s.start <= addr && addr < s.end)
    }

    fn site(&self, n: &UsdtNote<'_>, on_nop5: bool) -> Result<UsdtSite, UsdtError> {
        let probe = format!("{}:{}", n.provider, n.name);
        let mut vaddr = n.loc_addr;
        if self.base_addr != 0 && n.base_addr != 0 {
            vaddr = vaddr.wrapping_add(self.base_addr).wrapping_sub(n.base_addr);
        }
        let seg = self
            .segment_of(vaddr)
            .ok_or_else(|| self.err(UsdtErrorKind::NoSegment { probe: probe.clone(), note: n.offset, addr: vaddr }))?;
        if !seg.exec {
            return Err(self.err(UsdtErrorKind::NotExecutable { probe, note: n.offset, addr: vaddr }));
        }
        let mut file_offset = seg.file_offset(vaddr);
        let sema_offset = self.semaphore_offset(n, &probe)?;
        if on_nop5 && self.has_nop_combo(file_offset) {
            vaddr += 1;
            file_offset += 1;
        }
        let args = parse_args(n.args).map_err(|source| self.err(UsdtErrorKind::Args { probe, note: n.offset, source }))?;
        Ok(UsdtSite { note: n.offset, vaddr, file_offset, sema_offset, args_text: n.args.to_string(), args })
    }

    /// The file offset of the note's semaphore (libbpf does not correct
    /// it for `.stapsdt.base`), 0 without one.
    fn semaphore_offset(&self, n: &UsdtNote<'_>, probe: &str) -> Result<u64, UsdtError> {
        if n.sema_addr == 0 {
            return Ok(0);
        }
        let (note, addr) = (n.offset, n.sema_addr);
        let seg = self.segment_of(addr).ok_or_else(|| self.err(UsdtErrorKind::SemaphoreNoSegment { probe: probe.into(), note, addr }))?;
        if seg.exec {
            return Err(self.err(UsdtErrorKind::SemaphoreExecutable { probe: probe.into(), note, addr }));
        }
        Ok(seg.file_offset(addr))
    }

    fn has_nop_combo(&self, file_offset: u64) -> bool {
        let Ok(at) = usize::try_from(file_offset) else { return false };
        at.checked_add(NOP_COMBO.len()).and_then(|end| self.data.get(at..end)) == Some(&NOP_COMBO[..])
    }
}

fn load_segments(file: &ElfFile64<'_, Endianness>) -> Vec<Segment> {
    let endian = file.endian();
    let mut segs: Vec<Segment> = file
        .elf_program_headers()
        .iter()
        .filter(|p| p.p_type(endian) == elf::PT_LOAD)
        .map(|p| {
            let start = p.p_vaddr(endian);
            Segment {
                start,
                end: start.saturating_add(p.p_memsz(endian)),
                offset: p.p_offset(endian),
                exec: p.p_flags(endian).0 & elf::PF_X.0 != 0,
            }
        })
        .collect();
    segs.sort_by_key(|s| s.start);
    segs
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at.checked_add(4)?)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at.checked_add(8)?)?.try_into().ok()?))
}

fn align_up(n: usize, align: usize) -> Option<usize> {
    n.checked_add(align - 1).map(|v| v & !(align - 1))
}

/// Every note of a `.note.stapsdt` section's bytes; on error, the offset
/// of the bad note and what is wrong with it.
pub fn parse_notes(bytes: &[u8], align: usize) -> Result<Vec<UsdtNote<'_>>, (u64, NoteProblem)> {
    let mut notes = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let (note, next) = parse_note(bytes, at, align).map_err(|p| (at as u64, p))?;
        notes.push(note);
        at = next;
    }
    Ok(notes)
}

/// The note at `at` and where the next one starts.
fn parse_note(bytes: &[u8], at: usize, align: usize) -> Result<(UsdtNote<'_>, usize), NoteProblem> {
    let field = |i: usize| u32_at(bytes, at + 4 * i).ok_or(NoteProblem::Truncated);
    let (namesz, descsz, ntype) = (field(0)? as usize, field(1)?, field(2)?);
    let name_at = at + 12;
    let desc_at = name_at.checked_add(namesz).and_then(|n| align_up(n, align)).ok_or(NoteProblem::Truncated)?;
    let desc_end = desc_at.checked_add(descsz as usize).ok_or(NoteProblem::Truncated)?;
    let name = bytes.get(name_at..name_at + namesz).ok_or(NoteProblem::Truncated)?;
    let desc = bytes.get(desc_at..desc_end).ok_or(NoteProblem::Truncated)?;
    let next = align_up(desc_end, align).ok_or(NoteProblem::Truncated)?.min(bytes.len().max(desc_end));
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    if name != NOTE_NAME {
        return Err(NoteProblem::NotStapsdt);
    }
    if ntype != NT_STAPSDT {
        return Err(NoteProblem::Type(ntype));
    }
    Ok((parse_desc(desc, at as u64)?, next))
}

/// The three addresses and three strings of a note's description.
fn parse_desc(desc: &[u8], offset: u64) -> Result<UsdtNote<'_>, NoteProblem> {
    if desc.len() < 24 + 3 {
        return Err(NoteProblem::DescriptionTooShort(desc.len() as u32));
    }
    let addr = |i: usize| u64_at(desc, 8 * i).unwrap_or(0);
    let strings = &desc[24..];
    let p_end = strings.iter().position(|&b| b == 0).ok_or(NoteProblem::UnterminatedProvider)?;
    let rest = &strings[p_end + 1..];
    if rest.first().is_none_or(|&b| b == 0) {
        return Err(NoteProblem::EmptyName);
    }
    let n_end = rest.iter().position(|&b| b == 0).ok_or(NoteProblem::UnterminatedName)?;
    let args = rest.get(n_end + 1..).filter(|a| !a.is_empty()).ok_or(NoteProblem::MissingArgs)?;
    let args = args.split(|&b| b == 0).next().unwrap_or_default();
    fn text(b: &[u8]) -> Result<&str, NoteProblem> {
        std::str::from_utf8(b).map_err(|_| NoteProblem::NotUtf8)
    }
    let args = text(args)?;
    Ok(UsdtNote {
        offset,
        provider: text(&strings[..p_end])?,
        name: text(&rest[..n_end])?,
        // libbpf: an argument string starting with ':' means none.
        args: if args.starts_with(':') { "" } else { args },
        loc_addr: addr(0),
        base_addr: addr(1),
        sema_addr: addr(2),
    })
}

/// The address at which file offset `file_offset` of the library at
/// `lib_path` is mapped in a process whose `/proc/PID/maps` is `maps`
/// (only executable mappings count), as libbpf finds the absolute probe
/// addresses of a shared library on kernels without BPF cookies.
pub fn mapped_address(maps: &str, lib_path: &str, file_offset: u64) -> Option<u64> {
    maps.lines().filter_map(parse_maps_line).filter(|m| m.path == lib_path && m.exec).find_map(|m| {
        let len = m.end.checked_sub(m.start)?;
        (m.offset <= file_offset && file_offset - m.offset < len).then(|| m.start + (file_offset - m.offset))
    })
}

struct Mapping<'a> {
    start: u64,
    end: u64,
    offset: u64,
    exec: bool,
    path: &'a str,
}

/// `7f5c6f5d8000-7f5c6f5d9000 r-xp 00000000 103:01 362990598  /path`.
fn parse_maps_line(line: &str) -> Option<Mapping<'_>> {
    let mut f = line.splitn(6, ' ');
    let (range, mode, offset) = (f.next()?, f.next()?, f.next()?);
    let (_dev, _inode) = (f.next()?, f.next()?);
    let path = f.next().unwrap_or("").trim_start();
    let (start, end) = range.split_once('-')?;
    let hex = |s: &str| u64::from_str_radix(s, 16).ok();
    Some(Mapping { start: hex(start)?, end: hex(end)?, offset: hex(offset)?, exec: mode.as_bytes().get(2) == Some(&b'x'), path })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One note: name, type and description as given.
    fn note(name: &[u8], ntype: u32, desc: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend((name.len() as u32).to_le_bytes());
        v.extend((desc.len() as u32).to_le_bytes());
        v.extend(ntype.to_le_bytes());
        v.extend(name);
        v.resize(align_up(v.len(), 4).unwrap(), 0);
        v.extend(desc);
        v.resize(align_up(v.len(), 4).unwrap(), 0);
        v
    }

    fn desc(addrs: [u64; 3], strings: &[u8]) -> Vec<u8> {
        let mut d: Vec<u8> = addrs.iter().flat_map(|a| a.to_le_bytes()).collect();
        d.extend(strings);
        d
    }

    #[test]
    fn notes_parse() {
        let mut sec = note(b"stapsdt\0", 3, &desc([0x1139, 0x2004, 0x4010], b"bpfld\0args\0-4@%edi 8@$5\0"));
        let second = sec.len() as u64;
        sec.extend(note(b"stapsdt\0", 3, &desc([0x1200, 0, 0], b"p\0n\0\0")));
        let notes = parse_notes(&sec, 4).unwrap();
        assert_eq!(notes.len(), 2);
        assert_eq!(
            notes[0],
            UsdtNote {
                offset: 0,
                provider: "bpfld",
                name: "args",
                args: "-4@%edi 8@$5",
                loc_addr: 0x1139,
                base_addr: 0x2004,
                sema_addr: 0x4010
            }
        );
        assert_eq!((notes[1].offset, notes[1].name, notes[1].args), (second, "n", ""));
    }

    #[test]
    fn corrupt_notes_name_offset_and_problem() {
        let good = note(b"stapsdt\0", 3, &desc([1, 2, 3], b"p\0n\0a\0"));
        let at = good.len() as u64;
        let with = |bad: Vec<u8>| {
            let mut s = good.clone();
            s.extend(bad);
            parse_notes(&s, 4).unwrap_err()
        };
        assert_eq!(with(note(b"GNU\0", 3, &desc([0; 3], b"p\0n\0a\0"))), (at, NoteProblem::NotStapsdt));
        assert_eq!(with(note(b"stapsdt\0", 1, &desc([0; 3], b"p\0n\0a\0"))), (at, NoteProblem::Type(1)));
        assert_eq!(with(note(b"stapsdt\0", 3, &[0; 20])), (at, NoteProblem::DescriptionTooShort(20)));
        assert_eq!(with(note(b"stapsdt\0", 3, &desc([0; 3], b"pnaaaa"))), (at, NoteProblem::UnterminatedProvider));
        assert_eq!(with(note(b"stapsdt\0", 3, &desc([0; 3], b"p\0\0a\0"))), (at, NoteProblem::EmptyName));
        assert_eq!(with(note(b"stapsdt\0", 3, &desc([0; 3], b"p\0name"))), (at, NoteProblem::UnterminatedName));
        assert_eq!(with(note(b"stapsdt\0", 3, &desc([0; 3], b"p\0nm\0"))), (at, NoteProblem::MissingArgs));
        assert_eq!(with(note(b"stapsdt\0", 3, &desc([0; 3], b"p\0\xff\0a\0"))), (at, NoteProblem::NotUtf8));
        // A description size past the section, a header cut short, a huge name size.
        let mut cut = note(b"stapsdt\0", 3, &desc([0; 3], b"p\0n\0a\0"));
        cut.truncate(cut.len() - 8);
        assert_eq!(with(cut), (at, NoteProblem::Truncated));
        assert_eq!(with(vec![8, 0, 0, 0, 30]), (at, NoteProblem::Truncated));
        assert_eq!(with([u32::MAX.to_le_bytes(), 0u32.to_le_bytes(), 3u32.to_le_bytes()].concat()), (at, NoteProblem::Truncated));
        assert_eq!(with([0u32.to_le_bytes(), u32::MAX.to_le_bytes(), 3u32.to_le_bytes()].concat()), (at, NoteProblem::Truncated));
    }

    #[test]
    fn garbage_and_cut_files_are_errors() {
        let p = Path::new("x");
        assert!(matches!(UsdtBinary::parse(p, b"not an elf").unwrap_err().kind, UsdtErrorKind::Elf(_)));
        let own = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        for len in [0, 16, 64, 200, own.len() / 2] {
            let _ = UsdtBinary::parse(p, &own[..len]);
        }
        // Every single-byte corruption of the section headers' area reads or fails, never panics.
        let mut bytes = own.clone();
        let step = (bytes.len() / 4000).max(1);
        for i in (0..bytes.len()).step_by(step) {
            let old = bytes[i];
            bytes[i] ^= 0xff;
            if let Ok(b) = UsdtBinary::parse(p, &bytes) {
                let _ = b.sites("bpfld", "args", true);
            }
            bytes[i] = old;
        }
    }

    #[test]
    fn library_addresses_from_maps() {
        let maps = "55d0a000-55d0b000 r--p 00000000 08:01 12 /usr/lib/libx.so\n\
                    55d0b000-55d0d000 r-xp 00001000 08:01 12 /usr/lib/libx.so\n\
                    7f000000-7f001000 rw-p 00000000 00:00 0 \n\
                    7f001000-7f002000 r-xp 00001000 08:01 13   /usr/lib/liby.so\n";
        assert_eq!(mapped_address(maps, "/usr/lib/libx.so", 0x1234), Some(0x55d0b234));
        assert_eq!(mapped_address(maps, "/usr/lib/libx.so", 0x0234), None);
        assert_eq!(mapped_address(maps, "/usr/lib/liby.so", 0x1010), Some(0x7f001010));
        assert_eq!(mapped_address(maps, "/usr/lib/libz.so", 0x1010), None);
    }
}
