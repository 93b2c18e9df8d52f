//! Sizes an object claims without bytes to back them (a `.bss` is NOBITS)
//! must not be allocated at open: found by the object_open fuzz target,
//! whose input claimed a 4 GB `.bss` in a 4 KB file.

use object::read::elf::{ElfFile64, FileHeader, SectionHeader};
use object::{Endianness, Object as _, ObjectSection};

#[test]
fn a_huge_bss_is_not_allocated_at_open() {
    let path = bpfld_testdata::test_object("loader_globals");
    let mut bytes = std::fs::read(&path).unwrap();
    // Find the .bss section header and claim 0xf800_0000 bytes for it.
    let (shoff, entsize, idx) = {
        let elf = ElfFile64::<Endianness>::parse(&*bytes).unwrap();
        let e = elf.endian();
        let bss = elf.section_by_name(".bss").expect("loader_globals has a .bss");
        assert_eq!(bss.elf_section_header().sh_type(e), object::elf::SHT_NOBITS);
        let h = elf.elf_header();
        (h.e_shoff(e) as usize, h.e_shentsize(e) as usize, bss.index().0)
    };
    // sh_size is at offset 32 of an Elf64_Shdr.
    let at = shoff + idx * entsize + 32;
    bytes[at..at + 8].copy_from_slice(&0xf800_0000u64.to_le_bytes());
    let obj = bpfld_obj::Object::parse("claimed", &bytes).expect("a large .bss is not an error at open");
    let bss = obj.maps.iter().find(|m| m.real_name == ".bss").unwrap();
    assert_eq!(bss.value_size, 0xf800_0000);
    assert!(bss.data.is_empty(), "zeros are implied, not allocated");
}
