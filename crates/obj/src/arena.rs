//! `__arena` global variables: the `.addr_space.1` section lives in the
//! object's `BPF_MAP_TYPE_ARENA` map, as libbpf 1.7 places it. Their
//! references become `ld_imm64` of the arena map's value (which the
//! verifier turns into the arena's user address) plus the variable's
//! offset in the arena; their initial values are copied into the arena
//! once the loader has mapped it.
//!
//! Where in the arena: at its end (the last pages that hold the section),
//! on kernels whose verifier takes any `ld_imm64` map value offset
//! ([`KernelFeatures::ldimm64_full_range_off`](crate::KernelFeatures),
//! libbpf's `FEAT_LDIMM64_FULL_RANGE_OFF`), else at its start.

use crate::map::MapSpec;
use crate::target::Target;

/// The ELF section of `__arena` variables (clang's address space 1).
pub const ARENA_SEC: &str = ".addr_space.1";

/// Target fact: the page size (arena sizes count pages). Missing: 4096.
pub const PAGE_SIZE_FACT: &str = "PAGE_SIZE";

const DEFAULT_PAGE_SIZE: u64 = 4096;

/// The arena variables of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArenaGlobals {
    /// The arena map (index in [`crate::Object::maps`]).
    pub map: usize,
    /// ELF index of `.addr_space.1`.
    pub sec_idx: usize,
    /// Initial values: the section's bytes (settable before the load).
    pub data: Vec<u8>,
    /// Object-BTF id of the section's DATASEC (0: none).
    pub btf_datasec: u32,
}

/// Where the arena variables go, for the loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArenaPlan {
    /// Index of the arena map in the plan's maps.
    pub map: usize,
    /// Offset of `.addr_space.1` in the arena mapping.
    pub data_off: u64,
    /// The variables' initial bytes (the `.addr_space.1` section).
    pub data: Vec<u8>,
}

/// Why an object's arena does not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArenaError {
    /// More than one ARENA map (libbpf supports one).
    TwoArenas {
        /// The first ARENA map's name.
        first: String,
        /// The other one's.
        second: String,
    },
    /// `__arena` variables without an ARENA map.
    NoArenaMap,
    /// The variables do not fit the arena.
    TooSmall {
        /// The arena's size in bytes (`max_entries` 4 KiB pages).
        size: u64,
        /// Bytes of the `__arena` variables.
        data_len: usize,
    },
}

impl std::fmt::Display for ArenaError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArenaError::TwoArenas { first, second } => {
                write!(f, "map '{second}': only single ARENA map is supported (map '{first}' is also ARENA)")
            }
            ArenaError::NoArenaMap => write!(
                f,
                "section '{ARENA_SEC}': to use global __arena variables the ARENA map should be explicitly declared in SEC(\".maps\")"
            ),
            ArenaError::TooSmall { size, data_len } => write!(
                f,
                "section '{ARENA_SEC}': declared ARENA map size ({size}) is too small to hold global __arena variables of size {data_len}"
            ),
        }
    }
}

impl std::error::Error for ArenaError {}

impl crate::error::Kind for ArenaError {
    fn kind(&self) -> crate::error::ErrorKind {
        match self {
            ArenaError::TwoArenas { .. } => crate::error::ErrorKind::Unsupported,
            _ => crate::error::ErrorKind::InvalidInput,
        }
    }
}

/// The object's arena map: libbpf allows one. `has_data`: the object has
/// arena variables, which need one.
pub fn find_arena_map(maps: &[MapSpec], has_data: bool) -> Result<Option<usize>, ArenaError> {
    let mut arenas = maps.iter().enumerate().filter(|(_, m)| m.map_type == bpfld_asm::types::MapType::ARENA);
    let first = arenas.next();
    if let (Some((_, a)), Some((_, b))) = (first, arenas.next()) {
        return Err(ArenaError::TwoArenas { first: a.real_name.clone(), second: b.real_name.clone() });
    }
    if has_data && first.is_none() {
        return Err(ArenaError::NoArenaMap);
    }
    Ok(first.map(|(i, _)| i))
}

/// The arena's size in bytes: `max_entries` pages.
pub fn arena_size(map: &MapSpec, page_size: u64) -> u64 {
    page_size * u64::from(map.max_entries)
}

/// Checks at open that the variables fit the arena (libbpf's
/// `init_arena_map_data`, with a 4 KiB page).
pub fn check_fits(map: &MapSpec, data_len: usize) -> Result<(), ArenaError> {
    let need = (data_len as u64).next_multiple_of(DEFAULT_PAGE_SIZE);
    let size = arena_size(map, DEFAULT_PAGE_SIZE);
    if need > size {
        return Err(ArenaError::TooSmall { size, data_len });
    }
    Ok(())
}

/// The offset of the variables in the arena on `target` (0 without one).
pub fn data_offset(map: &MapSpec, data_len: usize, target: Option<&Target>) -> u64 {
    let Some(t) = target else { return 0 };
    if !t.features().ldimm64_full_range_off {
        return 0;
    }
    let page = t.overrides.get(PAGE_SIZE_FACT).copied().filter(|&p| p > 0).unwrap_or(DEFAULT_PAGE_SIZE);
    arena_size(map, page).saturating_sub((data_len as u64).next_multiple_of(page))
}
