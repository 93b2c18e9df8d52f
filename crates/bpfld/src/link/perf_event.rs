//! `perf_event` programs (`SEC("perf_event")`): attached to perf events
//! the caller opens (any `perf_event_open`), or to a software `cpu-clock`
//! sampling event on each online CPU, with `BPF_PERF_EVENT` links (or
//! `PERF_EVENT_IOC_SET_BPF` before 5.15). The program runs on each sample.

use std::os::fd::OwnedFd;

pub use bpfld_sys::SamplePeriod;

use crate::error::{Error, Result};
use crate::link::Link;
use crate::program::Program;

impl Program<'_> {
    /// Attaches to the perf event `event` (the link keeps it) and enables
    /// it.
    pub fn attach_perf_event(&self, event: OwnedFd) -> Result<Link> {
        crate::perf_attach::attach_to_event(self.fd()?, event, 0, false, &format!("program '{}': perf event", self.name()))
    }

    /// Attaches to a software `cpu-clock` event on every online CPU
    /// sampling at `period`: one link per CPU (as `perf record -e
    /// cpu-clock` or bcc's `profile`).
    pub fn attach_perf_event_per_cpu(&self, period: SamplePeriod) -> Result<Vec<Link>> {
        let cpus = online_cpus()?;
        cpus.into_iter()
            .map(|cpu| {
                let ev = bpfld_sys::perf_event_open_software(bpfld_sys::PERF_COUNT_SW_CPU_CLOCK, cpu, period)
                    .map_err(|e| self.err(&format!("opening cpu-clock event on CPU {cpu}"), e))?;
                self.attach_perf_event(ev)
            })
            .collect()
    }
}

/// The online CPUs (`/sys/devices/system/cpu/online`).
pub fn online_cpus() -> Result<Vec<u32>> {
    bpfld_sys::online_cpu_ids().map_err(|e| Error::kernel("listing the online CPUs", e))
}
