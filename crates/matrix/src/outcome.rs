//! The two sides of the comparison, read from the command line's JSON:
//! what `bpfld check --json` predicted for a kernel, and what
//! `bpfld load --json` really did on it.

use serde_json::Value;

/// One extern as either side reports it (the `externs` objects of
/// `bpfld plan/check --json`, and of `bpfld load --json` when it has them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extern {
    pub name: String,
    pub kind: String,
    pub weak: bool,
    pub resolved: bool,
    /// `vmlinux` or a module name.
    pub target: Option<String>,
    pub btf_id: Option<u64>,
    pub value: Option<String>,
    pub fd_slot: Option<u64>,
    pub reason: Option<String>,
}

impl Extern {
    fn from_json(v: &Value) -> Option<Extern> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_string);
        Some(Extern {
            name: s("name")?,
            kind: s("kind").unwrap_or_default(),
            weak: v.get("weak").and_then(Value::as_bool).unwrap_or(false),
            resolved: v.get("resolved").and_then(Value::as_bool)?,
            target: s("target"),
            btf_id: v.get("btf_id").and_then(Value::as_u64),
            value: v.get("value").and_then(|x| match x {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            }),
            fd_slot: v.get("fd_slot").and_then(Value::as_u64),
            reason: s("reason"),
        })
    }

    /// What it resolved to, in one cell.
    pub fn describe(&self) -> String {
        if !self.resolved {
            return if self.weak { "unresolved (0)".into() } else { "unresolved".into() };
        }
        let mut s = match (&self.target, self.btf_id) {
            (Some(t), Some(id)) => format!("{t} [{id}]"),
            (Some(t), None) => t.clone(),
            _ => "resolved".into(),
        };
        if let Some(slot) = self.fd_slot {
            s.push_str(&format!(" slot {slot}"));
        }
        if self.kind == "kconfig" {
            if let Some(v) = &self.value {
                s = format!("= {v}");
            }
        }
        s
    }
}

fn externs_of(v: &Value) -> Option<Vec<Extern>> {
    v.get("externs")?.as_array().map(|a| a.iter().filter_map(Extern::from_json).collect())
}

/// A program as `bpfld check` predicted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PredictedProgram {
    pub name: String,
    pub plannable: bool,
    pub error: Option<String>,
}

/// What `bpfld check` predicted for one object on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Predicted {
    pub kernel: String,
    /// The object is refused before any program reaches the kernel (an
    /// object that does not open, a strong extern, a required group).
    pub refused: Option<String>,
    /// Every autoloaded program planned.
    pub loads: bool,
    pub programs: Vec<PredictedProgram>,
    pub externs: Vec<Extern>,
}

