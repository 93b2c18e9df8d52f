//! Alignment and size as libbpf's `btf__align_of`/`btf__resolve_size`
//! compute them, memoized: a struct's alignment is asked for each time it
//! is a member, and vmlinux has 100,000 members.

use super::{CDumper, MAX_DEPTH};
use crate::error::{Error, Result};
use crate::kind::Kind;

pub(super) struct Layout {
    /// Alignment of each type, 0 until computed.
    align: Vec<u32>,
}

impl Layout {
    pub(super) fn new(count: usize) -> Self {
        Layout { align: vec![0; count] }
    }
}

impl CDumper<'_> {
    /// `btf__align_of`; 0 for kinds without an alignment (void, FWD,
    /// FUNC_PROTO...), which libbpf also treats as "unknown".
    pub(super) fn align_of(&mut self, id: u32) -> Result<u32> {
        self.align_at(id, 0)
    }

    fn align_at(&mut self, id: u32, depth: u32) -> Result<u32> {
        if let Some(&a) = self.layout.align.get(id as usize) {
            if a != 0 {
                return Ok(a);
            }
        }
        if depth > MAX_DEPTH || id == 0 {
            return Ok(0);
        }
        let t = self.ty(id)?;
        let align = match t.kind() {
            Kind::Int | Kind::Enum | Kind::Enum64 | Kind::Float => self.ptr_size.min(t.raw_size_or_type()),
            Kind::Ptr => self.ptr_size,
            Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => {
                self.align_at(t.raw_size_or_type(), depth + 1)?
            }
            Kind::Array => self.align_at(t.array().expect("ARRAY").elem_type, depth + 1)?,
            Kind::Struct | Kind::Union => {
                let mut max_align = 1u32;
                let mut packed = false;
                for m in t.members() {
                    let a = self.align_at(m.type_id, depth + 1)?;
                    if a == 0 {
                        return Ok(0);
                    }
                    max_align = max_align.max(a);
                    if m.bitfield_size == 0 && m.bit_offset as u64 % (8 * a as u64) != 0 {
                        packed = true;
                        break;
                    }
                }
                if packed || t.raw_size_or_type() % max_align != 0 {
                    1
                } else {
                    max_align
                }
            }
            _ => 0,
        };
        self.layout.align[id as usize] = align;
        Ok(align)
    }

    /// Whether a struct needs `__attribute__((packed))`: a plain member off
    /// its natural alignment, or a size that is not a multiple of the
    /// largest member alignment.
    pub(super) fn is_packed(&mut self, id: u32) -> Result<bool> {
        let t = self.ty(id)?;
        let mut max_align = 1u32;
        for m in t.members() {
            let a = self.align_of(m.type_id)?;
            if a != 0 && m.bitfield_size == 0 && m.bit_offset as u64 % (8 * a as u64) != 0 {
                return Ok(true);
            }
            max_align = max_align.max(a);
        }
        Ok(t.raw_size_or_type() % max_align != 0)
    }

    /// `btf__resolve_size`, 0 where it has none (as libbpf's caller clamps
    /// errors to 0).
    pub(super) fn size_of(&self, id: u32) -> Result<u64> {
        let mut id = id;
        let mut nelems = 1u64;
        for _ in 0..MAX_DEPTH {
            if id == 0 {
                return Ok(0);
            }
            let t = self.ty(id)?;
            let size = match t.kind() {
                Kind::Int | Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Datasec | Kind::Float => {
                    t.raw_size_or_type() as u64
                }
                Kind::Ptr => self.ptr_size as u64,
                Kind::Typedef | Kind::Volatile | Kind::Const | Kind::Restrict | Kind::Var | Kind::DeclTag | Kind::TypeTag => {
                    id = t.raw_size_or_type();
                    continue;
                }
                Kind::Array => {
                    let a = t.array().expect("ARRAY");
                    nelems = nelems.saturating_mul(a.nelems as u64);
                    id = a.elem_type;
                    continue;
                }
                _ => return Ok(0),
            };
            return Ok(nelems.saturating_mul(size));
        }
        Err(Error::types(format!("size does not resolve within {MAX_DEPTH} steps (a reference loop?)")).ty(id))
    }
}
