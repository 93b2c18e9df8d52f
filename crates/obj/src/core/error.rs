//! Why a CO-RE relocation cannot be applied, with its [`ErrorKind`]: a
//! malformed record or access string is `InvalidInput`, candidates that
//! disagree or a relocation the kernel's types cannot satisfy
//! `Incompatible`. Messages are libbpf's where it has one.

use std::fmt;

use bpfld_btf::ext::CoreReloKind;
use bpfld_btf::resolve::MAX_RESOLVE_DEPTH;

use super::spec::{kind_str, MAX_SPEC_LEN};
use crate::error::{ErrorKind, Kind};
use crate::target::BtfOwner;

/// The instruction forms a relocation patches, as libbpf names them in
/// its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsnForm {
    /// ALU or ALU64 with an immediate: `imm` holds the value.
    Alu,
    /// LDX, ST or STX: `off` holds the value.
    Mem,
    /// `ld_imm64`: the 64-bit immediate holds the value.
    LdImm64,
}

impl fmt::Display for InsnForm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InsnForm::Alu => "ALU/ALU64",
            InsnForm::Mem => "LDX/ST/STX",
            InsnForm::LdImm64 => "LDIMM64",
        })
    }
}

/// What an accessor of a spec names in its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accessed {
    /// A member of a struct or union of the local (object's) BTF.
    LocalMember,
    /// A member of a struct or union.
    Member,
    /// An enumerator of an enum.
    Enumerator,
}

impl fmt::Display for Accessed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Accessed::LocalMember => "local member",
            Accessed::Member => "member",
            Accessed::Enumerator => "enumerator",
        })
    }
}

/// What an access string's index counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// The members of a struct or union.
    Member,
    /// The enumerators of an enum.
    Enumerator,
    /// The elements of an array.
    ArrayElement,
}

impl Indexed {
    /// The index's name and the plural of what it counts.
    fn words(self) -> (&'static str, &'static str) {
        match self {
            Indexed::Member => ("member", "members"),
            Indexed::Enumerator => ("enumerator", "enumerators"),
            Indexed::ArrayElement => ("array", "elements"),
        }
    }
}

/// The local type a relocation is on, as libbpf names it in messages:
/// `[5] struct task_struct`, `[7] union <anon>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalType {
    /// Its id in the object's BTF.
    pub type_id: u32,
    /// Its kind; `None` for void.
    pub kind: Option<bpfld_btf::Kind>,
    /// Its name (empty: anonymous).
    pub name: String,
}

impl fmt::Display for LocalType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.name.is_empty() { "<anon>" } else { &self.name };
        write!(f, "[{}] {} {name}", self.type_id, kind_str(self.kind))
    }
}

/// The step of a relocation a [`CoreError::During`] failed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreStep {
    /// Finding the target candidates of the local type.
    CandidateSearch {
        /// The local type.
        local: LocalType,
    },
    /// Parsing the local spec: the type and its access string.
    Parsing {
        /// The local type.
        local: LocalType,
        /// The access string.
        access: String,
    },
    /// Matching the local spec against one candidate.
    MatchingCandidate {
        /// The candidate's position in the candidate list.
        index: usize,
        /// Its type id.
        type_id: u32,
        /// The BTF it is in.
        owner: BtfOwner,
        /// That BTF's name (`vmlinux`, a module's).
        btf: String,
    },
}

impl fmt::Display for CoreStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoreStep::CandidateSearch { local } => write!(f, "target candidate search failed for {local}"),
            CoreStep::Parsing { local, access } => write!(f, "parsing {local} + {access} failed"),
            CoreStep::MatchingCandidate { index, type_id, btf, .. } => write!(f, "error matching candidate #{index} [{type_id}] in {btf}"),
        }
    }
}

/// A CO-RE relocation that failed.
#[derive(Debug, Clone)]
pub enum CoreError {
    /// A BTF (the object's or the kernel's) does not read, or the size
    /// of type `size_of` does not resolve. The message shows the BTF
    /// error's text alone, as libbpf does; `source` keeps its section,
    /// offset and type id.
    Btf {
        /// The type whose size was being resolved, if that was it.
        size_of: Option<u32>,
        /// The BTF error, with its section, offset and type id.
        source: bpfld_btf::Error,
    },

