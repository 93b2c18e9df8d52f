//! `bpfld btf dump --format c` against bpftool and clang: the header of
//! every kernel in shared/btf, the running kernel, a module on its base and
//! every test object is bpftool's (7.1, libbpf 1.1: it writes no enum size
//! attributes, see `as_libbpf_1_1`), and compiles for the BPF target
//! together with a `_Static_assert` of the size of every struct and union
//! and of the offset of every member that is not a bitfield.

mod common;

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use bpfld_btf::c_header::{CDumper, HEADER_EPILOGUE, HEADER_PROLOGUE};
use bpfld_btf::{Btf, Kind};
use common::{kernel_btf_dir, load, load_split};

const HOST_VMLINUX: &str = "/sys/kernel/btf/vmlinux";

fn clang() -> Option<String> {
    let clang = std::env::var("CLANG").unwrap_or_else(|_| "clang-19".to_string());
    match Command::new(&clang).arg("--version").output() {
        Ok(o) if o.status.success() => Some(clang),
        _ => bpfld_testdata::skip(&format!("{clang} not found")),
    }
}

/// Whether our line is bpftool 7.1's plus what libbpf 1.1 (its library)
/// leaves out and the layout needs: `mode(byte)` on one-byte enums
/// (libbpf 1.2 added it) and `packed` on packed unions (no libbpf has it).
/// Our `mode(HI)` on two-byte enums, union size padding and
/// `btf_decl_tag` attributes are beyond any libbpf too, and appear in no
/// kernel's header but in some objects'.
fn differs_only_by_layout_attributes(ours: &str, theirs: &str) -> bool {
    ours.replace(" __attribute__((mode(byte)))", "").replace(" __attribute__((packed))", "") == theirs
}
fn is_padding(line: &str) -> bool {
    let body = line.trim_start_matches('\t');
    ["long: ", "int: ", "short: ", "char: "]
        .iter()
        .any(|p| body.strip_prefix(p).is_some_and(|n| n.trim_end_matches(';').parse::<u32>().is_ok()))
}

