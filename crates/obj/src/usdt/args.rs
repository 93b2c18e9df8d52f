//! The argument specs of a USDT note on x86-64 (`-4@%eax 8@-8(%rbp)
//! 4@$5`): for each argument, its size and signedness before the `@` and
//! where its value is after it, in the assembler syntax `<sys/sdt.h>`
//! emits. The forms are libbpf 1.7's: a constant (`$5`), a register
//! (`%eax`), memory at a register plus an offset (`-8(%rbp)`, `(%rsp)`),
//! and scale-index-base memory (`-96(%rbp,%rax,8)`, `(%rbp,%rax)`).
//! Symbolic offsets (`foo(%rip)`) are refused, as libbpf refuses them.
//!
//! Registers become offsets into the kernel's x86-64 `struct pt_regs`,
//! which is what the BPF side (`usdt.bpf.h`) reads.

use std::fmt;

/// An offset into x86-64 `struct pt_regs` (kernel ABI).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PtRegsOffset(pub u16);

impl PtRegsOffset {
    /// `%r15`, at byte 0 of `struct pt_regs`.
    pub const R15: PtRegsOffset = PtRegsOffset(0);
    /// `%r14`, at byte 8 of `struct pt_regs`.
    pub const R14: PtRegsOffset = PtRegsOffset(8);
    /// `%r13`, at byte 16 of `struct pt_regs`.
    pub const R13: PtRegsOffset = PtRegsOffset(16);
    /// `%r12`, at byte 24 of `struct pt_regs`.
    pub const R12: PtRegsOffset = PtRegsOffset(24);
    /// `%rbp`, at byte 32 of `struct pt_regs`.
    pub const RBP: PtRegsOffset = PtRegsOffset(32);
    /// `%rbx`, at byte 40 of `struct pt_regs`.
    pub const RBX: PtRegsOffset = PtRegsOffset(40);
    /// `%r11`, at byte 48 of `struct pt_regs`.
    pub const R11: PtRegsOffset = PtRegsOffset(48);
    /// `%r10`, at byte 56 of `struct pt_regs`.
    pub const R10: PtRegsOffset = PtRegsOffset(56);
    /// `%r9`, at byte 64 of `struct pt_regs`.
    pub const R9: PtRegsOffset = PtRegsOffset(64);
    /// `%r8`, at byte 72 of `struct pt_regs`.
    pub const R8: PtRegsOffset = PtRegsOffset(72);
    /// `%rax`, at byte 80 of `struct pt_regs`.
    pub const RAX: PtRegsOffset = PtRegsOffset(80);
    /// `%rcx`, at byte 88 of `struct pt_regs`.
    pub const RCX: PtRegsOffset = PtRegsOffset(88);
    /// `%rdx`, at byte 96 of `struct pt_regs`.
    pub const RDX: PtRegsOffset = PtRegsOffset(96);
    /// `%rsi`, at byte 104 of `struct pt_regs`.
    pub const RSI: PtRegsOffset = PtRegsOffset(104);
    /// `%rdi`, at byte 112 of `struct pt_regs`.
    pub const RDI: PtRegsOffset = PtRegsOffset(112);
    /// `%rip`, at byte 128 of `struct pt_regs`.
    pub const RIP: PtRegsOffset = PtRegsOffset(128);
    /// `%rsp`, at byte 152 of `struct pt_regs`.
    pub const RSP: PtRegsOffset = PtRegsOffset(152);
}

/// A register by any of its names (`rax`, `eax`, `ax`, `al`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Register {
    /// Its 64-, 32-, 16- and 8-bit names (`""` where it has none).
    pub names: [&'static str; 4],
    /// Where `struct pt_regs` holds it.
    pub offset: PtRegsOffset,
}

