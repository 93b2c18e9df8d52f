//! `bpfld run OBJ [--duration SECS] [--json] [--single-uprobes]`: load an object, attach
//! every program whose section says where, print each ring buffer and perf
//! buffer record as it arrives, and at the end (duration over, Ctrl-C or
//! SIGTERM) detach and print every map that is not global data, decoded
//! with its BTF.
//!
//! Ctrl-C is a `signalfd` in the same epoll as the rings, so a record
//! being printed is never cut off and the final dump always happens.

use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bpfld::map_dump::{hex, MapBtf};
use bpfld::{Error, Link, LoadedObject, MapHandle, OpenObject, PerfBuffer, PerfRecord, RingBuffer};
use bpfld_asm::types::MapType as mt;
use bpfld_sys::{Epoll, SignalFd};
use clap::Args;
use serde::Serialize;

use crate::CliResult;

#[derive(Args)]
pub struct RunArgs {
    /// The BPF object.
    pub obj: PathBuf,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Print JSON Lines: one object per record, then one per map.
    #[arg(long)]
    pub json: bool,
    /// Attach USDT probes with one uprobe perf event per place instead of
    /// one uprobe_multi link (as on kernels before 6.6).
    #[arg(long)]
    pub single_uprobes: bool,
}

/// A ring buffer or perf buffer record (`"cpu"` for perf buffers).
#[derive(Serialize)]
struct RecordLine<'a> {
    map: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    cpu: Option<u32>,
    data: String,
}

/// Samples a perf buffer's CPU lost.
#[derive(Serialize)]
struct LostLine<'a> {
    map: &'a str,
    cpu: u32,
    lost: u64,
}

/// A map's final contents.
#[derive(Serialize)]
struct MapLine {
    map: String,
    entries: Vec<Entry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Entry {
    key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    /// Per-CPU maps: one value per possible CPU.
    #[serde(skip_serializing_if = "Option::is_none")]
    values: Option<Vec<String>>,
    /// The key and value(s) decoded with the map's BTF.
    #[serde(skip_serializing_if = "Option::is_none")]
    formatted: Option<serde_json::Value>,
}

/// Epoll tokens: the signal fd, then the sources in order.
const SIGNAL_TOKEN: u64 = u64::MAX;

enum Source {
    Ring(RingBuffer),
    Perf(PerfBuffer),
}

struct Printer {
    json: bool,
    out: std::io::BufWriter<std::io::Stdout>,
}

impl Printer {
    fn line(&mut self, s: &str) {
        // A closed stdout (`| head`) ends the output, not the run.
        let _ = writeln!(self.out, "{s}");
    }

    fn record(&mut self, map: &str, cpu: Option<u32>, data: &[u8]) {
        if self.json {
            let l = RecordLine { map, cpu, data: hex(data) };
            self.line(&serde_json::to_string(&l).unwrap_or_default());
        } else {
            let cpu = cpu.map(|c| format!(" cpu {c}")).unwrap_or_default();
            self.line(&format!("{map}{cpu}: {} bytes: {}", data.len(), hex(data)));
        }
    }

    fn lost(&mut self, map: &str, cpu: u32, lost: u64) {
        if self.json {
            self.line(&serde_json::to_string(&LostLine { map, cpu, lost }).unwrap_or_default());
        } else {
            self.line(&format!("{map} cpu {cpu}: lost {lost} samples"));
        }
    }

