//! Map creation, element operations and map information.

use std::os::fd::{BorrowedFd, OwnedFd};

use bpfld_asm::types::MapType;

use crate::attr;
use crate::consts::BPF_F_VTYPE_BTF_OBJ_FD;
use crate::error::{Result, SysError};
use crate::obj::{get_fd_by_id, get_next_id, obj_info};
use crate::probe::possible_cpus;
use crate::syscall::{bpf, bpf_fd, c_buf_to_string, fd_u32, obj_name, opt_fd, ptr, ptr_mut, Cmd};

/// Parameters of `BPF_MAP_CREATE`; unset fields are zero / `None`.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapCreateAttr<'a> {
    /// `enum bpf_map_type` value.
    pub map_type: MapType,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// Template inner map of map-in-map types.
    pub inner_map_fd: Option<BorrowedFd<'a>>,
    /// NUMA node (used only with `BPF_F_NUMA_NODE`).
    pub numa_node: u32,
    /// Map name; the kernel keeps 15 bytes, so longer names are truncated.
    /// The kernel accepts only ASCII letters, digits, `_` and `.`.
    pub map_name: &'a str,
    /// Network device for offloaded maps.
    pub map_ifindex: u32,
    /// BTF object describing key and value.
    pub btf_fd: Option<BorrowedFd<'a>>,
    /// BTF type id of the key in `btf_fd`.
    pub btf_key_type_id: u32,
    /// BTF type id of the value in `btf_fd`.
    pub btf_value_type_id: u32,
    /// Kernel BTF type id of the value (struct_ops maps).
    pub btf_vmlinux_value_type_id: u32,
    /// Per-type extra (bloom filter hash count, arena address...).
    pub map_extra: u64,
    /// Module BTF holding `btf_vmlinux_value_type_id` (Linux >= 6.9);
    /// `BPF_F_VTYPE_BTF_OBJ_FD` is added to the flags when set.
    pub value_type_btf_obj_fd: Option<BorrowedFd<'a>>,
}

/// Creates a map (`BPF_MAP_CREATE`).
pub fn map_create(attr: &MapCreateAttr<'_>) -> Result<OwnedFd> {
    let mut a = attr::MapCreate {
        map_type: attr.map_type.raw(),
        key_size: attr.key_size,
        value_size: attr.value_size,
        max_entries: attr.max_entries,
        map_flags: attr.map_flags,
        inner_map_fd: opt_fd(attr.inner_map_fd),
        numa_node: attr.numa_node,
        map_name: obj_name(attr.map_name),
        map_ifindex: attr.map_ifindex,
        btf_fd: opt_fd(attr.btf_fd),
        btf_key_type_id: attr.btf_key_type_id,
        btf_value_type_id: attr.btf_value_type_id,
        btf_vmlinux_value_type_id: attr.btf_vmlinux_value_type_id,
        map_extra: attr.map_extra,
        ..Default::default()
    };
    if let Some(fd) = attr.value_type_btf_obj_fd {
        a.value_type_btf_obj_fd = fd_u32(fd) as i32;
        a.map_flags |= BPF_F_VTYPE_BTF_OBJ_FD;
    }
    // SAFETY: MapCreate holds no pointers.
    unsafe { bpf_fd(Cmd::MapCreate, &mut a) }.map_err(|e| SysError::bpf(Cmd::MapCreate, e).with_object(attr.map_name))
}

/// Information about a map (`BPF_OBJ_GET_INFO_BY_FD` on a map fd).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapInfo {
    /// `enum bpf_map_type` value.
    pub map_type: MapType,
    /// Kernel-wide map id.
    pub id: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes (per CPU for per-CPU maps).
    pub value_size: u32,
    /// Maximum number of entries.
    pub max_entries: u32,
    /// `BPF_F_*` map flags.
    pub map_flags: u32,
    /// Name (at most 15 bytes).
    pub name: String,
    /// Network device of offloaded maps.
    pub ifindex: u32,
    /// Kernel BTF type id of the value (struct_ops maps).
    pub btf_vmlinux_value_type_id: u32,
    /// Id of the BTF object describing key and value (0 if none).
    pub btf_id: u32,
    /// BTF type id of the key.
    pub btf_key_type_id: u32,
    /// BTF type id of the value.
    pub btf_value_type_id: u32,
    /// Per-type extra.
    pub map_extra: u64,
}

