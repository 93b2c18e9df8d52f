//! A kernel `.config`, as the values `__kconfig` externs read.
//!
//! Only parsing lives here; turning a value into the bytes of an extern of
//! a given C type (and refusing what does not fit) is extern resolution's
//! job. Reading `/proc/config.gz` is the loader's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::error::LineError;

/// The `CONFIG_*` values of one kernel, as written in its `.config`.
#[derive(Debug, Clone, Default)]
pub struct Kconfig {
    values: HashMap<String, String>,
    /// A config parsed for some names only ([`Kconfig::parse_for`]): its
    /// text and those names; other names are looked up in the text.
    partial: Option<(Arc<String>, Vec<String>)>,
    /// Lookups a partial parse answered from its text (shared by clones).
    fallbacks: Arc<AtomicUsize>,
}

impl PartialEq for Kconfig {
    fn eq(&self, other: &Kconfig) -> bool {
        self.values == other.values && self.partial == other.partial
    }
}

impl Eq for Kconfig {}

/// One line of a `.config`: `Some((name, value))` for a setting, `None` for
/// a comment or a blank line, an error for anything else.
fn parse_line(n: usize, line: &str) -> Result<Option<(&str, &str)>, LineError> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let Some((name, value)) = line.split_once('=') else {
        return Err(LineError::NotSetting { line: n + 1, text: line.to_string() });
    };
    if !name.starts_with("CONFIG_") || name.contains(char::is_whitespace) {
        return Err(LineError::NotConfigName { line: n + 1, name: name.to_string() });
    }
    Ok(Some((name, value)))
}

/// Calls `f(name, value)` for every setting of `text`, in order, failing as
/// [`parse_line`] does on the first bad line. The lines a `.config` is
/// made of (comments, `CONFIG_X=value` with a printable ASCII name) are
/// told apart by their first bytes and read a word at a time; any other
/// line goes through [`parse_line`]. A `.config` has thousands of short
/// lines: a library search per line costs more than the line.
fn for_each_setting<'a>(text: &'a str, mut f: impl FnMut(&'a str, &'a str)) -> Result<(), LineError> {
    let bytes = text.as_bytes();
    let (mut start, mut n) = (0, 0);
    while start < bytes.len() {
        let end = match fast_setting(bytes, start) {
            FastLine::Comment(end) => end,
            FastLine::Setting { eq, end } => {
                f(&text[start..eq], text[eq + 1..end].trim_end_matches('\r'));
                end
            }
            FastLine::Other(end) => {
                if let Some((name, value)) = parse_line(n, text[start..end].trim_end_matches('\r'))? {
                    f(name, value);
                }
                end
            }
        };
        (start, n) = (end + 1, n + 1);
    }
    Ok(())
}

/// The line at `start`, by where it ends (its `\n`, or the end of the
/// text).
enum FastLine {
    Comment(usize),
    /// A setting whose name (before `=` at `eq`) is printable ASCII.
    Setting {
        eq: usize,
        end: usize,
    },
    /// Anything else: [`parse_line`] decides.
    Other(usize),
}

