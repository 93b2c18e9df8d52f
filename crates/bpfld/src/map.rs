//! A map, by name: element operations with sizes checked against the
//! kernel's own description of the map, and pinning. A map of a loaded
//! object and a map opened from its pin ([`PinnedMap`]) are used alike.

use bpfld_asm::types::MapType;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use bpfld_sys::{MapInfo, MapRef};

use crate::error::{Error, MapProblem, Result};
use crate::loader::{LoadedMap, StructOpsValue};
use crate::pin;
use crate::program::Link;

/// A map of a loaded object, or of a [`PinnedMap`].
#[derive(Clone, Copy, Debug)]
pub struct Map<'a> {
    name: &'a str,
    real_name: &'a str,
    spec: Option<&'a bpfld_obj::MapSpec>,
    pin_path: Option<&'a Path>,
    reused: bool,
    fd: BorrowedFd<'a>,
    r: MapRef<'a>,
    struct_ops: Option<&'a StructOpsValue>,
}

impl<'a> Map<'a> {
    pub(crate) fn new(loaded: &'a LoadedMap) -> Result<Map<'a>> {
        let r = MapRef::new(loaded.fd.as_fd()).map_err(|e| Error::kernel(format!("map '{}'", loaded.spec.real_name), e))?;
        Ok(Map {
            name: &loaded.spec.name,
            real_name: &loaded.spec.real_name,
            spec: Some(&loaded.spec),
            pin_path: loaded.pin_path.as_deref(),
            reused: loaded.reused,
            fd: loaded.fd.as_fd(),
            r,
            struct_ops: loaded.struct_ops.as_ref(),
        })
    }

    fn err(&self, what: &str, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("map '{}': {what}", self.real_name), e)
    }

    /// The name the kernel knows (at most 15 characters).
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The full name: the map's symbol, or the section of global data (the
    /// kernel's name for a map opened from a pin).
    pub fn real_name(&self) -> &'a str {
        self.real_name
    }

    /// The object's definition of the map; `None` for a map opened from a
    /// pin.
    pub fn spec(&self) -> Option<&'a bpfld_obj::MapSpec> {
        self.spec
    }

    /// Where the map is pinned by name (`LIBBPF_PIN_BY_NAME`): by the load,
    /// or before it if [`Self::is_reused`]; the path it was opened from for
    /// a [`PinnedMap`].
    pub fn pin_path(&self) -> Option<&'a Path> {
        self.pin_path
    }

    /// Whether the load found this map pinned and shares it instead of
    /// creating one (its contents are whatever the previous users left).
    pub fn is_reused(&self) -> bool {
        self.reused
    }

    /// The kernel's description of the map (its id among others).
    pub fn info(&self) -> Result<MapInfo> {
        bpfld_sys::map_info(self.fd).map_err(|e| self.err("map info", e))
    }

    /// Pins the map at `path` in a bpffs (libbpf's `bpf_map__pin` with a
    /// path): the parent directory is created if missing, a path outside a
    /// bpffs is refused. The pin keeps the map alive after every fd closes.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        pin::pin_fd(self.fd, path.as_ref(), &format!("map '{}'", self.real_name))
    }

    /// Removes the pin at `path` (which must be on a bpffs). The map lives
    /// on while fds, programs or other pins hold it.
    pub fn unpin(&self, path: impl AsRef<Path>) -> Result<()> {
        pin::unpin_path(path.as_ref(), &format!("map '{}'", self.real_name))
    }

    /// The map's type (`BPF_MAP_TYPE_*`).
    pub fn map_type(&self) -> MapType {
        self.r.map_type()
    }

    /// Bytes of a key.
    pub fn key_size(&self) -> usize {
        self.r.key_size()
    }

    /// Bytes of a value through the syscall interface (one slot per
    /// possible CPU for per-CPU maps, 4 for fd maps).
    pub fn value_size(&self) -> usize {
        self.r.value_size()
    }

    /// The map's fd, borrowed from the loaded object.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// An owned handle on this map (a new fd), independent of the object.
    pub fn to_handle(&self) -> Result<crate::MapHandle> {
        let fd = self.fd.try_clone_to_owned().map_err(|e| Error::io(format!("map '{}': duplicating its fd", self.real_name), e))?;
        crate::MapHandle::from_fd_named(fd, self.real_name)
    }

    /// The value at `key`, `None` if there is none.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_size()];
        match self.r.lookup(key, &mut v, 0).map_err(|e| self.err("lookup", e))? {
            true => Ok(Some(v)),
            false => Ok(None),
        }
    }

    /// Creates or replaces (`flags` = `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        self.r.update(key, value, flags).map_err(|e| self.err("update", e))
    }

    /// Deletes the element at `key`; an error (`ENOENT`) if there is none.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.r.delete(key).map_err(|e| self.err("delete", e))
    }

    /// Freezes the map: user space can no longer change it.
    pub fn freeze(&self) -> Result<()> {
        self.r.freeze().map_err(|e| self.err("freeze", e))
    }

    /// The value a struct_ops map of a loaded object registers (kernel
    /// layout, program fds in place); `None` for other maps.
    pub fn struct_ops(&self) -> Option<&'a StructOpsValue> {
        self.struct_ops
    }

    /// Registers a struct_ops map (libbpf's `bpf_map__attach_struct_ops`):
    /// writes its value (programs' fds in their slots), then, for a
    /// `.struct_ops.link` map, creates a BPF link. The registration (a
    /// congestion control in the kernel's list, a scheduler...) lasts as
    /// long as the returned [`Link`]: closing the BPF link, or deleting the
    /// element of a `.struct_ops` map, undoes it.
    pub fn attach_struct_ops(&self) -> Result<Link> {
        let Some(st) = self.struct_ops else {
            return Err(Error::Map { map: self.real_name.to_string(), problem: MapProblem::NotStructOps });
        };
        if !st.missing.is_empty() {
            let problem = MapProblem::StructOpsProgramsNotLoaded(st.missing.iter().map(|p| p.to_string()).collect());
            return Err(Error::Map { map: self.real_name.to_string(), problem });
        }
        match self.r.update(&0u32.to_ne_bytes(), &st.value, 0) {
            Ok(()) => {}
            // A link map whose value was written before (by an earlier
            // link): the kernel keeps a struct_ops value once set.
            Err(e) if st.plan.link && e.errno() == Some(libc::EBUSY) => {}
            Err(e) => return Err(self.err("registering struct_ops (writing its value)", e)),
        }
        if !st.plan.link {
            let fd = self.fd.try_clone_to_owned().map_err(|e| Error::io(format!("map '{}': duplicating its fd", self.real_name), e))?;
            return Ok(Link::struct_ops_map(fd));
        }
        let fd = bpfld_sys::link_create_struct_ops(self.fd).map_err(|e| self.err("registering struct_ops (BPF link)", e))?;
        Ok(Link::bpf(fd))
    }

    /// Every key, in the kernel's order.
    pub fn keys(&self) -> Keys<'a> {
        Keys { map: *self, prev: None, done: false }
    }

    /// The value at a `u32` key (native byte order), `None` if absent.
    pub fn lookup_u32(&self, key: u32) -> Result<Option<Vec<u8>>> {
        self.lookup(&key.to_ne_bytes())
    }

    /// Creates or replaces the value at a `u32` key.
    pub fn update_u32(&self, key: u32, value: &[u8]) -> Result<()> {
        self.update(&key.to_ne_bytes(), value, 0)
    }

    /// Deletes the element at a `u32` key; an error if there is none.
    pub fn delete_u32(&self, key: u32) -> Result<()> {
        self.delete(&key.to_ne_bytes())
    }

    /// The value at a `u64` key (native byte order), `None` if absent.
    pub fn lookup_u64(&self, key: u64) -> Result<Option<Vec<u8>>> {
        self.lookup(&key.to_ne_bytes())
    }

    /// Creates or replaces the value at a `u64` key.
    pub fn update_u64(&self, key: u64, value: &[u8]) -> Result<()> {
        self.update(&key.to_ne_bytes(), value, 0)
    }

    /// The value at a `u32` key read as a `u64` (counters).
    pub fn get_u64_at(&self, key: u32) -> Result<Option<u64>> {
        Ok(self.lookup_u32(key)?.and_then(|v| v.get(..8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))))
    }
}

