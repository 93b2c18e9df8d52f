//! Maps with Rust types for their keys and values: plain-old-data types
//! ([`Pod`], from `bytemuck`: `#[derive(Pod, Zeroable, Clone, Copy)]` on
//! a `#[repr(C)]` struct without padding), checked against the map's type
//! and sizes when the typed map is made:
//!
//! ```no_run
//! # fn main() -> bpfld::Result<()> {
//! # let obj = bpfld::OpenObject::open("prog.bpf.o")?.load()?;
//! use bpfld::typed_maps::{HashMap, PerCpuArray};
//! let counts: HashMap<u32, u64> = obj.take_map("counts")?.try_into()?;
//! counts.insert(&7, &1)?;
//! for entry in counts.iter() {
//!     let (pid, n) = entry?;
//!     println!("{pid}: {n}");
//! }
//! let hist: PerCpuArray<u64> = obj.take_map("hist")?.try_into()?;
//! let slot0: u64 = hist.get(0)?.iter().sum(); // one value per possible CPU
//! # let _ = slot0; Ok(()) }
//! ```
//!
//! Each typed map owns its [`MapHandle`], so it is `Send + Sync` and can
//! live in another thread than the object it came from.

use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};

use bpfld_asm::types::{MapType, MapType as mt};
pub use bytemuck::{Pod, Zeroable};

use crate::error::{Error, MapProblem, Result};
use crate::map_handle::MapHandle;

/// `BPF_ANY`: create or update.
pub const BPF_ANY: u64 = 0;
/// `BPF_NOEXIST`: create only.
pub const BPF_NOEXIST: u64 = 1;
/// `BPF_EXIST`: update only.
pub const BPF_EXIST: u64 = 2;

fn check(h: &MapHandle, types: &[MapType], key: usize, value: Option<usize>) -> Result<()> {
    if !types.contains(&h.map_type()) {
        let problem = MapProblem::WrongType { actual: h.map_type(), wanted: types.to_vec() };
        return Err(Error::Map { map: h.name().to_string(), problem });
    }
    if h.key_size() != key {
        return Err(Error::Map { map: h.name().to_string(), problem: MapProblem::KeySize { map: h.key_size(), rust: key } });
    }
    if let Some(v) = value {
        if h.info().value_size as usize != v {
            let problem = MapProblem::ValueSize { map: h.info().value_size as usize, rust: v };
            return Err(Error::Map { map: h.name().to_string(), problem });
        }
    }
    Ok(())
}

fn read<T: Pod>(b: &[u8]) -> T {
    bytemuck::pod_read_unaligned(&b[..size_of::<T>()])
}

/// Splits a per-CPU value (8-byte aligned slots) into one value per CPU.
fn per_cpu<V: Pod>(b: &[u8]) -> Vec<V> {
    b.chunks(size_of::<V>().next_multiple_of(8)).map(read).collect()
}

fn per_cpu_bytes<V: Pod>(h: &MapHandle, values: &[V]) -> Result<Vec<u8>> {
    let stride = size_of::<V>().next_multiple_of(8);
    let cpus = h.value_size() / stride;
    if values.len() != cpus {
        return Err(Error::Map { map: h.name().to_string(), problem: MapProblem::PerCpuValues { given: values.len(), cpus } });
    }
    let mut out = vec![0u8; h.value_size()];
    for (slot, v) in out.chunks_mut(stride).zip(values) {
        slot[..size_of::<V>()].copy_from_slice(bytemuck::bytes_of(v));
    }
    Ok(out)
}