/// Returns information about the map behind `fd`.
pub fn map_info(fd: BorrowedFd<'_>) -> Result<MapInfo> {
    let mut info = attr::BpfMapInfo::default();
    // SAFETY: BpfMapInfo holds no pointers.
    unsafe { obj_info(fd, &mut info) }?;
    Ok(MapInfo {
        map_type: info.map_type.into(),
        id: info.id,
        key_size: info.key_size,
        value_size: info.value_size,
        max_entries: info.max_entries,
        map_flags: info.map_flags,
        name: c_buf_to_string(&info.name),
        ifindex: info.ifindex,
        btf_vmlinux_value_type_id: info.btf_vmlinux_value_type_id,
        btf_id: info.btf_id,
        btf_key_type_id: info.btf_key_type_id,
        btf_value_type_id: info.btf_value_type_id,
        map_extra: info.map_extra,
    })
}

/// A borrowed map fd together with the key and value sizes the kernel will
/// read and write through the element commands.
///
/// Why: `BPF_MAP_LOOKUP_ELEM` writes as many bytes as the *map* says into the
/// caller's buffer, so a too-short slice would be a buffer overflow. A
/// `MapRef` can only be built from the kernel's own description of the map
/// ([`MapRef::new`]), and every element operation checks the slices against
/// it. Build it once and reuse it to avoid the extra `map_info` call that
/// the free functions ([`map_lookup_elem`] ...) make each time.
#[derive(Clone, Copy, Debug)]
pub struct MapRef<'a> {
    fd: BorrowedFd<'a>,
    map_type: MapType,
    key_size: usize,
    value_size: usize,
    name: [u8; attr::OBJ_NAME_LEN],
}

impl<'a> MapRef<'a> {
    /// Queries the map behind `fd` for its type and sizes.
    pub fn new(fd: BorrowedFd<'a>) -> Result<Self> {
        let info = map_info(fd)?;
        let value_size = syscall_value_size(info.map_type, info.value_size)?;
        Ok(MapRef { fd, map_type: info.map_type, key_size: info.key_size as usize, value_size, name: obj_name(&info.name) })
    }

    /// A `MapRef` from the kernel's description of the map behind `fd`,
    /// already queried ([`map_info`] of that same fd), without another
    /// system call.
    pub fn with_info(fd: BorrowedFd<'a>, info: &MapInfo) -> Result<Self> {
        let value_size = syscall_value_size(info.map_type, info.value_size)?;
        Ok(MapRef { fd, map_type: info.map_type, key_size: info.key_size as usize, value_size, name: obj_name(&info.name) })
    }

