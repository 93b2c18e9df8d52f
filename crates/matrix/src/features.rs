//! Kernel features, probed and derived: each guest runs the runtime probes
//! (`bpfld features --json`, the probes `bpfld load` makes), the host
//! too, and `bpfld features -k DIR --json` derives the same features
//! offline from that kernel's BTF (the prediction's release directory).
//! Feature by feature they must agree, unless [`FEATURE_DIFFERENCES`]
//! lists the difference with its reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::limits::{KernelInfo, When};

/// Feature name (`btf_float`) → present.
pub type FeatureSet = BTreeMap<String, bool>;

/// Why features could not be read.
#[derive(Debug)]
pub enum FeaturesError {
    /// `bpfld` did not start.
    Spawn { exe: PathBuf, source: std::io::Error },
    /// `bpfld features` failed.
    Exit { what: String, code: Option<i32>, stderr: String },
    /// Its output is not JSON.
    Json { what: String, source: serde_json::Error },
    /// JSON without the expected `{"kernels": [{"features": {...}}]}`.
    Shape { what: String, expected: &'static str },
}

impl fmt::Display for FeaturesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FeaturesError::Spawn { exe, .. } => write!(f, "{}: cannot run", exe.display()),
            FeaturesError::Exit { what, code, stderr } => write!(f, "{what}: exit code {code:?}: {}", stderr.trim()),
            FeaturesError::Json { what, .. } => write!(f, "{what}: output is not JSON"),
            FeaturesError::Shape { what, expected } => write!(f, "{what}: expected {expected}"),
        }
    }
}

impl std::error::Error for FeaturesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FeaturesError::Spawn { source, .. } => Some(source),
            FeaturesError::Json { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The feature sets of `bpfld features --json` output, one per kernel.
pub fn parse(stdout: &str, what: &str) -> Result<Vec<FeatureSet>, FeaturesError> {
    let v: Value = serde_json::from_str(stdout.trim()).map_err(|source| FeaturesError::Json { what: what.into(), source })?;
    let shape = |expected| FeaturesError::Shape { what: what.into(), expected };
    let kernels = v.get("kernels").and_then(Value::as_array).ok_or_else(|| shape("a \"kernels\" array"))?;
    kernels
        .iter()
        .map(|k| {
            let fs = k.get("features").and_then(Value::as_object).ok_or_else(|| shape("\"features\" objects"))?;
            fs.iter().map(|(name, v)| Ok((name.clone(), v.as_bool().ok_or_else(|| shape("booleans"))?))).collect()
        })
        .collect()
}

fn run(cmd: &mut Command, exe: &Path, what: &str) -> Result<Vec<FeatureSet>, FeaturesError> {
    let out = cmd.output().map_err(|source| FeaturesError::Spawn { exe: exe.to_path_buf(), source })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        return Err(FeaturesError::Exit { what: what.into(), code: out.status.code(), stderr });
    }
    parse(&String::from_utf8_lossy(&out.stdout), what)
}

/// The running kernel's features, probed by `bpfld features --json`.
pub fn probe_host(bpfld: &Path) -> Result<FeatureSet, FeaturesError> {
    let mut sets = run(Command::new(bpfld).args(["features", "--json"]), bpfld, "bpfld features (host)")?;
    sets.pop().ok_or(FeaturesError::Shape { what: "bpfld features (host)".into(), expected: "one kernel" })
}

/// The features of each release directory, derived offline from its BTF
/// by one `bpfld features -k D1 -k D2 ... --json`.
pub fn derive(bpfld: &Path, dirs: &[PathBuf]) -> Result<Vec<FeatureSet>, FeaturesError> {
    let mut cmd = Command::new(bpfld);
    cmd.args(["features", "--json"]);
    for d in dirs {
        cmd.arg("-k").arg(d);
    }
    let sets = run(&mut cmd, bpfld, "bpfld features -k")?;
    if sets.len() != dirs.len() {
        return Err(FeaturesError::Shape { what: "bpfld features -k".into(), expected: "one kernel per -k" });
    }
    Ok(sets)
}

