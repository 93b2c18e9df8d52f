//! kprobe_multi programs (`SEC("kprobe.multi/PATTERN")`,
//! `kretprobe.multi/PATTERN`): one link on many kernel functions
//! (`BPF_LINK_CREATE`, `BPF_TRACE_KPROBE_MULTI`, Linux >= 5.18). A glob
//! pattern is resolved as libbpf resolves it: against
//! `<tracefs>/available_filter_functions` (the functions ftrace can
//! probe), else `/proc/kallsyms`. The kernel needs `CONFIG_KPROBES` and
//! fprobe: without them link creation fails (`EOPNOTSUPP`).

use std::ffi::CString;

use crate::error::{Error, InvalidArgument, Missing, Result};
use crate::link::Link;
use crate::program::Program;

/// Whether `s` matches the glob `pat` (`*`: any run, `?`: one character),
/// as libbpf's `glob_match`.
pub fn glob_match(pat: &str, s: &str) -> bool {
    let (p, s) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The kernel functions matching `pattern`, sorted and deduplicated:
/// from `available_filter_functions` if tracefs has it, else the text
/// symbols of `/proc/kallsyms`.
pub fn resolve_kernel_functions(pattern: &str) -> Result<Vec<String>> {
    let avail = crate::perf_attach::tracefs_dir().join("available_filter_functions");
    let mut names: Vec<String> = match std::fs::read_to_string(&avail) {
        // "name" or "name [module]": the first word.
        Ok(text) => {
            text.lines().filter_map(|l| l.split_whitespace().next()).filter(|n| glob_match(pattern, n)).map(str::to_string).collect()
        }
        Err(_) => {
            let text = std::fs::read_to_string("/proc/kallsyms").map_err(|e| Error::io("reading /proc/kallsyms", e))?;
            text.lines()
                .filter_map(|l| {
                    let mut w = l.split_whitespace();
                    let (_, kind, name) = (w.next()?, w.next()?, w.next()?);
                    matches!(kind, "t" | "T").then_some(name)
                })
                .filter(|n| glob_match(pattern, n))
                .map(str::to_string)
                .collect()
        }
    };
    names.sort();
    names.dedup();
    Ok(names)
}

impl Program<'_> {
    /// Attaches to every kernel function matching the glob `pattern`
    /// (`tcp_*`) with one kprobe_multi link; `retprobe`: at their returns.
    pub fn attach_kprobe_multi(&self, pattern: &str, retprobe: bool) -> Result<Link> {
        let funcs = resolve_kernel_functions(pattern)?;
        if funcs.is_empty() {
            let missing = Missing::KernelFunctions { pattern: pattern.to_string() };
            return Err(Error::NotFound { context: format!("program '{}'", self.name()), missing });
        }
        let names: Vec<&str> = funcs.iter().map(String::as_str).collect();
        self.attach_kprobe_multi_functions(&names, &[], retprobe)
    }

    /// Attaches to the kernel functions `funcs` with one kprobe_multi
    /// link; `cookies` is empty or one per function.
    pub fn attach_kprobe_multi_functions(&self, funcs: &[&str], cookies: &[u64], retprobe: bool) -> Result<Link> {
        let c: Vec<CString> = funcs
            .iter()
            .map(|f| {
                CString::new(*f).map_err(|_| Error::InvalidArgument {
                    context: None,
                    problem: InvalidArgument::NulByte { argument: "function name", value: f.to_string() },
                })
            })
            .collect::<Result<_>>()?;
        let syms: Vec<&std::ffi::CStr> = c.iter().map(|s| s.as_c_str()).collect();
        let fd = bpfld_sys::link_create_kprobe_multi(self.fd()?, &syms, cookies, retprobe).map_err(|e| {
            let hint = if e.errno() == Some(libc::EOPNOTSUPP) { " (kernel without CONFIG_KPROBES/fprobe?)" } else { "" };
            self.err(&format!("attaching kprobe_multi to {} functions{hint}", funcs.len()), e)
        })?;
        Ok(Link::bpf(fd))
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs_match_as_libbpf() {
        assert!(glob_match("tcp_*", "tcp_v4_connect"));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match("*conn*", "tcp_v4_connect"));
        assert!(!glob_match("tcp_*", "udp_sendmsg"));
        assert!(glob_match("bpf_fentry_test*", "bpf_fentry_test1"));
        assert!(glob_match("exact", "exact"));
        assert!(!glob_match("exact", "exactly"));
    }
}
