//! Ring buffer consumption: records per second read by bpfld's
//! `RingBufferPoller::poll_with` (and `poll`, with boxed callbacks) against libbpf 1.7's `ring_buffer__poll`, on
//! the same ring filled by the same producer, in one run.
//!
//! `cargo bench -p bpfld-reference --bench ringbuf [-- ROUNDS]` (root or
//! CAP_BPF; default 21 rounds). Each round, a syscall program
//! (`fill_bench` of `tests/bpf/events.bpf.c`) writes 2,000,000 records of
//! 16 bytes (24 with the header) into a 64 MiB ring with `bpf_loop`; then
//! one reader drains it while it is timed; then the ring is filled again
//! for the other reader. Readers alternate which goes first. Each reader maps
//! the ring once (first-touch page faults are paid in an untimed warm-up
//! round). The callback of both adds the first word of each record to a sum that is checked,
//! so both read every record. Each drain is timed in the reader thread's CPU time (the machine may be
//! busy with other work; wall time would count it). The medians are compared; the ratio printed
//! is bpfld's rate / libbpf's (goal: at least 1.0).

#[path = "common/timing.rs"]
mod timing;

use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bpfld::{LoadedObject, OpenObject, RingBuffer, RingBufferPoller};
use timing::median;

const RECORDS: u32 = 2_000_000;

/// This thread's CPU time: unlike wall time, it does not count the time
/// other processes of a busy machine run instead of the reader.
struct CpuClock(Duration);

impl CpuClock {
    fn now() -> CpuClock {
        let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
        // SAFETY: ts is a valid timespec to write.
        let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
        assert_eq!(r, 0);
        CpuClock(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
    }

    fn elapsed(&self) -> Duration {
        CpuClock::now().0 - self.0
    }
}

fn fill(obj: &mut LoadedObject) {
    obj.write_global("bench_count", &RECORDS.to_ne_bytes()).unwrap();
    obj.program("fill_bench").unwrap().test_run(&Default::default()).unwrap();
    assert_eq!(obj.read_global_u64("bench_refused").unwrap(), 0, "the ring filled up");
}

/// The sum of the first words of records 0..RECORDS.
fn want_sum() -> u64 {
    let n = u64::from(RECORDS);
    n * (n - 1) / 2
}

unsafe extern "C" fn libbpf_cb(ctx: *mut std::ffi::c_void, data: *mut std::ffi::c_void, size: libbpf_sys::size_t) -> i32 {
    // SAFETY: ctx is the &mut u64 given to ring_buffer__new; data points to
    // `size` (16) readable bytes of the record.
    unsafe {
        debug_assert_eq!(size, 16);
        *(ctx as *mut u64) += std::ptr::read_unaligned(data as *const u64);
    }
    0
}

struct Libbpf {
    rb: *mut libbpf_sys::ring_buffer,
    sum: Box<u64>,
}

impl Libbpf {
    fn new(obj: &LoadedObject) -> Libbpf {
        let fd = obj.map("bench_rb").unwrap().fd().as_raw_fd();
        let mut sum = Box::new(0u64);
        // SAFETY: fd is a ring buffer map that outlives the ring_buffer (the
        // object is dropped after it); ctx is the boxed sum, which lives as
        // long as this value.
        let rb = unsafe { libbpf_sys::ring_buffer__new(fd, Some(libbpf_cb), (&mut *sum as *mut u64).cast(), std::ptr::null()) };
        assert!(!rb.is_null(), "ring_buffer__new: {}", std::io::Error::last_os_error());
        Libbpf { rb, sum }
    }

