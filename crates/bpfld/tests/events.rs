//! Ring buffers, user ring buffers and perf buffers on the real kernel:
//! contents read back, discarded records skipped, records wrapping around
//! the end of the ring, and stress runs where the kernel produces as fast
//! as a tight syscall loop lets it and every record is either read or
//! reported lost.

mod common;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bpfld::{LoadedObject, PerfBuffer, PerfBufferOptions, PerfRecord, RingBuffer, RingBufferPoller, UserRingBuffer};
use bpfld_testdata::require_kernel;
use common::*;

fn load_events() -> LoadedObject {
    let mut open = open("events");
    open.set_global("target_tgid", &std::process::id().to_ne_bytes()).unwrap();
    open.load().unwrap_or_else(|e| panic!("{e}"))
}

/// Sum over CPUs of slot `idx` of a per-CPU array of u64.
fn percpu_sum(obj: &LoadedObject, map: &str, idx: u32) -> u64 {
    let v = obj.map(map).unwrap().lookup_u32(idx).unwrap().unwrap();
    v.chunks(8).map(u64_of).sum()
}

/// Makes `syscall` in a tight loop on another thread for `secs` seconds.
fn hammer(syscall: fn(), secs: f64) -> (Arc<AtomicBool>, std::thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let t = std::thread::spawn(move || {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let mut n = 0u64;
        while !s.load(Ordering::Relaxed) && Instant::now() < end {
            for _ in 0..256 {
                syscall();
            }
            n += 256;
        }
        n
    });
    (stop, t)
}

fn getpgid() {
    // SAFETY: no preconditions.
    unsafe { libc::getpgid(0) };
}

fn getppid() {
    // SAFETY: no preconditions.
    unsafe { libc::getppid() };
}

fn record_of(d: &[u8]) -> (u64, u32, u32) {
    assert_eq!(d.len(), 16, "record size");
    (u64_of(&d[0..8]), u32_of(&d[8..12]), u32_of(&d[12..16]))
}

