//! Why a struct_ops map cannot be opened or planned, each case with its
//! facts (struct, member, offset, program, sizes) and its [`ErrorKind`]:
//! a malformed object `InvalidInput`, what the kernel lacks `NotFound`,
//! what libbpf does not support either `Unsupported`, a member of another
//! kind or size in the kernel `Incompatible`. The messages are libbpf's
//! where it has one.

use std::fmt;

use bpfld_asm::types::ProgType;

use super::VALUE_TYPE_PREFIX;
use crate::error::ErrorKind;

/// Which attach fact of a program two struct_ops members disagree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReuseConflict {
    /// The kernel struct (`attach_btf_id`).
    Struct {
        /// The struct's BTF id the program got first.
        first: u32,
        /// The struct's BTF id this member needs.
        kernel: u32,
    },
    /// The member index (`expected_attach_type`).
    Member {
        /// The member index the program got first.
        first: u32,
        /// The member index this member needs.
        kernel: u32,
    },
}

/// Why a struct_ops map cannot be opened or planned.
#[derive(Debug, Clone)]
pub enum StructOpsError {
    /// A BTF (the object's or the kernel's) does not read; `member` names
    /// the member, if any.
    Btf {
        /// The member, if any.
        member: Option<String>,
        /// Where and why the BTF does not read.
        source: bpfld_btf::Error,
    },

    // Setting members through the API (InvalidInput).
    /// The local struct has no member of that name.
    NoSuchMember {
        /// The local struct's name.
        struct_name: String,
        /// The member asked for.
        member: String,
    },
    /// A program set on a member that is not a function pointer.
    NotFuncPtr {
        /// The local struct's name.
        struct_name: String,
        /// The member.
        member: String,
    },
    /// Bytes set on a function-pointer member.
    IsFuncPtr {
        /// The local struct's name.
        struct_name: String,
        /// The member.
        member: String,
    },
    /// Bytes of another size than the member's.
    MemberSize {
        /// The local struct's name.
        struct_name: String,
        /// The member.
        member: String,
        /// The member's size.
        size: usize,
        /// The number of bytes given.
        given: usize,
    },
    /// A member that ends beyond the variable's bytes.
    MemberBeyondVar {
        /// The member.
        member: String,
    },

    // The object's variables, types and relocations (InvalidInput).
    /// No DATASEC of the section's name in the object's BTF.
    NoDatasec {
        /// The section (with its `?`, if any).
        section: String,
    },
    /// A variable whose type does not resolve.
    VarTypeUnresolved {
        /// The VAR's type id.
        type_id: u32,
        /// The section (with its `?`, if any).
        section: String,
        /// Why it does not resolve.
        source: bpfld_btf::Error,
    },
    /// A variable whose type is not a struct.
    NotStruct {
        /// The type's name.
        type_name: String,
    },
    /// A variable whose bytes run past its section.
    VarBeyondSection {
        /// The variable.
        var: String,
        /// The section.
        section: String,
    },
    /// A relocation outside every struct_ops variable of its section.
    NoMapAtRelocation {
        /// The relocation's offset in the section.
        offset: u64,
    },
    /// A relocation whose symbol is not at an instruction boundary.
    BadProgramOffset {
        /// The symbol's value.
        offset: u64,
    },
    /// A relocation at no member's offset.
    NoMemberAtOffset {
        /// The offset in the variable.
        offset: u64,
    },
    /// A relocation on a member that is not a function pointer.
    RelocatedNotFuncPtr {
        /// The member.
        member: String,
    },
    /// A relocation to a place of a section where no program is.
    NoProgramAt {
        /// The symbol's section index.
        section: usize,
        /// The member.
        member: String,
    },
    /// A relocation to a program that is not a struct_ops program.
    NotStructOpsProgram {
        /// The program.
        program: String,
    },
    /// Raw BTF too short for its header.
    BtfHeaderTruncated,
    /// A DATASEC name to rename that is not where the BTF says.
    DatasecNameNotAt {
        /// The byte offset in the raw BTF.
        offset: usize,
    },
    /// The kernel's value type has no member of the struct's type.
    NoDataMember {
        /// The kernel struct.
        struct_name: String,
        /// The kernel's value type.
        value_type: String,
    },
    /// The object has no BTF.
    NoObjectBtf,
    /// A map whose member bindings are not one per member of its struct.
    BindingsMismatch {
        /// The local struct.
        struct_name: String,
        /// Its number of members.
        members: usize,
    },
    /// A member bound to a program index the object does not have.
    UnknownProgram,
    /// A member whose size does not resolve.
    MemberSizeUnresolved {
        /// The member.
        member: String,
        /// Why it does not resolve.
        source: bpfld_btf::Error,
    },
    /// A member that ends beyond the variable's bytes.
    MemberBeyondStruct {
        /// The member.
        member: String,
        /// Its offset.
        offset: usize,
        /// Its size.
        size: usize,
        /// The local struct.
        struct_name: String,
    },
    /// A function-pointer member set to something other than a struct_ops
    /// program.
    MemberNotProgram {
        /// The member.
        member: String,
    },
    /// One program for members of different kernel structs or indexes.
    ProgramReused {
        /// The member.
        member: String,
        /// The program.
        program: String,
        /// Its section.
        section: String,
        /// What differs.
        conflict: ReuseConflict,
    },

