//! A vmlinux BTF with sched_ext, for comparing the planned instructions of
//! sched_ext schedulers on a host built without `CONFIG_SCHED_CLASS_EXT`:
//! the host's own BTF, ids unchanged, with the sched_ext types appended
//! (`struct sched_ext_ops`, its struct_ops value type, the `scx_*` enums and
//! every kfunc the schedulers call that the host lacks), taken from the
//! schedulers' own BTF (scx's `vmlinux.h`). A type the appended ones refer
//! to by a name the host has (`struct task_struct`) is the host's.
//!
//! It is not a sched_ext kernel (the host's `task_struct` has no `scx`
//! member, the kfuncs are not registered), but libbpf and bpfld are given
//! the same file, so their plans must agree on it.

use std::collections::HashMap;
use std::path::Path;

use bpfld_btf::writer::{OwnedType, TypeData, Writer};
use bpfld_btf::{Btf, Kind};

use super::differential::StandInBtf;

/// The kernel's `BPF_STRUCT_OPS_TYPE`: `data` is cacheline aligned.
const VALUE_DATA_OFFSET: u32 = 64;
const STRUCT_OPS: &str = "sched_ext_ops";
const STRUCT_OPS_VALUE: &str = "bpf_struct_ops_sched_ext_ops";

/// The host's BTF with the sched_ext types of `objects` appended, as raw
/// BTF bytes; each object comes with the ids of its kfunc externs' FUNCs.
pub fn with_sched_ext(host: &Btf, objects: &[(&Btf, Vec<u32>)]) -> Result<Vec<u8>, String> {
    let mut g = Graft { host, writer: Writer::from_btf(host).map_err(|e| e.to_string())?, by_name: HashMap::new() };
    for (obj, kfuncs) in objects {
        g.graft_object(obj, kfuncs)?;
    }
    g.add_value_type()?;
    g.writer.write().map_err(|e| e.to_string())
}

/// Copies types of one BTF into the writer that holds the host's.
struct Graft<'a> {
    host: &'a Btf,
    writer: Writer,
    /// (name, kind) of every type appended so far.
    by_name: HashMap<(String, Kind), u32>,
}

