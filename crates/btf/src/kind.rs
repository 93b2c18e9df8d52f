//! BTF kinds and the fixed encodings of their records.

/// The kind of a BTF type, as encoded in bits 24..29 of `info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Kind {
    /// An integer: size, signedness, bit offset and bits (followed by a u32 encoding).
    Int = 1,
    /// A pointer to another type.
    Ptr = 2,
    /// An array: element type, index type, element count.
    Array = 3,
    /// A struct with its members (`vlen` of them).
    Struct = 4,
    /// A union with its members.
    Union = 5,
    /// An enum of 32-bit values.
    Enum = 6,
    /// A forward declaration of a struct or (kflag set) a union.
    Fwd = 7,
    /// A typedef naming another type.
    Typedef = 8,
    /// `volatile` of another type.
    Volatile = 9,
    /// `const` of another type.
    Const = 10,
    /// `restrict` of another type.
    Restrict = 11,
    /// A function: its name, linkage and FUNC_PROTO.
    Func = 12,
    /// A function prototype: return type and parameters.
    FuncProto = 13,
    /// A variable: its name, type and linkage.
    Var = 14,
    /// A data section (`.data`, `.bss`, `.maps`) and the variables in it.
    Datasec = 15,
    /// A floating-point type of a given size.
    Float = 16,
    /// A `btf_decl_tag` attribute on a type, member or parameter.
    DeclTag = 17,
    /// A `btf_type_tag` attribute on a pointed-to type.
    TypeTag = 18,
    /// An enum of 64-bit values.
    Enum64 = 19,
}

impl Kind {
    /// Every kind, in the order of their numbers (1 to 19).
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

    /// The kind numbered `raw`; `None` for 0 or a kind newer than 19.
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

    /// Kinds whose header word `size_or_type` is the id of the type they
    /// refer to (pointers, modifiers, typedefs, functions and their
    /// prototypes' return type, variables, tags); for the other kinds it is
    /// a size or unused.
    pub fn refers_by_size_or_type(self) -> bool {
        matches!(
            self,
            Kind::Ptr
                | Kind::Typedef
                | Kind::Volatile
                | Kind::Const
                | Kind::Restrict
                | Kind::Func
                | Kind::FuncProto
                | Kind::Var
                | Kind::DeclTag
                | Kind::TypeTag
        )
    }

    /// Modifiers that CO-RE and the compatibility checks look through.
    pub fn is_modifier(self) -> bool {
        matches!(self, Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag)
    }

    /// A struct or a union.
    pub fn is_composite(self) -> bool {
        matches!(self, Kind::Struct | Kind::Union)
    }

    /// An enum of either width.
    pub fn is_enum(self) -> bool {
        matches!(self, Kind::Enum | Kind::Enum64)
    }
}

/// `BTF_INT_SIGNED` and friends: bits of an INT's encoding.
pub mod int_encoding {
    /// A signed integer.
    pub const SIGNED: u8 = 1 << 0;
    /// A `char` (for printing).
    pub const CHAR: u8 = 1 << 1;
    /// A `_Bool` (for printing).
    pub const BOOL: u8 = 1 << 2;
}

/// Linkage of a FUNC (its `vlen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuncLinkage {
    /// Visible in its object only; verified with its caller.
    Static,
    /// Visible to other objects; verified on its own.
    Global,
    /// Defined elsewhere (a kfunc, or a function of another object).
    Extern,
    /// A linkage value this crate does not know.
    Unknown(u16),
}

impl FuncLinkage {
    /// The linkage numbered `v` (0 static, 1 global, 2 extern).
    pub fn from_raw(v: u16) -> Self {
        match v {
            0 => FuncLinkage::Static,
            1 => FuncLinkage::Global,
            2 => FuncLinkage::Extern,
            x => FuncLinkage::Unknown(x),
        }
    }
    /// Its number, as encoded in the FUNC's `vlen`.
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
    /// A static variable of its object.
    Static,
    /// A global variable, visible to other objects.
    Global,
    /// Defined elsewhere (`__ksym`, `__kconfig` or another object).
    Extern,
    /// A linkage value this crate does not know.
    Unknown(u32),
}

impl VarLinkage {
    /// The linkage numbered `v` (0 static, 1 global, 2 extern).
    pub fn from_raw(v: u32) -> Self {
        match v {
            0 => VarLinkage::Static,
            1 => VarLinkage::Global,
            2 => VarLinkage::Extern,
            x => VarLinkage::Unknown(x),
        }
    }
    /// Its number, as encoded after the VAR's header.
    pub fn raw(self) -> u32 {
        match self {
            VarLinkage::Static => 0,
            VarLinkage::Global => 1,
            VarLinkage::Extern => 2,
            VarLinkage::Unknown(x) => x,
        }
    }
}