/// Tells a comment or a well-formed setting with a printable ASCII name
/// from other lines, without [`parse_line`]'s general checks (the same
/// answer on those lines; a name with any other byte goes the general
/// way).
fn fast_setting(b: &[u8], start: usize) -> FastLine {
    if b[start] == b'#' {
        return FastLine::Comment(line_end(b, start + 1));
    }
    if b[start..].starts_with(b"CONFIG_") {
        // It stops at the line's end at the latest ('\n' is unprintable).
        if let Some(eq) = first_eq_or_unprintable(b, start + 7).filter(|&i| b[i] == b'=') {
            return FastLine::Setting { eq, end: line_end(b, eq + 1) };
        }
    }
    FastLine::Other(line_end(b, start))
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The index of the first `\n` from `from` on, or the text's length;
/// eight bytes at a time.
fn line_end(b: &[u8], from: usize) -> usize {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let y = u64::from_le_bytes(chunk.try_into().expect("8 bytes")) ^ (ONES * u64::from(b'\n'));
        // Exactly the zero bytes of y (no borrow between bytes).
        let zero = !(((y & !HIGH) + !HIGH) | y) & HIGH;
        if zero != 0 {
            return i + (zero.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    b[i.min(b.len())..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p)
}

/// The index of the first byte from `from` on that is `=` or not
/// printable ASCII (`!`..=`~`), eight bytes at a time: the names of a
/// `.config` are most of its bytes.
fn first_eq_or_unprintable(b: &[u8], from: usize) -> Option<usize> {
    let mut i = from;
    while let Some(chunk) = b.get(i..i + 8) {
        let x = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        // Flags (exact for the lowest flagged byte, which is all that is
        // read): bytes below '!', bytes from DEL up, and '=' bytes.
        let below = x.wrapping_sub(ONES * 0x21) & !x & HIGH;
        let above = (((x & !HIGH) + ONES) | x) & HIGH;
        let eq = {
            let y = x ^ (ONES * u64::from(b'='));
            y.wrapping_sub(ONES) & !y & HIGH
        };
        let flags = below | above | eq;
        if flags != 0 {
            return Some(i + (flags.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b[i.min(b.len())..].iter().position(|&c| c == b'=' || !(b'!'..=b'~').contains(&c)).map(|p| i + p)
}

impl Kconfig {
    /// Parses a `.config` as [`Kconfig::parse`] does (every line checked,
    /// the same errors), keeping only the values of `names`: what checking
    /// known objects against many kernels needs, without a map of every
    /// option per kernel. Other names still answer, from the text.
    pub fn parse_for(text: &str, names: &[String]) -> Result<Kconfig, LineError> {
        Self::parse_owned_for(text.to_string(), names)
    }

    /// [`Kconfig::parse_for`] of a text it keeps without copying it.
    pub fn parse_owned_for(text: String, names: &[String]) -> Result<Kconfig, LineError> {
        let mut values = HashMap::new();
        for_each_setting(&text, |name, value| {
            if names.iter().any(|w| w == name) {
                values.insert(name.to_string(), value.to_string());
            }
        })?;
        Ok(Kconfig { values, partial: Some((Arc::new(text), names.to_vec())), fallbacks: Arc::default() })
    }

    /// Parses a `.config`: `CONFIG_X=value` lines; comments (including
    /// `# CONFIG_X is not set`, which means the same as absent) and blank
    /// lines are skipped. A line that is neither is an error naming its
    /// line number, since a corrupt config would otherwise give silently
    /// wrong extern values.
    pub fn parse(text: &str) -> Result<Kconfig, LineError> {
        let mut values = HashMap::new();
        for_each_setting(text, |name, value| {
            values.insert(name.to_string(), value.to_string());
        })?;
        Ok(Kconfig { values, partial: None, fallbacks: Arc::default() })
    }

    /// The raw value of `name` (`y`, `m`, `"text"`, `0x10`, `42`).
    pub fn get(&self, name: &str) -> Option<&str> {
        match &self.partial {
            Some((text, names)) if !names.iter().any(|w| w == name) => {
                self.fallbacks.fetch_add(1, Ordering::Relaxed);
                // The last setting wins, as in `parse`; lines were checked.
                let mut last = None;
                let _ = for_each_setting(text, |k, v| {
                    if k == name {
                        last = Some(v);
                    }
                });
                last
            }
            _ => self.values.get(name).map(String::as_str),
        }
    }

    /// Lookups of names a partial parse did not keep (each answered by a
    /// scan of the text); 0 for a full parse.
    pub fn fallback_lookups(&self) -> usize {
        self.fallbacks.load(Ordering::Relaxed)
    }

    /// Number of settings (of a partial parse: that were kept).
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// No setting at all.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_values_and_skips_comments() {
        let k = Kconfig::parse("# comment\nCONFIG_A=y\n# CONFIG_B is not set\n\nCONFIG_C=\"x y\"\nCONFIG_D=0x10\n").unwrap();
        assert_eq!(k.get("CONFIG_A"), Some("y"));
        assert_eq!(k.get("CONFIG_B"), None);
        assert_eq!(k.get("CONFIG_C"), Some("\"x y\""));
        assert_eq!(k.get("CONFIG_D"), Some("0x10"));
        assert_eq!(k.len(), 3);
    }

    #[test]
    fn a_partial_parse_answers_as_the_full_one() {
        let text = "# c\nCONFIG_A=y\nCONFIG_B=1\n# CONFIG_C is not set\nCONFIG_B=2\n";
        let full = Kconfig::parse(text).unwrap();
        let part = Kconfig::parse_for(text, &["CONFIG_A".into()]).unwrap();
        for n in ["CONFIG_A", "CONFIG_B", "CONFIG_C", "CONFIG_D"] {
            assert_eq!(full.get(n), part.get(n), "{n}");
        }
        assert_eq!(part.len(), 1);
        assert_eq!(part.fallback_lookups(), 3);
        assert_eq!(Kconfig::parse_for("CONFIG_A=y\nbad\n", &[]).unwrap_err(), Kconfig::parse("CONFIG_A=y\nbad\n").unwrap_err());
    }

    #[test]
    fn garbage_is_an_error_with_a_line() {
        let e = Kconfig::parse("CONFIG_A=y\nnot a config line\n").unwrap_err();
        assert_eq!(e, LineError::NotSetting { line: 2, text: "not a config line".into() });
        assert_eq!(e.to_string(), "line 2: expected CONFIG_NAME=value, got \"not a config line\"");
    }

    #[test]
    fn line_ends_are_found_as_a_byte_loop_finds_them() {
        let slow = |b: &[u8], from: usize| b[from..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| from + p);
        for len in 0..20 {
            for at in 0..len {
                for c in [b'\n', 0x0b, 0x8a, 0x0a ^ 0x80, 0, b'x'] {
                    let mut text = vec![b'a'; len];
                    text[at] = c;
                    for from in 0..=len {
                        assert_eq!(line_end(&text, from), slow(&text, from), "{text:?} from {from}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_word_scan_finds_what_a_byte_loop_finds() {
        let slow = |b: &[u8], from: usize| b[from..].iter().position(|&c| c == b'=' || !(b'!'..=b'~').contains(&c)).map(|p| from + p);
        let mut samples: Vec<Vec<u8>> = vec![b"CONFIG_ABC=y".to_vec(), b"CONFIG_".to_vec(), b"CONFIG_A_VERY_LONG_NAME_INDEED_X=1".to_vec()];
        // Every byte value at every position of a 20-byte name.
        for at in 7..20 {
            for c in 0..=255u8 {
                let mut line = b"CONFIG_ABCDEFGHIJKLMNOP=y".to_vec();
                line[at] = c;
                samples.push(line);
            }
        }
        for s in &samples {
            assert_eq!(first_eq_or_unprintable(s, 7), slow(s, 7), "{s:?}");
        }
    }

    #[test]
    fn the_fast_path_answers_as_parse_line() {
        let lines = [
            "CONFIG_A=y",
            "CONFIG_A=",
            "CONFIG_A==x",
            "CONFIG_ A=y",
            "CONFIG_\x0bA=y",
            "CONFIG_\u{a0}A=y",
            "CONFIG_É=1",
            "CONFIGX=y",
            " CONFIG_A=y",
            "# CONFIG_A is not set",
            "#",
            "",
            "   ",
            "CONFIG_A",
            "x=CONFIG_A",
            "CONFIG_A=\"a b\"",
            "CONFIG_\x01A=y",
            "CONFIG_\x7fA=y",
            "CONFIG_A~!=y",
        ];
        for line in lines {
            for end in ["\n", "\r\n", "\r\r\n", ""] {
                let text = format!("CONFIG_Z=1\n{line}{end}CONFIG_Y=2\n");
                let reference: Result<Vec<(&str, &str)>, LineError> =
                    text.lines().enumerate().filter_map(|(n, l)| parse_line(n, l).transpose()).collect();
                let mut fast = Vec::new();
                let got = for_each_setting(&text, |k, v| fast.push((k, v))).map(|()| fast);
                assert_eq!(got, reference, "{text:?}");
            }
        }
    }
}
