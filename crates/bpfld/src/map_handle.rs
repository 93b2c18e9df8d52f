//! An owned map: a map taken out of a loaded object (or opened from a pin
//! or an fd) that lives on its own, can move to another thread, and is
//! what the typed maps of [`crate::typed_maps`] wrap. Also the two ways of
//! reading a whole map: a key walk that survives concurrent deletes, and
//! batch operations.

use bpfld_asm::types::MapType;
use std::collections::HashSet;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

use bpfld_asm::types::MapType as mt;
use bpfld_sys::{BatchBuffers, MapInfo, MapRef};

use crate::error::{Error, MapProblem, Result};

/// A map owned by this value (its own fd): `Send + Sync`, independent of
/// the [`LoadedObject`](crate::LoadedObject) it may come from. Element
/// operations take and return bytes with the kernel's sizes.
#[derive(Debug)]
pub struct MapHandle {
    fd: OwnedFd,
    name: String,
    info: MapInfo,
    /// Bytes of a value through the syscall interface.
    value_size: usize,
}

impl MapHandle {
    /// Takes ownership of a map fd; `name` is how errors name it.
    pub fn from_fd_named(fd: OwnedFd, name: &str) -> Result<MapHandle> {
        let info = bpfld_sys::map_info(fd.as_fd()).map_err(|e| Error::kernel(format!("map '{name}'"), e))?;
        let value_size = MapRef::with_info(fd.as_fd(), &info).map_err(|e| Error::kernel(format!("map '{name}'"), e))?.value_size();
        Ok(MapHandle { fd, name: name.to_string(), info, value_size })
    }

    /// Takes ownership of a map fd, named as the kernel names the map.
    pub fn from_fd(fd: OwnedFd) -> Result<MapHandle> {
        let info = bpfld_sys::map_info(fd.as_fd()).map_err(|e| Error::kernel("map", e))?;
        Self::from_fd_named(fd, &info.name)
    }

    /// Opens the map pinned at `path`.
    pub fn from_pin(path: impl AsRef<Path>) -> Result<MapHandle> {
        let pinned = crate::map::PinnedMap::open(path)?;
        let fd = pinned.fd().try_clone_to_owned().map_err(|e| Error::io("duplicating a map fd", e))?;
        Self::from_fd_named(fd, &pinned.path().display().to_string())
    }

    /// The map's name in its object (or the kernel's name, or the pin).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The kernel's description of the map, as it was when opened.
    pub fn info(&self) -> &MapInfo {
        &self.info
    }

    /// `BPF_MAP_TYPE_*`.
    pub fn map_type(&self) -> MapType {
        self.info.map_type
    }

    /// Bytes of a key.
    pub fn key_size(&self) -> usize {
        self.info.key_size as usize
    }

    /// Bytes of a value through the syscall interface: one 8-byte aligned
    /// slot per possible CPU for per-CPU maps, 4 for fd maps.
    pub fn value_size(&self) -> usize {
        self.value_size
    }

    /// The map's `max_entries` as the kernel reports it.
    pub fn max_entries(&self) -> u32 {
        self.info.max_entries
    }

    /// Whether values hold one slot per possible CPU.
    pub fn is_per_cpu(&self) -> bool {
        matches!(self.info.map_type, mt::PERCPU_HASH | mt::PERCPU_ARRAY | mt::LRU_PERCPU_HASH | mt::PERCPU_CGROUP_STORAGE)
    }

