//! The two ends of BPF ring buffers that user space holds: the consumer of
//! a `BPF_MAP_TYPE_RINGBUF` (programs produce, user space reads) and the
//! producer of a `BPF_MAP_TYPE_USER_RINGBUF` (user space writes, programs
//! drain with `bpf_user_ringbuf_drain`).
//!
//! The kernel lays the map out as a consumer-position page, a
//! producer-position page, then the data pages, which it maps *twice* in a
//! row so that a record that wraps past the end of the ring is contiguous
//! in memory. Each record starts with an 8-byte header: a 32-bit length
//! whose top bits say "still being written" (busy) and "discarded", and a
//! page offset the kernel uses. Positions only grow; `pos & (size - 1)` is
//! the offset in the data. The writer of a position publishes it with a
//! release store, the reader loads it with acquire, so the record bytes
//! written before are visible (the kernel side is `smp_store_release` /
//! `smp_load_acquire`, as in libbpf's `ringbuf.c`).

use std::io;
use std::ops::{ControlFlow, Deref, DerefMut};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

use crate::error::{Operation, Result, SysError};
use crate::map::map_info;
use crate::mapping::Mapping;
use crate::probe::page_size;
use bpfld_asm::types::MapType;

/// `BPF_RINGBUF_BUSY_BIT`: the record is still being written.
const BUSY_BIT: u32 = 1 << 31;
/// `BPF_RINGBUF_DISCARD_BIT`: the record was discarded; skip it.
const DISCARD_BIT: u32 = 1 << 30;
/// `BPF_RINGBUF_HDR_SZ`.
const HDR_SZ: u64 = 8;

fn invalid(name: &str, msg: String) -> SysError {
    SysError::new(Operation::Mmap, io::Error::new(io::ErrorKind::InvalidInput, msg)).with_object(name.to_string())
}

/// Checks the map's type and returns (name, data size).
fn ring_geometry(map: BorrowedFd<'_>, want_type: MapType) -> Result<(String, u64)> {
    let info = map_info(map)?;
    if info.map_type != want_type {
        return Err(invalid(&info.name, format!("map type {} is not BPF_MAP_TYPE_{want_type}", info.map_type.raw())));
    }
    let size = u64::from(info.max_entries);
    if !size.is_power_of_two() || size < page_size() as u64 {
        return Err(invalid(&info.name, format!("ring size {size} is not a power of two of at least a page")));
    }
    Ok((info.name, size))
}

/// `smp_load_acquire` of a position or header the other side writes, in
/// memory this process may have mapped read-only.
///
/// # Safety
///
/// `p` must be valid for reads and aligned.
#[inline(always)]
unsafe fn load_acquire_u64(p: *const u64) -> u64 {
    // SAFETY: valid and aligned per the contract. A volatile read followed
    // by an acquire fence orders every later read after it, which is the
    // acquire the protocol needs, without an atomic RMW-capable reference
    // to memory that may be mapped read-only.
    let v = unsafe { std::ptr::read_volatile(p) };
    fence(Ordering::Acquire);
    v
}

/// As [`load_acquire_u64`] for a 32-bit record header.
///
/// # Safety
///
/// `p` must be valid for reads and aligned.
#[inline(always)]
unsafe fn load_acquire_u32(p: *const u32) -> u32 {
    // SAFETY: as in load_acquire_u64.
    let v = unsafe { std::ptr::read_volatile(p) };
    fence(Ordering::Acquire);
    v
}

/// The user-space reader of a `BPF_MAP_TYPE_RINGBUF` map: its consumer
/// page mapped read-write, its producer page and twice-mapped data
/// read-only. The mapping keeps the map alive by itself.
#[derive(Debug)]
pub struct RingBufConsumer {
    consumer: Mapping,
    producer: Mapping,
    page: usize,
    mask: u64,
    name: String,
}

