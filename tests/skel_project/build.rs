//! Compiles src/bpf/*.bpf.c with bpfld-build, and writes the skeleton of
//! every committed test object (tests/bpf/obj) so that their layouts are
//! checked by the compiler against the objects' BTF.

use std::fmt::Write;
use std::path::PathBuf;

fn main() {
    bpfld_build::Builder::new().build().unwrap_or_else(|e| panic!("{e}"));

    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let objs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../bpf/obj");
    println!("cargo:rerun-if-changed={}", objs.display());
    let mut names: Vec<PathBuf> = std::fs::read_dir(&objs).expect("tests/bpf/obj").filter_map(|e| e.ok().map(|e| e.path())).collect();
    names.sort();
    let mut index = String::new();
    for path in names.iter().filter(|p| p.to_string_lossy().ends_with(".bpf.o")) {
        let name = path.file_name().unwrap().to_string_lossy().trim_end_matches(".bpf.o").to_string();
        let bytes = std::fs::read(path).expect("read object");
        // One embeds its bytes as a literal, as `bpfld gen skeleton` does.
        let embed =
            if name == "loader_globals" { bpfld_gen::Embed::Literal } else { bpfld_gen::Embed::IncludeBytes(path.canonicalize().unwrap()) };
        let opts = bpfld_gen::SkeletonOptions { name: None, embed };
        let text = match bpfld_gen::skeleton(&path.to_string_lossy(), &bytes, &opts) {
            Ok(t) => t,
            // The objects made not to open have no skeleton either.
            Err(bpfld_gen::GenError::Object(_)) if name.contains("bad") => continue,
            Err(e) => panic!("{}: {e}", path.display()),
        };
        let file = out.join(format!("object_{name}.skel.rs"));
        std::fs::write(&file, text).unwrap();
        let _ = writeln!(index, "pub mod {name} {{\n    include!(concat!(env!(\"OUT_DIR\"), \"/object_{name}.skel.rs\"));\n}}");
    }
    std::fs::write(out.join("objects.rs"), index).unwrap();
}