    fn flush(&mut self) {
        let _ = self.out.flush();
    }
}

pub fn run(a: RunArgs) -> CliResult {
    // Before anything starts a thread: the signals are blocked in every
    // thread and only read through the fd.
    let signals = SignalFd::new(&[libc_sig::SIGINT, libc_sig::SIGTERM]).map_err(|e| e.to_string())?;
    let mut opts = bpfld::LoadOptions::default();
    if a.single_uprobes {
        opts.plan.features = Some(bpfld::link::usdt::single_uprobe_features());
    }
    let obj = OpenObject::open(&a.obj).and_then(|o| o.load_with(&opts)).map_err(|e| e.to_string())?;
    let (links, attach_failed) = attach_all(&obj);
    let mut sources = open_sources(&obj).map_err(|e| e.to_string())?;
    let epoll = Epoll::new().map_err(|e| e.to_string())?;
    epoll.add(signals.as_fd(), SIGNAL_TOKEN).map_err(|e| e.to_string())?;
    for (i, (_, s)) in sources.iter().enumerate() {
        let fd = match s {
            Source::Ring(r) => r.as_fd(),
            Source::Perf(p) => p.as_fd(),
        };
        epoll.add(fd, i as u64).map_err(|e| e.to_string())?;
    }
    eprintln!("bpfld: {} running: {} program(s) attached; Ctrl-C to stop", obj.name(), links.len());
    let mut p = Printer { json: a.json, out: std::io::BufWriter::new(std::io::stdout()) };
    let deadline = a.duration.map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let mut ready = Vec::new();
    'run: loop {
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if timeout == Some(Duration::ZERO) {
            break;
        }
        ready.clear();
        epoll.wait(&mut ready, 64, timeout.or(Some(Duration::from_secs(1)))).map_err(|e| e.to_string())?;
        for &t in &ready {
            if t == SIGNAL_TOKEN {
                let _ = signals.read();
                break 'run;
            }
            if let Some((name, s)) = sources.get_mut(t as usize) {
                drain(name, s, &mut p)?;
            }
        }
        p.flush();
    }
    // Detach first, then read what is left, then dump.
    drop(links);
    for (name, s) in &mut sources {
        drain(name, s, &mut p)?;
    }
    dump_maps(&obj, &mut p);
    p.flush();
    Ok(if attach_failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Prints every record waiting in `s`.
fn drain(name: &str, s: &mut Source, p: &mut Printer) -> Result<(), String> {
    match s {
        Source::Ring(r) => r.consume(|d| p.record(name, None, d)).map(drop),
        Source::Perf(b) => b
            .consume(|cpu, rec| match rec {
                PerfRecord::Sample(d) => p.record(name, Some(cpu), d),
                PerfRecord::Lost(n) => p.lost(name, cpu, n),
                PerfRecord::Other(_) => {}
            })
            .map(drop),
    }
    .map_err(|e| e.to_string())
}

/// Attaches every loaded program that has an attachable section; a
/// program without one (XDP, tc...) is left loaded and said so.
fn attach_all(obj: &LoadedObject) -> (Vec<Link>, bool) {
    let mut links = Vec::new();
    let mut failed = false;
    for prog in obj.programs().filter(|p| p.is_loaded()) {
        match prog.attach() {
            Ok(l) => {
                eprintln!("bpfld: attached {} ({})", prog.name(), prog.section());
                links.push(l);
            }
            Err(e @ Error::NoAutoAttach { .. }) => {
                eprintln!("bpfld: not attached: {e}");
            }
            Err(e) => {
                eprintln!("bpfld: attaching {} failed: {e}", prog.name());
                failed = true;
            }
        }
    }
    (links, failed)
}

fn open_sources(obj: &LoadedObject) -> bpfld::Result<Vec<(String, Source)>> {
    let mut out = Vec::new();
    for m in obj.loaded_maps() {
        let name = m.spec.real_name.clone();
        match m.spec.map_type {
            mt::RINGBUF => out.push((name.clone(), Source::Ring(RingBuffer::new(&obj.map(&name)?)?))),
            mt::PERF_EVENT_ARRAY => out.push((name.clone(), Source::Perf(PerfBuffer::new(&obj.map(&name)?)?))),
            _ => {}
        }
    }
    Ok(out)
}

/// Map types whose contents are not key/value data to print.
fn is_dumpable(t: bpfld_asm::types::MapType) -> bool {
    !matches!(
        t,
        mt::RINGBUF | mt::USER_RINGBUF | mt::PERF_EVENT_ARRAY | mt::PROG_ARRAY | mt::STRUCT_OPS | mt::QUEUE | mt::STACK | mt::BLOOM_FILTER
    )
}

fn dump_maps(obj: &LoadedObject, p: &mut Printer) {
    for m in obj.loaded_maps().iter().filter(|m| !m.spec.origin.is_global_data() && is_dumpable(m.spec.map_type)) {
        let name = m.spec.real_name.clone();
        let line = match obj.take_map(&name) {
            Ok(h) => map_line(&name, &h),
            Err(e) => MapLine { map: name, entries: Vec::new(), error: Some(e.to_string()) },
        };
        if p.json {
            p.line(&serde_json::to_string(&line).unwrap_or_default());
        } else {
            print_map_text(p, &line);
        }
    }
}

fn map_line(name: &str, h: &MapHandle) -> MapLine {
    let btf = MapBtf::of(h).ok().flatten();
    let per_cpu = h.is_per_cpu();
    let stride = (h.info().value_size as usize).next_multiple_of(8);
    let mut entries = Vec::new();
    let mut error = None;
    for e in h.entries() {
        let (k, v) = match e {
            Ok(kv) => kv,
            Err(e) => {
                error = Some(e.to_string());
                break;
            }
        };
        let slots: Vec<&[u8]> = if per_cpu { v.chunks(stride).map(|c| &c[..h.info().value_size as usize]).collect() } else { vec![&v] };
        let formatted = btf.as_ref().map(|b| {
            let key = b.key(&k).map(|v| v.to_json()).unwrap_or_else(|| "null".into());
            let vals: Vec<String> = slots.iter().map(|s| b.value(s).to_json()).collect();
            let value = if per_cpu { format!("[{}]", vals.join(",")) } else { vals.concat() };
            let field = if per_cpu { "values" } else { "value" };
            serde_json::from_str(&format!("{{\"key\":{key},\"{field}\":{value}}}")).unwrap_or(serde_json::Value::Null)
        });
        entries.push(Entry {
            key: hex(&k),
            value: (!per_cpu).then(|| hex(&v)),
            values: per_cpu.then(|| slots.iter().map(|s| hex(s)).collect()),
            formatted,
        });
    }
    MapLine { map: name.to_string(), entries, error }
}

fn print_map_text(p: &mut Printer, m: &MapLine) {
    p.line(&format!("map {}: {} entries", m.map, m.entries.len()));
    for e in &m.entries {
        match &e.formatted {
            Some(f) => {
                let key = &f["key"];
                let value = if e.values.is_some() { &f["values"] } else { &f["value"] };
                p.line(&format!("  {key} = {value}"));
            }
            None => match (&e.value, &e.values) {
                (Some(v), _) => p.line(&format!("  {} = {v}", e.key)),
                (None, Some(vs)) => p.line(&format!("  {} = [{}]", e.key, vs.join(", "))),
                _ => {}
            },
        }
    }
    if let Some(err) = &m.error {
        p.line(&format!("  error: {err}"));
    }
}

/// The two signal numbers, without a libc dependency in the CLI.
mod libc_sig {
    pub const SIGINT: i32 = 2;
    pub const SIGTERM: i32 = 15;
}
