//! Structure-aware: open and plan objects whose `.BTF` counts, sizes and
//! type ids are changed in place, inside an otherwise valid object, as the
//! bug that byte-level mutation never found (a `__kconfig` ARRAY of
//! 0xffffffff elements). Seed the corpus with the test objects:
//!
//!   mkdir -p fuzz/corpus/object_btf && cp tests/bpf/obj/*.bpf.o fuzz/corpus/object_btf/
//!
//! The mutator picks a BTF field (header lengths, a record's vlen,
//! size/type word, INT encoding, ARRAY, member, parameter, DATASEC entry
//! words; counts and sizes half the time) and sets it to an extreme value
//! (two times in three), a nearby value or a type id around the type
//! count; one time in four it leaves the choice to libFuzzer's byte-level
//! mutator instead.
#![no_main]

use std::sync::{Arc, OnceLock};

use bpfld_btf::Btf;
use bpfld_obj::{plan::plan, Target};
use libfuzzer_sys::{fuzz_mutator, fuzz_target, fuzzer_mutate};

#[path = "btf_fields.rs"]
mod btf_fields;
use btf_fields::{btf_fields, Field, Fields};

fn target() -> Option<&'static Target> {
    static T: OnceLock<Option<Target>> = OnceLock::new();
    T.get_or_init(|| {
        let bytes = std::fs::read("/sys/kernel/btf/vmlinux").ok()?;
        Some(Target::new("fuzz", Btf::parse(Arc::new(bytes)).ok()?))
    })
    .as_ref()
}

fuzz_target!(|data: &[u8]| {
    if let Ok(obj) = bpfld_obj::Object::parse("fuzz", data) {
        let _ = plan(&obj, None, &Default::default());
        if let Some(t) = target() {
            let _ = plan(&obj, Some(t), &Default::default());
        }
    }
});

const EXTREMES: [u32; 9] = [0, 1, 2, 0x7f, 0xffff, 0x1000_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

/// xorshift32: the mutator's only randomness, from libFuzzer's seed.
fn next(state: &mut u32) -> u32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    *state
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    let mut rng = seed | 1;
    let Fields { all, counts } = btf_fields(&data[..size]);
    if all.is_empty() || next(&mut rng) % 4 == 0 {
        return fuzzer_mutate(data, size, max_size);
    }
    // One to three fields per mutation, counts and sizes half the time.
    for _ in 0..1 + next(&mut rng) % 3 {
        let pool = if counts.is_empty() || next(&mut rng) % 2 == 0 { &all } else { &counts };
        let field = pool[next(&mut rng) as usize % pool.len()];
        let (at, width) = match field {
            Field::Word(at) => (at, 4),
            Field::Vlen(at) => (at, 2),
        };
        let old = data[at..at + width].iter().rev().fold(0u32, |v, &b| (v << 8) | b as u32);
        let value = match next(&mut rng) % 6 {
            0..=3 => EXTREMES[next(&mut rng) as usize % EXTREMES.len()],
            // Off by a little: lengths and counts one past what is there.
            4 => old.wrapping_add(next(&mut rng) % 9).wrapping_sub(4),
            // A type id among the object's (its records number about
            // fields / 3) or just past them.
            _ => next(&mut rng) % (all.len() as u32 / 3 + 4),
        };
        data[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
    }
    size
});
