//! Pinning in a bpffs, as libbpf 1.7 does it: where a map with
//! `__uint(pinning, LIBBPF_PIN_BY_NAME)` is pinned, when a pinned map may
//! be reused instead of creating one, and pinning or unpinning any map or
//! program by path.
//!
//! Why reuse is checked attribute by attribute: a program verified against
//! one map layout must not be handed a map of another, and "parameter
//! mismatch" alone (libbpf's words) leaves the user guessing which of the
//! six attributes differs.

use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};

use bpfld_asm::types::{map_flags, MapType as mt};
use bpfld_obj::MapSpec;
use bpfld_sys::MapInfo;

use crate::error::{Error, PinPathError, Result};

/// Where `LIBBPF_PIN_BY_NAME` maps are pinned unless
/// [`LoadOptions::pin_root`](crate::LoadOptions::pin_root) says otherwise
/// (libbpf's `BPF_FS_DEFAULT_PATH`).
pub const DEFAULT_PIN_ROOT: &str = "/sys/fs/bpf";

/// `PATH_MAX`: libbpf refuses longer pin paths.
const PATH_MAX: usize = 4096;

/// The pin path of a `LIBBPF_PIN_BY_NAME` map: `<root>/<map name>`, the
/// map's full name (its symbol), as libbpf's `build_map_pin_path`.
///
/// The name comes from the object, so it must stay one file name inside
/// the root: an absolute name would replace the root and `..` would climb
/// out of it (onto another application's pins), so names that are empty,
/// `.`, `..`, or hold a `/` or a NUL are refused.
pub fn map_pin_path(root: &Path, map_name: &str) -> std::result::Result<PathBuf, PinPathError> {
    let why = match map_name {
        "" => Some("is empty"),
        "." | ".." => Some("is a directory reference"),
        n if n.contains('/') => Some("holds a '/'"),
        n if n.contains('\0') => Some("holds a NUL"),
        _ => None,
    };
    if let Some(why) = why {
        return Err(PinPathError::BadName { map: map_name.to_string(), why, root: root.to_path_buf() });
    }
    let path = root.join(map_name);
    if path.as_os_str().len() >= PATH_MAX {
        return Err(PinPathError::TooLong { map: map_name.to_string(), path });
    }
    Ok(path)
}

/// Whether `spec` asks to be pinned by name.
pub fn pinned_by_name(spec: &MapSpec) -> bool {
    spec.pinning == bpfld_obj::btf_maps::PIN_BY_NAME
}

/// The first attribute in which the pinned map `info` differs from what
/// the object would create (libbpf's `map_is_reuse_compat`: type, key size,
/// value size, max_entries, flags, map_extra), as
/// `(attribute, pinned value, object value)`. `max_entries` is the one the
/// map would be created with (a perf event array's 0 is already the CPU
/// count).
pub fn reuse_mismatch(spec: &MapSpec, max_entries: u32, info: &MapInfo) -> Option<(&'static str, u64, u64)> {
    // The kernel reports BPF_F_RDONLY_PROG on every devmap, set or not.
    let mut pinned_flags = info.map_flags;
    if matches!(spec.map_type, mt::DEVMAP | mt::DEVMAP_HASH) {
        pinned_flags &= !map_flags::RDONLY_PROG;
    }
    let attrs: [(&'static str, u64, u64); 6] = [
        ("type", info.map_type.raw().into(), spec.map_type.raw().into()),
        ("key_size", info.key_size.into(), spec.key_size.into()),
        ("value_size", info.value_size.into(), spec.value_size.into()),
        ("max_entries", info.max_entries.into(), max_entries.into()),
        ("map_flags", pinned_flags.into(), spec.map_flags.into()),
        ("map_extra", info.map_extra, spec.map_extra),
    ];
    attrs.into_iter().find(|(_, pinned, object)| pinned != object)
}

/// Creates the parent directory of `path` if it is missing (one level, mode
/// 0700, as libbpf's `make_parent_dir`).
fn make_parent_dir(path: &Path, ctx: &str) -> Result<()> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    let mut b = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    match b.create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::Pin { context: format!("{ctx}: failed to mkdir {}", dir.display()), source }),
    }
}

/// Refuses a path whose directory is not on a bpffs (libbpf's
/// `check_path`): `BPF_OBJ_PIN` there would fail with a less helpful error.
fn check_on_bpffs(path: &Path, ctx: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match bpfld_sys::fs_magic(dir) {
        Ok(bpfld_sys::BPF_FS_MAGIC) => Ok(()),
        Ok(_) => Err(Error::NotOnBpffs { context: ctx.to_string(), path: path.to_path_buf() }),
        Err(e) => Err(Error::kernel(format!("{ctx}: failed to statfs {}", dir.display()), e)),
    }
}

