//! DECL_TAGs by the type they annotate, so that a struct, member or
//! typedef can carry its `btf_decl_tag` attributes.

use std::collections::HashMap;

use crate::btf::Btf;
use crate::error::Result;
use crate::kind::Kind;

/// `(component, tag type id)` of every DECL_TAG, keyed by tagged type.
pub(super) struct DeclTags {
    by_type: HashMap<u32, Vec<(i32, u32)>>,
}

impl DeclTags {
    pub(super) fn new(btf: &Btf) -> Result<Self> {
        let mut by_type: HashMap<u32, Vec<(i32, u32)>> = HashMap::new();
        for t in btf.all_types() {
            if t.kind() == Kind::DeclTag {
                let component = t.decl_tag_component().expect("DECL_TAG");
                by_type.entry(t.raw_size_or_type()).or_default().push((component, t.id()));
            }
        }
        Ok(DeclTags { by_type })
    }

    /// Tag type ids on `id` itself (component -1) or on its member or
    /// parameter `component`.
    pub(super) fn on(&self, id: u32, component: i32) -> impl Iterator<Item = u32> + '_ {
        self.by_type.get(&id).into_iter().flatten().filter(move |(c, _)| *c == component).map(|(_, tag)| *tag)
    }
}
