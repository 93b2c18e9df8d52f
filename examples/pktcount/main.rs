//! pktcount: counts the packets and bytes an interface receives, with an
//! XDP program.
//!
//! `cargo run --release -p bpfld-examples --example pktcount -- IFACE [--duration SECS]`

use std::time::{Duration, Instant};

use bpfld::typed_maps::PerCpuArray;
use bpfld::OpenObject;
use bytemuck::{Pod, Zeroable};

/// `struct counters` of pktcount.bpf.c.
#[repr(C)]
#[derive(Clone, Copy, Default, Pod, Zeroable)]
struct Counters {
    packets: u64,
    bytes: u64,
}

fn ifindex(name: &str) -> Result<u32, Box<dyn std::error::Error>> {
    let path = format!("/sys/class/net/{name}/ifindex");
    let s = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    Ok(s.trim().parse()?)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iface = std::env::args().nth(1).filter(|a| !a.starts_with("--")).ok_or("usage: pktcount IFACE [--duration SECS]")?;
    let obj = OpenObject::from_bytes("pktcount", include_bytes!("pktcount.bpf.o"))?.load()?;
    let _link = obj.program("count_packets")?.attach_xdp(ifindex(&iface)?, 0)?;
    let stats: PerCpuArray<Counters> = obj.take_map("stats")?.try_into()?;
    eprintln!("counting packets received on {iface}...");
    let end = bpfld_examples::duration_arg().map(|d| Instant::now() + d);
    loop {
        std::thread::sleep(Duration::from_secs(1).min(end.map_or(Duration::MAX, |t| t.saturating_duration_since(Instant::now()))));
        let total =
            stats.get(0)?.iter().fold(Counters::default(), |a, c| Counters { packets: a.packets + c.packets, bytes: a.bytes + c.bytes });
        println!("{iface}: {} packets, {} bytes", total.packets, total.bytes);
        if end.is_some_and(|t| Instant::now() >= t) {
            return Ok(());
        }
    }
}
