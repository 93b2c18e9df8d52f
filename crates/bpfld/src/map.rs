//! A created map, by name: element operations with sizes checked against
//! the kernel's own description of the map.

use std::os::fd::{AsFd, BorrowedFd};

use bpfld_sys::MapRef;

use crate::error::{Error, Result};
use crate::loader::LoadedMap;

/// A map of a loaded object.
#[derive(Clone, Copy, Debug)]
pub struct Map<'a> {
    loaded: &'a LoadedMap,
    r: MapRef<'a>,
}

impl<'a> Map<'a> {
    pub(crate) fn new(loaded: &'a LoadedMap) -> Result<Map<'a>> {
        let r = MapRef::new(loaded.fd.as_fd()).map_err(|e| Error::kernel(format!("map '{}'", loaded.spec.real_name), e))?;
        Ok(Map { loaded, r })
    }

    fn err(&self, what: &str, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("map '{}': {what}", self.loaded.spec.real_name), e)
    }

    /// The name the kernel knows (at most 15 characters).
    pub fn name(&self) -> &'a str {
        &self.loaded.spec.name
    }

    /// The full name: the map's symbol, or the section of global data.
    pub fn real_name(&self) -> &'a str {
        &self.loaded.spec.real_name
    }

    pub fn spec(&self) -> &'a bpfld_obj::MapSpec {
        &self.loaded.spec
    }

    pub fn map_type(&self) -> u32 {
        self.r.map_type()
    }

    pub fn key_size(&self) -> usize {
        self.r.key_size()
    }

    /// Bytes of a value through the syscall interface (one slot per
    /// possible CPU for per-CPU maps, 4 for fd maps).
    pub fn value_size(&self) -> usize {
        self.r.value_size()
    }

    pub fn fd(&self) -> BorrowedFd<'a> {
        self.loaded.fd.as_fd()
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

    pub fn delete(&self, key: &[u8]) -> Result<()> {
        self.r.delete(key).map_err(|e| self.err("delete", e))
    }

    /// Freezes the map: user space can no longer change it.
    pub fn freeze(&self) -> Result<()> {
        self.r.freeze().map_err(|e| self.err("freeze", e))
    }

    /// Every key, in the kernel's order.
    pub fn keys(&self) -> Keys<'a> {
        Keys { map: *self, prev: None, done: false }
    }

    pub fn lookup_u32(&self, key: u32) -> Result<Option<Vec<u8>>> {
        self.lookup(&key.to_ne_bytes())
    }

    pub fn update_u32(&self, key: u32, value: &[u8]) -> Result<()> {
        self.update(&key.to_ne_bytes(), value, 0)
    }

    pub fn delete_u32(&self, key: u32) -> Result<()> {
        self.delete(&key.to_ne_bytes())
    }

    pub fn lookup_u64(&self, key: u64) -> Result<Option<Vec<u8>>> {
        self.lookup(&key.to_ne_bytes())
    }

    pub fn update_u64(&self, key: u64, value: &[u8]) -> Result<()> {
        self.update(&key.to_ne_bytes(), value, 0)
    }

    /// The value at a `u32` key read as a `u64` (counters).
    pub fn get_u64_at(&self, key: u32) -> Result<Option<u64>> {
        Ok(self.lookup_u32(key)?.and_then(|v| v.get(..8).map(|b| u64::from_ne_bytes(b.try_into().expect("8 bytes")))))
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
