//! Map specifications: what the loader creates, before any fd exists.

use bpfld_asm::types::MapType;

/// Where a map comes from; decides naming, relocation and load-time steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapOrigin {
    /// A BTF-defined map in `.maps`.
    Btf,
    /// A legacy `struct bpf_map_def` in the `maps` section (libbpf 1.x
    /// dropped these; bpfld still loads them).
    Legacy,
    /// `.data` / `.data.*`.
    Data,
    /// `.rodata` / `.rodata.*`: read-only for programs and frozen after
    /// its initial value is written.
    Rodata,
    /// `.bss`.
    Bss,
    /// `.kconfig` externs.
    Kconfig,
    /// A variable of `.struct_ops` / `.struct_ops.link` (see
    /// [`crate::struct_ops`]).
    StructOps,
}

impl MapOrigin {
    /// `.data`, `.rodata`, `.bss` or `.kconfig`: a single-entry array
    /// holding a section.
    pub fn is_global_data(&self) -> bool {
        matches!(self, MapOrigin::Data | MapOrigin::Rodata | MapOrigin::Bss | MapOrigin::Kconfig)
    }
}

/// A slot of a map-in-map or prog-array filled at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitSlot {
    /// The slot's index (key) in the outer map.
    pub index: u32,
    /// Name of the inner map (map-in-map) or program (prog array).
    pub target: String,
}

/// A map to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapSpec {
    /// The name given to the kernel (at most 15 characters).
    pub name: String,
    /// The full name: the map's symbol, or the ELF section for global data.
    pub real_name: String,
    /// Where the definition comes from.
    pub origin: MapOrigin,
    /// The map's type.
    pub map_type: MapType,
    /// Bytes of a key.
    pub key_size: u32,
    /// Bytes of a value.
    pub value_size: u32,
    /// The number of entries, as the object declares it (0 for a perf
    /// event array means one per possible CPU at creation).
    pub max_entries: u32,
    /// `BPF_F_*` creation flags.
    pub map_flags: u32,
    /// `map_extra` (bloom filter hashes, arena address hint).
    pub map_extra: u64,
    /// NUMA node, used with `BPF_F_NUMA_NODE`.
    pub numa_node: u32,
    /// `LIBBPF_PIN_NONE` (0) or `LIBBPF_PIN_BY_NAME` (1).
    pub pinning: u32,
    /// Object-BTF ids of the key and value types (0: none).
    pub btf_key_type_id: u32,
    /// The value type's id in the object's BTF (0: none).
    pub btf_value_type_id: u32,
    /// Definition of the inner map of a map-in-map.
    pub inner: Option<Box<MapSpec>>,
    /// Slots of a map-in-map or prog array filled at load.
    pub init_slots: Vec<InitSlot>,
    /// Initial contents of a global data map: `value_size` bytes, or empty
    /// for all zeros (a `.bss` until one of its variables is set).
    pub data: Vec<u8>,
    /// ELF section index and offset of the definition, for relocations.
    pub sec_idx: usize,
    /// Byte offset of the definition in that section.
    pub sec_offset: u64,
}

impl MapSpec {
    /// A global data map (`.data`, `.rodata`, `.bss`, `.kconfig`...): a
    /// single-entry array whose value is the section, described by its
    /// DATASEC (`btf_value_type_id`, 0 if none). `sec_idx` is left at
    /// `usize::MAX` (no ELF section, as for `.kconfig`).
    pub fn global_data(
        obj_name: &str,
        section: &str,
        origin: MapOrigin,
        value_size: u32,
        map_flags: u32,
        btf_value_type_id: u32,
        data: Vec<u8>,
    ) -> MapSpec {
        MapSpec {
            name: internal_map_name(obj_name, section),
            real_name: section.to_string(),
            origin,
            map_type: bpfld_asm::types::MapType::ARRAY,
            key_size: 4,
            value_size,
            max_entries: 1,
            map_flags,
            map_extra: 0,
            numa_node: 0,
            pinning: 0,
            btf_key_type_id: 0,
            btf_value_type_id,
            inner: None,
            init_slots: Vec::new(),
            data,
            sec_idx: usize::MAX,
            sec_offset: 0,
        }
    }

    /// `.rodata` or `.kconfig`: frozen after its value is written.
    pub fn is_rodata(&self) -> bool {
        matches!(self.origin, MapOrigin::Rodata | MapOrigin::Kconfig)
    }
}

/// `BPF_OBJ_NAME_LEN`: map and program names the kernel keeps, NUL included.
pub const OBJ_NAME_LEN: usize = 16;

/// The kernel-visible name of a global data map, as libbpf forms it: up to 8
/// characters of the object name then the section name for `.data`,
/// `.rodata`, `.bss` and `.kconfig`; the section name alone for custom
/// `.data.*`/`.rodata.*` sections; cut to 15 characters, with characters
/// the kernel rejects replaced by `_`. Matching libbpf keeps map names, and
/// so pinned paths and tools' views, the same under either loader.
pub fn internal_map_name(obj_name: &str, section: &str) -> String {
    let max = OBJ_NAME_LEN - 1;
    let sfx_len = section.len().max(7).min(max);
    let custom = section.len() > 1 && section[1..].contains('.');
    let pfx_len = if custom { 0 } else { (max - sfx_len).min(obj_name.len()) };
    let mut name: String = obj_name.bytes().take(pfx_len).map(char::from).collect();
    name.extend(section.bytes().take(sfx_len).map(char::from));
    name.truncate(max);
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '.' { c } else { '_' }).collect()
}

#[cfg(test)]
mod tests {
    use super::internal_map_name;

    #[test]
    fn names_follow_libbpf() {
        assert_eq!(internal_map_name("my_object_name", ".rodata"), "my_objec.rodata");
        assert_eq!(internal_map_name("my_object_name", ".bss"), "my_objec.bss");
        assert_eq!(internal_map_name("my_object_name", ".kconfig"), "my_obje.kconfig");
        assert_eq!(internal_map_name("my_object_name", ".rodata.abracadabra"), ".rodata.abracad");
        assert_eq!(internal_map_name("globals", ".data.custom"), ".data.custom");
        assert_eq!(internal_map_name("a-b", ".data"), "a_b.data");
    }
}
