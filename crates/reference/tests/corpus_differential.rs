//! bpfld against libbpf 1.7 on BPF programs written by others (the kernel's
//! BPF selftests, the objects inside Debian's libbpf-tools, cilium/ebpf's
//! test objects: `bpfld_testdata::corpus`), fetched and built by the test
//! setup into the cache, never committed. For every object and program,
//! the final instructions and the load verdict on the running kernel must
//! be libbpf's (`common/differential.rs`, corpus mode); a difference fails
//! unless [`KNOWN`] lists it with its reason.

mod common;

use std::time::Instant;

use bpfld_testdata::require_kernel;
use common::differential::{capture, compare_object, Mode, Outcome};

/// (object, program or "*", why bpfld differs from libbpf there).
const KNOWN: &[(&str, &str, &str)] =
    &[("cilium/testdata_invalid_map_static-el", "*", LEGACY_MAPS), ("cilium/testdata_subprog_reloc-el", "*", LEGACY_MAPS)];

const LEGACY_MAPS: &str = "bpfld opens legacy SEC(\"maps\") definitions (struct bpf_map_def), as cilium/ebpf and aya do; \
                           libbpf 1.0+ refuses them";

fn known(obj: &str, prog: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(o, p, _)| *o == obj && (*p == "*" || *p == prog)).map(|(_, _, why)| *why)
}

#[test]
fn bpfld_and_libbpf_agree_on_programs_written_by_others() {
    if !require_kernel() {
        return;
    }
    let Some((objects, not_compiled)) = bpfld_testdata::corpus() else { return };
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, capture)));
    // BPFLD_CORPUS_ONLY=a,b compares only the objects whose names hold a or b.
    let only = std::env::var("BPFLD_CORPUS_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|w| name.contains(w));
    let start = Instant::now();
    let mut out = Outcome::new(known);
    let mut compared = 0;
    for o in objects.iter().filter(|o| wanted(&o.name)) {
        compare_object(&o.path, &o.name, Mode::Corpus, &mut out);
        compared += 1;
    }
    let per_source: Vec<String> = bpfld_testdata::CorpusSource::ALL
        .iter()
        .map(|s| format!("{} {}", objects.iter().filter(|o| o.source == *s).count(), s.name()))
        .collect();
    println!("{}", out.report.join("\n"));
    println!(
        "corpus: {compared} objects ({}), {} selftests sources or scx schedulers that clang-19 does not build; {} programs, {} with identical \
         instructions, {} loaded by both, {} objects refused by both, {} listed differences, {} failures; {:.1} s",
        per_source.join(", "),
        not_compiled.len(),
        out.programs,
        out.identical,
        out.loaded,
        out.refused_by_both,
        out.listed,
        out.failures.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(compared > 0, "no corpus object matched BPFLD_CORPUS_ONLY={only}");
    assert!(out.failures.is_empty(), "bpfld and libbpf 1.7 differ on {} things:\n{}", out.failures.len(), out.failures.join("\n"));
}
