//! Getting events out of the kernel, and into it: ring buffers
//! (`BPF_MAP_TYPE_RINGBUF`) read one at a time or many through one epoll
//! ([`RingBufferPoller`], libbpf's `ring_buffer` manager), and user ring
//! buffers (`BPF_MAP_TYPE_USER_RINGBUF`) written by user space. Perf event
//! arrays are in [`crate::perf_buffer`].
//!
//! Every reader is [`AsFd`]: its fd is readable when records wait, so it
//! fits any event loop (tokio's `AsyncFd`, mio, a `poll(2)` of your own)
//! without this crate depending on one:
//!
//! ```no_run
//! # fn main() -> bpfld::Result<()> {
//! # let obj = bpfld::OpenObject::open("prog.bpf.o")?.load()?;
//! let mut rb = bpfld::RingBuffer::new(&obj.map("events")?)?;
//! let mut poller = bpfld::RingBufferPoller::new()?;
//! poller.add(rb, |data: &[u8]| println!("{} bytes", data.len()))?;
//! loop {
//!     poller.poll(Some(std::time::Duration::from_millis(100)))?;
//! }
//! # }
//! ```

use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use bpfld_sys::{Epoll, RingBufConsumer, UserRingBufProducer};

pub use bpfld_sys::{RingRecord, UserRecord};

use crate::error::{Error, Result};
use crate::map::Map;

fn dup(map: &Map<'_>) -> Result<OwnedFd> {
    map.fd().try_clone_to_owned().map_err(|e| Error::io(format!("map '{}': duplicating its fd", map.real_name()), e))
}

/// The reader of one `BPF_MAP_TYPE_RINGBUF` map. Owns a duplicate of the
/// map's fd and its mapping, so it is independent of the object it came
/// from and can move to another thread.
#[derive(Debug)]
pub struct RingBuffer {
    fd: OwnedFd,
    ring: RingBufConsumer,
    name: String,
}

impl RingBuffer {
    /// Maps the ring buffer `map`; an error if it is not a ring buffer.
    pub fn new(map: &Map<'_>) -> Result<RingBuffer> {
        let fd = dup(map)?;
        Self::with_name(fd, map.real_name())
    }

    /// Maps the ring buffer behind `fd` (from a pin, another process...).
    pub fn from_fd(fd: OwnedFd) -> Result<RingBuffer> {
        let info = bpfld_sys::map_info(fd.as_fd()).map_err(|e| Error::kernel("ring buffer", e))?;
        Self::with_name(fd, &info.name)
    }

    fn with_name(fd: OwnedFd, name: &str) -> Result<RingBuffer> {
        let ring = RingBufConsumer::new(fd.as_fd()).map_err(|e| Error::kernel(format!("ring buffer '{name}'"), e))?;
        Ok(RingBuffer { fd, ring, name: name.to_string() })
    }

    /// The map's name in the object (or the kernel's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size of the ring's data area in bytes.
    pub fn size(&self) -> u64 {
        self.ring.size()
    }

    /// Bytes produced and not consumed yet.
    pub fn pending_bytes(&self) -> u64 {
        self.ring.pending_bytes()
    }

    fn err(&self, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("ring buffer '{}'", self.name), e)
    }

    /// Calls `f` with every record available now (discarded ones
    /// skipped), releasing each to the kernel after `f`. Returns how many.
    pub fn consume(&mut self, mut f: impl FnMut(&[u8])) -> Result<usize> {
        self.ring
            .consume(usize::MAX, |d| {
                f(d);
                ControlFlow::Continue(())
            })
            .map_err(|e| Error::kernel("ring buffer", e))
    }

    /// [`Self::consume`] of at most `max` records, stopping early when `f`
    /// breaks.
    pub fn consume_with(&mut self, max: usize, f: impl FnMut(&[u8]) -> ControlFlow<()>) -> Result<usize> {
        let r = self.ring.consume(max, f);
        r.map_err(|e| self.err(e))
    }

    /// The next record, `None` if none is ready; it is released to the
    /// kernel when dropped. The iterator-style alternative to
    /// [`Self::consume`]: `while let Some(r) = rb.next_record()? { ... }`.
    pub fn next_record(&mut self) -> Result<Option<RingRecord<'_>>> {
        let name = self.name.clone();
        self.ring.next_record().map_err(|e| Error::kernel(format!("ring buffer '{name}'"), e))
    }
}

