//! What a section name says to attach to, for the mechanisms of this
//! module, as libbpf 1.7 reads them: `kprobe.multi/PATTERN`,
//! `kretprobe.multi/PATTERN`, `uprobe.multi/PATH:PATTERN` (and `.s`
//! variants), `iter/KIND`, `freplace/FUNC`; and, for sections whose target
//! only the caller knows (an interface, a cgroup, a namespace, a map, a
//! hook), which method to call instead.

use bpfld_asm::types::AttachType;
use bpfld_asm::types::ProgType;
use bpfld_asm::types::{AttachType as at, ProgType as pt};

use crate::error::{Error, NoAutoAttach, Result, SectionError};
use crate::link::uprobe_multi::UprobeMultiOpts;
use crate::link::Link;
use crate::program::Program;

/// A target a section name implies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImpliedTarget {
    /// `kprobe.multi/PATTERN` or `kretprobe.multi/PATTERN`: one link on
    /// every kernel function matching the glob.
    KprobeMulti {
        /// The glob (`*`, `?`) of kernel function names.
        pattern: String,
        /// A return probe (`kretprobe.multi`).
        retprobe: bool,
    },
    /// `uprobe.multi/PATH:PATTERN` (and `uretprobe`, `.s` variants): one
    /// link on every function of the binary matching the glob.
    UprobeMulti {
        /// The binary or library, as written (up to the first `:`).
        binary: String,
        /// The glob of its symbol names.
        pattern: String,
        /// A return probe (`uretprobe.multi`).
        retprobe: bool,
    },
    /// `iter/KIND`: an iterator link over every object of its kind.
    Iter,
    /// `freplace/FUNC`: needs the program to replace, which the caller gives.
    Freplace,
}

/// The target `section` implies for a program of `prog_type` and
/// `attach_type`, `Ok(None)` if it implies none, an error message if the
/// section is malformed.
pub fn implied_target(section: &str, prog_type: ProgType, attach_type: AttachType) -> Result<Option<ImpliedTarget>, SectionError> {
    let after = |prefixes: &[&str]| prefixes.iter().find_map(|p| section.strip_prefix(p)).filter(|s| !s.is_empty());
    Ok(match (prog_type, attach_type) {
        (pt::KPROBE, at::TRACE_KPROBE_MULTI) => {
            let retprobe = section.starts_with("kretprobe.multi");
            after(&["kprobe.multi/", "kretprobe.multi/"]).map(|p| ImpliedTarget::KprobeMulti { pattern: p.to_string(), retprobe })
        }
        (pt::KPROBE, at::TRACE_UPROBE_MULTI) => {
            let retprobe = section.starts_with("uretprobe.multi");
            match after(&["uprobe.multi.s/", "uretprobe.multi.s/", "uprobe.multi/", "uretprobe.multi/"]) {
                None => None,
                Some(spec) => {
                    // libbpf: "%m[^:]:%m[^\n]": the path up to the first ':'.
                    let (binary, pattern) = spec
                        .split_once(':')
                        .filter(|(b, p)| !b.is_empty() && !p.is_empty())
                        .ok_or_else(|| SectionError::UprobeMulti { section: section.to_string() })?;
                    Some(ImpliedTarget::UprobeMulti { binary: binary.to_string(), pattern: pattern.to_string(), retprobe })
                }
            }
        }
        (pt::TRACING, at::TRACE_ITER) => Some(ImpliedTarget::Iter),
        (pt::EXT, _) => Some(ImpliedTarget::Freplace),
        _ => None,
    })
}

