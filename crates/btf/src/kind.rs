//! BTF kinds and the fixed encodings of their records.

/// The kind of a BTF type, as encoded in bits 24..29 of `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    Int = 1,
    Ptr = 2,
    Array = 3,
    Struct = 4,
    Union = 5,
    Enum = 6,
    Fwd = 7,
    Typedef = 8,
    Volatile = 9,
    Const = 10,
    Restrict = 11,
    Func = 12,
    FuncProto = 13,
    Var = 14,
    Datasec = 15,
    Float = 16,
    DeclTag = 17,
    TypeTag = 18,
    Enum64 = 19,
}

impl Kind {
    pub const ALL: [Kind; 19] = [
        Kind::Int,
        Kind::Ptr,
        Kind::Array,
        Kind::Struct,
        Kind::Union,
        Kind::Enum,
        Kind::Fwd,
        Kind::Typedef,
        Kind::Volatile,
        Kind::Const,
        Kind::Restrict,
        Kind::Func,
        Kind::FuncProto,
        Kind::Var,
        Kind::Datasec,
        Kind::Float,
        Kind::DeclTag,
        Kind::TypeTag,
        Kind::Enum64,
    ];

    pub fn from_raw(raw: u32) -> Option<Kind> {
        if (1..=19).contains(&raw) {
            Some(Kind::ALL[raw as usize - 1])
        } else {
            None
        }
    }

    /// The name bpftool and the kernel use (`STRUCT`, `FUNC_PROTO`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Kind::Int => "INT",
            Kind::Ptr => "PTR",
            Kind::Array => "ARRAY",
            Kind::Struct => "STRUCT",
            Kind::Union => "UNION",
            Kind::Enum => "ENUM",
            Kind::Fwd => "FWD",
            Kind::Typedef => "TYPEDEF",
            Kind::Volatile => "VOLATILE",
            Kind::Const => "CONST",
            Kind::Restrict => "RESTRICT",
            Kind::Func => "FUNC",
            Kind::FuncProto => "FUNC_PROTO",
            Kind::Var => "VAR",
            Kind::Datasec => "DATASEC",
            Kind::Float => "FLOAT",
            Kind::DeclTag => "DECL_TAG",
            Kind::TypeTag => "TYPE_TAG",
            Kind::Enum64 => "ENUM64",
        }
    }

    /// Parses a kind name as written on the command line (`struct`, `FUNC`).
    pub fn from_name(s: &str) -> Option<Kind> {
        let up = s.to_ascii_uppercase().replace('-', "_");
        Kind::ALL.iter().copied().find(|k| k.name() == up)
    }

    /// Size in bytes of the data that follows the 12-byte common header,
    /// given the record's `vlen`.
    pub(crate) fn extra_len(self, vlen: usize) -> usize {
        match self {
            Kind::Int => 4,
            Kind::Array => 12,
            Kind::Struct | Kind::Union => 12 * vlen,
            Kind::Enum => 8 * vlen,
            Kind::FuncProto => 8 * vlen,
            Kind::Var => 4,
            Kind::Datasec => 12 * vlen,
            Kind::DeclTag => 4,
            Kind::Enum64 => 12 * vlen,
            _ => 0,
        }
    }

    /// Modifiers that CO-RE and the compatibility checks look through.
    pub fn is_modifier(self) -> bool {
        matches!(self, Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag)
    }

    pub fn is_composite(self) -> bool {
        matches!(self, Kind::Struct | Kind::Union)
    }

    pub fn is_enum(self) -> bool {
        matches!(self, Kind::Enum | Kind::Enum64)
    }
}

/// `BTF_INT_SIGNED` and friends: bits of an INT's encoding.
pub mod int_encoding {
    pub const SIGNED: u8 = 1 << 0;
    pub const CHAR: u8 = 1 << 1;
    pub const BOOL: u8 = 1 << 2;
}

/// Linkage of a FUNC (its `vlen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncLinkage {
    Static,
    Global,
    Extern,
    Unknown(u16),
}

impl FuncLinkage {
    pub fn from_raw(v: u16) -> Self {
        match v {
            0 => FuncLinkage::Static,
            1 => FuncLinkage::Global,
            2 => FuncLinkage::Extern,
            x => FuncLinkage::Unknown(x),
        }
    }
    pub fn raw(self) -> u16 {
        match self {
            FuncLinkage::Static => 0,
            FuncLinkage::Global => 1,
            FuncLinkage::Extern => 2,
            FuncLinkage::Unknown(x) => x,
        }
    }
}

/// Linkage of a VAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarLinkage {
    Static,
    Global,
    Extern,
    Unknown(u32),
}

impl VarLinkage {
    pub fn from_raw(v: u32) -> Self {
        match v {
            0 => VarLinkage::Static,
            1 => VarLinkage::Global,
            2 => VarLinkage::Extern,
            x => VarLinkage::Unknown(x),
        }
    }
    pub fn raw(self) -> u32 {
        match self {
            VarLinkage::Static => 0,
            VarLinkage::Global => 1,
            VarLinkage::Extern => 2,
            VarLinkage::Unknown(x) => x,
        }
    }
}
