//! Why a BTF-defined map (`.maps`) or an initial value of one is invalid:
//! where ([`MapPlace`]: the map, its attribute, the relocation) and what
//! ([`MapProblem`]: the value or kind found and what was wanted). The
//! messages are those libbpf-worded strings bpfld has always printed.

use std::fmt;

use bpfld_asm::types::MapType;
use bpfld_btf::{Kind, VarLinkage};

use crate::error::ErrorKind;

/// Why a BTF-defined map (`.maps`) or an initial value of one is invalid:
/// `at` is where ("map 'x'", "field 'key'"), outermost first.
#[derive(Debug, Clone)]
pub struct BtfMapError {
    /// Where, outermost first.
    pub at: Vec<MapPlace>,
    /// What is wrong there.
    pub problem: MapProblem,
}

/// Where in `.maps` (or `.rel.maps`) a problem is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MapPlace {
    /// The map of this name ("map 'x'"); an inner map definition is
    /// named `<outer>.inner`.
    Map(String),
    /// The map at this position of the DATASEC, before its name is known
    /// ("map #2").
    MapIndex(usize),
    /// The attribute (member of the definition) of this name ("field 'key'").
    Field(String),
    /// The attribute at this position, before its name is known ("field #1").
    FieldIndex(usize),
    /// A relocation of `.rel.maps`: its index, symbol and offset in `.maps`.
    Relocation {
        /// The relocation's index.
        index: usize,
        /// The symbol it names.
        symbol: String,
        /// Its offset in `.maps`.
        offset: u64,
    },
    /// Resolving the size of a `__type(...)` type.
    SizeOf(u32),
}

impl fmt::Display for MapPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MapPlace::Map(name) => write!(f, "map '{name}'"),
            MapPlace::MapIndex(i) => write!(f, "map #{i}"),
            MapPlace::Field(name) => write!(f, "field '{name}'"),
            MapPlace::FieldIndex(i) => write!(f, "field #{i}"),
            MapPlace::Relocation { index, symbol, offset } => write!(f, "relocation #{index} ('{symbol}') at offset {offset:#x}"),
            MapPlace::SizeOf(id) => write!(f, "can't determine the size of type [{id}]"),
        }
    }
}

/// The kind an attribute's encoding wanted at some step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// `__uint`: a PTR (to an ARRAY).
    Ptr,
    /// `__uint`: an ARRAY (whose length is the value).
    Array,
    /// `__ulong`: an ENUM or ENUM64 (or the `__uint` PTR).
    Enum,
}

/// Which attribute size two attributes disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeOf {
    /// `key_size` / `__type(key, ...)`.
    Key,
    /// `value_size` / `__type(value, ...)` / `values`.
    Value,
}

/// What a `values` array holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValuesOf {
    /// Programs of a prog array: pointers to FUNC_PROTOs.
    ProgArray,
    /// Inner maps of a map-in-map: pointers to a map definition struct.
    MapInMap,
}

impl fmt::Display for ValuesOf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValuesOf::ProgArray => "prog-array value",
            ValuesOf::MapInMap => "map-in-map inner",
        })
    }
}

/// What is wrong with a BTF-defined map.
#[derive(Debug, Clone)]
pub enum MapProblem {
    /// The object's BTF does not read there.
    Btf(bpfld_btf::Error),

    // The DATASEC and its VARs.
    /// The BTF has no `.maps` DATASEC.
    NoMapsSection,
    /// A VAR of `.maps` without a name.
    EmptyName,
    /// A VAR whose extent runs past the `.maps` section.
    PastSection {
        /// The VAR's offset in the section.
        offset: u32,
        /// The VAR's size.
        size: u32,
        /// The section's size.
        section_size: usize,
    },
    /// A DATASEC entry that is not a VAR.
    NotVar {
        /// Its kind.
        found: Kind,
    },
    /// A map VAR that is not global (unsupported, as in libbpf).
    Linkage {
        /// Its linkage.
        linkage: VarLinkage,
    },
    /// A map VAR whose type is not a struct.
    DefinitionNotStruct {
        /// The type (modifiers and typedefs skipped).
        type_id: u32,
    },
    /// A definition struct larger than its VAR.
    DefinitionTooLarge {
        /// The struct's size.
        size: u32,
        /// The VAR's size.
        var_size: u32,
    },

