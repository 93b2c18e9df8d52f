//! The examples are in `execsnoop/`, `runqlat/` and `pktcount/`, each a
//! BPF program and a `main`; run one with
//! `cargo run --release -p bpfld-examples --example NAME` (as root).
//! This library only holds what they share: reading `--duration SECS`.
#![forbid(unsafe_code)]

use std::time::Duration;

/// `--duration SECS` from the command line, if given.
pub fn duration_arg() -> Option<Duration> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == "--duration")?;
    args.get(i + 1)?.parse::<f64>().ok().map(Duration::from_secs_f64)
}