macro_rules! typed_map {
    ($(#[$m:meta])* $name:ident<$($p:ident),*>, $types:expr, $key:expr, $value:expr) => {
        $(#[$m])*
        #[derive(Debug)]
        pub struct $name<$($p),*> {
            h: MapHandle,
            _t: PhantomData<fn() -> ($($p,)*)>,
        }

        impl<$($p: Pod),*> TryFrom<MapHandle> for $name<$($p),*> {
            type Error = Error;
            fn try_from(h: MapHandle) -> Result<Self> {
                check(&h, $types, $key, $value)?;
                Ok($name { h, _t: PhantomData })
            }
        }

        impl<$($p),*> $name<$($p),*> {
            /// The untyped map.
            pub fn handle(&self) -> &MapHandle {
                &self.h
            }

            /// Gives the untyped map back.
            pub fn into_handle(self) -> MapHandle {
                self.h
            }
        }

        impl<$($p),*> AsFd for $name<$($p),*> {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.h.as_fd()
            }
        }
    };
}

typed_map!(
    /// A `BPF_MAP_TYPE_HASH` or `BPF_MAP_TYPE_LRU_HASH` map.
    HashMap<K, V>, &[mt::HASH, mt::LRU_HASH], size_of::<K>(), Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_PERCPU_HASH` or `BPF_MAP_TYPE_LRU_PERCPU_HASH` map:
    /// one value per possible CPU.
    PerCpuHashMap<K, V>, &[mt::PERCPU_HASH, mt::LRU_PERCPU_HASH], size_of::<K>(), Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_ARRAY` map.
    Array<V>, &[mt::ARRAY], 4, Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_PERCPU_ARRAY` map: one value per possible CPU.
    PerCpuArray<V>, &[mt::PERCPU_ARRAY], 4, Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_LPM_TRIE` map: keys are a prefix length in bits and
    /// the data `K` it applies to (`struct { __u32 prefixlen; K data; }`).
    LpmTrie<K, V>, &[mt::LPM_TRIE], 4 + size_of::<K>(), Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_QUEUE` map (first in, first out).
    Queue<V>, &[mt::QUEUE], 0, Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_STACK` map (last in, first out).
    Stack<V>, &[mt::STACK], 0, Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_BLOOM_FILTER` map.
    BloomFilter<V>, &[mt::BLOOM_FILTER], 0, Some(size_of::<V>()));
typed_map!(
    /// A `BPF_MAP_TYPE_ARRAY_OF_MAPS` (`K` = `u32`) or
    /// `BPF_MAP_TYPE_HASH_OF_MAPS` map: values are maps, set by fd, read
    /// back as map ids.
    MapOfMaps<K>, &[mt::ARRAY_OF_MAPS, mt::HASH_OF_MAPS], size_of::<K>(), None);
typed_map!(
    /// A `BPF_MAP_TYPE_PROG_ARRAY` (tail calls): programs set by fd, read
    /// back as program ids.
    ProgArray<>, &[mt::PROG_ARRAY], 4, None);
typed_map!(
    /// A `BPF_MAP_TYPE_SOCKMAP` (`K` = `u32`) or `BPF_MAP_TYPE_SOCKHASH`
    /// map: sockets set by fd, read back as socket cookies (for maps with
    /// 8-byte values).
    SockMap<K>, &[mt::SOCKMAP, mt::SOCKHASH], size_of::<K>(), None);

/// A `BPF_MAP_TYPE_LRU_HASH` is used as a [`HashMap`].
pub type LruHashMap<K, V> = HashMap<K, V>;
/// A `BPF_MAP_TYPE_SOCKHASH` is used as a [`SockMap`] with its key type.
pub type SockHash<K> = SockMap<K>;

impl<K: Pod, V: Pod> HashMap<K, V> {
    /// The value at `key`, `None` if absent.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        Ok(self.h.lookup(bytemuck::bytes_of(key))?.map(|v| read(&v)))
    }

    /// Creates or replaces.
    pub fn insert(&self, key: &K, value: &V) -> Result<()> {
        self.insert_with_flags(key, value, BPF_ANY)
    }

    /// `flags`: [`BPF_ANY`], [`BPF_NOEXIST`], [`BPF_EXIST`].
    pub fn insert_with_flags(&self, key: &K, value: &V, flags: u64) -> Result<()> {
        self.h.update(bytemuck::bytes_of(key), bytemuck::bytes_of(value), flags)
    }

    /// Removes `key`; false if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.h.delete(bytemuck::bytes_of(key))
    }

    /// Every key (see [`MapHandle::keys`] for concurrent changes).
    pub fn keys(&self) -> impl Iterator<Item = Result<K>> + '_ {
        self.h.keys().map(|k| k.map(|k| read(&k)))
    }

    /// Every (key, value).
    pub fn iter(&self) -> impl Iterator<Item = Result<(K, V)>> + '_ {
        self.h.entries().map(|e| e.map(|(k, v)| (read(&k), read(&v))))
    }

    /// Every (key, value) read with batch lookups, `chunk` per system call.
    pub fn get_batch(&self, chunk: u32) -> Result<Vec<(K, V)>> {
        Ok(self.h.lookup_batch(chunk, false)?.iter().map(|(k, v)| (read(k), read(v))).collect())
    }

    /// Every (key, value), deleted as they are read, in batches.
    pub fn drain_batch(&self, chunk: u32) -> Result<Vec<(K, V)>> {
        Ok(self.h.lookup_batch(chunk, true)?.iter().map(|(k, v)| (read(k), read(v))).collect())
    }

    /// Inserts `keys[i] -> values[i]` in one system call; returns how many.
    pub fn insert_batch(&self, keys: &[K], values: &[V]) -> Result<u32> {
        if keys.len() != values.len() {
            let problem = MapProblem::KeysValues { keys: keys.len(), values: values.len() };
            return Err(Error::Map { map: self.h.name().to_string(), problem });
        }
        self.h.update_batch(bytemuck::cast_slice(keys), bytemuck::cast_slice(values), BPF_ANY)
    }

    /// Removes `keys` in one system call; returns how many.
    pub fn remove_batch(&self, keys: &[K]) -> Result<u32> {
        self.h.delete_batch(bytemuck::cast_slice(keys))
    }
}

impl<K: Pod, V: Pod> PerCpuHashMap<K, V> {
    /// One value per possible CPU.
    pub fn get(&self, key: &K) -> Result<Option<Vec<V>>> {
        Ok(self.h.lookup(bytemuck::bytes_of(key))?.map(|v| per_cpu(&v)))
    }

    /// `values`: one per possible CPU.
    pub fn insert(&self, key: &K, values: &[V]) -> Result<()> {
        self.h.update(bytemuck::bytes_of(key), &per_cpu_bytes(&self.h, values)?, BPF_ANY)
    }

    /// Removes `key`; false if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.h.delete(bytemuck::bytes_of(key))
    }

    /// Every (key, values per CPU).
    pub fn iter(&self) -> impl Iterator<Item = Result<(K, Vec<V>)>> + '_ {
        self.h.entries().map(|e| e.map(|(k, v)| (read(&k), per_cpu(&v))))
    }

    /// Every (key, values per CPU) read with batch lookups.
    pub fn get_batch(&self, chunk: u32) -> Result<Vec<(K, Vec<V>)>> {
        Ok(self.h.lookup_batch(chunk, false)?.iter().map(|(k, v)| (read(k), per_cpu(v))).collect())
    }
}

impl<V: Pod> Array<V> {
    /// The value at `index`; an error past the end.
    pub fn get(&self, index: u32) -> Result<V> {
        let v = self.h.lookup(&index.to_ne_bytes())?.ok_or_else(|| self.out_of_range(index))?;
        Ok(read(&v))
    }

    fn out_of_range(&self, index: u32) -> Error {
        Error::Map { map: self.h.name().to_string(), problem: MapProblem::IndexPastEnd { index, max_entries: self.h.max_entries() } }
    }

    /// Writes the value at `index`; an error past the end.
    pub fn set(&self, index: u32, value: &V) -> Result<()> {
        self.h.update(&index.to_ne_bytes(), bytemuck::bytes_of(value), BPF_ANY)
    }

    /// The number of entries (`max_entries`: every index exists).
    pub fn len(&self) -> u32 {
        self.h.max_entries()
    }

    /// `max_entries` is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every value, in index order.
    pub fn iter(&self) -> impl Iterator<Item = Result<V>> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Every (index, value) read with batch lookups.
    pub fn get_batch(&self, chunk: u32) -> Result<Vec<(u32, V)>> {
        Ok(self.h.lookup_batch(chunk, false)?.iter().map(|(k, v)| (read(k), read(v))).collect())
    }
}

impl<V: Pod> PerCpuArray<V> {
    /// One value per possible CPU.
    pub fn get(&self, index: u32) -> Result<Vec<V>> {
        let v = self.h.lookup(&index.to_ne_bytes())?.ok_or_else(|| Error::Map {
            map: self.h.name().to_string(),
            problem: MapProblem::IndexPastEnd { index, max_entries: self.h.max_entries() },
        })?;
        Ok(per_cpu(&v))
    }

    /// `values`: one per possible CPU.
    pub fn set(&self, index: u32, values: &[V]) -> Result<()> {
        self.h.update(&index.to_ne_bytes(), &per_cpu_bytes(&self.h, values)?, BPF_ANY)
    }

    /// The number of entries (`max_entries`: every index exists).
    pub fn len(&self) -> u32 {
        self.h.max_entries()
    }

    /// `max_entries` is 0.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Pod, V: Pod> LpmTrie<K, V> {
    fn key(prefix_len: u32, data: &K) -> Vec<u8> {
        let mut k = prefix_len.to_ne_bytes().to_vec();
        k.extend_from_slice(bytemuck::bytes_of(data));
        k
    }

    /// Stores `value` for the first `prefix_len` bits of `data`.
    pub fn insert(&self, prefix_len: u32, data: &K, value: &V) -> Result<()> {
        self.h.update(&Self::key(prefix_len, data), bytemuck::bytes_of(value), BPF_ANY)
    }

    /// The value of the longest stored prefix that matches the first
    /// `prefix_len` bits of `data` (a full-length lookup finds the longest
    /// match of an address).
    pub fn get(&self, prefix_len: u32, data: &K) -> Result<Option<V>> {
        Ok(self.h.lookup(&Self::key(prefix_len, data))?.map(|v| read(&v)))
    }

    /// Removes exactly the prefix (`prefix_len`, `data`).
    pub fn remove(&self, prefix_len: u32, data: &K) -> Result<bool> {
        self.h.delete(&Self::key(prefix_len, data))
    }

    /// Every (prefix length, data, value).
    pub fn iter(&self) -> impl Iterator<Item = Result<(u32, K, V)>> + '_ {
        self.h.entries().map(|e| e.map(|(k, v)| (read::<u32>(&k), read(&k[4..]), read(&v))))
    }
}

macro_rules! push_pop {
    ($name:ident) => {
        impl<V: Pod> $name<V> {
            /// Adds a value; a full map refuses (`E2BIG`) unless `flags`
            /// is `BPF_EXIST` (which replaces the oldest).
            pub fn push(&self, value: &V, flags: u64) -> Result<()> {
                self.h.update(&[], bytemuck::bytes_of(value), flags)
            }

            /// Takes the next value out; `None` when empty.
            pub fn pop(&self) -> Result<Option<V>> {
                Ok(self.h.lookup_and_delete(&[])?.map(|v| read(&v)))
            }

            /// The next value, left in place; `None` when empty.
            pub fn peek(&self) -> Result<Option<V>> {
                Ok(self.h.lookup(&[])?.map(|v| read(&v)))
            }
        }
    };
}
push_pop!(Queue);
push_pop!(Stack);

impl<V: Pod> BloomFilter<V> {
    /// Adds `value` (a bloom filter has no keys and cannot remove).
    pub fn insert(&self, value: &V) -> Result<()> {
        self.h.update(&[], bytemuck::bytes_of(value), BPF_ANY)
    }

    /// Whether `value` may have been inserted (false: it surely was not).
    pub fn contains(&self, value: &V) -> Result<bool> {
        let mut v = bytemuck::bytes_of(value).to_vec();
        self.h.lookup_into(&[], &mut v)
    }
}

/// The `u32` that fd maps take through the syscall interface.
fn fd_value(fd: BorrowedFd<'_>) -> [u8; 4] {
    (fd.as_raw_fd() as u32).to_ne_bytes()
}

impl<K: Pod> MapOfMaps<K> {
    /// Puts the map `inner` (compatible with the template inner map) at
    /// `key`.
    pub fn set(&self, key: &K, inner: &impl AsFd) -> Result<()> {
        self.h.update(bytemuck::bytes_of(key), &fd_value(inner.as_fd()), BPF_ANY)
    }

    /// The id of the map at `key`.
    pub fn get(&self, key: &K) -> Result<Option<u32>> {
        Ok(self.h.lookup(bytemuck::bytes_of(key))?.map(|v| read(&v)))
    }

    /// Removes `key`; false if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.h.delete(bytemuck::bytes_of(key))
    }
}

impl ProgArray {
    /// Puts program `prog` at `index` (the target of `bpf_tail_call(ctx,
    /// &map, index)`).
    pub fn set(&self, index: u32, prog: BorrowedFd<'_>) -> Result<()> {
        self.h.update(&index.to_ne_bytes(), &fd_value(prog), BPF_ANY)
    }

    /// The id of the program at `index`.
    pub fn get(&self, index: u32) -> Result<Option<u32>> {
        Ok(self.h.lookup(&index.to_ne_bytes())?.map(|v| read(&v)))
    }

    /// Empties slot `index`; false if it was empty.
    pub fn remove(&self, index: u32) -> Result<bool> {
        self.h.delete(&index.to_ne_bytes())
    }
}

impl<K: Pod> SockMap<K> {
    /// Puts socket `sock` (a TCP socket that is established or listening,
    /// a UDP or unix socket) at `key`.
    pub fn set(&self, key: &K, sock: &impl AsFd) -> Result<()> {
        let fd = sock.as_fd().as_raw_fd() as u64;
        let v = if self.h.value_size() == 8 { fd.to_ne_bytes().to_vec() } else { (fd as u32).to_ne_bytes().to_vec() };
        self.h.update(bytemuck::bytes_of(key), &v, BPF_ANY)
    }

    /// The cookie of the socket at `key` (maps with 8-byte values; the
    /// kernel refuses lookups of 4-byte ones with `ENOSPC`).
    pub fn get(&self, key: &K) -> Result<Option<u64>> {
        Ok(self.h.lookup(bytemuck::bytes_of(key))?.map(|v| read(&v)))
    }

    /// Removes `key`; false if it was not there.
    pub fn remove(&self, key: &K) -> Result<bool> {
        self.h.delete(bytemuck::bytes_of(key))
    }
}
