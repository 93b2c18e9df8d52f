//! runqlat: a histogram of run queue latency (wake-up to running), in
//! microseconds, over a few seconds.
//!
//! `cargo run --release -p bpfld-examples --example runqlat [-- --duration SECS]`

use bpfld::typed_maps::PerCpuArray;
use bpfld::OpenObject;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let obj = OpenObject::from_bytes("runqlat", include_bytes!("runqlat.bpf.o"))?.load()?;
    let _links = ["handle_wakeup", "handle_wakeup_new", "handle_switch"].map(|p| obj.program(p).and_then(|p| p.attach()));
    for l in &_links {
        if let Err(e) = l {
            return Err(e.to_string().into());
        }
    }
    let hist: PerCpuArray<u64> = obj.take_map("hist")?.try_into()?;
    let secs = bpfld_examples::duration_arg().unwrap_or(std::time::Duration::from_secs(5));
    eprintln!("tracing run queue latency for {:.1} s...", secs.as_secs_f64());
    std::thread::sleep(secs);
    let counts: Vec<u64> = (0..hist.len()).map(|i| hist.get(i).map(|v| v.iter().sum())).collect::<Result<_, _>>()?;
    let last = counts.iter().rposition(|&c| c > 0).unwrap_or(0);
    let max = counts.iter().copied().max().unwrap_or(0).max(1);
    println!("{:>21} : {:<8} distribution", "usecs", "count");
    for (i, &c) in counts.iter().enumerate().take(last + 1) {
        let (lo, hi) = if i == 0 { (0, 1) } else { (1u64 << i, (1u64 << (i + 1)) - 1) };
        let bar = "*".repeat((c * 40 / max) as usize);
        println!("{lo:>10} -> {hi:<8} : {c:<8} |{bar:<40}|");
    }
    println!("total: {}", counts.iter().sum::<u64>());
    Ok(())
}