    // The record or the instruction it patches is malformed (InvalidInput).
    /// The relocation's instruction index is past the end of its function.
    InsnOutOfRange {
        /// The instruction index, in the function.
        insn: usize,
        /// The function's length in instructions.
        len: usize,
    },
    /// An `ld_imm64` to poison is the function's last instruction slot.
    LdImm64CutOff {
        /// The instruction index.
        insn: usize,
    },
    /// An ALU/ALU64 instruction with a register operand, where the value
    /// would go in an immediate.
    AluRegisterOperand {
        /// The instruction index.
        insn: usize,
    },
    /// The instruction does not hold the value the local BTF predicts.
    UnexpectedValue {
        /// The instruction index.
        insn: usize,
        /// The instruction's form.
        form: InsnForm,
        /// The value the instruction holds (`imm` and `off` as unsigned
        /// 32-bit numbers, as libbpf prints them).
        found: u64,
        /// The value the local BTF predicts.
        expected: u64,
        /// The value the relocation would write.
        new: u64,
    },
    /// A load or store whose width is not the local field's size.
    UnexpectedMemSize {
        /// The instruction index.
        insn: usize,
        /// The instruction's access width, in bytes.
        found: u32,
        /// The local field's size, in bytes.
        expected: u32,
    },
    /// An `ld_imm64` with a pseudo source, an offset, or a malformed (or
    /// missing) second half.
    BadLdImm64 {
        /// The instruction index.
        insn: usize,
    },
    /// An instruction of a class no relocation patches.
    UnrecognizedInsn {
        /// The instruction index.
        insn: usize,
        /// Its opcode.
        code: u8,
        /// Its source register.
        src: u8,
        /// Its destination register.
        dst: u8,
        /// Its offset field.
        off: i16,
        /// Its immediate field.
        imm: i32,
    },
    /// The record's type id is not in the object's BTF.
    TypeIdOutOfRange {
        /// The record's type id.
        type_id: u32,
        /// The BTF's last type id.
        last: u32,
    },
    /// A field or enumerator spec without accessors.
    NoAccessor {
        /// Whether it is the local spec (rather than a target's).
        local: bool,
    },
    /// Matching a local spec against a target type took more than
    /// [`MAX_SPEC_LEN`] steps.
    SpecTooDeep,
    /// A spec's accessor names a member or enumerator its type lacks.
    AccessorMissing {
        /// What the accessor names.
        accessed: Accessed,
        /// The type it is in.
        type_id: u32,
        /// Its index.
        index: u32,
    },
    /// Array element types that do not end (a loop of arrays).
    ArrayChainLoop {
        /// The array type.
        type_id: u32,
    },
    /// Local and target array element types compared for more than
    /// [`MAX_RESOLVE_DEPTH`] steps (a loop of arrays).
    ArrayElementsLoop {
        /// The local array type.
        local: u32,
        /// The target array type.
        target: u32,
    },
    /// An access string that is empty or starts with `:`.
    AccessEmpty {
        /// The access string.
        access: String,
    },
    /// An access string that does not parse; `byte` is where a step
    /// without digits starts, if that is what is wrong.
    AccessSyntax {
        /// The access string.
        access: String,
        /// The byte where the step without digits starts.
        byte: Option<usize>,
    },
    /// A negative index in an access string.
    AccessNegative {
        /// The access string.
        access: String,
    },
    /// An access string index beyond `i32::MAX`.
    AccessIndexTooBig {
        /// The access string.
        access: String,
    },
    /// An access string of more than [`MAX_SPEC_LEN`] steps.
    AccessTooLong {
        /// The access string.
        access: String,
    },
    /// A type relocation whose access string is not `"0"`.
    TypeAccessNotZero {
        /// The access string.
        access: String,
    },
    /// An enumerator relocation on a type that is not an enum.
    NotEnum {
        /// The relocation's type.
        type_id: u32,
    },
    /// An enumerator relocation whose access string has more than one index.
    EnumAccessTooLong {
        /// The access string.
        access: String,
    },
    /// An access string index beyond what its type has.
    IndexOutOfRange {
        /// What the index counts.
        indexed: Indexed,
        /// The type indexed.
        type_id: u32,
        /// The index.
        index: u32,
        /// How many members, enumerators or elements the type has.
        count: usize,
    },
    /// A member whose name offset is not 0 but names an empty string.
    EmptyMemberName {
        /// The struct or union.
        type_id: u32,
        /// The member's index.
        index: u32,
    },
    /// A field access string stepping into a type that is neither a
    /// struct, a union nor an array.
    UnexpectedKind {
        /// The relocation's type.
        root: u32,
        /// The access string.
        access: String,
        /// The step, from 0.
        step: usize,
        /// The type stepped into.
        type_id: u32,
        /// Its kind; `None` for void.
        found: Option<bpfld_btf::Kind>,
    },
    /// A bitfield member whose type has no size.
    BitfieldSizeless {
        /// The struct or union.
        type_id: u32,
        /// The member's index.
        index: u32,
    },

