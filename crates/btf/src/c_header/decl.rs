//! Declarators: a type applied to a name (`int (*fn)(void *)`,
//! `const char *const argv[4]`). BTF lists a declaration from the outside
//! in (array, then pointer, then const, then int); C writes qualifiers to
//! the left of plain types but to the right of pointers, and wraps
//! pointers to arrays and functions in parentheses. As libbpf does, the
//! chain is pushed on a stack down to its terminal type and written back
//! from there.

use std::fmt::Write;

use super::{CDumper, MAX_DEPTH};
use crate::error::{Error, Result};
use crate::kind::Kind;

impl<'a> CDumper<'a> {
    /// Writes type `id` declaring `fname` (may be empty).
    pub(super) fn emit_type_decl(&mut self, id: u32, fname: &str, lvl: usize) -> Result<()> {
        let start = self.decl_stack.len();
        let mut id = id;
        loop {
            if self.decl_stack.len() - start > MAX_DEPTH as usize {
                self.decl_stack.truncate(start);
                return Err(Error::types(format!("declaration chain longer than {MAX_DEPTH} types (a reference loop?)")).ty(id));
            }
            self.decl_stack.push(id);
            if id == 0 {
                break;
            }
            let t = self.ty(id)?;
            match t.kind() {
                Kind::Ptr | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::FuncProto | Kind::TypeTag => id = t.raw_size_or_type(),
                Kind::Array => id = t.array().expect("ARRAY").elem_type,
                _ => break,
            }
        }
        let mut cnt = self.decl_stack.len() - start;
        let res = self.emit_type_chain(start, &mut cnt, fname, lvl);
        self.decl_stack.truncate(start);
        res
    }

    fn top(&self, base: usize, cnt: usize) -> u32 {
        self.decl_stack[base + cnt - 1]
    }

    /// Writes the qualifiers on top of the stack (`const volatile int`).
    fn emit_mods(&mut self, base: usize, cnt: &mut usize) -> Result<()> {
        while *cnt > 0 {
            let id = self.top(base, *cnt);
            if id == 0 {
                return Ok(());
            }
            let word = match self.ty(id)?.kind() {
                Kind::Volatile => "volatile ",
                Kind::Const => "const ",
                Kind::Restrict => "restrict ",
                _ => return Ok(()),
            };
            self.out.push_str(word);
            *cnt -= 1;
        }
        Ok(())
    }

    /// Drops qualifiers C cannot place (on arrays and functions: GCC
    /// quirks).
    fn drop_mods(&mut self, base: usize, cnt: &mut usize) -> Result<()> {
        while *cnt > 0 {
            let id = self.top(base, *cnt);
            if id == 0 || !self.ty(id)?.kind().is_modifier() {
                return Ok(());
            }
            *cnt -= 1;
        }
        Ok(())
    }

    fn emit_name(&mut self, fname: &str, last_was_ptr: bool) {
        if !fname.is_empty() && !last_was_ptr {
            self.out.push(' ');
        }
        self.out.push_str(fname);
    }