impl Graft<'_> {
    fn graft_object(&mut self, obj: &Btf, kfuncs: &[u32]) -> Result<(), String> {
        let mut copied = HashMap::new();
        for t in obj.own_types() {
            let name = t.name().map_err(|e| e.to_string())?;
            let sched_ext = match t.kind() {
                Kind::Struct => name == STRUCT_OPS,
                Kind::Enum | Kind::Enum64 => name.starts_with("scx_"),
                _ => false,
            };
            if sched_ext {
                self.copy(obj, t.id(), &mut copied)?;
            }
        }
        for id in kfuncs {
            self.graft_kfunc(obj, *id, &mut copied)?;
        }
        Ok(())
    }

    /// A kfunc extern's FUNC the host lacks, under its essential name (without
    /// a `___flavor` suffix), as the kernel would have it.
    fn graft_kfunc(&mut self, obj: &Btf, id: u32, copied: &mut HashMap<u32, u32>) -> Result<(), String> {
        let t = obj.type_by_id(id).map_err(|e| e.to_string())?;
        if t.kind() != Kind::Func {
            return Ok(());
        }
        let essential = bpfld_btf::essential_name(t.name().map_err(|e| e.to_string())?).to_string();
        if self.host.find_first(&essential, Kind::Func).is_some() || self.by_name.contains_key(&(essential.clone(), Kind::Func)) {
            return Ok(());
        }
        let proto = self.copy(obj, t.raw_size_or_type(), copied)?;
        let func = OwnedType {
            name: essential.clone(),
            kind: Kind::Func,
            kflag: false,
            size_or_type: proto,
            data: TypeData::Func(bpfld_btf::FuncLinkage::Static),
        };
        let new = self.writer.push(func);
        self.by_name.insert((essential, Kind::Func), new);
        Ok(())
    }

    /// The id in the writer of `obj`'s type `id`: the host's or an appended
    /// type of the same name and kind, else a copy (appended).
    fn copy(&mut self, obj: &Btf, id: u32, copied: &mut HashMap<u32, u32>) -> Result<u32, String> {
        if id == 0 {
            return Ok(0);
        }
        if let Some(&done) = copied.get(&id) {
            return Ok(done);
        }
        let t = obj.type_by_id(id).map_err(|e| e.to_string())?;
        let name = t.name().map_err(|e| e.to_string())?.to_string();
        if let Some(existing) = self.existing(&name, t.kind()) {
            copied.insert(id, existing);
            return Ok(existing);
        }
        let mut owned = OwnedType::from_type(&t).map_err(|e| e.to_string())?;
        // Reserved first: pointers may lead back to this type.
        let new = self.writer.push(owned.clone());
        copied.insert(id, new);
        if !name.is_empty() {
            self.by_name.insert((name, t.kind()), new);
        }
        self.remap(obj, &mut owned, copied)?;
        *self.writer.get_mut(new).expect("just pushed") = owned;
        Ok(new)
    }

    /// A named type the host (or the appended types) already has: by kind,
    /// a forward declaration also matching a struct or union.
    fn existing(&self, name: &str, kind: Kind) -> Option<u32> {
        let named = matches!(kind, Kind::Struct | Kind::Union | Kind::Enum | Kind::Enum64 | Kind::Typedef | Kind::Int | Kind::Float);
        if name.is_empty() || !(named || kind == Kind::Fwd) {
            return None;
        }
        let kinds: &[Kind] = if kind == Kind::Fwd { &[Kind::Struct, Kind::Union, Kind::Fwd] } else { std::slice::from_ref(&kind) };
        kinds.iter().find_map(|k| self.host.find_first(name, *k).or_else(|| self.by_name.get(&(name.to_string(), *k)).copied()))
    }

    /// Rewrites the type ids `t` refers to into writer ids.
    fn remap(&mut self, obj: &Btf, t: &mut OwnedType, copied: &mut HashMap<u32, u32>) -> Result<(), String> {
        if t.kind.refers_by_size_or_type() {
            t.size_or_type = self.copy(obj, t.size_or_type, copied)?;
        }
        match &mut t.data {
            TypeData::Members(members) => {
                for m in members {
                    m.type_id = self.copy(obj, m.type_id, copied)?;
                }
            }
            TypeData::Params(params) => {
                for p in params {
                    p.1 = self.copy(obj, p.1, copied)?;
                }
            }
            TypeData::Array(a) => {
                a.elem_type = self.copy(obj, a.elem_type, copied)?;
                a.index_type = self.copy(obj, a.index_type, copied)?;
            }
            _ => {}
        }
        Ok(())
    }

    /// `struct bpf_struct_ops_sched_ext_ops { common; data; }` as the
    /// kernel's `BPF_STRUCT_OPS_TYPE` declares it.
    fn add_value_type(&mut self) -> Result<(), String> {
        let ops = *self.by_name.get(&(STRUCT_OPS.to_string(), Kind::Struct)).ok_or("no scheduler has struct sched_ext_ops")?;
        let common =
            self.host.find_first("bpf_struct_ops_common_value", Kind::Struct).ok_or("host BTF lacks bpf_struct_ops_common_value")?;
        let ops_size = self.writer.get(ops).map(|t| t.size_or_type).unwrap_or_default();
        let member = |name: &str, type_id, bytes: u32| bpfld_btf::writer::OwnedMember { name: name.into(), type_id, offset: bytes * 8 };
        let value = OwnedType {
            name: STRUCT_OPS_VALUE.into(),
            kind: Kind::Struct,
            kflag: false,
            size_or_type: VALUE_DATA_OFFSET + ops_size.div_ceil(64) * 64,
            data: TypeData::Members(vec![member("common", common, 0), member("data", ops, VALUE_DATA_OFFSET)]),
        };
        self.writer.push(value);
        Ok(())
    }
}

/// The stand-in BTF for `objects`: written into `dir` (one file per
/// process, a second or so to make) and parsed.
pub fn stand_in(objects: &[&Path], dir: &Path) -> Result<StandInBtf, String> {
    let host = bpfld::kernel_target::cached_vmlinux_btf().map_err(|e| e.to_string())?;
    let opened: Vec<bpfld::OpenObject> =
        objects.iter().map(|p| bpfld::OpenObject::open(p).map_err(|e| format!("{}: {e}", p.display()))).collect::<Result<_, _>>()?;
    let kfuncs = |o: &bpfld_obj::Object| o.externs.iter().filter(|e| e.kind == bpfld_obj::ExternKind::Kfunc).map(|e| e.btf_id).collect();
    let btfs: Vec<(&Btf, Vec<u32>)> = opened.iter().filter_map(|o| Some((o.object().btf.as_ref()?, kfuncs(o.object())))).collect();
    let bytes = with_sched_ext(&host, &btfs)?;
    let path = dir.join(format!("bpfld-vmlinux-sched_ext.{}.btf", std::process::id()));
    std::fs::write(&path, &bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let btf = Btf::from_vec(bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(StandInBtf { path, btf })
}
