//! Names: libbpf's *essential name* rule for `___flavor` suffixes, and the
//! hash the name index is keyed by.

/// Length of the essential part of `name`.
///
/// libbpf's rule (`bpf_core_essential_name_len`): the flavor separator is the
/// *last* occurrence of `X___Y` where neither `X` nor `Y` is an underscore;
/// everything from the three underscores on is the flavor. So
/// `task_struct___old` → `task_struct`, `a___b___c` → `a___b`, and
/// `____x`, `a____b` or `x___` have no flavor. Working on bytes keeps this
/// usable on names that are not valid UTF-8.
pub fn essential_len(name: &[u8]) -> usize {
    let n = name.len();
    if n < 5 {
        return n;
    }
    let mut i = n - 5;
    loop {
        let s = &name[i..i + 5];
        if s[0] != b'_' && s[1] == b'_' && s[2] == b'_' && s[3] == b'_' && s[4] != b'_' {
            return i + 1;
        }
        if i == 0 {
            return n;
        }
        i -= 1;
    }
}

/// The essential name of `name` (see [`essential_len`]).
pub fn essential_name(name: &str) -> &str {
    // The separator is ASCII, so the cut is on a char boundary.
    &name[..essential_len(name.as_bytes())]
}

/// Whether `name` carries a `___flavor` suffix.
pub fn has_flavor(name: &str) -> bool {
    essential_len(name.as_bytes()) != name.len()
}

/// A fast, non-cryptographic hash of a name (FxHash-style, a word at a time).
/// Names come from files we do not trust, but the index only uses the hash to
/// pick a bucket and always compares the bytes, so collisions cost time, not
/// correctness.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = bytes.len() as u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = (h.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
    }
    // Final avalanche so that the low bits used as a bucket index mix well.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essential_names_follow_libbpf() {
        let cases = [
            ("task_struct___old", "task_struct"),
            ("bpf_task_acquire___one", "bpf_task_acquire"),
            ("a___b___c", "a___b"),
            ("scx_bpf_dsq_insert___v2___compat", "scx_bpf_dsq_insert___v2"),
            ("plain", "plain"),
            ("", ""),
            ("a___", "a___"),
            ("___a", "___a"),
            ("a____b", "a____b"),
            ("a___b", "a"),
            ("x____y___z", "x____y"),
            ("__a___b", "__a"),
            ("a___b_", "a"),
            ("a___b____", "a"),
        ];
        for (name, want) in cases {
            assert_eq!(essential_name(name), want, "essential name of {name:?}");
        }
        assert!(has_flavor("x___y"));
        assert!(!has_flavor("x__y"));
    }

    #[test]
    fn hash_differs_on_length_and_content() {
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_ne!(hash(b"task_struct"), hash(b"task_strucu"));
        assert_eq!(hash(b"same name here!"), hash(b"same name here!"));
    }
}