fn bpftool_c(file: &Path, base: Option<&Path>) -> Option<String> {
    let mut cmd = Command::new(common::bpftool()?);
    if let Some(b) = base {
        cmd.arg("-B").arg(b);
    }
    let out = cmd.args(["btf", "dump", "file"]).arg(file).args(["format", "c"]).output().expect("run bpftool");
    assert!(out.status.success(), "bpftool on {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    Some(String::from_utf8(out.stdout).expect("bpftool output is UTF-8"))
}

fn header_and_dumper(btf: &Btf) -> (String, CDumper<'_>) {
    let mut d = CDumper::new(btf).expect("dumper");
    d.dump_all().unwrap_or_else(|e| panic!("dump: {e}"));
    (format!("{HEADER_PROLOGUE}{}{HEADER_EPILOGUE}", d.output()), d)
}

fn assert_same_as_bpftool(what: &str, btf: &Btf, file: &Path, base: Option<&Path>) -> bool {
    let Some(theirs) = bpftool_c(file, base) else { return false };
    let (ours, _) = header_and_dumper(btf);
    let (o, t): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    let (mut i, mut j, mut attributes, mut union_pads) = (0, 0, 0, 0);
    while i < o.len() && j < t.len() {
        let (a, b) = (o[i], t[j]);
        if a == b {
        } else if differs_only_by_layout_attributes(a, b) {
            attributes += 1;
        } else if is_padding(a) {
            // Size padding of a union bpftool leaves too small.
            union_pads += 1;
            i += 1;
            continue;
        } else {
            let ctx = |v: &[&str], k: usize| v[k.saturating_sub(3)..(k + 3).min(v.len())].join("\n");
            panic!("{what}: header differs from bpftool's at line {}:\nbpfld:\n{}\nbpftool:\n{}", i + 1, ctx(&o, i), ctx(&t, j));
        }
        i += 1;
        j += 1;
    }
    assert!(i == o.len() && j == t.len(), "{what}: {} lines, bpftool {}", o.len(), t.len());
    eprintln!("{what}: bpftool's header line for line but for {attributes} layout attributes and {union_pads} union size paddings");
    true
}

#[test]
fn kernel_headers_are_bpftools() {
    let Some(dir) = kernel_btf_dir() else { return };
    for (rel, path, modules) in common::kernels(&dir) {
        let btf = load(&path);
        assert_same_as_bpftool(&rel, &btf, &path, None);
        // Every module of the release, on its base.
        for m in std::fs::read_dir(&modules).into_iter().flatten().filter_map(|e| e.ok()).map(|e| e.path()) {
            if m.extension().is_some_and(|e| e == "btf") {
                let split = load_split(&m, &btf);
                assert_same_as_bpftool(&format!("{rel} {}", m.display()), &split, &m, Some(&path));
            }
        }
    }
    let host = load(Path::new(HOST_VMLINUX));
    assert_same_as_bpftool("running kernel", &host, Path::new(HOST_VMLINUX), None);
}

#[test]
fn object_headers_are_bpftools() {
    for name in bpfld_testdata::test_object_names() {
        let path = bpfld_testdata::test_object(&name);
        let bytes = std::fs::read(&path).expect("read object");
        let found = bpfld_extract_btf(&path, &bytes);
        let btf = Btf::from_vec(found).expect("object BTF");
        assert_same_as_bpftool(&name, &btf, &path, None);
    }
}

/// The `.BTF` section of an object, found by hand (the BTF crate has no
/// ELF dependency).
fn bpfld_extract_btf(path: &Path, bytes: &[u8]) -> Vec<u8> {
    let rd = |off: usize, n: usize| -> u64 { (0..n).rev().fold(0u64, |acc, i| acc << 8 | bytes[off + i] as u64) };
    let (shoff, shentsize, shnum, shstrndx) = (rd(0x28, 8) as usize, rd(0x3a, 2) as usize, rd(0x3c, 2) as usize, rd(0x3e, 2) as usize);
    let sh = |i: usize| shoff + i * shentsize;
    let strtab = rd(sh(shstrndx) + 0x18, 8) as usize;
    for i in 0..shnum {
        let name_off = rd(sh(i), 4) as usize;
        let name = &bytes[strtab + name_off..];
        if name.starts_with(b".BTF\0") {
            let (off, size) = (rd(sh(i) + 0x18, 8) as usize, rd(sh(i) + 0x20, 8) as usize);
            return bytes[off..off + size].to_vec();
        }
    }
    panic!("{}: no .BTF", path.display())
}

/// `_Static_assert`s of every struct's and union's size and of every
/// non-bitfield member's offset (through anonymous members and the inline
/// anonymous types of named ones), under the names the header gave them.
/// Returns the asserts and how many bitfield members were skipped
/// (`offsetof` cannot take a bitfield; their layout is still pinned by the
/// offsets and sizes around them).
fn layout_asserts(btf: &Btf, d: &CDumper) -> (String, usize, usize) {
    let mut out = String::from("#include \"vmlinux.h\"\n#define CHECK(c) _Static_assert(c, #c)\n");
    let (mut asserts, mut bitfields) = (0, 0);
    let mut va_list_memo = vec![None; btf.type_count() as usize];
    for t in btf.all_types() {
        // `__builtin_va_list` is the compiler's: 24 bytes in the x86 BTF,
        // 8 for the BPF target. Types embedding it cannot keep their size
        // there, with bpftool's header as with ours.
        if embeds_va_list(btf, t.id(), &mut va_list_memo) {
            continue;
        }
        let c_type = match t.kind() {
            Kind::Struct | Kind::Union if t.name_off() != 0 => match d.emitted_name(t.id()) {
                Some(n) => format!("{} {n}", if t.kind() == Kind::Struct { "struct" } else { "union" }),
                None => continue,
            },
            Kind::Typedef => {
                let target = btf.type_by_id(t.raw_size_or_type());
                match (target, d.emitted_name(t.id())) {
                    (Ok(x), Some(n)) if x.kind().is_composite() && x.name_off() == 0 => n.to_string(),
                    _ => continue,
                }
            }
            _ => continue,
        };
        let id = if t.kind() == Kind::Typedef { t.raw_size_or_type() } else { t.id() };
        let size = btf.type_by_id(id).unwrap().raw_size_or_type();
        let _ = writeln!(out, "CHECK(sizeof({c_type}) == {size});");
        asserts += 1;
        member_asserts(btf, &c_type, id, "", 0, &mut out, &mut asserts, &mut bitfields);
    }
    (out, asserts, bitfields)
}

fn embeds_va_list(btf: &Btf, id: u32, memo: &mut Vec<Option<bool>>) -> bool {
    if id == 0 {
        return false;
    }
    if let Some(v) = memo[id as usize] {
        return v;
    }
    memo[id as usize] = Some(false);
    let t = btf.type_by_id(id).unwrap();
    let v = match t.kind() {
        Kind::Typedef if t.name().unwrap() == "__builtin_va_list" => true,
        Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag => embeds_va_list(btf, t.raw_size_or_type(), memo),
        Kind::Array => embeds_va_list(btf, t.array().unwrap().elem_type, memo),
        Kind::Struct | Kind::Union => t.members().any(|m| embeds_va_list(btf, m.type_id, memo)),
        _ => false,
    };
    memo[id as usize] = Some(v);
    v
}

#[allow(clippy::too_many_arguments)]
fn member_asserts(btf: &Btf, c_type: &str, id: u32, prefix: &str, base: u32, out: &mut String, asserts: &mut usize, bitfields: &mut usize) {
    let t = btf.type_by_id(id).unwrap();
    for m in t.members() {
        if m.bitfield_size != 0 {
            *bitfields += 1;
            continue;
        }
        let name = t.str(m.name_off).unwrap();
        let off = base + m.bit_offset / 8;
        let mt = btf.type_by_id(m.type_id).ok();
        let anon_composite = mt.is_some_and(|x| x.kind().is_composite() && x.name_off() == 0);
        if name.is_empty() {
            if anon_composite {
                member_asserts(btf, c_type, m.type_id, prefix, off, out, asserts, bitfields);
            }
            continue;
        }
        let _ = writeln!(out, "CHECK(__builtin_offsetof({c_type}, {prefix}{name}) == {off});");
        *asserts += 1;
        if anon_composite {
            member_asserts(btf, c_type, m.type_id, &format!("{prefix}{name}."), off, out, asserts, bitfields);
        }
    }
}

struct Job {
    what: String,
    dir: PathBuf,
}

/// Writes `vmlinux.h` and `layout.c` for `btf` into a scratch directory.
fn prepare(what: &str, btf: &Btf) -> (Job, usize, usize) {
    let dir = std::env::temp_dir().join(format!("bpfld-c-header-{}-{}", std::process::id(), what.replace(['/', ' '], "_")));
    std::fs::create_dir_all(&dir).unwrap();
    let (header, d) = header_and_dumper(btf);
    let (asserts, n, bitfields) = layout_asserts(btf, &d);
    std::fs::write(dir.join("vmlinux.h"), header).unwrap();
    std::fs::write(dir.join("layout.c"), asserts).unwrap();
    (Job { what: what.to_string(), dir }, n, bitfields)
}

/// Runs clang on the jobs, two at a time (the machine has two cores).
fn compile_all(clang: &str, jobs: Vec<Job>) {
    for pair in jobs.chunks(2) {
        let children: Vec<_> = pair
            .iter()
            .map(|j| {
                let child = Command::new(clang)
                    .args(["-fsyntax-only", "-target", "bpf", "-Wall", "-Werror", "-ferror-limit=0"])
                    .arg(j.dir.join("layout.c"))
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("spawn clang");
                (j, child)
            })
            .collect();
        for (j, child) in children {
            let out = child.wait_with_output().unwrap();
            assert!(out.status.success(), "{}: header or layout check fails to compile:\n{}", j.what, String::from_utf8_lossy(&out.stderr));
            let _ = std::fs::remove_dir_all(&j.dir);
        }
    }
}

#[test]
fn kernel_headers_compile_and_keep_every_layout() {
    let Some(clang) = clang() else { return };
    let Some(dir) = kernel_btf_dir() else { return };
    let mut jobs = Vec::new();
    let mut kernels: Vec<(String, Btf)> = common::kernels(&dir).into_iter().map(|(rel, path, _)| (rel, load(&path))).collect();
    kernels.push(("host".to_string(), load(Path::new(HOST_VMLINUX))));
    for (rel, btf) in &kernels {
        let (job, asserts, bitfields) = prepare(rel, btf);
        eprintln!("{rel}: {asserts} size/offset asserts, {bitfields} bitfield members skipped (offsetof cannot take them)");
        assert!(asserts > 50_000, "{rel}: only {asserts} asserts");
        jobs.push(job);
    }
    // A module's split BTF: its header holds the base types too.
    let k612 = &kernels[1].1;
    let m = dir.join("6.12.117+deb12-amd64/modules/nf_conntrack.btf");
    let (job, _, _) = prepare("nf_conntrack", &load_split(&m, k612));
    jobs.push(job);
    compile_all(&clang, jobs);
}

#[test]
fn unusual_types_round_trip_through_clang() {
    let Some(clang) = clang() else { return };
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/c_header_types.c");
    let dir = std::env::temp_dir().join(format!("bpfld-c-header-types-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let obj = dir.join("types.o");
    let st = Command::new(&clang).args(["-g", "-O2", "-target", "bpf", "-c"]).arg(&src).arg("-o").arg(&obj).status().unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&obj).unwrap();
    let btf = Btf::from_vec(bpfld_extract_btf(&obj, &bytes)).unwrap();
    let (job, asserts, bitfields) = prepare("types", &btf);
    let header = std::fs::read_to_string(job.dir.join("vmlinux.h")).unwrap();
    for want in [
        "} __attribute__((packed));",
        "} __attribute__((mode(byte)));",
        "} __attribute__((mode(HI)));",
        "BIG_B = 4886718345ULL,",
        "NEG_A = -5,",
        "unsigned long long d: 40;",
        "int tagged_member __attribute__((btf_decl_tag(\"user_tag\")));",
        "} __attribute__((btf_decl_tag(\"struct_tag\")));",
        "int __attribute__((btf_type_tag(\"user\"))) *tagged_ptr;",
        "int matrix[3][4];",
        "void (* (*signal_like)(int, void (*)(int)))(int);",
        "int (*array_of_fp[2])(struct list *);",
        "typedef int (*handler_t)(void *, const char *, ...);",
        "struct cyc_b;\n",
    ] {
        assert!(header.contains(want), "header lacks {want:?}:\n{header}");
    }
    assert!(asserts >= 40 && bitfields == 5, "{asserts} asserts, {bitfields} bitfields");
    compile_all(&clang, vec![job]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn one_type_and_what_it_needs() {
    let Some(dir) = kernel_btf_dir() else { return };
    let btf = load(&dir.join("6.12.117+deb12-amd64.btf"));
    let roots = bpfld_btf::c_header::roots_named(&btf, "bpf_sock_ops").unwrap();
    let text = bpfld_btf::c_header(&btf, Some(&roots)).unwrap();
    assert!(text.contains("struct bpf_sock_ops {") && text.starts_with(HEADER_PROLOGUE) && text.ends_with(HEADER_EPILOGUE));
    // Only what the struct needs: a few types, not the kernel.
    assert!(text.len() < 8_000, "{} bytes", text.len());
    // A function's prototype types.
    let roots = bpfld_btf::c_header::roots_named(&btf, "tcp_sendmsg").unwrap();
    let text = bpfld_btf::c_header(&btf, Some(&roots)).unwrap();
    assert!(text.contains("struct sock {") && text.contains("struct msghdr {"));
    assert!(bpfld_btf::c_header::roots_named(&btf, "no_such_type_anywhere").unwrap().is_empty());
}
