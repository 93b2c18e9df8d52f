//! CO-RE relocation of arbitrary `.BTF.ext` records: the records of two
//! committed test objects are replaced by records made from the input
//! (any kind, type id, access string offset and instruction offset, and
//! instruction bytes flipped), then relocated against the object's own BTF
//! and against the other object's. Errors, never panics.
#![no_main]

use std::sync::OnceLock;

use bpfld_btf::ext::{CoreRelo, CoreReloKind};
use bpfld_obj::core::relocate;
use bpfld_obj::{Object, Target};
use libfuzzer_sys::fuzz_target;

fn objects() -> &'static [Object; 2] {
    static O: OnceLock<[Object; 2]> = OnceLock::new();
    O.get_or_init(|| {
        let open = |name: &str, bytes: &[u8]| Object::parse(name, bytes).expect("committed test object");
        [
            open("core_fields", include_bytes!("../../tests/bpf/obj/core_fields.bpf.o")),
            open("core_types", include_bytes!("../../tests/bpf/obj/core_types.bpf.o")),
        ]
    })
}

fn u16_at(d: &[u8], i: usize) -> u32 {
    u32::from(u16::from_le_bytes([d[i], d[i + 1]]))
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else { return };
    let objs = objects();
    let mut obj = objs[usize::from(sel & 1)].clone();
    let other = &objs[usize::from(!sel & 1)];
    let btf = obj.btf.clone().expect("object BTF");
    let (types, strs) = (btf.type_count(), btf.strings_len());
    let Some(ext) = obj.btf_ext.as_mut() else { return };
    let mut records = Vec::new();
    let mut flips = Vec::new();
    for c in rest.chunks_exact(10).take(64) {
        let Some(kind) = CoreReloKind::from_raw(u32::from(c[0] % 13)) else { continue };
        records.push(CoreRelo {
            kind,
            type_id: u16_at(c, 1) % (types + 2),
            access_str_off: u16_at(c, 3) % strs.max(1),
            // Mostly aligned, sometimes not.
            insn_off: if c[9] & 0x80 != 0 { u16_at(c, 5) } else { u16_at(c, 5) & !7 },
        });
        flips.push((u16_at(c, 5) as usize / 8, c[7], c[8]));
    }
    if records.is_empty() {
        return;
    }
    ext.core_relos.truncate(1);
    ext.core_relos[0].records = records;
    let mut insns: Vec<_> = obj.programs.iter().map(|p| p.insns.clone()).collect();
    for (idx, byte, val) in flips {
        if let Some(i) = insns.first_mut().and_then(|v| v.get_mut(idx)) {
            i.0[usize::from(byte % 8)] ^= val;
        }
    }
    for target in [Target::new("self", btf.clone()), Target::new("other", other.btf.clone().expect("BTF"))] {
        let _ = relocate(&obj, &target, &mut insns.clone());
    }
});