    // Attributes.
    /// An attribute libbpf does not know (strict mode).
    UnknownField {
        /// The attribute's name.
        name: String,
    },
    /// An attribute encoded with a type of the wrong kind.
    WrongKind {
        /// What was wanted.
        wanted: Wanted,
        /// What was found; `None` for void.
        found: Option<Kind>,
    },
    /// `__ulong` as an enum with other than one enumerator.
    UlongEnumerators {
        /// How many enumerators the enum has.
        count: usize,
    },
    /// `__type(...)` that is not a PTR.
    TypeNotPtr {
        /// What it is.
        found: Kind,
    },
    /// `__type(...)` of a type larger than 4 GiB.
    TypeTooLarge {
        /// The type.
        type_id: u32,
        /// Its size.
        size: u64,
    },
    /// Two attributes giving the key or value different sizes.
    ConflictingSize {
        /// Key or value.
        of: SizeOf,
        /// The size given first.
        old: u32,
        /// The size given now.
        new: u32,
    },
    /// `pinning` of an inner map definition.
    InnerPinned,
    /// A `pinning` value other than `LIBBPF_PIN_NONE`/`LIBBPF_PIN_BY_NAME`.
    BadPinning {
        /// The value.
        value: u32,
    },
    /// No `type` attribute (or `BPF_MAP_TYPE_UNSPEC`).
    NoMapType,

    // The `values` attribute.
    /// `values` in an inner map definition (unsupported, as in libbpf).
    NestedInner,
    /// `values` that is not the last attribute.
    ValuesNotLast,
    /// `values` in a map that is neither a map-in-map nor a prog array
    /// (or whose `type` comes after it).
    ValuesWithoutType {
        /// The map type declared before `values`.
        map_type: MapType,
    },
    /// A `values` array that is not zero-sized.
    ValuesNotZeroSized {
        /// What the array holds.
        of: ValuesOf,
    },
    /// A `values` element that is not a pointer.
    ValuesElementNotPtr {
        /// What the array holds.
        of: ValuesOf,
    },
    /// A `values` element pointing to the wrong kind of type (a prog array
    /// wants a FUNC_PROTO, a map-in-map a struct).
    ValuesTargetKind {
        /// What the array holds.
        of: ValuesOf,
        /// What the element points to; `None` for void.
        found: Option<Kind>,
    },

    // Initial values (`.rel.maps`).
    /// A relocation outside every map definition.
    NoMapAtRelocation,
    /// A map-in-map's initial value that is not a map of `.maps`.
    SlotNotBtfMap {
        /// The symbol.
        symbol: String,
    },
    /// A hash of maps with initial values whose key is not 4 bytes.
    HashOfMapsKeySize {
        /// Its key size, if declared.
        key_size: Option<u32>,
    },
    /// A map-in-map's initial value naming no map of the object.
    SlotMapUnknown {
        /// The symbol.
        symbol: String,
    },
    /// A prog array's initial value that is not a program.
    SlotNotProgram {
        /// The symbol.
        symbol: String,
    },
    /// A relocation into a map that takes no initial values.
    NoInitialValues {
        /// The relocation's offset in `.maps`.
        offset: u64,
        /// The map's type.
        map_type: MapType,
    },
    /// A relocation into a map without a `values` attribute.
    NoValuesField {
        /// The relocation's offset in `.maps`.
        offset: u64,
    },
    /// A relocation that is not on an 8-byte slot of `values`.
    NotValuesSlot {
        /// The relocation's offset in `.maps`.
        offset: u64,
    },
    /// A slot index beyond `u32`.
    SlotIndexTooLarge {
        /// The slot index.
        index: u64,
    },
    /// A slot index at or beyond `max_entries`.
    SlotBeyondMaxEntries {
        /// The slot index.
        index: u32,
        /// The map's `max_entries`.
        max_entries: u32,
    },
}

impl BtfMapError {
    /// The same error under an outer context.
    pub(crate) fn within(mut self, at: MapPlace) -> Self {
        self.at.insert(0, at);
        self
    }

    /// The name of the innermost map the error is in, if known.
    pub fn map_name(&self) -> Option<&str> {
        self.at.iter().rev().find_map(|p| match p {
            MapPlace::Map(name) => Some(name.as_str()),
            _ => None,
        })
    }

    /// The name of the attribute the error is in, if known.
    pub fn field(&self) -> Option<&str> {
        self.at.iter().rev().find_map(|p| match p {
            MapPlace::Field(name) => Some(name.as_str()),
            _ => None,
        })
    }
}

impl From<MapProblem> for BtfMapError {
    fn from(problem: MapProblem) -> Self {
        BtfMapError { at: Vec::new(), problem }
    }
}

