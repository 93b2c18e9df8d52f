//! `libbpf_btf_find FILE NAME`: the libbpf 1.7 side of the whole-process
//! `btf find` benchmark (benches/btf.rs): `btf__parse` of FILE, then
//! `btf__find_by_name` of NAME; prints the type id. Exit 1 if there is no
//! such type, 2 if FILE does not parse. No C of its own: libbpf through
//! libbpf-sys (a dev-dependency, hence an example, not a binary).

use std::ffi::CString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, name] = args.as_slice() else {
        eprintln!("usage: libbpf_btf_find FILE NAME");
        return ExitCode::from(2);
    };
    let (file, name) = (CString::new(file.as_str()).unwrap(), CString::new(name.as_str()).unwrap());
    // SAFETY: both strings are NUL-terminated and outlive the calls; the
    // btf pointer is checked before use and freed once.
    unsafe {
        let btf = libbpf_sys::btf__parse(file.as_ptr(), std::ptr::null_mut());
        if btf.is_null() {
            eprintln!("libbpf_btf_find: btf__parse failed");
            return ExitCode::from(2);
        }
        let id = libbpf_sys::btf__find_by_name(btf, name.as_ptr());
        libbpf_sys::btf__free(btf);
        if id < 0 {
            return ExitCode::from(1);
        }
        println!("{id}");
    }
    ExitCode::SUCCESS
}