    fn time(&mut self, obj: &mut LoadedObject) -> Duration {
        fill(obj);
        *self.sum = 0;
        let t = CpuClock::now();
        let mut n = 0u64;
        while n < u64::from(RECORDS) {
            // SAFETY: rb is live.
            let r = unsafe { libbpf_sys::ring_buffer__poll(self.rb, 0) };
            assert!(r >= 0, "ring_buffer__poll: {r}");
            n += r as u64;
        }
        let d = t.elapsed();
        assert_eq!(*self.sum, want_sum(), "libbpf read every record");
        d
    }
}

impl Drop for Libbpf {
    fn drop(&mut self) {
        // SAFETY: rb is freed once.
        unsafe { libbpf_sys::ring_buffer__free(self.rb) };
    }
}

struct Bpfld {
    poller: RingBufferPoller,
    sum: Arc<AtomicU64>,
}

impl Bpfld {
    fn new(obj: &LoadedObject) -> Bpfld {
        let rb = RingBuffer::new(&obj.map("bench_rb").unwrap()).unwrap();
        let sum = Arc::new(AtomicU64::new(0));
        let mut poller = RingBufferPoller::new().unwrap();
        let s = sum.clone();
        poller
            // What libbpf_cb does: add the word to a sum behind a pointer.
            .add(rb, move |d: &[u8]| {
                let word = u64::from_ne_bytes(d[..8].try_into().unwrap());
                s.store(s.load(Ordering::Relaxed).wrapping_add(word), Ordering::Relaxed);
            })
            .unwrap();
        let _ = poller.as_fd();
        Bpfld { poller, sum }
    }

    /// Drains with the closure given to `poll_with`, inlined in the loop.
    fn time_inline(&mut self, obj: &mut LoadedObject) -> Duration {
        fill(obj);
        let mut sum = 0u64;
        let t = CpuClock::now();
        let mut n = 0u64;
        while n < u64::from(RECORDS) {
            n += self.poller.poll_with(Some(Duration::ZERO), |_, d| sum += u64::from_ne_bytes(d[..8].try_into().unwrap())).unwrap() as u64;
        }
        let d = t.elapsed();
        assert_eq!(sum, want_sum(), "bpfld read every record");
        d
    }

    /// Drains with the ring's boxed callback (libbpf's model).
    fn time(&mut self, obj: &mut LoadedObject) -> Duration {
        fill(obj);
        let base = self.sum.load(Ordering::Relaxed);
        let t = CpuClock::now();
        let mut n = 0u64;
        while n < u64::from(RECORDS) {
            n += self.poller.poll(Some(Duration::ZERO)).unwrap() as u64;
        }
        let d = t.elapsed();
        assert_eq!(self.sum.load(Ordering::Relaxed).wrapping_sub(base), want_sum(), "bpfld read every record");
        d
    }
}

fn main() {
    if let Err(e) = bpfld_sys::bpf_usable() {
        eprintln!("skipped: bpf() not usable: {e}");
        return;
    }
    let rounds: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(21);
    let path = bpfld_testdata::test_object("events");
    let mut obj = OpenObject::open(&path).unwrap().load().unwrap();
    // Both readers map the ring once, as a long-running reader does.
    let (mut lb, mut us) = (Libbpf::new(&obj), Bpfld::new(&obj));
    let (mut ours, mut inline, mut theirs) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds + 1 {
        let (a, c, b) = if round % 2 == 0 {
            let a = us.time(&mut obj);
            let c = us.time_inline(&mut obj);
            (a, c, lb.time(&mut obj))
        } else {
            let b = lb.time(&mut obj);
            let c = us.time_inline(&mut obj);
            (us.time(&mut obj), c, b)
        };
        // Round 0 warms the mappings (first-touch page faults) up.
        if round > 0 {
            ours.push(a);
            inline.push(c);
            theirs.push(b);
        }
    }
    drop(lb);
    let rate = |d: Duration| f64::from(RECORDS) / d.as_secs_f64();
    let (ours, inline, theirs) = (rate(median(ours)), rate(median(inline)), rate(median(theirs)));
    println!("ring buffer, {RECORDS} records of 16 bytes per round, median of {rounds} rounds (reader CPU time):");
    println!("  bpfld  RingBufferPoller::poll_with (inlined closure) {:>7.1} M records/s", inline / 1e6);
    println!("  bpfld  RingBufferPoller::poll (boxed callback)      {:>7.1} M records/s", ours / 1e6);
    println!("  libbpf ring_buffer__poll (callback pointer)         {:>7.1} M records/s", theirs / 1e6);
    println!("  ratio bpfld/libbpf: {:.2} with poll_with (goal >= 1.0), {:.2} with boxed callbacks", inline / theirs, ours / theirs);
}