impl RingBufConsumer {
    /// Maps the ring buffer map behind `map`.
    pub fn new(map: BorrowedFd<'_>) -> Result<RingBufConsumer> {
        let (name, size) = ring_geometry(map, MapType::RINGBUF)?;
        let page = page_size();
        let consumer = Mapping::new(map, page, 0, true, &name)?;
        let len =
            usize::try_from(2 * size).ok().and_then(|d| d.checked_add(page)).ok_or_else(|| invalid(&name, "ring too large".into()))?;
        let producer = Mapping::new(map, len, page, false, &name)?;
        Ok(RingBufConsumer { consumer, producer, page, mask: size - 1, name })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size of the data area in bytes.
    #[inline(always)]
    pub fn size(&self) -> u64 {
        self.mask + 1
    }

    #[inline(always)]
    fn consumer_pos(&self) -> &AtomicU64 {
        // SAFETY: the consumer page is mapped read-write for the life of
        // self, page-aligned, and only ever accessed atomically.
        unsafe { AtomicU64::from_ptr(self.consumer.ptr().cast()) }
    }

    #[inline(always)]
    fn producer_pos(&self) -> u64 {
        // SAFETY: the producer position is the first word of the producer
        // mapping, aligned, alive as long as self.
        unsafe { load_acquire_u64(self.producer.ptr().cast()) }
    }

    /// Bytes the kernel has reserved and user space not yet consumed
    /// (records being written, committed and discarded).
    pub fn pending_bytes(&self) -> u64 {
        self.producer_pos().wrapping_sub(self.consumer_pos().load(Ordering::Acquire))
    }

    /// The data area, for the read loops.
    #[inline(always)]
    fn data(&self) -> RingData<'_> {
        // SAFETY: the data starts a page into the producer mapping.
        RingData { base: unsafe { self.producer.ptr().add(self.page) }, mask: self.mask, _ring: std::marker::PhantomData }
    }

    /// The header at `pos`, or an error if it claims more than the ring
    /// holds (which the kernel never writes).
    #[inline(always)]
    fn header_at(&self, data: RingData<'_>, pos: u64) -> Result<(u32, usize)> {
        let (len, off) = data.header(pos);
        if (len & !(BUSY_BIT | DISCARD_BIT)) as u64 + HDR_SZ > data.mask + 1 {
            return Err(self.corrupt(len, pos));
        }
        Ok((len, off))
    }

    #[cold]
    #[inline(never)]
    fn corrupt(&self, len: u32, pos: u64) -> SysError {
        SysError::new(Operation::Mmap, io::Error::new(io::ErrorKind::InvalidData, format!("record length {len:#x} at {pos}")))
            .with_object(self.name.clone())
    }

    /// Calls `f` with each committed record, in order, until the ring is
    /// empty, a record is still being written, `max` records were read, or
    /// `f` breaks; discarded records are skipped. Returns how many records
    /// `f` saw.
    ///
    /// The position of the next record is predicted to follow a record of
    /// the same size as the last one (see `Stride`), so that the CPU
    /// reads ahead instead of waiting for each header in turn. Records are released to the kernel in batches (every
    /// [`Self::release_every`] bytes, and before returning) rather than
    /// after each record as libbpf does: the consumer position shares a
    /// cache line with nothing the loop reads, but the kernel producer
    /// reads it at every reserve, so one store per record can make it bounce
    /// between the two CPUs. A record's bytes stay valid while `f` reads
    /// them since its space is only released after `f` returns. If `f`
    /// panics, the records before it and the one it panicked on count as
    /// consumed.
    pub fn consume<F: FnMut(&[u8]) -> ControlFlow<()>>(&mut self, max: usize, mut f: F) -> Result<usize> {
        let this: &RingBufConsumer = self;
        let data = this.data();
        let mut cursor = Cursor::new(this.consumer_pos(), this.release_every());
        let mut stride = Stride(0);
        let mut n = 0;
        loop {
            let prod = this.producer_pos();
            if cursor.pos >= prod {
                return Ok(n);
            }
            while cursor.pos < prod {
                let (len, off) = this.header_at(data, cursor.pos)?;
                if len & BUSY_BIT != 0 {
                    return Ok(n);
                }
                let data_len = len & !DISCARD_BIT;
                cursor.pos += stride.next(record_size(data_len));
                if len & DISCARD_BIT == 0 {
                    n += 1;
                    // SAFETY: header_at checked the length.
                    if f(unsafe { data.sample(off, data_len) }).is_break() || n >= max {
                        return Ok(n);
                    }
                }
                // Only after `f` is done with the record's bytes.
                cursor.release_if_full();
            }
            // Publish what was read before looking at the producer again,
            // so that a record committed meanwhile either is seen below or
            // finds the consumer caught up and wakes the epoll (the kernel
            // wakes only a consumer whose position equals the record's).
            cursor.release();
        }
    }

