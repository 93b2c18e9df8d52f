//! Timing shared by the benchmarks: medians of repeated runs.

use std::time::{Duration, Instant};

/// The median of `v` (sorted in place).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The median time of `iters` runs of `f`.
#[allow(dead_code)]
pub fn time<F: FnMut()>(iters: usize, mut f: F) -> Duration {
    let mut v = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        f();
        v.push(t.elapsed());
    }
    median(v)
}