/// A map opened from its pin in a bpffs (`BPF_OBJ_GET`): shared with
/// whoever pinned it, alive at least as long as this value.
#[derive(Debug)]
pub struct PinnedMap {
    fd: OwnedFd,
    path: PathBuf,
    name: String,
}

impl PinnedMap {
    /// Opens the map pinned at `path`; an error if nothing is pinned there
    /// (`ENOENT`) or if what is pinned is not a map.
    pub fn open(path: impl AsRef<Path>) -> Result<PinnedMap> {
        let path = path.as_ref();
        let fd = bpfld_sys::obj_get(path, 0).map_err(|e| Error::kernel(format!("opening pinned map '{}'", path.display()), e))?;
        // BPF_OBJ_GET_INFO_BY_FD answers for any BPF object with the
        // object's own info: ask the fd what it is first.
        let kind = std::fs::read_link(format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&fd))).unwrap_or_default();
        if kind != Path::new("anon_inode:bpf-map") {
            return Err(Error::NotPinnedMap { path: path.to_path_buf(), found: kind });
        }
        let info = bpfld_sys::map_info(fd.as_fd()).map_err(|e| Error::kernel(format!("pinned map '{}'", path.display()), e))?;
        Ok(PinnedMap { fd, path: path.to_path_buf(), name: info.name })
    }

    /// Where it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The map's fd.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }

    /// The map, for element operations (named as the kernel names it).
    pub fn map(&self) -> Result<Map<'_>> {
        let r = MapRef::new(self.fd.as_fd()).map_err(|e| Error::kernel(format!("pinned map '{}'", self.path.display()), e))?;
        Ok(Map {
            name: &self.name,
            real_name: &self.name,
            spec: None,
            pin_path: Some(&self.path),
            reused: false,
            fd: self.fd.as_fd(),
            r,
            struct_ops: None,
        })
    }
}

/// Iterator over a map's keys (`BPF_MAP_GET_NEXT_KEY`). Keys deleted or
/// added while iterating may be missed or seen, as with any BPF map walk.
pub struct Keys<'a> {
    map: Map<'a>,
    prev: Option<Vec<u8>>,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut next = vec![0u8; self.map.key_size()];
        match self.map.r.next_key(self.prev.as_deref(), &mut next) {
            Ok(true) => {
                self.prev = Some(next.clone());
                Some(Ok(next))
            }
            Ok(false) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(self.map.err("next key", e)))
            }
        }
    }
}
