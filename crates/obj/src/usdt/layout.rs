//! `struct __bpf_usdt_spec` as the object's own `usdt.bpf.h` declares it:
//! the value of the `__bpf_usdt_specs` map, which the BPF side reads to
//! find each argument. Its layout is read from the object's BTF (member
//! offsets, bitfield widths, the values of `enum __bpf_usdt_arg_type`),
//! not assumed: libbpf 1.1's header has a 4-byte `arg_type`, 1.7's packs
//! `arg_type`, `idx_reg_off` and `scale_bitshift` into bitfields, and only
//! 1.7's reads scale-index-base arguments.

use std::fmt;

use bpfld_btf::{resolve, Btf, Kind, Type};

use super::args::{ArgLocation, ArgSpec};

/// The spec struct's name in the object's BTF.
pub const SPEC_STRUCT: &str = "__bpf_usdt_spec";
/// The per-argument struct's name in the object's BTF.
pub const ARG_STRUCT: &str = "__bpf_usdt_arg_spec";

/// Why the object's spec layout cannot be read, or a spec not encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LayoutError {
    /// The object's BTF has no `struct __bpf_usdt_spec` (it does not
    /// include `usdt.bpf.h`, or has no BTF).
    NoSpecStruct,
    /// A member the BPF side reads is missing.
    MissingMember {
        /// The struct.
        strukt: &'static str,
        /// The member it lacks.
        member: &'static str,
    },
    /// A scalar member wider than 64 bits, or a member outside its struct.
    BadMember {
        /// The struct.
        strukt: &'static str,
        /// The member.
        member: &'static str,
    },
    /// `args` is not an array of `struct __bpf_usdt_arg_spec`.
    BadArgsArray,
    /// `enum __bpf_usdt_arg_type` lacks this enumerator.
    MissingArgType(&'static str),
    /// More arguments than `args` holds.
    TooManyArgs {
        /// The probe's argument count.
        count: usize,
        /// How many `args` holds.
        max: usize,
    },
    /// A scale-index-base argument, which this object's `usdt.bpf.h`
    /// (before libbpf 1.7) cannot read.
    NoSibSupport {
        /// The argument, from 0.
        arg: usize,
    },
    /// A value that does not fit its field (`idx_reg_off` is 12 bits).
    FieldOverflow {
        /// The member.
        member: &'static str,
        /// The value that does not fit.
        value: i64,
    },
}

impl fmt::Display for LayoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LayoutError::NoSpecStruct => write!(f, "the object's BTF has no 'struct {SPEC_STRUCT}' (did it include usdt.bpf.h?)"),
            LayoutError::MissingMember { strukt, member } => write!(f, "'struct {strukt}' of the object's BTF has no member '{member}'"),
            LayoutError::BadMember { strukt, member } => {
                write!(f, "'struct {strukt}' member '{member}' is wider than 64 bits or outside the struct")
            }
            LayoutError::BadArgsArray => write!(f, "'struct {SPEC_STRUCT}' member 'args' is not an array of 'struct {ARG_STRUCT}'"),
            LayoutError::MissingArgType(e) => write!(f, "'enum __bpf_usdt_arg_type' of the object's BTF has no '{e}'"),
            LayoutError::TooManyArgs { count, max } => write!(f, "{count} arguments, the object's usdt.bpf.h holds at most {max}"),
            LayoutError::NoSibSupport { arg } => write!(
                f,
                "arg #{arg} is a scale-index-base memory operand, which the object's usdt.bpf.h (older than libbpf 1.7) cannot read"
            ),
            LayoutError::FieldOverflow { member, value } => write!(f, "value {value} does not fit member '{member}'"),
        }
    }
}

impl std::error::Error for LayoutError {}

/// A member's place: bits from the start of its struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Bits from the start of the struct.
    pub bit_offset: u32,
    /// Its width in bits.
    pub bits: u32,
}

/// The values of `enum __bpf_usdt_arg_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgTypes {
    /// `BPF_USDT_ARG_CONST`.
    pub constant: u64,
    /// `BPF_USDT_ARG_REG`.
    pub reg: u64,
    /// `BPF_USDT_ARG_REG_DEREF`.
    pub reg_deref: u64,
    /// `BPF_USDT_ARG_SIB` (libbpf >= 1.7).
    pub sib: Option<u64>,
}

