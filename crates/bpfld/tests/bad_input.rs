//! Bad objects: each is refused with an error naming the object and where
//! the problem is (section, symbol, map, offset), never a panic. These are
//! open-time errors, checked through the API; no kernel needed.

mod common;

use bpfld::{ErrorKind, OpenObject};
use common::*;

fn bytes(name: &str) -> Vec<u8> {
    std::fs::read(obj_path(name)).unwrap()
}

/// The error of opening `data`: a corrupt object is always invalid input.
fn open_err(name: &str, data: &[u8]) -> String {
    match OpenObject::from_bytes(name, data) {
        Ok(_) => panic!("{name}: opened"),
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            e.to_string()
        }
    }
}

#[test]
fn a_corrupt_object_keeps_its_typed_cause() {
    let data = bytes("loader_maps");
    let Err(bpfld::Error::Object(e)) = OpenObject::from_bytes("trunc", &data[..100]) else { panic!("opened a truncated object") };
    let cause = e.cause::<bpfld_obj::ElfError>().expect("the ELF bounds error");
    assert!(matches!(cause, bpfld_obj::ElfError::TruncatedSectionHeaders { len: 100, .. }), "{cause:?}");
    let source = std::error::Error::source(&e).expect("a source");
    assert_eq!(source.to_string(), e.message);
}

#[test]
fn truncated_elf_is_refused_at_every_length() {
    let data = bytes("loader_maps");
    let e = open_err("trunc", &data[..100]);
    assert!(e.starts_with("trunc: truncated: section header table at 0x"), "{e}");
    assert!(e.ends_with("runs past the end of the 100-byte file"), "{e}");
    assert_eq!(open_err("trunc", &data[..0]), "trunc: empty file (0 bytes), not an ELF object");
    assert_eq!(open_err("trunc", &data[..40]), "trunc: truncated: 40 bytes, the ELF64 header needs 64");
    // Every prefix fails cleanly, naming the object.
    for len in (0..data.len()).step_by(61) {
        let e = open_err("trunc", &data[..len]);
        assert!(e.starts_with("trunc: "), "{len}: {e}");
    }
}

#[test]
fn non_bpf_elf_is_refused_with_its_machine() {
    let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let e = open_err("native", &exe);
    assert!(e.contains("not a BPF object (ELF machine 62"), "{e}");
    let e = open_err("text", b"definitely not an ELF file");
    assert_eq!(e, "text: not an ELF file (it starts with bytes 64656669, not 7f454c46)");
}

#[test]
fn reference_to_an_undefined_variable_names_the_symbol() {
    let e = OpenObject::open(obj_path("loader_bad_extern")).unwrap_err().to_string();
    assert!(e.starts_with("loader_bad_exte: extern 'nowhere_defined_var': "), "{e}");
    assert!(e.contains("__ksym or __kconfig"), "{e}");
}

#[test]
fn unknown_map_field_names_the_map_and_field() {
    let e = OpenObject::open(obj_path("loader_bad_map_field")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = e.to_string();
    assert_eq!(e, "loader_bad_map_: section '.maps': map 'odd_map': unknown field 'bogus_field'");
}

#[test]
fn unknown_section_is_a_program_error_in_the_plan() {
    let open = OpenObject::open(obj_path("loader_bad_section")).unwrap();
    let plan = open.plan(None).unwrap();
    let bad = plan.programs.iter().find(|p| p.name == "in_unknown_section").unwrap();
    assert_eq!(bad.error.as_deref(), Some("section 'not_a_program_type' matches no known program type"));
    let good = plan.programs.iter().find(|p| p.name == "in_known_section").unwrap();
    assert_eq!(good.error, None);
}

/// Offset and size of ELF section `name` (64-bit little-endian ELF).
fn elf_section(data: &[u8], name: &str) -> (usize, usize) {
    let u16_at = |o: usize| u16::from_le_bytes([data[o], data[o + 1]]) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(data[o..o + 4].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(data[o..o + 8].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) = (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let hdr = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(hdr(shstrndx) + 0x18);
    (0..shnum)
        .find_map(|i| {
            let n = strtab + u32_at(hdr(i));
            let end = n + data[n..].iter().position(|&b| b == 0).unwrap();
            (&data[n..end] == name.as_bytes()).then(|| (u64_at(hdr(i) + 0x18), u64_at(hdr(i) + 0x20)))
        })
        .unwrap_or_else(|| panic!("no section {name}"))
}

#[test]
fn relocation_against_a_missing_symbol_names_section_and_offset() {
    let mut data = bytes("loader_tailcall");
    // The first relocation of section xdp (tail_target's load of .bss).
    let (off, size) = elf_section(&data, ".relxdp");
    assert!(size >= 16);
    let r_offset = u64::from_le_bytes(data[off..off + 8].try_into().unwrap());
    // r_info = symbol index << 32 | type: point it at a symbol that does
    // not exist.
    data[off + 12..off + 16].copy_from_slice(&9999u32.to_le_bytes());
    let e = open_err("badrel", &data);
    assert!(e.starts_with("badrel: section 'xdp': "), "{e}");
    assert!(e.contains(&format!("offset {r_offset:#x}")), "{e}");
    assert!(e.contains("9999"), "{e}");
}

#[test]
fn relocation_on_a_non_load_instruction_names_the_instruction() {
    let mut data = bytes("loader_tailcall");
    let (rel, _) = elf_section(&data, ".relxdp");
    let r_offset = u64::from_le_bytes(data[rel..rel + 8].try_into().unwrap()) as usize;
    let (xdp, _) = elf_section(&data, "xdp");
    // Turn the relocated ld_imm64 into an ALU instruction.
    data[xdp + r_offset] = 0x07;
    let e = open_err("badinsn", &data);
    assert!(e.starts_with("badinsn: section 'xdp': relocation at offset"), "{e}");
    assert!(e.contains("opcode 0x07"), "{e}");
}