impl AsFd for RingBuffer {
    /// The map's fd: readable when the kernel signalled new records.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

type Callback = Box<dyn FnMut(&[u8]) + Send>;

/// Many ring buffers behind one epoll, each with its callback: libbpf's
/// `ring_buffer__new`/`__add`/`__poll`/`__consume`.
pub struct RingBufferPoller {
    epoll: Epoll,
    rings: Vec<(RingBuffer, Callback)>,
    ready: Vec<u64>,
}

impl std::fmt::Debug for RingBufferPoller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingBufferPoller").field("rings", &self.rings.iter().map(|(r, _)| r.name()).collect::<Vec<_>>()).finish()
    }
}

impl RingBufferPoller {
    /// A poller with no ring yet; fails only if `epoll_create1` does.
    pub fn new() -> Result<RingBufferPoller> {
        let epoll = Epoll::new().map_err(|e| Error::kernel("ring buffer poller", e))?;
        Ok(RingBufferPoller { epoll, rings: Vec::new(), ready: Vec::new() })
    }

    /// Adds a ring with the callback its records go to; returns its index
    /// (for [`Self::ring_mut`]).
    pub fn add(&mut self, ring: RingBuffer, callback: impl FnMut(&[u8]) + Send + 'static) -> Result<usize> {
        let idx = self.rings.len();
        self.epoll.add(ring.as_fd(), idx as u64).map_err(|e| Error::kernel(format!("ring buffer '{}'", ring.name()), e))?;
        self.rings.push((ring, Box::new(callback)));
        Ok(idx)
    }

    /// The ring added as `idx`.
    pub fn ring_mut(&mut self, idx: usize) -> Option<&mut RingBuffer> {
        self.rings.get_mut(idx).map(|(r, _)| r)
    }

    /// Waits up to `timeout` (`None`: forever) for records, then hands the
    /// records of every ready ring to its callback. Returns how many
    /// records were handled (0 on timeout or a signal).
    pub fn poll(&mut self, timeout: Option<Duration>) -> Result<usize> {
        self.ready.clear();
        self.epoll.wait(&mut self.ready, self.rings.len().max(1), timeout).map_err(|e| Error::kernel("ring buffer poll", e))?;
        let mut n = 0;
        for i in 0..self.ready.len() {
            let Some((ring, cb)) = self.rings.get_mut(self.ready[i] as usize) else { continue };
            n += ring.consume(&mut **cb)?;
        }
        Ok(n)
    }

    /// Waits as [`Self::poll`], then hands the records of every ready ring
    /// to `f(ring index, record)` instead of the rings' own callbacks: a
    /// closure that the compiler inlines into the read loop (no boxed
    /// call per record), which may borrow local state.
    pub fn poll_with(&mut self, timeout: Option<Duration>, mut f: impl FnMut(usize, &[u8])) -> Result<usize> {
        self.ready.clear();
        self.epoll.wait(&mut self.ready, self.rings.len().max(1), timeout).map_err(|e| Error::kernel("ring buffer poll", e))?;
        let mut n = 0;
        for i in 0..self.ready.len() {
            let idx = self.ready[i] as usize;
            let Some((ring, _)) = self.rings.get_mut(idx) else { continue };
            n += ring.consume(|d| f(idx, d))?;
        }
        Ok(n)
    }

    /// Hands every available record of every ring to its callback without
    /// waiting. Returns how many records were handled.
    pub fn consume(&mut self) -> Result<usize> {
        let mut n = 0;
        for (ring, cb) in &mut self.rings {
            n += ring.consume(&mut **cb)?;
        }
        Ok(n)
    }
}

