//! The README's library example is the crate documentation's doctest
//! (which runs it against the running kernel), minus the doctest's hidden
//! lines: they cannot drift apart.

/// The lines of the first ```rust block after `heading` in the README.
fn readme_example() -> Vec<String> {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = &readme[readme.find("## The library").expect("README has a library section")..];
    let block = &section[section.find("```rust\n").unwrap() + 8..];
    block[..block.find("```").unwrap()].lines().map(str::to_string).collect()
}

/// The crate doc's first example, without `# ` lines.
fn doctest_example() -> Vec<String> {
    let lib = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).unwrap();
    let doc: Vec<&str> = lib.lines().map_while(|l| l.strip_prefix("//!")).map(|l| l.strip_prefix(' ').unwrap_or(l)).collect();
    let start = doc.iter().position(|l| *l == "```").unwrap() + 1;
    let end = start + doc[start..].iter().position(|l| *l == "```").unwrap();
    doc[start..end].iter().filter(|l| !l.trim_start().starts_with("# ")).map(|l| l.to_string()).collect()
}

#[test]
fn the_readme_example_is_the_doctest() {
    let (readme, doc) = (readme_example(), doctest_example());
    assert!(readme.iter().any(|l| l.contains("OpenObject::open(\"tests/bpf/obj/readme_example.bpf.o\")")), "{readme:#?}");
    assert_eq!(readme, doc);
}