/// The registers an argument may name (libbpf's table: no `ah`-style
/// high bytes).
const REGISTERS: [Register; 17] = {
    use PtRegsOffset as O;
    const fn r(names: [&'static str; 4], offset: PtRegsOffset) -> Register {
        Register { names, offset }
    }
    [
        r(["rip", "eip", "", ""], O::RIP),
        r(["rax", "eax", "ax", "al"], O::RAX),
        r(["rbx", "ebx", "bx", "bl"], O::RBX),
        r(["rcx", "ecx", "cx", "cl"], O::RCX),
        r(["rdx", "edx", "dx", "dl"], O::RDX),
        r(["rsi", "esi", "si", "sil"], O::RSI),
        r(["rdi", "edi", "di", "dil"], O::RDI),
        r(["rbp", "ebp", "bp", "bpl"], O::RBP),
        r(["rsp", "esp", "sp", "spl"], O::RSP),
        r(["r8", "r8d", "r8w", "r8b"], O::R8),
        r(["r9", "r9d", "r9w", "r9b"], O::R9),
        r(["r10", "r10d", "r10w", "r10b"], O::R10),
        r(["r11", "r11d", "r11w", "r11b"], O::R11),
        r(["r12", "r12d", "r12w", "r12b"], O::R12),
        r(["r13", "r13d", "r13w", "r13b"], O::R13),
        r(["r14", "r14d", "r14w", "r14b"], O::R14),
        r(["r15", "r15d", "r15w", "r15b"], O::R15),
    ]
};

/// The `struct pt_regs` offset of register `name` (without `%`).
pub fn register_offset(name: &str) -> Option<PtRegsOffset> {
    REGISTERS.iter().find(|r| !name.is_empty() && r.names.contains(&name)).map(|r| r.offset)
}

/// Where an argument's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgLocation {
    /// An immediate (`$5`).
    Const(i64),
    /// A register's value (`%eax`).
    Reg(PtRegsOffset),
    /// Memory at a register plus `offset` (`-8(%rbp)`).
    Deref {
        /// The base register.
        base: PtRegsOffset,
        /// Bytes added to it.
        offset: i64,
    },
    /// Memory at `base + (index << scale_shift) + offset`
    /// (`-96(%rbp,%rax,8)`); needs libbpf >= 1.7's `usdt.bpf.h`.
    Sib {
        /// The base register.
        base: PtRegsOffset,
        /// The index register.
        index: PtRegsOffset,
        /// log2 of the scale (0 to 3).
        scale_shift: u8,
        /// Bytes added.
        offset: i64,
    },
}

/// One argument: its size in bytes (1, 2, 4 or 8), signedness and place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgSpec {
    /// Its size in bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// A negative size in the spec: sign-extended when widened.
    pub signed: bool,
    /// Where its value is.
    pub location: ArgLocation,
}

impl ArgSpec {
    /// How many high bits the BPF side clears (or sign-extends) to widen
    /// the value to 64 bits.
    pub fn bitshift(&self) -> u8 {
        64 - self.size * 8
    }
}

/// What is wrong with one argument spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArgProblem {
    /// None of the forms libbpf knows (a symbolic offset, say).
    Unrecognized,
    /// A register name not in libbpf's table (`%ah`): the name.
    UnknownRegister(String),
    /// A size other than ±1, ±2, ±4, ±8.
    Size(i64),
    /// A SIB scale other than 1, 2, 4, 8.
    Scale(i64),
}

/// An argument spec that does not parse: which argument (from 0), its
/// text, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgsError {
    /// Which argument, from 0.
    pub arg: usize,
    /// Its spec as written (`-4@%eax`).
    pub spec: String,
    /// What is wrong with it.
    pub problem: ArgProblem,
}

impl fmt::Display for ArgsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (arg, spec) = (self.arg, &self.spec);
        match &self.problem {
            ArgProblem::Unrecognized => write!(f, "unrecognized arg #{arg} spec '{spec}'"),
            ArgProblem::UnknownRegister(r) => write!(f, "arg #{arg} spec '{spec}': unrecognized register '{r}'"),
            ArgProblem::Size(s) => write!(f, "arg #{arg} spec '{spec}': unsupported size {s} (expected 1, 2, 4 or 8, negative if signed)"),
            ArgProblem::Scale(s) => write!(f, "arg #{arg} spec '{spec}': invalid SIB scale {s}, expected 1, 2, 4, 8"),
        }
    }
}

impl std::error::Error for ArgsError {}

