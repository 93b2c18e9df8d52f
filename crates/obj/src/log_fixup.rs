//! Verifier log fixup: explains poisoned instructions the verifier tripped
//! on, as libbpf 1.7's `fixup_verifier_log` does.
//!
//! A poisoned instruction is a call of a helper that does not exist; when
//! the verifier reaches it the log ends with
//!
//! ```text
//! 123: (85) call unknown#195896080
//! invalid func unknown#195896080
//! ```
//!
//! which says nothing about the cause. Those two lines are replaced with
//! libbpf's wording, naming the CO-RE relocation, the map or the kfunc that
//! did not resolve, so that users of either loader see the same message.
//!
//! Differences from libbpf, deliberate: libbpf edits a fixed-size buffer and
//! cuts the patch (128 bytes for maps and kfuncs) or the end of the log when
//! they do not fit; here the log is a `String` and nothing is cut. The
//! poisoned instruction is found by the index the log gives; libbpf finds
//! maps and kfuncs by the number in `unknown#<n>`, which names the same
//! instruction's target.

use bpfld_asm::insn::poison;

use crate::plan::{PoisonKind, Poisoned};

/// libbpf looks at most this many lines from the end of the log.
const MAX_LAST_LINES: usize = 10;

/// `invalid func unknown#` followed by what identifies each poison kind
/// (libbpf's prefixes: the whole CO-RE value with its newline, the first
/// digits of the map and kfunc bases).
const CORE_PFX: &str = "invalid func unknown#195896080\n";
const MAP_PFX: &str = "invalid func unknown#200100";
const KFUNC_PFX: &str = "invalid func unknown#2002";

/// libbpf formats a CO-RE spec into 256 bytes and appends `...` when it was
/// cut.
const CORE_SPEC_BUF: usize = 256;

/// Returns the log with the first recognized poisoned-call error (searching
/// the last 10 lines backwards) explained, or `None` if there is nothing to
/// rewrite.
pub fn fixup_verifier_log(log: &str, poisoned: &[Poisoned]) -> Option<String> {
    // Lines with their newline, as libbpf's `find_prev_line` delimits them.
    let lines: Vec<&str> = log.split_inclusive('\n').collect();
    for cur in (0..lines.len()).rev().take(MAX_LAST_LINES) {
        let line = lines[cur];
        let kind = if line.starts_with(CORE_PFX) {
            Kind::Core
        } else if line.starts_with(MAP_PFX) {
            Kind::Map
        } else if line.starts_with(KFUNC_PFX) {
            Kind::Kfunc
        } else {
            continue;
        };
        let Some(prev) = cur.checked_sub(1) else { continue };
        // As libbpf: once a pattern matched, stop whether or not the
        // instruction line parses.
        let patch = patch_for(kind, lines[prev], poisoned)?;
        let mut out = String::with_capacity(log.len() + patch.len());
        lines[..prev].iter().for_each(|l| out.push_str(l));
        out.push_str(&patch);
        lines[cur + 1..].iter().for_each(|l| out.push_str(l));
        return Some(out);
    }
    None
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Core,
    Map,
    Kfunc,
}

fn patch_for(kind: Kind, insn_line: &str, poisoned: &[Poisoned]) -> Option<String> {
    let (insn_idx, imm) = parse_call_line(insn_line)?;
    let found = poisoned.iter().find(|p| p.insn_idx as i64 == insn_idx).map(|p| &p.kind);
    match (kind, found) {
        (Kind::Core, Some(PoisonKind::CoreRelo { spec })) if imm == i64::from(poison::CORE_RELO) => {
            let (spec, dots) =
                if spec.len() >= CORE_SPEC_BUF { (truncate_at_char(spec, CORE_SPEC_BUF - 1), "...") } else { (spec.as_str(), "") };
            Some(format!("{insn_idx}: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation {spec}{dots}\n"))
        }
        (Kind::Map, Some(PoisonKind::MapLoad { name })) => {
            Some(format!("{insn_idx}: <invalid BPF map reference>\nBPF map '{name}' is referenced but wasn't created\n"))
        }
        (Kind::Kfunc, Some(PoisonKind::KfuncCall { name })) => {
            Some(format!("{insn_idx}: <invalid kfunc call>\nkfunc '{name}' is referenced but wasn't resolved\n"))
        }
        _ => None,
    }
}

fn truncate_at_char(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Parses `<idx>: (<code>) call unknown#<imm>` the way libbpf's `sscanf`
/// format `"%d: (%*d) call unknown#%d"` does (whitespace before numbers and
/// around the literal parts is optional).
fn parse_call_line(line: &str) -> Option<(i64, i64)> {
    let mut s = Scanner(line);
    let idx = s.int()?;
    s.lit(":")?;
    s.lit("(")?;
    s.int()?;
    s.lit(")")?;
    s.lit("call")?;
    s.lit("unknown#")?;
    let imm = s.int()?;
    Some((idx, imm))
}

struct Scanner<'a>(&'a str);

