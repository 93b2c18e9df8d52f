//! The classic tc attachment through rtnetlink, for kernels without tcx
//! (before 6.6): a `clsact` qdisc on the interface and a `cls_bpf` filter
//! in direct-action mode on its ingress or egress hook, as libbpf's
//! `bpf_tc_hook_create`/`bpf_tc_attach`/`bpf_tc_detach` do.
//!
//! Messages are built by hand (a `nlmsghdr`, a `tcmsg` and netlink
//! attributes); the reply is read until the kernel's acknowledgement.

use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use crate::error::{Operation, Result, SysError};
use crate::syscall::fd_u32;

const RTM_NEWQDISC: u16 = 36;
const RTM_DELQDISC: u16 = 37;
const RTM_NEWTFILTER: u16 = 44;
const RTM_DELTFILTER: u16 = 45;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_ECHO: u16 = 0x8;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
pub(crate) const NLA_F_NESTED: u16 = 0x8000;
const TCA_KIND: u16 = 1;
const TCA_OPTIONS: u16 = 2;
const TCA_BPF_FD: u16 = 6;
const TCA_BPF_NAME: u16 = 7;
const TCA_BPF_FLAGS: u16 = 8;
const TCA_BPF_FLAG_ACT_DIRECT: u32 = 1;
const ETH_P_ALL: u16 = 0x0003;

/// `TC_H_CLSACT`: the parent (and major handle) of the clsact qdisc.
const TC_H_CLSACT: u32 = 0xFFFF_FFF1;

/// The hook of a clsact qdisc a filter sits on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcHook {
    /// Packets received by the interface.
    Ingress,
    /// Packets sent by the interface.
    Egress,
}

impl TcHook {
    /// `TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS / TC_H_MIN_EGRESS)`.
    fn parent(self) -> u32 {
        let minor = match self {
            TcHook::Ingress => 0xFFF2,
            TcHook::Egress => 0xFFF3,
        };
        (TC_H_CLSACT & 0xFFFF_0000) | minor
    }
}

/// A cls_bpf filter as the kernel keeps it: what deleting it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcFilter {
    /// The interface.
    pub ifindex: u32,
    /// Its hook.
    pub hook: TcHook,
    /// The filter's handle (chosen by the kernel when 0 was asked).
    pub handle: u32,
    /// The filter's priority (chosen by the kernel when 0 was asked).
    pub priority: u16,
}

pub(crate) fn nl_err(what: &'static str, e: io::Error) -> SysError {
    SysError::new(Operation::Netlink(what), e)
}

