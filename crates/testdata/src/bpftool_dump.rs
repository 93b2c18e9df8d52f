//! Facts read off `bpftool btf dump file X` (raw format): the independent
//! reference for values that change with the kernel build, such as the
//! running kernel's struct layouts.

use std::path::Path;
use std::process::Command;

/// A whole raw dump, kept as text and searched on demand.
pub struct BpftoolDump {
    text: String,
}

impl BpftoolDump {
    /// Dumps `file` (split on `base` if given); `None` (a skip) without
    /// bpftool or when bpftool fails.
    pub fn of(file: &Path, base: Option<&Path>) -> Option<Self> {
        let mut cmd = Command::new(crate::bpftool()?);
        if let Some(b) = base {
            cmd.arg("-B").arg(b);
        }
        let out = cmd.args(["btf", "dump", "file"]).arg(file).output().ok()?;
        if !out.status.success() {
            return crate::skip(&format!("bpftool btf dump file {}: {}", file.display(), String::from_utf8_lossy(&out.stderr).trim()));
        }
        Some(BpftoolDump { text: String::from_utf8_lossy(&out.stdout).into_owned() })
    }

    /// The header line of the first `KIND 'name'` and the member lines
    /// under it.
    fn entry(&self, kind: &str, name: &str) -> Option<(&str, Vec<&str>)> {
        let needle = format!("] {kind} '{name}' ");
        let mut lines = self.text.lines();
        let header = lines.by_ref().find(|l| l.contains(&needle))?;
        Some((header, lines.take_while(|l| l.starts_with('\t')).collect()))
    }

    /// `(id, size)` of `struct name`.
    pub fn struct_id_size(&self, name: &str) -> Option<(u32, u64)> {
        let (header, _) = self.entry("STRUCT", name)?;
        let id = header.strip_prefix('[')?.split(']').next()?.parse().ok()?;
        Some((id, field(header, "size=")?))
    }

    /// The member lines of type `[id]`.
    fn members_of_id(&self, id: u32) -> Vec<&str> {
        let prefix = format!("[{id}] ");
        let mut lines = self.text.lines();
        if lines.by_ref().any(|l| l.starts_with(&prefix)) {
            lines.take_while(|l| l.starts_with('\t')).collect()
        } else {
            Vec::new()
        }
    }

    /// Bit offset of `member` in `struct strukt`, looking inside anonymous
    /// struct and union members as C does.
    pub fn member_bits(&self, strukt: &str, member: &str) -> Option<u64> {
        let (_, members) = self.entry("STRUCT", strukt)?;
        self.find_member(&members, member, 0)
    }

    fn find_member(&self, members: &[&str], member: &str, base: u64) -> Option<u64> {
        let quoted = format!("'{member}' ");
        if let Some(l) = members.iter().find(|l| l.trim_start().starts_with(&quoted)) {
            return field::<u64>(l, "bits_offset=").map(|b| base + b);
        }
        members.iter().filter(|l| l.trim_start().starts_with("'(anon)' ")).find_map(|l| {
            let inner = self.members_of_id(field(l, "type_id=")?);
            self.find_member(&inner, member, base + field::<u64>(l, "bits_offset=")?)
        })
    }

    /// Value of enumerator `name` of `enum e`.
    pub fn enum_value(&self, e: &str, name: &str) -> Option<i64> {
        let (_, members) = self.entry("ENUM", e)?;
        let quoted = format!("'{name}' ");
        members.iter().find(|l| l.trim_start().starts_with(&quoted)).and_then(|l| field(l, "val="))
    }
}

/// The number after `key` in a dump line.
fn field<T: std::str::FromStr>(line: &str, key: &str) -> Option<T> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}
