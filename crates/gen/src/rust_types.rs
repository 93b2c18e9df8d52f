//! Rust types for BTF types, with the C layout: `#[repr(C)]` structs with
//! explicit padding fields, `packed` where a field sits off its Rust
//! alignment, integers for enums, `u64` for pointers, opaque bytes for
//! unions, bitfields and 128-bit integers. Each generated struct
//! implements `bpfld::skel::Plain` and asserts its size and field offsets
//! at compile time.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use bpfld_btf::{int_encoding, Btf, Kind};

use crate::error::{GenError, Result};
use crate::ident::{camel, snake};

/// A Rust type with its C size and the alignment Rust gives it.
#[derive(Clone, Debug)]
pub(crate) struct RType {
    pub text: String,
    pub size: u64,
    pub align: u64,
}

impl RType {
    fn prim(text: &str, size: u64) -> RType {
        RType { text: text.to_string(), size, align: size.max(1) }
    }
    /// `[u8; n]`: bytes with no meaning the skeleton can give them.
    pub fn bytes(n: u64) -> RType {
        RType { text: format!("[u8; {n}]"), size: n, align: 1 }
    }
}

/// One field of a struct to generate.
pub(crate) struct Field {
    pub name: String,
    pub ty: RType,
    /// Byte offset.
    pub offset: u64,
    pub doc: Option<String>,
}

/// Generated struct definitions, one per BTF composite (and per section).
pub(crate) struct Types<'a> {
    btf: &'a Btf,
    by_id: HashMap<u32, RType>,
    names: HashSet<String>,
    pub defs: String,
    depth: u32,
}

const MAX_DEPTH: u32 = 64;

impl<'a> Types<'a> {
    pub fn new(btf: &'a Btf, reserved: &[&str]) -> Self {
        Types { btf, by_id: HashMap::new(), names: reserved.iter().map(|s| s.to_string()).collect(), defs: String::new(), depth: 0 }
    }

    /// A type name not taken yet (`Foo`, `Foo2`, ...).
    pub fn unique_name(&mut self, want: &str) -> String {
        let mut name = want.to_string();
        let mut n = 2;
        while !self.names.insert(name.clone()) {
            name = format!("{want}{n}");
            n += 1;
        }
        name
    }

    /// The Rust type of BTF type `id`; `hint` names an anonymous struct.
    pub fn rust_type(&mut self, id: u32, hint: &str) -> Result<RType> {
        if let Some(t) = self.by_id.get(&id) {
            return Ok(t.clone());
        }
        if self.depth > MAX_DEPTH {
            return Err(GenError::Btf(format!("type [{id}] nests deeper than {MAX_DEPTH} levels")));
        }
        self.depth += 1;
        let r = self.rust_type_uncached(id, hint);
        self.depth -= 1;
        let r = r?;
        self.by_id.insert(id, r.clone());
        Ok(r)
    }

