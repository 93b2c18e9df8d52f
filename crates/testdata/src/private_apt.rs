//! Debian releases this machine's apt sources do not list (Debian 11's
//! 5.10 and its 6.1 backport, Debian 13's 6.12), reached through an apt
//! configuration of our own: a sources list built at run time from the
//! mirror URIs the system's own sources already name, with its own lists
//! and archive cache under [`crate::cache_dir`]. The system's sources are
//! never changed and nothing is ever installed; no host is named here.
//!
//! ```text
//! <cache>/private-apt/sources.list     written from /etc/apt/sources.list(.d)
//! <cache>/private-apt/lists/           apt-get update (once; again when a download fails)
//! <cache>/private-apt/cache/           apt's own cache (package index binaries)
//! <cache>/debs/<package>_<version>_amd64.deb
//! ```

use std::path::{Path, PathBuf};
use std::process::Command;

/// The suites the private configuration adds.
pub const PRIVATE_SUITES: &[&str] = &["bullseye", "bullseye-security", "trixie"];

/// One mirror of the system's sources: its URI, whether it serves the
/// security suites, and the keyring it is verified with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub uri: String,
    pub security: bool,
    pub signed_by: Option<String>,
}

/// The Debian mirrors named by deb822 `.sources` text (`Types: deb`
/// stanzas only; a `-security` suite marks the security archive).
fn mirrors_deb822(text: &str) -> Vec<Mirror> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().filter(|l| !l.trim_start().starts_with('#')).find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        if field("Enabled").is_some_and(|e| e.eq_ignore_ascii_case("no")) {
            continue;
        }
        if !field("Types").is_some_and(|t| t.split_whitespace().any(|x| x == "deb")) {
            continue;
        }
        let security = field("Suites").is_some_and(|s| s.split_whitespace().any(|x| x.ends_with("-security")));
        for uri in field("URIs").unwrap_or_default().split_whitespace() {
            out.push(Mirror { uri: uri.to_string(), security, signed_by: field("Signed-By") });
        }
    }
    out
}

/// The Debian mirrors named by one-line `sources.list` text
/// (`deb [options] URI SUITE COMPONENTS...`).
fn mirrors_one_line(text: &str) -> Vec<Mirror> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("deb ") else { continue };
        let (opts, rest) = match rest.trim_start().strip_prefix('[') {
            Some(r) => r.split_once(']').unwrap_or(("", r)),
            None => ("", rest),
        };
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else { continue };
        let signed_by = opts.split_whitespace().find_map(|o| o.strip_prefix("signed-by=")).map(str::to_string);
        out.push(Mirror { uri: uri.to_string(), security: suite.ends_with("-security"), signed_by });
    }
    out
}

/// The mirrors of the system's apt sources (`/etc/apt/sources.list.d/*.sources`,
/// `*.list`, `/etc/apt/sources.list`), without duplicates.
pub fn system_mirrors() -> Vec<Mirror> {
    let etc = Path::new("/etc/apt");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(etc.join("sources.list.d")).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    files.sort();
    files.push(etc.join("sources.list"));
    let mut out: Vec<Mirror> = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(&f) else { continue };
        let found = match f.extension().and_then(|e| e.to_str()) {
            Some("sources") => mirrors_deb822(&text),
            Some("list") => mirrors_one_line(&text),
            _ if f.file_name().is_some_and(|n| n == "sources.list") => mirrors_one_line(&text),
            _ => continue,
        };
        for m in found {
            if !out.iter().any(|x| x.uri == m.uri && x.security == m.security) {
                out.push(m);
            }
        }
    }
    out
}

/// The private sources list: every suite of `suites` at each mirror that
/// serves it (security suites at the security mirrors, the others at the
/// rest), component `main`, with the mirror's own keyring.
pub fn private_sources_list(mirrors: &[Mirror], suites: &[&str]) -> Result<String, String> {
    let mut out = String::new();
    for suite in suites {
        let security = suite.ends_with("-security");
        let serving: Vec<&Mirror> = mirrors.iter().filter(|m| m.security == security).collect();
        if serving.is_empty() {
            let what = if security { "security archive" } else { "archive" };
            return Err(format!("no Debian {what} in the system's apt sources to fetch '{suite}' from"));
        }
        for m in serving {
            let opts = m.signed_by.as_ref().map(|k| format!("[signed-by={k}] ")).unwrap_or_default();
            out.push_str(&format!("deb {opts}{} {suite} main\n", m.uri));
        }
    }
    Ok(out)
}

