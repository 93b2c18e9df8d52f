//! Every count and size field of every test object's `.BTF` and `.BTF.ext`, set to extreme
//! values one at a time: opening and planning the object must end in a clean
//! error or a plan, never a panic, and never allocate what the file cannot
//! back. (A `__kconfig` ARRAY with 0xffffffff elements once made `plan`
//! panic, and one with 0x7fffffff made `open` allocate 2 GiB.)

use std::sync::Arc;

use bpfld_btf::raw_fields::{self, Field};
use bpfld_btf::Btf;
use bpfld_obj::{plan, Object, PlanOptions, Target};
use object::{Object as _, ObjectSection};

/// 32-bit values every field is set to.
const EXTREMES: [u32; 7] = [0, 1, 0x7fff, 0xffff, 0x1000_0000, 0x7fff_ffff, 0xffff_ffff];
/// Values for the 16-bit vlen of a record's info word.
const EXTREME_VLENS: [u32; 4] = [0, 1, 0x8000, 0xffff];

/// The count and size fields of a little-endian `.BTF.ext` blob at `base`:
/// its header's offsets and lengths, and each info subsection's record
/// size and per-section record counts.
fn btf_ext_fields(ext: &[u8], base: usize) -> Vec<Field> {
    let word = |off: usize| u32::from_le_bytes(ext[off..off + 4].try_into().unwrap()) as usize;
    let hdr_len = word(4);
    let mut fields: Vec<Field> = (4..hdr_len).step_by(4).map(|o| Field::Word(base + o)).collect();
    // (offset, length) pairs follow the 8-byte preamble: func, line, CO-RE.
    for pair in (8..hdr_len).step_by(8) {
        let (mut off, len) = (hdr_len + word(pair), word(pair + 4));
        if len == 0 {
            continue;
        }
        let end = off + len;
        let rec_size = word(off);
        fields.push(Field::Word(base + off));
        off += 4;
        while off + 8 <= end {
            fields.push(Field::Word(base + off + 4));
            off += 8 + word(off + 4) * rec_size;
        }
    }
    fields
}

fn set(bytes: &mut [u8], field: Field, value: u32) {
    match field {
        Field::Word(at) => bytes[at..at + 4].copy_from_slice(&value.to_le_bytes()),
        Field::Vlen(at) => bytes[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes()),
    }
}

/// Where section `name`'s bytes are in the file.
fn section_range(elf: &[u8], name: &str) -> Option<(usize, usize)> {
    let elf = object::File::parse(elf).unwrap();
    let (at, len) = elf.section_by_name(name)?.file_range()?;
    Some((at as usize, len as usize))
}

fn host_target() -> Option<Target> {
    let bytes = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
    Some(Target::new("host", Btf::parse(Arc::new(bytes)).ok()?))
}

/// Peak virtual memory of this process, from /proc/self/status.
fn vm_peak_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmPeak:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn extreme_btf_counts_and_sizes_fail_cleanly() {
    let target = host_target();
    if target.is_none() {
        bpfld_testdata::skip::<()>("no /sys/kernel/btf/vmlinux to plan against");
    }
    let peak_before = vm_peak_kib();
    let (mut mutants, mut opened, mut planned) = (0usize, 0usize, 0usize);
    let mut panics = Vec::new();
    std::panic::set_hook(Box::new(|_| {}));
    for name in bpfld_testdata::test_object_names() {
        let path = bpfld_testdata::test_object(&name);
        let pristine = std::fs::read(&path).unwrap();
        let (btf_at, btf_len) = section_range(&pristine, ".BTF").unwrap_or_else(|| panic!("{name} has a .BTF"));
        let mut fields = raw_fields::find(&pristine[btf_at..btf_at + btf_len], btf_at).all;
        if let Some((at, len)) = section_range(&pristine, ".BTF.ext") {
            fields.extend(btf_ext_fields(&pristine[at..at + len], at));
        }
        let mut bytes = pristine.clone();
        for field in fields {
            let values: &[u32] = if matches!(field, Field::Vlen(_)) { &EXTREME_VLENS } else { &EXTREMES };
            for &v in values {
                set(&mut bytes, field, v);
                mutants += 1;
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let obj = Object::parse(&name, &bytes).ok()?;
                    let none = plan(&obj, None, &PlanOptions::default()).is_ok();
                    let host = target.as_ref().map(|t| plan(&obj, Some(t), &PlanOptions::default()).is_ok());
                    Some(none || host == Some(true))
                }));
                match outcome {
                    Ok(None) => {}
                    Ok(Some(p)) => {
                        opened += 1;
                        planned += p as usize;
                    }
                    Err(e) => {
                        let msg = e.downcast_ref::<String>().cloned().or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()));
                        panics.push(format!("{name}: {field:?} = {v:#x}: {}", msg.unwrap_or_default()));
                    }
                }
                bytes.copy_from_slice(&pristine);
            }
        }
    }
    let grown_mib = (vm_peak_kib() - peak_before) / 1024;
    eprintln!("{mutants} mutants: {opened} opened, {planned} planned; peak virtual memory grew {grown_mib} MiB");
    let _ = std::panic::take_hook();
    assert!(panics.is_empty(), "{} mutants panicked:\n{}", panics.len(), panics.join("\n"));
    assert!(mutants > 1000, "only {mutants} mutants: the BTF walk found too few fields");
    assert!(opened < mutants, "every mutant opened: the mutations are not reaching the BTF");
    assert!(grown_mib < 256, "peak virtual memory grew by {grown_mib} MiB: a size from the file was allocated");
}

/// The mutation that was found: the element count of a `__kconfig` char
/// array set to huge values is an error naming the extern, at open.
#[test]
fn a_huge_kconfig_array_is_refused_at_open() {
    let pristine = std::fs::read(bpfld_testdata::test_object("kconfig_values")).unwrap();
    let (at, len) = section_range(&pristine, ".BTF").unwrap();
    let btf = Btf::parse(Arc::new(pristine[at..at + len].to_vec())).unwrap();
    let kconfig_arrays: Vec<Field> = raw_fields::find(&pristine[at..at + len], at)
        .all
        .into_iter()
        .filter_map(|f| match f {
            // An ARRAY record's nelems is the third word after its header.
            Field::Vlen(info) if pristine[info + 3] & 0x1f == 3 => Some(Field::Word(info + 4 + 4 + 8)),
            _ => None,
        })
        .collect();
    assert!(!kconfig_arrays.is_empty() && btf.own_type_count() > 0);
    for v in [0x1000_0000, 0x7fff_ffff, 0xffff_ffff] {
        let refused: Vec<String> = kconfig_arrays
            .iter()
            .filter_map(|&f| {
                let mut bytes = pristine.clone();
                set(&mut bytes, f, v);
                Object::parse("kconfig_values", &bytes).err().map(|e| e.to_string())
            })
            .filter(|e| e.contains(".kconfig map bpfld allows"))
            .collect();
        assert!(!refused.is_empty(), "no kconfig array of {v:#x} elements was refused");
        assert!(refused.iter().all(|e| e.contains("extern 'CONFIG_")), "{refused:?}");
    }
}