    fn rust_type_uncached(&mut self, id: u32, hint: &str) -> Result<RType> {
        if id == 0 {
            return Err(GenError::Btf("a variable of type void".into()));
        }
        let t = self.btf.type_by_id(id).map_err(|e| GenError::Btf(e.to_string()))?;
        let size = t.raw_size_or_type() as u64;
        Ok(match t.kind() {
            Kind::Int => {
                let info = t.int_info().expect("INT");
                let signed = info.is_signed() && info.encoding & int_encoding::CHAR == 0;
                match (size, info.encoding & int_encoding::BOOL != 0, signed) {
                    (1, true, _) => RType::prim("bool", 1),
                    (1, _, false) => RType::prim("u8", 1),
                    (1, _, true) => RType::prim("i8", 1),
                    (2, _, false) => RType::prim("u16", 2),
                    (2, _, true) => RType::prim("i16", 2),
                    (4, _, false) => RType::prim("u32", 4),
                    (4, _, true) => RType::prim("i32", 4),
                    (8, _, false) => RType::prim("u64", 8),
                    (8, _, true) => RType::prim("i64", 8),
                    // __int128: Rust aligns i128 to 16, the BPF target to 8.
                    (n, _, _) => RType::bytes(n),
                }
            }
            Kind::Enum | Kind::Enum64 => {
                let s = if t.is_signed_enum() { "i" } else { "u" };
                match size {
                    1 | 2 | 4 | 8 => RType::prim(&format!("{s}{}", size * 8), size),
                    n => RType::bytes(n),
                }
            }
            Kind::Float => match size {
                4 => RType::prim("f32", 4),
                8 => RType::prim("f64", 8),
                n => RType::bytes(n),
            },
            Kind::Ptr => RType::prim("u64", 8),
            Kind::Typedef | Kind::Const | Kind::Volatile | Kind::Restrict | Kind::TypeTag | Kind::Var => {
                let name = t.name().unwrap_or("");
                let hint = if t.kind() == Kind::Typedef && !name.is_empty() { camel(name) } else { hint.to_string() };
                self.rust_type(t.raw_size_or_type(), &hint)?
            }
            Kind::Array => {
                let a = t.array().expect("ARRAY");
                let elem = self.rust_type(a.elem_type, hint)?;
                RType { text: format!("[{}; {}]", elem.text, a.nelems), size: elem.size * a.nelems as u64, align: elem.align }
            }
            Kind::Struct => self.struct_type(id, hint)?,
            // A union's members overlap: its bytes, with no alignment of
            // their own (the containing struct's padding keeps offsets).
            Kind::Union => RType::bytes(size),
            k => return Err(GenError::Btf(format!("type [{id}] of kind {} has no Rust layout", k.name()))),
        })
    }

    fn struct_type(&mut self, id: u32, hint: &str) -> Result<RType> {
        let t = self.btf.type_by_id(id).map_err(|e| GenError::Btf(e.to_string()))?;
        let cname = t.name().unwrap_or("");
        let name = self.unique_name(&if cname.is_empty() { hint.to_string() } else { camel(cname) });
        let mut fields = Vec::new();
        let mut bitfield_run: Option<(u64, u64)> = None;
        let mut taken = HashSet::new();
        for (i, m) in t.members().enumerate() {
            let mname = t.str(m.name_off).unwrap_or("");
            if m.bitfield_size != 0 {
                // Bitfields stay raw bytes: their bits, not their offsets,
                // are the layout.
                let (start, end) = (m.bit_offset as u64 / 8, (m.bit_offset as u64 + m.bitfield_size as u64).div_ceil(8));
                bitfield_run = Some(match bitfield_run {
                    Some((s, e)) if start < e => (s, e.max(end)),
                    Some((s, e)) => {
                        fields.push(bitfield_field(s, e));
                        (start, end)
                    }
                    None => (start, end),
                });
                continue;
            }
            if let Some((s, e)) = bitfield_run.take() {
                fields.push(bitfield_field(s, e));
            }
            let fname = unique_field(&mut taken, if mname.is_empty() { format!("anon{i}") } else { snake(mname) });
            let ty = self.rust_type(m.type_id, &format!("{name}{}", camel(&fname)))?;
            fields.push(Field { name: fname, ty, offset: m.bit_offset as u64 / 8, doc: None });
        }
        if let Some((s, e)) = bitfield_run {
            fields.push(bitfield_field(s, e));
        }
        let doc = format!("`struct {}` of the object's BTF.", if cname.is_empty() { "(anonymous)" } else { cname });
        self.define(&name, &doc, fields, t.raw_size_or_type() as u64)
    }

