//! Keys and values decoded with the map's BTF, as `bpftool map dump`
//! prints them: integers, chars, bools, enums by name, structs and unions
//! by member (bitfields too), arrays (of `char`: as strings), pointers as
//! addresses. The BTF comes from the kernel (the map's `btf_id`), so maps
//! opened from a pin decode too.

use std::fmt::{self, Write};

use bpfld_btf::{int_encoding, Btf, Kind};

use crate::error::{Error, Result};
use crate::map_handle::MapHandle;

/// A decoded key or value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An integer or bitfield, sign-extended if signed (up to 128 bits).
    Int(i128),
    /// A `_Bool` (any non-zero value is `true`).
    Bool(bool),
    /// A `char` (shown as a number, as bpftool does outside arrays).
    Char(u8),
    /// A `float` or `double`.
    Float(f64),
    /// An enum: the enumerator's name if one has the value.
    Enum {
        /// The enumerator's name, `None` if no enumerator has the value.
        name: Option<String>,
        /// The value, sign-extended for a signed enum.
        value: i64,
    },
    /// A pointer: the address, not followed.
    Ptr(u64),
    /// A `char` array up to its first NUL.
    Str(String),
    /// An array of anything but `char`, element by element.
    Array(Vec<Value>),
    /// A struct or union: (member name, value); anonymous members are "".
    Struct(Vec<(String, Value)>),
    /// Bytes the BTF does not describe (or too few for their type).
    Bytes(Vec<u8>),
}

/// Nesting beyond which values are shown as bytes (BTF can be cyclic only
/// through pointers, which are not followed, but a corrupt blob might).
const MAX_DEPTH: usize = 32;

fn le_or_ne(b: &[u8]) -> u128 {
    let mut buf = [0u8; 16];
    let n = b.len().min(16);
    if cfg!(target_endian = "little") {
        buf[..n].copy_from_slice(&b[..n]);
        u128::from_le_bytes(buf)
    } else {
        buf[16 - n..].copy_from_slice(&b[..n]);
        u128::from_be_bytes(buf)
    }
}

/// Bits `[bit_off, bit_off + bits)` of `data` (little-endian bit order).
fn bits_at(data: &[u8], bit_off: u32, bits: u32) -> Option<u128> {
    let first = (bit_off / 8) as usize;
    let last = (bit_off + bits).div_ceil(8) as usize;
    if last > data.len() || bits == 0 || bits > 64 {
        return None;
    }
    let v = le_or_ne(&data[first..last.min(first + 16)]) >> (bit_off % 8);
    Some(v & ((1u128 << bits) - 1))
}

fn sign_extend(v: u128, bits: u32) -> i128 {
    let shift = 128 - bits;
    ((v << shift) as i128) >> shift
}

/// Decodes `data` as BTF type `id` of `btf`.
pub fn decode(btf: &Btf, id: u32, data: &[u8]) -> Value {
    decode_at(btf, id, data, 0)
}

fn decode_at(btf: &Btf, id: u32, data: &[u8], depth: usize) -> Value {
    let bytes = || Value::Bytes(data.to_vec());
    let Ok(t) = btf.type_by_id(id) else { return bytes() };
    if depth > MAX_DEPTH {
        return bytes();
    }
    match t.kind() {
        Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
            t.type_ref().map_or_else(bytes, |r| decode_at(btf, r, data, depth + 1))
        }
        Kind::Int => {
            let Some(info) = t.int_info() else { return bytes() };
            let size = t.size().unwrap_or(0) as usize;
            let Some(raw) = bits_at(data.get(..size).unwrap_or(&[]), u32::from(info.bit_offset), u32::from(info.bits).max(1)) else {
                return bytes();
            };
            match info.encoding {
                e if e & int_encoding::BOOL != 0 => Value::Bool(raw != 0),
                e if e & int_encoding::CHAR != 0 || (info.bits == 8 && t.name().is_ok_and(|n| n.contains("char"))) => {
                    Value::Char(raw as u8)
                }
                e if e & int_encoding::SIGNED != 0 => Value::Int(sign_extend(raw, u32::from(info.bits))),
                _ => Value::Int(raw as i128),
            }
        }
        Kind::Float => match (t.size(), data.len()) {
            (Some(4), n) if n >= 4 => Value::Float(f64::from(f32::from_ne_bytes(data[..4].try_into().expect("4 bytes")))),
            (Some(8), n) if n >= 8 => Value::Float(f64::from_ne_bytes(data[..8].try_into().expect("8 bytes"))),
            _ => bytes(),
        },
        Kind::Ptr => match data.get(..8) {
            Some(b) => Value::Ptr(u64::from_ne_bytes(b.try_into().expect("8 bytes"))),
            None => bytes(),
        },
        Kind::Enum | Kind::Enum64 => {
            let size = t.size().unwrap_or(4);
            let Some(raw) = bits_at(data, 0, size * 8) else { return bytes() };
            let value = if t.is_signed_enum() { sign_extend(raw, size * 8) as i64 } else { raw as i64 };
            let name = t.enumerators().find(|e| e.value as i64 == value || e.value == raw as u64).and_then(|e| t.str(e.name_off).ok());
            Value::Enum { name: name.map(str::to_string), value }
        }
        Kind::Array => decode_array(btf, t.array(), data, depth),
        Kind::Struct | Kind::Union => {
            let mut fields = Vec::new();
            for m in t.members() {
                let name = t.str(m.name_off).unwrap_or("").to_string();
                let v = if m.bitfield_size > 0 {
                    let signed = resolved_int_signed(btf, m.type_id);
                    match bits_at(data, m.bit_offset, m.bitfield_size) {
                        Some(raw) if signed => Value::Int(sign_extend(raw, m.bitfield_size)),
                        Some(raw) => Value::Int(raw as i128),
                        None => Value::Bytes(Vec::new()),
                    }
                } else {
                    let off = (m.bit_offset / 8) as usize;
                    decode_at(btf, m.type_id, data.get(off..).unwrap_or(&[]), depth + 1)
                };
                fields.push((name, v));
            }
            Value::Struct(fields)
        }
        _ => bytes(),
    }
}

