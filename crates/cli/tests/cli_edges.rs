//! The command line's edges, through the built binary: a closed pipe, bad
//! files and arguments, what each error says, help for every argument, and
//! the README's synopsis against `--help`.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use bpfld_testdata::test_object;

/// A fresh directory for one test, removed when dropped.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(name: &str) -> TmpDir {
        let p = std::env::temp_dir().join(format!("bpfld-cli-edges-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TmpDir(p)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn bpfld(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_bpfld")).args(args).output().expect("run bpfld");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn obj(name: &str) -> String {
    test_object(name).to_str().unwrap().to_string()
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let vmlinux = "/sys/kernel/btf/vmlinux";
    let maps = obj("loader_maps");
    let commands: Vec<Vec<&str>> = vec![
        vec!["btf", "dump", vmlinux],
        vec!["btf", "dump", vmlinux, "--json"],
        vec!["btf", "find", vmlinux, "task_struct"],
        vec!["plan", &maps],
        vec!["plan", &maps, "--json"],
        vec!["check", &maps, "-k", vmlinux],
        vec!["load", &maps],
    ];
    for args in commands {
        let mut child =
            Command::new(env!("CARGO_BIN_EXE_bpfld")).args(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Whoever reads the output stops at once (as `| head -0` would).
        drop(child.stdout.take());
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{args:?}: {stderr}");
        assert!(status.success() || status.signal() == Some(13), "{args:?}: {status:?}: {stderr}");
    }
}

#[test]
fn errors_name_the_file_path() {
    let tmp = TmpDir::new("paths");
    // A long file name: the object's name is its first 15 characters.
    let long = tmp.0.join("kfunc_required_unmet.bpf.o");
    std::fs::copy(test_object("kfunc_required_unmet"), &long).unwrap();
    let r = bpfld(&["plan", long.to_str().unwrap(), "--btf", "/sys/kernel/btf/vmlinux"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with(&format!("bpfld: {}: ", long.display())), "{}", r.stderr);

    let r = bpfld(&["plan", "/bin/ls"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("bpfld: /bin/ls: not a BPF object (ELF machine"), "{}", r.stderr);
}

#[test]
fn empty_and_truncated_files_say_what_is_wrong() {
    let tmp = TmpDir::new("truncated");
    let whole = std::fs::read(test_object("loader_maps")).unwrap();
    let cut = tmp.0.join("cut.bpf.o");
    std::fs::write(&cut, &whole[..1000]).unwrap();
    let r = bpfld(&["plan", cut.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    let prefix = format!("bpfld: {}: truncated: section header table at 0x", cut.display());
    assert!(r.stderr.starts_with(&prefix), "{}", r.stderr);
    assert!(r.stderr.trim_end().ends_with("runs past the end of the 1000-byte file"), "{}", r.stderr);

    let empty = tmp.0.join("empty.bpf.o");
    std::fs::write(&empty, b"").unwrap();
    let r = bpfld(&["check", empty.to_str().unwrap(), "-k", "/sys/kernel/btf/vmlinux"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.trim_end(), format!("bpfld: {}: empty file (0 bytes), not an ELF object", empty.display()));
    assert!(r.stdout.is_empty());
}

#[test]
fn extract_creates_no_directory_nobody_asked_for() {
    let tmp = TmpDir::new("extract");
    let missing = tmp.0.join("no/such/dir");
    let out = missing.join("x.btf");
    let r = bpfld(&["btf", "extract", &obj("loader_maps"), "-o", out.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stderr.trim_end(), format!("bpfld: -o {}: directory {} does not exist", out.display(), missing.display()));
    assert!(!tmp.0.join("no").exists());
    // The same for a Debian package's release directory.
    let deb = tmp.0.join("fake.deb");
    std::fs::write(&deb, b"!<arch>\ndebian-binary   ").unwrap();
    let r = bpfld(&["btf", "extract", deb.to_str().unwrap(), "-o", missing.join("6.1").to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(!tmp.0.join("no").exists());
}

#[test]
fn load_checks_its_paths_before_anything() {
    let tmp = TmpDir::new("load-paths");
    let missing = tmp.0.join("nonexistent");
    let r = bpfld(&["load", &obj("loader_pinned"), "--pin-root", missing.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with(&format!("bpfld: --pin-root {}: No such file or directory", missing.display())), "{}", r.stderr);
    assert!(!missing.exists(), "the pin root was created");
    assert!(r.stdout.is_empty());

    let r = bpfld(&["load", &obj("loader_pinned"), "--pin-root", tmp.0.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not on a BPF file system (bpffs)"), "{}", r.stderr);
    assert_eq!(std::fs::read_dir(&tmp.0).unwrap().count(), 0, "nothing created in a directory off bpffs");

    // --kconfig of a missing file is an error even if no extern needs it.
    let r = bpfld(&["load", &obj("loader_maps"), "--kconfig", missing.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with(&format!("bpfld: --kconfig {}: No such file", missing.display())), "{}", r.stderr);

    let r = bpfld(&["load", &obj("loader_maps"), "--log-level", "9"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("invalid value '9' for '--log-level"), "{}", r.stderr);
    assert!(r.stderr.contains("not in 0..=7"), "{}", r.stderr);
}

#[test]
fn btf_find_says_what_it_did_not_find() {
    let vmlinux = "/sys/kernel/btf/vmlinux";
    let r = bpfld(&["btf", "find", vmlinux, "no_such_type_anywhere"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert_eq!(r.stderr.trim_end(), format!("bpfld: {vmlinux}: no type named no_such_type_anywhere"));
    let r = bpfld(&["btf", "find", vmlinux, "task_struct", "--kind", "typedef"]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("no type named task_struct of kind typedef"), "{}", r.stderr);

    let r = bpfld(&["btf", "find", vmlinux, "task_struct", "--kind", "bogus"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("unknown BTF kind 'bogus' (valid kinds: int, ptr, array, struct, union, enum, fwd,"), "{}", r.stderr);
}

#[test]
fn split_btf_without_a_base_asks_for_one() {
    let tmp = TmpDir::new("split");
    // A module's split BTF continues its base's strings: its own string
    // section does not start with the empty string a base's does.
    let strings = b"tcp_bbr\0";
    let mut blob = Vec::new();
    blob.extend_from_slice(&0xeb9fu16.to_le_bytes());
    blob.extend_from_slice(&[1, 0]);
    for v in [24u32, 0, 0, 0, strings.len() as u32] {
        blob.extend_from_slice(&v.to_le_bytes());
    }
    blob.extend_from_slice(strings);
    let file = tmp.0.join("tcp_bbr.btf");
    std::fs::write(&file, &blob).unwrap();
    let r = bpfld(&["btf", "dump", file.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("looks like a module's split BTF: give its base with --base"), "{}", r.stderr);
}

#[test]
fn btf_commands_read_an_objects_btf_section() {
    let r = bpfld(&["btf", "dump", &obj("loader_maps")]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("DATASEC '.maps'"), "{}", r.stdout);
    let r = bpfld(&["btf", "find", &obj("loader_maps"), ".maps", "--kind", "datasec"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with('[') && r.stdout.contains("DATASEC '.maps'"), "{}", r.stdout);
}

#[test]
fn attach_types_the_kernel_ignores_print_as_none() {
    let r = bpfld(&["plan", &obj("loader_attach"), "--json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let attach = |name: &str| {
        let p = v["programs"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap();
        p["expected_attach_type"].as_str().unwrap().to_string()
    };
    assert_eq!(attach("count_raw_tp"), "none");
    assert_eq!(attach("count_xdp"), "XDP");
    assert_eq!(attach("count_tp_btf"), "TRACE_RAW_TP");
    let text = bpfld(&["plan", &obj("loader_attach")]).stdout;
    assert!(text.contains("program count_raw_tp (section raw_tp/sys_enter, "), "{text}");
    assert!(text.contains("  type RAW_TRACEPOINT, expected attach type none\n"), "{text}");
}

#[test]
fn permission_errors_say_what_is_needed() {
    if !Path::new("/usr/bin/setpriv").exists() || !nix_root() {
        bpfld_testdata::skip::<()>("setpriv (util-linux) and root are needed to run bpfld as an unprivileged user");
        return;
    }
    let tmp = TmpDir::new("eperm");
    std::fs::set_permissions(&tmp.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let o = tmp.0.join("loader_attach.bpf.o");
    std::fs::copy(test_object("loader_attach"), &o).unwrap();
    std::fs::set_permissions(&o, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = Command::new("/usr/bin/setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", env!("CARGO_BIN_EXE_bpfld"), "load"])
        .arg(&o)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    assert!(
        stderr.contains("loading needs root, or CAP_BPF + CAP_NET_ADMIN + CAP_PERFMON for the program types of this object"),
        "{stderr}"
    );
}

/// Whether this process runs as root (as the kernel tests do).
fn nix_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .is_some_and(|uids| uids.split_whitespace().next() == Some("0"))
}

/// Every subcommand's `--help`, by the words that name it.
const COMMANDS: [&[&str]; 11] = [
    &["load"],
    &["plan"],
    &["check"],
    &["features"],
    &["run"],
    &["btf", "dump"],
    &["btf", "find"],
    &["btf", "extract"],
    &["btf", "min"],
    &["btf", "index"],
    &["gen", "skeleton"],
];

fn help(cmd: &[&str]) -> String {
    let mut args = cmd.to_vec();
    args.push("--help");
    let r = bpfld(&args);
    assert_eq!(r.code, 0, "{cmd:?}: {}", r.stderr);
    r.stdout
}

#[test]
fn every_argument_has_help() {
    for cmd in COMMANDS {
        let text = help(cmd);
        let lines: Vec<&str> = text.lines().collect();
        for (i, l) in lines.iter().enumerate() {
            let t = l.trim_start();
            if !(l.starts_with("  ") && (t.starts_with('-') || t.starts_with('<'))) {
                continue;
            }
            // Help is on the same line after the argument, or on the next,
            // indented further.
            let same_line = t.split_once("  ").is_some_and(|(_, rest)| !rest.trim().is_empty());
            let next_line = lines.get(i + 1).is_some_and(|n| n.len() - n.trim_start().len() > l.len() - t.len() && !n.trim().is_empty());
            assert!(same_line || next_line, "{cmd:?}: no help for '{}'", t);
        }
    }
}

#[test]
fn the_readme_synopsis_matches_help() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    for cmd in COMMANDS {
        let prefix = format!("bpfld {}", cmd.join(" "));
        let line = readme
            .lines()
            .find(|l| l.starts_with(&prefix) && l[prefix.len()..].starts_with(' '))
            .unwrap_or_else(|| panic!("README has no synopsis line for '{prefix}'"));
        let text = help(cmd);
        let options = &text[text.find("Options:").unwrap()..];
        for word in options.split_whitespace() {
            let Some(opt) = word.strip_prefix("--") else { continue };
            let opt: String = opt.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if opt.is_empty() || opt == "help" {
                continue;
            }
            assert!(line.contains(&format!("--{opt}")), "README's '{prefix}' misses --{opt}: {line}");
        }
    }
}
