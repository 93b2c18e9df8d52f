//! One BPF instruction and the opcode values the loader inspects or writes.
//!
//! An instruction is kept as its 8 bytes in memory order (the order the
//! kernel reads and `bpfld plan --json` prints) and decoded on access, so
//! that patching one field can never disturb the others.

/// `code` values and fields the loader recognizes.
pub mod op {
    /// Bits of `code` that hold the instruction class.
    pub const CLASS_MASK: u8 = 0x07;
    /// Class: non-standard loads (`ld_imm64`, legacy packet loads).
    pub const LD: u8 = 0x00;
    /// Class: load from memory into a register.
    pub const LDX: u8 = 0x01;
    /// Class: store an immediate to memory.
    pub const ST: u8 = 0x02;
    /// Class: store a register to memory (and atomics).
    pub const STX: u8 = 0x03;
    /// Class: 32-bit arithmetic.
    pub const ALU: u8 = 0x04;
    /// Class: 64-bit jumps, calls and exit.
    pub const JMP: u8 = 0x05;
    /// Class: jumps comparing 32-bit values.
    pub const JMP32: u8 = 0x06;
    /// Class: 64-bit arithmetic.
    pub const ALU64: u8 = 0x07;

    /// Bits of a load or store `code` that hold the access size.
    pub const SIZE_MASK: u8 = 0x18;
    /// Size: 4 bytes.
    pub const W: u8 = 0x00;
    /// Size: 2 bytes.
    pub const H: u8 = 0x08;
    /// Size: 1 byte.
    pub const B: u8 = 0x10;
    /// Size: 8 bytes.
    pub const DW: u8 = 0x18;

    /// Bits of a load or store `code` that hold the mode.
    pub const MODE_MASK: u8 = 0xe0;
    /// Mode: immediate (`ld_imm64`).
    pub const IMM: u8 = 0x00;
    /// Mode: memory at a register plus `off`.
    pub const MEM: u8 = 0x60;
    /// Mode: sign-extending memory load (Linux >= 6.6).
    pub const MEMSX: u8 = 0x80;

    /// Bits of an ALU or jump `code` that hold the operation.
    pub const OP_MASK: u8 = 0xf0;
    /// ALU operation: move.
    pub const MOV: u8 = 0xb0;
    /// ALU operation: add.
    pub const ADD: u8 = 0x00;
    /// Source: the immediate.
    pub const K: u8 = 0x00;
    /// Source: `src_reg`.
    pub const X: u8 = 0x08;
    /// Jump operation: call (helper, subprogram or kfunc, by `src_reg`).
    pub const CALL: u8 = 0x80;
    /// Jump operation: return from the program or subprogram.
    pub const EXIT: u8 = 0x90;
    /// Jump operation: unconditional jump.
    pub const JA: u8 = 0x00;

    /// `BPF_LD | BPF_IMM | BPF_DW`: the 16-byte `ld_imm64`.
    pub const LD_IMM64: u8 = LD | IMM | DW;
    /// `BPF_JMP | BPF_CALL`.
    pub const CALL_INSN: u8 = JMP | CALL;
}

/// `src_reg` values with a special meaning (uapi `BPF_PSEUDO_*`).
pub mod pseudo {
    /// `ld_imm64`: imm is a map fd.
    pub const MAP_FD: u8 = 1;
    /// `ld_imm64`: imm is a map fd, the second imm an offset in its value.
    pub const MAP_VALUE: u8 = 2;
    /// `ld_imm64`: imm is a kernel BTF id (typed ksym, kfunc address); the
    /// second imm the fd of the module BTF holding it, 0 for vmlinux.
    pub const BTF_ID: u8 = 3;
    /// `ld_imm64`: imm is the relative address of a subprogram (callback).
    pub const FUNC: u8 = 4;
    /// `ld_imm64`: imm is an index into `fd_array` naming a map.
    pub const MAP_IDX: u8 = 5;
    /// `ld_imm64`: like `MAP_VALUE` with a map index into `fd_array`.
    pub const MAP_IDX_VALUE: u8 = 6;
    /// `call`: imm is the relative address of a subprogram.
    pub const CALL: u8 = 1;
    /// `call`: imm is a kernel BTF id of a kfunc; `off` the `fd_array`
    /// index of the module BTF holding it, 0 for vmlinux.
    pub const KFUNC_CALL: u8 = 2;
}

/// Poison values, as libbpf writes them into instructions that must never
/// run: each becomes a call of a helper that does not exist, so the verifier
/// accepts the program if it proves the call dead and otherwise fails with
/// `invalid func unknown#<imm>`, which the verifier-log fixup recognizes and
/// rewrites into an explanation.
pub mod poison {
    /// A CO-RE relocation that could not be resolved (`0xbad2310`, "bad
    /// relo").
    pub const CORE_RELO: i32 = 195_896_080;
    /// A call of an unresolved kfunc: base plus the extern's index.
    pub const KFUNC_CALL_BASE: i32 = 2_002_000_000;
    /// A load of a map that was not created: base plus the map's index.
    pub const MAP_LDIMM64_BASE: i32 = 2_001_000_000;
}

