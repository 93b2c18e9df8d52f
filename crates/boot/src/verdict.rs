//! What `bpfld load --json` said in a guest, per program: loaded, or the
//! kernel's error and the verifier log's last lines.

use serde_json::Value;

use crate::guest::RawLoad;

/// Verifier log lines kept for a refused program.
pub const LOG_TAIL: usize = 3;

/// One program of a load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramLoad {
    /// The program's name as the loader printed it.
    pub name: String,
    /// The kernel accepted it.
    pub loaded: bool,
    /// Not autoloaded (`SEC("?...")`).
    pub disabled: bool,
    /// The loader's error for a program that did not load.
    pub error: Option<String>,
    /// The verifier log's last non-empty lines, on refusal.
    pub log_tail: Vec<String>,
}

/// One object's load in a guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadVerdict {
    /// Refused before any program reached the kernel, and why.
    pub refused: Option<String>,
    /// Each program the loader reported, in its order (empty if refused).
    pub programs: Vec<ProgramLoad>,
}

impl LoadVerdict {
    /// Every autoloaded program loaded.
    pub fn loads(&self) -> bool {
        self.refused.is_none() && self.programs.iter().all(|p| p.loaded || p.disabled)
    }

    /// Reads a loader's output (the JSON of `bpfld load --json`).
    pub fn parse(raw: &RawLoad) -> LoadVerdict {
        let reason = || {
            let s = raw.stderr.trim().trim_start_matches("bpfld: ");
            match (s.is_empty(), raw.exit_code) {
                (false, _) => s.to_string(),
                (true, Some(c)) => format!("no output (exit code {c})"),
                (true, None) => "no output".to_string(),
            }
        };
        let Ok(v) = serde_json::from_str::<Value>(raw.stdout.trim()) else {
            return LoadVerdict { refused: Some(reason()), programs: Vec::new() };
        };
        let Some(ps) = v.get("programs").and_then(Value::as_array) else {
            let why = v.get("error").and_then(Value::as_str).map(str::to_string).unwrap_or_else(reason);
            return LoadVerdict { refused: Some(why), programs: Vec::new() };
        };
        let programs = ps
            .iter()
            .filter_map(|p| {
                let log = p.get("verifier_log").and_then(Value::as_str).unwrap_or("");
                let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
                Some(ProgramLoad {
                    name: p.get("name")?.as_str()?.to_string(),
                    loaded: p.get("loaded")?.as_bool()?,
                    disabled: p.get("disabled").and_then(Value::as_bool).unwrap_or(false),
                    error: p.get("error").and_then(Value::as_str).map(str::to_string),
                    log_tail: lines[lines.len().saturating_sub(LOG_TAIL)..].iter().map(|l| l.to_string()).collect(),
                })
            })
            .collect();
        LoadVerdict { refused: None, programs }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(stdout: &str, stderr: &str, rc: i32) -> RawLoad {
        RawLoad { stdout: stdout.into(), stderr: stderr.into(), exit_code: Some(rc) }
    }

    #[test]
    fn programs_refusals_and_garbage() {
        let v = LoadVerdict::parse(&raw(
            r#"{"object":"o","programs":[{"name":"a","loaded":true},{"name":"b","loaded":false,"error":"EACCES",
                "verifier_log":"0: r0 = 0\n\ninvalid access to packet\nR1 offset is outside\nprocessed 2 insns\n"},
                {"name":"c","loaded":false,"disabled":true}]}"#,
            "",
            1,
        ));
        assert!(!v.loads());
        assert_eq!(v.programs[1].log_tail, ["invalid access to packet", "R1 offset is outside", "processed 2 insns"]);
        assert!(v.programs[2].disabled);
        let refused = LoadVerdict::parse(&raw(r#"{"object":"o","error":"extern 'f': not found"}"#, "", 1));
        assert_eq!(refused.refused.as_deref(), Some("extern 'f': not found"));
        let garbage = LoadVerdict::parse(&raw("", "bpfld: o.o: bad ELF\n", 2));
        assert_eq!(garbage.refused.as_deref(), Some("o.o: bad ELF"));
    }
}