    /// The map fd.
    pub fn fd(&self) -> BorrowedFd<'a> {
        self.fd
    }

    /// The `enum bpf_map_type` value.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// Length a key slice must have (0 for queue, stack and bloom filter
    /// maps, which take no key).
    pub fn key_size(&self) -> usize {
        self.key_size
    }

    /// Length a value slice must have: the map's value size, except for
    /// per-CPU maps (`round_up(value_size, 8) * possible_cpus()`, one slot
    /// per possible CPU) and fd maps (4, a fd in and an id out).
    pub fn value_size(&self) -> usize {
        self.value_size
    }

    fn err(&self, cmd: Cmd, e: std::io::Error) -> SysError {
        SysError::bpf(cmd, e).with_object(c_buf_to_string(&self.name))
    }

    fn check(&self, cmd: Cmd, what: &str, len: usize, want: usize) -> Result<()> {
        if len == want {
            Ok(())
        } else {
            Err(SysError::invalid(cmd, format!("{what} is {len} bytes, the map needs {want}")).with_object(c_buf_to_string(&self.name)))
        }
    }

    /// Runs an element command; `Ok(false)` on `ENOENT` if `enoent_is_none`.
    ///
    /// # Safety
    ///
    /// `a.key` and `a.value` must point to buffers of the sizes the kernel
    /// reads / writes for `cmd` on this map, or be NULL where allowed.
    unsafe fn elem(&self, cmd: Cmd, a: &mut attr::MapElem, enoent_is_none: bool) -> Result<bool> {
        a.map_fd = fd_u32(self.fd);
        // SAFETY: forwarded contract.
        match unsafe { bpf(cmd, a) } {
            Ok(_) => Ok(true),
            Err(e) if enoent_is_none && e.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(self.err(cmd, e)),
        }
    }

    /// Creates or updates an element (`BPF_MAP_UPDATE_ELEM`); `flags` is
    /// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`, optionally `| BPF_F_LOCK`.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
        let cmd = Cmd::MapUpdateElem;
        self.check(cmd, "key", key.len(), self.key_size)?;
        self.check(cmd, "value", value.len(), self.value_size)?;
        let mut a = attr::MapElem { key: ptr(key), value: ptr(value), flags, ..Default::default() };
        // SAFETY: key and value have exactly the sizes the kernel reads.
        unsafe { self.elem(cmd, &mut a, false) }.map(drop)
    }

    /// Looks an element up (`BPF_MAP_LOOKUP_ELEM`) into `value`; `Ok(false)`
    /// if there is none (`ENOENT`). For bloom filters `value` is the input.
    pub fn lookup(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
        self.read_elem(Cmd::MapLookupElem, key, value, flags)
    }

    /// A command that reads the value of `key` into `value`: lookup, and
    /// lookup-and-delete.
    fn read_elem(&self, cmd: Cmd, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
        self.check(cmd, "key", key.len(), self.key_size)?;
        self.check(cmd, "value", value.len(), self.value_size)?;
        let mut a = attr::MapElem { key: ptr(key), value: ptr_mut(value), flags, ..Default::default() };
        // SAFETY: key and value have exactly the sizes the kernel accesses.
        unsafe { self.elem(cmd, &mut a, true) }
    }

    /// Deletes an element (`BPF_MAP_DELETE_ELEM`); a missing key is an
    /// `ENOENT` error, array maps fail with `EINVAL`.
    pub fn delete(&self, key: &[u8]) -> Result<()> {
        let cmd = Cmd::MapDeleteElem;
        self.check(cmd, "key", key.len(), self.key_size)?;
        let mut a = attr::MapElem { key: ptr(key), ..Default::default() };
        // SAFETY: key has exactly the size the kernel reads.
        unsafe { self.elem(cmd, &mut a, false) }.map(drop)
    }

    /// Writes the key following `key` (the first key if `None`) into
    /// `next_key` (`BPF_MAP_GET_NEXT_KEY`); `Ok(false)` at the end.
    pub fn next_key(&self, key: Option<&[u8]>, next_key: &mut [u8]) -> Result<bool> {
        let cmd = Cmd::MapGetNextKey;
        if let Some(key) = key {
            self.check(cmd, "key", key.len(), self.key_size)?;
        }
        self.check(cmd, "next key", next_key.len(), self.key_size)?;
        let mut a = attr::MapElem { key: key.map_or(0, ptr), value: ptr_mut(next_key), ..Default::default() };
        // SAFETY: key (or NULL) and next_key have the key size.
        unsafe { self.elem(cmd, &mut a, true) }
    }

    /// Looks an element up and deletes it (`BPF_MAP_LOOKUP_AND_DELETE_ELEM`;
    /// pop for queue and stack maps); `Ok(false)` if there is none.
    pub fn lookup_and_delete(&self, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
        self.read_elem(Cmd::MapLookupAndDeleteElem, key, value, flags)
    }

    /// Bytes of the opaque position token of batch operations: the kernel
    /// reads and writes `key_size` bytes for some map types and 4 for
    /// others, so this is the larger.
    pub fn batch_token_size(&self) -> usize {
        self.key_size.max(8)
    }

    /// Reads up to `count` elements in one call (`BPF_MAP_LOOKUP_BATCH`, or
    /// `BPF_MAP_LOOKUP_AND_DELETE_BATCH` if `delete`), starting after
    /// position `in_batch` (`None`: from the start); `keys` and `values`
    /// hold `count` keys and values back to back, `out_batch` receives the
    /// position to continue from. Returns how many elements were read and
    /// whether more may follow (`false` once the kernel says `ENOENT`).
    /// Map types without batch support fail with `EINVAL` or `ENOTSUPP`.
    pub fn lookup_batch(&self, io: BatchBuffers<'_>, count: u32, elem_flags: u64, delete: bool) -> Result<(u32, bool)> {
        let cmd = if delete { Cmd::MapLookupAndDeleteBatch } else { Cmd::MapLookupBatch };
        self.check_batch(cmd, &io, count)?;
        let mut a = attr::MapBatch {
            in_batch: io.in_batch.map_or(0, ptr),
            out_batch: ptr_mut(io.out_batch),
            keys: ptr_mut(io.keys),
            values: ptr_mut(io.values),
            count,
            map_fd: fd_u32(self.fd),
            elem_flags,
            flags: 0,
        };
        // SAFETY: check_batch checked every buffer against count and the
        // map's sizes; the kernel writes `count` on return.
        match unsafe { bpf(cmd, &mut a) } {
            Ok(_) => Ok((a.count, true)),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => Ok((a.count, false)),
            Err(e) => Err(self.err(cmd, e)),
        }
    }

    fn check_batch(&self, cmd: Cmd, io: &BatchBuffers<'_>, count: u32) -> Result<()> {
        let tok = self.batch_token_size();
        if let Some(b) = io.in_batch {
            self.check(cmd, "in_batch", b.len(), tok)?;
        }
        self.check(cmd, "out_batch", io.out_batch.len(), tok)?;
        self.check(cmd, "keys", io.keys.len(), self.key_size.saturating_mul(count as usize))?;
        self.check(cmd, "values", io.values.len(), self.value_size.saturating_mul(count as usize))
    }

    /// Creates or updates `keys.len() / key_size` elements in one call
    /// (`BPF_MAP_UPDATE_BATCH`). Returns how many were written before an
    /// error, with the error.
    pub fn update_batch(&self, keys: &[u8], values: &[u8], elem_flags: u64) -> Result<u32, (u32, SysError)> {
        let cmd = Cmd::MapUpdateBatch;
        let count = self.batch_count(cmd, keys).map_err(|e| (0, e))?;
        self.check(cmd, "values", values.len(), self.value_size.saturating_mul(count as usize)).map_err(|e| (0, e))?;
        let mut a =
            attr::MapBatch { keys: ptr(keys), values: ptr(values), count, map_fd: fd_u32(self.fd), elem_flags, ..Default::default() };
        // SAFETY: keys and values hold `count` elements of the map's sizes.
        match unsafe { bpf(cmd, &mut a) } {
            Ok(_) => Ok(a.count),
            Err(e) => Err((a.count, self.err(cmd, e))),
        }
    }

    /// Deletes `keys.len() / key_size` elements in one call
    /// (`BPF_MAP_DELETE_BATCH`). Returns how many were deleted before an
    /// error, with the error (`ENOENT` for a missing key).
    pub fn delete_batch(&self, keys: &[u8], elem_flags: u64) -> Result<u32, (u32, SysError)> {
        let cmd = Cmd::MapDeleteBatch;
        let count = self.batch_count(cmd, keys).map_err(|e| (0, e))?;
        let mut a = attr::MapBatch { keys: ptr(keys), count, map_fd: fd_u32(self.fd), elem_flags, ..Default::default() };
        // SAFETY: keys holds `count` keys of the map's size.
        match unsafe { bpf(cmd, &mut a) } {
            Ok(_) => Ok(a.count),
            Err(e) => Err((a.count, self.err(cmd, e))),
        }
    }

    fn batch_count(&self, cmd: Cmd, keys: &[u8]) -> Result<u32> {
        if self.key_size == 0 || keys.len() % self.key_size != 0 {
            return Err(SysError::invalid(cmd, format!("keys are {} bytes, not a multiple of the key size {}", keys.len(), self.key_size))
                .with_object(c_buf_to_string(&self.name)));
        }
        u32::try_from(keys.len() / self.key_size)
            .map_err(|_| SysError::invalid(cmd, "too many keys").with_object(c_buf_to_string(&self.name)))
    }

    /// Freezes the map (`BPF_MAP_FREEZE`): from then on user space can no
    /// longer modify it (updates fail with `EPERM`), which lets the verifier
    /// treat `.rodata` contents as constants.
    pub fn freeze(&self) -> Result<()> {
        map_freeze(self.fd)
    }
}