    /// How many bytes of records [`Self::consume`] reads before it releases
    /// them to the kernel: an eighth of the ring, at most 16 KiB (a few
    /// hundred small records), so that the producer never waits long for
    /// space.
    #[inline(always)]
    pub fn release_every(&self) -> u64 {
        (self.size() / 8).clamp(HDR_SZ, 16 << 10)
    }

    /// The next committed record, skipping discarded ones; `None` if the
    /// ring is empty or the next record is still being written. The record
    /// is released to the kernel when the returned value is dropped.
    pub fn next_record(&mut self) -> Result<Option<RingRecord<'_>>> {
        let this: &RingBufConsumer = self;
        let data = this.data();
        let mut cons = this.consumer_pos().load(Ordering::Acquire);
        loop {
            if cons >= this.producer_pos() {
                return Ok(None);
            }
            let (len, off) = this.header_at(data, cons)?;
            if len & BUSY_BIT != 0 {
                return Ok(None);
            }
            let data_len = len & !DISCARD_BIT;
            cons += record_size(data_len);
            if len & DISCARD_BIT == 0 {
                // SAFETY: header_at checked the length.
                let bytes = unsafe { data.sample(off, data_len) };
                return Ok(Some(RingRecord { data: bytes, consumer_pos: this.consumer_pos(), next: cons }));
            }
            this.consumer_pos().store(cons, Ordering::Release);
        }
    }
}

/// The bytes a record of `data_len` takes in the ring: header, data, and
/// padding to 8 bytes.
#[inline(always)]
fn record_size(data_len: u32) -> u64 {
    (u64::from(data_len) + HDR_SZ + 7) & !7
}

/// Where a consumer's data area is, copied into the read loops so that
/// calls to the callback do not make them load it again.
#[derive(Clone, Copy)]
struct RingData<'a> {
    base: *const u8,
    mask: u64,
    _ring: std::marker::PhantomData<&'a RingBufConsumer>,
}

impl<'a> RingData<'a> {
    /// The header's length word at position `pos`, and the data offset.
    #[inline(always)]
    fn header(self, pos: u64) -> (u32, usize) {
        let off = (pos & self.mask) as usize;
        // SAFETY: off < size: the header lies in the first copy of the
        // data, inside the mapping; positions are 8-aligned.
        (unsafe { load_acquire_u32(self.base.add(off).cast()) }, off)
    }

    /// The bytes of a record at data offset `off`.
    ///
    /// # Safety
    ///
    /// `len + 8` must be at most the ring's size. Then, as off < size, the
    /// sample lies in the twice-mapped data. The kernel does not write a
    /// committed record again until the consumer position passes it, which
    /// only the consumer does, after the returned borrow ends.
    #[inline(always)]
    unsafe fn sample(self, off: usize, len: u32) -> &'a [u8] {
        // SAFETY: per the contract.
        unsafe { std::slice::from_raw_parts(self.base.add(off + HDR_SZ as usize), len as usize) }
    }
}

/// The size of the last record [`RingBufConsumer::consume`] read, as a
/// prediction of the next one's. Walking a ring is a chain of dependent
/// loads: where a record starts depends on the length in the header of
/// the one before, so each header waits for the previous load (about ten
/// cycles, the whole cost of a small record). When the size matches the
/// prediction the next position comes from the prediction instead, a value
/// known early, and the match is checked by a branch, which the CPU
/// predicts and speculates past, so it reads the next headers without
/// waiting. Rings of records of one size (most) go about twice as fast;
/// sizes that change at random cost a mispredicted branch each.
struct Stride(u64);

impl Stride {
    /// `total`, the size of the record just read, given as the prediction
    /// when it matches.
    #[inline(always)]
    fn next(&mut self, total: u64) -> u64 {
        // Taken through `opaque` before the comparison, so that the
        // compiler cannot tell it is `total` on the matching path.
        let predicted = opaque(self.0);
        if total == self.0 {
            predicted
        } else {
            self.0 = mispredicted(total);
            self.0
        }
    }
}

