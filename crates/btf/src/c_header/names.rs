//! Unique C names. Two types of one namespace with the same name (two
//! `struct foo` of different layouts from different compilation units) get
//! `___2`, `___3`... in the order their names are first needed, as libbpf
//! does, so that the header is bpftool's byte for byte.

use std::collections::HashMap;

use super::CDumper;
use crate::error::Result;
use crate::kind::Kind;

/// Which C namespace a name lives in.
#[derive(Clone, Copy)]
pub(super) enum Namespace {
    /// struct, union and enum tags.
    Tags,
    /// typedefs and enumerators (ordinary identifiers).
    Idents,
}

pub(super) struct Names<'a> {
    tags: HashMap<&'a str, usize>,
    idents: HashMap<&'a str, usize>,
    /// Renamed types only (`foo___2`); the rest print their own name.
    renamed: HashMap<u32, String>,
    resolved: Vec<bool>,
}

impl<'a> Names<'a> {
    pub(super) fn new(count: usize) -> Self {
        Names { tags: HashMap::new(), idents: HashMap::new(), renamed: HashMap::new(), resolved: vec![false; count] }
    }

    /// Counts one more use of `name` in `ns` and returns the count.
    pub(super) fn count_use(&mut self, ns: Namespace, name: &'a str) -> usize {
        let map = match ns {
            Namespace::Tags => &mut self.tags,
            Namespace::Idents => &mut self.idents,
        };
        let n = map.entry(name).or_insert(0);
        *n += 1;
        *n
    }
}

impl<'a> CDumper<'a> {
    /// The name a struct, union, enum or typedef was written with
    /// (`foo___2` for the second `struct foo`); `None` until it was.
    pub fn emitted_name(&self, id: u32) -> Option<&str> {
        if !*self.names.resolved.get(id as usize)? {
            return None;
        }
        match self.names.renamed.get(&id) {
            Some(n) => Some(n),
            None => self.btf.type_by_id(id).ok()?.name().ok(),
        }
    }

    /// The name a struct, union, enum or forward declaration is written
    /// with.
    pub(super) fn tag_name(&mut self, id: u32) -> Result<&str> {
        self.unique_name(id, Namespace::Tags)
    }

    /// The name a typedef is written with.
    pub(super) fn ident_name(&mut self, id: u32) -> Result<&str> {
        self.unique_name(id, Namespace::Idents)
    }

    fn unique_name(&mut self, id: u32, ns: Namespace) -> Result<&str> {
        let t = self.ty(id)?;
        let name = t.name()?;
        if name.is_empty() {
            return Ok("");
        }
        let names = &mut self.names;
        if !names.resolved[id as usize] {
            names.resolved[id as usize] = true;
            // Forward declarations never clash with their definitions.
            let is_fwd = t.kind() == Kind::Fwd || (t.kind() == Kind::Enum && t.vlen() == 0);
            if !is_fwd {
                let dups = names.count_use(ns, name);
                if dups > 1 {
                    names.renamed.insert(id, format!("{name}___{dups}"));
                }
            }
        }
        Ok(self.names.renamed.get(&id).map(String::as_str).unwrap_or(name))
    }
}
