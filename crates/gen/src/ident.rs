//! Rust identifiers from C names.

/// Words Rust reserves; a C name that is one gets a trailing `_`.
const KEYWORDS: [&str; 51] = [
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop",
    "match", "mod", "move", "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe",
    "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro", "override", "priv", "typeof",
    "unsized", "virtual", "yield", "try",
];

/// A snake_case field or function name: non-identifier characters become
/// `_` (`.data.custom` is `data_custom`), a leading digit gets a `_`.
pub fn snake(name: &str) -> String {
    let mut s: String = name.trim_start_matches('.').chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if s.is_empty() || s.starts_with(|c: char| c.is_ascii_digit()) {
        s.insert(0, '_');
    }
    if KEYWORDS.contains(&s.as_str()) {
        s.push('_');
    }
    s
}

/// A CamelCase type name (`task_facts` is `TaskFacts`, `.data.custom` is
/// `DataCustom`).
pub fn camel(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|p| !p.is_empty()) {
        let mut cs = part.chars();
        if let Some(first) = cs.next() {
            out.push(first.to_ascii_uppercase());
            out.extend(cs);
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake(".data.custom"), "data_custom");
        assert_eq!(snake("type"), "type_");
        assert_eq!(snake("1x"), "_1x");
        assert_eq!(camel("task_facts"), "TaskFacts");
        assert_eq!(camel(".rodata.str1.1"), "RodataStr11");
        assert_eq!(camel("loader_maps"), "LoaderMaps");
    }
}
