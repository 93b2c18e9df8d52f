//! Network attach on the real kernel, in network namespaces of the test's
//! own joined by a veth pair: every program counts the UDP datagrams sent
//! to one port, the test sends an exact number and checks the count and,
//! for dropping programs, that none arrived.

mod common;
mod netenv;

use bpfld::link::netfilter::{NetfilterHook, NFPROTO_IPV4, NF_INET_LOCAL_IN};
use bpfld::link::support::LinkSupport;
use bpfld::link::tc::{TcDirection, TcFilterOpts, TcMechanism};
use bpfld::link::xdp::xdp_query;
use bpfld_testdata::require_kernel;
use netenv::*;

#[test]
fn xdp_link_counts_every_datagram_and_detaches_on_drop() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let prog = obj.program("xdp_count").unwrap();
        let e = prog.attach().unwrap_err().to_string();
        assert!(e.contains("attach_xdp(ifindex, flags)"), "{e}");
        let link = net.in_b(|| prog.attach_xdp(net.if_b, 0)).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 25);
        assert_eq!(drain(&rx), 25, "XDP_PASS lets every datagram through");
        assert_eq!(obj.read_global_u64("xdp_hits").unwrap(), 25);
        drop(link);
        wait_until_no_xdp(net);
        net.send_a_to_b(port, 5);
        assert_eq!(drain(&rx), 5);
        assert_eq!(obj.read_global_u64("xdp_hits").unwrap(), 25, "counted after the link was dropped");
    });
}

/// Waits (at most 2 s) until the XDP link is gone from B. Closing the last
/// fd detaches at once, unless a child that another test is spawning at
/// that moment still holds a copy of the fd table (between its fork and
/// its exec, when close-on-exec fds are closed).
fn wait_until_no_xdp(net: &VethPair) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    while net.in_b(|| xdp_query(net.if_b)).unwrap().prog_id != 0 {
        assert!(std::time::Instant::now() < deadline, "XDP still attached 2 s after its link was dropped");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn xdp_through_rtnetlink_where_links_are_missing_counts_replaces_and_detaches() {
    if !require_kernel() {
        return;
    }
    assert_eq!(LinkSupport::probed(), LinkSupport { xdp: true, tcx: true, cgroup: true }, "Linux 6.18 has every link");
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let (a, b) = (obj.program("xdp_count").unwrap(), obj.program("xdp_count_b").unwrap());
        let id = |p: &bpfld::Program<'_>| bpfld_sys::prog_info(p.fd().unwrap()).unwrap().id;
        // Forced as on a kernel before 5.9 (no XDP links).
        let link = net.in_b(|| a.attach_xdp_using(net.if_b, 0, LinkSupport::NONE)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!link.is_bpf_link() && link.xdp_netlink_ifindex() == Some(net.if_b), "{link:?}");
        assert_eq!(net.in_b(|| xdp_query(net.if_b)).unwrap().prog_id, id(&a), "RTM_GETLINK reports it");
        net.send_a_to_b(port, 21);
        assert_eq!(drain(&rx), 21);
        assert_eq!(obj.read_global_u64("xdp_hits").unwrap(), 21);
        // Another program does not replace it silently (as with a link)...
        let e = net.in_b(|| b.attach_xdp_using(net.if_b, 0, LinkSupport::NONE)).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EBUSY), "{e}");
        // ...but does in its place when it names it (XDP_FLAGS_REPLACE).
        let link_b = net.in_b(|| b.attach_xdp_netlink(net.if_b, 0, Some(&a))).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 6);
        assert_eq!(drain(&rx), 6);
        assert_eq!((obj.read_global_u64("xdp_hits").unwrap(), obj.read_global_u64("xdp_b_hits").unwrap()), (21, 6));
        // Dropping the replaced one leaves the other attached.
        net.in_b(|| drop(link));
        assert_eq!(net.in_b(|| xdp_query(net.if_b)).unwrap().prog_id, id(&b));
        net.send_a_to_b(port, 4);
        assert_eq!(drain(&rx), 4);
        assert_eq!(obj.read_global_u64("xdp_b_hits").unwrap(), 10);
        net.in_b(|| drop(link_b));
        assert_eq!(net.in_b(|| xdp_query(net.if_b)).unwrap(), Default::default(), "nothing attached");
        net.send_a_to_b(port, 3);
        assert_eq!(drain(&rx), 3);
        assert_eq!(obj.read_global_u64("xdp_b_hits").unwrap(), 10, "counted after the drop");
    });
}