/// A cursor over one spec string, reading as `sscanf` does (blanks
/// skipped before numbers and where the format has a space).
struct Cursor<'a> {
    s: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }
    fn skip_blanks(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.at += 1;
        }
    }
    fn eat(&mut self, c: u8) -> bool {
        self.skip_blanks();
        let hit = self.peek() == Some(c);
        self.at += usize::from(hit);
        hit
    }
    /// A decimal integer with an optional sign (`%d`, `%ld`).
    fn int(&mut self) -> Option<i64> {
        self.skip_blanks();
        let start = self.at;
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.at += 1;
        }
        let digits = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        if self.at == digits {
            self.at = start;
            return None;
        }
        std::str::from_utf8(&self.s[start..self.at]).ok()?.parse().ok()
    }
    /// Characters up to a blank, `,` or `)`: a register name.
    fn word(&mut self) -> &str {
        let start = self.at;
        while self.peek().is_some_and(|c| !c.is_ascii_whitespace() && c != b',' && c != b')') {
            self.at += 1;
        }
        std::str::from_utf8(&self.s[start..self.at]).unwrap_or("")
    }
    fn register(&mut self) -> Result<PtRegsOffset, ArgProblem> {
        if !self.eat(b'%') {
            return Err(ArgProblem::Unrecognized);
        }
        let name = self.word();
        register_offset(name).ok_or_else(|| ArgProblem::UnknownRegister(name.to_string()))
    }
}

/// Reads `[offset](%base[,%index[,scale]])` after the `@`.
fn memory(c: &mut Cursor<'_>) -> Result<ArgLocation, ArgProblem> {
    let offset = c.int().unwrap_or(0);
    if !c.eat(b'(') {
        return Err(ArgProblem::Unrecognized);
    }
    let base = c.register()?;
    if c.eat(b')') {
        return Ok(ArgLocation::Deref { base, offset });
    }
    if !c.eat(b',') {
        return Err(ArgProblem::Unrecognized);
    }
    let index = c.register()?;
    let scale = if c.eat(b',') { c.int().ok_or(ArgProblem::Unrecognized)? } else { 1 };
    if !c.eat(b')') {
        return Err(ArgProblem::Unrecognized);
    }
    let scale_shift = match scale {
        1 => 0,
        2 => 1,
        4 => 2,
        8 => 3,
        s => return Err(ArgProblem::Scale(s)),
    };
    Ok(ArgLocation::Sib { base, index, scale_shift, offset })
}

/// Reads one argument at the cursor.
fn one(c: &mut Cursor<'_>) -> Result<ArgSpec, ArgProblem> {
    let size = c.int().ok_or(ArgProblem::Unrecognized)?;
    if !c.eat(b'@') {
        return Err(ArgProblem::Unrecognized);
    }
    c.skip_blanks();
    let location = match c.peek() {
        Some(b'$') => {
            c.at += 1;
            ArgLocation::Const(c.int().ok_or(ArgProblem::Unrecognized)?)
        }
        Some(b'%') => {
            c.at += 1;
            // A register operand runs to the next blank (libbpf's `%15s`).
            let start = c.at;
            while c.peek().is_some_and(|b| !b.is_ascii_whitespace()) {
                c.at += 1;
            }
            let name = std::str::from_utf8(&c.s[start..c.at]).unwrap_or("");
            ArgLocation::Reg(register_offset(name).ok_or_else(|| ArgProblem::UnknownRegister(name.to_string()))?)
        }
        _ => memory(c)?,
    };
    c.skip_blanks();
    let (signed, bytes) = (size < 0, size.unsigned_abs());
    match bytes {
        1 | 2 | 4 | 8 => Ok(ArgSpec { size: bytes as u8, signed, location }),
        _ => Err(ArgProblem::Size(size)),
    }
}