#[test]
fn ring_buffer_stress_every_record_read_none_lost() {
    if !require_kernel() {
        return;
    }
    let obj = load_events();
    let rb = RingBuffer::new(&obj.map("rb").unwrap()).unwrap();
    assert_eq!(rb.size(), 64 << 20);
    let _link = obj.program("rb_produce").unwrap().attach().unwrap();
    let (stop, producer) = hammer(getpgid, 2.0);
    let mut poller = RingBufferPoller::new().unwrap();
    let seen = Arc::new(std::sync::Mutex::new((0u64, 0u64, 0u64))); // count, sum of seq, bad
    let s2 = seen.clone();
    poller
        .add(rb, move |d| {
            let (seq, _cpu, magic) = record_of(d);
            let mut g = s2.lock().unwrap();
            g.0 += 1;
            g.1 += seq;
            if magic != 0xfeedbeef {
                g.2 += 1;
            }
        })
        .unwrap();
    while !producer.is_finished() {
        poller.poll(Some(Duration::from_millis(50))).unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let calls = producer.join().unwrap();
    poller.consume().unwrap();
    let produced = percpu_sum(&obj, "rb_stats", 0);
    let refused = percpu_sum(&obj, "rb_stats", 1);
    let (read, sum, bad) = *seen.lock().unwrap();
    eprintln!("ring buffer: {calls} getpgid calls, {produced} records produced, {read} read, {refused} refused by a full ring");
    assert!(produced >= calls, "every call of the thread produces a record");
    assert!(produced > 100_000, "the kernel produced only {produced} records in 2 s");
    assert_eq!(refused, 0, "a 64 MiB ring filled up");
    assert_eq!(read, produced, "records read vs produced");
    assert_eq!(bad, 0, "records with a bad magic");
    // The records are numbered per CPU from 1: the sum of what was read is
    // the sum of 1..=n over each CPU's count, whatever the interleaving.
    let per_cpu = obj.map("rb_stats").unwrap().lookup_u32(0).unwrap().unwrap();
    let want: u64 = per_cpu.chunks(8).map(|c| u64_of(c) * (u64_of(c) + 1) / 2).sum();
    assert_eq!(sum, want, "sequence numbers read are not those produced");
}

#[test]
fn perf_buffer_stress_every_record_read_or_reported_lost() {
    if !require_kernel() {
        return;
    }
    let obj = load_events();
    // Small rings (2 pages per CPU) so that the kernel does lose records.
    let mut pb = PerfBuffer::with_options(&obj.map("perf").unwrap(), &PerfBufferOptions { pages_per_cpu: 2, wakeup_events: 1 }).unwrap();
    assert!(!pb.cpus().is_empty());
    let link = obj.program("perf_produce").unwrap().attach().unwrap();
    let (stop, producer) = hammer(getppid, 2.0);
    let (mut samples, mut lost, mut bad) = (0u64, 0u64, 0u64);
    let mut handle = |_cpu: u32, r: PerfRecord<'_>| match r {
        PerfRecord::Sample(d) => {
            samples += 1;
            // 16 bytes of record, 4 of padding after the size word.
            if d.len() < 16 || u32_of(&d[12..16]) != 0xfeedbeef {
                bad += 1;
            }
        }
        PerfRecord::Lost(n) => lost += n,
        PerfRecord::Other(_) => {}
    };
    let t0 = Instant::now();
    while !producer.is_finished() {
        pb.poll(Some(Duration::from_millis(50)), &mut handle).unwrap();
        // Read slowly at first so that records are lost.
        if t0.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    stop.store(true, Ordering::Relaxed);
    producer.join().unwrap();
    pb.consume(&mut handle).unwrap();
    // The kernel reports lost samples with the next sample that fits: one
    // more output on every CPU flushes the counts.
    for cpu in pb.cpus() {
        run_on_cpu(cpu, getppid);
    }
    pb.consume(&mut handle).unwrap();
    drop(link);
    let produced = percpu_sum(&obj, "perf_stats", 0);
    let refused = percpu_sum(&obj, "perf_stats", 1);
    eprintln!("perf buffer: {produced} produced, {samples} samples read, {lost} reported lost, {refused} refused");
    assert!(produced > 10_000, "only {produced} records produced");
    assert!(lost > 0, "small rings read slowly lost nothing: the test does not test loss");
    assert_eq!(bad, 0, "samples with a bad magic");
    assert_eq!(samples + lost, produced, "samples read + reported lost vs produced");
    assert_eq!(lost, refused, "lost reported by the kernel vs outputs that failed");
}

/// Runs `f` on a thread pinned to `cpu`.
fn run_on_cpu(cpu: u32, f: fn()) {
    std::thread::scope(|s| {
        s.spawn(move || {
            // SAFETY: cpu_set_t is plain data; CPU_SET writes within it.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            // SAFETY: cpu is below CPU_SETSIZE (it is an online CPU id).
            unsafe { libc::CPU_SET(cpu as usize, &mut set) };
            // SAFETY: set is initialised; 0 is this thread.
            let r = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
            assert_eq!(r, 0, "pinning to CPU {cpu}");
            f();
        });
    });
}

#[test]
fn ring_buffer_skips_discarded_records_and_reads_records_that_wrap() {
    if !require_kernel() {
        return;
    }
    let mut obj = load_events();
    let mut rb = RingBuffer::new(&obj.map("small_rb").unwrap()).unwrap();
    assert_eq!(rb.size(), 4096);
    let mut expect_seq = 0u64;
    let mut read = 0;
    // 48 bytes per record with its header: 4096 is not a multiple, so the
    // records straddle the end of the ring as the positions go round.
    for round in 0..40u64 {
        obj.write_global("emit_count", &60u32.to_ne_bytes()).unwrap();
        run_syscall(&obj, "emit_records");
        if round % 2 == 0 {
            rb.consume(|d| {
                assert_eq!(d.len(), 40);
                let seq = u64_of(&d[0..8]);
                assert_eq!(seq, expect_seq, "records in order, odd ones discarded");
                assert_eq!(u64_of(&d[8..16]), !seq);
                assert_eq!(u64_of(&d[16..24]), seq * 3);
                assert_eq!(u64_of(&d[24..32]), seq ^ 0x5555);
                assert_eq!(u64_of(&d[32..40]), seq + 7);
                expect_seq += 2;
                read += 1;
            })
            .unwrap();
        } else {
            while let Some(r) = rb.next_record().unwrap() {
                let seq = u64_of(&r[0..8]);
                assert_eq!(seq, expect_seq);
                assert_eq!(u64_of(&r[32..40]), seq + 7);
                expect_seq += 2;
                read += 1;
            }
        }
        assert_eq!(rb.pending_bytes(), 0);
    }
    assert_eq!(read, 40 * 30, "every submitted record read once");
    // Positions went round the 4 KiB ring many times.
    assert!(obj.read_global_u64("emit_next").unwrap() * 48 > 20 * 4096);
}

#[test]
fn ring_buffer_reads_records_whose_size_changes_unpredictably() {
    if !require_kernel() {
        return;
    }
    let mut obj = load_events();
    let mut rb = RingBuffer::new(&obj.map("small_rb").unwrap()).unwrap();
    let mut next = 0u64;
    // 40 records of at most 56 bytes with their headers fit the 4 KiB ring;
    // 30 rounds go round it many times, every size at every offset.
    for _ in 0..30 {
        obj.write_global("emit_count", &40u32.to_ne_bytes()).unwrap();
        run_syscall(&obj, "emit_varied");
        let n = rb
            .consume(|d| {
                let mix = next * 13 + (next >> 2);
                let size = 1 + (mix & 31) + ((mix >> 5) & 15);
                assert_eq!(d.len() as u64, size, "size of record {next}");
                assert!(d.iter().all(|&b| b == next as u8), "bytes of record {next}: {d:?}");
                next += 1;
            })
            .unwrap();
        assert_eq!(n, 40);
        assert_eq!(rb.pending_bytes(), 0, "every record released");
    }
    assert_eq!(next, 1200);
    assert_eq!(obj.read_global_u64("emit_next").unwrap(), 1200, "none refused");
}

#[test]
fn ring_buffer_consume_with_stops_when_asked() {
    if !require_kernel() {
        return;
    }
    let mut obj = load_events();
    let mut rb = RingBuffer::new(&obj.map("small_rb").unwrap()).unwrap();
    obj.write_global("emit_count", &20u32.to_ne_bytes()).unwrap();
    run_syscall(&obj, "emit_records");
    let mut seqs = Vec::new();
    let n = rb
        .consume_with(usize::MAX, |d| {
            seqs.push(u64_of(d));
            if seqs.len() == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!((n, seqs.clone()), (3, vec![0, 2, 4]));
    assert_eq!(rb.consume_with(2, |_| ControlFlow::Continue(())).unwrap(), 2);
    assert_eq!(rb.consume(|_| {}).unwrap(), 5, "10 submitted, 3 + 2 read before");
    // The map fd is readable (epoll-able) only when records wait.
    let fd = std::os::fd::AsFd::as_fd(&rb);
    let mut pfd = libc::pollfd { fd: std::os::fd::AsRawFd::as_raw_fd(&fd), events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    assert_eq!(unsafe { libc::poll(&mut pfd, 1, 0) }, 0, "readable with nothing to read");
}

#[test]
fn user_ring_buffer_records_reach_the_program() {
    if !require_kernel() {
        return;
    }
    let obj = load_events();
    let mut urb = UserRingBuffer::new(&obj.map("user_rb").unwrap()).unwrap();
    let mut want_sum = 0u64;
    let mut submitted = 0u64;
    for round in 0..50u64 {
        // 100 records of 16 bytes (8 + 8 header): 1600 bytes a round, so
        // the producer position wraps the 4 KiB ring many times.
        for i in 0..100u64 {
            let v = round * 1000 + i;
            let mut r = urb.reserve(8).unwrap();
            r.copy_from_slice(&v.to_ne_bytes());
            if i % 10 == 9 {
                r.discard();
            } else {
                r.submit();
                want_sum += v;
                submitted += 1;
            }
        }
        run_syscall(&obj, "drain_user");
        assert_eq!(urb.free_bytes(), 4096, "the program drained everything");
    }
    assert_eq!(obj.read_global_u64("drained_count").unwrap(), submitted);
    assert_eq!(obj.read_global_u64("drained_sum").unwrap(), want_sum);
    // A full ring refuses with ENOSPC, a record larger than it with E2BIG.
    let mut n = 0;
    loop {
        match urb.reserve(8) {
            Ok(r) => {
                r.submit();
                n += 1;
            }
            Err(e) => {
                assert_eq!(e.errno(), Some(libc::ENOSPC), "{e}");
                break;
            }
        }
    }
    assert_eq!(n, 4096 / 16);
    assert_eq!(urb.reserve(8192).unwrap_err().errno(), Some(libc::E2BIG));
}

#[test]
fn user_ring_buffer_reserve_blocking_waits_for_a_concurrent_drain() {
    if !require_kernel() {
        return;
    }
    let obj = load_events();
    let mut urb = UserRingBuffer::new(&obj.map("user_rb").unwrap()).unwrap();
    // The drainer is the BPF program, run by another thread every
    // millisecond: 3000 records of 16 bytes need about a dozen drains of
    // the 4 KiB ring, so the writer finds it full and waits many times.
    let stop = AtomicBool::new(false);
    let (want_sum, waits) = std::thread::scope(|s| {
        let drainer = s.spawn(|| {
            let mut runs = 0u64;
            while !stop.load(Ordering::Relaxed) {
                run_syscall(&obj, "drain_user");
                runs += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            runs
        });
        let (mut sum, mut waits) = (0u64, 0u64);
        for v in 1..=3000u64 {
            if urb.free_bytes() < 16 {
                waits += 1;
            }
            let mut r = urb.reserve_blocking(8, Some(Duration::from_secs(10))).unwrap_or_else(|e| panic!("record {v}: {e}"));
            r.copy_from_slice(&v.to_ne_bytes());
            r.submit();
            sum += v;
        }
        stop.store(true, Ordering::Relaxed);
        assert!(drainer.join().unwrap() > 0);
        (sum, waits)
    });
    run_syscall(&obj, "drain_user");
    assert!(waits > 10, "the ring was full before only {waits} reservations");
    assert_eq!(obj.read_global_u64("drained_count").unwrap(), 3000, "every record reached the program once");
    assert_eq!(obj.read_global_u64("drained_sum").unwrap(), want_sum);

    // Full and nobody drains: the wait ends at the timeout with ENOSPC.
    while urb.reserve(8).map(|r| r.submit()).is_ok() {}
    let t = Instant::now();
    let e = urb.reserve_blocking(8, Some(Duration::from_millis(100))).unwrap_err();
    assert_eq!(e.errno(), Some(libc::ENOSPC), "{e}");
    assert!(t.elapsed() >= Duration::from_millis(100), "waited {:?}", t.elapsed());
    // A record that can never fit fails at once.
    let t = Instant::now();
    assert_eq!(urb.reserve_blocking(8192, None).unwrap_err().errno(), Some(libc::E2BIG));
    assert!(t.elapsed() < Duration::from_secs(1));
}
