//! Externs whose ELF symbol and BTF disagree, or whose kconfig type is not
//! one libbpf supports: open fails with an error naming the extern.

use object::read::elf::{ElfFile64, SectionHeader};
use object::{Endianness, Object as _};

/// `name`'s bytes inside the ELF section `section` of `bytes`, replaced
/// by `with` (same length).
fn patch_in_section(bytes: &mut [u8], section: &str, name: &str, with: &str) {
    assert_eq!(name.len(), with.len());
    let (start, end) = {
        let elf = ElfFile64::<Endianness>::parse(&*bytes).unwrap();
        let s = elf.section_by_name(section).unwrap_or_else(|| panic!("no {section}"));
        let (off, size) = s.elf_section_header().file_range(elf.endian()).unwrap();
        (off as usize, (off + size) as usize)
    };
    let needle = format!("{name}\0");
    let at = bytes[start..end].windows(needle.len()).position(|w| w == needle.as_bytes()).expect("name in section") + start;
    bytes[at..at + name.len()].copy_from_slice(with.as_bytes());
}

fn open(bytes: &[u8]) -> Result<bpfld_obj::Object, String> {
    bpfld_obj::Object::parse("patched", bytes).map_err(|e| e.to_string())
}

#[test]
fn symbol_without_btf_names_the_extern() {
    let mut bytes = std::fs::read(bpfld_testdata::test_object("kfunc_flavors")).unwrap();
    // The ELF symbol no longer matches its BTF FUNC (and .ksyms entry).
    patch_in_section(&mut bytes, ".strtab", "bpf_task_acquire___two", "bpf_task_acquirX___two");
    let e = open(&bytes).unwrap_err();
    assert!(e.contains("extern 'bpf_task_acquirX___two': no BTF VAR or FUNC of that name"), "{e}");
}

#[test]
fn btf_renamed_under_a_symbol_names_the_extern() {
    let mut bytes = std::fs::read(bpfld_testdata::test_object("kfunc_flavors")).unwrap();
    // The BTF FUNC (and its .ksyms entry) renamed, the ELF symbol not.
    patch_in_section(&mut bytes, ".BTF", "bpf_task_release", "bpf_task_releasX");
    let e = open(&bytes).unwrap_err();
    assert!(e.contains("extern 'bpf_task_release': no BTF VAR or FUNC of that name"), "{e}");
}

#[test]
fn ksyms_entry_without_an_extern_names_the_btf_type() {
    // A .ksyms DATASEC listing a FUNC that no extern symbol stands for
    // (the symbol table and the BTF disagree): the kernel-ready BTF cannot
    // be made, and the error says which entry.
    let bytes = std::fs::read(bpfld_testdata::test_object("kfunc_flavors")).unwrap();
    let obj = open(&bytes).unwrap();
    let raw = {
        let elf = ElfFile64::<Endianness>::parse(&*bytes).unwrap();
        let sec = elf.section_by_name(".BTF").unwrap();
        let (off, size) = sec.elf_section_header().file_range(elf.endian()).unwrap();
        bytes[off as usize..(off + size) as usize].to_vec()
    };
    let btf = bpfld_btf::Btf::from_vec(raw).unwrap();
    let only_some: Vec<_> = obj.externs.iter().filter(|e| e.name != "bpf_task_acquire___three").cloned().collect();
    let e = bpfld_obj::btf_fixup::fix_for_kernel(&btf, &only_some, &[]).unwrap_err();
    assert!(
        matches!(&e, bpfld_obj::btf_fixup::BtfFixError::NoExternDefinition { kind: "FUNC", name } if name == "bpf_task_acquire___three"),
        "{e:?}"
    );
    assert_eq!(e.to_string(), "failed to find extern definition for BTF FUNC 'bpf_task_acquire___three'");
}

#[test]
fn kconfig_of_an_unsupported_type_names_the_extern() {
    let mut bytes = std::fs::read(bpfld_testdata::test_object("kconfig_values")).unwrap();
    // Only an enum named libbpf_tristate is a tristate: renamed, the two
    // tristate externs have an unsupported type.
    patch_in_section(&mut bytes, ".BTF", "libbpf_tristate", "libbpf_tristatX");
    let e = open(&bytes).unwrap_err();
    assert!(e.contains("extern 'CONFIG_"), "{e}");
    assert!(e.contains("the kconfig value's type is unsupported"), "{e}");
}
