//! `bpfld run` on the real kernel: records printed as they arrive (ring
//! buffer and perf buffer, the latter with its CPU), maps dumped at the
//! end with BTF-decoded forms and one value per possible CPU for per-CPU
//! maps, global data left out; stops on --duration and on Ctrl-C with exit
//! status 0.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The tests of this file count this process's getppid() calls: one at a
/// time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn kernel() -> bool {
    bpfld_testdata::require_kernel()
}

/// Starts `bpfld run` and returns once it says it is running.
fn start(extra: &[&str]) -> Child {
    start_object("run_demo", extra)
}

/// [`start`] with test object `name`.
fn start_object(name: &str, extra: &[&str]) -> Child {
    let obj = bpfld_testdata::test_object(name);
    let mut child = Command::new(env!("CARGO_BIN_EXE_bpfld"))
        .arg("run")
        .arg(&obj)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let t0 = Instant::now();
    let mut line = String::new();
    while t0.elapsed() < Duration::from_secs(20) {
        line.clear();
        if err.read_line(&mut line).unwrap() == 0 {
            let _ = child.wait();
            panic!("bpfld run exited before running");
        }
        if line.contains("running") {
            // Keep draining stderr so that bpfld never blocks on it.
            std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
            return child;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("bpfld run did not start");
}

fn getppid_times(n: usize) {
    for _ in 0..n {
        // SAFETY: no preconditions.
        unsafe { libc::getppid() };
    }
}

fn lines(child: Child) -> (Vec<Value>, bool) {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    (text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect(), out.status.success())
}

fn my_event_hex() -> String {
    let mut b = std::process::id().to_le_bytes().to_vec();
    b.extend_from_slice(&0xabcdu32.to_le_bytes());
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn run_prints_records_then_decoded_maps() {
    if !kernel() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let child = start(&["--duration", "3", "--json"]);
    getppid_times(5);
    let (v, ok) = lines(child);
    assert!(ok, "exit status");
    let mine = my_event_hex();
    let ring: Vec<&Value> = v.iter().filter(|l| l["map"] == "events" && l["data"] == mine.as_str()).collect();
    let perf: Vec<&Value> =
        v.iter().filter(|l| l["map"] == "perf_events" && l["data"].as_str().is_some_and(|d| d.starts_with(&mine))).collect();
    assert_eq!(ring.len(), 5, "ring buffer records of this process");
    assert_eq!(perf.len(), 5, "perf buffer records of this process");
    assert!(ring.iter().all(|l| l.get("cpu").is_none()) && perf.iter().all(|l| l["cpu"].is_u64()));
    let counts = v.iter().find(|l| l["map"] == "counts").expect("counts dumped");
    let pid_hex: String = std::process::id().to_le_bytes().iter().map(|x| format!("{x:02x}")).collect();
    let e = counts["entries"].as_array().unwrap().iter().find(|e| e["key"] == pid_hex.as_str()).expect("this process counted");
    assert_eq!(e["formatted"]["key"], std::process::id());
    assert_eq!(e["formatted"]["value"]["calls"], 5);
    assert!(e["value"].as_str().unwrap().starts_with("0500000000000000"));
    let per_cpu = v.iter().find(|l| l["map"] == "per_cpu").expect("per_cpu dumped");
    let cpus = bpfld_sys::possible_cpus().unwrap();
    assert_eq!(per_cpu["entries"][0]["values"].as_array().unwrap().len(), cpus);
    assert_eq!(per_cpu["entries"][0]["formatted"]["values"].as_array().unwrap().len(), cpus);
    assert!(v.iter().all(|l| l["map"] != ".bss" && l["map"] != "run_demo.bss"), "global data is not dumped");
    // Records come before the dump.
    let last_record = v.iter().rposition(|l| l.get("data").is_some()).unwrap();
    let first_dump = v.iter().position(|l| l.get("entries").is_some()).unwrap();
    assert!(last_record < first_dump);
}

#[test]
fn run_stops_on_ctrl_c_and_still_dumps() {
    if !kernel() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let child = start(&["--json"]);
    getppid_times(3);
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: kill of our own child with SIGINT.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGINT) }, 0);
    let t0 = Instant::now();
    let (v, ok) = lines(child);
    assert!(t0.elapsed() < Duration::from_secs(10), "stopped promptly");
    assert!(ok, "exit status 0 after Ctrl-C");
    assert!(v.iter().any(|l| l["map"] == "counts"), "maps dumped after Ctrl-C");
}

#[test]
fn run_text_output_and_bad_object() {
    if !kernel() {
        return;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let child = start(&["--duration", "1"]);
    getppid_times(2);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(&format!("events: 8 bytes: {}", my_event_hex())), "{text}");
    assert!(text.contains("map counts: ") && text.contains("\"calls\":"), "{text}");
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args(["run", "/nonexistent.o"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent.o"));
}

/// USDT sections attach through `bpfld run`, with and without
/// `--single-uprobes`; the spec of the probe's arguments is in the dump.
#[test]
fn run_attaches_usdt_sections() {
    if !kernel() {
        return;
    }
    let target = bpfld_testdata::install_usdt_section_target();
    for flag in [None, Some("--single-uprobes")] {
        let mut extra = vec!["--duration", "2", "--json"];
        extra.extend(flag);
        let run = start_object("usdt_probes", &extra);
        let mut t = Command::new(target).arg("5").stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
        std::io::Write::write_all(&mut t.stdin.take().unwrap(), b"go\n").unwrap();
        assert!(t.wait().unwrap().success());
        let (v, ok) = lines(run);
        assert!(ok, "exit status with {flag:?}");
        let specs = v.iter().find(|l| l["map"] == "__bpf_usdt_specs").expect("specs dumped");
        let spec = &specs["entries"][0]["formatted"]["value"];
        // bpfld:args is "-4@%ebx -8@%rax -1@%dl -4@$5".
        assert_eq!(spec["arg_cnt"], 4, "{spec}");
        assert_eq!(spec["args"][0]["reg_off"], 40, "rbx's pt_regs offset: {spec}");
        assert_eq!(spec["args"][3]["val_off"], 5, "{spec}");
    }
}