/// Fields of `struct __bpf_usdt_arg_spec`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArgFields {
    /// `val_off`: the constant, or the offset added to the address.
    pub val_off: Field,
    /// `arg_type`: an `enum __bpf_usdt_arg_type` value.
    pub arg_type: Field,
    /// `reg_off`: the register's offset in `struct pt_regs`.
    pub reg_off: Field,
    /// `arg_signed`: sign-extend when widening.
    pub arg_signed: Field,
    /// `arg_bitshift`: 64 minus the argument's width in bits.
    pub arg_bitshift: Field,
    /// `idx_reg_off` and `scale_bitshift` (libbpf >= 1.7).
    pub sib: Option<(Field, Field)>,
}

/// The layout of `struct __bpf_usdt_spec` in one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecLayout {
    /// `sizeof(struct __bpf_usdt_spec)`: the specs map's value size.
    pub size: usize,
    /// Byte offset of the `args` array in it.
    pub args_offset: usize,
    /// Bytes of one `struct __bpf_usdt_arg_spec`.
    pub arg_size: usize,
    /// How many arguments a spec holds (`BPF_USDT_MAX_ARG_CNT`).
    pub max_args: usize,
    /// `usdt_cookie`: what `bpf_usdt_cookie()` returns.
    pub usdt_cookie: Field,
    /// `arg_cnt`: how many arguments the probe has.
    pub arg_cnt: Field,
    /// The fields of each argument.
    pub arg: ArgFields,
    /// The values of `enum __bpf_usdt_arg_type`.
    pub arg_types: ArgTypes,
}

/// The struct named `name` in `btf`.
fn find_struct<'a>(btf: &'a Btf, name: &str) -> Option<Type<'a>> {
    btf.find(name, Some(Kind::Struct)).into_iter().find_map(|id| btf.type_by_id(id).ok())
}

/// Member `member` of `t`, if it exists and fits in the struct.
fn member(t: &Type<'_>, strukt: &'static str, member: &'static str) -> Result<Option<(Field, u32)>, LayoutError> {
    let Some(m) = t.members().find(|m| t.str(m.name_off).is_ok_and(|n| n == member)) else { return Ok(None) };
    let bad = LayoutError::BadMember { strukt, member };
    let bits = match m.bitfield_size {
        0 => resolve::resolve_size(t.btf(), m.type_id).map_err(|_| bad.clone())?.saturating_mul(8),
        b => u64::from(b),
    };
    let struct_bits = u64::from(t.size().unwrap_or(0)) * 8;
    let scalar = member != "args";
    if bits == 0 || (scalar && bits > 64) || u64::from(m.bit_offset) + bits > struct_bits {
        return Err(bad);
    }
    Ok(Some((Field { bit_offset: m.bit_offset, bits: bits as u32 }, m.type_id)))
}

fn required(t: &Type<'_>, strukt: &'static str, name: &'static str) -> Result<(Field, u32), LayoutError> {
    member(t, strukt, name)?.ok_or(LayoutError::MissingMember { strukt, member: name })
}

/// The enumerator `name` of the enum type `id` (through modifiers).
fn enumerator(btf: &Btf, id: u32, name: &str) -> Option<u64> {
    let (_, t) = resolve::skip_mods_and_typedefs(btf, id).ok()?;
    let t = t.filter(|t| t.kind().is_enum())?;
    t.enumerators().find(|e| t.str(e.name_off).is_ok_and(|n| n == name)).map(|e| e.value)
}