/// Reads `bpfld check --json` output: one [`Predicted`] per kernel, in the
/// order of the `--kernel` arguments. `stderr` explains an object that
/// does not open (no JSON then).
pub fn parse_check(stdout: &str, stderr: &str, kernels: &[String]) -> Result<Vec<Predicted>, String> {
    if stdout.trim().is_empty() {
        let why = stderr.trim().trim_start_matches("bpfld: ").to_string();
        if why.is_empty() {
            return Err("bpfld check printed nothing".into());
        }
        return Ok(kernels
            .iter()
            .map(|k| Predicted { kernel: k.clone(), refused: Some(why.clone()), loads: false, programs: Vec::new(), externs: Vec::new() })
            .collect());
    }
    let v: Value = serde_json::from_str(stdout).map_err(|e| format!("bpfld check --json: {e}"))?;
    // Schema 1 (docs/check-json.md): one entry per object, each with one
    // verdict per kernel; the harness checks one object per run.
    let ks = v
        .get("objects")
        .and_then(|o| o.get(0))
        .and_then(|o| o.get("kernels"))
        .and_then(Value::as_array)
        .ok_or("bpfld check --json: no 'objects[0].kernels' array")?;
    if ks.len() != kernels.len() {
        return Err(format!("bpfld check --json: {} kernels, {} asked", ks.len(), kernels.len()));
    }
    Ok(ks
        .iter()
        .zip(kernels)
        .map(|(k, name)| Predicted {
            kernel: name.clone(),
            refused: k.get("error").and_then(Value::as_str).map(str::to_string),
            loads: k.get("loads").and_then(Value::as_bool).unwrap_or(false),
            programs: k
                .get("programs")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|p| {
                            Some(PredictedProgram {
                                name: p.get("name")?.as_str()?.to_string(),
                                plannable: p.get("plannable")?.as_bool()?,
                                error: p.get("error").and_then(Value::as_str).map(str::to_string),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
            externs: externs_of(k).unwrap_or_default(),
        })
        .collect())
}

/// A program as the kernel took it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedProgram {
    pub name: String,
    pub loaded: bool,
    /// A `?` section: not loaded by design.
    pub disabled: bool,
    pub error: Option<String>,
    /// The verifier's log of a program that failed.
    pub log: Option<String>,
}

/// What `bpfld load` really did with one object on one kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub exit_code: Option<i32>,
    /// Refused before any program was loaded (and why).
    pub refused: Option<String>,
    pub programs: Vec<ObservedProgram>,
    /// The load's extern report, if `bpfld load --json` prints one.
    pub externs: Option<Vec<Extern>>,
    pub stderr: String,
}

impl Observed {
    /// Every autoloaded program loaded.
    pub fn loads(&self) -> bool {
        self.refused.is_none() && self.programs.iter().all(|p| p.loaded || p.disabled)
    }
}

/// Reads `bpfld load --json` output (and its exit code and stderr).
pub fn parse_load(stdout: &str, stderr: &str, exit_code: Option<i32>) -> Observed {
    let mut o = Observed { exit_code, refused: None, programs: Vec::new(), externs: None, stderr: stderr.to_string() };
    let stderr_reason = || {
        let s = stderr.trim().trim_start_matches("bpfld: ");
        if s.is_empty() {
            format!("no output (exit code {})", exit_code.map(|c| c.to_string()).unwrap_or_else(|| "none".into()))
        } else {
            s.to_string()
        }
    };
    let v: Value = match serde_json::from_str(stdout.trim()) {
        Ok(v) => v,
        Err(_) => {
            o.refused = Some(stderr_reason());
            return o;
        }
    };
    o.externs = externs_of(&v);
    match v.get("programs").and_then(Value::as_array) {
        Some(ps) => {
            o.programs = ps
                .iter()
                .filter_map(|p| {
                    Some(ObservedProgram {
                        name: p.get("name")?.as_str()?.to_string(),
                        loaded: p.get("loaded")?.as_bool()?,
                        disabled: p.get("disabled").and_then(Value::as_bool).unwrap_or(false),
                        error: p.get("error").and_then(Value::as_str).map(str::to_string),
                        log: p.get("verifier_log").and_then(Value::as_str).filter(|l| !l.is_empty()).map(str::to_string),
                    })
                })
                .collect();
        }
        None => {
            o.refused = Some(v.get("error").and_then(Value::as_str).map(str::to_string).unwrap_or_else(stderr_reason));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_json() {
        let out = r#"{"object":"x","maps":[],"programs":[
            {"name":"a","section":"xdp","loaded":true,"disabled":false,"error":null},
            {"name":"b","section":"?xdp","loaded":false,"disabled":true,"error":null}],
            "externs":[{"name":"bpf_xdp_ct_lookup","kind":"kfunc","weak":true,"resolved":true,
                        "target":"nf_conntrack","btf_id":113388,"value":null,"fd_slot":1,"reason":null}]}"#;
        let o = parse_load(out, "", Some(0));
        assert!(o.loads());
        assert_eq!(o.programs.len(), 2);
        let e = &o.externs.as_ref().unwrap()[0];
        assert_eq!(e.describe(), "nf_conntrack [113388] slot 1");

        let refused = parse_load(r#"{"object":"x","error":"extern 'f': not found"}"#, "bpfld: extern 'f': not found\n", Some(2));
        assert_eq!(refused.refused.as_deref(), Some("extern 'f': not found"));
        assert!(!refused.loads());
        let garbage = parse_load("", "bpfld: x.o: bad ELF\n", Some(2));
        assert_eq!(garbage.refused.as_deref(), Some("x.o: bad ELF"));
    }

    #[test]
    fn check_json() {
        let ks = vec!["k1".to_string(), "k2".to_string()];
        let out = r#"{"schema_version":1,"objects":[{"object":"o","kernels":[
            {"kernel":"k1","loads":true,"error":null,"externs":[],"programs":[{"name":"p","plannable":true,"error":null}]},
            {"kernel":"k2","loads":false,"error":"strong extern","externs":[],"programs":[]}]}]}"#;
        let p = parse_check(out, "", &ks).unwrap();
        assert!(p[0].loads && p[0].programs[0].plannable);
        assert_eq!(p[1].refused.as_deref(), Some("strong extern"));
        let open = parse_check("", "bpfld: o: unknown field\n", &ks).unwrap();
        assert!(open.iter().all(|p| p.refused.as_deref() == Some("o: unknown field")));
    }
}