fn resolved_int_signed(btf: &Btf, id: u32) -> bool {
    match bpfld_btf::resolve::skip_mods_and_typedefs(btf, id) {
        Ok((_, Some(t))) => t.int_info().is_some_and(|i| i.is_signed()) || t.is_signed_enum(),
        _ => false,
    }
}

fn decode_array(btf: &Btf, info: Option<bpfld_btf::ArrayInfo>, data: &[u8], depth: usize) -> Value {
    let Some(a) = info else { return Value::Bytes(data.to_vec()) };
    let elem_size = bpfld_btf::resolve::skip_mods_and_typedefs(btf, a.elem_type)
        .ok()
        .and_then(|(_, t)| t)
        .and_then(|t| match t.kind() {
            Kind::Ptr => Some(8),
            _ => t.size(),
        })
        .unwrap_or(0) as usize;
    let is_char = matches!(bpfld_btf::resolve::skip_mods_and_typedefs(btf, a.elem_type), Ok((_, Some(t))) if t.kind() == Kind::Int && t.size() == Some(1) && t.name().is_ok_and(|n| n.contains("char")));
    let n = a.nelems as usize;
    if is_char {
        let s = &data[..n.min(data.len())];
        let end = s.iter().position(|&b| b == 0).unwrap_or(s.len());
        return Value::Str(String::from_utf8_lossy(&s[..end]).into_owned());
    }
    if elem_size == 0 {
        return Value::Array(Vec::new());
    }
    let n = n.min(data.len() / elem_size);
    Value::Array((0..n).map(|i| decode_at(btf, a.elem_type, &data[i * elem_size..], depth + 1)).collect())
}

impl Value {
    /// The value as JSON (`bpftool map dump -j`'s "formatted" form):
    /// structs are objects, arrays are arrays, enums their name (or
    /// number), strings strings, pointers and bytes hex strings.
    pub fn to_json(&self) -> String {
        let mut s = String::new();
        self.write_json(&mut s);
        s
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Value::Int(v) => write!(out, "{v}").expect("string"),
            Value::Bool(b) => write!(out, "{b}").expect("string"),
            Value::Char(c) => write!(out, "{c}").expect("string"),
            Value::Float(f) if f.is_finite() => write!(out, "{f}").expect("string"),
            Value::Float(f) => json_str(out, &f.to_string()),
            Value::Enum { name: Some(n), .. } => json_str(out, n),
            Value::Enum { name: None, value } => write!(out, "{value}").expect("string"),
            Value::Ptr(p) => json_str(out, &format!("{p:#x}")),
            Value::Str(s) => json_str(out, s),
            Value::Bytes(b) => json_str(out, &hex(b)),
            Value::Array(v) => {
                out.push('[');
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    e.write_json(out);
                }
                out.push(']');
            }
            Value::Struct(fields) => {
                out.push('{');
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    json_str(out, n);
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }
}

impl fmt::Display for Value {
    /// bpftool's text form: `{ .a = 1, .b = "x" }`-like C initialisers.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Struct(fields) => {
                f.write_str("{")?;
                for (i, (n, v)) in fields.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { " " })?;
                    if !n.is_empty() {
                        write!(f, ".{n} = ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(" }")
            }
            Value::Array(v) => {
                f.write_str("[")?;
                for (i, e) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            Value::Enum { name: Some(n), .. } => f.write_str(n),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bytes(b) => f.write_str(&hex(b)),
            Value::Ptr(p) => write!(f, "{p:#x}"),
            other => f.write_str(&other.to_json()),
        }
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32).expect("string"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Lowercase hex of `b`, no separators.
pub fn hex(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        write!(s, "{x:02x}").expect("string");
    }
    s
}

/// A map's BTF as the kernel holds it, to decode its keys and values.
#[derive(Debug)]
pub struct MapBtf {
    btf: Btf,
    key_type: u32,
    value_type: u32,
}

impl MapBtf {
    /// The BTF of `map`; `None` if the map has none (or no value type).
    pub fn of(map: &MapHandle) -> Result<Option<MapBtf>> {
        let info = map.info();
        if info.btf_id == 0 || info.btf_value_type_id == 0 {
            return Ok(None);
        }
        let fd = bpfld_sys::btf_get_fd_by_id(info.btf_id).map_err(|e| map.err("opening its BTF", e))?;
        let raw = bpfld_sys::btf_raw_data(std::os::fd::AsFd::as_fd(&fd)).map_err(|e| map.err("reading its BTF", e))?;
        let btf = Btf::from_vec(raw).map_err(|source| Error::KernelBtf { context: format!("map '{}': its BTF", map.name()), source })?;
        Ok(Some(MapBtf { btf, key_type: info.btf_key_type_id, value_type: info.btf_value_type_id }))
    }

    /// Decodes a key (`None` for maps without a key type: queues...).
    pub fn key(&self, data: &[u8]) -> Option<Value> {
        (self.key_type != 0).then(|| decode(&self.btf, self.key_type, data))
    }

    /// Decodes one value (one CPU's slot for per-CPU maps).
    pub fn value(&self, data: &[u8]) -> Value {
        decode(&self.btf, self.value_type, data)
    }
}
