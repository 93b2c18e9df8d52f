//! Errors of a caller's request (a name that is not there, an argument
//! that cannot be right, a program that did not load): typed variants with
//! their fields, their kind, their `source()` chain, and the same message.

mod common;

use std::error::Error as _;

use bpfld::error::{GlobalProblem, InvalidArgument, Missing, NoAutoAttach, NotLoadedReason};
use bpfld::{Error, ErrorKind, ProbeOpts, ProgramLoadError};
use bpfld_testdata::require_kernel;
use common::*;

#[test]
fn names_the_object_does_not_have_are_not_found() {
    let mut open = open("loader_globals");
    let e = open.set_global("no_such_var", &[0]).unwrap_err();
    assert!(matches!(&e, Error::NotFound { missing: Missing::Global(name), .. } if name == "no_such_var"), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    assert!(e.to_string().ends_with(": no global variable 'no_such_var' in .data, .rodata, .bss or .addr_space.1 sections"), "{e}");
    assert!(e.source().is_none());

    let e = open.set_autoload("no_such_prog", false).unwrap_err();
    let Error::NotFound { context, missing: Missing::Program(p) } = &e else { panic!("{e:?}") };
    assert_eq!(p, "no_such_prog");
    assert_eq!(e.to_string(), format!("{context}: no program 'no_such_prog'"));
    assert_eq!(e.kind(), ErrorKind::NotFound);

    let e = open.set_struct_ops_autocreate("no_such_map", false).unwrap_err();
    assert!(matches!(&e, Error::NotFound { missing: Missing::StructOpsMap(m), .. } if m == "no_such_map"), "{e:?}");
}

#[test]
fn a_global_of_another_size_is_invalid_input() {
    let mut open = open("loader_globals");
    let e = open.set_global("rodata_var", &[0u8; 8]).unwrap_err();
    let Error::Global { name, problem: GlobalProblem::Size { section, size, given }, .. } = &e else { panic!("{e:?}") };
    assert_eq!((name.as_str(), section.as_deref(), *size, *given), ("rodata_var", Some(".rodata"), 4, 8));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().ends_with(": global variable 'rodata_var' in '.rodata' is 4 bytes, not 8"), "{e}");
}

#[test]
fn a_program_that_failed_to_load_gives_its_load_error_as_source() {
    if !require_kernel() {
        return;
    }
    let obj = open("loader_reject").load_with(&keep_going()).unwrap();
    let e = obj.program("bad_packet_read").unwrap().fd().unwrap_err();
    let Error::NotLoaded { program, reason: NotLoadedReason::Failed(load) } = &e else { panic!("{e:?}") };
    assert_eq!(program, "bad_packet_read");
    assert_eq!(e.to_string(), format!("program 'bad_packet_read' is not loaded: {}", load.short_reason()));
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let source = e.source().and_then(|s| s.downcast_ref::<ProgramLoadError>()).expect("the load error as source");
    assert_eq!(source.program, "bad_packet_read");
    assert!(source.short_reason().contains("outside of the packet"), "{source}");
}

#[test]
fn attach_arguments_that_cannot_be_right() {
    if !require_kernel() {
        return;
    }
    let obj = open("loader_perf_attach").load_with(&keep_going()).unwrap();
    let kprobe = obj.program("count_explicit_kprobe").unwrap();

    // A uprobe on a binary that does not exist: the io::Error of opening it.
    let e = kprobe.attach_uprobe("/nonexistent/bpfld-no-binary", "main", false).unwrap_err();
    assert!(matches!(&e, Error::Symbol { .. }), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::NotFound);
    let symbol = e.source().and_then(|s| s.downcast_ref::<bpfld::elf_symbols::SymbolError>()).expect("SymbolError source");
    let io = symbol.source().and_then(|s| s.downcast_ref::<std::io::Error>()).expect("io::Error source");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert!(e.to_string().starts_with("program 'count_explicit_kprobe': uprobe '/nonexistent/bpfld-no-binary:main': elf: failed to open"));

    // A return probe does not take an offset.
    let e = kprobe.attach_kprobe_with("__x64_sys_getpgid", &ProbeOpts { retprobe: true, offset: 4, ..Default::default() }).unwrap_err();
    let Error::InvalidArgument { context: Some(_), problem } = &e else { panic!("{e:?}") };
    assert_eq!((problem, problem.argument()), (&InvalidArgument::RetprobeOffset { probes: "kretprobes" }, "offset"));
    assert!(e.to_string().ends_with(": kretprobes do not support offset specification"), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidInput);

    // A tracepoint name with a '/'.
    let e = kprobe.attach_tracepoint("syscalls/x", "sys_enter_getpgid").unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument { problem: InvalidArgument::TracepointName, .. }), "{e:?}");

    // `SEC("kprobe")` names no function: no automatic attach, which the
    // CLI tells apart from a failure by the variant.
    let e = kprobe.attach().unwrap_err();
    let Error::NoAutoAttach { program, section, reason: NoAutoAttach::NoTarget { instead } } = &e else { panic!("{e:?}") };
    assert_eq!((program.as_str(), section.as_str(), *instead), ("count_explicit_kprobe", "kprobe", "attach_kprobe(func, retprobe)"));
    assert_eq!(e.to_string(), "program 'count_explicit_kprobe': section 'kprobe' names no target: use attach_kprobe(func, retprobe)");
}
