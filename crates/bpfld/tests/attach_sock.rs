//! cgroup, socket and namespace attach on the real kernel: a cgroup of the
//! test's own holding a child process whose packets and connections are
//! counted exactly; sk_lookup steering into a socket of a sockmap;
//! sk_msg and sk_skb programs on a sockmap seeing each message. All in
//! network namespaces of the test's own.

mod common;
mod netenv;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use bpfld::link::cgroup::CgroupAttachMode;
use bpfld::link::support::LinkSupport;
use bpfld::LoadedObject;
use bpfld_asm::types::AttachType as at;
use bpfld_testdata::require_kernel;
use common::*;
use netenv::*;

fn load(name: &str, port: u16) -> LoadedObject {
    let mut open = open(name);
    open.set_global("target_port", &port.to_ne_bytes()).unwrap();
    open.load().unwrap_or_else(|e| panic!("{e}"))
}

fn send_udp_from_child(cg: &TestCgroup, port: u16, n: usize) {
    let script = format!("for i in $(seq {n}); do echo -n x > /dev/udp/{ADDR_B}/{port}; done");
    assert!(run_in_cgroup(cg, &script).success());
}

#[test]
fn cgroup_skb_link_counts_the_packets_of_the_cgroups_processes_only() {
    with_port_test("attach_net", |PortTest { net, port, obj, rx }| {
        let cg = TestCgroup::new("cgroup-skb");
        let prog = obj.program("cgroup_egress_count").unwrap();
        let e = prog.attach().unwrap_err().to_string();
        assert!(e.contains("attach_cgroup"), "{e}");
        let link = prog.attach_cgroup_path(&cg.path).unwrap_or_else(|e| panic!("{e}"));
        assert!(link.is_bpf_link(), "a cgroup link on 6.18");
        send_udp_from_child(&cg, port, 13);
        net.send_a_to_b(port, 4); // from the test, outside the cgroup
        assert_eq!(drain(&rx), 17);
        assert_eq!(obj.read_global_u64("cgroup_hits").unwrap(), 13, "only the child's datagrams");
        drop(link);
        send_udp_from_child(&cg, port, 2);
        assert_eq!(drain(&rx), 2);
        assert_eq!(obj.read_global_u64("cgroup_hits").unwrap(), 13);
    });
}

#[test]
fn cgroup_prog_attach_where_links_are_missing_counts_and_detaches() {
    with_port_test("attach_net", |PortTest { port, obj, rx, .. }| {
        let cg = TestCgroup::new("cgroup-attach");
        let dir = cg.dir();
        let prog = obj.program("cgroup_egress_count").unwrap();
        // Forced as on a kernel before 5.7 (no cgroup links).
        let link = prog.attach_cgroup_using(dir.as_fd(), at::CGROUP_INET_EGRESS, LinkSupport::NONE).unwrap_or_else(|e| panic!("{e}"));
        assert!(!link.is_bpf_link());
        // BPF_F_ALLOW_MULTI: another program (of a second copy of the
        // object, with its own counter) attaches beside it.
        let obj2 = load("attach_net", port);
        let mode = CgroupAttachMode::ProgAttach(bpfld_sys::BPF_F_ALLOW_MULTI);
        let prog2 = obj2.program("cgroup_egress_count").unwrap();
        let second = prog2.attach_cgroup_with(dir.as_fd(), at::CGROUP_INET_EGRESS, mode).unwrap_or_else(|e| panic!("{e}"));
        send_udp_from_child(&cg, port, 5);
        assert_eq!(drain(&rx), 5);
        let hits = || (obj.read_global_u64("cgroup_hits").unwrap(), obj2.read_global_u64("cgroup_hits").unwrap());
        assert_eq!(hits(), (5, 5), "both attachments count");
        drop(second);
        assert!(link.pin("/sys/fs/bpf/never").is_err(), "BPF_PROG_ATTACH has no link to pin");
        send_udp_from_child(&cg, port, 7);
        assert_eq!(drain(&rx), 7);
        assert_eq!(hits(), (12, 5), "the second one detached on drop, the first still counts");
        drop(link); // BPF_PROG_DETACH
        send_udp_from_child(&cg, port, 3);
        assert_eq!(drain(&rx), 3);
        assert_eq!(hits(), (12, 5), "detached on drop");
    });
}

