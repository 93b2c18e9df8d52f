//! bpfld against libbpf 1.7 on BPF programs written by others (the kernel's
//! BPF selftests, the objects inside Debian's libbpf-tools, cilium/ebpf's
//! test objects: `bpfld_testdata::corpus`), fetched and built by the test
//! setup into the cache, never committed. For every object and program,
//! the final instructions and the load verdict on the running kernel must
//! be libbpf's (`common/differential.rs`, corpus mode); a difference fails
//! unless [`KNOWN`] lists it with its reason. The sched_ext schedulers of
//! crates.io (linked here by libbpf 1.7's linker) are compared by their
//! planned instructions against a stand-in vmlinux BTF with sched_ext
//! (plan-only mode: this kernel has none).

mod common;

use std::path::Path;
use std::time::Instant;

use bpfld_testdata::{require_kernel, CorpusObject, CorpusSource};
use common::differential::{capture, compare_object, compare_plans, take_log, Mode, Outcome};
use common::sched_ext_btf;

/// (object, program or "*", why bpfld differs from libbpf there).
const KNOWN: &[(&str, &str, &str)] =
    &[("cilium/testdata_invalid_map_static-el", "*", LEGACY_MAPS), ("cilium/testdata_subprog_reloc-el", "*", LEGACY_MAPS)];

const LEGACY_MAPS: &str = "bpfld opens legacy SEC(\"maps\") definitions (struct bpf_map_def), as cilium/ebpf and aya do; \
                           libbpf 1.0+ refuses them";

/// The sched_ext schedulers made of several sources are linked as
/// scx_cargo links them: libbpf's static linker (here libbpf 1.7's).
const LIBBPF_LINKER: bpfld_testdata::BpfLinker = bpfld_testdata::BpfLinker { name: "libbpf 1.7.0 linker", link: link_with_libbpf };

fn link_with_libbpf(inputs: &[std::path::PathBuf], output: &std::path::Path) -> Result<(), String> {
    // libbpf's own message (captured log) says why, the error only errno.
    let why = |e: libbpf_rs::Error| format!("{e}: {}", take_log().trim().replace('\n', "; "));
    let mut linker = libbpf_rs::Linker::new(output).map_err(why)?;
    take_log();
    for input in inputs {
        linker.add_file(input).map_err(|e| format!("{}: {}", input.display(), why(e)))?;
    }
    linker.link().map_err(why)
}

fn known(obj: &str, prog: &str) -> Option<&'static str> {
    KNOWN.iter().find(|(o, p, _)| *o == obj && (*p == "*" || *p == prog)).map(|(_, _, why)| *why)
}

/// The sched_ext schedulers' plans: this kernel has no sched_ext, so both
/// loaders plan against its BTF with the schedulers' sched_ext types
/// added (`common/sched_ext_btf.rs`).
fn compare_schedulers(schedulers: &[&CorpusObject], out: &mut Outcome) {
    if schedulers.is_empty() {
        return;
    }
    let paths: Vec<&Path> = schedulers.iter().map(|o| o.path.as_path()).collect();
    let stand_in = sched_ext_btf::stand_in(&paths, &std::env::temp_dir()).expect("the stand-in sched_ext BTF");
    for o in schedulers {
        compare_plans(&o.path, &o.name, &stand_in, out);
    }
    let _ = std::fs::remove_file(&stand_in.path);
}

#[test]
fn bpfld_and_libbpf_agree_on_programs_written_by_others() {
    if !require_kernel() {
        return;
    }
    libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, capture)));
    let Some((objects, not_compiled)) = bpfld_testdata::corpus(LIBBPF_LINKER) else { return };
    // BPFLD_CORPUS_ONLY=a,b compares only the objects whose names hold a or b.
    let only = std::env::var("BPFLD_CORPUS_ONLY").unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.split(',').any(|w| name.contains(w));
    let start = Instant::now();
    let mut out = Outcome::new(known);
    let mut compared = 0;
    let is_scx = |o: &&CorpusObject| o.source == CorpusSource::Scx;
    for o in objects.iter().filter(|o| wanted(&o.name) && !is_scx(o)) {
        compare_object(&o.path, &o.name, Mode::Corpus, &mut out);
        compared += 1;
    }
    let scx: Vec<&CorpusObject> = objects.iter().filter(|o| wanted(&o.name) && is_scx(o)).collect();
    compare_schedulers(&scx, &mut out);
    compared += scx.len();
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