impl AsFd for RingBufferPoller {
    /// The epoll fd: readable when any of the rings is.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.epoll.as_fd()
    }
}

/// The writer of a `BPF_MAP_TYPE_USER_RINGBUF` map: user space reserves
/// and submits records that programs drain with `bpf_user_ringbuf_drain`.
#[derive(Debug)]
pub struct UserRingBuffer {
    fd: OwnedFd,
    ring: UserRingBufProducer,
    name: String,
    /// Made by the first [`UserRingBuffer::reserve_blocking`] that waits.
    epoll: Option<Epoll>,
}

impl UserRingBuffer {
    /// The writer of `map`, with a duplicate of its fd; fails if the map
    /// is not a `BPF_MAP_TYPE_USER_RINGBUF` or its ring cannot be mapped.
    pub fn new(map: &Map<'_>) -> Result<UserRingBuffer> {
        let fd = dup(map)?;
        let ring = UserRingBufProducer::new(fd.as_fd()).map_err(|e| Error::kernel(format!("user ring buffer '{}'", map.real_name()), e))?;
        Ok(UserRingBuffer { fd, ring, name: map.real_name().to_string(), epoll: None })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes free for records now.
    pub fn free_bytes(&self) -> u64 {
        self.ring.free_bytes()
    }

    /// Reserves a record of `len` bytes to fill, then
    /// [`UserRecord::submit`] or [`UserRecord::discard`] (dropping it
    /// discards it). `E2BIG`: it can never fit; `ENOSPC`: not now.
    pub fn reserve(&mut self, len: usize) -> Result<UserRecord<'_>> {
        let name = self.name.clone();
        self.ring.reserve(len).map_err(|e| Error::kernel(format!("user ring buffer '{name}'"), e))
    }

    /// [`Self::reserve`], waiting up to `timeout` (`None`: as long as it
    /// takes) for programs to drain enough records to make room (libbpf's
    /// `user_ring_buffer__reserve_blocking`). The wait is an epoll on the
    /// map's fd, woken by the kernel each time `bpf_user_ringbuf_drain`
    /// drains records (unless the program passed `BPF_RB_NO_WAKEUP`).
    /// Errors: `E2BIG` at once if the record can never fit; `ENOSPC` if
    /// there is still no room when the timeout has passed.
    pub fn reserve_blocking(&mut self, len: usize, timeout: Option<Duration>) -> Result<UserRecord<'_>> {
        let deadline = timeout.map(|t| std::time::Instant::now() + t);
        while !self.ring.has_room_for(len).map_err(|e| self.err(e))? {
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(std::time::Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => break,
                },
            };
            self.wait_for_room(left)?;
        }
        self.reserve(len)
    }

    /// Waits up to `timeout` for the kernel to signal that records were
    /// drained.
    fn wait_for_room(&mut self, timeout: Option<Duration>) -> Result<()> {
        if self.epoll.is_none() {
            let epoll = Epoll::new().map_err(|e| self.err(e))?;
            epoll.add_writable_edge(self.fd.as_fd(), 0).map_err(|e| self.err(e))?;
            self.epoll = Some(epoll);
        }
        let epoll = self.epoll.as_ref().expect("made above");
        let mut ready = Vec::with_capacity(1);
        epoll.wait(&mut ready, 1, timeout).map(drop).map_err(|e| self.err(e))
    }

    fn err(&self, e: bpfld_sys::SysError) -> Error {
        Error::kernel(format!("user ring buffer '{}'", self.name), e)
    }

    /// Writes `data` as one record.
    pub fn submit(&mut self, data: &[u8]) -> Result<()> {
        let mut r = self.reserve(data.len())?;
        r.copy_from_slice(data);
        r.submit();
        Ok(())
    }
}

impl AsFd for UserRingBuffer {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