    // The kernel lacks it (NotFound).
    /// No such struct (or value type) in the kernel's BTF.
    KernelStructMissing {
        /// The struct's name.
        name: String,
    },
    /// A member set in the object that the kernel's struct lacks.
    KernelMemberMissing {
        /// The member.
        member: String,
    },

    // libbpf does not support it either (Unsupported).
    /// A relocation to a symbol that is not a static function.
    NonStaticFunction {
        /// The relocation's offset in the section.
        offset: u64,
    },
    /// A variable of an anonymous struct.
    AnonymousType,
    /// A bitfield member.
    Bitfield {
        /// The member.
        member: String,
    },

    // The kernel's struct differs (Incompatible).
    /// A member of another kind in the kernel (`BTF_INFO_KIND` numbers).
    MemberKind {
        /// The member.
        member: String,
        /// The local kind number (0: void).
        local: u32,
        /// The kernel's kind number.
        kernel: u32,
    },
    /// A function-pointer member that is not one in the kernel.
    KernelNotFuncPtr {
        /// The member.
        member: String,
    },
    /// A kernel member that ends beyond the kernel's value type.
    KernelMemberBeyond {
        /// The member.
        member: String,
        /// The kernel struct (essential name; the value type is
        /// `bpf_struct_ops_<struct_name>`).
        struct_name: String,
    },
    /// A member of another size in the kernel.
    MemberSizeDiffers {
        /// The member.
        member: String,
        /// Its size in the object.
        local: usize,
        /// Its size in the kernel, if it resolves.
        kernel: Option<u64>,
    },
}

impl From<bpfld_btf::Error> for StructOpsError {
    fn from(source: bpfld_btf::Error) -> Self {
        StructOpsError::Btf { member: None, source }
    }
}

