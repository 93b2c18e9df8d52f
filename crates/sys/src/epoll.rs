//! `epoll(7)` for waiting on many ring buffers, perf rings and signals at
//! once, and `signalfd(2)` so that Ctrl-C is one more readable fd in that
//! wait instead of a handler.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Duration;

use crate::error::{Operation, Result, SysError};

/// An epoll instance. Each registered fd carries a `u64` token that
/// [`Epoll::wait`] returns when the fd becomes readable.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
}

fn epoll_err(what: &'static str) -> SysError {
    SysError::new(Operation::Epoll(what), io::Error::last_os_error())
}

impl Epoll {
    /// `epoll_create1(EPOLL_CLOEXEC)`.
    pub fn new() -> Result<Epoll> {
        // SAFETY: no pointers; a new fd on success.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(epoll_err("epoll_create1"));
        }
        // SAFETY: fd is new and owned by nobody else.
        Ok(Epoll { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Watches `fd` for readability (level-triggered), reporting `token`.
    /// The caller keeps `fd` open while it is registered (closing it
    /// removes it from the set).
    pub fn add(&self, fd: BorrowedFd<'_>, token: u64) -> Result<()> {
        self.add_events(fd, token, libc::EPOLLIN as u32)
    }

    /// Watches `fd` edge-triggered for room to write (`EPOLLOUT |
    /// EPOLLET`): reported once each time its owner signals more room (a
    /// user ring buffer, when a program drained records from it), not for
    /// as long as there is any room, which may be too little.
    pub fn add_writable_edge(&self, fd: BorrowedFd<'_>, token: u64) -> Result<()> {
        self.add_events(fd, token, (libc::EPOLLOUT | libc::EPOLLET) as u32)
    }

    fn add_events(&self, fd: BorrowedFd<'_>, token: u64, events: u32) -> Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: ev is a live epoll_event; both fds are open.
        let r = unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), libc::EPOLL_CTL_ADD, fd.as_raw_fd(), &mut ev) };
        if r < 0 {
            return Err(epoll_err("epoll_ctl"));
        }
        Ok(())
    }

    /// Waits until a registered fd is readable or `timeout` passes (`None`:
    /// forever), and appends the tokens of the ready fds to `ready` (at
    /// most `max`). An interrupted wait (`EINTR`) returns no tokens.
    pub fn wait(&self, ready: &mut Vec<u64>, max: usize, timeout: Option<Duration>) -> Result<usize> {
        let max = max.clamp(1, 1024);
        let ms = match timeout {
            None => -1,
            Some(d) => i32::try_from(d.as_millis().max(u128::from(d.as_nanos() > 0 && d.as_millis() == 0))).unwrap_or(i32::MAX),
        };
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 64];
        let cap = max.min(evs.len());
        // SAFETY: evs holds cap writable events.
        let n = unsafe { libc::epoll_wait(self.fd.as_raw_fd(), evs.as_mut_ptr(), cap as i32, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                return Ok(0);
            }
            return Err(SysError::new(Operation::Epoll("epoll_wait"), e));
        }
        let n = n as usize;
        ready.extend(evs[..n].iter().map(|e| e.u64));
        Ok(n)
    }
}

impl AsFd for Epoll {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// A `signalfd` for `signals`, which are blocked for the calling thread
/// (and the threads it starts afterwards) so that they are only delivered
/// through the fd. Call it early in `main`, before starting threads.
#[derive(Debug)]
pub struct SignalFd {
    fd: OwnedFd,
}

impl SignalFd {
    /// Blocks `signals` (`libc::SIGINT`...) and opens a non-blocking
    /// signalfd for them.
    pub fn new(signals: &[i32]) -> Result<SignalFd> {
        // SAFETY: sigset_t is plain data; sigemptyset initialises it.
        let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: set is a valid sigset_t.
        unsafe { libc::sigemptyset(&mut set) };
        for &s in signals {
            // SAFETY: set is a valid sigset_t; a bad signal number fails.
            if unsafe { libc::sigaddset(&mut set, s) } < 0 {
                return Err(SysError::new(Operation::Signal, io::Error::last_os_error()).with_object(format!("signal {s}")));
            }
        }
        // SAFETY: set is initialised; the old mask is not wanted.
        let r = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
        if r != 0 {
            return Err(SysError::new(Operation::Signal, io::Error::from_raw_os_error(r)));
        }
        // SAFETY: set is initialised; -1 asks for a new fd.
        let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK) };
        if fd < 0 {
            return Err(SysError::new(Operation::Signal, io::Error::last_os_error()));
        }
        // SAFETY: fd is new and owned by nobody else.
        Ok(SignalFd { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// The next pending signal's number, `None` if none is pending.
    pub fn read(&self) -> Result<Option<u32>> {
        // SAFETY: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // SAFETY: info is a writable buffer of `size` bytes.
        let n = unsafe { libc::read(self.fd.as_raw_fd(), (&mut info as *mut libc::signalfd_siginfo).cast(), size) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::WouldBlock {
                return Ok(None);
            }
            return Err(SysError::new(Operation::Signal, e));
        }
        Ok((n as usize == size).then_some(info.ssi_signo))
    }
}

impl AsFd for SignalFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
