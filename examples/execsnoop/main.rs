//! execsnoop: prints a line for every new program that starts.
//!
//! `cargo run --release -p bpfld-examples --example execsnoop [-- --duration SECS]`

use std::time::{Duration, Instant};

use bpfld::{OpenObject, RingBuffer, RingBufferPoller};
use bytemuck::{Pod, Zeroable};

/// `struct event` of execsnoop.bpf.c.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct Event {
    pid: u32,
    old_pid: u32,
    comm: [u8; 16],
    filename: [u8; 112],
}

fn c_str(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())]).into_owned()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let obj = OpenObject::from_bytes("execsnoop", include_bytes!("execsnoop.bpf.o"))?.load()?;
    let _link = obj.program("handle_exec")?.attach()?;
    let mut poller = RingBufferPoller::new()?;
    poller.add(RingBuffer::new(&obj.map("events")?)?, |data: &[u8]| {
        let Some(e) = data.get(..size_of::<Event>()).map(bytemuck::pod_read_unaligned::<Event>) else { return };
        println!("{:<8} {:<16} {}", e.pid, c_str(&e.comm), c_str(&e.filename));
    })?;
    println!("{:<8} {:<16} FILENAME", "PID", "COMM");
    let end = bpfld_examples::duration_arg().map(|d| Instant::now() + d);
    while end.is_none_or(|t| Instant::now() < t) {
        poller.poll(Some(Duration::from_millis(100)))?;
        use std::io::Write;
        std::io::stdout().flush()?;
    }
    Ok(())
}