#[test]
fn tc_forced_without_tcx_uses_a_cls_bpf_filter_that_counts() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let prog = obj.program("tc_count").unwrap();
        // Forced as on a kernel before 6.6 (no tcx).
        let link = net.in_b(|| prog.attach_tc_using(net.if_b, TcDirection::Ingress, LinkSupport::NONE)).unwrap_or_else(|e| panic!("{e}"));
        assert!(link.tc_filter().is_some() && !link.is_bpf_link(), "{link:?}");
        net.send_a_to_b(port, 8);
        assert_eq!(drain(&rx), 8);
        assert_eq!(obj.read_global_u64("tc_hits").unwrap(), 8);
        net.in_b(|| drop(link));
        net.send_a_to_b(port, 2);
        assert_eq!(drain(&rx), 2);
        assert_eq!(obj.read_global_u64("tc_hits").unwrap(), 8, "filter deleted on drop");
        net.in_b(|| bpfld::link::tc::destroy_clsact(net.if_b)).unwrap();
    });
}

#[test]
fn xdp_drop_verdict_keeps_datagrams_from_arriving() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let link = net.in_b(|| obj.program("xdp_drop").unwrap().attach_xdp(net.if_b, 0)).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 10);
        assert_eq!(drain(&rx), 0, "XDP_DROP: nothing arrives");
        assert_eq!(obj.read_global_u64("xdp_hits").unwrap(), 10);
        link.detach().unwrap();
        net.send_a_to_b(port, 4);
        assert_eq!(drain(&rx), 4, "detached: datagrams arrive again");
    });
}

#[test]
fn tc_attaches_through_tcx_here_and_its_drop_verdict_applies() {
    if !require_kernel() {
        return;
    }
    assert_eq!(bpfld::link::tc::tc_mechanism(), TcMechanism::Tcx, "Linux >= 6.6 has tcx");
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let prog = obj.program("tcx_drop").unwrap();
        let e = prog.attach().unwrap_err().to_string();
        assert!(e.contains("attach_tc(ifindex, direction)"), "{e}");
        let link = net.in_b(|| prog.attach_tc(net.if_b, TcDirection::Ingress)).unwrap_or_else(|e| panic!("{e}"));
        assert!(link.is_bpf_link() && link.tc_filter().is_none(), "a tcx link");
        assert_eq!(link.info().unwrap().link_type, bpfld::LinkType::TCX);
        net.send_a_to_b(port, 12);
        assert_eq!(drain(&rx), 0, "TC_ACT_SHOT: nothing arrives");
        assert_eq!(obj.read_global_u64("tc_hits").unwrap(), 12);
        drop(link);
        net.send_a_to_b(port, 3);
        assert_eq!(drain(&rx), 3);
        assert_eq!(obj.read_global_u64("tc_hits").unwrap(), 12);
    });
}

#[test]
fn tcx_egress_counts_what_the_interface_sends() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let _link = obj.program("tcx_egress_count").unwrap().attach_tc(net.if_a, TcDirection::Egress).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 9);
        assert_eq!(drain(&rx), 9);
        assert_eq!(obj.read_global_u64("tc_egress_hits").unwrap(), 9);
    });
}