    pub(crate) fn r(&self) -> MapRef<'_> {
        MapRef::with_info(self.fd.as_fd(), &self.info).expect("sizes were checked when the handle was made")
    }

    pub(crate) fn err(&self, what: &str, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("map '{}': {what}", self.name), e)
    }

    /// A second handle on the same map.
    pub fn try_clone(&self) -> Result<MapHandle> {
        let fd = self.fd.try_clone().map_err(|e| Error::io(format!("map '{}': duplicating its fd", self.name), e))?;
        Ok(MapHandle { fd, name: self.name.clone(), info: self.info.clone(), value_size: self.value_size })
    }

    /// The value at `key`, `None` if there is none.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_size];
        Ok(self.lookup_into(key, &mut v)?.then_some(v))
    }

    /// Reads the value at `key` into `value` (of [`Self::value_size`]
    /// bytes); false if there is none.
    pub fn lookup_into(&self, key: &[u8], value: &mut [u8]) -> Result<bool> {
        self.r().lookup(key, value, 0).map_err(|e| self.err("lookup", e))
    }

    /// Creates or updates (`flags`: `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`,
    /// `BPF_F_LOCK`).
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        self.r().update(key, value, flags).map_err(|e| self.err("update", e))
    }

    /// Deletes the element at `key`; false if there was none.
    pub fn delete(&self, key: &[u8]) -> Result<bool> {
        match self.r().delete(key) {
            Ok(()) => Ok(true),
            Err(e) if e.errno() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(self.err("delete", e)),
        }
    }

    /// Looks up and deletes (pop for queues and stacks).
    pub fn lookup_and_delete(&self, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut v = vec![0u8; self.value_size];
        let found = self.r().lookup_and_delete(key, &mut v, 0).map_err(|e| self.err("lookup and delete", e))?;
        Ok(found.then_some(v))
    }

    /// Every key. The walk survives elements deleted while it runs (by
    /// this or another process, or programs): when the kernel loses its
    /// place because the last key returned was deleted, it starts again
    /// from the first key (as for libbpf and cilium/ebpf users), and keys
    /// already returned are not returned again. Keys added meanwhile may or
    /// may not be seen. A map changing so fast that the walk makes no
    /// progress ends it with an error instead of looping.
    pub fn keys(&self) -> Keys<'_> {
        let restartable = !matches!(self.info.map_type, mt::ARRAY | mt::PERCPU_ARRAY | mt::PROG_ARRAY | mt::ARRAY_OF_MAPS);
        let entries = (self.info.max_entries as u64).max(1024);
        Keys {
            map: self,
            prev: None,
            seen: restartable.then(HashSet::new),
            stale: 0,
            steps: 0,
            budget: entries.saturating_mul(64),
            done: false,
        }
    }

    /// Every (key, value), walking [`Self::keys`]; a key deleted between
    /// the walk and its lookup is skipped.
    pub fn entries(&self) -> impl Iterator<Item = Result<(Vec<u8>, Vec<u8>)>> + '_ {
        self.keys().filter_map(move |k| match k {
            Err(e) => Some(Err(e)),
            Ok(k) => match self.lookup(&k) {
                Ok(Some(v)) => Some(Ok((k, v))),
                Ok(None) => None,
                Err(e) => Some(Err(e)),
            },
        })
    }

    /// Every (key, value) through `BPF_MAP_LOOKUP_BATCH` (or
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH` if `delete`), `chunk` elements per
    /// call. Hash and array maps (per-CPU too, LRU too) support it since
    /// Linux 5.6; other types fail with `EINVAL`/`ENOTSUPP`.
    pub fn lookup_batch(&self, chunk: u32, delete: bool) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let chunk = chunk.max(1);
        let (ks, vs) = (self.key_size(), self.value_size);
        let tok = self.r().batch_token_size();
        let mut keys = vec![0u8; ks * chunk as usize];
        let mut values = vec![0u8; vs * chunk as usize];
        let (mut in_tok, mut out_tok) = (vec![0u8; tok], vec![0u8; tok]);
        let mut out = Vec::new();
        let mut first = true;
        loop {
            let io =
                BatchBuffers { in_batch: (!first).then_some(&in_tok[..]), out_batch: &mut out_tok, keys: &mut keys, values: &mut values };
            let (n, more) = match self.r().lookup_batch(io, chunk, 0, delete) {
                Ok(r) => r,
                // A hash bucket larger than `chunk`: retry with room for it.
                Err(e) if e.errno() == Some(libc::ENOSPC) && chunk < self.max_entries().max(1) => {
                    return self.lookup_batch(chunk.saturating_mul(2).min(self.max_entries().max(1)), delete)
                }
                Err(e) => return Err(self.err("batch lookup", e)),
            };
            for i in 0..n as usize {
                out.push((keys[i * ks..(i + 1) * ks].to_vec(), values[i * vs..(i + 1) * vs].to_vec()));
            }
            if !more {
                return Ok(out);
            }
            std::mem::swap(&mut in_tok, &mut out_tok);
            first = false;
        }
    }

    /// Writes `keys.len() / key_size` elements in one call
    /// (`BPF_MAP_UPDATE_BATCH`); returns how many.
    pub fn update_batch(&self, keys: &[u8], values: &[u8], elem_flags: u64) -> Result<u32> {
        self.r().update_batch(keys, values, elem_flags).map_err(|(n, e)| self.err(&format!("batch update (after {n} elements)"), e))
    }

    /// Deletes `keys.len() / key_size` elements in one call
    /// (`BPF_MAP_DELETE_BATCH`); returns how many.
    pub fn delete_batch(&self, keys: &[u8]) -> Result<u32> {
        self.r().delete_batch(keys, 0).map_err(|(n, e)| self.err(&format!("batch delete (after {n} elements)"), e))
    }

    /// Pins the map at `path` in a bpffs.
    pub fn pin(&self, path: impl AsRef<Path>) -> Result<()> {
        crate::pin::pin_fd(self.fd.as_fd(), path.as_ref(), &format!("map '{}'", self.name))
    }
}

impl AsFd for MapHandle {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Iterator of [`MapHandle::keys`].
pub struct Keys<'a> {
    map: &'a MapHandle,
    prev: Option<Vec<u8>>,
    /// Keys returned so far, for maps whose walk can restart.
    seen: Option<HashSet<Vec<u8>>>,
    /// Steps since the last new key: a restart re-walks at most every key
    /// once before finding a new one or the end.
    stale: u64,
    steps: u64,
    budget: u64,
    done: bool,
}

impl Iterator for Keys<'_> {
    type Item = Result<Vec<u8>>;

    fn next(&mut self) -> Option<Self::Item> {
        while !self.done {
            self.steps += 1;
            self.stale += 1;
            if self.steps > self.budget || self.stale > self.budget / 32 {
                self.done = true;
                let problem = MapProblem::IterationAborted { steps: self.budget };
                return Some(Err(Error::Map { map: self.map.name.clone(), problem }));
            }
            let mut next = vec![0u8; self.map.key_size()];
            match self.map.r().next_key(self.prev.as_deref(), &mut next) {
                Ok(true) => {
                    self.prev = Some(next.clone());
                    let new = self.seen.as_mut().is_none_or(|seen| seen.insert(next.clone()));
                    if new {
                        self.stale = 0;
                        return Some(Ok(next));
                    }
                }
                Ok(false) => self.done = true,
                Err(e) => {
                    self.done = true;
                    return Some(Err(self.map.err("next key", e)));
                }
            }
        }
        None
    }
}