impl Scanner<'_> {
    fn skip_ws(&mut self) {
        self.0 = self.0.trim_start();
    }
    fn lit(&mut self, lit: &str) -> Option<()> {
        self.skip_ws();
        self.0 = self.0.strip_prefix(lit)?;
        Some(())
    }
    fn int(&mut self) -> Option<i64> {
        self.skip_ws();
        let b = self.0.as_bytes();
        let sign = usize::from(matches!(b.first(), Some(b'-' | b'+')));
        let digits = b[sign..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        let (num, rest) = self.0.split_at(sign + digits);
        self.0 = rest;
        num.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(insn_idx: usize, kind: PoisonKind) -> Poisoned {
        Poisoned { insn_idx, kind }
    }

    const TAIL: &str = "processed 12 insns (limit 1000000) max_states_per_insn 0 total_states 1 peak_states 1 mark_read 0\n";

    #[test]
    fn kfunc_call_is_explained() {
        let log = format!("0: R1=ctx() R10=fp0\n; x @ a.c:3\n5: (85) call unknown#2002000003\ninvalid func unknown#2002000003\n{TAIL}");
        let fixed = fixup_verifier_log(&log, &[p(5, PoisonKind::KfuncCall { name: "bpf_missing___v2".into() })]).unwrap();
        assert_eq!(
            fixed,
            format!("0: R1=ctx() R10=fp0\n; x @ a.c:3\n5: <invalid kfunc call>\nkfunc 'bpf_missing___v2' is referenced but wasn't resolved\n{TAIL}")
        );
    }

    #[test]
    fn map_load_is_explained() {
        let log = "7: (85) call unknown#2001000001\ninvalid func unknown#2001000001\n";
        let fixed = fixup_verifier_log(log, &[p(7, PoisonKind::MapLoad { name: "skipped_map".into() })]).unwrap();
        assert_eq!(fixed, "7: <invalid BPF map reference>\nBPF map 'skipped_map' is referenced but wasn't created\n");
    }

    #[test]
    fn core_relo_is_explained_and_long_specs_cut() {
        let log = format!("12: (85) call unknown#195896080\ninvalid func unknown#195896080\n{TAIL}");
        let spec = "[7] struct task_struct.pid (0:18 @ offset 2312)".to_string();
        let fixed = fixup_verifier_log(&log, &[p(12, PoisonKind::CoreRelo { spec: spec.clone() })]).unwrap();
        assert_eq!(fixed, format!("12: <invalid CO-RE relocation>\nfailed to resolve CO-RE relocation {spec}\n{TAIL}"));

        let long = "x".repeat(300);
        let fixed = fixup_verifier_log(&log, &[p(12, PoisonKind::CoreRelo { spec: long })]).unwrap();
        assert!(fixed.contains(&format!("relocation {}...\n", "x".repeat(255))), "{fixed}");
    }

    #[test]
    fn unknown_or_far_lines_are_left_alone() {
        // No poisoned instruction at that index.
        let log = "5: (85) call unknown#2002000003\ninvalid func unknown#2002000003\n";
        assert_eq!(fixup_verifier_log(log, &[p(6, PoisonKind::KfuncCall { name: "f".into() })]), None);
        // Kind mismatch.
        assert_eq!(fixup_verifier_log(log, &[p(5, PoisonKind::MapLoad { name: "m".into() })]), None);
        // An ordinary unknown helper.
        let log = "5: (85) call unknown#999\ninvalid func unknown#999\n";
        assert_eq!(fixup_verifier_log(log, &[p(5, PoisonKind::KfuncCall { name: "f".into() })]), None);
        // More than 10 lines from the end.
        let mut log = "5: (85) call unknown#2002000003\ninvalid func unknown#2002000003\n".to_string();
        log.push_str(&"filler\n".repeat(10));
        assert_eq!(fixup_verifier_log(&log, &[p(5, PoisonKind::KfuncCall { name: "f".into() })]), None);
        // The error on the first line has no instruction line before it.
        let log = "invalid func unknown#2002000003\n";
        assert_eq!(fixup_verifier_log(log, &[p(5, PoisonKind::KfuncCall { name: "f".into() })]), None);
        // CO-RE needs the newline right after the number, like libbpf's prefix.
        let log = "3: (85) call unknown#195896080\ninvalid func unknown#1958960801\n";
        assert_eq!(fixup_verifier_log(log, &[p(3, PoisonKind::CoreRelo { spec: "s".into() })]), None);
    }

    #[test]
    fn the_last_match_wins_and_text_after_it_stays() {
        let log = "1: (85) call unknown#2002000000\ninvalid func unknown#2002000000\n\
                   2: (85) call unknown#2002000001\ninvalid func unknown#2002000001\nend";
        let ps = [p(1, PoisonKind::KfuncCall { name: "a".into() }), p(2, PoisonKind::KfuncCall { name: "b".into() })];
        let fixed = fixup_verifier_log(log, &ps).unwrap();
        assert_eq!(
            fixed,
            "1: (85) call unknown#2002000000\ninvalid func unknown#2002000000\n\
             2: <invalid kfunc call>\nkfunc 'b' is referenced but wasn't resolved\nend"
        );
    }

    #[test]
    fn call_lines_parse_like_sscanf() {
        assert_eq!(parse_call_line("123: (85) call unknown#195896080\n"), Some((123, 195896080)));
        assert_eq!(parse_call_line("  4:(85)call unknown#-1"), Some((4, -1)));
        assert_eq!(parse_call_line("4: (85) call bpf_map_lookup_elem#1"), None);
        assert_eq!(parse_call_line("x: (85) call unknown#1"), None);
    }
}
