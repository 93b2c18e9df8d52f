//! `libbpf_load OBJ [--pin-root DIR]`: loads a BPF object with libbpf 1.7 and prints what
//! happened in the JSON shape of `bpfld load --json` (`object`, `programs`
//! with `name`, `section`, `loaded`, `disabled`, `error`, `verifier_log`;
//! or `error` alone when the object itself is refused), so that the kernel
//! matrix can put libbpf's verdict beside bpfld's on the same kernel.
//!
//! libbpf's `bpf_object__load` stops at the first program the kernel
//! refuses. For a verdict per program, a failed load is redone once per
//! autoloaded program with only that one; when none loads, once more with
//! none (a failure there refuses the object: maps, externs, BTF).
//!
//! Built as an example of this crate (libbpf-sys is a dev-dependency):
//! `cargo build --release -p bpfld-reference --example libbpf_load`.

use std::ffi::{c_char, c_int, CStr, CString};
use std::sync::{Mutex, OnceLock};

use serde_json::{json, Value};

/// libbpf's warnings of the current load, for the object's error.
static MESSAGES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Where maps pinned by name go (libbpf's default: /sys/fs/bpf).
static PIN_ROOT: OnceLock<CString> = OnceLock::new();

extern "C" {
    fn vsnprintf(buf: *mut c_char, size: usize, fmt: *const c_char, ap: *mut libbpf_sys::__va_list_tag) -> c_int;
}

unsafe extern "C" fn print(level: libbpf_sys::libbpf_print_level, fmt: *const c_char, ap: *mut libbpf_sys::__va_list_tag) -> c_int {
    if level != libbpf_sys::LIBBPF_WARN {
        return 0;
    }
    let mut buf = [0 as c_char; 1024];
    // SAFETY: fmt and ap are libbpf's own format and arguments; the buffer
    // is bounded and vsnprintf always terminates it.
    let n = unsafe { vsnprintf(buf.as_mut_ptr(), buf.len(), fmt, ap) };
    // SAFETY: terminated by vsnprintf.
    let s = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().trim_end().to_string();
    eprintln!("{s}");
    MESSAGES.lock().expect("not poisoned").push(s);
    n
}

struct Object(*mut libbpf_sys::bpf_object);

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: opened by bpf_object__open_file, closed once.
        unsafe { libbpf_sys::bpf_object__close(self.0) }
    }
}

struct Program {
    name: String,
    section: String,
    autoload: bool,
}

fn open(path: &CStr) -> Result<Object, String> {
    MESSAGES.lock().expect("not poisoned").clear();
    let opts = libbpf_sys::bpf_object_open_opts {
        sz: std::mem::size_of::<libbpf_sys::bpf_object_open_opts>() as libbpf_sys::size_t,
        pin_root_path: PIN_ROOT.get().map_or(std::ptr::null(), |p| p.as_ptr()),
        ..Default::default()
    };
    // SAFETY: a valid C string and options that outlive the call.
    let obj = unsafe { libbpf_sys::bpf_object__open_file(path.as_ptr(), &opts) };
    // SAFETY: libbpf_get_error accepts any pointer libbpf returned.
    let err = unsafe { libbpf_sys::libbpf_get_error(obj as *const _) };
    if obj.is_null() || err != 0 {
        return Err(failure("open", err as c_int));
    }
    Ok(Object(obj))
}

/// The programs in the object's order.
fn programs(obj: &Object) -> Vec<(*mut libbpf_sys::bpf_program, Program)> {
    let mut out = Vec::new();
    let mut p = std::ptr::null_mut();
    loop {
        // SAFETY: iterating the object's own programs.
        p = unsafe { libbpf_sys::bpf_object__next_program(obj.0, p) };
        if p.is_null() {
            return out;
        }
        // SAFETY: p is a program of obj; the strings live as long as obj.
        let (name, section, autoload) = unsafe {
            (
                CStr::from_ptr(libbpf_sys::bpf_program__name(p)).to_string_lossy().into_owned(),
                CStr::from_ptr(libbpf_sys::bpf_program__section_name(p)).to_string_lossy().into_owned(),
                libbpf_sys::bpf_program__autoload(p),
            )
        };
        out.push((p, Program { name, section, autoload }));
    }
}