/// Not inlined, so that the compiler cannot merge the two outcomes of
/// [`Stride::next`] into a conditional move (which would wait for `total`).
#[cold]
#[inline(never)]
fn mispredicted(total: u64) -> u64 {
    total
}

/// `v`, through an empty `asm!` the compiler cannot see through.
#[inline(always)]
fn opaque(mut v: u64) -> u64 {
    // SAFETY: an empty template; it reads and writes only the register.
    unsafe { std::arch::asm!("/* {0} */", inout(reg) v, options(pure, nomem, nostack, preserves_flags)) };
    v
}

/// The consumer position while [`RingBufConsumer::consume`] reads: where
/// the next record is, and what the kernel was last told. Stores the
/// position when a batch is full and when dropped (also on a panic of the
/// callback, so no record is read twice).
struct Cursor<'a> {
    shared: &'a AtomicU64,
    pos: u64,
    released: u64,
    batch: u64,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn new(shared: &'a AtomicU64, batch: u64) -> Cursor<'a> {
        // Only this consumer writes the position: its last value is its own.
        let pos = shared.load(Ordering::Relaxed);
        Cursor { shared, pos, released: pos, batch }
    }

    /// Releases what was read if it makes a batch.
    #[inline(always)]
    fn release_if_full(&mut self) {
        if self.pos - self.released >= self.batch {
            self.release();
        }
    }

    /// Hands the space up to `pos` back to the kernel.
    #[inline(always)]
    fn release(&mut self) {
        if self.released != self.pos {
            self.shared.store(self.pos, Ordering::Release);
            self.released = self.pos;
        }
    }
}

impl Drop for Cursor<'_> {
    #[inline(always)]
    fn drop(&mut self) {
        self.release();
    }
}

/// A record of a [`RingBufConsumer`], released to the kernel on drop.
#[derive(Debug)]
pub struct RingRecord<'a> {
    data: &'a [u8],
    consumer_pos: &'a AtomicU64,
    next: u64,
}

impl Deref for RingRecord<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl Drop for RingRecord<'_> {
    fn drop(&mut self) {
        self.consumer_pos.store(self.next, Ordering::Release);
    }
}

/// The user-space writer of a `BPF_MAP_TYPE_USER_RINGBUF` map: consumer
/// page read-only, producer page and twice-mapped data read-write.
#[derive(Debug)]
pub struct UserRingBufProducer {
    consumer: Mapping,
    producer: Mapping,
    page: usize,
    mask: u64,
    name: String,
}

impl UserRingBufProducer {
    /// Maps the user ring buffer map behind `map`.
    pub fn new(map: BorrowedFd<'_>) -> Result<UserRingBufProducer> {
        let (name, size) = ring_geometry(map, MapType::USER_RINGBUF)?;
        let page = page_size();
        let consumer = Mapping::new(map, page, 0, false, &name)?;
        let len =
            usize::try_from(2 * size).ok().and_then(|d| d.checked_add(page)).ok_or_else(|| invalid(&name, "ring too large".into()))?;
        let producer = Mapping::new(map, len, page, true, &name)?;
        Ok(UserRingBufProducer { consumer, producer, page, mask: size - 1, name })
    }

    /// The map's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Size of the data area in bytes.
    #[inline(always)]
    pub fn size(&self) -> u64 {
        self.mask + 1
    }

    fn producer_pos(&self) -> &AtomicU64 {
        // SAFETY: the producer page is mapped read-write for the life of
        // self, page-aligned, and only accessed atomically.
        unsafe { AtomicU64::from_ptr(self.producer.ptr().cast()) }
    }

    fn consumer_pos(&self) -> u64 {
        // SAFETY: first word of the read-only consumer page, alive as long
        // as self.
        unsafe { load_acquire_u64(self.consumer.ptr().cast()) }
    }

    /// Bytes free for new records.
    pub fn free_bytes(&self) -> u64 {
        let used = self.producer_pos().load(Ordering::Acquire).wrapping_sub(self.consumer_pos());
        self.size().saturating_sub(used)
    }

