//! The per-CPU rings behind a `BPF_MAP_TYPE_PERF_EVENT_ARRAY`: one
//! software `bpf-output` perf event per CPU, whose mmapped ring receives
//! what programs send with `bpf_perf_event_output`.
//!
//! The ring is a metadata page (`struct perf_event_mmap_page`) followed by
//! 2^n data pages. The kernel writes records and then publishes
//! `data_head` (release); user space reads up to it (acquire), then
//! publishes `data_tail` (release) to give the space back. Records are
//! 8-byte aligned but may wrap past the end of the data, where they are
//! copied out in two pieces.

use std::io;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::atomic::{fence, AtomicU64, Ordering};

use crate::error::{Operation, Result, SysError};
use crate::mapping::Mapping;
use crate::perf::{perf_event_open_attr, PerfEventAttr, PERF_ATTR_SIZE};
use crate::probe::page_size;

/// `PERF_TYPE_SOFTWARE`.
const PERF_TYPE_SOFTWARE: u32 = 1;
/// `PERF_COUNT_SW_BPF_OUTPUT`.
const PERF_COUNT_SW_BPF_OUTPUT: u64 = 10;
/// `PERF_SAMPLE_RAW`.
const PERF_SAMPLE_RAW: u64 = 1 << 10;
/// `PERF_RECORD_LOST`.
const PERF_RECORD_LOST: u32 = 2;
/// `PERF_RECORD_SAMPLE`.
const PERF_RECORD_SAMPLE: u32 = 9;
/// Offsets of `data_head` and `data_tail` in `struct perf_event_mmap_page`.
const DATA_HEAD: usize = 1024;
const DATA_TAIL: usize = 1032;

/// Opens the `bpf-output` software event of `cpu` that a perf event array
/// slot holds, as libbpf's `perf_buffer__new`: raw samples, one per
/// output, waking readers every `wakeup_events` samples (at least 1).
pub fn perf_event_open_bpf_output(cpu: u32, wakeup_events: u32) -> Result<OwnedFd> {
    let mut attr = PerfEventAttr {
        type_: PERF_TYPE_SOFTWARE,
        size: PERF_ATTR_SIZE,
        config: PERF_COUNT_SW_BPF_OUTPUT,
        sample_period: 1,
        sample_type: PERF_SAMPLE_RAW,
        wakeup_events: wakeup_events.max(1),
        ..Default::default()
    };
    let cpu_i = i32::try_from(cpu).map_err(|_| SysError::new(Operation::PerfEventOpen, io::Error::from(io::ErrorKind::InvalidInput)))?;
    // SAFETY: a software event reads no pointer from the attribute.
    unsafe { perf_event_open_attr(&mut attr, -1, cpu_i) }
        .map_err(|e| SysError::new(Operation::PerfEventOpen, e).with_object(format!("bpf-output event of CPU {cpu}")))
}

/// A record of a perf ring.
#[derive(Debug, PartialEq, Eq)]
pub enum PerfRecord<'a> {
    /// A sample's raw bytes (what the program output, padded by the kernel
    /// to a multiple of 8 bytes with the 4-byte size before it).
    Sample(&'a [u8]),
    /// The kernel dropped this many samples because the ring was full.
    Lost(u64),
    /// Another record type, ignored.
    Other(u32),
}

/// The mmapped ring of one perf event.
#[derive(Debug)]
pub struct PerfRing {
    map: Mapping,
    page: usize,
    size: u64,
    /// Where records that wrap around the end are put back together.
    scratch: Vec<u8>,
}

impl PerfRing {
    /// Maps the ring of `event` with `data_pages` data pages (a power of
    /// two).
    pub fn new(event: BorrowedFd<'_>, data_pages: usize) -> Result<PerfRing> {
        if !data_pages.is_power_of_two() {
            return Err(SysError::new(
                Operation::Mmap,
                io::Error::new(io::ErrorKind::InvalidInput, format!("{data_pages} data pages is not a power of two")),
            ));
        }
        let page = page_size();
        let len = data_pages.checked_add(1).and_then(|p| p.checked_mul(page)).ok_or_else(|| {
            SysError::new(Operation::Mmap, io::Error::new(io::ErrorKind::InvalidInput, "perf ring too large".to_string()))
        })?;
        let map = Mapping::new(event, len, 0, true, "perf event ring")?;
        Ok(PerfRing { map, page, size: (data_pages * page) as u64, scratch: Vec::new() })
    }

    fn tail(&self) -> &AtomicU64 {
        // SAFETY: data_tail is an aligned u64 of the read-write metadata
        // page, alive as long as self.
        unsafe { AtomicU64::from_ptr(self.map.ptr().add(DATA_TAIL).cast()) }
    }

    fn head(&self) -> u64 {
        // SAFETY: data_head is an aligned u64 of the metadata page. A
        // volatile read then an acquire fence is the kernel's documented
        // `smp_rmb()` after reading data_head.
        let v = unsafe { std::ptr::read_volatile(self.map.ptr().add(DATA_HEAD).cast::<u64>()) };
        fence(Ordering::Acquire);
        v
    }

    /// Bytes written and not read yet.
    pub fn pending_bytes(&self) -> u64 {
        self.head().wrapping_sub(self.tail().load(Ordering::Relaxed))
    }

    /// Copies `len` bytes at ring position `pos` into `out`, in two pieces
    /// if they wrap.
    fn copy_out(&self, pos: u64, len: usize, out: &mut Vec<u8>) {
        out.clear();
        let off = (pos % self.size) as usize;
        let first = len.min(self.size as usize - off);
        // SAFETY: [off, off + first) and [0, len - first) lie in the data
        // pages; the kernel does not write there until data_tail passes.
        unsafe {
            let data = self.map.ptr().add(self.page);
            out.extend_from_slice(std::slice::from_raw_parts(data.add(off), first));
            out.extend_from_slice(std::slice::from_raw_parts(data, len - first));
        }
    }

    /// Calls `f` with every record written since the last call, then gives
    /// their space back to the kernel. Returns the number of records.
    pub fn consume<F: FnMut(PerfRecord<'_>)>(&mut self, mut f: F) -> Result<usize> {
        let head = self.head();
        let mut tail = self.tail().load(Ordering::Relaxed);
        let mut n = 0;
        let mut buf = std::mem::take(&mut self.scratch);
        let res = loop {
            if tail >= head {
                break Ok(n);
            }
            self.copy_out(tail, 8, &mut buf);
            let rtype = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes"));
            let rsize = u16::from_ne_bytes(buf[6..8].try_into().expect("2 bytes")) as usize;
            if rsize < 8 || rsize as u64 > head - tail {
                break Err(SysError::new(
                    Operation::Mmap,
                    io::Error::new(io::ErrorKind::InvalidData, format!("perf record of {rsize} bytes at {tail}")),
                ));
            }
            self.copy_out(tail, rsize, &mut buf);
            let body = &buf[8..];
            let rec = match rtype {
                PERF_RECORD_SAMPLE if body.len() >= 4 => {
                    let raw = (u32::from_ne_bytes(body[0..4].try_into().expect("4 bytes")) as usize).min(body.len() - 4);
                    PerfRecord::Sample(&body[4..4 + raw])
                }
                PERF_RECORD_LOST if body.len() >= 16 => PerfRecord::Lost(u64::from_ne_bytes(body[8..16].try_into().expect("8 bytes"))),
                t => PerfRecord::Other(t),
            };
            f(rec);
            n += 1;
            tail += rsize as u64;
        };
        self.tail().store(tail, Ordering::Release);
        self.scratch = buf;
        res
    }
}
