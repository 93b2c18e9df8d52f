//! Exception callbacks: an entry program tagged
//! `btf_decl_tag("exception_callback:<subprog>")` (`__exception_cb(f)` of
//! the kernel's `bpf_experimental.h`) runs `<subprog>` when it calls
//! `bpf_throw()`. Nothing calls the callback, so linking by calls would
//! leave it out; the verifier then refuses the program ("exception
//! callback type id not found in func_info"). libbpf 1.7's
//! `bpf_prog_assign_exc_cb` picks the callback by these rules, and the
//! linker appends it after everything the program calls.

use bpfld_btf::{FuncLinkage, Kind};

use crate::error::{Ctx, Result};
use crate::object::Object;

/// The prefix of the decl tag's name.
pub const EXCEPTION_CALLBACK_TAG: &str = "exception_callback:";

/// The index in [`Object::programs`] of entry program `prog_idx`'s
/// exception callback, if it names one.
///
/// As libbpf: only tags on a whole declaration count; a tag on anything
/// but a global function is an error; a program with two tags gets no
/// callback appended (the verifier refuses it); the callback must be a
/// `.text` subprogram that is global and not hidden; a name that matches
/// no subprogram is an error.
pub fn exception_callback(obj: &Object, prog_idx: usize) -> Result<Option<usize>> {
    let Some(btf) = obj.btf.as_ref() else { return Ok(None) };
    let prog = &obj.programs[prog_idx];
    let cx = Ctx::new(&obj.name).with(format!("program '{}'", prog.name));
    let mut found: Option<usize> = None;
    for tag in btf.own_types().filter(|t| t.kind() == Kind::DeclTag && t.decl_tag_component() == Some(-1)) {
        let Some(cb_name) = tag.name().ok().and_then(|n| n.strip_prefix(EXCEPTION_CALLBACK_TAG)) else { continue };
        let func = tag.type_ref().and_then(|id| btf.type_by_id(id).ok());
        let Some(func) = func.filter(|f| f.kind() == Kind::Func && f.func_linkage() == Some(FuncLinkage::Global)) else {
            return Err(cx.err("exception_callback:<value> decl tag not applied to the main program"));
        };
        if func.name().ok() != Some(prog.name.as_str()) {
            continue;
        }
        if found.is_some() {
            // Two callbacks for one program: left to the verifier to refuse.
            return Ok(None);
        }
        if cb_name.is_empty() {
            return Err(cx.err("exception_callback:<value> decl tag contains empty value"));
        }
        let Some(idx) = obj.programs.iter().position(|p| p.is_subprog && p.name == cb_name) else {
            return Err(cx.err_kind(crate::error::ErrorKind::NotFound, format!("cannot find exception callback '{cb_name}'")));
        };
        let cb = &obj.programs[idx];
        // The verifier expects a global function; a hidden one's BTF is
        // made static (see `Program::mark_btf_static`).
        if !cb.global || cb.mark_btf_static {
            return Err(cx.err(format!("exception callback {cb_name} must be a global non-hidden function")));
        }
        found = Some(idx);
    }
    Ok(found)
}