    // What bpfld (as libbpf) cannot relocate (Unsupported).
    /// A relocation (other than `local_type_id`) on an anonymous type.
    AnonymousType {
        /// The relocation's type.
        type_id: u32,
    },
    /// A relocation kind that is neither a type, enumerator nor field kind
    /// (where a spec is parsed or matched).
    UnknownReloKind {
        /// The kind.
        kind: CoreReloKind,
    },
    /// A field relocation other than `byte_off`/`byte_sz` on an array element.
    NotArrayAccess {
        /// The kind.
        kind: CoreReloKind,
    },
    /// A kind computed as a field relocation that is not one.
    NotFieldKind {
        /// The kind.
        kind: CoreReloKind,
    },
    /// A kind whose value has no computation (where a value is computed).
    UnrecognizedReloKind {
        /// The kind.
        kind: CoreReloKind,
    },

    // What the target's types cannot satisfy (Incompatible).
    /// A new offset that does not fit a load's or store's `off`.
    OffsetTooBig {
        /// The instruction index.
        insn: usize,
        /// The new offset.
        value: u64,
    },
    /// A new field size that is no load or store width.
    InvalidMemSize {
        /// The instruction index.
        insn: usize,
        /// The new size, in bytes.
        size: u32,
    },
    /// A bitfield no load of at most 64 bits covers.
    BitfieldTooWide {
        /// The struct or union.
        type_id: u32,
        /// The member's index.
        index: u32,
    },
    /// Two matching candidates put the field at different bit offsets.
    OffsetAmbiguity {
        /// The later candidate's bit offset.
        bit_offset: u32,
        /// The first candidate's bit offset.
        first_bit_offset: u32,
        /// The later candidate's spec, as libbpf formats it.
        candidate: String,
        /// The first candidate's spec.
        first: String,
    },
    /// Two matching candidates give different values or outcomes.
    DecisionAmbiguity {
        /// Whether the later candidate poisons.
        poison: bool,
        /// The later candidate's value.
        value: u64,
        /// Whether the first candidate poisons.
        first_poison: bool,
        /// The first candidate's value.
        first_value: u64,
        /// The later candidate's spec, as libbpf formats it.
        candidate: String,
        /// The first candidate's spec.
        first: String,
    },

    /// A cause under a step of the relocation ("parsing \[5\] struct x + 0:1
    /// failed", "error matching candidate #2 ...").
    During {
        /// The step.
        step: CoreStep,
        /// What went wrong in it.
        cause: Box<CoreError>,
    },
}

impl CoreError {
    pub(crate) fn during(self, step: CoreStep) -> CoreError {
        CoreError::During { step, cause: Box::new(self) }
    }
}

impl From<bpfld_btf::Error> for CoreError {
    fn from(source: bpfld_btf::Error) -> Self {
        CoreError::Btf { size_of: None, source }
    }
}

fn outcome(poison: bool) -> &'static str {
    if poison {
        "failure"
    } else {
        "success"
    }
}

