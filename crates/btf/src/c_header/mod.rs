//! C declarations of BTF types in an order that compiles: the `vmlinux.h`
//! that `bpftool btf dump file F format c` writes, with the semantics of
//! libbpf's `btf_dump` (topological order with forward declarations where a
//! pointer cycle allows one, anonymous types inline, bitfields and explicit
//! padding, `packed` where natural alignment cannot give the layout,
//! `mode(byte)`/`mode(word)` enums, `___N` suffixes for clashing names).
//!
//! Beyond libbpf, declaration tags on structs, unions, members and typedefs
//! are written as `btf_decl_tag` attributes (kernels tag only functions, so a
//! kernel header is byte for byte bpftool's).

mod decl;
mod emit;
mod layout;
mod names;
mod order;
mod tags;

use crate::btf::Btf;
use crate::error::{Error, Result};
use crate::kind::Kind;

/// Where libbpf's `btf_dump` stops indenting.
const MAX_INDENT: usize = 13;
/// Recursion bound: deeper type graphs are corrupt (kernels nest a few
/// dozen levels) and must not overflow the stack.
const MAX_DEPTH: u32 = 512;

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum OrderState {
    #[default]
    NotOrdered,
    Ordering,
    Ordered,
}

#[derive(Clone, Copy, Default, PartialEq, Eq)]
enum EmitState {
    #[default]
    NotEmitted,
    Emitting,
    Emitted,
}

/// Per-type state of the ordering and emission passes.
#[derive(Clone, Copy, Default)]
struct TypeState {
    order: OrderState,
    emit: EmitState,
    fwd_emitted: bool,
    /// Referenced by another type: an anonymous enum that is not is a
    /// top-level declaration of constants.
    referenced: bool,
}

/// Emits C for types of one BTF, remembering what it already emitted so
/// that dumping several types writes each definition once.
pub struct CDumper<'a> {
    btf: &'a Btf,
    ptr_size: u32,
    states: Vec<TypeState>,
    names: names::Names<'a>,
    layout: layout::Layout,
    tags: tags::DeclTags,
    emit_queue: Vec<u32>,
    decl_stack: Vec<u32>,
    out: String,
}

impl<'a> CDumper<'a> {
    /// Prepares a dump of `btf` (with its base, for split BTF).
    pub fn new(btf: &'a Btf) -> Result<Self> {
        let count = btf.type_count() as usize;
        let mut states = vec![TypeState::default(); count];
        states[0].order = OrderState::Ordered;
        states[0].emit = EmitState::Emitted;
        mark_referenced(btf, &mut states)?;
        Ok(CDumper {
            btf,
            ptr_size: crate::resolve::pointer_size(btf),
            states,
            names: names::Names::new(count),
            layout: layout::Layout::new(count),
            tags: tags::DeclTags::new(btf)?,
            emit_queue: Vec::new(),
            decl_stack: Vec::new(),
            out: String::new(),
        })
    }

    /// Appends the definitions `id` needs that were not emitted yet, then
    /// `id`'s own (nothing for kinds C has no declaration for here: FUNC,
    /// VAR, DATASEC, DECL_TAG).
    pub fn dump_type(&mut self, id: u32) -> Result<()> {
        if id >= self.btf.type_count() {
            return Err(Error::types(format!("type id out of range (last id is {})", self.btf.type_count() - 1)).ty(id));
        }
        self.emit_queue.clear();
        self.order(id, false, 0)?;
        let queue = std::mem::take(&mut self.emit_queue);
        for &qid in &queue {
            self.emit_type(qid, 0, 0)?;
        }
        self.emit_queue = queue;
        Ok(())
    }

    /// Every type, in id order (base types first for split BTF).
    pub fn dump_all(&mut self) -> Result<()> {
        for id in 1..self.btf.type_count() {
            self.dump_type(id)?;
        }
        Ok(())
    }

