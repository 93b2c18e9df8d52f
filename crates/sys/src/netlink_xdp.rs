//! XDP through rtnetlink, for kernels without XDP links (before 5.9): an
//! `RTM_SETLINK` carrying an `IFLA_XDP` attribute with the program's fd
//! (or -1 to detach) and the `XDP_FLAGS_*`, as libbpf's `bpf_xdp_attach`,
//! `bpf_xdp_detach` and `bpf_xdp_query` do. Unlike a link, such an
//! attachment belongs to nobody: it stays until detached, even after this
//! process exits.

use std::io;
use std::ops::BitOr;
use std::os::fd::BorrowedFd;

use crate::error::Result;
use crate::netlink::{exchange, nl_err, Request, NLA_F_NESTED};
use crate::syscall::fd_u32;

const RTM_GETLINK: u16 = 18;
const RTM_SETLINK: u16 = 19;
const IFLA_XDP: u16 = 43;
const IFLA_XDP_FD: u16 = 1;
const IFLA_XDP_ATTACHED: u16 = 2;
const IFLA_XDP_FLAGS: u16 = 3;
const IFLA_XDP_PROG_ID: u16 = 4;
const IFLA_XDP_DRV_PROG_ID: u16 = 5;
const IFLA_XDP_SKB_PROG_ID: u16 = 6;
const IFLA_XDP_HW_PROG_ID: u16 = 7;
const IFLA_XDP_EXPECTED_FD: u16 = 8;
/// `NLA_F_NET_BYTEORDER`, the other flag bit of an attribute's type.
const NLA_F_NET_BYTEORDER: u16 = 0x4000;
/// Size of `struct ifinfomsg`.
const IFINFOMSG: usize = 16;

/// `XDP_FLAGS_*` of an XDP attachment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct XdpFlags(pub u32);

impl XdpFlags {
    /// Fail with `EBUSY` rather than replace a program already attached.
    pub const UPDATE_IF_NOEXIST: XdpFlags = XdpFlags(1 << 0);
    /// Generic XDP, in the stack (any driver).
    pub const SKB_MODE: XdpFlags = XdpFlags(1 << 1);
    /// Native XDP, in the driver.
    pub const DRV_MODE: XdpFlags = XdpFlags(1 << 2);
    /// Offloaded to the NIC.
    pub const HW_MODE: XdpFlags = XdpFlags(1 << 3);
    /// Replace only the program given as expected (Linux >= 5.7).
    pub const REPLACE: XdpFlags = XdpFlags(1 << 4);
    /// The mode bits.
    pub const MODES: XdpFlags = XdpFlags(Self::SKB_MODE.0 | Self::DRV_MODE.0 | Self::HW_MODE.0);

    /// Whether every bit of `other` is set.
    pub fn contains(self, other: XdpFlags) -> bool {
        self.0 & other.0 == other.0
    }

    /// These flags without the bits of `other`.
    pub fn without(self, other: XdpFlags) -> XdpFlags {
        XdpFlags(self.0 & !other.0)
    }
}

impl BitOr for XdpFlags {
    type Output = XdpFlags;
    fn bitor(self, rhs: XdpFlags) -> XdpFlags {
        XdpFlags(self.0 | rhs.0)
    }
}

/// The XDP programs of an interface, by id (0: none), as `RTM_GETLINK`
/// reports them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpQuery {
    /// `XDP_ATTACHED_*`: 0 none, 1 driver, 2 generic (skb), 3 hardware,
    /// 4 several.
    pub attached: u8,
    /// The program when only one is attached.
    pub prog_id: u32,
    /// The native (driver) mode program.
    pub drv_prog_id: u32,
    /// The generic (skb) mode program.
    pub skb_prog_id: u32,
    /// The offloaded program.
    pub hw_prog_id: u32,
}

/// A `struct ifinfomsg` for interface `ifindex`.
fn ifinfomsg(ifindex: u32) -> [u8; IFINFOMSG] {
    let mut m = [0u8; IFINFOMSG];
    m[0] = libc::AF_UNSPEC as u8;
    m[4..8].copy_from_slice(&(ifindex as i32).to_ne_bytes());
    m
}

/// Sends `RTM_SETLINK` with `IFLA_XDP { FD: fd, FLAGS, EXPECTED_FD }`.
fn set_xdp(ifindex: u32, fd: i32, flags: XdpFlags, expected: Option<BorrowedFd<'_>>) -> Result<()> {
    let mut req = Request::with_header(RTM_SETLINK, 0, &ifinfomsg(ifindex));
    let nest = req.nest_start(IFLA_XDP);
    req.attr(IFLA_XDP_FD, &fd.to_ne_bytes());
    let flags = if expected.is_some() { flags | XdpFlags::REPLACE } else { flags };
    if flags.0 != 0 {
        req.attr(IFLA_XDP_FLAGS, &flags.0.to_ne_bytes());
    }
    if let Some(old) = expected {
        req.attr(IFLA_XDP_EXPECTED_FD, &(fd_u32(old) as i32).to_ne_bytes());
    }
    req.nest_end(nest);
    exchange(req, "RTM_SETLINK", &mut |_| {}).map_err(|e| e.with_object(format!("ifindex {ifindex}")))
}