impl SpecLayout {
    /// Reads the layout from the object's BTF.
    pub fn from_btf(btf: &Btf) -> Result<SpecLayout, LayoutError> {
        let spec = find_struct(btf, SPEC_STRUCT).ok_or(LayoutError::NoSpecStruct)?;
        let (args, args_type) = required(&spec, SPEC_STRUCT, "args")?;
        let (_, array) = resolve::skip_mods_and_typedefs(btf, args_type).map_err(|_| LayoutError::BadArgsArray)?;
        let array = array.and_then(|a| a.array()).ok_or(LayoutError::BadArgsArray)?;
        let (_, arg) = resolve::skip_mods_and_typedefs(btf, array.elem_type).map_err(|_| LayoutError::BadArgsArray)?;
        let arg = arg.filter(|a| a.kind() == Kind::Struct && a.name().is_ok_and(|n| n == ARG_STRUCT)).ok_or(LayoutError::BadArgsArray)?;
        let arg_size = arg.size().unwrap_or(0) as usize;
        let max_args = array.nelems as usize;
        if args.bit_offset % 8 != 0
            || arg_size == 0
            || (args.bit_offset / 8) as usize + arg_size * max_args > spec.size().unwrap_or(0) as usize
        {
            return Err(LayoutError::BadArgsArray);
        }
        let (arg_type, arg_type_id) = required(&arg, ARG_STRUCT, "arg_type")?;
        let kind = |name| enumerator(btf, arg_type_id, name);
        let arg_types = ArgTypes {
            constant: kind("BPF_USDT_ARG_CONST").ok_or(LayoutError::MissingArgType("BPF_USDT_ARG_CONST"))?,
            reg: kind("BPF_USDT_ARG_REG").ok_or(LayoutError::MissingArgType("BPF_USDT_ARG_REG"))?,
            reg_deref: kind("BPF_USDT_ARG_REG_DEREF").ok_or(LayoutError::MissingArgType("BPF_USDT_ARG_REG_DEREF"))?,
            sib: kind("BPF_USDT_ARG_SIB"),
        };
        let sib = match (member(&arg, ARG_STRUCT, "idx_reg_off")?, member(&arg, ARG_STRUCT, "scale_bitshift")?) {
            (Some((i, _)), Some((s, _))) if arg_types.sib.is_some() => Some((i, s)),
            _ => None,
        };
        let fields = ArgFields {
            val_off: required(&arg, ARG_STRUCT, "val_off")?.0,
            arg_type,
            reg_off: required(&arg, ARG_STRUCT, "reg_off")?.0,
            arg_signed: required(&arg, ARG_STRUCT, "arg_signed")?.0,
            arg_bitshift: required(&arg, ARG_STRUCT, "arg_bitshift")?.0,
            sib,
        };
        Ok(SpecLayout {
            size: spec.size().unwrap_or(0) as usize,
            args_offset: (args.bit_offset / 8) as usize,
            arg_size,
            max_args,
            usdt_cookie: required(&spec, SPEC_STRUCT, "usdt_cookie")?.0,
            arg_cnt: required(&spec, SPEC_STRUCT, "arg_cnt")?.0,
            arg: fields,
            arg_types,
        })
    }

    /// The map value of a spec with `args` and the user's `cookie`.
    pub fn encode(&self, args: &[ArgSpec], cookie: u64) -> Result<Vec<u8>, LayoutError> {
        if args.len() > self.max_args {
            return Err(LayoutError::TooManyArgs { count: args.len(), max: self.max_args });
        }
        let mut v = vec![0u8; self.size];
        put(&mut v, 0, self.usdt_cookie, cookie);
        put(&mut v, 0, self.arg_cnt, args.len() as u64);
        for (i, a) in args.iter().enumerate() {
            self.encode_arg(&mut v, self.args_offset + i * self.arg_size, i, a)?;
        }
        Ok(v)
    }

    fn encode_arg(&self, v: &mut [u8], base: usize, i: usize, a: &ArgSpec) -> Result<(), LayoutError> {
        let (f, t) = (&self.arg, &self.arg_types);
        let (kind, val_off, reg_off) = match a.location {
            ArgLocation::Const(c) => (t.constant, c as u64, 0),
            ArgLocation::Reg(r) => (t.reg, 0, r.0),
            ArgLocation::Deref { base, offset } => (t.reg_deref, offset as u64, base.0),
            ArgLocation::Sib { base: b, index, scale_shift, offset } => {
                let (Some(sib), Some((idx, scale))) = (t.sib, f.sib) else { return Err(LayoutError::NoSibSupport { arg: i }) };
                if u64::from(index.0) >= 1 << idx.bits {
                    return Err(LayoutError::FieldOverflow { member: "idx_reg_off", value: index.0.into() });
                }
                put(v, base, idx, index.0.into());
                put(v, base, scale, scale_shift.into());
                (sib, offset as u64, b.0)
            }
        };
        put(v, base, f.arg_type, kind);
        put(v, base, f.val_off, val_off);
        put(v, base, f.reg_off, reg_off.into());
        put(v, base, f.arg_signed, a.signed.into());
        put(v, base, f.arg_bitshift, a.bitshift().into());
        Ok(())
    }
}

