//! The emission pass: definitions in the order the ordering pass queued
//! them, with forward declarations written on the way where a type is
//! needed by name before its definition.

use std::fmt::Write;

use super::{indent, CDumper, EmitState, MAX_DEPTH};
use crate::error::{Error, Result};
use crate::kind::Kind;

/// The typedefs GCC's Arm intrinsics use without declaring them.
const MISSING_BASE_TYPES: [(&str, &str); 4] = [
    ("__Poly8_t", "unsigned char"),
    ("__Poly16_t", "unsigned short"),
    ("__Poly64_t", "unsigned long long"),
    ("__Poly128_t", "unsigned __int128"),
];

impl CDumper<'_> {
    /// Emits what type `id` needs; `cont_id` is the named struct being
    /// defined (0 at top level), which needs no forward declaration of
    /// itself.
    pub(super) fn emit_type(&mut self, id: u32, cont_id: u32, depth: u32) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::types(format!("type graph nests deeper than {MAX_DEPTH} levels")).ty(id));
        }
        let state = self.states[id as usize];
        if state.emit == EmitState::Emitted {
            return Ok(());
        }
        let t = self.ty(id)?;
        let top_level = cont_id == 0;
        if state.emit == EmitState::Emitting {
            return self.emit_fwd_for_loop(id, cont_id);
        }
        let depth = depth + 1;
        match t.kind() {
            Kind::Int => {
                let name = self.tag_name(id)?;
                if let Some((_, base)) = MISSING_BASE_TYPES.iter().find(|(n, _)| *n == name) {
                    let line = format!("typedef {base} {name};\n\n");
                    self.out.push_str(&line);
                }
                self.states[id as usize].emit = EmitState::Emitted;
            }
            Kind::Enum | Kind::Enum64 => {
                if top_level {
                    self.emit_enum_def(id, 0)?;
                    self.out.push_str(";\n\n");
                }
                self.states[id as usize].emit = EmitState::Emitted;
            }
            Kind::Ptr | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.emit_type(t.raw_size_or_type(), cont_id, depth)?
            }
            Kind::Array => self.emit_type(t.array().expect("ARRAY").elem_type, cont_id, depth)?,
            Kind::Fwd => {
                self.emit_fwd_def(id)?;
                self.out.push_str(";\n\n");
                self.states[id as usize].emit = EmitState::Emitted;
            }
            Kind::Typedef => {
                self.states[id as usize].emit = EmitState::Emitting;
                self.emit_type(t.raw_size_or_type(), id, depth)?;
                // Someone may have needed the typedef by name meanwhile
                // (through a pointer) and had it emitted early.
                if !self.states[id as usize].fwd_emitted && !self.is_builtin(id)? {
                    self.emit_typedef_def(id, 0)?;
                    self.out.push_str(";\n\n");
                }
                self.states[id as usize].emit = EmitState::Emitted;
            }
            Kind::Struct | Kind::Union => self.emit_composite(id, cont_id, depth)?,
            Kind::FuncProto => {
                self.emit_type(t.raw_size_or_type(), cont_id, depth)?;
                for p in t.params() {
                    self.emit_type(p.type_id, cont_id, depth)?;
                }
            }
            Kind::Float | Kind::Func | Kind::Var | Kind::Datasec | Kind::DeclTag => {}
        }
        Ok(())
    }

    fn emit_composite(&mut self, id: u32, cont_id: u32, depth: u32) -> Result<()> {
        let t = self.ty(id)?;
        let top_level = cont_id == 0;
        self.states[id as usize].emit = EmitState::Emitting;
        // A definition writes every member's type, so they need their
        // declarations first; a named struct merely referenced by name
        // needs only a forward declaration.
        if top_level || t.name_off() == 0 {
            let new_cont = if t.name_off() == 0 { cont_id } else { id };
            for m in t.members() {
                self.emit_type(m.type_id, new_cont, depth)?;
            }
        } else if !self.states[id as usize].fwd_emitted && id != cont_id {
            self.emit_struct_fwd(id)?;
            self.out.push_str(";\n\n");
            self.states[id as usize].fwd_emitted = true;
        }
        if top_level {
            self.emit_struct_def(id, 0)?;
            self.out.push_str(";\n\n");
            self.states[id as usize].emit = EmitState::Emitted;
        } else {
            self.states[id as usize].emit = EmitState::NotEmitted;
        }
        Ok(())
    }

    /// A type met again while it is being emitted: a loop through a
    /// pointer, broken with a forward declaration.
    fn emit_fwd_for_loop(&mut self, id: u32, cont_id: u32) -> Result<()> {
        if self.states[id as usize].fwd_emitted {
            return Ok(());
        }
        let t = self.ty(id)?;
        match t.kind() {
            Kind::Struct | Kind::Union => {
                // A struct referring to itself needs no declaration, and an
                // anonymous one cannot have one (libbpf warns and goes on).
                if id == cont_id || t.name_off() == 0 {
                    return Ok(());
                }
                self.emit_struct_fwd(id)?;
                self.out.push_str(";\n\n");
            }
            Kind::Typedef => {
                // For a typedef, "forward declared" means defined early:
                // usable through pointers, not for embedding.
                if !self.is_builtin(id)? {
                    self.emit_typedef_def(id, 0)?;
                    self.out.push_str(";\n\n");
                }
            }
            _ => return Ok(()),
        }
        self.states[id as usize].fwd_emitted = true;
        Ok(())
    }

    /// `__builtin_va_list` is the compiler's own; redefining it breaks.
    fn is_builtin(&self, id: u32) -> Result<bool> {
        Ok(self.ty(id)?.name()? == "__builtin_va_list")
    }

    pub(super) fn emit_struct_fwd(&mut self, id: u32) -> Result<()> {
        let t = self.ty(id)?;
        let kw = if t.kind() == Kind::Struct { "struct" } else { "union" };
        let sep = if t.name_off() != 0 { " " } else { "" };
        let name = self.tag_name(id)?;
        let s = format!("{kw}{sep}{name}");
        self.out.push_str(&s);
        Ok(())
    }

    pub(super) fn emit_fwd_def(&mut self, id: u32) -> Result<()> {
        let kw = if self.ty(id)?.fwd_is_union() { "union " } else { "struct " };
        let name = self.tag_name(id)?.to_string();
        self.out.push_str(kw);
        self.out.push_str(&name);
        Ok(())
    }

    pub(super) fn emit_typedef_def(&mut self, id: u32, lvl: usize) -> Result<()> {
        let t = self.ty(id)?;
        let name = self.ident_name(id)?.to_string();
        // Old GCC wrote this typedef to void; the header must still compile.
        if t.raw_size_or_type() == 0 && name == "__gnuc_va_list" {
            self.out.push_str("typedef __builtin_va_list __gnuc_va_list");
            return Ok(());
        }
        self.out.push_str("typedef ");
        self.emit_type_decl(t.raw_size_or_type(), &name, lvl)?;
        self.emit_decl_tags(id, -1);
        Ok(())
    }

    pub(super) fn emit_struct_def(&mut self, id: u32, lvl: usize) -> Result<()> {
        let t = self.ty(id)?;
        let is_struct = t.kind() == Kind::Struct;
        let align = self.align_of(id)?;
        // libbpf checks structs only; a union whose size is no multiple of
        // its members' alignment was packed too (`union { u64 x; u8
        // b[18]; } __packed`), and C would round it up without the
        // attribute.
        let packed = self.is_packed(id)?;
        self.emit_struct_fwd(id)?;
        self.out.push_str(" {");
        let mut off = 0u64;
        let mut prev_bitfield = false;
        for (i, m) in t.members().enumerate() {
            let fname = self.name_of(m.name_off)?;
            let m_off = m.bit_offset as u64;
            let m_align = if packed { 1 } else { self.align_of(m.type_id)? };
            let in_bitfield = prev_bitfield && m.bitfield_size != 0;
            self.emit_bit_padding(off, m_off, m_align, in_bitfield, lvl + 1);
            self.out.push('\n');
            indent(&mut self.out, lvl + 1);
            self.emit_type_decl(m.type_id, fname, lvl + 1)?;
            if m.bitfield_size != 0 {
                let _ = write!(self.out, ": {}", m.bitfield_size);
                off = m_off + m.bitfield_size as u64;
                prev_bitfield = true;
            } else {
                off = m_off + self.size_of(m.type_id)? * 8;
                prev_bitfield = false;
            }
            self.emit_decl_tags(id, i as i32);
            self.out.push(';');
        }
        if is_struct {
            self.emit_bit_padding(off, t.raw_size_or_type() as u64 * 8, align, false, lvl + 1);
        } else {
            self.emit_union_size(id, lvl + 1)?;
        }
        // `struct empty {}` stays on one line.
        if t.vlen() != 0 || t.raw_size_or_type() != 0 {
            self.out.push('\n');
            indent(&mut self.out, lvl);
        }
        self.out.push('}');
        if packed {
            self.out.push_str(" __attribute__((packed))");
        }
        self.emit_decl_tags(id, -1);
        Ok(())
    }

    /// Explicit padding from bit `cur` to bit `next` as libbpf writes it:
    /// anonymous bitfields of the largest type that natural alignment
    /// would not fill by itself (`long: 64;`, `int: 0;`...).
    fn emit_bit_padding(&mut self, cur: u64, next: u64, next_align: u32, in_bitfield: bool, lvl: usize) {
        if cur >= next {
            return;
        }
        let pads: [(&str, u64); 4] = [("long", self.ptr_size as u64 * 8), ("int", 32), ("short", 16), ("char", 8)];
        let (mut cur, mut pad_bits, mut pad_type, mut new_off) = (cur, 0u64, "", 0u64);
        for (name, bits) in pads {
            pad_bits = bits;
            pad_type = name;
            new_off = cur.div_ceil(bits) * bits;
            if new_off <= next {
                break;
            }
        }
        if new_off > cur && new_off <= next {
            let next_misaligned = next_align == 0 || cur.div_ceil(next_align as u64 * 8) * (next_align as u64 * 8) != new_off;
            if in_bitfield || (new_off == next && next_misaligned) || (new_off != next && next - new_off <= new_off - cur) {
                self.pad_line(lvl, pad_type, if in_bitfield { new_off - cur } else { 0 });
            }
            cur = new_off;
        }
        while cur != next {
            let bits = (next - cur).min(pad_bits);
            if bits == pad_bits {
                self.pad_line(lvl, pad_type, pad_bits);
                cur += bits;
                continue;
            }
            // The remainder: the smallest type that holds it.
            if let Some((name, _)) = pads.iter().rev().find(|(_, b)| *b >= bits) {
                self.pad_line(lvl, name, bits);
            }
            cur += bits;
        }
    }

    /// A union bigger than its largest member (pahole drops members it
    /// cannot describe, leaving `union {}` of size 8): one anonymous
    /// bitfield gives it its size, where one can (up to a `long`).
    fn emit_union_size(&mut self, id: u32, lvl: usize) -> Result<()> {
        let t = self.ty(id)?;
        let mut largest = 0u64;
        for m in t.members() {
            largest = largest.max(if m.bitfield_size != 0 { m.bitfield_size as u64 } else { self.size_of(m.type_id)? * 8 });
        }
        let want = t.raw_size_or_type() as u64 * 8;
        let long_bits = self.ptr_size as u64 * 8;
        if largest.div_ceil(8) * 8 >= want || want > long_bits {
            return Ok(());
        }
        let ty = match want {
            8 => "char",
            16 => "short",
            32 => "int",
            _ => "long",
        };
        self.pad_line(lvl, ty, want);
        Ok(())
    }

    fn pad_line(&mut self, lvl: usize, ty: &str, bits: u64) {
        self.out.push('\n');
        indent(&mut self.out, lvl);
        let _ = write!(self.out, "{ty}: {bits};");
    }

    pub(super) fn emit_enum_def(&mut self, id: u32, lvl: usize) -> Result<()> {
        let t = self.ty(id)?;
        let sep = if t.name_off() != 0 { " " } else { "" };
        let name = self.tag_name(id)?;
        let head = format!("enum{sep}{name}");
        self.out.push_str(&head);
        if t.vlen() == 0 {
            return Ok(());
        }
        self.out.push_str(" {");
        let signed = t.kflag();
        let is64 = t.kind() == Kind::Enum64;
        for e in t.enumerators() {
            let ename = self.name_of(e.name_off)?;
            // Enumerators share the namespace of typedef names.
            let dups = self.names.count_use(super::names::Namespace::Idents, ename);
            self.out.push('\n');
            indent(&mut self.out, lvl + 1);
            self.out.push_str(ename);
            if dups > 1 {
                let _ = write!(self.out, "___{dups}");
            }
            let _ = match (is64, signed) {
                (false, true) => write!(self.out, " = {},", e.value as i32),
                (false, false) => write!(self.out, " = {},", e.value as u32),
                (true, true) => write!(self.out, " = {}LL,", e.value as i64),
                (true, false) => write!(self.out, " = {}ULL,", e.value),
            };
        }
        self.out.push('\n');
        indent(&mut self.out, lvl);
        self.out.push('}');
        self.emit_enum_size(id)
    }

    /// Enums whose size C would not pick by itself.
    fn emit_enum_size(&mut self, id: u32) -> Result<()> {
        let t = self.ty(id)?;
        match t.raw_size_or_type() {
            1 => self.out.push_str(" __attribute__((mode(byte)))"),
            // libbpf leaves these out; C would make them 4 bytes.
            2 => self.out.push_str(" __attribute__((mode(HI)))"),
            8 if self.ptr_size == 8 => {
                // An ENUM64 with a value above 32 bits is 8 bytes anyway.
                let needs_word = t.kind() == Kind::Enum || t.enumerators().all(|e| e.value >> 32 == 0);
                if needs_word {
                    self.out.push_str(" __attribute__((mode(word)))");
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// ` __attribute__((btf_decl_tag("x")))` for each DECL_TAG on `id`'s
    /// `component` (-1: the type itself); a tag with kflag set is a plain
    /// attribute.
    fn emit_decl_tags(&mut self, id: u32, component: i32) {
        let tags: Vec<u32> = self.tags.on(id, component).collect();
        for tag in tags {
            let Ok(t) = self.ty(tag) else { continue };
            let Ok(name) = t.name() else { continue };
            if t.kflag() {
                let _ = write!(self.out, " __attribute__(({name}))");
            } else {
                let _ = write!(self.out, " __attribute__((btf_decl_tag(\"{name}\")))");
            }
        }
    }
}
