//! A Debian kernel package (`linux-image-*.deb`) to a kernel release
//! directory.
//!
//! A `.deb` is an `ar` archive whose `data.tar.{xz,zst,gz,...}` holds
//! `boot/vmlinuz-<rel>`, `boot/config-<rel>` and `lib/modules/<rel>/**.ko*`.
//! The tar stream is decoded once, front to back, without unpacking it to
//! disk; the kernel and modules it yields are decompressed and cut by
//! worker threads while the main thread keeps decoding the stream (the
//! compressed tar and the compressed modules are the two costs).

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::compression::{self, Compression};
use crate::error::{ElfError, Error, PackageError, Result, StreamEnd, StreamStep};
use crate::release_dir::{self, ReleaseDirWriter};
use crate::{extract_btf, ElfKind, Source};

/// How to extract a package.
#[derive(Debug, Clone, Default)]
pub struct DebOptions {
    /// Only these modules (names as `release_dir::module_name` gives);
    /// `None` extracts every module. With a list, reading stops as soon as
    /// the kernel, its config and every listed module have been seen.
    pub modules: Option<BTreeSet<String>>,
    /// Replace an existing output directory.
    pub replace: bool,
    /// Threads that decompress and cut kernel and modules; 0 uses one per
    /// CPU.
    pub threads: usize,
}

/// One module's split BTF as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleBtf {
    /// The module name (`release_dir::module_name` of its file name), also
    /// the stem of `modules/<name>.btf`.
    pub name: String,
    /// Its path in the package.
    pub path: String,
    /// Size of its `.BTF` section, in bytes.
    pub btf_len: usize,
}

/// What `extract_deb` wrote.
#[derive(Debug, Clone)]
pub struct ReleaseReport {
    /// The release (`uname -r`), from the name of `boot/vmlinuz-<release>`.
    pub release: String,
    /// The package member holding the files (`data.tar.xz`, ...).
    pub data_tar: String,
    /// How the kernel image was stored (bzImage and its compression).
    pub kernel_source: Source,
    /// Size of the vmlinux `.BTF` written as `vmlinux.btf`, in bytes.
    pub vmlinux_btf_len: usize,
    /// Whether `boot/config-<rel>` was there (and written as `config`).
    pub config: bool,
    /// Modules with a `.BTF` section, sorted by name.
    pub modules: Vec<ModuleBtf>,
    /// Modules without one (built without BTF), by name.
    pub modules_without_btf: Vec<String>,
    /// Module names found twice (in two directories); the first one in the
    /// package is kept.
    pub duplicate_modules: Vec<String>,
}

/// Whether `bytes` (a file's first bytes) start an `ar` archive.
pub fn is_deb(bytes: &[u8]) -> bool {
    bytes.starts_with(b"!<arch>\n")
}

enum Job {
    Kernel { path: String, data: Vec<u8> },
    Module { name: String, path: String, data: Vec<u8> },
}

enum Done {
    Kernel { source: Source, btf_len: usize },
    Module { name: String, path: String, btf_len: Option<usize> },
}

/// Counts what the decoder took from the package member, and whether the
/// member's bytes ran out, to tell a truncated package from corrupt data.
struct CountingRead<R> {
    inner: R,
    pos: Rc<Cell<u64>>,
    eof: Rc<Cell<bool>>,
}

impl<R: Read> Read for CountingRead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.eof.set(true);
        }
        self.pos.set(self.pos.get() + n as u64);
        Ok(n)
    }
}

/// What a path in `data.tar` is to a kernel package.
enum Member<'a> {
    Kernel { release: &'a str },
    Config { release: &'a str },
    Module { release: &'a str, name: &'a str },
    Other,
}

fn classify(path: &str) -> Member<'_> {
    if let Some(rel) = path.strip_prefix("boot/vmlinuz-") {
        return Member::Kernel { release: rel };
    }
    if let Some(rel) = path.strip_prefix("boot/config-") {
        return Member::Config { release: rel };
    }
    let rest = path.strip_prefix("lib/modules/").or_else(|| path.strip_prefix("usr/lib/modules/"));
    if let Some((release, sub)) = rest.and_then(|r| r.split_once('/')) {
        let file_name = sub.rsplit('/').next().unwrap_or(sub);
        if let Some(name) = release_dir::module_name(file_name) {
            return Member::Module { release, name };
        }
    }
    Member::Other
}

