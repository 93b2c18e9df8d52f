//! Kernel symbol addresses (`/proc/kallsyms` format), for typeless `__ksym`
//! externs, whose address the loader writes into the program.

use std::collections::HashMap;

use crate::error::LineError;

/// Symbol name to the addresses it has (a static symbol may appear in
/// several places, which makes an extern of that name ambiguous).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kallsyms {
    addrs: HashMap<String, Vec<u64>>,
}

impl Kallsyms {
    /// Parses lines of `address type name [module]`. As libbpf does, a data
    /// symbol (`d`) with an `.llvm.<hash>` suffix (a promoted static under
    /// LTO) also counts under its name without the suffix.
    pub fn parse(text: &str) -> Result<Kallsyms, LineError> {
        let mut addrs: HashMap<String, Vec<u64>> = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() {
                continue;
            }
            let mut f = line.split_ascii_whitespace();
            let (Some(addr), Some(ty), Some(name)) = (f.next(), f.next(), f.next()) else {
                return Err(LineError::NotSymbol { line: n + 1, text: line.to_string() });
            };
            let addr =
                u64::from_str_radix(addr, 16).map_err(|source| LineError::BadAddress { line: n + 1, addr: addr.to_string(), source })?;
            let name = match (ty, name.find(".llvm.")) {
                ("d", Some(i)) => &name[..i],
                _ => name,
            };
            let v = addrs.entry(name.to_string()).or_default();
            if !v.contains(&addr) {
                v.push(addr);
            }
        }
        Ok(Kallsyms { addrs })
    }

    /// Every distinct address of `name`.
    pub fn addresses(&self, name: &str) -> &[u64] {
        self.addrs.get(name).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Number of distinct symbol names.
    pub fn len(&self) -> usize {
        self.addrs.len()
    }

    /// No symbol at all.
    pub fn is_empty(&self) -> bool {
        self.addrs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_merges() {
        let k = Kallsyms::parse(
            "ffffffff81000000 T _stext\nffffffff82000000 d foo.llvm.123\nffffffff82000010 d foo\nffffffff83000000 t bar [mod]\n",
        )
        .unwrap();
        assert_eq!(k.addresses("_stext"), &[0xffffffff81000000]);
        assert_eq!(k.addresses("foo"), &[0xffffffff82000000, 0xffffffff82000010]);
        assert_eq!(k.addresses("bar"), &[0xffffffff83000000]);
        assert!(k.addresses("nope").is_empty());
    }
}
