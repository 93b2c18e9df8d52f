//! C-like rendering of a type (`struct task_struct *(struct task_struct *,
//! int)`), for diagnostics that put a local prototype next to the
//! kernel's. Only as deep as a message needs: named types print by name,
//! anonymous composites as `struct {...}`.

use crate::btf::Btf;
use crate::kind::Kind;

/// Renders type `id` of `btf` as C; `void` for 0. Never fails: a broken
/// reference prints as `<bad type N>`.
pub fn c_decl(btf: &Btf, id: u32) -> String {
    render(btf, id, String::new(), 0)
}

/// Declarator-style rendering: `inner` is what the type applies to (a name,
/// `*`, `(*)(...)`), built from the outside in as C declarators are.
fn render(btf: &Btf, id: u32, inner: String, depth: u32) -> String {
    let join = |base: &str, inner: &str| if inner.is_empty() { base.to_string() } else { format!("{base} {inner}") };
    if depth > 32 {
        return join("...", &inner);
    }
    if id == 0 {
        return join("void", &inner);
    }
    let Ok(t) = btf.type_by_id(id) else {
        return join(&format!("<bad type {id}>"), &inner);
    };
    let name = t.name().unwrap_or("?");
    let named = |kw: &str| if name.is_empty() { format!("{kw} {{...}}") } else { format!("{kw} {name}") };
    match t.kind() {
        Kind::Int | Kind::Float | Kind::Typedef => join(name, &inner),
        Kind::Struct => join(&named("struct"), &inner),
        Kind::Union => join(&named("union"), &inner),
        Kind::Enum | Kind::Enum64 => join(&named("enum"), &inner),
        // Not C, but a forward declaration and a defined struct of the same
        // name are different kinds to the compatibility check, and a
        // diagnostic must show the difference.
        Kind::Fwd => join(&format!("fwd {}", named(if t.fwd_is_union() { "union" } else { "struct" })), &inner),
        Kind::Ptr => {
            let target = t.type_ref().unwrap_or(0);
            let is_fn = btf.type_by_id(target).map(|x| matches!(x.kind(), Kind::FuncProto | Kind::Array)).unwrap_or(false);
            let p = if inner.is_empty() { "*".to_string() } else { format!("*{inner}") };
            render(btf, target, if is_fn { format!("({p})") } else { p }, depth + 1)
        }
        Kind::Const | Kind::Volatile | Kind::Restrict => {
            let q = match t.kind() {
                Kind::Const => "const",
                Kind::Volatile => "volatile",
                _ => "restrict",
            };
            let target = t.type_ref().unwrap_or(0);
            // `const int` reads better than `int const` for plain types.
            let plain = btf.type_by_id(target).map(|x| !matches!(x.kind(), Kind::Ptr)).unwrap_or(true);
            if plain {
                format!("{q} {}", render(btf, target, inner, depth + 1))
            } else {
                render(btf, target, join(q, &inner), depth + 1)
            }
        }
        Kind::TypeTag => render(btf, t.type_ref().unwrap_or(0), inner, depth + 1),
        Kind::Array => {
            let a = t.array().expect("ARRAY");
            render(btf, a.elem_type, format!("{inner}[{}]", a.nelems), depth + 1)
        }
        Kind::FuncProto => {
            let params: Vec<String> = t
                .params()
                .map(|p| if p.type_id == 0 { "...".to_string() } else { render(btf, p.type_id, String::new(), depth + 1) })
                .collect();
            let args = if params.is_empty() { "void".to_string() } else { params.join(", ") };
            render(btf, t.type_ref().unwrap_or(0), format!("{inner}({args})"), depth + 1)
        }
        Kind::Func => render(btf, t.type_ref().unwrap_or(0), join(name, &inner).trim().to_string(), depth + 1),
        Kind::Var => render(btf, t.type_ref().unwrap_or(0), join(name, &inner).trim().to_string(), depth + 1),
        Kind::Datasec => format!("SEC(\"{name}\")"),
        Kind::DeclTag => format!("__attribute__((btf_decl_tag(\"{name}\")))"),
    }
}