fn worker(deb: &str, job: Job, out: &ReleaseDirWriter) -> Result<Done> {
    match job {
        Job::Kernel { path, data } => {
            let file = format!("{deb}: {path}");
            let ex = extract_btf(&file, &data)?;
            if ex.kind != ElfKind::Vmlinux {
                return Err(Error::new(file, ElfError::NotVmlinux));
            }
            let btf = ex.btf.ok_or_else(|| Error::new(&file, ElfError::NoVmlinuxBtf))?;
            out.write_vmlinux_btf(&btf)?;
            Ok(Done::Kernel { source: ex.source, btf_len: btf.len() })
        }
        Job::Module { name, path, data } => {
            let file = format!("{deb}: {path}");
            let ex = extract_btf(&file, &data)?;
            if ex.kind != ElfKind::Module {
                return Err(Error::new(file, ElfError::NotModule));
            }
            let btf_len = match ex.btf {
                Some(btf) => {
                    out.write_module_btf(&name, &btf)?;
                    Some(btf.len())
                }
                None => None,
            };
            Ok(Done::Module { name, path, btf_len })
        }
    }
}

/// Extracts the kernel package `path` into the release directory `out`.
pub fn extract_deb(path: &Path, out: &Path, options: &DebOptions) -> Result<ReleaseReport> {
    let deb = path.display().to_string();
    let deb = deb.as_str();
    let file = File::open(path).map_err(|e| Error::io(deb, "open", e))?;
    let mut archive = ar::Archive::new(file);
    let entry = loop {
        match archive.next_entry() {
            Some(Ok(e)) if e.header().identifier().starts_with(b"data.tar") => break e,
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(Error::new(deb, PackageError::NotAr(e))),
            None => return Err(Error::new(deb, PackageError::NoDataTar)),
        }
    };
    let data_tar = String::from_utf8_lossy(entry.header().identifier()).into_owned();
    let data_tar = data_tar.as_str();
    let member_size = entry.header().size();
    let member_name = format!("{deb}: {data_tar}");
    let format = match data_tar.strip_prefix("data.tar").unwrap_or("") {
        "" => None,
        ".xz" => Some(Compression::Xz),
        ".zst" => Some(Compression::Zstd),
        ".gz" => Some(Compression::Gzip),
        ".bz2" => Some(Compression::Bzip2),
        ".lzma" => Some(Compression::Lzma),
        other => return Err(Error::new(&member_name, PackageError::UnknownCompression { suffix: other.to_string() })),
    };
    let pos = Rc::new(Cell::new(0u64));
    let eof = Rc::new(Cell::new(false));
    let counted = CountingRead { inner: BufReader::with_capacity(1 << 20, entry), pos: pos.clone(), eof: eof.clone() };
    let stream: Box<dyn Read> = match format {
        None => Box::new(counted),
        Some(c) => {
            compression::reader(c, counted).map_err(|source| Error::at(&member_name, 0, PackageError::Decoder { format: c, source }))?
        }
    };
    let stream_err = |step: StreamStep, source: io::Error| -> Error {
        let at = pos.get();
        let end = if eof.get() && at < member_size {
            StreamEnd::Truncated { at, member_size }
        } else if eof.get() {
            StreamEnd::NoEndMarker
        } else {
            StreamEnd::Inside
        };
        Error::at(&member_name, at, PackageError::Stream { step, end, source })
    };

    let writer = ReleaseDirWriter::create(out, options.replace)?;
    let threads = match options.threads {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    };
    let failed = AtomicBool::new(false);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(2 * threads);
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (done_tx, done_rx) = mpsc::channel::<Result<Done>>();

    let mut kernel_release: Option<String> = None;
    let mut config_release: Option<String> = None;
    let mut module_releases = BTreeSet::new();
    let mut seen_modules: BTreeMap<String, String> = BTreeMap::new();
    let mut duplicate_modules = Vec::new();

    let read_result: Result<()> = std::thread::scope(|s| {
        for _ in 0..threads {
            let job_rx = job_rx.clone();
            let done_tx = done_tx.clone();
            let (writer, failed) = (&writer, &failed);
            s.spawn(move || loop {
                let job = match job_rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                let Ok(job) = job else { return };
                let res = worker(deb, job, writer);
                if res.is_err() {
                    failed.store(true, Ordering::Relaxed);
                }
                if done_tx.send(res).is_err() {
                    return;
                }
            });
        }
        // Only the workers hold the receiver: if they all stop, sending
        // fails instead of blocking on a full channel.
        drop(job_rx);
        drop(done_tx);
        let mut tar = tar::Archive::new(stream);
        let entries = tar.entries().map_err(|e| stream_err(StreamStep::Entries, e))?;
        for entry in entries {
            if failed.load(Ordering::Relaxed) {
                break;
            }
            let mut entry = entry.map_err(|e| stream_err(StreamStep::Entries, e))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = match entry.path() {
                Ok(p) => p.to_string_lossy().trim_start_matches("./").to_string(),
                Err(e) => return Err(stream_err(StreamStep::EntryName, e)),
            };
            let read_body = |entry: &mut tar::Entry<'_, _>| -> Result<Vec<u8>> {
                let mut data = Vec::with_capacity(entry.size().min(64 << 20) as usize);
                entry.read_to_end(&mut data).map_err(|e| stream_err(StreamStep::Body(path.clone()), e))?;
                Ok(data)
            };
            let job = match classify(&path) {
                Member::Kernel { release } => {
                    if let Some(prev) = &kernel_release {
                        return Err(Error::new(&member_name, PackageError::TwoKernels { first: prev.clone(), second: path }));
                    }
                    kernel_release = Some(release.to_string());
                    let data = read_body(&mut entry)?;
                    Job::Kernel { path, data }
                }
                Member::Config { release } => {
                    config_release = Some(release.to_string());
                    let data = read_body(&mut entry)?;
                    writer.write_config(&data)?;
                    continue;
                }
                Member::Module { release, name } => {
                    if options.modules.as_ref().is_some_and(|m| !m.contains(name)) {
                        continue;
                    }
                    if let Some(first) = seen_modules.get(name) {
                        duplicate_modules.push(format!("{name} ({first} kept, {path} skipped)"));
                        continue;
                    }
                    module_releases.insert(release.to_string());
                    let name = name.to_string();
                    seen_modules.insert(name.clone(), path.clone());
                    let data = read_body(&mut entry)?;
                    Job::Module { name, path, data }
                }
                Member::Other => continue,
            };
            if job_tx.send(job).is_err() {
                break;
            }
            if let Some(wanted) = &options.modules {
                if kernel_release.is_some() && config_release.is_some() && wanted.len() == seen_modules.len() {
                    break;
                }
            }
        }
        drop(job_tx);
        Ok(())
    });
    read_result?;

    let mut source = None;
    let mut vmlinux_btf_len = 0;
    let mut modules = Vec::new();
    let mut modules_without_btf = Vec::new();
    let mut first_err = None;
    for done in done_rx {
        match done {
            Ok(Done::Kernel { source: s, btf_len }) => {
                source = Some(s);
                vmlinux_btf_len = btf_len;
            }
            Ok(Done::Module { name, path, btf_len: Some(btf_len) }) => modules.push(ModuleBtf { name, path, btf_len }),
            Ok(Done::Module { name, btf_len: None, .. }) => modules_without_btf.push(name),
            Err(e) => {
                first_err.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    let (Some(release), Some(kernel_source)) = (kernel_release, source) else {
        return Err(Error::new(&member_name, PackageError::NoKernel));
    };
    if let Some(c) = &config_release {
        if *c != release {
            return Err(Error::new(&member_name, PackageError::ConfigMismatch { config: c.clone(), release }));
        }
    }
    if let Some(other) = module_releases.iter().find(|r| **r != release) {
        return Err(Error::new(&member_name, PackageError::ModuleRelease { other: other.clone(), release }));
    }
    if let Some(wanted) = &options.modules {
        let missing: Vec<_> = wanted.iter().filter(|m| !seen_modules.contains_key(*m)).cloned().collect();
        if !missing.is_empty() {
            return Err(Error::new(&member_name, PackageError::MissingModules { modules: missing, release }));
        }
    }
    writer.write_release(&release)?;
    writer.write_source(path)?;
    writer.finish()?;
    modules.sort_by(|a, b| a.name.cmp(&b.name));
    modules_without_btf.sort();
    Ok(ReleaseReport {
        release,
        data_tar: data_tar.to_string(),
        kernel_source,
        vmlinux_btf_len,
        config: config_release.is_some(),
        modules,
        modules_without_btf,
        duplicate_modules,
    })
}

#[cfg(test)]
mod tests {
    use super::{classify, Member};

    #[test]
    fn package_paths() {
        assert!(matches!(classify("boot/vmlinuz-6.1.0-56-amd64"), Member::Kernel { release: "6.1.0-56-amd64" }));
        assert!(matches!(classify("boot/config-6.1.0-56-amd64"), Member::Config { release: "6.1.0-56-amd64" }));
        assert!(matches!(
            classify("lib/modules/6.12.117+deb12-amd64/kernel/net/ipv4/tcp_bbr.ko.xz"),
            Member::Module { release: "6.12.117+deb12-amd64", name: "tcp_bbr" }
        ));
        assert!(matches!(
            classify("usr/lib/modules/6.13.0-1-amd64/updates/dkms/zfs.ko.zst"),
            Member::Module { release: "6.13.0-1-amd64", name: "zfs" }
        ));
        assert!(matches!(classify("lib/modules/6.1.0-56-amd64/modules.builtin"), Member::Other));
        assert!(matches!(classify("boot/System.map-6.1.0-56-amd64"), Member::Other));
        assert!(matches!(classify("usr/share/doc/x.ko"), Member::Other));
    }
}