/// Parses a note's argument string (empty: no arguments).
pub fn parse_args(spec: &str) -> Result<Vec<ArgSpec>, ArgsError> {
    let mut c = Cursor { s: spec.as_bytes(), at: 0 };
    let mut out = Vec::new();
    c.skip_blanks();
    while c.peek().is_some() {
        let start = c.at;
        let arg = one(&mut c).map_err(|problem| {
            let rest = &spec[start..];
            let text = rest.split_ascii_whitespace().next().unwrap_or(rest);
            ArgsError { arg: out.len(), spec: text.to_string(), problem }
        })?;
        out.push(arg);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ArgLocation::*;
    use PtRegsOffset as O;

    fn arg(size: i8, location: ArgLocation) -> ArgSpec {
        ArgSpec { size: size.unsigned_abs(), signed: size < 0, location }
    }

    fn problem(spec: &str) -> (usize, String, ArgProblem) {
        let e = parse_args(spec).unwrap_err();
        (e.arg, e.spec, e.problem)
    }

    #[test]
    fn registers_constants_and_memory() {
        // readelf -n of a real binary (libbpf's usdt.c comment).
        let args =
            parse_args("-4@-1204(%rbp) -4@%edi -8@-1216(%rbp) -8@%r8 -4@$5 -8@%r9 8@%rdx 8@%r10 -4@$-9 -2@%cx -2@%ax -1@%sil").unwrap();
        assert_eq!(
            args,
            vec![
                arg(-4, Deref { base: O::RBP, offset: -1204 }),
                arg(-4, Reg(O::RDI)),
                arg(-8, Deref { base: O::RBP, offset: -1216 }),
                arg(-8, Reg(O::R8)),
                arg(-4, Const(5)),
                arg(-8, Reg(O::R9)),
                arg(8, Reg(O::RDX)),
                arg(8, Reg(O::R10)),
                arg(-4, Const(-9)),
                arg(-2, Reg(O::RCX)),
                arg(-2, Reg(O::RAX)),
                arg(-1, Reg(O::RSI)),
            ]
        );
        assert_eq!(args[0].bitshift(), 32);
        assert_eq!(args[11].bitshift(), 56);
        assert_eq!(args[6].bitshift(), 0);
        assert_eq!(parse_args("8@(%rsp)").unwrap(), vec![arg(8, Deref { base: O::RSP, offset: 0 })]);
        assert_eq!(parse_args("8@16(%rip)").unwrap(), vec![arg(8, Deref { base: O::RIP, offset: 16 })]);
        assert_eq!(parse_args(" 2@%r11w  1@%r15b ").unwrap(), vec![arg(2, Reg(O::R11)), arg(1, Reg(O::R15))]);
        assert_eq!(parse_args("").unwrap(), vec![]);
    }

    #[test]
    fn scale_index_base() {
        let sib = |base, index, scale_shift, offset| Sib { base, index, scale_shift, offset };
        assert_eq!(parse_args("1@-96(%rbp,%rax,8)").unwrap(), vec![arg(1, sib(O::RBP, O::RAX, 3, -96))]);
        assert_eq!(parse_args("-4@(%rbx,%rcx,4)").unwrap(), vec![arg(-4, sib(O::RBX, O::RCX, 2, 0))]);
        assert_eq!(parse_args("8@-8(%rbp,%r12)").unwrap(), vec![arg(8, sib(O::RBP, O::R12, 0, -8))]);
        assert_eq!(parse_args("2@(%rdi,%rsi)").unwrap(), vec![arg(2, sib(O::RDI, O::RSI, 0, 0))]);
        assert_eq!(problem("1@(%rbp,%rax,3)"), (0, "1@(%rbp,%rax,3)".into(), ArgProblem::Scale(3)));
    }

    #[test]
    fn bad_specs_say_which_argument_and_why() {
        assert_eq!(problem("8@%rax 8@foo(%rip)"), (1, "8@foo(%rip)".into(), ArgProblem::Unrecognized));
        assert_eq!(problem("4@%ah"), (0, "4@%ah".into(), ArgProblem::UnknownRegister("ah".into())));
        assert_eq!(problem("4@-8(%xmm0)"), (0, "4@-8(%xmm0)".into(), ArgProblem::UnknownRegister("xmm0".into())));
        assert_eq!(problem("3@%eax"), (0, "3@%eax".into(), ArgProblem::Size(3)));
        assert_eq!(problem("-16@$1"), (0, "-16@$1".into(), ArgProblem::Size(-16)));
        assert_eq!(problem("4%eax"), (0, "4%eax".into(), ArgProblem::Unrecognized));
        assert_eq!(problem("4@"), (0, "4@".into(), ArgProblem::Unrecognized));
        assert_eq!(problem("4@$"), (0, "4@$".into(), ArgProblem::Unrecognized));
        assert_eq!(problem("4@-8(%rbp"), (0, "4@-8(%rbp".into(), ArgProblem::Unrecognized));
        assert_eq!(problem("99999999999999999999@%eax"), (0, "99999999999999999999@%eax".into(), ArgProblem::Unrecognized));
        let e = parse_args("8@%rax 8@foo(%rip)").unwrap_err();
        assert_eq!(e.to_string(), "unrecognized arg #1 spec '8@foo(%rip)'");
    }
}