/// An rtnetlink socket of the calling thread's network namespace.
fn socket() -> Result<OwnedFd> {
    // SAFETY: plain socket(2) call; the result is checked and owned.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, libc::NETLINK_ROUTE) };
    if fd < 0 {
        return Err(nl_err("socket", io::Error::last_os_error()));
    }
    // SAFETY: socket(2) returned a fresh fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// A request: `nlmsghdr`, the message's fixed header (`tcmsg`,
/// `ifinfomsg`) and attributes, built in one buffer.
pub(crate) struct Request {
    buf: Vec<u8>,
}

impl Request {
    /// A request of `msg_type` whose fixed header is `fixed`.
    pub(crate) fn with_header(msg_type: u16, flags: u16, fixed: &[u8]) -> Request {
        let mut buf = Vec::with_capacity(128);
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_len, set in finish()
        buf.extend_from_slice(&msg_type.to_ne_bytes());
        buf.extend_from_slice(&(flags | NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        buf.extend_from_slice(&1u32.to_ne_bytes()); // nlmsg_seq
        buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel
        buf.extend_from_slice(fixed);
        Request { buf }
    }

    /// A tc request: `struct tcmsg` is family, 3 bytes of padding,
    /// ifindex, handle, parent, info.
    fn new(msg_type: u16, flags: u16, ifindex: u32, handle: u32, parent: u32, info: u32) -> Request {
        let mut tcmsg = [0u8; TCMSG];
        tcmsg[0] = libc::AF_UNSPEC as u8;
        tcmsg[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
        tcmsg[8..12].copy_from_slice(&handle.to_ne_bytes());
        tcmsg[12..16].copy_from_slice(&parent.to_ne_bytes());
        tcmsg[16..20].copy_from_slice(&info.to_ne_bytes());
        Request::with_header(msg_type, flags, &tcmsg)
    }

    pub(crate) fn attr(&mut self, kind: u16, data: &[u8]) {
        let len = 4 + data.len();
        self.buf.extend_from_slice(&(len as u16).to_ne_bytes());
        self.buf.extend_from_slice(&kind.to_ne_bytes());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    /// Starts a nested attribute; returns where its length goes.
    pub(crate) fn nest_start(&mut self, kind: u16) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0u16.to_ne_bytes());
        self.buf.extend_from_slice(&(kind | NLA_F_NESTED).to_ne_bytes());
        at
    }

    pub(crate) fn nest_end(&mut self, at: usize) {
        let len = (self.buf.len() - at) as u16;
        self.buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&len.to_ne_bytes());
        self.buf
    }
}

/// Size of `struct nlmsghdr`.
const NLMSG_HDR: usize = 16;
/// Size of `struct tcmsg`.
const TCMSG: usize = 20;

/// Sends `req` and reads replies until the acknowledgement; returns the
/// `tcmsg` of an echoed message if one came.
fn transact(req: Request, what: &'static str) -> Result<Option<(u32, u32)>> {
    let mut echoed = None;
    exchange(req, what, &mut |body| {
        if body.len() >= TCMSG {
            let word = |i: usize| u32::from_ne_bytes(body[i..i + 4].try_into().expect("4 bytes"));
            echoed = Some((word(8), word(16))); // tcm_handle, tcm_info
        }
    })?;
    Ok(echoed)
}

/// Sends `req` and reads replies until the acknowledgement (or the end of
/// a dump), handing the body of every other message to `on_reply`.
pub(crate) fn exchange(req: Request, what: &'static str, on_reply: &mut dyn FnMut(&[u8])) -> Result<()> {
    let sock = socket()?;
    let msg = req.finish();
    // SAFETY: `msg` is a live buffer of msg.len() bytes; a NULL address
    // sends to the kernel (the socket's default peer).
    let sent = unsafe { libc::send(sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    if sent < 0 {
        return Err(nl_err(what, io::Error::last_os_error()));
    }
    let mut buf = vec![0u8; 32 << 10];
    loop {
        // SAFETY: `buf` is a live, writable buffer of buf.len() bytes.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(nl_err(what, io::Error::last_os_error()));
        }
        if let Some(done) = read_replies(&buf[..n as usize], what, on_reply) {
            return done;
        }
    }
}

/// Goes through the messages of one `recv`: `Some` once the
/// acknowledgement (or an error, or the end of a dump) came.
fn read_replies(mut rest: &[u8], what: &'static str, on_reply: &mut dyn FnMut(&[u8])) -> Option<Result<()>> {
    while rest.len() >= NLMSG_HDR {
        let len = u32::from_ne_bytes(rest[0..4].try_into().expect("4 bytes")) as usize;
        let ty = u16::from_ne_bytes(rest[4..6].try_into().expect("2 bytes"));
        if len < NLMSG_HDR || len > rest.len() {
            return Some(Err(nl_err(what, io::Error::new(io::ErrorKind::InvalidData, "truncated netlink reply"))));
        }
        let body = &rest[NLMSG_HDR..len];
        match ty {
            NLMSG_ERROR => {
                let code = body.get(..4).map_or(0, |b| i32::from_ne_bytes(b.try_into().expect("4 bytes")));
                return Some(if code == 0 { Ok(()) } else { Err(nl_err(what, io::Error::from_raw_os_error(-code))) });
            }
            NLMSG_DONE => return Some(Ok(())),
            _ => on_reply(body),
        }
        rest = rest.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

/// Adds a `clsact` qdisc to interface `ifindex`; `Ok(false)` if it
/// already had one (kept as is).
pub fn tc_clsact_create(ifindex: u32) -> Result<bool> {
    let mut req = Request::new(RTM_NEWQDISC, NLM_F_CREATE | NLM_F_EXCL, ifindex, TC_H_CLSACT & 0xFFFF_0000, TC_H_CLSACT, 0);
    req.attr(TCA_KIND, b"clsact\0");
    match transact(req, "RTM_NEWQDISC") {
        Ok(_) => Ok(true),
        Err(e) if e.errno() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e.with_object(format!("ifindex {ifindex}"))),
    }
}

/// Removes the `clsact` qdisc of interface `ifindex`, and with it every
/// filter on its hooks.
pub fn tc_clsact_destroy(ifindex: u32) -> Result<()> {
    let mut req = Request::new(RTM_DELQDISC, 0, ifindex, TC_H_CLSACT & 0xFFFF_0000, TC_H_CLSACT, 0);
    req.attr(TCA_KIND, b"clsact\0");
    transact(req, "RTM_DELQDISC").map(drop).map_err(|e| e.with_object(format!("ifindex {ifindex}")))
}

/// Attaches `prog` as a direct-action `cls_bpf` filter on `hook` of the
/// clsact qdisc of `ifindex` (which must exist: [`tc_clsact_create`]).
/// `handle`/`priority` 0 let the kernel choose; the filter as created is
/// returned. `name` is what `tc filter show` prints.
pub fn tc_filter_attach(prog: BorrowedFd<'_>, name: &str, ifindex: u32, hook: TcHook, handle: u32, priority: u16) -> Result<TcFilter> {
    let info = ((priority as u32) << 16) | ETH_P_ALL.to_be() as u32;
    let mut req = Request::new(RTM_NEWTFILTER, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO, ifindex, handle, hook.parent(), info);
    req.attr(TCA_KIND, b"bpf\0");
    let nest = req.nest_start(TCA_OPTIONS);
    req.attr(TCA_BPF_FD, &fd_u32(prog).to_ne_bytes());
    let mut cname: Vec<u8> = name.bytes().take_while(|&b| b != 0).collect();
    cname.push(0);
    req.attr(TCA_BPF_NAME, &cname);
    req.attr(TCA_BPF_FLAGS, &TCA_BPF_FLAG_ACT_DIRECT.to_ne_bytes());
    req.nest_end(nest);
    let echoed = transact(req, "RTM_NEWTFILTER").map_err(|e| e.with_object(format!("ifindex {ifindex}")))?;
    let (handle, info) = echoed.unwrap_or((handle, info));
    Ok(TcFilter { ifindex, hook, handle, priority: (info >> 16) as u16 })
}

/// Deletes the filter [`tc_filter_attach`] created.
pub fn tc_filter_detach(f: &TcFilter) -> Result<()> {
    let info = ((f.priority as u32) << 16) | ETH_P_ALL.to_be() as u32;
    let mut req = Request::new(RTM_DELTFILTER, 0, f.ifindex, f.handle, f.hook.parent(), info);
    req.attr(TCA_KIND, b"bpf\0");
    transact(req, "RTM_DELTFILTER").map(drop).map_err(|e| e.with_object(format!("ifindex {}", f.ifindex)))
}

const _: () = assert!(size_of::<libc::nlmsghdr>() == NLMSG_HDR);