impl fmt::Display for StructOpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use StructOpsError::*;
        match self {
            Btf { member: None, source } => source.fmt(f),
            Btf { member: Some(member), source } => write!(f, "member {member}: {source}"),
            NoSuchMember { struct_name, member } => write!(f, "struct {struct_name} has no member '{member}'"),
            NotFuncPtr { struct_name, member } => write!(f, "member '{member}' of struct {struct_name} is not a function pointer"),
            IsFuncPtr { struct_name, member } => {
                write!(f, "member '{member}' of struct {struct_name} is a function pointer: set its program")
            }
            MemberSize { struct_name, member, size, given } => {
                write!(f, "member '{member}' of struct {struct_name} is {size} bytes, not {given}")
            }
            MemberBeyondVar { member } => write!(f, "member '{member}' ends beyond the variable"),
            NoDatasec { section } => write!(f, "DATASEC {section} not found"),
            VarTypeUnresolved { type_id, section, .. } => write!(f, "Cannot resolve var type_id {type_id} in DATASEC {section}"),
            NotStruct { type_name } => write!(f, "{type_name} is not a struct"),
            VarBeyondSection { var, section } => write!(f, "var {var} is beyond the end of DATASEC {section}"),
            NoMapAtRelocation { offset } => write!(f, "cannot find map at rel->r_offset {offset}"),
            BadProgramOffset { offset } => write!(f, "invalid target program offset {offset}"),
            NoMemberAtOffset { offset } => write!(f, "cannot find member at moff {offset}"),
            RelocatedNotFuncPtr { member } => write!(f, "cannot relocate non func ptr {member}"),
            NoProgramAt { section, member } => write!(f, "cannot find prog at shdr_idx {section} to relocate func ptr {member}"),
            NotStructOpsProgram { program } => write!(f, "prog {program} is not struct_ops BPF program"),
            BtfHeaderTruncated => f.write_str("BTF header truncated"),
            DatasecNameNotAt { offset } => write!(f, "BTF string at {offset:#x} is not the DATASEC name it should be"),
            NoDataMember { struct_name, value_type } => write!(f, "struct {struct_name} data is not found in struct {value_type}"),
            NoObjectBtf => f.write_str("struct_ops maps need the object's BTF"),
            BindingsMismatch { struct_name, members } => {
                write!(f, "the map's member bindings do not match struct {struct_name} ({members} members)")
            }
            UnknownProgram => f.write_str("a member points to a program the object does not have"),
            MemberSizeUnresolved { member, .. } => write!(f, "failed to resolve the size of member {member}"),
            MemberBeyondStruct { member, offset, size, struct_name } => {
                write!(f, "member {member} (offset {offset}, {size} bytes) ends beyond struct {struct_name}")
            }
            MemberNotProgram { member } => write!(f, "member {member} is not a struct_ops program"),
            ProgramReused { member, program, section, conflict } => {
                let ty = ProgType::STRUCT_OPS.raw();
                write!(f, "func ptr {member}: invalid reuse of prog {program} in sec {section} with type {ty}: ")?;
                match conflict {
                    ReuseConflict::Struct { first, kernel } => write!(f, "attach_btf_id {first} != kern_type_id {kernel}"),
                    ReuseConflict::Member { first, kernel } => write!(f, "expected_attach_type {first} != kern_member_idx {kernel}"),
                }
            }
            KernelStructMissing { name } => write!(f, "struct {name} is not found in kernel BTF"),
            KernelMemberMissing { member } => write!(f, "Cannot find member {member} in kernel BTF"),
            NonStaticFunction { offset } => write!(f, "rel->r_offset {offset} unsupported non-static function"),
            AnonymousType => f.write_str("anonymous type is not supported"),
            Bitfield { member } => write!(f, "bitfield {member} is not supported"),
            MemberKind { member, local, kernel } => write!(f, "Unmatched member type {member} {local} != {kernel}(kernel)"),
            KernelNotFuncPtr { member } => write!(f, "kernel member {member} is not a func ptr"),
            KernelMemberBeyond { member, struct_name } => {
                write!(f, "kernel member {member} ends beyond struct {VALUE_TYPE_PREFIX}{struct_name}")
            }
            MemberSizeDiffers { member, local, kernel: Some(kernel) } => {
                write!(f, "Error in size of member {member}: {local} != {kernel}(kernel)")
            }
            // libbpf prints the -EINVAL its size resolution returned.
            MemberSizeDiffers { member, local, kernel: None } => write!(f, "Error in size of member {member}: {local} != -22(kernel)"),
        }
    }
}

impl std::error::Error for StructOpsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StructOpsError::Btf { source, .. }
            | StructOpsError::VarTypeUnresolved { source, .. }
            | StructOpsError::MemberSizeUnresolved { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl crate::error::Kind for StructOpsError {
    fn kind(&self) -> ErrorKind {
        use StructOpsError::*;
        match self {
            KernelStructMissing { .. } | KernelMemberMissing { .. } => ErrorKind::NotFound,
            NonStaticFunction { .. } | AnonymousType | Bitfield { .. } => ErrorKind::Unsupported,
            MemberKind { .. } | KernelNotFuncPtr { .. } | KernelMemberBeyond { .. } | MemberSizeDiffers { .. } => ErrorKind::Incompatible,
            Btf { .. }
            | NoSuchMember { .. }
            | NotFuncPtr { .. }
            | IsFuncPtr { .. }
            | MemberSize { .. }
            | MemberBeyondVar { .. }
            | NoDatasec { .. }
            | VarTypeUnresolved { .. }
            | NotStruct { .. }
            | VarBeyondSection { .. }
            | NoMapAtRelocation { .. }
            | BadProgramOffset { .. }
            | NoMemberAtOffset { .. }
            | RelocatedNotFuncPtr { .. }
            | NoProgramAt { .. }
            | NotStructOpsProgram { .. }
            | BtfHeaderTruncated
            | DatasecNameNotAt { .. }
            | NoDataMember { .. }
            | NoObjectBtf
            | BindingsMismatch { .. }
            | UnknownProgram
            | MemberSizeUnresolved { .. }
            | MemberBeyondStruct { .. }
            | MemberNotProgram { .. }
            | ProgramReused { .. } => ErrorKind::InvalidInput,
        }
    }
}