impl From<bpfld_btf::Error> for BtfMapError {
    fn from(e: bpfld_btf::Error) -> Self {
        MapProblem::Btf(e).into()
    }
}

fn kind_name(kind: Option<Kind>) -> &'static str {
    kind.map_or("void", |k| k.name())
}

impl fmt::Display for MapProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use MapProblem::*;
        match self {
            Btf(e) => e.fmt(f),
            NoMapsSection => f.write_str("no DATASEC '.maps' in the object's BTF"),
            EmptyName => f.write_str("empty name"),
            PastSection { offset, size, section_size } => {
                write!(f, "definition at offset {offset:#x} size {size:#x} runs past the section's {section_size:#x} bytes")
            }
            NotVar { found } => write!(f, "unexpected kind {} (want VAR)", found.name()),
            Linkage { linkage } => write!(f, "unsupported linkage {linkage:?} (maps must be global)"),
            DefinitionNotStruct { type_id } => write!(f, "definition [{type_id}] is not a struct"),
            DefinitionTooLarge { size, var_size } => write!(f, "definition struct is larger than its VAR ({size} > {var_size})"),
            UnknownField { name } => write!(f, "unknown field '{name}'"),
            WrongKind { wanted, found } => {
                let wanted = match wanted {
                    Wanted::Ptr => "PTR",
                    Wanted::Array => "ARRAY",
                    Wanted::Enum => "ENUM or ENUM64",
                };
                write!(f, "expected {wanted}, got {}", kind_name(*found))
            }
            UlongEnumerators { .. } => f.write_str("invalid __ulong: the enum must have exactly one value"),
            TypeNotPtr { found } => write!(f, "spec is not PTR: {}", found.name()),
            TypeTooLarge { type_id, .. } => write!(f, "type [{type_id}] is too large"),
            ConflictingSize { of, old, new } => {
                write!(f, "conflicting {} size {old} != {new}", if *of == SizeOf::Key { "key" } else { "value" })
            }
            InnerPinned => f.write_str("an inner map definition cannot be pinned"),
            BadPinning { value } => write!(f, "invalid pinning value {value}"),
            NoMapType => f.write_str("map type is not specified"),
            NestedInner => f.write_str("multi-level inner maps are not supported"),
            ValuesNotLast => f.write_str("'values' must be the last field"),
            ValuesWithoutType { .. } => f.write_str("'values' needs a map-in-map or prog-array type, declared before it"),
            ValuesNotZeroSized { of } => write!(f, "{of} spec is not a zero-sized array"),
            ValuesElementNotPtr { of } => write!(f, "{of} element is not a pointer"),
            ValuesTargetKind { of: of @ ValuesOf::ProgArray, .. } => write!(f, "{of} definition is not a function prototype"),
            ValuesTargetKind { of: of @ ValuesOf::MapInMap, .. } => write!(f, "{of} definition is not a struct"),
            NoMapAtRelocation => f.write_str("no map definition there"),
            SlotNotBtfMap { symbol } => write!(f, "initial value '{symbol}' is not a BTF-defined map"),
            HashOfMapsKeySize { .. } => f.write_str("a hash of maps with initial values needs a 4-byte key"),
            SlotMapUnknown { symbol } => write!(f, "initial value '{symbol}' is not a map of this object"),
            SlotNotProgram { symbol } => write!(f, "initial value '{symbol}' is not a program"),
            NoInitialValues { offset, .. } => write!(f, "relocation at offset {offset:#x} in a map that takes no initial values"),
            NoValuesField { offset } => write!(f, "relocation at offset {offset:#x} but the map has no 'values' field"),
            NotValuesSlot { offset } => write!(f, "relocation at offset {offset:#x} is not a 'values' slot"),
            SlotIndexTooLarge { .. } => f.write_str("slot index too large"),
            SlotBeyondMaxEntries { index, max_entries } => {
                write!(f, "initial value at slot {index} is beyond max_entries {max_entries}")
            }
        }
    }
}

impl fmt::Display for BtfMapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for a in &self.at {
            write!(f, "{a}: ")?;
        }
        self.problem.fmt(f)
    }
}

impl std::error::Error for BtfMapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            MapProblem::Btf(e) => Some(e),
            _ => None,
        }
    }
}

impl crate::error::Kind for BtfMapError {
    fn kind(&self) -> ErrorKind {
        match self.problem {
            MapProblem::Linkage { .. } | MapProblem::NestedInner => ErrorKind::Unsupported,
            _ => ErrorKind::InvalidInput,
        }
    }
}
