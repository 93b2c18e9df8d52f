//! `bpfld-build`, for `build.rs`: compiles the BPF programs of a Cargo
//! package and writes their Rust skeletons into `OUT_DIR`.
//!
//! In `build.rs`:
//!
//! ```no_run
//! bpfld_build::Builder::new().build().unwrap_or_else(|e| panic!("{e}"));
//! ```
//!
//! and in the crate: `mod counter { include!(concat!(env!("OUT_DIR"), "/counter.skel.rs")); }`.
//!
//! Every `src/bpf/*.bpf.c` is compiled with clang (`$CLANG`, else
//! `clang-19`, else `clang`) as `-g -O2 -target bpf -D__TARGET_ARCH_<arch>`
//! with `OUT_DIR` (holding a `vmlinux.h` generated from the running
//! kernel's BTF, or the BTF given) and the include directories given on the
//! include path, into `OUT_DIR/<name>.bpf.o`; its skeleton goes to
//! `OUT_DIR/<name>.skel.rs` (see `bpfld gen skeleton`). Cargo is told to
//! rerun the build script only when a source under `src/bpf`, an include
//! directory or `CLANG`/`BPFLD_VMLINUX_BTF` changes.

#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use bpfld_gen::{Embed, SkeletonOptions};

/// Why the build failed.
#[derive(Debug)]
pub enum BuildError {
    /// A file or directory could not be read or written.
    Io {
        /// The file, directory or program (clang) at fault.
        path: PathBuf,
        /// The system's error.
        source: std::io::Error,
    },
    /// A Cargo variable is missing (not run from a build script?).
    Env(&'static str),
    /// No clang answers `--version`: the candidates tried.
    NoClang(String),
    /// clang refused a source: its diagnostics.
    Compile {
        /// The `.bpf.c` source.
        source_file: PathBuf,
        /// clang's diagnostics, as printed.
        stderr: String,
    },
    /// The BTF for `vmlinux.h` does not parse.
    Btf {
        /// The BTF file (`/sys/kernel/btf/vmlinux` unless another was given).
        path: PathBuf,
        /// Why it does not parse or has no C header.
        source: bpfld_btf::Error,
    },
    /// A skeleton could not be generated.
    Skeleton {
        /// The compiled object in `OUT_DIR`.
        object: PathBuf,
        /// Why its skeleton could not be made.
        source: bpfld_gen::GenError,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::Io { path, source } => write!(f, "{}: {source}", path.display()),
            BuildError::Env(v) => write!(f, "${v} is not set (bpfld-build runs from a build script)"),
            BuildError::NoClang(m) => write!(f, "no clang: {m} (set $CLANG)"),
            BuildError::Compile { source_file, stderr } => write!(f, "{}: clang failed:\n{stderr}", source_file.display()),
            BuildError::Btf { path, source } => write!(f, "{}: {source}", path.display()),
            BuildError::Skeleton { object, source } => write!(f, "{}: skeleton: {source}", object.display()),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io { source, .. } => Some(source),
            BuildError::Btf { source, .. } => Some(source),
            BuildError::Skeleton { source, .. } => Some(source),
            _ => None,
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Io { path: path.to_path_buf(), source }
}

/// One compiled program.
#[derive(Debug, Clone)]
pub struct Built {
    /// The source's name without `.bpf.c` (`counter` for `counter.bpf.c`).
    pub name: String,
    /// The compiled object, `OUT_DIR/<name>.bpf.o`.
    pub object: PathBuf,
    /// Its skeleton's source, `OUT_DIR/<name>.skel.rs`.
    pub skeleton: PathBuf,
}

/// What to build and how.
#[derive(Debug, Clone)]
pub struct Builder {
    src_dir: PathBuf,
    out_dir: Option<PathBuf>,
    includes: Vec<PathBuf>,
    vmlinux_btf: Option<PathBuf>,
    clang: Option<PathBuf>,
    extra_args: Vec<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// Sources in `$CARGO_MANIFEST_DIR/src/bpf`, output in `$OUT_DIR`.
    pub fn new() -> Self {
        let root = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from).unwrap_or_default();
        Builder {
            src_dir: root.join("src/bpf"),
            out_dir: None,
            includes: Vec::new(),
            vmlinux_btf: None,
            clang: None,
            extra_args: Vec::new(),
        }
    }
    /// Another source directory.
    pub fn source_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.src_dir = dir.into();
        self
    }
    /// Another output directory than `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }
    /// An include directory (`-I`).
    pub fn include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.includes.push(dir.into());
        self
    }
    /// The BTF `vmlinux.h` is made from (default: `$BPFLD_VMLINUX_BTF`,
    /// else the running kernel's `/sys/kernel/btf/vmlinux`).
    pub fn vmlinux_btf(mut self, path: impl Into<PathBuf>) -> Self {
        self.vmlinux_btf = Some(path.into());
        self
    }
    /// The clang to run (default: `$CLANG`, `clang-19`, `clang`).
    pub fn clang(mut self, path: impl Into<PathBuf>) -> Self {
        self.clang = Some(path.into());
        self
    }
    /// More compiler arguments (`-DDEBUG`).
    pub fn clang_arg(mut self, arg: impl Into<String>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Compiles every source and writes every skeleton.
    pub fn build(&self) -> Result<Vec<Built>, BuildError> {
        let out = match &self.out_dir {
            Some(d) => d.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or(BuildError::Env("OUT_DIR"))?),
        };
        std::fs::create_dir_all(&out).map_err(io(&out))?;
        println!("cargo:rerun-if-changed={}", self.src_dir.display());
        for i in &self.includes {
            println!("cargo:rerun-if-changed={}", i.display());
        }
        println!("cargo:rerun-if-env-changed=CLANG");
        println!("cargo:rerun-if-env-changed=BPFLD_VMLINUX_BTF");
        let sources = self.sources()?;
        self.write_vmlinux_h(&out)?;
        let clang = self.find_clang()?;
        let mut built = Vec::new();
        for src in sources {
            println!("cargo:rerun-if-changed={}", src.display());
            built.push(self.build_one(&clang, &src, &out)?);
        }
        Ok(built)
    }

    fn sources(&self) -> Result<Vec<PathBuf>, BuildError> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.src_dir)
            .map_err(io(&self.src_dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
            .collect();
        v.sort();
        Ok(v)
    }

    fn write_vmlinux_h(&self, out: &Path) -> Result<(), BuildError> {
        let path = match &self.vmlinux_btf {
            Some(p) => p.clone(),
            None => std::env::var_os("BPFLD_VMLINUX_BTF").map(PathBuf::from).unwrap_or_else(|| "/sys/kernel/btf/vmlinux".into()),
        };
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let btf = bpfld_btf::Btf::parse(Arc::new(bytes)).map_err(|source| BuildError::Btf { path: path.clone(), source })?;
        let header = bpfld_btf::c_header(&btf, None).map_err(|source| BuildError::Btf { path: path.clone(), source })?;
        write_if_changed(&out.join("vmlinux.h"), header.as_bytes())
    }

    fn find_clang(&self) -> Result<PathBuf, BuildError> {
        let candidates: Vec<PathBuf> = match (&self.clang, std::env::var_os("CLANG")) {
            (Some(c), _) => vec![c.clone()],
            (None, Some(c)) => vec![c.into()],
            (None, None) => vec!["clang-19".into(), "clang".into()],
        };
        for c in &candidates {
            if Command::new(c).arg("--version").output().is_ok_and(|o| o.status.success()) {
                return Ok(c.clone());
            }
        }
        Err(BuildError::NoClang(format!("tried {}", candidates.iter().map(|c| c.display().to_string()).collect::<Vec<_>>().join(", "))))
    }

    fn build_one(&self, clang: &Path, src: &Path, out: &Path) -> Result<Built, BuildError> {
        let file = src.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let name = file.trim_end_matches(".bpf.c").to_string();
        let object = out.join(format!("{name}.bpf.o"));
        let mut cmd = Command::new(clang);
        cmd.args(["-g", "-O2", "-target", "bpf", &format!("-D__TARGET_ARCH_{}", target_arch())]).arg("-I").arg(out);
        for i in &self.includes {
            cmd.arg("-I").arg(i);
        }
        cmd.args(&self.extra_args).arg("-c").arg(src).arg("-o").arg(&object);
        let o = cmd.output().map_err(io(clang))?;
        if !o.status.success() {
            return Err(BuildError::Compile { source_file: src.to_path_buf(), stderr: String::from_utf8_lossy(&o.stderr).into_owned() });
        }
        let bytes = std::fs::read(&object).map_err(io(&object))?;
        let opts = SkeletonOptions { name: Some(name.clone()), embed: Embed::IncludeBytes(object.clone()) };
        let text = bpfld_gen::skeleton(&file, &bytes, &opts).map_err(|source| BuildError::Skeleton { object: object.clone(), source })?;
        let skeleton = out.join(format!("{name}.skel.rs"));
        write_if_changed(&skeleton, text.as_bytes())?;
        Ok(Built { name, object, skeleton })
    }
}

/// `__TARGET_ARCH_<arch>` as libbpf's `bpf_tracing.h` spells the target.
fn target_arch() -> &'static str {
    match std::env::var("CARGO_CFG_TARGET_ARCH").as_deref().unwrap_or(std::env::consts::ARCH) {
        "x86_64" | "x86" => "x86",
        "aarch64" => "arm64",
        "arm" => "arm",
        "s390x" => "s390",
        "powerpc64" => "powerpc",
        "riscv64" => "riscv",
        "loongarch64" => "loongarch",
        "mips" | "mips64" => "mips",
        "sparc64" => "sparc",
        _ => "x86",
    }
}

/// Leaves an unchanged file alone, so that what includes it is not
/// rebuilt.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<(), BuildError> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(io(path))
}