/// One 8-byte BPF instruction.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(transparent)]
pub struct Insn(pub [u8; 8]);

impl Insn {
    /// An instruction from its fields; `dst` and `src` are 4-bit register
    /// numbers (higher bits are dropped from `dst`).
    pub const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        let o = off.to_le_bytes();
        let i = imm.to_le_bytes();
        Insn([code, (src << 4) | (dst & 0x0f), o[0], o[1], i[0], i[1], i[2], i[3]])
    }
    /// The opcode byte (class, size or source, mode or operation).
    pub fn code(&self) -> u8 {
        self.0[0]
    }
    /// The class bits of the opcode (`op::LD` ... `op::ALU64`).
    pub fn class(&self) -> u8 {
        self.0[0] & op::CLASS_MASK
    }
    /// The destination register (0-10).
    pub fn dst_reg(&self) -> u8 {
        self.0[1] & 0x0f
    }
    /// The source register, or for `ld_imm64` and calls the pseudo kind
    /// ([`pseudo`]).
    pub fn src_reg(&self) -> u8 {
        self.0[1] >> 4
    }
    /// The signed offset: bytes for memory accesses, instructions for
    /// jumps.
    pub fn off(&self) -> i16 {
        i16::from_le_bytes([self.0[2], self.0[3]])
    }
    /// The signed 32-bit immediate (a helper id, a call's relative target,
    /// half of an `ld_imm64`'s value).
    pub fn imm(&self) -> i32 {
        i32::from_le_bytes([self.0[4], self.0[5], self.0[6], self.0[7]])
    }
    /// Replaces the opcode byte.
    pub fn set_code(&mut self, code: u8) {
        self.0[0] = code;
    }
    /// Replaces the destination register (its low 4 bits).
    pub fn set_dst_reg(&mut self, r: u8) {
        self.0[1] = (self.0[1] & 0xf0) | (r & 0x0f);
    }
    /// Replaces the source register (the field is 4 bits wide).
    pub fn set_src_reg(&mut self, r: u8) {
        self.0[1] = (self.0[1] & 0x0f) | (r << 4);
    }
    /// Replaces the offset.
    pub fn set_off(&mut self, off: i16) {
        self.0[2..4].copy_from_slice(&off.to_le_bytes());
    }
    /// Replaces the immediate.
    pub fn set_imm(&mut self, imm: i32) {
        self.0[4..8].copy_from_slice(&imm.to_le_bytes());
    }

    /// The first half of a 16-byte `ld_imm64` (the next instruction holds
    /// the upper 32 bits of the value).
    pub fn is_ld_imm64(&self) -> bool {
        self.code() == op::LD_IMM64
    }
    /// A call of any kind (helper, subprogram, kfunc).
    pub fn is_call(&self) -> bool {
        self.code() == op::CALL_INSN
    }
    /// A call of a subprogram (bpf-to-bpf).
    pub fn is_subprog_call(&self) -> bool {
        self.is_call() && self.src_reg() == pseudo::CALL
    }
    /// A call of a BPF helper (`src_reg` 0).
    pub fn is_helper_call(&self) -> bool {
        self.is_call() && self.src_reg() == 0
    }
    /// An `ld_imm64` loading a subprogram's address.
    pub fn is_pseudo_func(&self) -> bool {
        self.is_ld_imm64() && self.src_reg() == pseudo::FUNC
    }
    /// `r0 = imm` on 64 bits: what a poisoned or constant-folded load
    /// becomes.
    pub fn mov64_imm(dst: u8, imm: i32) -> Insn {
        Insn::new(op::ALU64 | op::MOV | op::K, dst, 0, 0, imm)
    }
    /// A call to helper `id`.
    pub fn call_helper(id: i32) -> Insn {
        Insn::new(op::CALL_INSN, 0, 0, 0, id)
    }
    /// The 16 hex digits of the 8 bytes in memory order.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Debug for Insn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Insn(code={:#04x} dst=r{} src=r{} off={} imm={})", self.code(), self.dst_reg(), self.src_reg(), self.off(), self.imm())
    }
}

impl From<[u8; 8]> for Insn {
    fn from(b: [u8; 8]) -> Insn {
        Insn(b)
    }
}

/// The instructions as the byte buffer the kernel takes.
pub fn to_bytes(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.0).collect()
}

/// Splits a byte buffer into instructions; `None` if its length is not a
/// multiple of 8.
pub fn from_bytes(b: &[u8]) -> Option<Vec<Insn>> {
    if b.len() % 8 != 0 {
        return None;
    }
    Some(b.chunks_exact(8).map(|c| Insn([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect())
}