    fn err(&self, errno: i32) -> SysError {
        SysError::new(Operation::Mmap, io::Error::from_raw_os_error(errno)).with_object(format!("user ring buffer '{}'", self.name))
    }

    /// A record of `len` bytes as its header holds it, and the bytes it
    /// takes with header and padding; `E2BIG` if it can never fit.
    fn checked_size(&self, len: usize) -> Result<(u32, u64)> {
        let len32 = u32::try_from(len).ok().filter(|l| l & (BUSY_BIT | DISCARD_BIT) == 0).ok_or_else(|| self.err(libc::E2BIG))?;
        let total = record_size(len32);
        if total > self.size() {
            return Err(self.err(libc::E2BIG));
        }
        Ok((len32, total))
    }

    /// Whether `total` bytes fit after producer position `prod` now.
    fn fits(&self, prod: u64, total: u64) -> bool {
        total <= self.size() - prod.wrapping_sub(self.consumer_pos()).min(self.size())
    }

    /// Whether a record of `len` bytes fits now; `E2BIG` if it never can.
    pub fn has_room_for(&self, len: usize) -> Result<bool> {
        let (_, total) = self.checked_size(len)?;
        Ok(self.fits(self.producer_pos().load(Ordering::Acquire), total))
    }

    /// Reserves a record of `len` bytes (zeroed is not guaranteed: the
    /// bytes are whatever the ring held). It is visible to the kernel as
    /// busy until [`UserRecord::submit`]; dropping it discards it. Fails
    /// with `E2BIG` if the record can never fit, `ENOSPC` if it does not
    /// fit now (programs have not drained enough yet).
    pub fn reserve(&mut self, len: usize) -> Result<UserRecord<'_>> {
        let (len32, total) = self.checked_size(len)?;
        let prod = self.producer_pos().load(Ordering::Acquire);
        if !self.fits(prod, total) {
            return Err(self.err(libc::ENOSPC));
        }
        let off = (prod & self.mask) as usize;
        // SAFETY: off < size and the header is 8-aligned inside the
        // read-write data mapping; the kernel reads records only up to the
        // producer position, which is published below.
        let hdr = unsafe { AtomicU32::from_ptr(self.producer.ptr().add(self.page + off).cast()) };
        hdr.store(len32 | BUSY_BIT, Ordering::Relaxed);
        // SAFETY: the header's second word (page offset), same mapping.
        unsafe { AtomicU32::from_ptr(self.producer.ptr().add(self.page + off + 4).cast()) }.store(0, Ordering::Relaxed);
        self.producer_pos().store(prod + total, Ordering::Release);
        // SAFETY: off + 8 + len <= off + size < 2 * size: inside the twice
        // mapped data; the kernel does not read a busy record's bytes, and
        // `&mut self` makes this the only reservation alive.
        let data = unsafe { std::slice::from_raw_parts_mut(self.producer.ptr().add(self.page + off + HDR_SZ as usize), len) };
        Ok(UserRecord { hdr, data, done: false })
    }
}

/// A reserved record of a [`UserRingBufProducer`]: write its bytes, then
/// [`submit`](Self::submit); dropped without submitting, it is discarded.
#[derive(Debug)]
pub struct UserRecord<'a> {
    hdr: &'a AtomicU32,
    data: &'a mut [u8],
    done: bool,
}

impl UserRecord<'_> {
    fn finish(&mut self, discard: bool) {
        let len = self.hdr.load(Ordering::Relaxed) & !BUSY_BIT;
        self.hdr.swap(if discard { len | DISCARD_BIT } else { len }, Ordering::AcqRel);
        self.done = true;
    }

    /// Hands the record to the kernel.
    pub fn submit(mut self) {
        self.finish(false);
    }

    /// Gives the space back without the kernel seeing a record.
    pub fn discard(mut self) {
        self.finish(true);
    }
}

impl Deref for UserRecord<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.data
    }
}

impl DerefMut for UserRecord<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.data
    }
}

impl Drop for UserRecord<'_> {
    fn drop(&mut self) {
        if !self.done {
            self.finish(true);
        }
    }
}
