//! The topological pass: which named definitions must come before a type,
//! in the order C needs them. A struct embedded in another (no pointer on
//! the way) must be complete first; one reached through a pointer needs
//! only a forward declaration, unless it is anonymous and so written inline.
//! The result of each call says whether the type is a "strong" link
//! (its definition is needed, not just its name), which decides whether a
//! typedef reached through a pointer must be emitted early.

use super::{CDumper, OrderState, MAX_DEPTH};
use crate::error::{Error, Result};
use crate::kind::Kind;

impl CDumper<'_> {
    pub(super) fn order(&mut self, id: u32, through_ptr: bool, depth: u32) -> Result<bool> {
        if depth > MAX_DEPTH {
            return Err(Error::types(format!("type graph nests deeper than {MAX_DEPTH} levels (a reference loop?)")).ty(id));
        }
        let state = self.states[id as usize].order;
        if state == OrderState::Ordered {
            return Ok(true);
        }
        let t = self.ty(id)?;
        if state == OrderState::Ordering {
            // A loop is fine through a pointer to a named composite: a
            // forward declaration breaks it.
            if t.kind().is_composite() && through_ptr && t.name_off() != 0 {
                return Ok(false);
            }
            return Err(Error::types("unsatisfiable type cycle: the type contains itself without a pointer in between").ty(id));
        }
        let depth = depth + 1;
        match t.kind() {
            Kind::Int | Kind::Float => {
                self.set_order(id, OrderState::Ordered);
                Ok(false)
            }
            Kind::Ptr => {
                let strong = self.order(t.raw_size_or_type(), true, depth)?;
                self.set_order(id, OrderState::Ordered);
                Ok(strong)
            }
            Kind::Array => self.order(t.array().expect("ARRAY").elem_type, false, depth),
            Kind::Struct | Kind::Union => {
                if through_ptr && t.name_off() != 0 {
                    return Ok(false);
                }
                self.set_order(id, OrderState::Ordering);
                for m in t.members() {
                    self.order(m.type_id, false, depth)?;
                }
                if t.name_off() != 0 {
                    self.emit_queue.push(id);
                }
                self.set_order(id, OrderState::Ordered);
                Ok(true)
            }
            Kind::Enum | Kind::Enum64 | Kind::Fwd => {
                // Named enums, and anonymous ones nothing refers to (a
                // block of constants), are top-level declarations.
                if t.name_off() != 0 || !self.states[id as usize].referenced {
                    self.emit_queue.push(id);
                }
                self.set_order(id, OrderState::Ordered);
                Ok(true)
            }
            Kind::Typedef => {
                let strong = self.order(t.raw_size_or_type(), through_ptr, depth)?;
                if through_ptr && !strong {
                    return Ok(false);
                }
                self.emit_queue.push(id);
                self.set_order(id, OrderState::Ordered);
                Ok(true)
            }
            Kind::Volatile | Kind::Const | Kind::Restrict | Kind::TypeTag => self.order(t.raw_size_or_type(), through_ptr, depth),
            Kind::FuncProto => {
                let mut strong = self.order(t.raw_size_or_type(), through_ptr, depth)?;
                for p in t.params() {
                    strong |= self.order(p.type_id, through_ptr, depth)?;
                }
                Ok(strong)
            }
            Kind::Func | Kind::Var | Kind::Datasec | Kind::DeclTag => {
                self.set_order(id, OrderState::Ordered);
                Ok(false)
            }
        }
    }

    fn set_order(&mut self, id: u32, state: OrderState) {
        self.states[id as usize].order = state;
    }
}
