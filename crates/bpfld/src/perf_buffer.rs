//! Reading a `BPF_MAP_TYPE_PERF_EVENT_ARRAY` as libbpf's `perf_buffer`:
//! a `bpf-output` perf event per CPU, each with an mmapped ring, stored in
//! the map at the CPU's index (where `bpf_perf_event_output` with
//! `BPF_F_CURRENT_CPU` writes), all behind one epoll.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bpfld_sys::{Epoll, MapRef, PerfRing};

pub use bpfld_sys::PerfRecord;

use crate::error::{Error, MapProblem, Result};
use crate::map::Map;

/// Options of [`PerfBuffer::with_options`].
#[derive(Debug, Clone, Copy)]
pub struct PerfBufferOptions {
    /// Data pages of each CPU's ring (a power of two); libbpf users
    /// commonly pass 8 to 64.
    pub pages_per_cpu: usize,
    /// Wake the reader every this many samples (1: every sample).
    pub wakeup_events: u32,
}

impl Default for PerfBufferOptions {
    fn default() -> Self {
        PerfBufferOptions { pages_per_cpu: 64, wakeup_events: 1 }
    }
}

struct CpuRing {
    cpu: u32,
    event: OwnedFd,
    ring: PerfRing,
}

/// The per-CPU rings of a perf event array. Owns its events and a
/// duplicate of the map's fd; dropping it closes the events (the map's
/// slots then refer to nothing, and outputs fail with `ENOENT`).
pub struct PerfBuffer {
    epoll: Epoll,
    rings: Vec<CpuRing>,
    _map: OwnedFd,
    name: String,
    ready: Vec<u64>,
}

impl std::fmt::Debug for PerfBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerfBuffer").field("name", &self.name).field("cpus", &self.cpus()).finish()
    }
}

impl PerfBuffer {
    /// [`Self::with_options`] with the default options.
    pub fn new(map: &Map<'_>) -> Result<PerfBuffer> {
        Self::with_options(map, &PerfBufferOptions::default())
    }

    /// Opens a ring for every online CPU among the possible ones that has a
    /// slot in `map` (CPUs at index >= max_entries, or offline, get none,
    /// as in libbpf), and stores each event in the map.
    pub fn with_options(map: &Map<'_>, opts: &PerfBufferOptions) -> Result<PerfBuffer> {
        let name = map.real_name().to_string();
        let err = |what: &str, e: bpfld_sys::SysError| Error::kernel(format!("perf buffer '{name}': {what}"), e);
        let info = map.info()?;
        if info.map_type != bpfld_asm::types::MapType::PERF_EVENT_ARRAY {
            return Err(Error::Map { map: name, problem: MapProblem::NotPerfEventArray { actual: info.map_type } });
        }
        let fd = map.fd().try_clone_to_owned().map_err(|e| Error::io(format!("map '{name}': duplicating its fd"), e))?;
        let mref = MapRef::new(fd.as_fd()).map_err(|e| err("map", e))?;
        let online = bpfld_sys::online_cpu_ids().map_err(|e| err("online CPUs", e))?;
        let epoll = Epoll::new().map_err(|e| err("epoll", e))?;
        let mut rings = Vec::new();
        for cpu in bpfld_sys::possible_cpu_ids().map_err(|e| err("possible CPUs", e))? {
            if cpu >= info.max_entries || !online.contains(&cpu) {
                continue;
            }
            let event = bpfld_sys::perf_event_open_bpf_output(cpu, opts.wakeup_events).map_err(|e| err("opening", e))?;
            let ring = PerfRing::new(event.as_fd(), opts.pages_per_cpu).map_err(|e| err(&format!("mapping CPU {cpu}'s ring"), e))?;
            bpfld_sys::perf_event_enable(event.as_fd()).map_err(|e| err("enabling", e))?;
            let slot = std::os::fd::AsRawFd::as_raw_fd(&event) as u32;
            mref.update(&cpu.to_ne_bytes(), &slot.to_ne_bytes(), 0).map_err(|e| err(&format!("storing CPU {cpu}'s event"), e))?;
            epoll.add(event.as_fd(), rings.len() as u64).map_err(|e| err("epoll", e))?;
            rings.push(CpuRing { cpu, event, ring });
        }
        Ok(PerfBuffer { epoll, rings, _map: fd, name, ready: Vec::new() })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The CPUs that have a ring.
    pub fn cpus(&self) -> Vec<u32> {
        self.rings.iter().map(|r| r.cpu).collect()
    }

    /// The perf event of `cpu`.
    pub fn event_fd(&self, cpu: u32) -> Option<BorrowedFd<'_>> {
        self.rings.iter().find(|r| r.cpu == cpu).map(|r| r.event.as_fd())
    }

    fn consume_ring(&mut self, idx: usize, f: &mut impl FnMut(u32, PerfRecord<'_>)) -> Result<usize> {
        let r = &mut self.rings[idx];
        let cpu = r.cpu;
        r.ring.consume(|rec| f(cpu, rec)).map_err(|e| Error::kernel(format!("perf buffer '{}' CPU {cpu}", self.name), e))
    }

    /// Waits up to `timeout` (`None`: forever) for records on any CPU, then
    /// calls `f(cpu, record)` for every record of the ready CPUs: samples
    /// and counts of lost samples. Returns how many records.
    pub fn poll(&mut self, timeout: Option<Duration>, mut f: impl FnMut(u32, PerfRecord<'_>)) -> Result<usize> {
        self.ready.clear();
        self.epoll.wait(&mut self.ready, self.rings.len().max(1), timeout).map_err(|e| Error::kernel("perf buffer poll", e))?;
        let ready = std::mem::take(&mut self.ready);
        let mut n = 0;
        for &i in &ready {
            if (i as usize) < self.rings.len() {
                n += self.consume_ring(i as usize, &mut f)?;
            }
        }
        self.ready = ready;
        Ok(n)
    }

    /// Calls `f(cpu, record)` for every record waiting on every CPU,
    /// without waiting.
    pub fn consume(&mut self, mut f: impl FnMut(u32, PerfRecord<'_>)) -> Result<usize> {
        let mut n = 0;
        for i in 0..self.rings.len() {
            n += self.consume_ring(i, &mut f)?;
        }
        Ok(n)
    }
}

impl AsFd for PerfBuffer {
    /// The epoll fd: readable when any CPU's ring is.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}