impl fmt::Display for CoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CoreError::*;
        match self {
            Btf { size_of: None, source } => f.write_str(&source.message),
            Btf { size_of: Some(id), source } => write!(f, "size of [{id}]: {}", source.message),
            InsnOutOfRange { insn, len } => write!(f, "instruction {insn} is past the end of the function ({len} instructions)"),
            LdImm64CutOff { insn } => write!(f, "insn #{insn} (LDIMM64) is cut off by the end of the function"),
            AluRegisterOperand { insn } => write!(f, "insn #{insn} (ALU/ALU64) takes a register operand, not an immediate"),
            UnexpectedValue { insn, form, found, expected, new } => {
                write!(f, "unexpected insn #{insn} ({form}) value: got {found}, exp {expected} -> {new}")
            }
            UnexpectedMemSize { insn, found, expected } => {
                write!(f, "insn #{insn} (LDX/ST/STX) unexpected mem size: got {found}, exp {expected}")
            }
            BadLdImm64 { insn } => write!(f, "insn #{insn} (LDIMM64) has unexpected form"),
            UnrecognizedInsn { insn, code, src, dst, off, imm } => write!(
                f,
                "trying to relocate unrecognized insn #{insn}, code:{code:#x}, src:{src:#x}, dst:{dst:#x}, off:{off:#x}, imm:{imm:#x}"
            ),
            TypeIdOutOfRange { type_id, last } => write!(f, "type id [{type_id}] out of range (last id is {last})"),
            NoAccessor { local: true } => f.write_str("local spec has no accessor"),
            NoAccessor { local: false } => f.write_str("spec has no accessor"),
            SpecTooDeep => write!(f, "target spec nests deeper than {MAX_SPEC_LEN} steps"),
            AccessorMissing { accessed, type_id, index } => write!(f, "{accessed} {index} of [{type_id}] missing"),
            ArrayChainLoop { type_id } => write!(f, "array element chain of [{type_id}] does not end (a loop?)"),
            ArrayElementsLoop { local, target } => write!(
                f,
                "array element types of local [{local}] and target [{target}] do not end within {MAX_RESOLVE_DEPTH} steps (a loop?)"
            ),
            AccessEmpty { .. } => f.write_str("access string is empty or starts with ':'"),
            AccessSyntax { access, byte: Some(byte) } => write!(f, "malformed access string '{access}' at byte {byte}"),
            AccessSyntax { access, byte: None } => write!(f, "malformed access string '{access}'"),
            AccessNegative { access } => write!(f, "negative index in access string '{access}'"),
            AccessIndexTooBig { access } => write!(f, "index out of range in access string '{access}'"),
            AccessTooLong { access } => write!(f, "access string '{access}' has more than {MAX_SPEC_LEN} steps"),
            TypeAccessNotZero { access } => write!(f, "a type relocation's access string must be \"0\", not '{access}'"),
            NotEnum { type_id } => write!(f, "[{type_id}] is not an enum"),
            EnumAccessTooLong { access } => write!(f, "an enumerator relocation takes one index, not '{access}'"),
            IndexOutOfRange { indexed, type_id, index, count } => {
                let (name, plural) = indexed.words();
                write!(f, "{name} index {index} out of range: [{type_id}] has {count} {plural}")
            }
            EmptyMemberName { type_id, index } => write!(f, "member {index} of [{type_id}] has an empty name"),
            UnexpectedKind { root, access, step, type_id, found } => {
                write!(f, "relo for [{root}] {access} (at idx {step}) captures type [{type_id}] of unexpected kind {}", kind_str(*found))
            }
            BitfieldSizeless { type_id, index } => write!(f, "bitfield member {index} of [{type_id}] has a type without size"),
            AnonymousType { .. } => f.write_str("anonymous types cannot be relocated"),
            UnknownReloKind { kind } => write!(f, "unknown relocation kind {}", kind.raw()),
            NotArrayAccess { kind } => write!(f, "relocation kind {} can't be applied to array access", kind.name()),
            NotFieldKind { kind } => write!(f, "relocation kind {} is not a field relocation", kind.name()),
            UnrecognizedReloKind { kind } => write!(f, "unrecognized CO-RE relocation {} ({})", kind.name(), kind.raw()),
            OffsetTooBig { insn, value } => write!(f, "insn #{insn} (LDX/ST/STX) value too big: {value}"),
            InvalidMemSize { insn, size } => write!(f, "insn #{insn} (LDX/ST/STX) invalid new mem size: {size}"),
            BitfieldTooWide { .. } => f.write_str("bitfield can't be read with a 64-bit load: relocation can't be satisfied"),
            OffsetAmbiguity { bit_offset, first_bit_offset, candidate, first } => {
                write!(f, "field offset ambiguity: {bit_offset} != {first_bit_offset} (candidates {candidate} and {first})")
            }
            DecisionAmbiguity { poison, value, first_poison, first_value, candidate, first } => write!(
                f,
                "relocation decision ambiguity: {} {value} != {} {first_value} (candidates {candidate} and {first})",
                outcome(*poison),
                outcome(*first_poison)
            ),
            During { step, cause } => write!(f, "{step}: {cause}"),
        }
    }
}

impl std::error::Error for CoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoreError::Btf { source, .. } => Some(source),
            CoreError::During { cause, .. } => Some(cause.as_ref()),
            _ => None,
        }
    }
}