#[test]
fn classic_tc_filter_through_netlink_counts_and_is_deleted_on_drop() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let prog = obj.program("tc_count").unwrap();
        let link =
            net.in_b(|| prog.attach_tc_filter(net.if_b, TcDirection::Ingress, TcFilterOpts::default())).unwrap_or_else(|e| panic!("{e}"));
        let f = *link.tc_filter().expect("a netlink filter");
        assert!(f.handle != 0 && f.priority != 0, "the kernel chose handle and priority: {f:?}");
        let shown = net.in_b(|| std::process::Command::new("tc").args(["filter", "show", "dev", "vb", "ingress"]).output());
        if let Ok(out) = shown {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(text.contains("tc_count") && text.contains("direct-action"), "tc filter show: {text}");
        }
        net.send_a_to_b(port, 17);
        assert_eq!(drain(&rx), 17);
        assert_eq!(obj.read_global_u64("tc_hits").unwrap(), 17);
        net.in_b(|| drop(link));
        net.send_a_to_b(port, 2);
        assert_eq!(drain(&rx), 2);
        assert_eq!(obj.read_global_u64("tc_hits").unwrap(), 17, "filter deleted on drop");
        // A second filter with a given handle and priority, then the qdisc.
        let opts = TcFilterOpts { handle: 7, priority: 3 };
        let link = net.in_b(|| prog.attach_tc_filter(net.if_b, TcDirection::Ingress, opts)).unwrap();
        assert_eq!((link.tc_filter().unwrap().handle, link.tc_filter().unwrap().priority), (7, 3));
        net.in_b(|| {
            bpfld::link::tc::destroy_clsact(net.if_b).unwrap();
            // The filter went with the qdisc: deleting it again fails, quietly on drop.
            assert!(link.detach().is_err());
        });
    });
}

#[test]
fn link_pinned_outlives_its_fd_and_updates_to_another_program() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let pins = PinDir::new("link-pin");
        let path = pins.0.join("xdp_link");
        let link = net.in_b(|| obj.program("xdp_count").unwrap().attach_xdp(net.if_b, 0)).unwrap();
        link.pin(&path).unwrap_or_else(|e| panic!("{e}"));
        let id = link.info().unwrap().id;
        drop(link);
        net.send_a_to_b(port, 6);
        assert_eq!(obj.read_global_u64("xdp_hits").unwrap(), 6, "the pin keeps the program attached");
        let opened = bpfld::Link::from_pin(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(opened.info().unwrap().id, id);
        opened.update(&obj.program("xdp_count_b").unwrap()).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 8);
        assert_eq!(drain(&rx), 14);
        assert_eq!(obj.read_global_u64("xdp_hits").unwrap(), 6, "replaced");
        assert_eq!(obj.read_global_u64("xdp_b_hits").unwrap(), 8, "the new program counts");
        // An XDP program of another type cannot replace it.
        let e = opened.update(&obj.program("tc_count").unwrap()).unwrap_err();
        assert_eq!(e.errno(), Some(libc::EINVAL), "{e}");
        opened.unpin(&path).unwrap();
        assert!(!path.exists());
        drop(opened);
        net.send_a_to_b(port, 3);
        assert_eq!(drain(&rx), 3);
        assert_eq!(obj.read_global_u64("xdp_b_hits").unwrap(), 8, "detached once the pin and the last fd are gone");
        assert!(bpfld::Link::from_pin(pins.0.join("missing")).is_err());
    });
}

#[test]
fn netfilter_link_drops_at_local_in() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let prog = obj.program("nf_drop").unwrap();
        let e = prog.attach().unwrap_err().to_string();
        assert!(e.contains("attach_netfilter(hook)"), "{e}");
        let hook = NetfilterHook { pf: NFPROTO_IPV4, hooknum: NF_INET_LOCAL_IN, priority: -100, flags: 0 };
        let link = net.in_b(|| prog.attach_netfilter(hook)).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 11);
        assert_eq!(drain(&rx), 0, "NF_DROP: nothing arrives");
        assert_eq!(obj.read_global_u64("nf_hits").unwrap(), 11);
        drop(link);
        net.send_a_to_b(port, 2);
        assert_eq!(drain(&rx), 2);
    });
}
