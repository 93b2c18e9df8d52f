//! `plan --json` and `load --json` print a JSON error object on stdout for
//! an object that fails at open, and exit non-zero.

use std::process::Command;

#[test]
fn open_failures_are_json_on_stdout() {
    let dir = std::env::temp_dir().join(format!("bpfld-json-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.o");
    std::fs::write(&bad, b"not an ELF").unwrap();
    for cmd in ["plan", "load"] {
        let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args([cmd, "--json"]).arg(&bad).output().unwrap();
        assert!(!out.status.success(), "{cmd}");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{cmd}: stdout is not JSON: {e}"));
        assert!(v["error"].as_str().unwrap().contains("not an ELF file"), "{cmd}: {v}");
        assert_eq!(v["object"].as_str().unwrap(), bad.display().to_string());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