/// The buffers of [`MapRef::lookup_batch`].
#[derive(Debug)]
pub struct BatchBuffers<'b> {
    /// Position to start after (`None`: the start of the map); from a
    /// previous call's `out_batch`.
    pub in_batch: Option<&'b [u8]>,
    /// Receives the position to continue from
    /// ([`MapRef::batch_token_size`] bytes).
    pub out_batch: &'b mut [u8],
    /// `count` keys.
    pub keys: &'b mut [u8],
    /// `count` values ([`MapRef::value_size`] each).
    pub values: &'b mut [u8],
}

/// Bytes the kernel copies per element for `map_type` (`bpf_map_value_size`).
fn syscall_value_size(map_type: MapType, value_size: u32) -> Result<usize> {
    let value_size = value_size as usize;
    match map_type {
        MapType::PERCPU_HASH | MapType::PERCPU_ARRAY | MapType::LRU_PERCPU_HASH | MapType::PERCPU_CGROUP_STORAGE => {
            let cpus = possible_cpus()?;
            Ok(value_size.next_multiple_of(8).saturating_mul(cpus))
        }
        MapType::PROG_ARRAY | MapType::PERF_EVENT_ARRAY | MapType::CGROUP_ARRAY | MapType::ARRAY_OF_MAPS | MapType::HASH_OF_MAPS => Ok(4),
        _ => Ok(value_size),
    }
}

