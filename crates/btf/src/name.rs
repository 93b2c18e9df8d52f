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
    // Most names have no triple underscore at all: find that out with a
    // vectorized search before the exact backward scan.
    if n < 5 || !has_triple_underscore(name) {
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

/// Whether `name` contains `___`: a plain loop for the short names that
/// most are, a searcher built once for long ones (building one per call
/// would cost more than the search).
fn has_triple_underscore(name: &[u8]) -> bool {
    if name.len() < 64 {
        return name.windows(3).any(|w| w == b"___");
    }
    static FINDER: std::sync::OnceLock<memchr::memmem::Finder<'static>> = std::sync::OnceLock::new();
    FINDER.get_or_init(|| memchr::memmem::Finder::new(b"___")).find(name).is_some()
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

const K: u64 = 0x517c_c1b7_2722_0a95;
const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;
const UNDERSCORES: u64 = 0x5f5f_5f5f_5f5f_5f5f;

#[inline]
fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(K)
}

#[inline]
fn finish(h: u64, len: usize) -> u64 {
    // The length goes in last (the streaming scan below learns it last);
    // a final avalanche spreads it to the low bits used as bucket index.
    let h = mix(h, len as u64);
    h ^ (h >> 29)
}

/// Bytes of `w` that are zero (or may be: a borrow can mark a byte above a
/// true zero, which only sends callers to their exact path).
#[inline]
fn zero_bytes(w: u64) -> u64 {
    w.wrapping_sub(LOW) & !w & HIGH
}

/// A fast, non-cryptographic hash of a name, a word at a time. Names come
/// from files we do not trust, but the index only uses the hash to pick a
/// bucket and always compares the bytes, so collisions cost time, not
/// correctness.
pub(crate) fn hash(bytes: &[u8]) -> u64 {
    let mut h = 0u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        h = mix(h, u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut buf = [0u8; 8];
        buf[..rest.len()].copy_from_slice(rest);
        h = mix(h, u64::from_le_bytes(buf));
    }
    finish(h, bytes.len())
}

/// Scans the NUL-terminated name at the start of `rest` once, returning its
/// length and the [`hash`] of its *essential* part: what building the name
/// index needs for each of vmlinux's 126k types. Word at a time: the NUL
/// and any `___` are found with bit tricks while hashing; a name that may
/// hold a flavor separator (rare) takes the exact path.
pub(crate) fn scan_name(rest: &[u8]) -> (usize, u64) {
    let mut h = 0u64;
    let mut i = 0usize;
    // Underscore flags of the previous word's last two bytes, to see a
    // `___` that straddles words.
    let mut carry = 0u64;
    while i + 8 <= rest.len() {
        let w = u64::from_le_bytes(rest[i..i + 8].try_into().expect("8 bytes"));
        let z = zero_bytes(w);
        let (w, len, u) = if z != 0 {
            // Keep the bytes before the first NUL.
            let n = (z.trailing_zeros() / 8) as usize;
            let keep = if n == 0 { 0 } else { u64::MAX >> (64 - 8 * n) };
            (w & keep, i + n, zero_bytes(w ^ UNDERSCORES) & keep)
        } else {
            (w, 0, zero_bytes(w ^ UNDERSCORES))
        };
        // Three underscore flags in a row, within the word, or starting in
        // the previous word's last two bytes.
        let across = (u << 16) | carry;
        if u & (u >> 8) & (u >> 16) != 0 || across & (across >> 8) & (across >> 16) != 0 {
            return exact(rest);
        }
        carry = u >> 48;
        if z != 0 {
            if len == i {
                return (len, finish(h, len));
            }
            return (len, finish(mix(h, w), len));
        }
        h = mix(h, w);
        i += 8;
    }
    exact(rest)
}

/// The exact path of [`scan_name`].
fn exact(rest: &[u8]) -> (usize, u64) {
    let len = memchr::memchr(0, rest).unwrap_or(rest.len());
    let name = &rest[..len];
    (len, hash(&name[..essential_len(name)]))
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
    fn scan_agrees_with_hash_of_the_essential_name() {
        let names: &[&[u8]] = &[
            b"",
            b"a",
            b"task_struct",
            b"task_struct___old",
            b"a___b___c",
            b"x____y___z",
            b"bpf_task_acquire___one",
            b"0123456",
            b"01234567",
            b"012345678",
            b"abcdef_",
            b"abcdef__",
            b"abcdef___",
            b"abcde___f",
            b"abcdefg___h",
            b"abcdefgh___",
            b"abcdefghijklmnop_",
            b"__x64_sys_bpf",
            b"____a",
            b"a____b",
            b"ab_cd__ef___gh",
        ];
        for n in names {
            for pad in [&b"\0"[..], b"\0\0\0\0\0\0\0\0\0", b"\0zzzzzzzzzzz"] {
                let mut buf = n.to_vec();
                buf.extend_from_slice(pad);
                let (len, h) = scan_name(&buf);
                assert_eq!(len, n.len(), "{n:?}");
                assert_eq!(h, hash(&n[..essential_len(n)]), "{:?}", String::from_utf8_lossy(n));
            }
        }
    }

    #[test]
    fn hash_differs_on_length_and_content() {
        assert_ne!(hash(b"a"), hash(b"a\0"));
        assert_ne!(hash(b"task_struct"), hash(b"task_strucu"));
        assert_eq!(hash(b"same name here!"), hash(b"same name here!"));
    }
}