    /// The C written so far.
    pub fn output(&self) -> &str {
        &self.out
    }

    /// Takes the C written so far.
    pub fn into_output(self) -> String {
        self.out
    }

    fn ty(&self, id: u32) -> Result<crate::types::Type<'a>> {
        self.btf.type_by_id(id)
    }

    fn name_of(&self, off: u32) -> Result<&'a str> {
        self.btf.str(off)
    }
}

/// The header bpftool writes around the declarations (same guard, same
/// `preserve_access_index` pragma).
pub const HEADER_PROLOGUE: &str = "#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)\n#endif\n\n";
/// The end of the header.
pub const HEADER_EPILOGUE: &str =
    "#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n";

/// The whole header for `btf`: every type (base types first for split BTF),
/// or with `roots` only those and what they need, as
/// `bpftool btf dump file F format c`.
pub fn c_header(btf: &Btf, roots: Option<&[u32]>) -> Result<String> {
    let mut d = CDumper::new(btf)?;
    d.out.reserve(if roots.is_some() { 4096 } else { btf.type_count() as usize * 32 });
    d.out.push_str(HEADER_PROLOGUE);
    match roots {
        Some(ids) => {
            for &id in ids {
                d.dump_type(id)?;
            }
        }
        None => d.dump_all()?,
    }
    d.out.push_str(HEADER_EPILOGUE);
    Ok(d.into_output())
}

/// The types `--type NAME` stands for: every type of that name; for a
/// FUNC or VAR, the types its prototype or type names (pointers looked
/// through, so that a `struct sock *` parameter brings `struct sock`'s
/// definition, not just a forward declaration).
pub fn roots_named(btf: &Btf, name: &str) -> Result<Vec<u32>> {
    let mut roots = Vec::new();
    for id in btf.find(name, None) {
        let t = btf.type_by_id(id)?;
        match t.kind() {
            Kind::Func => {
                let proto = btf.type_by_id(t.raw_size_or_type())?;
                roots.push(pointee(btf, proto.raw_size_or_type())?);
                for p in proto.params() {
                    roots.push(pointee(btf, p.type_id)?);
                }
            }
            Kind::Var => roots.push(pointee(btf, t.raw_size_or_type())?),
            _ => roots.push(id),
        }
    }
    roots.retain(|&id| id != 0);
    Ok(roots)
}

/// `id` with pointers and qualifiers looked through.
fn pointee(btf: &Btf, mut id: u32) -> Result<u32> {
    for _ in 0..MAX_DEPTH {
        if id == 0 {
            return Ok(0);
        }
        let t = btf.type_by_id(id)?;
        if t.kind() == Kind::Ptr || t.kind().is_modifier() {
            id = t.raw_size_or_type();
        } else {
            return Ok(id);
        }
    }
    Err(Error::types(format!("pointer chain longer than {MAX_DEPTH} (a reference loop?)")).ty(id))
}

fn mark_referenced(btf: &Btf, states: &mut [TypeState]) -> Result<()> {
    let mut mark = |id: u32| {
        if let Some(s) = states.get_mut(id as usize) {
            s.referenced = true;
        }
    };
    for t in btf.all_types() {
        match t.kind() {
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Fwd | Kind::Float => {}
            Kind::Array => {
                let a = t.array().expect("ARRAY");
                mark(a.index_type);
                mark(a.elem_type);
            }
            Kind::Struct | Kind::Union => t.members().for_each(|m| mark(m.type_id)),
            Kind::FuncProto => {
                // The return type is not marked, as in libbpf.
                t.params().for_each(|p| mark(p.type_id))
            }
            Kind::Datasec => t.datasec_vars().for_each(|v| mark(v.type_id)),
            _ => mark(t.raw_size_or_type()),
        }
    }
    Ok(())
}

fn indent(out: &mut String, lvl: usize) {
    for _ in 0..lvl.min(MAX_INDENT) {
        out.push('\t');
    }
}