impl Kind for CoreError {
    fn kind(&self) -> ErrorKind {
        use CoreError::*;
        match self {
            During { cause, .. } => cause.kind(),
            AnonymousType { .. } | UnknownReloKind { .. } | NotArrayAccess { .. } | NotFieldKind { .. } | UnrecognizedReloKind { .. } => {
                ErrorKind::Unsupported
            }
            OffsetTooBig { .. } | InvalidMemSize { .. } | BitfieldTooWide { .. } | OffsetAmbiguity { .. } | DecisionAmbiguity { .. } => {
                ErrorKind::Incompatible
            }
            Btf { .. }
            | InsnOutOfRange { .. }
            | LdImm64CutOff { .. }
            | AluRegisterOperand { .. }
            | UnexpectedValue { .. }
            | UnexpectedMemSize { .. }
            | BadLdImm64 { .. }
            | UnrecognizedInsn { .. }
            | TypeIdOutOfRange { .. }
            | NoAccessor { .. }
            | SpecTooDeep
            | AccessorMissing { .. }
            | ArrayChainLoop { .. }
            | ArrayElementsLoop { .. }
            | AccessEmpty { .. }
            | AccessSyntax { .. }
            | AccessNegative { .. }
            | AccessIndexTooBig { .. }
            | AccessTooLong { .. }
            | TypeAccessNotZero { .. }
            | NotEnum { .. }
            | EnumAccessTooLong { .. }
            | IndexOutOfRange { .. }
            | EmptyMemberName { .. }
            | UnexpectedKind { .. }
            | BitfieldSizeless { .. } => ErrorKind::InvalidInput,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_rendered_from_the_facts() {
        let cases: [(CoreError, &str, ErrorKind); 8] = [
            (CoreError::LdImm64CutOff { insn: 7 }, "insn #7 (LDIMM64) is cut off by the end of the function", ErrorKind::InvalidInput),
            (
                CoreError::UnexpectedValue { insn: 3, form: InsnForm::LdImm64, found: 1, expected: 2, new: 3 },
                "unexpected insn #3 (LDIMM64) value: got 1, exp 2 -> 3",
                ErrorKind::InvalidInput,
            ),
            (CoreError::SpecTooDeep, "target spec nests deeper than 64 steps", ErrorKind::InvalidInput),
            (CoreError::NoAccessor { local: true }, "local spec has no accessor", ErrorKind::InvalidInput),
            (
                CoreError::AccessorMissing { accessed: Accessed::Enumerator, type_id: 4, index: 9 },
                "enumerator 9 of [4] missing",
                ErrorKind::InvalidInput,
            ),
            (
                CoreError::UnexpectedKind { root: 2, access: "0:1:0".into(), step: 2, type_id: 0, found: None },
                "relo for [2] 0:1:0 (at idx 2) captures type [0] of unexpected kind void",
                ErrorKind::InvalidInput,
            ),
            (
                CoreError::UnrecognizedReloKind { kind: CoreReloKind::TypeSize },
                "unrecognized CO-RE relocation type_size (9)",
                ErrorKind::Unsupported,
            ),
            (CoreError::InvalidMemSize { insn: 5, size: 3 }, "insn #5 (LDX/ST/STX) invalid new mem size: 3", ErrorKind::Incompatible),
        ];
        for (e, text, kind) in cases {
            assert_eq!(e.to_string(), text);
            assert_eq!(e.kind(), kind, "{text}");
        }
        let e = CoreError::IndexOutOfRange { indexed: Indexed::Member, type_id: 8, index: 5, count: 2 }.during(CoreStep::Parsing {
            local: LocalType { type_id: 8, kind: Some(bpfld_btf::Kind::Struct), name: "x".into() },
            access: "0:5".into(),
        });
        assert_eq!(e.to_string(), "parsing [8] struct x + 0:5 failed: member index 5 out of range: [8] has 2 members");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        let e = CoreError::SpecTooDeep.during(CoreStep::MatchingCandidate {
            index: 2,
            type_id: 77,
            owner: BtfOwner::Module(0),
            btf: "nf_conntrack".into(),
        });
        assert_eq!(e.to_string(), "error matching candidate #2 [77] in nf_conntrack: target spec nests deeper than 64 steps");
        let e = CoreError::Btf {
            size_of: Some(3),
            source: bpfld_btf::Error { section: bpfld_btf::Section::Types, offset: None, type_id: Some(3), message: "type loop".into() },
        };
        assert_eq!(e.to_string(), "size of [3]: type loop");
    }
}