/// Attaches `prog` to interface `ifindex` with `flags` (a mode, and
/// [`XdpFlags::UPDATE_IF_NOEXIST`] not to replace another program). With
/// `replace`, only if that program is the one attached now (in its place,
/// atomically).
pub fn xdp_attach_netlink(ifindex: u32, prog: BorrowedFd<'_>, flags: XdpFlags, replace: Option<BorrowedFd<'_>>) -> Result<()> {
    set_xdp(ifindex, fd_u32(prog) as i32, flags, replace)
}

/// Detaches the XDP program of `ifindex` in the mode of `flags`; with
/// `expected`, only if that program is the one attached (`EEXIST`
/// otherwise).
pub fn xdp_detach_netlink(ifindex: u32, flags: XdpFlags, expected: Option<BorrowedFd<'_>>) -> Result<()> {
    set_xdp(ifindex, -1, flags.without(XdpFlags::UPDATE_IF_NOEXIST), expected)
}

/// The XDP programs attached to `ifindex` (`RTM_GETLINK`).
pub fn xdp_query(ifindex: u32) -> Result<XdpQuery> {
    let req = Request::with_header(RTM_GETLINK, 0, &ifinfomsg(ifindex));
    let mut found = None;
    exchange(req, "RTM_GETLINK", &mut |body| {
        if let Some(xdp) = body.get(IFINFOMSG..).and_then(|attrs| find_attr(attrs, IFLA_XDP)) {
            found = Some(parse_xdp(xdp));
        }
    })
    .map_err(|e| e.with_object(format!("ifindex {ifindex}")))?;
    found.ok_or_else(|| {
        nl_err("RTM_GETLINK", io::Error::new(io::ErrorKind::InvalidData, "no IFLA_XDP in the reply"))
            .with_object(format!("ifindex {ifindex}"))
    })
}

/// The nested attributes of `IFLA_XDP`.
fn parse_xdp(attrs: &[u8]) -> XdpQuery {
    let u32_of = |ty| find_attr(attrs, ty).and_then(|d| d.get(..4)).map_or(0, |b| u32::from_ne_bytes(b.try_into().expect("4 bytes")));
    XdpQuery {
        attached: find_attr(attrs, IFLA_XDP_ATTACHED).and_then(|d| d.first().copied()).unwrap_or(0),
        prog_id: u32_of(IFLA_XDP_PROG_ID),
        drv_prog_id: u32_of(IFLA_XDP_DRV_PROG_ID),
        skb_prog_id: u32_of(IFLA_XDP_SKB_PROG_ID),
        hw_prog_id: u32_of(IFLA_XDP_HW_PROG_ID),
    }
}

/// The payload of the first attribute of type `ty` in `attrs`.
fn find_attr(mut attrs: &[u8], ty: u16) -> Option<&[u8]> {
    while attrs.len() >= 4 {
        let len = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
        let kind = u16::from_ne_bytes([attrs[2], attrs[3]]) & !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
        if len < 4 || len > attrs.len() {
            return None;
        }
        if kind == ty {
            return Some(&attrs[4..len]);
        }
        attrs = attrs.get((len + 3) & !3..).unwrap_or(&[]);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut v = ((4 + data.len()) as u16).to_ne_bytes().to_vec();
        v.extend_from_slice(&ty.to_ne_bytes());
        v.extend_from_slice(data);
        while v.len() % 4 != 0 {
            v.push(0);
        }
        v
    }

    #[test]
    fn xdp_attributes_are_found_nested_and_padded() {
        let mut inner = attr(IFLA_XDP_ATTACHED, &[2]);
        inner.extend(attr(IFLA_XDP_PROG_ID, &77u32.to_ne_bytes()));
        inner.extend(attr(IFLA_XDP_SKB_PROG_ID, &77u32.to_ne_bytes()));
        let mut attrs = attr(3, b"vb\0"); // IFLA_IFNAME first, padded
        attrs.extend(attr(IFLA_XDP | NLA_F_NESTED, &inner));
        let q = parse_xdp(find_attr(&attrs, IFLA_XDP).unwrap());
        assert_eq!(q, XdpQuery { attached: 2, prog_id: 77, skb_prog_id: 77, ..Default::default() });
        // A truncated attribute ends the walk instead of reading past it.
        let mut bad = attrs.clone();
        bad[0] = 200;
        assert_eq!(find_attr(&bad, IFLA_XDP), None);
    }
}