/// A known difference between a probe and the offline derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureDifference {
    pub id: &'static str,
    pub feature: &'static str,
    /// What the probe says (the derivation says the opposite).
    pub probed: bool,
    pub when: When,
    pub reason: &'static str,
}

/// The differences the matrix expects. Anything else fails it.
pub const FEATURE_DIFFERENCES: &[FeatureDifference] = &[];

/// A feature the probe and the derivation disagree on (`None`: the side
/// does not know the feature at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureMismatch {
    pub feature: String,
    pub probed: Option<bool>,
    pub derived: Option<bool>,
    pub listed: Option<&'static FeatureDifference>,
}

/// Probed against derived features on one kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeatureTable {
    pub probed: FeatureSet,
    pub derived: FeatureSet,
    pub mismatches: Vec<FeatureMismatch>,
}

impl FeatureTable {
    /// Compares, feature by feature, and looks each difference up.
    pub fn new(kernel: &KernelInfo, probed: FeatureSet, derived: FeatureSet) -> FeatureTable {
        let names: std::collections::BTreeSet<&String> = probed.keys().chain(derived.keys()).collect();
        let mismatches = names
            .into_iter()
            .filter_map(|name| {
                let (p, d) = (probed.get(name).copied(), derived.get(name).copied());
                (p != d).then(|| FeatureMismatch { feature: name.clone(), probed: p, derived: d, listed: listed(kernel, name, p, d) })
            })
            .collect();
        FeatureTable { probed, derived, mismatches }
    }

    /// The features the probe reports missing.
    pub fn missing(&self) -> Vec<&str> {
        self.probed.iter().filter(|(_, &has)| !has).map(|(n, _)| n.as_str()).collect()
    }
}

fn listed(kernel: &KernelInfo, name: &str, probed: Option<bool>, derived: Option<bool>) -> Option<&'static FeatureDifference> {
    let (Some(p), Some(d)) = (probed, derived) else { return None };
    FEATURE_DIFFERENCES.iter().find(|x| x.feature == name && x.probed == p && p != d && x.when.holds(kernel))
}

/// Listed differences that did not occur on this kernel (the table should
/// be trimmed).
pub fn stale(kernel: &KernelInfo, table: &FeatureTable) -> Vec<&'static str> {
    FEATURE_DIFFERENCES
        .iter()
        .filter(|x| x.when.holds(kernel) && !table.mismatches.iter().any(|m| m.listed.is_some_and(|l| l.id == x.id)))
        .map(|x| x.id)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_compare() {
        let out = r#"{"kernels":[{"kernel":"5.10.0-46-amd64","source":"probed","features":{"btf":true,"btf_float":false}}]}"#;
        let sets = parse(out, "guest").unwrap();
        assert_eq!(sets.len(), 1);
        let derived: FeatureSet = [("btf".to_string(), true), ("btf_float".to_string(), true), ("new".to_string(), true)].into();
        let k = KernelInfo { release: "5.10.0-46-amd64".into(), config: String::new(), host: false, kallsyms: true };
        let t = FeatureTable::new(&k, sets[0].clone(), derived);
        assert_eq!(t.missing(), ["btf_float"]);
        let m: Vec<(&str, Option<bool>, Option<bool>)> = t.mismatches.iter().map(|m| (m.feature.as_str(), m.probed, m.derived)).collect();
        assert_eq!(m, [("btf_float", Some(false), Some(true)), ("new", None, Some(true))]);
        assert!(t.mismatches.iter().all(|m| m.listed.is_none()));
        assert!(matches!(parse("{}", "x"), Err(FeaturesError::Shape { .. })));
        assert!(matches!(parse("nope", "x"), Err(FeaturesError::Json { .. })));
    }
}