/// For a program whose target the caller must give, the method to use.
pub fn explicit_method(prog_type: ProgType, attach_type: AttachType) -> Option<&'static str> {
    Some(match prog_type {
        pt::XDP => "attach_xdp(ifindex, flags)",
        pt::SCHED_CLS if attach_type == at::NETKIT_PRIMARY || attach_type == at::NETKIT_PEER => return None,
        pt::SCHED_CLS => "attach_tc(ifindex, direction)",
        pt::CGROUP_SKB
        | pt::CGROUP_SOCK
        | pt::CGROUP_SOCK_ADDR
        | pt::CGROUP_DEVICE
        | pt::CGROUP_SYSCTL
        | pt::CGROUP_SOCKOPT
        | pt::SOCK_OPS => "attach_cgroup(cgroup_fd) or attach_cgroup_path(path)",
        pt::NETFILTER => "attach_netfilter(hook)",
        pt::SK_LOOKUP | pt::FLOW_DISSECTOR => "attach_netns(netns_fd) or attach_current_netns()",
        pt::SK_MSG | pt::SK_SKB => "attach_sockmap(map)",
        pt::PERF_EVENT => "attach_perf_event(event) or attach_perf_event_per_cpu(period)",
        pt::KPROBE if attach_type == at::TRACE_KPROBE_MULTI => "attach_kprobe_multi(pattern, retprobe)",
        pt::KPROBE if attach_type == at::TRACE_UPROBE_MULTI => "attach_uprobe_multi(binary, pattern, opts)",
        _ => return None,
    })
}

impl Program<'_> {
    /// The auto-attach of this module's mechanisms: `None` if the program
    /// is not one of them.
    pub(crate) fn attach_by_section(&self) -> Option<Result<Link>> {
        let (t, a) = (self.prog_type(), self.expected_attach_type());
        let implied = match implied_target(self.section(), t, a) {
            Ok(i) => i,
            Err(reason) => return Some(Err(Error::MalformedSection { program: self.name().to_string(), reason })),
        };
        Some(match implied {
            Some(ImpliedTarget::KprobeMulti { pattern, retprobe }) => self.attach_kprobe_multi(&pattern, retprobe),
            Some(ImpliedTarget::UprobeMulti { binary, pattern, retprobe }) => {
                self.attach_uprobe_multi(&binary, &pattern, &UprobeMultiOpts { retprobe, ..Default::default() })
            }
            Some(ImpliedTarget::Iter) => self.attach_iter(),
            Some(ImpliedTarget::Freplace) => self.attach_freplace(),
            None => {
                let instead = explicit_method(t, a)?;
                Err(Error::NoAutoAttach {
                    program: self.name().to_string(),
                    section: self.section().to_string(),
                    reason: NoAutoAttach::NoTargetOfType { prog_type: t, instead },
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn implied(sec: &str) -> Option<ImpliedTarget> {
        let d = bpfld_obj::section::classify(sec).unwrap_or_else(|| panic!("{sec}"));
        implied_target(sec, d.prog_type(), d.expected_attach_type()).unwrap()
    }

    #[test]
    fn multi_probe_sections() {
        assert_eq!(implied("kprobe.multi/tcp_*"), Some(ImpliedTarget::KprobeMulti { pattern: "tcp_*".into(), retprobe: false }));
        assert_eq!(implied("kretprobe.multi/x?"), Some(ImpliedTarget::KprobeMulti { pattern: "x?".into(), retprobe: true }));
        assert_eq!(implied("kprobe.multi"), None);
        assert_eq!(
            implied("uprobe.multi//usr/bin/bash:read*"),
            Some(ImpliedTarget::UprobeMulti { binary: "/usr/bin/bash".into(), pattern: "read*".into(), retprobe: false })
        );
        assert_eq!(
            implied("uretprobe.multi.s/libc.so.6:malloc"),
            Some(ImpliedTarget::UprobeMulti { binary: "libc.so.6".into(), pattern: "malloc".into(), retprobe: true })
        );
        let d = bpfld_obj::section::classify("uprobe.multi/x").unwrap();
        assert!(implied_target("uprobe.multi/x", d.prog_type(), d.expected_attach_type())
            .unwrap_err()
            .to_string()
            .contains("<path>:<pattern>"));
    }

    #[test]
    fn iter_and_explicit_targets() {
        assert_eq!(implied("iter/task"), Some(ImpliedTarget::Iter));
        assert_eq!(implied("tcx/ingress"), None);
        assert_eq!(explicit_method(pt::SCHED_CLS, at::TCX_INGRESS), Some("attach_tc(ifindex, direction)"));
        assert_eq!(explicit_method(pt::NETFILTER, at::NETFILTER), Some("attach_netfilter(hook)"));
        assert_eq!(explicit_method(pt::TRACING, at::TRACE_FENTRY), None);
    }
}