    fn emit_type_chain(&mut self, base: usize, cnt: &mut usize, fname: &str, lvl: usize) -> Result<()> {
        // `int ***`, not `int * * *`; true at first for the lone pointer of
        // a function pointer, written `(*name)`.
        let mut last_was_ptr = true;
        while *cnt > 0 {
            *cnt -= 1;
            let id = self.decl_stack[base + *cnt];
            if id == 0 {
                self.emit_mods(base, cnt)?;
                self.out.push_str("void");
                last_was_ptr = false;
                continue;
            }
            let t = self.ty(id)?;
            let kind = t.kind();
            match kind {
                Kind::Int | Kind::Float => {
                    self.emit_mods(base, cnt)?;
                    self.out.push_str(t.name()?);
                }
                Kind::Struct | Kind::Union => {
                    self.emit_mods(base, cnt)?;
                    if t.name_off() == 0 {
                        self.emit_struct_def(id, lvl)?;
                    } else {
                        self.emit_struct_fwd(id)?;
                    }
                }
                Kind::Enum | Kind::Enum64 => {
                    self.emit_mods(base, cnt)?;
                    if t.name_off() == 0 {
                        self.emit_enum_def(id, lvl)?;
                    } else {
                        let name = self.tag_name(id)?.to_string();
                        self.out.push_str("enum ");
                        self.out.push_str(&name);
                    }
                }
                Kind::Fwd => {
                    self.emit_mods(base, cnt)?;
                    self.emit_fwd_def(id)?;
                }
                Kind::Typedef => {
                    self.emit_mods(base, cnt)?;
                    let name = self.ident_name(id)?.to_string();
                    self.out.push_str(&name);
                }
                Kind::Ptr => self.out.push_str(if last_was_ptr { "*" } else { " *" }),
                Kind::Volatile => self.out.push_str(" volatile"),
                Kind::Const => self.out.push_str(" const"),
                Kind::Restrict => self.out.push_str(" restrict"),
                Kind::TypeTag => {
                    self.emit_mods(base, cnt)?;
                    let name = t.name()?;
                    let _ = if t.kflag() {
                        write!(self.out, " __attribute__(({name}))")
                    } else {
                        write!(self.out, " __attribute__((btf_type_tag(\"{name}\")))")
                    };
                }
                Kind::Array => return self.emit_array(id, base, cnt, fname, lvl, last_was_ptr),
                Kind::FuncProto => return self.emit_func_proto(id, base, cnt, fname, lvl, last_was_ptr),
                // Not a declarator kind: libbpf warns and stops here.
                _ => return Ok(()),
            }
            last_was_ptr = kind == Kind::Ptr;
        }
        self.emit_name(fname, last_was_ptr);
        Ok(())
    }

    fn emit_array(&mut self, id: u32, base: usize, cnt: &mut usize, fname: &str, lvl: usize, last_was_ptr: bool) -> Result<()> {
        let nelems = self.ty(id)?.array().expect("ARRAY").nelems;
        self.drop_mods(base, cnt)?;
        if *cnt == 0 {
            self.emit_name(fname, last_was_ptr);
            let _ = write!(self.out, "[{nelems}]");
            return Ok(());
        }
        let next = self.top(base, *cnt);
        let multidim = next != 0 && self.ty(next)?.kind() == Kind::Array;
        if !fname.is_empty() && !last_was_ptr {
            self.out.push(' ');
        }
        if !multidim {
            self.out.push('(');
        }
        self.emit_type_chain(base, cnt, fname, lvl)?;
        if !multidim {
            self.out.push(')');
        }
        let _ = write!(self.out, "[{nelems}]");
        Ok(())
    }

    fn emit_func_proto(&mut self, id: u32, base: usize, cnt: &mut usize, fname: &str, lvl: usize, last_was_ptr: bool) -> Result<()> {
        let t = self.ty(id)?;
        self.drop_mods(base, cnt)?;
        if *cnt > 0 {
            self.out.push_str(" (");
            self.emit_type_chain(base, cnt, fname, lvl)?;
            self.out.push(')');
        } else {
            self.emit_name(fname, last_was_ptr);
        }
        self.out.push('(');
        let vlen = t.vlen();
        // Clang writes `f(void)` as one void parameter.
        if vlen == 0 || (vlen == 1 && t.params().next().is_some_and(|p| p.type_id == 0)) {
            self.out.push_str("void)");
            return Ok(());
        }
        for (i, p) in t.params().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            if i == vlen - 1 && p.type_id == 0 {
                self.out.push_str("...");
                break;
            }
            let pname = self.name_of(p.name_off)?;
            self.emit_type_decl(p.type_id, pname, lvl)?;
        }
        self.out.push(')');
        Ok(())
    }
}
