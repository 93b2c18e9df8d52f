//! `arena_roundtrip OBJ`: the arena round trip of tests/bpf/arena_globals
//! on whatever kernel this runs on, for kernels the test host is not (the
//! kernel matrix runs it in its guests; this host refuses arena maps).
//!
//! Loads the object with `from_user` set to 21 before the load, then
//! prints one JSON object of what it saw: the `__arena` variables right
//! after the load (the initial values the loader copied in), after a test
//! run of `arena_update`, and after user space wrote `from_user` through
//! the mapping and ran it again. Exits 1 with `{"error": ...}` when the
//! object does not load or run. The caller judges the values.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use bpfld::{LoadedObject, OpenObject};
use serde_json::{json, Value};

/// The arena variables as user space reads them through the mapping.
fn snapshot(obj: &LoadedObject) -> Result<Value, bpfld::Error> {
    let greeting = obj.read_global("greeting")?;
    let text: Vec<u8> = greeting.into_iter().take_while(|&b| b != 0).collect();
    Ok(json!({
        "runs": obj.read_global_u64("runs")?,
        "from_user": obj.read_global_u64("from_user")?,
        "doubled": obj.read_global_u64("doubled")?,
        "greeting": String::from_utf8_lossy(&text),
    }))
}

/// One `BPF_PROG_TEST_RUN` of the syscall program; its return value.
fn run(obj: &LoadedObject) -> Result<u32, bpfld::Error> {
    Ok(obj.program("arena_update")?.test_run(&Default::default())?.retval)
}

fn roundtrip(path: &str) -> Result<Value, bpfld::Error> {
    let mut open = OpenObject::open(path)?;
    open.set_global("from_user", &21u64.to_ne_bytes())?;
    let mut obj = open.load()?;
    let arena = obj.arena().map(|a| json!({ "len": a.len(), "addr": a.addr() }));
    let loaded = snapshot(&obj)?;
    let retval = run(&obj)?;
    let after_run = snapshot(&obj)?;
    obj.write_global("from_user", &500u64.to_ne_bytes())?;
    let retval2 = run(&obj)?;
    let after_user_write = snapshot(&obj)?;
    Ok(json!({
        "arena": arena,
        "loaded": loaded,
        "retval": retval,
        "after_run": after_run,
        "retval_after_user_write": retval2,
        "after_user_write": after_user_write,
    }))
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: arena_roundtrip OBJ");
        return ExitCode::from(2);
    };
    match roundtrip(&path) {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", json!({ "error": e.to_string() }));
            ExitCode::FAILURE
        }
    }
}