/// Writes the low `field.bits` bits of `value` at `field` of the struct at
/// byte `base` of `buf` (little-endian bit order, as BTF gives offsets on
/// x86-64). The layout was checked to fit.
fn put(buf: &mut [u8], base: usize, field: Field, value: u64) {
    let start = base * 8 + field.bit_offset as usize;
    for i in 0..field.bits as usize {
        let (byte, bit) = ((start + i) / 8, (start + i) % 8);
        if let Some(b) = buf.get_mut(byte) {
            *b = (*b & !(1 << bit)) | ((((value >> i) & 1) as u8) << bit);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usdt::args::{parse_args, PtRegsOffset};

    fn object_layout(name: &str) -> SpecLayout {
        let path = format!("{}/../../tests/bpf/obj/{name}", env!("CARGO_MANIFEST_DIR"));
        let data = std::fs::read(&path).unwrap();
        let obj = crate::Object::parse(name, &data).unwrap();
        SpecLayout::from_btf(obj.btf.as_ref().unwrap()).unwrap()
    }

    /// libbpf 1.1's usdt.bpf.h (Debian's libbpf-dev, what tests/bpf
    /// builds with): a 4-byte enum, then short, bool, char; 12 arguments.
    #[test]
    fn libbpf_1_1_layout_from_btf() {
        let l = object_layout("usdt_probes.bpf.o");
        let f = |bit_offset, bits| Field { bit_offset, bits };
        assert_eq!((l.size, l.args_offset, l.arg_size, l.max_args), (208, 0, 16, 12));
        assert_eq!((l.usdt_cookie, l.arg_cnt), (f(1536, 64), f(1600, 16)));
        assert_eq!(
            l.arg,
            ArgFields {
                val_off: f(0, 64),
                arg_type: f(64, 32),
                reg_off: f(96, 16),
                arg_signed: f(112, 8),
                arg_bitshift: f(120, 8),
                sib: None
            }
        );
        assert_eq!(l.arg_types, ArgTypes { constant: 0, reg: 1, reg_deref: 2, sib: None });
        let args = parse_args("-4@%edi 8@-16(%rbp) 4@$5").unwrap();
        let v = l.encode(&args, 0x1122).unwrap();
        let arg = |i: usize| &v[i * 16..i * 16 + 16];
        // val_off, arg_type, reg_off, arg_signed, arg_bitshift.
        assert_eq!(arg(0), [&[0u8; 8][..], &1u32.to_le_bytes(), &112u16.to_le_bytes(), &[1, 32]].concat());
        assert_eq!(arg(1), [&(-16i64).to_le_bytes()[..], &2u32.to_le_bytes(), &32u16.to_le_bytes(), &[0, 0]].concat());
        assert_eq!(arg(2), [&5u64.to_le_bytes()[..], &0u32.to_le_bytes(), &0u16.to_le_bytes(), &[0, 32]].concat());
        assert_eq!(&v[192..200], &0x1122u64.to_le_bytes());
        assert_eq!(&v[200..202], &3u16.to_le_bytes());
        let sib = parse_args("1@-96(%rbp,%rax,8)").unwrap();
        assert_eq!(l.encode(&sib, 0), Err(LayoutError::NoSibSupport { arg: 0 }));
        assert_eq!(l.encode(&parse_args(&"1@%al ".repeat(13)).unwrap(), 0), Err(LayoutError::TooManyArgs { count: 13, max: 12 }));
    }

    /// libbpf 1.7's header: `arg_type:8` then `__u16 idx_reg_off:12`,
    /// which cannot straddle its 16-bit unit and starts at bit 80, so
    /// `reg_off` moves to byte 14 and an argument is 24 bytes (what
    /// clang-19 gives for that header's struct).
    #[test]
    fn libbpf_1_7_bitfields_encode() {
        let f = |bit_offset, bits| Field { bit_offset, bits };
        let l = SpecLayout {
            size: 304,
            args_offset: 0,
            arg_size: 24,
            max_args: 12,
            usdt_cookie: f(2304, 64),
            arg_cnt: f(2368, 16),
            arg: ArgFields {
                val_off: f(0, 64),
                arg_type: f(64, 8),
                reg_off: f(112, 16),
                arg_signed: f(128, 8),
                arg_bitshift: f(136, 8),
                sib: Some((f(80, 12), f(92, 4))),
            },
            arg_types: ArgTypes { constant: 0, reg: 1, reg_deref: 2, sib: Some(3) },
        };
        let v = l.encode(&parse_args("-2@-96(%rbp,%rax,8)").unwrap(), 7).unwrap();
        let rax = PtRegsOffset::RAX.0;
        let expect = [
            &(-96i64).to_le_bytes()[..],
            &[3, 0],                            // arg_type, padding to the u16 unit
            &(rax | (3 << 12)).to_le_bytes(),   // idx_reg_off:12, scale_bitshift:4
            &[0, 0],                            // __reserved, padding
            &PtRegsOffset::RBP.0.to_le_bytes(), // reg_off
            &[1, 48],                           // arg_signed, arg_bitshift
        ]
        .concat();
        assert_eq!(&v[..18], &expect[..]);
        assert_eq!(&v[288..296], &7u64.to_le_bytes());
        assert_eq!(&v[296..298], &1u16.to_le_bytes());
    }
}