/// The private configuration's directory, sources list written.
fn private_root(cache: &Path) -> Result<PathBuf, String> {
    let root = cache.join("private-apt");
    for d in [root.join("lists/partial"), root.join("cache/archives/partial")] {
        std::fs::create_dir_all(&d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let list = private_sources_list(&system_mirrors(), PRIVATE_SUITES)?;
    let path = root.join("sources.list");
    if std::fs::read_to_string(&path).ok().as_deref() != Some(list.as_str()) {
        std::fs::write(&path, list).map_err(|e| format!("{}: {e}", path.display()))?;
        // Lists fetched for other sources do not count.
        let _ = std::fs::remove_dir_all(root.join("lists"));
        let _ = std::fs::create_dir_all(root.join("lists/partial"));
    }
    Ok(root)
}

/// `-o` options that make apt-get/apt-cache use only the private
/// configuration.
fn private_options(root: &Path) -> Vec<String> {
    vec![
        format!("-oDir::Etc::sourcelist={}", root.join("sources.list").display()),
        "-oDir::Etc::sourceparts=-".to_string(),
        format!("-oDir::State::Lists={}", root.join("lists").display()),
        format!("-oDir::Cache={}", root.join("cache").display()),
        "-oAPT::Sandbox::User=root".to_string(),
    ]
}

fn run(tool: &str, root: &Path, args: &[&str], dir: &Path) -> Result<String, String> {
    let out = Command::new(tool)
        .args(private_options(root))
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{tool} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{tool} {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// When the package lists were last fetched (`None`: never).
fn lists_fetched(root: &Path) -> Option<std::time::SystemTime> {
    std::fs::read_dir(root.join("lists"))
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("_Packages"))
        .filter_map(|e| e.metadata().ok()?.modified().ok())
        .max()
}

/// The numbers a `*` of `pattern` stands for in `name` (`*` matches
/// digits and dots), or `None` if `name` does not match.
fn wildcard_numbers(pattern: &str, name: &str) -> Option<Vec<u64>> {
    let (prefix, suffix) = pattern.split_once('*')?;
    let middle = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if middle.is_empty() || !middle.chars().all(|c| c.is_ascii_digit() || c == '.') {
        return None;
    }
    middle.split('.').map(|n| n.parse().ok()).collect()
}

/// The newest of `names` matching `pattern` (one `*` for the varying
/// number, compared numerically).
pub fn newest_matching<'a>(pattern: &str, names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    names.into_iter().filter_map(|n| Some((wildcard_numbers(pattern, n)?, n))).max().map(|(_, n)| n.to_string())
}

fn cached_matching(cache: &Path, pattern: &str) -> Option<String> {
    let files: Vec<String> =
        std::fs::read_dir(cache.join("debs")).ok()?.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
    newest_matching(pattern, files.iter().filter_map(|f| f.split_once('_').map(|(p, _)| p)))
}

/// The newest package matching `pattern` (such as
/// `linux-image-5.10.0-*-amd64-unsigned`) in the Debian suites of
/// [`PRIVATE_SUITES`], downloaded once into `<cache>/debs` with the private
/// apt configuration. Returns the package name, the `.deb` and whether it
/// was cached. Without network, the newest matching `.deb` already cached
/// is used.
pub fn download_private_package(cache: &Path, pattern: &str) -> Result<(String, PathBuf, bool), String> {
    let root = private_root(cache)?;
    let lookup = |root: &Path| -> Result<Option<String>, String> {
        let prefix = pattern.split('*').next().unwrap_or(pattern);
        let names = run("apt-cache", root, &["pkgnames", prefix], cache)?;
        Ok(newest_matching(pattern, names.lines()))
    };
    let fetched = lists_fetched(&root);
    // A matching package downloaded after the lists were fetched is the
    // newest they know: no lookup (apt-cache takes seconds to read them).
    if let (Some(at), Some(name)) = (fetched, cached_matching(cache, pattern)) {
        if let Some(p) =
            crate::cached_deb(&cache.join("debs"), &name).filter(|p| p.metadata().and_then(|m| m.modified()).is_ok_and(|m| m >= at))
        {
            return Ok((name, p, true));
        }
    }
    let mut updated = false;
    if fetched.is_none() {
        if let Err(e) = run("apt-get", &root, &["update", "-qq"], cache) {
            return match cached_matching(cache, pattern) {
                Some(name) => crate::download_package(cache, &name).map(|(p, c)| (name, p, c)),
                None => Err(format!("cannot fetch the package lists of {}: {e}", PRIVATE_SUITES.join(", "))),
            };
        }
        updated = true;
    }
    let mut name = lookup(&root)?;
    if name.is_none() && !updated {
        run("apt-get", &root, &["update", "-qq"], cache)?;
        updated = true;
        name = lookup(&root)?;
    }
    let name = name.ok_or_else(|| format!("no package matching '{pattern}' in {}", PRIVATE_SUITES.join(", ")))?;
    if let Some(p) = crate::cached_deb(&cache.join("debs"), &name) {
        return Ok((name, p, true));
    }
    let fetch = |root: &Path| crate::fetch_deb(cache, &name, |dir| run("apt-get", root, &["download", "-q", &name], dir).map(|_| ()));
    let got = match fetch(&root) {
        Ok(p) => p,
        // Stale lists name a version the mirror no longer has.
        Err(_) if !updated => {
            run("apt-get", &root, &["update", "-qq"], cache)?;
            fetch(&root)?
        }
        Err(e) => return Err(e),
    };
    Ok((name, got, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_from_deb822_and_one_line() {
        let deb822 = "Types: deb\n# a comment: here\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\n\
                      Components: main\nSigned-By: /usr/share/keyrings/k.gpg\n\n\
                      Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n\
                      Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\n";
        let m = mirrors_deb822(deb822);
        assert_eq!(m.len(), 2);
        assert!(!m[0].security && m[1].security);
        assert_eq!(m[0].signed_by.as_deref(), Some("/usr/share/keyrings/k.gpg"));
        let list = private_sources_list(&m, PRIVATE_SUITES).unwrap();
        assert_eq!(
            list,
            "deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian bullseye main\n\
             deb http://mirror.example/debian-security bullseye-security main\n\
             deb [signed-by=/usr/share/keyrings/k.gpg] http://mirror.example/debian trixie main\n"
        );
        let one = mirrors_one_line(
            "# x\ndeb [arch=amd64 signed-by=/k.gpg] http://m.example/debian bookworm main\ndeb-src http://s bookworm main\n",
        );
        assert_eq!(one, [Mirror { uri: "http://m.example/debian".into(), security: false, signed_by: Some("/k.gpg".into()) }]);
        assert!(private_sources_list(&one, &["bullseye-security"]).is_err(), "no security mirror named");
    }

    #[test]
    fn newest_package_by_number() {
        let names = [
            "linux-image-5.10.0-9-amd64-unsigned",
            "linux-image-5.10.0-46-amd64-unsigned",
            "linux-image-5.10.0-46-cloud-amd64-unsigned",
            "linux-image-5.10.0-100-rt-amd64-unsigned",
            "linux-image-6.12.107+deb13-amd64-unsigned",
            "linux-image-6.12.117+deb13-amd64-unsigned",
        ];
        assert_eq!(newest_matching("linux-image-5.10.0-*-amd64-unsigned", names).as_deref(), Some("linux-image-5.10.0-46-amd64-unsigned"));
        assert_eq!(
            newest_matching("linux-image-6.12.*+deb13-amd64-unsigned", names).as_deref(),
            Some("linux-image-6.12.117+deb13-amd64-unsigned")
        );
        assert_eq!(newest_matching("linux-image-6.1.0-0.deb11.*-amd64-unsigned", names), None);
    }
}