/// Pins `fd` at `path`: parent directory created, bpffs checked, then
/// `BPF_OBJ_PIN`. `ctx` names what is pinned (`obj: map 'counts'`).
pub(crate) fn pin_fd(fd: BorrowedFd<'_>, path: &Path, ctx: &str) -> Result<()> {
    make_parent_dir(path, ctx)?;
    check_on_bpffs(path, ctx)?;
    bpfld_sys::obj_pin(fd, path).map_err(|e| Error::kernel(format!("{ctx}: failed to pin at '{}'", path.display()), e))
}

/// Removes the pin at `path` (bpffs checked first, as libbpf).
pub(crate) fn unpin_path(path: &Path, ctx: &str) -> Result<()> {
    check_on_bpffs(path, ctx)?;
    std::fs::remove_file(path).map_err(|source| Error::Pin { context: format!("{ctx}: failed to unpin '{}'", path.display()), source })
}

/// Pins a load made, removed again unless the load succeeds (libbpf's
/// `bpf_object_unpin` on a failed load): dropping the guard unpins.
#[derive(Debug, Default)]
pub(crate) struct NewPins {
    paths: Vec<PathBuf>,
}

impl NewPins {
    pub(crate) fn push(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    /// The load succeeded: the pins stay.
    pub(crate) fn keep(mut self) {
        self.paths.clear();
    }
}

impl Drop for NewPins {
    fn drop(&mut self) {
        for p in &self.paths {
            // Best effort, as libbpf: the load already failed with the
            // error that matters.
            let _ = std::fs::remove_file(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bpfld_asm::types::MapType;
    use bpfld_obj::MapOrigin;

    fn spec(map_type: MapType, max_entries: u32, map_flags: u32) -> MapSpec {
        MapSpec {
            name: "counts".into(),
            real_name: "counts".into(),
            origin: MapOrigin::Btf,
            map_type,
            key_size: 4,
            value_size: 8,
            max_entries,
            map_flags,
            map_extra: 0,
            numa_node: 0,
            pinning: 1,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            inner: None,
            init_slots: Vec::new(),
            data: Vec::new(),
            sec_idx: 0,
            sec_offset: 0,
        }
    }

    fn info(map_type: MapType, max_entries: u32, map_flags: u32) -> MapInfo {
        MapInfo {
            map_type,
            id: 1,
            key_size: 4,
            value_size: 8,
            max_entries,
            map_flags,
            name: "counts".into(),
            ifindex: 0,
            btf_vmlinux_value_type_id: 0,
            btf_id: 0,
            btf_key_type_id: 0,
            btf_value_type_id: 0,
            map_extra: 0,
        }
    }

    #[test]
    fn mismatch_names_the_first_differing_attribute() {
        assert_eq!(reuse_mismatch(&spec(mt::HASH, 4, 0), 4, &info(mt::HASH, 4, 0)), None);
        assert_eq!(reuse_mismatch(&spec(mt::HASH, 4, 0), 4, &info(mt::HASH, 8, 0)), Some(("max_entries", 8, 4)));
        assert_eq!(reuse_mismatch(&spec(mt::HASH, 4, 0), 4, &info(mt::ARRAY, 8, 0)), Some(("type", 2, 1)));
        assert_eq!(reuse_mismatch(&spec(mt::HASH, 4, 1), 4, &info(mt::HASH, 4, 0)), Some(("map_flags", 0, 1)));
    }

    #[test]
    fn devmap_rdonly_prog_is_ignored() {
        let ro = map_flags::RDONLY_PROG;
        assert_eq!(reuse_mismatch(&spec(mt::DEVMAP, 4, 0), 4, &info(mt::DEVMAP, 4, ro)), None);
        assert!(reuse_mismatch(&spec(mt::HASH, 4, 0), 4, &info(mt::HASH, 4, ro)).is_some());
    }

    #[test]
    fn pin_paths_join_root_and_full_name() {
        let p = map_pin_path(Path::new("/sys/fs/bpf/app"), "a_rather_long_map_name").unwrap();
        assert_eq!(p, Path::new("/sys/fs/bpf/app/a_rather_long_map_name"));
        for bad in ["", ".", "..", "../up", "/sys/fs/bpf/other_app/secret", "a/b", "nul\0"] {
            let e = map_pin_path(Path::new("/sys/fs/bpf/app"), bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("map '{}': refused to pin", bad.escape_debug())), "{e}");
        }
        let long = "x".repeat(PATH_MAX);
        assert!(map_pin_path(Path::new("/sys/fs/bpf"), &long).unwrap_err().to_string().contains("couldn't build pin path"));
    }
}