/// libbpf's first warning (the cause; later ones say what it failed), or
/// the error code's description.
fn failure(what: &str, err: c_int) -> String {
    let first = MESSAGES.lock().expect("not poisoned").iter().find_map(|m| m.lines().find(|l| !l.trim().is_empty()).map(str::to_string));
    let code = std::io::Error::from_raw_os_error(err.abs());
    match first {
        Some(m) => format!("{what}: {code}: {}", m.trim_start_matches("libbpf: ")),
        None => format!("{what}: {code}"),
    }
}

/// Loads the object with only `only` autoloaded (`None`: as the object
/// says). Returns, per program name, whether it ended up with an fd (libbpf
/// itself turns off struct_ops programs no map uses), or the error and that
/// program's verifier log.
type Loaded = Vec<(String, bool)>;

fn load(path: &CStr, only: Option<&str>) -> Result<Loaded, (String, String)> {
    let obj = open(path).map_err(|e| (e, String::new()))?;
    let mut log = vec![0u8; 1 << 20];
    let progs = programs(&obj);
    for (p, prog) in &progs {
        if let Some(only) = only {
            // SAFETY: p belongs to obj, which is not loaded yet.
            unsafe { libbpf_sys::bpf_program__set_autoload(*p, prog.name == only) };
            if prog.name == only {
                // SAFETY: the buffer outlives the load (obj is dropped first).
                unsafe { libbpf_sys::bpf_program__set_log_buf(*p, log.as_mut_ptr().cast(), log.len() as u64) };
            }
        }
    }
    // SAFETY: obj is open and not loaded.
    let err = unsafe { libbpf_sys::bpf_object__load(obj.0) };
    // SAFETY: programs of the (loaded) object.
    let fds: Loaded = progs.iter().map(|(p, prog)| (prog.name.clone(), unsafe { libbpf_sys::bpf_program__fd(*p) } >= 0)).collect();
    drop(obj);
    if err == 0 {
        return Ok(fds);
    }
    let end = log.iter().position(|&b| b == 0).unwrap_or(log.len());
    Err((failure("load", err), String::from_utf8_lossy(&log[..end]).into_owned()))
}

fn report(path: &CStr, name: &str) -> (Value, bool) {
    let progs = match open(path) {
        Ok(obj) => programs(&obj).into_iter().map(|(_, p)| p).collect::<Vec<_>>(),
        Err(e) => return (json!({ "object": name, "error": e }), false),
    };
    let whole = load(path, None);
    let programs: Vec<Value> = progs
        .iter()
        .map(|p| {
            let (loaded, error, log) = match (&whole, p.autoload) {
                (_, false) => (false, None, None),
                (Ok(fds), true) => (fds.iter().any(|(n, ok)| n == &p.name && *ok), None, None),
                (Err(_), true) => match load(path, Some(&p.name)) {
                    Ok(_) => (true, None, None),
                    Err((e, log)) => (false, Some(e), Some(log)),
                },
            };
            // Autoloaded but left without an fd by libbpf itself: not autoloaded.
            let disabled = !p.autoload || (whole.is_ok() && !loaded);
            json!({ "name": p.name, "section": p.section, "loaded": loaded, "disabled": disabled, "error": error, "verifier_log": log })
        })
        .collect();
    if whole.is_err() && !programs.iter().any(|p| p["loaded"] == json!(true)) {
        // Maps, externs, BTF: a failure with no program loaded is the
        // object's (struct_ops maps load their programs regardless).
        if let Err((e, _)) = load(path, Some("")) {
            return (json!({ "object": name, "error": e }), false);
        }
    }
    (json!({ "object": name, "programs": programs }), whole.is_ok())
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (arg, pin_root) = match args.as_slice() {
        [obj] => (obj.clone(), None),
        [obj, flag, dir] if flag == "--pin-root" => (obj.clone(), Some(dir.clone())),
        _ => {
            eprintln!("usage: libbpf_load OBJ [--pin-root DIR]");
            return std::process::ExitCode::from(2);
        }
    };
    if let Some(dir) = pin_root {
        let _ = PIN_ROOT.set(CString::new(dir).expect("no NUL in arguments"));
    }
    // SAFETY: a plain function pointer with libbpf's signature.
    unsafe { libbpf_sys::libbpf_set_print(Some(print)) };
    let path = CString::new(arg.clone()).expect("no NUL in arguments");
    let name = std::path::Path::new(&arg).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or(arg);
    let (v, ok) = report(&path, &name);
    println!("{v}");
    std::process::ExitCode::from(if ok { 0 } else { 1 })
}