    /// Writes the definition of struct `name` with `fields` at their
    /// offsets, padded to `size`, and returns its type.
    pub fn define(&mut self, name: &str, doc: &str, mut fields: Vec<Field>, size: u64) -> Result<RType> {
        fields.sort_by_key(|f| f.offset);
        let mut laid: Vec<Field> = Vec::new();
        let mut at = 0u64;
        for f in fields {
            if f.offset < at {
                // Overlaps the previous field (BTF that is not C): drop it.
                continue;
            }
            if f.offset > at {
                laid.push(Field { name: format!("_pad{}", laid.len()), ty: RType::bytes(f.offset - at), offset: at, doc: None });
            }
            at = f.offset + f.ty.size;
            laid.push(f);
        }
        if at > size {
            return Err(GenError::Btf(format!("struct {name}: fields end at byte {at}, past its size {size}")));
        }
        if at < size {
            laid.push(Field { name: format!("_pad{}", laid.len()), ty: RType::bytes(size - at), offset: at, doc: None });
        }
        let align = laid.iter().map(|f| f.ty.align).max().unwrap_or(1);
        let packed = size % align != 0 || laid.iter().any(|f| f.offset % f.ty.align != 0);
        self.write_def(name, doc, &laid, size, packed);
        Ok(RType { text: name.to_string(), size, align: if packed { 1 } else { align } })
    }

    fn write_def(&mut self, name: &str, doc: &str, fields: &[Field], size: u64, packed: bool) {
        let o = &mut self.defs;
        let _ = writeln!(o, "/// {doc}");
        let _ = writeln!(o, "#[repr(C{})]", if packed { ", packed" } else { "" });
        let _ = writeln!(o, "#[derive(Debug, Clone, Copy, PartialEq)]");
        // Fields keep the C names (`____fmt` of bpf_printk, say).
        let _ = writeln!(o, "#[allow(non_snake_case)]");
        let _ = writeln!(o, "pub struct {name} {{");
        for f in fields {
            if let Some(d) = &f.doc {
                let _ = writeln!(o, "    /// {d}");
            }
            let _ = writeln!(o, "    pub {}: {},", f.name, f.ty.text);
        }
        let _ = writeln!(o, "}}\n");
        let _ = writeln!(o, "impl bpfld::skel::Plain for {name} {{");
        let _ = writeln!(o, "    const SIZE: usize = {size};");
        let _ = writeln!(o, "    fn read(b: &[u8]) -> Self {{");
        let _ = writeln!(o, "        Self {{");
        for f in fields {
            let _ = writeln!(o, "            {}: bpfld::skel::Plain::read(&b[{}..]),", f.name, f.offset);
        }
        let _ = writeln!(o, "        }}\n    }}");
        let _ = writeln!(o, "    fn write(&self, b: &mut [u8]) {{");
        for f in fields {
            let _ = writeln!(o, "        bpfld::skel::Plain::write(&{{ self.{} }}, &mut b[{}..]);", f.name, f.offset);
        }
        let _ = writeln!(o, "    }}\n}}\n");
        let _ = writeln!(o, "impl Default for {name} {{");
        let _ = writeln!(o, "    fn default() -> Self {{\n        bpfld::skel::Plain::read(&[0u8; {size}])\n    }}\n}}\n");
        // The layout, checked by the compiler against the BTF's.
        let _ = writeln!(o, "const _: () = {{");
        let _ = writeln!(o, "    assert!(std::mem::size_of::<{name}>() == {size});");
        for f in fields {
            let _ = writeln!(o, "    assert!(std::mem::offset_of!({name}, {}) == {});", f.name, f.offset);
        }
        let _ = writeln!(o, "}};\n");
    }
}

fn bitfield_field(start: u64, end: u64) -> Field {
    Field {
        name: format!("bitfields_at_{start}"),
        ty: RType::bytes(end - start),
        offset: start,
        doc: Some("The raw bytes of bitfields (their bits are in the object's BTF).".into()),
    }
}

pub(crate) fn unique_field(taken: &mut HashSet<String>, want: String) -> String {
    let mut name = want.clone();
    let mut n = 2;
    while !taken.insert(name.clone()) {
        name = format!("{want}_{n}");
        n += 1;
    }
    name
}
