//! A kernel `.config`, as the values `__kconfig` externs read.
//!
//! Only parsing lives here; turning a value into the bytes of an extern of
//! a given C type (and refusing what does not fit) is extern resolution's
//! job. Reading `/proc/config.gz` is the loader's.

use std::collections::HashMap;

/// The `CONFIG_*` values of one kernel, as written in its `.config`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kconfig {
    values: HashMap<String, String>,
}

impl Kconfig {
    /// Parses a `.config`: `CONFIG_X=value` lines; comments (including
    /// `# CONFIG_X is not set`, which means the same as absent) and blank
    /// lines are skipped. A line that is neither is an error naming its
    /// line number, since a corrupt config would otherwise give silently
    /// wrong extern values.
    pub fn parse(text: &str) -> Result<Kconfig, String> {
        let mut values = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                return Err(format!("line {}: expected CONFIG_NAME=value, got {line:?}", n + 1));
            };
            if !name.starts_with("CONFIG_") || name.contains(char::is_whitespace) {
                return Err(format!("line {}: {name:?} is not a CONFIG_ name", n + 1));
            }
            values.insert(name.to_string(), value.to_string());
        }
        Ok(Kconfig { values })
    }

    /// The raw value of `name` (`y`, `m`, `"text"`, `0x10`, `42`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

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
    fn garbage_is_an_error_with_a_line() {
        let e = Kconfig::parse("CONFIG_A=y\nnot a config line\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