#[test]
fn sockops_counts_the_connections_a_cgroup_establishes() {
    if !require_kernel() {
        return;
    }
    with_veth(|net| {
        let port = test_port();
        let obj = load("attach_sock", port);
        let listener = net.in_b(|| TcpListener::bind((ADDR_B, port)).unwrap());
        let cg = TestCgroup::new("sockops");
        let _link = obj.program("sockops_count").unwrap().attach_cgroup_path(&cg.path).unwrap_or_else(|e| panic!("{e}"));
        let script = format!("for i in 1 2 3 4 5; do exec 3<>/dev/tcp/{ADDR_B}/{port}; exec 3>&-; done");
        assert!(run_in_cgroup(&cg, &script).success());
        // A connection of the test itself is not in the cgroup.
        let _own = TcpStream::connect((ADDR_B, port)).unwrap();
        assert_eq!(obj.read_global_u64("sockops_established").unwrap(), 5);
        drop(listener);
    });
}

#[test]
fn sk_lookup_netns_link_steers_datagrams_into_the_sockmap_socket() {
    if !require_kernel() {
        return;
    }
    with_veth(|net| {
        let port = test_port();
        let obj = load("attach_sock", port);
        // Bound to another port: only the program can send it `port`'s datagrams.
        let rx = net.in_b(|| UdpSocket::bind((ADDR_B, port + 1)).unwrap());
        rx.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
        obj.map("socks").unwrap().update(&0u32.to_ne_bytes(), &(rx.as_raw_fd() as u64).to_ne_bytes(), 0).unwrap();
        let prog = obj.program("lookup_steer").unwrap();
        let e = prog.attach().unwrap_err().to_string();
        assert!(e.contains("attach_netns"), "{e}");
        let link = prog.attach_netns(net.ns_b.as_fd()).unwrap_or_else(|e| panic!("{e}"));
        net.send_a_to_b(port, 8);
        assert_eq!(drain(&rx), 8, "steered into the socket of slot 0");
        assert_eq!(obj.read_global_u64("lookups").unwrap(), 8);
        drop(link);
        net.send_a_to_b(port, 2);
        assert_eq!(drain(&rx), 0, "no program, no socket on that port");
    });
}

/// A connected TCP pair on A's loopback.
fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    (c, s)
}

#[test]
fn sk_msg_on_a_sockmap_sees_every_message_sent() {
    if !require_kernel() {
        return;
    }
    with_veth(|_net| {
        let obj = load("attach_sock", 0);
        let prog = obj.program("msg_count").unwrap();
        let map = obj.map("socks").unwrap();
        let e = prog.attach().unwrap_err().to_string();
        assert!(e.contains("attach_sockmap(map)"), "{e}");
        let link = prog.attach_sockmap(&map).unwrap_or_else(|e| panic!("{e}"));
        assert!(link.is_bpf_link(), "sockmap links exist on 6.18");
        let (mut c, mut s) = tcp_pair();
        map.update(&0u32.to_ne_bytes(), &(c.as_raw_fd() as u64).to_ne_bytes(), 0).unwrap();
        let mut buf = [0u8; 64];
        for msg in [&b"hello"[..], b"bpfld!!", b"123456789"] {
            c.write_all(msg).unwrap();
            s.read_exact(&mut buf[..msg.len()]).unwrap();
            assert_eq!(&buf[..msg.len()], msg);
        }
        assert_eq!(obj.read_global_u64("msg_hits").unwrap(), 3);
        assert_eq!(obj.read_global_u64("msg_bytes").unwrap(), 21);
        drop(link);
    });
}

#[test]
fn sk_skb_verdict_attached_with_prog_attach_sees_what_the_socket_receives() {
    if !require_kernel() {
        return;
    }
    with_veth(|_net| {
        let obj = load("attach_sock", 0);
        let map = obj.map("socks").unwrap();
        let link = obj.program("skb_verdict").unwrap().attach_sockmap_legacy(&map).unwrap_or_else(|e| panic!("{e}"));
        assert!(!link.is_bpf_link());
        let (mut c, mut s) = tcp_pair();
        map.update(&0u32.to_ne_bytes(), &(s.as_raw_fd() as u64).to_ne_bytes(), 0).unwrap();
        let mut buf = [0u8; 16];
        for i in 0..4u8 {
            c.write_all(&[i; 10]).unwrap();
            s.read_exact(&mut buf[..10]).unwrap();
            assert_eq!(buf[..10], [i; 10], "SK_PASS delivers the data");
        }
        assert_eq!(obj.read_global_u64("skb_hits").unwrap(), 4);
        // Detached (BPF_PROG_DETACH) on drop: attaching again works.
        drop(link);
        let again = obj.program("skb_verdict").unwrap().attach_sockmap(&map).unwrap_or_else(|e| panic!("{e}"));
        assert!(again.is_bpf_link());
    });
}