/// [`MapRef::update`] on `fd` (queries the map's sizes first).
pub fn map_update_elem(fd: BorrowedFd<'_>, key: &[u8], value: &[u8], flags: u64) -> Result<()> {
    MapRef::new(fd)?.update(key, value, flags)
}

/// [`MapRef::lookup`] on `fd` (queries the map's sizes first).
pub fn map_lookup_elem(fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
    MapRef::new(fd)?.lookup(key, value, flags)
}

/// [`MapRef::delete`] on `fd` (queries the map's sizes first).
pub fn map_delete_elem(fd: BorrowedFd<'_>, key: &[u8]) -> Result<()> {
    MapRef::new(fd)?.delete(key)
}

/// [`MapRef::next_key`] on `fd` (queries the map's sizes first).
pub fn map_get_next_key(fd: BorrowedFd<'_>, key: Option<&[u8]>, next_key: &mut [u8]) -> Result<bool> {
    MapRef::new(fd)?.next_key(key, next_key)
}

/// [`MapRef::lookup_and_delete`] on `fd` (queries the map's sizes first).
pub fn map_lookup_and_delete_elem(fd: BorrowedFd<'_>, key: &[u8], value: &mut [u8], flags: u64) -> Result<bool> {
    MapRef::new(fd)?.lookup_and_delete(key, value, flags)
}

/// Freezes a map (`BPF_MAP_FREEZE`), see [`MapRef::freeze`].
pub fn map_freeze(fd: BorrowedFd<'_>) -> Result<()> {
    let mut a = attr::MapElem { map_fd: fd_u32(fd), ..Default::default() };
    // SAFETY: no pointers are set.
    unsafe { bpf(Cmd::MapFreeze, &mut a) }.map(drop).map_err(|e| SysError::bpf(Cmd::MapFreeze, e))
}

/// The next map id after `start` (`BPF_MAP_GET_NEXT_ID`), `None` at the end.
pub fn map_get_next_id(start: u32) -> Result<Option<u32>> {
    get_next_id(Cmd::MapGetNextId, start)
}

/// Opens the map with the given id (`BPF_MAP_GET_FD_BY_ID`).
pub fn map_get_fd_by_id(id: u32) -> Result<OwnedFd> {
    get_fd_by_id(Cmd::MapGetFdById, id)
}
